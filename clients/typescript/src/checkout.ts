// The README's checkout, compiled with the client so it cannot drift from the API.
import { data, storefront, type Schemas } from "./index.js";

/** A guest buys `quantity` of the first product in stock and reads the order back. */
export async function guestCheckout(baseUrl: string, address: Schemas["AddressIn"], email: string, quantity = 1) {
  const shop = storefront({ baseUrl });
  shop.setToken((await data(shop.api.POST("/api/auth/guest"))).token);
  const [product] = await data(shop.api.GET("/api/products", { params: { query: { per_page: 1, in_stock: true } } }));
  // list rows are sparse (`fields=`): every field may be absent
  if (!product?.id) throw new Error("nothing is in stock");
  await data(shop.api.POST("/api/cart", { body: { product_id: product.id, quantity } }));
  const placed = await data(
    shop.api.POST("/api/checkout", { body: { shipping_address: address, payment_method: "card", email } }),
  );
  return data(shop.api.GET("/api/orders/{id}", { params: { path: { id: placed.order_id } } }));
}
