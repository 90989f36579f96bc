// k6 scenario of benches/sale.sh: the first minutes of a sale on the 10,000-product demo.
// Virtual users ramp to 500, then to 2,000; each one, as a guest, lists a page of in-stock
// products, opens one, adds it to the cart, views the cart and checks out. A product that
// sold out between the list and the cart (409) is part of a sale, not an error. Between
// steps a shopper reads for 0.5–1.5 s; after checking out, the virtual user comes back as a
// new shopper (a new guest session).
//
// Run from the box against `storefront serve --demo` with its defaults, it passes its own
// thresholds: the load comes from loopback, which is the operator's own address
// (exempt_addresses) and not held to per-address limits. SCALE shortens the stages, VUS
// scales the virtual users (the test suite runs a small, short version).
import http from 'k6/http';
import { check, sleep } from 'k6';

const BASE = __ENV.BASE || 'http://127.0.0.1:18498';
const SCALE = parseFloat(__ENV.SCALE || '1');
const VUS = parseFloat(__ENV.VUS || '1');
const s = (secs) => `${Math.max(1, Math.round(secs * SCALE))}s`;
const v = (n) => Math.max(1, Math.round(n * VUS));

export const options = {
  scenarios: {
    sale: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: s(20), target: v(500) },
        { duration: s(20), target: v(500) },
        { duration: s(20), target: v(2000) },
        { duration: s(30), target: v(2000) },
        { duration: s(10), target: 0 },
      ],
      gracefulRampDown: '10s',
    },
  },
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
  // sub-metrics per step, so the summary reports each one; and what a sale must hold:
  // every step answered (a sold-out product is an answer), no request failed
  thresholds: {
    checks: ['rate>0.99'],
    http_req_failed: ['rate<0.01'],
    'http_req_duration{name:list}': ['p(95)<60000'],
    'http_req_duration{name:detail}': ['p(95)<60000'],
    'http_req_duration{name:add}': ['p(95)<60000'],
    'http_req_duration{name:cart}': ['p(95)<60000'],
    'http_req_duration{name:checkout}': ['p(95)<60000'],
  },
  noConnectionReuse: false,
};

// a sold-out product (409) is an answer, not a failure
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 409));
const think = () => sleep(0.5 + Math.random());

const json = { headers: { 'Content-Type': 'application/json', 'Accept-Encoding': 'gzip' } };
const address = {
  name: 'Sale Shopper', line1: '1 Main St', city: 'Austin', state: 'TX', postal_code: '73301', country: 'US',
};
let token = null;

export default function () {
  if (token === null) {
    const r = http.post(`${BASE}/api/auth/guest`, null, { tags: { name: 'guest' } });
    if (!check(r, { 'guest 201': (res) => res.status === 201 })) return;
    token = r.json('data.token');
  }
  const auth = { headers: { ...json.headers, Authorization: `Bearer ${token}` } };
  const page = 1 + Math.floor(Math.random() * 5);
  const list = http.get(`${BASE}/api/products?in_stock=true&per_page=20&page=${page}`,
    { headers: json.headers, tags: { name: 'list' } });
  if (!check(list, { 'list 200': (r) => r.status === 200 })) return;
  const items = list.json('data') || [];
  if (items.length === 0) return;
  const p = items[Math.floor(Math.random() * items.length)];
  think();
  // bodies the flow does not read are not kept (less work for k6 on a small machine)
  const detail = http.get(`${BASE}/api/products/${p.slug}`,
    { headers: json.headers, tags: { name: 'detail' }, responseType: 'none' });
  check(detail, { 'detail 200': (r) => r.status === 200 });
  think();
  const add = http.post(`${BASE}/api/cart`, JSON.stringify({ product_id: p.id, quantity: 1 }),
    { ...auth, tags: { name: 'add' }, responseType: 'none' });
  check(add, { 'add 201 or sold out': (r) => r.status === 201 || r.status === 409 });
  if (add.status !== 201) return think();
  think();
  const cart = http.get(`${BASE}/api/cart`, { ...auth, tags: { name: 'cart' }, responseType: 'none' });
  check(cart, { 'cart 200': (r) => r.status === 200 });
  think();
  const order = http.post(`${BASE}/api/checkout`, JSON.stringify({ shipping_address: address, payment_method: 'card' }),
    { ...auth, tags: { name: 'checkout' }, responseType: 'none' });
  check(order, { 'checkout 201 or sold out': (r) => r.status === 201 || r.status === 409 });
  // the next iteration is another shopper
  if (order.status === 201) token = null;
  think();
}

export function handleSummary(data) {
  const m = data.metrics;
  const pick = (k) => (m[k] ? m[k].values : null);
  const out = {
    requests: m.http_reqs ? m.http_reqs.values.count : 0,
    rate: m.http_reqs ? m.http_reqs.values.rate : 0,
    failed: m.http_req_failed ? m.http_req_failed.values.rate : 0,
    checks: m.checks ? m.checks.values.rate : 0,
    all: pick('http_req_duration'),
  };
  for (const name of ['list', 'detail', 'add', 'cart', 'checkout']) {
    out[name] = pick(`http_req_duration{name:${name}}`);
  }
  return { [__ENV.SUMMARY || 'sale-summary.json']: JSON.stringify(out, null, 1) };
}
