// A thin, typed client for the storefront API.
//
// The types (`paths`, `components`) are generated from the server's OpenAPI document
// (`src/schema.d.ts`, by openapi-typescript); requests go through openapi-fetch, so every
// path, parameter, body and answer is checked by the compiler. What this file adds is what
// the API asks of a client:
// - `Authorization: Bearer` with a session token (guest or customer) or an API key;
// - an `Idempotency-Key` on every write that has none, kept across the client's own
//   retries, so a write retried after a lost answer or a replica's 503 is done once;
// - read-your-writes through replicas: the `X-Storefront-Commit` of the last write is sent
//   with the reads after it;
// - the error envelope `{error: {code, message, details, request_id}}` as a thrown
//   `StorefrontError`;
// - keyset pages (`meta.next_cursor`) as an async iterator.

import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths } from "./schema.js";
export type Schemas = components["schemas"];

/** The API's error envelope, thrown by [`data`]. */
export class StorefrontError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown>,
    readonly requestId: string | undefined,
  ) {
    super(message);
    this.name = "StorefrontError";
  }

  /** The message about one field of a 422 (`lines[0].quantity`, `email`), if any. */
  field(name: string): string | undefined {
    const v = this.details[name];
    return typeof v === "string" ? v : undefined;
  }
}

export interface StorefrontOptions {
  /** e.g. `https://shop.example.com` (no trailing slash needed) */
  baseUrl: string;
  /** a session token (from `/api/auth/guest`, `/api/auth/login`, `/api/auth/register`) */
  token?: string;
  /** an API key for integrations (admin areas by scope); used when no token is set */
  apiKey?: string;
  /** how often a write is sent again on a 503 or a lost answer, with the same key (default 3) */
  retries?: number;
  /** another `fetch` (tests, a proxy) */
  fetch?: typeof globalThis.fetch;
}

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** A new idempotency key. */
export function idempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

export interface Storefront {
  /** the typed client: `api.GET("/api/products", { params: { query: { sort: "newest" } } })` */
  api: Client<paths>;
  /** use this session token from now on (`undefined`: none) */
  setToken(token: string | undefined): void;
  /** the position of the last write this client saw (sent with later reads) */
  lastCommit(): string | undefined;
}

/** A client for the shop at `options.baseUrl`. */
export function storefront(options: StorefrontOptions): Storefront {
  let token = options.token;
  let commit: string | undefined;
  const retries = options.retries ?? 3;
  const baseFetch = options.fetch ?? globalThis.fetch;

  // sends a write again (the same request, hence the same key) while the answer is lost or
  // a 503 says the primary could not be reached, waiting what Retry-After asks (at most 5 s)
  const retrying: typeof globalThis.fetch = async (input, init) => {
    const request = new Request(input as Request, init);
    const body = WRITES.has(request.method) ? await request.arrayBuffer() : undefined;
    for (let attempt = 0; ; attempt++) {
      const again = new Request(request, body === undefined ? {} : { body });
      try {
        const response = await baseFetch(again);
        if (response.status !== 503 || attempt >= retries) return response;
        const wait = Number(response.headers.get("retry-after") ?? "1");
        await new Promise((r) => setTimeout(r, Math.min(Number.isFinite(wait) ? wait : 1, 5) * 1000));
      } catch (e) {
        if (attempt >= retries || !WRITES.has(request.method)) throw e;
      }
    }
  };

  const api = createClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ""), fetch: retrying });
  const middleware: Middleware = {
    onRequest({ request }) {
      const bearer = token ?? options.apiKey;
      if (bearer && !request.headers.has("authorization")) {
        request.headers.set("authorization", `Bearer ${bearer}`);
      }
      if (WRITES.has(request.method)) {
        if (!request.headers.has("idempotency-key")) request.headers.set("idempotency-key", idempotencyKey());
      } else if (commit && !request.headers.has("x-storefront-commit")) {
        request.headers.set("x-storefront-commit", commit);
      }
      return request;
    },
    onResponse({ request, response }) {
      const at = response.headers.get("x-storefront-commit");
      if (at && WRITES.has(request.method) && response.ok) commit = at;
      return response;
    },
  };
  api.use(middleware);
  return {
    api,
    setToken(t) {
      token = t;
    },
    lastCommit() {
      return commit;
    },
  };
}

/** What an openapi-fetch call answers. */
interface Answer<D, E> {
  data?: D;
  error?: E;
  response: Response;
}

/** The `data` of a success, or the error envelope thrown as a [`StorefrontError`]. */
export async function data<D extends { data: unknown }, E>(call: Promise<Answer<D, E>>): Promise<D["data"]> {
  const { data: body, error, response } = await call;
  if (body !== undefined && response.ok) return body.data;
  const e = (error ?? {}) as { error?: { code?: string; message?: string; details?: Record<string, unknown>; request_id?: string } };
  throw new StorefrontError(
    response.status,
    e.error?.code ?? `http_${response.status}`,
    e.error?.message ?? response.statusText,
    e.error?.details ?? {},
    e.error?.request_id ?? response.headers.get("x-request-id") ?? undefined,
  );
}

/** A page of a list: its rows, and a `meta` that may say where the next one starts. */
export interface Page<T> {
  data: T[];
  meta?: unknown;
}

/**
 * Every row of a keyset list, page after page: `page(cursor)` fetches one (the first with
 * `undefined`), e.g. `(cursor) => api.GET("/api/products", { params: { query: { cursor } } })`.
 */
export async function* rows<T, E>(
  page: (cursor: string | undefined) => Promise<Answer<Page<T>, E>>,
): AsyncGenerator<T> {
  let cursor: string | undefined;
  for (;;) {
    const answer = await page(cursor);
    yield* await data(Promise.resolve(answer));
    const meta = answer.data?.meta as { next_cursor?: string | null } | null | undefined;
    const next = meta?.next_cursor;
    if (!next) return;
    cursor = next;
  }
}
