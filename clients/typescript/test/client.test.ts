// The client against a real server: STOREFRONT_URL names it (the Rust suite starts one on
// 127.0.0.1 with the small catalog and passes an administrator's token as
// STOREFRONT_ADMIN_TOKEN). Compiled with the client (so the compiler checks every call
// here too); run after `npm run build`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { guestCheckout } from "../src/checkout.js";
import { type Schemas, StorefrontError, data, idempotencyKey, rows, storefront } from "../src/index.js";

const baseUrl = process.env.STOREFRONT_URL ?? "";
const adminToken = process.env.STOREFRONT_ADMIN_TOKEN;
assert.ok(baseUrl, "STOREFRONT_URL names the server");

const address: Schemas["AddressIn"] = {
  name: "Ada Lovelace",
  line1: "12 St James's Square",
  city: "London",
  postal_code: "SW1Y 4JH",
  country: "GB",
};

test("a guest checks out in a dozen lines", async () => {
  const order = await guestCheckout(baseUrl, address, "ada@example.com");
  assert.equal(order.status, "pending");
  assert.equal(order.items.length, 1);
  assert.equal(order.items[0]?.quantity, 1);
  assert.equal(order.email, "ada@example.com");
  // the last write's commit position goes with the reads after it
  const sent: [string, string, string | null][] = [];
  const spy = (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    sent.push([request.method, new URL(request.url).pathname, request.headers.get("x-storefront-commit")]);
    return fetch(request);
  };
  const shop = storefront({ baseUrl, fetch: spy });
  shop.setToken((await data(shop.api.POST("/api/auth/guest"))).token);
  const [first] = await data(shop.api.GET("/api/products", { params: { query: { per_page: 1, in_stock: true } } }));
  assert.ok(first?.id, "a product in stock");
  const before = shop.lastCommit();
  await data(shop.api.POST("/api/cart", { body: { product_id: first.id, quantity: 1 } }));
  const after = shop.lastCommit();
  assert.ok(before && after && Number(after) > Number(before), `${before} then ${after}`);
  const cart = await data(shop.api.GET("/api/cart"));
  assert.equal(cart.items.length, 1, "the read after the write sees it");
  assert.deepEqual(sent.at(-1), ["GET", "/api/cart", after]);
  assert.equal(sent[0]?.[2], null, "a write carries no position");
});

test("one idempotency key places one order", async () => {
  const shop = storefront({ baseUrl });
  shop.setToken((await data(shop.api.POST("/api/auth/guest"))).token);
  const [first] = await data(shop.api.GET("/api/products", { params: { query: { per_page: 1, in_stock: true } } }));
  assert.ok(first?.id, "a product in stock");
  const product = first.id;
  const key = idempotencyKey();
  const buy = () =>
    shop.api.POST("/api/orders", {
      params: { header: { "Idempotency-Key": key } },
      body: { items: [{ product_id: product, quantity: 1 }], shipping_address: address, payment_method: "card", email: "ada@example.com" },
    });
  const once = await buy();
  const twice = await buy();
  assert.equal(once.response.status, 201);
  assert.equal(twice.response.headers.get("idempotent-replayed"), "true");
  assert.equal(once.data?.data.order_id, twice.data?.data.order_id);
  const mine = await data(shop.api.GET("/api/orders"));
  assert.equal(mine.length, 1, "one order, however often it was sent");
});

test("errors arrive as the API's envelope", async () => {
  const shop = storefront({ baseUrl });
  shop.setToken((await data(shop.api.POST("/api/auth/guest"))).token);
  await assert.rejects(
    data(shop.api.POST("/api/cart", { body: { product_id: "1", quantity: 0 } })),
    (e: unknown) => e instanceof StorefrontError && e.status === 422 && e.code === "validation_failed" && !!e.field("quantity") && !!e.requestId,
  );
  await assert.rejects(
    data(shop.api.GET("/api/orders/{id}", { params: { path: { id: "999999" } } })),
    (e: unknown) => e instanceof StorefrontError && e.status === 404 && e.code === "not_found",
  );
  // a commit position the server cannot read is refused on every node
  await assert.rejects(
    data(shop.api.GET("/api/products", { headers: { "X-Storefront-Commit": "not a position" } })),
    (e: unknown) => e instanceof StorefrontError && e.status === 400 && e.code === "invalid_commit",
  );
});

test("keyset pages walk the whole catalog once", async () => {
  const shop = storefront({ baseUrl });
  const first = await shop.api.GET("/api/products", { params: { query: { per_page: 100 } } });
  const meta = first.data?.meta;
  const total = meta && "total" in meta ? meta.total : undefined;
  assert.ok(typeof total === "number" && total > 3, `a catalog to page through: ${total}`);
  const seen: string[] = [];
  for await (const p of rows((cursor) => shop.api.GET("/api/products", { params: { query: { per_page: 3, cursor } } }))) {
    seen.push(p.id ?? "");
  }
  assert.equal(seen.length, total);
  assert.equal(new Set(seen).size, total, "no product twice");
});

test("an API key works where its scope allows", { skip: !adminToken }, async () => {
  const owner = storefront({ baseUrl, token: adminToken });
  const made = await data(owner.api.POST("/api/admin/api-keys", { body: { name: "ts client test", scopes: ["orders:read"] } }));
  const integration = storefront({ baseUrl, apiKey: made.key });
  const orders = await data(integration.api.GET("/api/admin/orders"));
  assert.ok(Array.isArray(orders));
  await assert.rejects(
    data(integration.api.GET("/api/admin/products")),
    (e: unknown) => e instanceof StorefrontError && e.status === 403,
  );
});
