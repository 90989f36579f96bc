//! Selling in more than one currency, to customer groups and in sales that start and end by
//! themselves: the `currencies` setting converts the catalog's prices; price lists
//! (`/api/admin/price-lists`) set them per currency, per group and per time window; a
//! shopper sees and pays the lowest that applies — in lists, sorts, price filters, search
//! facets, product pages, carts, checkout and orders alike, through the in-memory index
//! and through SQLite; the cache never answers one shopper's prices to another; every bad
//! request is refused and changes nothing.

use serde_json::{json, Value};

use crate::common::{self, receiver::Receiver, TestApp};

/// The shop: US dollars, and euros at 0.5 (easy sums: 4999 cents is 2500 euro cents).
async fn shop(index: bool) -> TestApp {
    TestApp::builder()
        .fixture("small-catalog.sql")
        .config(move |c| {
            c.currencies = "USD, EUR 0.5".into();
            c.cache_debug_header = true;
            c.search_index = index;
        })
        .start()
        .await
}

/// (name, price, currency) of each product of a list, in order.
fn priced(list: &Value) -> Vec<(String, i64, String)> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["price"]["amount"].as_i64().unwrap(),
                p["price"]["currency"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn names_prices(list: &Value) -> Vec<(String, i64)> {
    priced(list).into_iter().map(|(n, p, _)| (n, p)).collect()
}

fn np(v: &[(&str, i64)]) -> Vec<(String, i64)> {
    v.iter().map(|(n, p)| (n.to_string(), *p)).collect()
}

/// A new price list (asserting 201); its id.
async fn new_list(app: &TestApp, admin: &str, body: Value) -> String {
    let r = app.call("POST", "/api/admin/price-lists", Some(admin), Some(&body), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["data"]["id"].as_str().unwrap().to_owned()
}

/// The codes `GET /api/currencies` lists, in its order.
async fn currency_codes(app: &TestApp) -> Vec<String> {
    app.json("/api/currencies").await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect()
}

/// A batch of a list's prices, whatever it answers.
async fn put_prices(app: &TestApp, admin: &str, list: &str, body: Value) -> common::Resp {
    app.call("PUT", &format!("/api/admin/price-lists/{list}/prices"), Some(admin), Some(&body), &[]).await
}

/// What the price tables and their audit rows hold: a refused request leaves it as is.
fn prices_state(app: &TestApp) -> (Vec<String>, i64) {
    let conn = app.conn();
    let rows = common::column::<String>(
        &conn,
        "SELECT 'l' || id || name || currency || coalesce(customer_group_id, '-') || coalesce(starts_at, '-')
                || coalesce(ends_at, '-') FROM price_lists
         UNION ALL SELECT 'p' || price_list_id || '/' || product_id || '/' || variant_id || '=' || amount || '/'
                || coalesce(sale, '-') FROM price_list_prices ORDER BY 1",
    );
    let audits: i64 =
        conn.query_row("SELECT count(*) FROM audit_log WHERE entity = 'price_list'", [], |r| r.get(0)).unwrap();
    (rows, audits)
}

async fn catalog_in_currencies(index: bool) {
    let app = shop(index).await;
    let admin = app.admin("owner@example.com").await;

    // -- the currencies, the default first ----------------------------------------------------
    let c = app.json("/api/currencies").await;
    assert_eq!(
        c["data"],
        json!([{"code": "USD", "default": true, "rate": "1"}, {"code": "EUR", "default": false, "rate": "0.5"}])
    );

    // -- conversion: every price, half up, in the list's order --------------------------------
    let usd = app.json("/api/products?sort=price_asc").await;
    assert_eq!(
        names_prices(&usd),
        np(&[
            ("Chef Knife", 2999),
            ("Boom Speaker", 4999),
            ("Nimbus Earbuds", 7999),
            ("Aurora Wireless Headphones", 14999)
        ])
    );
    let eur = app.json("/api/products?sort=price_asc&currency=EUR").await;
    assert_eq!(
        priced(&eur).iter().map(|(n, p, c)| (n.as_str(), *p, c.as_str())).collect::<Vec<_>>(),
        [
            ("Chef Knife", 1500, "EUR"),
            ("Boom Speaker", 2500, "EUR"),
            ("Nimbus Earbuds", 4000, "EUR"),
            ("Aurora Wireless Headphones", 7500, "EUR")
        ]
    );
    let aurora = &eur["data"][3];
    assert_eq!(
        (aurora["base_price"]["amount"].as_i64(), aurora["sale_price"]["amount"].as_i64()),
        (Some(10000), Some(7500))
    );

    // -- a price list for euros sets its products' prices; the rest still convert -----------
    let euro_list = new_list(&app, &admin, json!({"name": "Euro prices", "currency": "EUR"})).await;
    let r = put_prices(
        &app,
        &admin,
        &euro_list,
        json!([{"product_id": "3", "amount": 9000}, {"variant_id": "12", "amount": 11000, "sale": 6000}]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"], json!({"set": 2, "removed": 0}));
    // the same again changes nothing
    let again = put_prices(&app, &admin, &euro_list, json!([{"product_id": "3", "amount": 9000}])).await;
    assert_eq!(again.json()["data"], json!({"set": 0, "removed": 0}));

    let eur = app.json("/api/products?sort=price_asc&currency=EUR").await;
    assert_eq!(
        names_prices(&eur),
        np(&[
            ("Chef Knife", 1500),
            ("Nimbus Earbuds", 4000),
            ("Aurora Wireless Headphones", 7500),
            ("Boom Speaker", 9000)
        ]),
        "sorted by the euro prices the list sets"
    );
    let desc = app.json("/api/products?sort=price_desc&currency=EUR").await;
    assert_eq!(names_prices(&desc)[0], ("Boom Speaker".to_owned(), 9000));
    assert_eq!(
        names_prices(&app.json("/api/products?sort=price_asc").await),
        names_prices(&usd),
        "dollar prices are not touched"
    );
    // price filters are in the currency asked for
    let over = app.json("/api/products?sort=price_asc&currency=EUR&min_price=5000").await;
    assert_eq!(names_prices(&over), np(&[("Aurora Wireless Headphones", 7500), ("Boom Speaker", 9000)]));
    assert_eq!(over["meta"]["total"], 2);
    let under = app.json("/api/products?currency=EUR&max_price=4000&sort=price_desc").await;
    assert_eq!(names_prices(&under), np(&[("Nimbus Earbuds", 4000), ("Chef Knife", 1500)]));
    // keyset pages walk the same order
    let first = app.json("/api/products?sort=price_asc&currency=EUR&cursor=&per_page=2").await;
    assert_eq!(names_prices(&first), np(&[("Chef Knife", 1500), ("Nimbus Earbuds", 4000)]));
    let next = first["meta"]["next_cursor"].as_str().unwrap();
    let second = app.json(&format!("/api/products?sort=price_asc&currency=EUR&cursor={next}&per_page=2")).await;
    assert_eq!(names_prices(&second), np(&[("Aurora Wireless Headphones", 7500), ("Boom Speaker", 9000)]));
    let prev = second["meta"]["prev_cursor"].as_str().unwrap();
    let back = app.json(&format!("/api/products?sort=price_asc&currency=EUR&cursor={prev}&per_page=2")).await;
    assert_eq!(names_prices(&back), names_prices(&first));

    // search: hits, sorts and the price facets in euros
    let s = app.json("/api/search?q=speaker&currency=EUR").await;
    assert_eq!(names_prices(&s), np(&[("Boom Speaker", 9000)]));
    let bands = s["meta"]["facets"]["price_bands"].as_array().expect("price facets").clone();
    assert!(bands.iter().all(|b| b["min"]["currency"] == "EUR"), "{bands:?}");
    let band_of = |lo: i64| bands.iter().find(|b| b["min"]["amount"] == lo).map(|b| b["count"].as_i64().unwrap());
    assert_eq!(band_of(5000), Some(1), "9000 euro cents is in the 50-100 band: {bands:?}");
    let ws = app.json("/api/search?q=wireless&currency=EUR&sort=price_asc").await;
    assert_eq!(names_prices(&ws), np(&[("Nimbus Earbuds", 4000), ("Aurora Wireless Headphones", 7500)]));

    // the product page: each variant's price (the white one has a list price and a sale)
    let p = app.json("/api/products/aurora-wireless-headphones?currency=EUR").await["data"].clone();
    assert_eq!((p["price"]["amount"].as_i64(), p["price"]["currency"].as_str()), (Some(7500), Some("EUR")));
    let variants: Vec<(i64, i64, Option<i64>)> = p["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["price"]["amount"].as_i64().unwrap(),
                v["base_price"]["amount"].as_i64().unwrap(),
                v["sale_price"]["amount"].as_i64(),
            )
        })
        .collect();
    assert_eq!(variants, [(7500, 10000, Some(7500)), (6000, 11000, Some(6000))]);
    // best sellers too
    let best = app.json("/api/products/bestsellers?currency=EUR&days=30").await;
    assert!(best["data"].as_array().unwrap().iter().all(|b| b["price"]["currency"] == "EUR"), "{best}");

    // -- a list's price removed: the conversion again --------------------------------------------
    let r = put_prices(&app, &admin, &euro_list, json!([{"product_id": "3", "amount": null}])).await;
    assert_eq!(r.json()["data"], json!({"set": 0, "removed": 1}));
    let boom = app.json("/api/products/boom-speaker?currency=EUR").await;
    assert_eq!(boom["data"]["price"]["amount"], 2500);
    let page = app.call("GET", &format!("/api/admin/price-lists/{euro_list}/prices"), Some(&admin), None, &[]).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let entries = page.json()["data"].clone();
    assert_eq!(entries.as_array().unwrap().len(), 1);
    assert_eq!(
        (entries[0]["variant_id"].as_str(), entries[0]["amount"].as_i64(), entries[0]["sale"].as_i64()),
        (Some("12"), Some(11000), Some(6000))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_in_another_currency_through_the_index() {
    catalog_in_currencies(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_in_another_currency_through_sqlite() {
    catalog_in_currencies(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_in_euros_becomes_an_order_in_euros() {
    let app = shop(true).await;
    let admin = app.admin("owner@example.com").await;
    let shopper = app.guest().await;
    let add = |currency: &'static str| {
        let (app, shopper) = (&app, shopper.clone());
        async move {
            app.call(
                "POST",
                &format!("/api/cart?currency={currency}"),
                Some(&shopper),
                Some(&json!({"product_id": "3", "quantity": 2})),
                &[],
            )
            .await
        }
    };
    let r = add("EUR").await;
    assert_eq!(r.status, 201, "{}", r.text());
    let cart = r.json()["data"].clone();
    assert_eq!(cart["items"][0]["unit_price"], json!({"amount": 2500, "currency": "EUR"}));
    assert_eq!(cart["subtotal"], json!({"amount": 5000, "currency": "EUR"}));
    // shipping in euros: standard is 599 cents (300 euro cents), free above 5000 (2500)
    let options = app.call("GET", "/api/cart/shipping-options?country=US", Some(&shopper), None, &[]).await;
    let options = options.json()["data"].clone();
    let standard = options.as_array().unwrap().iter().find(|o| o["code"] == "standard").unwrap();
    assert_eq!(standard["price"], json!({"amount": 0, "currency": "EUR"}));
    let express = options.as_array().unwrap().iter().find(|o| o["code"] == "express").unwrap();
    assert_eq!(express["price"], json!({"amount": 750, "currency": "EUR"}));
    // a fixed promotion converts too: SAVE5 is 500 cents off from 2500: 250 off from 1250
    let r = app.call("POST", "/api/cart/discount", Some(&shopper), Some(&json!({"code": "SAVE5"})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["discount"], json!({"amount": 250, "currency": "EUR"}));
    // a gift card in dollars cannot pay a cart in euros
    let card = app
        .call("POST", "/api/admin/gift-cards", Some(&admin), Some(&json!({"amount": 1000, "currency": "USD"})), &[])
        .await;
    assert_eq!(card.status, 201, "{}", card.text());
    let code = card.json()["data"]["code"].as_str().unwrap().to_owned();
    let r = app.call("POST", "/api/cart/gift-card", Some(&shopper), Some(&json!({"code": code})), &[]).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("the cart is in EUR"), "{}", r.text());

    let r = app.call("POST", "/api/checkout", Some(&shopper), Some(&common::checkout_body()), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let placed = r.json()["data"].clone();
    // 5000 - 250 = 4750; California's 7.25 % on top: 344.375 → 344; standard shipping free
    assert_eq!(placed["total"], json!({"amount": 5094, "currency": "EUR"}));
    let id = placed["order_id"].as_str().unwrap().to_owned();
    let order = app.call("GET", &format!("/api/orders/{id}"), Some(&shopper), None, &[]).await.json()["data"].clone();
    for field in ["subtotal", "discount", "shipping", "tax", "total"] {
        assert_eq!(order[field]["currency"], "EUR", "{field}: {order}");
    }
    assert_eq!(order["items"][0]["unit_price"], json!({"amount": 2500, "currency": "EUR"}));
    let stored: String = app
        .conn()
        .query_row("SELECT currency FROM orders WHERE id = ?1", [id.parse::<i64>().unwrap()], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, "EUR");

    // a currency the shop does not sell in is refused and changes nothing
    let before = common::digest(&app.conn());
    for bad in ["GBP", "eur", "EURO"] {
        let r = app
            .call(
                "POST",
                &format!("/api/cart?currency={bad}"),
                Some(&shopper),
                Some(&json!({"product_id": "3", "quantity": 1})),
                &[],
            )
            .await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
        assert!(r.json()["error"]["details"]["currency"].is_string(), "{}", r.text());
    }
    assert_eq!(common::digest(&app.conn()), before);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buy_now_and_gift_cards_in_euros() {
    let app = shop(true).await;
    let admin = app.admin("owner@example.com").await;
    // buy now in euros: the product's price there, the order in euros
    let shopper = app.guest().await;
    let body = |currency: &str| {
        json!({"items": [{"product_id": "3", "quantity": 1}], "shipping_address": common::address(),
               "payment_method": "card", "currency": currency})
    };
    let r = app.call("POST", "/api/orders", Some(&shopper), Some(&body("EUR")), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["data"]["order_id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["data"]["total"]["currency"], "EUR");
    let order = app.call("GET", &format!("/api/orders/{id}"), Some(&shopper), None, &[]).await.json()["data"].clone();
    assert_eq!(order["items"][0]["unit_price"], json!({"amount": 2500, "currency": "EUR"}));
    // a gift card in euros pays a cart in euros
    let r = app
        .call("POST", "/api/admin/gift-cards", Some(&admin), Some(&json!({"amount": 100_000, "currency": "EUR"})), &[])
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["data"]["balance"], json!({"amount": 100_000, "currency": "EUR"}));
    let code = r.json()["data"]["code"].as_str().unwrap().to_owned();
    let buyer = app.guest().await;
    let add = json!({"product_id": "3", "quantity": 2});
    assert_eq!(app.call("POST", "/api/cart?currency=EUR", Some(&buyer), Some(&add), &[]).await.status, 201);
    let r = app.call("POST", "/api/cart/gift-card", Some(&buyer), Some(&json!({"code": code})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app.call("POST", "/api/checkout", Some(&buyer), Some(&common::checkout_body()), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let placed = r.json()["data"].clone();
    assert_eq!(placed["status"], "paid", "{placed}");
    assert_eq!(placed["gift_card_paid"], placed["total"]);
    assert_eq!(placed["total"]["currency"], "EUR");
    // …but not one in dollars
    let dollars = app.guest().await;
    assert_eq!(app.call("POST", "/api/cart", Some(&dollars), Some(&add), &[]).await.status, 201);
    let r = app.call("POST", "/api/cart/gift-card", Some(&dollars), Some(&json!({"code": code})), &[]).await;
    assert_eq!(r.status, 422, "{}", r.text());
    // a currency the shop does not sell in is refused, for either, and changes nothing
    let before = common::digest(&app.conn());
    for bad in ["GBP", "eur", "EURO"] {
        let r = app.call("POST", "/api/orders", Some(&shopper), Some(&body(bad)), &[]).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
        assert!(r.json()["error"]["details"]["currency"].is_string(), "{}", r.text());
        let card = json!({"amount": 1000, "currency": bad});
        let r = app.call("POST", "/api/admin/gift-cards", Some(&admin), Some(&card), &[]).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
        assert!(r.json()["error"]["details"]["currency"].is_string(), "{}", r.text());
    }
    assert_eq!(common::digest(&app.conn()), before);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_order_in_euros_becomes_an_order_in_euros() {
    let app = shop(true).await;
    let admin = app.admin("owner@example.com").await;
    let variant: i64 = app.conn().query_row("SELECT id FROM variants WHERE product_id = 3", [], |r| r.get(0)).unwrap();
    let body = |currency: &str| {
        json!({"email": "phone@example.com", "lines": [{"variant_id": variant.to_string(), "quantity": 2}],
               "shipping_address": common::address(), "currency": currency})
    };
    let r = app.call("POST", "/api/admin/draft-orders", Some(&admin), Some(&body("EUR")), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let d = r.json()["data"].clone();
    let id = d["id"].as_str().unwrap().to_owned();
    assert_eq!(d["currency"], "EUR");
    assert_eq!(d["lines"][0]["unit_price"], json!({"amount": 2500, "currency": "EUR"}));
    assert_eq!(d["subtotal"], json!({"amount": 5000, "currency": "EUR"}));
    assert_eq!(d["total"]["currency"], "EUR");
    // changed to dollars and back: priced in each
    let path = format!("/api/admin/draft-orders/{id}");
    let r = app.call("PATCH", &path, Some(&admin), Some(&json!({"currency": "USD"})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["subtotal"], json!({"amount": 9998, "currency": "USD"}));
    let r = app.call("PATCH", &path, Some(&admin), Some(&json!({"currency": "EUR"})), &[]).await;
    let total = r.json()["data"]["total"].clone();
    // bad currencies are refused and change nothing
    let before = common::digest(&app.conn());
    for bad in ["GBP", "eur", "EURO"] {
        let r = app.call("POST", "/api/admin/draft-orders", Some(&admin), Some(&body(bad)), &[]).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
        assert!(r.json()["error"]["details"]["currency"].is_string(), "{}", r.text());
        let r = app.call("PATCH", &path, Some(&admin), Some(&json!({"currency": bad})), &[]).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
    }
    assert_eq!(common::digest(&app.conn()), before);
    // completed: an order in euros, of the total the draft showed
    let r = app.call("POST", &format!("{path}/complete"), Some(&admin), Some(&json!({"paid": true})), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let order: i64 = app
        .conn()
        .query_row("SELECT order_id FROM draft_orders WHERE id = ?1", [id.parse::<i64>().unwrap()], |r| r.get(0))
        .unwrap();
    let (currency, amount): (String, i64) = app
        .conn()
        .query_row("SELECT currency, total FROM orders WHERE id = ?1", [order], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((currency.as_str(), amount), ("EUR", total["amount"].as_i64().unwrap()));
    app.stop().await;
}

/// The row id of `code` in `table` (and of a shipping rate, in `country`).
fn row_id(app: &TestApp, table: &str, code: &str, country: &str) -> String {
    let sql = match country {
        "" => format!("SELECT id FROM {table} WHERE code = ?1 AND ?2 = ''"),
        _ => format!("SELECT id FROM {table} WHERE code = ?1 AND country = ?2"),
    };
    app.conn().query_row(&sql, [code, country], |r| r.get::<_, i64>(0)).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotions_and_shipping_rates_set_their_own_amounts_per_currency() {
    let app = shop(true).await;
    let admin = app.admin("owner@example.com").await;
    let save5 = row_id(&app, "promotions", "SAVE5", "");
    let express = row_id(&app, "shipping_rates", "express", "US");
    let standard = row_id(&app, "shipping_rates", "standard", "US");
    // SAVE5 in euros: 4 euros off from 30 (its dollars would convert to 2.50 off from 12.50)
    let r = app
        .call(
            "PATCH",
            &format!("/api/admin/promotions/{save5}"),
            Some(&admin),
            Some(&json!({"value_in": {"EUR": 400}, "min_subtotal_in": {"EUR": 3000}})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["value_in"], json!({"EUR": 400}));
    assert_eq!(r.json()["data"]["min_subtotal_in"], json!({"EUR": 3000}));
    // express costs 9 euros; standard is free in euros only from 60
    for (id, body) in
        [(&express, json!({"price_in": {"EUR": 900}})), (&standard, json!({"free_above_in": {"EUR": 6000}}))]
    {
        let r = app.call("PATCH", &format!("/api/admin/shipping-rates/{id}"), Some(&admin), Some(&body), &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let euros = app.guest().await;
    let dollars = app.guest().await;
    let add = |who: String, currency: &'static str, quantity: i64| {
        let app = &app;
        async move {
            let r = app
                .call(
                    "POST",
                    &format!("/api/cart?currency={currency}"),
                    Some(&who),
                    Some(&json!({"product_id": "3", "quantity": quantity})),
                    &[],
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text());
        }
    };
    let discount = |who: String| {
        let app = &app;
        async move { app.call("POST", "/api/cart/discount", Some(&who), Some(&json!({"code": "SAVE5"})), &[]).await }
    };
    // 25 euros is under the code's own minimum in euros (the converted one would be 12.50)
    add(euros.clone(), "EUR", 1).await;
    let r = discount(euros.clone()).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("at least 3000"), "{}", r.text());
    add(euros.clone(), "EUR", 1).await;
    let r = discount(euros.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["discount"], json!({"amount": 400, "currency": "EUR"}));
    // the dollars are the promotion's own: 5 dollars off 49.99
    add(dollars.clone(), "USD", 1).await;
    let r = discount(dollars.clone()).await;
    assert_eq!(r.json()["data"]["discount"], json!({"amount": 500, "currency": "USD"}), "{}", r.text());
    let option = |who: String, code: &'static str| {
        let app = &app;
        async move {
            let r = app.call("GET", "/api/cart/shipping-options?country=US", Some(&who), None, &[]).await;
            let options = r.json()["data"].clone();
            options.as_array().unwrap().iter().find(|o| o["code"] == code).unwrap()["price"].clone()
        }
    };
    assert_eq!(option(euros.clone(), "express").await, json!({"amount": 900, "currency": "EUR"}));
    // 50 - 4 = 46 euros is under 60: standard is not free, its price converted (599 → 300)
    assert_eq!(option(euros.clone(), "standard").await, json!({"amount": 300, "currency": "EUR"}));
    assert_eq!(option(dollars.clone(), "express").await, json!({"amount": 1499, "currency": "USD"}));
    let r = app.call("POST", "/api/checkout", Some(&euros), Some(&common::checkout_body()), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["data"]["order_id"].as_str().unwrap().to_owned();
    let order = app.call("GET", &format!("/api/orders/{id}"), Some(&euros), None, &[]).await.json()["data"].clone();
    assert_eq!(order["discount"], json!({"amount": 400, "currency": "EUR"}));
    assert_eq!(order["shipping"], json!({"amount": 300, "currency": "EUR"}));

    // bad amounts are refused, naming the field, and change nothing
    let welcome = row_id(&app, "promotions", "WELCOME10", "");
    let before = common::digest(&app.conn());
    let promo = format!("/api/admin/promotions/{save5}");
    let percent = format!("/api/admin/promotions/{welcome}");
    let rate = format!("/api/admin/shipping-rates/{express}");
    let bad: Vec<(&str, Value, &str)> = vec![
        (&promo, json!({"value_in": {"USD": 100}}), "value_in"),
        (&promo, json!({"value_in": {"GBP": 100}}), "value_in"),
        (&promo, json!({"value_in": {"EUR": 0}}), "value_in"),
        (&promo, json!({"value_in": {"EUR": -5}}), "value_in"),
        (&promo, json!({"value_in": {"EUR": "4.00"}}), "value_in"),
        (&promo, json!({"value_in": {"EUR": 4.5}}), "value_in"),
        (&promo, json!({"value_in": {"eur": 400}}), "value_in"),
        (&promo, json!({"value_in": [400]}), "value_in"),
        (&promo, json!({"min_subtotal_in": "EUR 30"}), "min_subtotal_in"),
        (&rate, json!({"price_in": {"EUR": 10_000_000_001i64}}), "price_in"),
        (&rate, json!({"free_above_in": {"JPY": 100}}), "free_above_in"),
        // a percent promotion's value is the same in every currency
        (&percent, json!({"value_in": {"EUR": 400}}), "body"),
    ];
    for (path, body, field) in &bad {
        let r = app.call("PATCH", path, Some(&admin), Some(body), &[]).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        assert!(r.json()["error"]["details"][field].is_string(), "{body}: {}", r.text());
    }
    assert_eq!(common::digest(&app.conn()), before);
    // an empty object takes the own amounts away: the conversion again
    let r = app.call("PATCH", &promo, Some(&admin), Some(&json!({"value_in": {}, "min_subtotal_in": null})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["value_in"], Value::Null);
    let again = app.guest().await;
    add(again.clone(), "EUR", 1).await;
    let r = discount(again).await;
    assert_eq!(r.json()["data"]["discount"], json!({"amount": 250, "currency": "EUR"}), "{}", r.text());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_group_sees_and_pays_its_own_prices_and_nobody_else_does() {
    let app = shop(true).await;
    let admin = app.admin("owner@example.com").await;
    let r =
        app.call("POST", "/api/admin/customer-groups", Some(&admin), Some(&json!({"name": "Wholesale"})), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let group = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let list =
        new_list(&app, &admin, json!({"name": "Wholesale", "currency": "USD", "customer_group_id": group})).await;
    // a list price above the product's own is not the lowest: it does not apply
    let r = put_prices(
        &app,
        &admin,
        &list,
        json!([
            {"product_id": "2", "amount": 5000},
            {"product_id": "3", "amount": 6000},
            {"product_id": "5", "amount": 2500, "sale": 2000}
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let trader = app.register("trader@example.com").await;
    let other = app.register("other@example.com").await;
    let trader_id: i64 =
        app.conn().query_row("SELECT id FROM customers WHERE email = 'trader@example.com'", [], |r| r.get(0)).unwrap();
    let r = app
        .call(
            "PUT",
            &format!("/api/admin/customers/{trader_id}/groups"),
            Some(&admin),
            Some(&json!({"group_ids": [group]})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let price = |token: Option<String>, path: &'static str| {
        let app = &app;
        async move {
            let r = app.call("GET", path, token.as_deref(), None, &[]).await;
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()["data"]["price"]["amount"].as_i64().unwrap()
        }
    };
    // in every order: the public price is never the group's and the other way round
    for _ in 0..2 {
        assert_eq!(price(None, "/api/products/nimbus-earbuds").await, 7999);
        assert_eq!(price(Some(trader.clone()), "/api/products/nimbus-earbuds").await, 5000);
        assert_eq!(price(Some(other.clone()), "/api/products/nimbus-earbuds").await, 7999);
        assert_eq!(price(Some(trader.clone()), "/api/products/boom-speaker").await, 4999);
    }
    let r = app.call("GET", "/api/products/nimbus-earbuds", Some(&trader), None, &[]).await;
    assert_eq!(r.json()["data"]["sale_price"]["amount"], 5000, "shown against the regular price");
    assert!(r.header("vary").unwrap_or("").contains("authorization"), "shared caches keep shoppers apart");
    let list_of = |token: String| {
        let app = &app;
        async move { names_prices(&app.call("GET", "/api/products?sort=price_asc", Some(&token), None, &[]).await.json()) }
    };
    assert_eq!(
        list_of(trader.clone()).await,
        np(&[
            ("Chef Knife", 2000),
            ("Boom Speaker", 4999),
            ("Nimbus Earbuds", 5000),
            ("Aurora Wireless Headphones", 14999)
        ])
    );
    assert_eq!(list_of(other.clone()).await[2], ("Nimbus Earbuds".to_owned(), 7999));
    // the cart and the order
    let cart = app.add_to_cart(&trader, 5, 1).await;
    assert_eq!(cart["data"]["items"][0]["unit_price"]["amount"], 2000);
    let r = app.call("POST", "/api/checkout", Some(&trader), Some(&common::checkout_body()), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let unit: i64 =
        app.conn().query_row("SELECT unit_price FROM order_items WHERE product_id = 5", [], |r| r.get(0)).unwrap();
    assert_eq!(unit, 2000);
    // out of the group: the public price at once
    let r = app
        .call(
            "PUT",
            &format!("/api/admin/customers/{trader_id}/groups"),
            Some(&admin),
            Some(&json!({"group_ids": []})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(price(Some(trader.clone()), "/api/products/nimbus-earbuds").await, 7999);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_starts_and_ends_by_itself() {
    let app = shop(true).await;
    let admin = app.admin("owner@example.com").await;
    let now = storefront::util::now_ms();
    // one sale on now and ending soon, one starting soon
    let mut lists = Vec::new();
    for (name, starts, ends, product, amount) in [
        ("Ends soon", Some(now - 60_000), Some(now + 2_000), "3", 3000),
        ("Starts soon", Some(now + 2_000), None, "5", 1000),
    ] {
        let id = new_list(&app, &admin, json!({"name": name, "currency": "USD", "starts_at": starts, "ends_at": ends}))
            .await;
        let r = put_prices(&app, &admin, &id, json!([{"product_id": product, "amount": amount}])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        lists.push(id);
    }
    let prices = || async {
        let l = app.json("/api/products?sort=price_asc").await;
        names_prices(&l).into_iter().filter(|(n, _)| n == "Boom Speaker" || n == "Chef Knife").collect::<Vec<_>>()
    };
    let before = prices().await;
    // the first is on: unless the clock already passed both boundaries, the boom speaker is 30.00
    if storefront::util::now_ms() < now + 2_000 {
        assert_eq!(before, np(&[("Chef Knife", 2999), ("Boom Speaker", 3000)]));
    }
    common::until("the sale to end and the other to start", 30, || async {
        prices().await == np(&[("Chef Knife", 1000), ("Boom Speaker", 4999)])
    })
    .await;
    let knife = app.json("/api/products/chef-knife").await;
    assert_eq!(
        (knife["data"]["price"]["amount"].as_i64(), knife["data"]["base_price"]["amount"].as_i64()),
        (Some(1000), Some(2999))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_price_lists_and_currencies_are_refused_and_change_nothing() {
    let app = shop(true).await;
    let admin = app.admin("owner@example.com").await;
    let customer = app.register("shopper@example.com").await;
    let list = new_list(&app, &admin, json!({"name": "Euro", "currency": "EUR"})).await;
    let before = prices_state(&app);

    for (body, field) in [
        (json!({"name": "Yen", "currency": "JPY"}), "currency"),
        (json!({"name": "Lower", "currency": "usd"}), "currency"),
        (json!({"currency": "EUR"}), "name"),
        (json!({"name": "Group", "currency": "EUR", "customer_group_id": "999"}), "customer_group_id"),
        (json!({"name": "Time", "currency": "EUR", "starts_at": 2000, "ends_at": 1000}), "body"),
        (json!({"name": "Extra", "currency": "EUR", "colour": "red"}), "colour"),
    ] {
        let r = app.call("POST", "/api/admin/price-lists", Some(&admin), Some(&body), &[]).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        assert!(r.json()["error"]["details"][field].is_string(), "{body}: {}", r.text());
    }
    let path = format!("/api/admin/price-lists/{list}/prices");
    let many: Vec<Value> = (0..1001).map(|_| json!({"product_id": "1", "amount": 1})).collect();
    for (body, field) in [
        (json!([]), "body"),
        (json!(many), "body"),
        (json!([{"product_id": "1", "variant_id": "11", "amount": 100}]), "[0].product_id"),
        (json!([{"amount": 100}]), "[0].product_id"),
        (json!([{"product_id": "1", "amount": 100}, {"product_id": "999", "amount": 100}]), "[1].product_id"),
        (json!([{"variant_id": "999", "amount": 100}]), "[0].variant_id"),
        (json!([{"product_id": "1", "amount": 100, "sale": 100}]), "[0].sale"),
        (json!([{"product_id": "1", "amount": -1}]), "[0].amount"),
        (json!([{"product_id": "1", "amount": null, "sale": 5}]), "[0].sale"),
    ] {
        let r = app.call("PUT", &path, Some(&admin), Some(&body), &[]).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        assert!(r.json()["error"]["details"][field].is_string(), "{field}: {}", r.text());
    }
    let r = app.call("PUT", &path, Some(&admin), Some(&json!({"product_id": "1"})), &[]).await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = app
        .call(
            "PUT",
            "/api/admin/price-lists/999/prices",
            Some(&admin),
            Some(&json!([{"product_id": "1", "amount": 1}])),
            &[],
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = app.call("PUT", &path, Some(&customer), Some(&json!([{"product_id": "1", "amount": 1}])), &[]).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = app.call("PUT", &path, None, Some(&json!([{"product_id": "1", "amount": 1}])), &[]).await;
    assert_eq!(r.status, 401, "{}", r.text());
    let r = app.call("GET", &format!("{path}?after=x"), Some(&admin), None, &[]).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(prices_state(&app), before, "nothing changed");

    // catalog reads: a currency the shop does not sell in, or not one at all
    for target in [
        "/api/products?currency=GBP",
        "/api/products?currency=eur",
        "/api/search?q=speaker&currency=JPY",
        "/api/products/boom-speaker?currency=XXX",
        "/api/products/bestsellers?currency=E",
    ] {
        let r = app.get(target).await;
        assert_eq!(r.status, 422, "{target}: {}", r.text());
        assert!(r.json()["error"]["details"]["currency"].is_string(), "{target}: {}", r.text());
    }
    // the setting: each currency once, every one but the default with a positive rate
    for bad in ["EUR, EUR 1", "USD, EUR 0", "USD, EUR", "USD, EUR 1.1234567", "USD EUR", "eur, USD 2"] {
        let r = app.call("PATCH", "/api/admin/settings", Some(&admin), Some(&json!({"currencies": bad})), &[]).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
    }
    // a good change shows at once: pounds now, at 0.8
    let r = app
        .call("PATCH", "/api/admin/settings", Some(&admin), Some(&json!({"currencies": "USD, EUR 0.5, GBP 0.8"})), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let gbp = app.json("/api/products/boom-speaker?currency=GBP").await;
    assert_eq!(gbp["data"]["price"], json!({"amount": 3999, "currency": "GBP"}));
    assert_eq!(currency_codes(&app).await, ["USD", "EUR", "GBP"]);
    // the audit log has the list's creation and nothing of the refusals
    let audits: Vec<String> =
        common::column(&app.conn(), "SELECT action FROM audit_log WHERE entity = 'price_list' ORDER BY id");
    assert_eq!(audits, ["price_list.create"]);
    app.stop().await;
}

/// A burst of first requests in a market while prices change: each answer is in price
/// order, the market is learned once and kept current, and the last answer agrees with
/// each product's own page.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_first_requests_in_a_market_while_prices_change() {
    let app = shop(true).await;
    let admin = app.admin("owner@example.com").await;
    let list = new_list(&app, &admin, json!({"name": "Euro", "currency": "EUR"})).await;
    let r = put_prices(&app, &admin, &list, json!([{"product_id": "1", "amount": 900}])).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let readers = (0..16).map(|_| {
        let addr = app.addr;
        tokio::spawn(async move {
            let r = common::call_at(addr, "GET", "/api/products?sort=price_asc&currency=EUR", None, None, &[]).await;
            assert_eq!(r.status, 200, "{}", r.text());
            names_prices(&r.json())
        })
    });
    let readers: Vec<_> = readers.collect();
    // the speaker's own price moves meanwhile: 20.00 → 200.00 dollars, one step at a time
    for (i, base) in [2000, 6000, 12000, 20000].into_iter().enumerate() {
        let r = app.call("PUT", "/api/admin/products/3/price", Some(&admin), Some(&json!({"base": base})), &[]).await;
        assert_eq!(r.status, 200, "step {i}: {}", r.text());
    }
    for reader in readers {
        let seen = reader.await.unwrap();
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert!(seen.windows(2).all(|w| w[0].1 <= w[1].1), "in price order: {seen:?}");
    }
    // after the last change: the speaker converts to 100.00 euros, the most expensive now
    let last = names_prices(&app.json("/api/products?sort=price_asc&currency=EUR").await);
    assert_eq!(
        last,
        np(&[
            ("Aurora Wireless Headphones", 900),
            ("Chef Knife", 1500),
            ("Nimbus Earbuds", 4000),
            ("Boom Speaker", 10000)
        ])
    );
    for (name, price) in &last {
        let slug = name.to_lowercase().replace(' ', "-");
        let page = app.json(&format!("/api/products/{slug}?currency=EUR")).await;
        assert_eq!(page["data"]["price"]["amount"].as_i64(), Some(*price), "{name}");
    }
    app.stop().await;
}

/// A shop may sell in euros by default: products' own prices are then euros (the same
/// numbers, the owner's to change) and convert from them into the shop's other currencies.
/// Lists, product pages, search facets, carts, orders, the admin's order list and product
/// events follow the change at once; no answer cached before it is served after it; a bad
/// setting is refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_can_sell_in_euros_by_default() {
    let receiver = Receiver::start(&[], 200).await;
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.currencies = "USD, EUR 0.5".into();
            c.webhook_private_targets = true;
            c.search_index = true;
        })
        .start()
        .await;
    let admin = app.admin("owner@example.com").await;
    common::subscribe(&app, &admin, &receiver.url("/hooks"), &["product.updated"]).await;
    let set = |currencies: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move {
            app.call("PATCH", "/api/admin/settings", Some(&admin), Some(&json!({"currencies": currencies})), &[]).await
        }
    };

    // in dollars, each answer cached
    let dollars = priced(&app.json("/api/products?sort=price_asc").await);
    assert!(!dollars.is_empty() && dollars.iter().all(|(_, _, c)| c == "USD"), "{dollars:?}");
    let speaker = app.json("/api/products/boom-speaker").await["data"]["price"].clone();
    assert_eq!(speaker, json!({"amount": 4999, "currency": "USD"}));
    let bands = |search: &Value| -> Vec<String> {
        search["meta"]["facets"]["price_bands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["min"]["currency"].as_str().unwrap().to_owned())
            .collect()
    };
    let search = app.json("/api/search?q=speaker").await;
    assert!(bands(&search).iter().all(|c| c == "USD") && !bands(&search).is_empty(), "{search}");

    // bad settings are refused and change nothing
    let before = common::digest(&app.conn());
    for bad in ["EUR, EUR 1", "EUR, USD", "EUR, USD 0", "eur", "EUR USD 2", "EURO"] {
        let r = set(bad).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
        assert!(r.json()["error"]["details"]["currencies"].is_string(), "{bad}: {}", r.text());
    }
    assert_eq!(common::digest(&app.conn()), before);
    assert_eq!(app.json("/api/products/boom-speaker").await["data"]["price"], speaker);

    // euros by default: 2 dollar cents and 1.6 yen per euro cent
    let r = set("EUR, USD 2, JPY 1.6").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(currency_codes(&app).await, ["EUR", "USD", "JPY"]);
    let euros: Vec<(String, i64, String)> = dollars.iter().map(|(n, p, _)| (n.clone(), *p, "EUR".to_owned())).collect();
    assert_eq!(priced(&app.json("/api/products?sort=price_asc").await), euros, "the same numbers, in euros");
    assert_eq!(
        app.json("/api/products/boom-speaker").await["data"]["price"],
        json!({"amount": 4999, "currency": "EUR"})
    );
    assert_eq!(
        app.json("/api/products/boom-speaker?currency=USD").await["data"]["price"],
        json!({"amount": 9998, "currency": "USD"})
    );
    // 4999 × 1.6 = 7998.4 → 7998 yen
    assert_eq!(
        app.json("/api/products/boom-speaker?currency=JPY").await["data"]["price"],
        json!({"amount": 7998, "currency": "JPY"})
    );
    let search = app.json("/api/search?q=speaker").await;
    assert!(search["data"].as_array().unwrap().iter().all(|p| p["price"]["currency"] == "EUR"), "{search}");
    assert!(bands(&search).iter().all(|c| c == "EUR"), "{search}");

    // a cart without a currency of its own is in euros, and so is its order
    let shopper = app.guest().await;
    let r = app.call("POST", "/api/cart", Some(&shopper), Some(&json!({"product_id": "3", "quantity": 1})), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["data"]["items"][0]["unit_price"], json!({"amount": 4999, "currency": "EUR"}));
    let r = app.call("POST", "/api/checkout", Some(&shopper), Some(&common::checkout_body()), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let placed = r.json()["data"].clone();
    assert_eq!(placed["total"]["currency"], "EUR", "{placed}");
    let listed = app.call("GET", "/api/admin/orders", Some(&admin), None, &[]).await.json();
    let row = listed["data"].as_array().unwrap().iter().find(|o| o["id"] == placed["order_id"]).unwrap().clone();
    assert_eq!((row["total"].clone(), row["currency"].clone()), (placed["total"]["amount"].clone(), json!("EUR")));

    // the product's event gives its price in euros
    let r =
        app.call("PATCH", "/api/admin/products/3", Some(&admin), Some(&json!({"name": "Boom Speaker 2"})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let hits = receiver.wait_for(1, 10).await;
    assert_eq!(hits[0].json()["type"], "product.updated");
    assert_eq!(hits[0].json()["data"]["price"], json!({"amount": 4999, "currency": "EUR"}), "{}", hits[0].json());

    // and back to dollars: the orders keep their euros
    assert_eq!(set("USD, EUR 0.5").await.status, 200);
    assert_eq!(app.json("/api/products/boom-speaker").await["data"]["price"], speaker);
    let path = format!("/api/orders/{}", placed["order_id"].as_str().unwrap());
    assert_eq!(app.call("GET", &path, Some(&shopper), None, &[]).await.json()["data"]["total"], placed["total"]);
    app.stop().await;
}
