//! The web pages in a real browser (headless Chromium through chromedriver): the storefront
//! a shopper sees, checked against the API's own answers, screenshotted at desktop and phone
//! widths (target/screenshots/) and checked by axe-core for serious accessibility problems.

use fantoccini::Locator;

use crate::common::browser::Browser;
use crate::common::TestApp;

/// No serious or critical axe-core finding on the page now shown; and it is light: at most
/// 10 requests and 100 KB as sent, scripts at most 30 KB, nothing from another origin.
async fn accessible(b: &Browser, page: &str) {
    let (requests, bytes, script, foreign) = b.weight().await;
    assert!(requests <= 10, "{page}: {requests} requests");
    assert!(bytes <= 100 * 1024, "{page}: {bytes} bytes");
    assert!(script <= 30 * 1024, "{page}: {script} bytes of script");
    assert!(foreign.is_empty(), "{page}: {foreign:?}");
    let problems = b.accessibility_problems().await;
    assert!(problems.is_empty(), "{page}: {problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_browses_categories_filters_sorts_searches_and_opens_a_product() {
    let app = TestApp::builder().seeded(400, 7).start().await;
    let b = Browser::start(app.addr).await;

    // home: every top-level category of the API, and products
    b.goto("/").await;
    let tree = app.json("/api/categories").await;
    let names = b.texts("ul.cats a").await;
    assert_eq!(names.len(), tree["data"].as_array().unwrap().len());
    for (shown, c) in names.iter().zip(tree["data"].as_array().unwrap()) {
        assert!(shown.starts_with(c["name"].as_str().unwrap()), "{shown} / {}", c["name"]);
    }
    assert!(b.client.find_all(Locator::Css("ul.grid li")).await.unwrap().len() >= 4, "products on the home page");
    b.shoot("shop-home").await;
    accessible(&b, "home").await;

    // a category: its products as the API lists them, then sorted by price
    b.click("ul.cats li:first-child a").await;
    let slug = tree["data"][0]["slug"].as_str().unwrap().to_owned();
    b.wait_path(&format!("/c/{slug}")).await;
    let api = app.json(&format!("/api/products?category={slug}&per_page=24")).await;
    let total = api["meta"]["total"].as_i64().unwrap();
    assert_eq!(b.text(".toolbar .count").await, format!("{total} products"));
    let first = b.text("ul.grid li:first-child a.title").await;
    assert_eq!(first, api["data"][0]["name"].as_str().unwrap());
    b.shoot("shop-category").await;
    accessible(&b, "category").await;
    // choosing a sort applies it (the page's script submits the form)
    b.client.find(Locator::Css("#sort")).await.unwrap().select_by_value("price_asc").await.unwrap();
    b.wait_path(&format!("/c/{slug}?sort=price_asc")).await;
    let cheapest = app.json(&format!("/api/products?category={slug}&per_page=24&sort=price_asc")).await;
    assert_eq!(b.text("ul.grid li:first-child a.title").await, cheapest["data"][0]["name"].as_str().unwrap());
    // the in-stock filter keeps the sort
    b.click("input[name=in_stock]").await;
    b.click(".filters button[type=submit]").await;
    b.wait_path(&format!("/c/{slug}?in_stock=1&sort=price_asc")).await;
    let in_stock = app.json(&format!("/api/products?category={slug}&in_stock=true")).await;
    assert_eq!(b.text(".toolbar .count").await, format!("{} products", in_stock["meta"]["total"]));

    // a product: its name, price and variants as the API has them
    let product = cheapest["data"][0]["slug"].as_str().unwrap().to_owned();
    b.click("ul.grid li:first-child a.title").await;
    b.wait_path(&format!("/p/{product}")).await;
    let detail = app.json(&format!("/api/products/{product}")).await;
    assert_eq!(b.text("h1").await, detail["data"]["name"].as_str().unwrap());
    let amount = detail["data"]["price"]["amount"].as_i64().unwrap();
    assert!(b.text(".buy .price").await.starts_with(&format!("${}.{:02}", amount / 100, amount % 100)));
    let variants = detail["data"]["variants"].as_array().unwrap().len();
    if variants > 1 {
        assert_eq!(b.client.find_all(Locator::Css("#variant option")).await.unwrap().len(), variants);
    }
    b.shoot("shop-product").await;
    accessible(&b, "product").await;

    // search from the box in the header, then narrow by a brand facet
    let word = detail["data"]["name"].as_str().unwrap().split_whitespace().next().unwrap().to_lowercase();
    b.fill("#q", &word).await;
    b.client.find(Locator::Css("#q")).await.unwrap().send_keys("\u{E007}").await.unwrap(); // Enter
    b.wait_path(&format!("/search?q={word}")).await;
    let found = app.json(&format!("/api/search?q={word}&per_page=24")).await;
    assert_eq!(b.text(".toolbar .count").await, format!("{} results", found["meta"]["total"]));
    b.shoot("shop-search").await;
    accessible(&b, "search").await;
    let brand = &found["meta"]["facets"]["brands"][0];
    b.client.find(Locator::LinkText(brand["name"].as_str().unwrap())).await.unwrap().click().await.unwrap();
    b.wait_path(&format!("/search?brand={}&q={word}", brand["slug"].as_str().unwrap())).await;
    assert_eq!(b.text(".toolbar .count").await, format!("{} results", brand["count"]));

    // an address that names nothing is a page that says so
    b.goto("/p/no-such-product").await;
    assert_eq!(b.text("h1").await, "Not found");
    b.shoot("shop-not-found").await;

    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_box_suggests_as_you_type_and_search_forgives_a_typo() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let b = Browser::start(app.addr).await;
    b.goto("/").await;
    // typing offers the completions the API gives, in the box's list of suggestions
    for typed in ["wirel", "speek", "nimbus head"] {
        b.fill("#q", typed).await;
        let api = app.json(&format!("/api/search/suggest?q={}&limit=8", typed.replace(' ', "%20"))).await;
        let want: Vec<&str> = api["data"].as_array().unwrap().iter().map(|s| s["text"].as_str().unwrap()).collect();
        assert!(!want.is_empty(), "{typed}: {api}");
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let got = b
                .client
                .execute("return [...document.querySelectorAll('#q-suggestions option')].map(o => o.value)", vec![])
                .await
                .unwrap();
            if got == serde_json::json!(want) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{typed}: offered {got}, the API says {want:?}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    assert_eq!(
        b.client.execute("return document.querySelector('#q-suggestions option').label", vec![]).await.unwrap(),
        serde_json::json!("1 product")
    );
    // a search with a typo finds what the word as written finds
    b.fill("#q", "headphonez").await;
    b.client.find(Locator::Css("#q")).await.unwrap().send_keys("\u{E007}").await.unwrap(); // Enter
    b.wait_path("/search?q=headphonez").await;
    let exact = app.json("/api/search?q=headphones&per_page=24").await;
    assert_eq!(exact["meta"]["total"], 2);
    assert_eq!(b.text(".toolbar .count").await, "2 results");
    let names = b.texts("ul.grid a.title").await;
    let want: Vec<&str> = exact["data"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, want);
    b.shoot("shop-search-typo").await;
    accessible(&b, "search with a typo").await;
    b.close().await;
    app.stop().await;
}

/// A guest's order of `items` to buyer@example.com, paid through the payment webhook signed
/// with `secret`: (order id, the guest's token).
async fn paid_guest_order(app: &TestApp, secret: &str, items: serde_json::Value) -> (String, String) {
    let shopper = app.guest().await;
    let body = serde_json::json!({"items": items, "shipping_address": crate::common::address(),
                                  "payment_method": "card", "email": "buyer@example.com"});
    let r = app.call("POST", "/api/orders", Some(&shopper), Some(&body), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let order = r.json()["data"]["order_id"].as_str().unwrap().to_owned();
    let amount = r.json()["data"]["total"]["amount"].as_i64().unwrap();
    let paid = serde_json::json!({"event_id": format!("evt-{order}"), "order_id": order, "status": "succeeded",
                                  "amount": amount});
    app.payment_webhook(secret, &paid.to_string()).await;
    (order, shopper)
}

/// A shop for the after-sale pages: an owner's token, and a guest's paid order of 2 × product
/// 1 and 3 × product 3 (order id, the guest's token).
async fn after_sale_pages() -> (TestApp, String, String, String) {
    const SECRET: &str = "whsec-after-sale-pages-0123456789";
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.payment_webhook_secret = Some(SECRET.into());
            c.cache_warm_products = 0;
        })
        .start()
        .await;
    let owner = app.admin("owner@example.com").await;
    let items = serde_json::json!([{"product_id": "1", "quantity": 2}, {"product_id": "3", "quantity": 3}]);
    let (order, shopper) = paid_guest_order(&app, SECRET, items).await;
    (app, owner, order, shopper)
}

async fn page_app() -> TestApp {
    TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.cache_debug_header = true;
            c.cache_warm_products = 0;
        })
        .start()
        .await
}

const HTML: (&str, &str) = ("Accept", "text/html,application/xhtml+xml");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_cached_like_the_catalog_and_a_commit_shows_at_once() {
    let app = page_app().await;
    let product = "/p/aurora-wireless-headphones";
    let first = app.get_with(product, &[HTML]).await;
    assert_eq!((first.status, first.header("x-cache")), (200, Some("miss")), "{}", first.text());
    assert_eq!(first.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(first.header("cache-control"), Some("public, no-cache"), "revalidated on every use: never stale");
    let csp = first.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'") && csp.contains("form-action 'self'"),
        "{csp}"
    );
    assert!(first.text().contains("$149.99"), "the API's price is on the page");
    // the next one is the cache's (ahead of the router), with the same bytes, headers and validator
    let second = app.get_with(product, &[HTML]).await;
    assert_eq!(second.header("x-cache"), Some("hit-l1"));
    assert_eq!((second.body.clone(), second.header("etag")), (first.body.clone(), first.header("etag")));
    assert_eq!(second.header("content-security-policy"), Some(csp));
    let etag = first.header("etag").unwrap().to_owned();
    let again = app.get_with(product, &[HTML, ("If-None-Match", &etag)]).await;
    assert_eq!(again.status, 304);
    let gz = app.get_with(product, &[HTML, ("Accept-Encoding", "gzip")]).await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(crate::common::gunzip(&gz.body), first.body);

    // the owner changes the price: the product page, its category's page and search show it
    // at once (and nothing else the change does not touch is dropped)
    let category = "/c/headphones";
    let search = "/search?q=aurora";
    for p in [category, search, "/"] {
        assert_eq!(app.get_with(p, &[HTML]).await.status, 200, "{p}");
        assert_eq!(app.get_with(p, &[HTML]).await.header("x-cache"), Some("hit-l1"), "{p}");
    }
    let admin = app.admin("owner@example.com").await;
    let r = app
        .call("PUT", "/api/admin/products/1/price", Some(&admin), Some(&serde_json::json!({"base": 12345})), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    for p in [product, category, search] {
        let after = app.get_with(p, &[HTML]).await;
        assert_eq!(after.header("x-cache"), Some("miss"), "{p}");
        assert!(after.text().contains("$123.45") && !after.text().contains("$149.99"), "{p} shows the new price");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_page_addresses_get_a_clear_page_and_the_assets_are_immutable() {
    let app = page_app().await;
    let before = crate::common::digest(&app.conn());
    // what names nothing is a 404 page; a bad filter is a 4xx page that says which
    for (path, status, says) in [
        ("/p/no-such-thing", 404, "Not found"),
        ("/c/no-such-category", 404, "Not found"),
        ("/p/Not%20A%20Slug", 404, "Not found"),
        ("/nothing/here", 404, "Not found"),
        ("/c/headphones?page=0", 422, "page"),
        ("/c/headphones?page=many", 422, "page"),
        ("/c/headphones?min=cheap", 422, "must be a whole number"),
        ("/c/headphones?brand=no-such-brand", 422, "brand"),
        ("/c/headphones?sort=sideways", 422, "sort"),
        ("/search?q=%ff", 400, "That did not work"),
        ("/search?q=%2B%2B", 422, "letter or digit"),
    ] {
        let r = app.get_with(path, &[HTML]).await;
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"), "{path}");
        assert!(r.header("content-security-policy").is_some(), "{path}");
        assert!(r.text().contains(says), "{path}: {}", r.text());
    }
    // the API keeps its JSON errors, and so does a client that does not ask for a page
    let r = app.get_with("/api/products/no-such-thing", &[HTML]).await;
    assert_eq!((r.status, r.error_code()), (404, "not_found".to_owned()));
    assert_eq!(app.get("/nothing/here").await.error_code(), "not_found");
    // a form's spelling of a list (empty fields, another order) goes on to the list's one
    // spelling, which the cache answers
    let r = app.get_with("/c/headphones?sort=price_asc&brand=&min=&max=&in_stock=1&utm_source=mail", &[HTML]).await;
    assert_eq!((r.status, r.header("location")), (303, Some("/c/headphones?in_stock=1&sort=price_asc")));
    let r = app.get_with("/search?q=wireless%20headphones", &[HTML]).await;
    assert_eq!((r.status, r.header("location")), (303, Some("/search?q=wireless+headphones")));
    assert_eq!(app.get_with("/search?q=wireless+headphones", &[HTML]).await.status, 200);
    assert_eq!(crate::common::digest(&app.conn()), before, "pages change nothing");

    // the stylesheet under its hashed name, for good; any other name is not there
    let home = app.get_with("/", &[HTML]).await.text();
    let css = home
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.starts_with("/assets/style."))
        .unwrap()
        .to_owned();
    let r = app.get_with(&css, &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("public, max-age=31536000, immutable"));
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(String::from_utf8(crate::common::gunzip(&r.body)).unwrap().contains("--accent"));
    assert_eq!(app.get("/assets/style.0000000000.css").await.status, 404);
    assert_eq!(app.get("/assets/../Cargo.toml").await.status, 404);
    // every page and its parts come from the shop's own origin
    for p in ["/", "/c/headphones", "/p/aurora-wireless-headphones", "/search?q=aurora"] {
        let html = app.get_with(p, &[HTML]).await.text();
        for attr in ["src=\"", "href=\"", "action=\""] {
            for v in html.split(attr).skip(1).filter_map(|s| s.split('"').next()) {
                assert!(v.starts_with('/') || v.starts_with('#') || v.starts_with("data:"), "{p}: {attr}{v}");
            }
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_buys_by_keyboard_alone_and_a_forged_cross_site_post_is_refused() {
    use crate::common::browser::{ENTER, TAB};
    let app = TestApp::builder().seeded(200, 11).start().await;
    let b = Browser::start(app.addr).await;
    let list = app.json("/api/products?in_stock=true&per_page=1&sort=price_desc").await;
    let slug = list["data"][0]["slug"].as_str().unwrap().to_owned();
    let detail = app.json(&format!("/api/products/{slug}")).await;
    let name = detail["data"]["name"].as_str().unwrap().to_owned();

    // an empty cart at first (no session yet: no cookie)
    b.goto("/cart").await;
    assert!(b.text("main").await.contains("Your cart is empty"));
    assert!(b.client.get_all_cookies().await.unwrap().is_empty(), "looking opens no session");

    // the product page's form puts it in the cart: a guest session in an HttpOnly, SameSite=Strict cookie
    b.goto(&format!("/p/{slug}")).await;
    b.fill("#quantity", "2").await;
    b.click(".buy form button[type=submit]").await;
    b.wait_path("/cart").await;
    let cookie = b.client.get_named_cookie("sf_session").await.unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Strict)");
    assert!(b.text("table.lines").await.contains(&name));
    let qty = b.client.find(Locator::Css("table.lines input[name=quantity]")).await.unwrap();
    assert_eq!(qty.prop("value").await.unwrap().as_deref(), Some("2"));
    b.shoot("shop-cart").await;
    accessible(&b, "cart").await;
    // one less: the line's own form
    assert_eq!(b.text(".summary dd").await, "2");
    b.fill("table.lines input[name=quantity]", "1").await;
    b.click("table.lines form.inline button").await;
    b.wait_until_text(".summary dd", "1").await;

    // checkout with the keyboard alone: Tab from field to field, type, Enter
    b.click(".summary a.button").await;
    b.wait_path("/checkout").await;
    b.shoot("shop-checkout").await;
    accessible(&b, "checkout").await;
    b.tab_to("f-email").await;
    for value in ["ada@example.com", "Ada Lovelace", "1 Main St", "", "San Francisco", "CA", "94100"] {
        b.keys(value).await;
        b.keys(TAB).await;
    }
    assert_eq!(b.focused_id().await, "f-country", "the fields come in their order");
    b.keys(TAB).await; // the first delivery option (checked), then the payment method
    b.keys(TAB).await;
    b.keys(TAB).await; // the button
    b.keys(ENTER).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !b.path().await.starts_with("/orders/") {
        assert!(tokio::time::Instant::now() < deadline, "no order page: {}", b.text("main").await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let order_id = b.path().await.trim_start_matches("/orders/").to_owned();
    assert!(b.wait_text(".notice").await.contains("Waiting for payment"));
    b.shoot("shop-order").await;
    accessible(&b, "order").await;
    // the order is the API's: one of the product, to the address typed, the guest's e-mail
    let c = app.conn();
    let (email, city, lines): (String, String, i64) = c
        .query_row(
            "SELECT email, json_extract(shipping_address, '$.city'), (SELECT sum(quantity) FROM order_items WHERE order_id = o.id)
             FROM orders o WHERE id = ?1",
            [order_id.parse::<i64>().unwrap()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((email.as_str(), city.as_str(), lines), ("ada@example.com", "San Francisco", 1));
    // the cart is spent
    b.goto("/cart").await;
    assert!(b.text("main").await.contains("Your cart is empty"));

    // another site's page posts a form to the shop: refused, the cart untouched
    let before = crate::common::digest(&c);
    let variant = detail["data"]["variants"][0]["id"].as_str().unwrap();
    let forged = format!(
        "data:text/html,<form id=f method=post action='{}/cart/items'><input name=variant_id value={variant}>\
         <input name=quantity value=1></form><script>document.getElementById('f').submit()</script>",
        b.base
    );
    b.client.goto(&forged).await.unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !b.client.current_url().await.unwrap().as_str().starts_with(&b.base) {
        assert!(tokio::time::Instant::now() < deadline, "the forged form was not sent");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    b.wait_until_text("h1", "Not allowed").await;
    assert_eq!(crate::common::digest(&c), before, "a forged post changes nothing");

    b.close().await;
    app.stop().await;
}

/// The storefront's own words follow the shopper's language: a shopper who switches the
/// footer to French reads the frame, the home, a category, a product, the cart, the
/// checkout, the order's page, the login and registration and the search in French, the
/// page saying `lang="fr"`; a language the shop sells in without words of its
/// own (Brazilian Portuguese) shows the English ones; the JSON API is not touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_reading_french_reads_the_shops_own_words_in_french() {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.locales = "en, fr, pt-BR".into();
            c.cache_warm_products = 0;
        })
        .start()
        .await;
    let b = Browser::start(app.addr).await;
    b.goto("/").await;
    assert_eq!(b.text("h1").await, "Welcome to Storefront");
    b.client.find(Locator::Css("#language")).await.unwrap().select_by_value("fr").await.unwrap();
    b.click("form.language button[type=submit]").await;
    b.wait_text_with("h1", "Bienvenue chez Storefront").await;
    assert_eq!(b.text("header.top button[type=submit]").await, "Rechercher");
    assert!(b.text("footer").await.contains("Votre compte"), "{}", b.text("footer").await);
    assert_eq!(b.text("form.language button[type=submit]").await, "Changer");
    let lang = b.client.find(Locator::Css("html")).await.unwrap().attr("lang").await.unwrap();
    assert_eq!(lang.as_deref(), Some("fr"));

    b.goto("/c/speakers").await;
    assert_eq!(b.text("form.filters button[type=submit]").await, "Appliquer les filtres");
    assert!(b.text("div.toolbar").await.contains("Trier par"), "{}", b.text("div.toolbar").await);
    assert!(b.text("span.count").await.ends_with("produits"), "{}", b.text("span.count").await);
    assert_eq!(b.text("nav.crumbs a").await, "Accueil");

    b.goto("/p/boom-speaker").await;
    assert_eq!(b.text("form[action='/cart/items'] button[type=submit]").await, "Ajouter au panier");
    assert_eq!(b.text("p.stock.in").await, "En stock");
    assert!(b.text(".buy p.meta").await.contains("Réf. BOOM-1"), "{}", b.text(".buy p.meta").await);
    assert_eq!(b.text("#reviews").await, "Avis");
    b.shoot("product-in-french").await;
    accessible(&b, "product in French").await;

    // into the cart, through the checkout, to the order's page: all in French
    b.click("form[action='/cart/items'] button[type=submit]").await;
    b.wait_path("/cart").await;
    assert_eq!(b.text("h1").await, "Votre panier");
    assert_eq!(b.text("aside.summary a.button").await, "Commander");
    assert!(b.text("aside.summary").await.contains("Sous-total"), "{}", b.text("aside.summary").await);
    b.shoot("cart-in-french").await;
    accessible(&b, "cart in French").await;
    b.goto("/checkout").await;
    assert_eq!(b.text("form[action='/checkout'] button[type=submit]").await, "Passer la commande");
    let country = b.client.find(Locator::Css("#f-country option[value=DE]")).await.unwrap().text().await.unwrap();
    assert_eq!(country, "Allemagne");
    // a form sent without its fields is said in French beside them, and nothing is ordered
    let before = crate::common::digest(&app.conn());
    b.click("form[action='/checkout'] button[type=submit]").await;
    let said = b.wait_text("div.error").await;
    assert_eq!(said, "Veuillez vérifier les champs signalés ci-dessous.");
    // and beside each field, what the API said of it, in French
    assert_eq!(b.text("#f-city-error").await, "ne doit pas être vide");
    assert_eq!(crate::common::digest(&app.conn()), before, "nothing changed");
    fill_checkout(&b, "claire@example.fr", "Claire Dubois").await;
    b.click("form[action='/checkout'] button[type=submit]").await;
    let order = b.wait_text_with("h1", "Commande ").await;
    assert!(b.text("div.notice").await.contains("En attente de paiement"), "{}", b.text("div.notice").await);
    assert!(b.text("div.notice").await.contains("Une confirmation est envoyée à claire@example.fr."));
    let summary = b.text("aside.summary").await;
    // the history's status and the shop's own note about it, in French
    assert!(summary.contains("Historique"), "{summary}");
    assert!(summary.contains("Commande passée ; articles réservés"), "{summary}");
    assert!(!summary.contains("order placed"), "{summary}");
    b.shoot("order-in-french").await;
    accessible(&b, "order in French").await;
    let id = order.trim_start_matches("Commande ").to_owned();
    let placed: i64 = app.conn().query_row("SELECT count(*) FROM orders WHERE id = ?1", [&id], |r| r.get(0)).unwrap();
    assert_eq!(placed, 1, "{order}");

    // the account's pages: a wrong password is said in French, and nobody is logged in
    // (the attempt is counted against guessing, as every failed login is)
    b.goto("/account/login").await;
    assert_eq!(b.text("h1").await, "Se connecter");
    b.fill("#email", "nobody@example.fr").await;
    b.fill("#password", "not the password").await;
    b.click("main form button[type=submit]").await;
    assert_eq!(b.wait_text("div.error").await, "E-mail ou mot de passe incorrect.");
    let logged_in: i64 =
        app.conn().query_row("SELECT count(*) FROM sessions WHERE customer_id IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(logged_in, 0);
    b.goto("/account/register").await;
    assert_eq!(b.text("h1").await, "Créer un compte");
    assert_eq!(b.text("label[for=password]").await, "Mot de passe (8 caractères au moins)");
    // a password too short: the API's reason beside the field, in French, and nobody registered
    b.fill("#name", "Claire Dubois").await;
    b.fill("#email", "claire.d@example.fr").await;
    b.fill("#password", "court").await;
    b.click("main form button[type=submit]").await;
    assert_eq!(b.wait_text("#password-error").await, "doit faire au moins 8 caractères");
    b.shoot("registration-refused-in-french").await;
    let registered: i64 = app
        .conn()
        .query_row("SELECT count(*) FROM customers WHERE email = 'claire.d@example.fr'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(registered, 0);
    accessible(&b, "registration in French").await;

    b.goto("/search?q=speaker").await;
    assert_eq!(b.text("h1").await, "Résultats pour « speaker »");
    assert!(b.text("span.count").await.ends_with("résultats"), "{}", b.text("span.count").await);
    b.goto("/search?q=qqqzzzxx").await;
    assert!(b.text("p.empty").await.starts_with("Rien ne correspond à « qqqzzzxx »"), "{}", b.text("p.empty").await);
    b.shoot("search-in-french").await;

    // an address with nothing at it: the error page is French too
    b.goto("/p/no-such-speaker").await;
    assert_eq!(b.text("h1").await, "Introuvable");
    assert_eq!(b.text("main a[href='/']").await, "Retour à la boutique");

    // Brazilian Portuguese: the shop's words are English, the page says pt-BR
    b.goto("/p/boom-speaker").await;
    b.client.find(Locator::Css("#language")).await.unwrap().select_by_value("pt-BR").await.unwrap();
    b.click("form.language button[type=submit]").await;
    b.wait_text_with("form[action='/cart/items'] button[type=submit]", "Add to cart").await;
    let lang = b.client.find(Locator::Css("html")).await.unwrap().attr("lang").await.unwrap();
    assert_eq!(lang.as_deref(), Some("pt-BR"));
    // the API's own answers have no words of the shop's to translate
    let api = app.get_with("/api/products/boom-speaker", &[("accept-language", "fr")]).await;
    assert_eq!(api.status, 200);
    assert!(!api.text().contains("Ajouter"), "{}", api.text());
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_reading_german_gets_mail_in_german_and_chooses_its_language_on_the_account_page() {
    let smtp = crate::common::smtp_server::SmtpServer::start();
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.locales = "en, de".into();
            c.smtp_url = Some(smtp.url());
            c.cache_warm_products = 0;
        })
        .start()
        .await;
    app.admin("owner@example.com").await;
    let b = Browser::start(app.addr).await;
    // the shopper reads the shop in German (the footer's switch) and registers
    b.goto("/").await;
    b.client.find(Locator::Css("#language")).await.unwrap().select_by_value("de").await.unwrap();
    b.click("form.language button[type=submit]").await;
    b.wait_value("#language", "de").await;
    b.goto("/account/register").await;
    b.fill("#name", "Lise Meitner").await;
    b.fill("#email", "lise@example.de").await;
    b.fill("#password", "correct horse 1").await;
    b.click("main form button[type=submit]").await;
    b.wait_path("/account").await;
    // her account says so, and her mail is German
    b.wait_value("#mail-locale", "de").await;
    let id: i64 =
        app.conn().query_row("SELECT id FROM customers WHERE email = 'lise@example.de'", [], |r| r.get(0)).unwrap();
    let forgot = serde_json::json!({"email": "lise@example.de"});
    assert_eq!(app.call("POST", "/api/auth/password/forgot", None, Some(&forgot), &[]).await.status, 202);
    let german = |m: &str| crate::common::smtp_server::readable(m).contains("Subject: Passwort zurücksetzen");
    smtp.wait_for(1, 30, german).await;
    b.client.execute("document.getElementById('mail-language').scrollIntoView()", Vec::new()).await.unwrap();
    b.shoot("account-mail-language").await;
    accessible(&b, "account with its mail language").await;
    // she chooses English: the page says it is saved, and the next mail is English
    b.client.find(Locator::Css("#mail-locale")).await.unwrap().select_by_value("en").await.unwrap();
    b.click("form[action='/account/language'] button[type=submit]").await;
    b.wait_text_with("section[aria-labelledby=mail-language] p.notice", "Gespeichert").await; // the page is in German, as chosen in the footer
    b.wait_value("#mail-locale", "en").await;
    assert_eq!(app.call("POST", "/api/auth/password/forgot", None, Some(&forgot), &[]).await.status, 202);
    smtp.wait_for(1, 30, |m| crate::common::smtp_server::readable(m).contains("Subject: Reset your password")).await;
    // a language the shop does not have, posted by hand, is refused and changes nothing
    crate::common::settled(&app).await;
    let before = crate::common::digest(&app.conn());
    let token = b.client.get_named_cookie("sf_session").await.unwrap().value().to_owned();
    let csrf = b.value("form[action='/account/language'] input[name=csrf]").await;
    let r = post_form(&app, "/account/language", Some(&token), &[], &format!("csrf={csrf}&locale=fr")).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(crate::common::digest(&app.conn()), before);

    // the owner sees each customer's mail language on their page
    b.client.find(Locator::Css("#mail-locale")).await.unwrap().select_by_value("de").await.unwrap();
    b.click("form[action='/account/language'] button[type=submit]").await;
    b.wait_text_with("section[aria-labelledby=mail-language] p.notice", "Gespeichert").await; // the page is in German, as chosen in the footer
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;
    b.goto(&format!("/admin/customers/{id}")).await;
    assert_eq!(b.text("#customer-locale").await, "Deutsch (de)");
    b.close().await;
    app.stop().await;
}

/// Markets in the dashboard: the owner switches the products' list to euros and German and
/// sees what shoppers there see (the German name where there is one, the others marked; a
/// price list's price, the rest converted, sales struck through); a product's page says its
/// price in every currency and how each is set. A currency the shop does not sell in is
/// refused and keeps the view as it was; the view is the owner's alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_sees_the_catalog_in_each_currency_and_language() {
    use serde_json::json;
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.currencies = "USD, EUR 0.5".into();
            c.locales = "en, de".into();
        })
        .start()
        .await;
    let owner = app.admin("owner@example.com").await;
    let r = app
        .call(
            "POST",
            "/api/admin/price-lists",
            Some(&owner),
            Some(&json!({"name": "Euro prices", "currency": "EUR"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let list = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let body = json!([{"product_id": "3", "amount": 9000}]);
    let r = app.call("PUT", &format!("/api/admin/price-lists/{list}/prices"), Some(&owner), Some(&body), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let german = json!({"name": "Aurora Kabellose Kopfhörer", "description": "Kabellose Kopfhörer."});
    let r = app.call("PUT", "/api/admin/products/1/translations/de", Some(&owner), Some(&german), &[]).await;
    assert!(r.status == 200 || r.status == 201, "{}", r.text());

    let b = Browser::start(app.addr).await;
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;
    b.goto("/admin/products").await;
    // the shop's own currency and language first: dollars, English names
    let rows = b.text("table.lines tbody").await;
    assert!(rows.contains("Aurora Wireless Headphones") && rows.contains("$149.99") && !rows.contains('€'), "{rows}");
    b.client.find(Locator::Css("#view-currency")).await.unwrap().select_by_value("EUR").await.unwrap();
    b.client.find(Locator::Css("#view-locale")).await.unwrap().select_by_value("de").await.unwrap();
    b.click("form.view-switch button[type=submit]").await;
    b.wait_text_with("table.lines thead", "(EUR)").await;
    assert_eq!(b.path().await, "/admin/products", "back on the same list");
    let row = |sku: &'static str| {
        let b = &b;
        async move { b.texts("table.lines tbody tr").await.into_iter().find(|r| r.contains(sku)).unwrap_or_default() }
    };
    // the German name; the list's euro price; the others converted at 0.5, a sale struck
    let aurora = row("AUR-1").await;
    assert!(
        aurora.contains("Aurora Kabellose Kopfhörer") && aurora.contains("€75.00") && aurora.contains("€100.00"),
        "{aurora}"
    );
    let boom = row("BOOM-1").await;
    assert!(boom.contains("Boom Speaker") && boom.contains("not translated") && boom.contains("€90.00"), "{boom}");
    assert!(row("NIM-1").await.contains("€40.00"));
    assert_eq!(b.text("table.lines thead").await.matches("Deutsch").count(), 1);
    b.shoot("admin-products-euros-german").await;
    accessible(&b, "products in euros and German").await;
    // the storefront in euros agrees with it
    let shop = app.get_with("/api/products/boom-speaker?currency=EUR", &[]).await.json();
    assert_eq!(shop["data"]["price"]["amount"], 9000, "{shop}");

    // a product's page: its price in each currency and how each is set
    b.goto("/admin/products/3").await;
    let by_currency = b.text("#prices-by-currency table").await;
    assert!(by_currency.contains("$49.99") && by_currency.contains("own price"), "{by_currency}");
    assert!(by_currency.contains("€90.00") && by_currency.contains("Euro prices"), "{by_currency}");
    assert!(b.text("#prices-by-currency ul").await.contains("Euro prices"));
    b.goto("/admin/products/2").await;
    let by_currency = b.text("#prices-by-currency table").await;
    assert!(by_currency.contains("€40.00") && by_currency.contains("converted from USD at 0.5"), "{by_currency}");
    b.client.execute("document.getElementById('prices-by-currency').scrollIntoView()", Vec::new()).await.unwrap();
    b.shoot("admin-product-in-each-currency").await;
    accessible(&b, "a product's prices by currency").await;

    // a currency the shop does not sell in: refused, and the view stays euros and German
    b.goto("/admin/products").await;
    let before = crate::common::digest(&app.conn());
    choose_by_hand(&b, "view-currency", "XYZ").await;
    b.click("form.view-switch button[type=submit]").await;
    let said = b.wait_text_with("main", "currencies").await;
    assert!(said.contains("must be one of the shop's currencies: USD, EUR"), "{said}");
    assert_eq!(crate::common::digest(&app.conn()), before, "nothing changed");
    b.goto("/admin/products").await;
    assert!(row("BOOM-1").await.contains("€90.00"), "the view is as it was");
    // back to the shop's own: dollars and English names again
    b.client.find(Locator::Css("#view-currency")).await.unwrap().select_by_value("USD").await.unwrap();
    b.client.find(Locator::Css("#view-locale")).await.unwrap().select_by_value("en").await.unwrap();
    b.click("form.view-switch button[type=submit]").await;
    b.wait_text_with("table.lines tbody", "Aurora Wireless Headphones").await;
    assert!(!b.text("table.lines thead").await.contains("(EUR)"));
    let aurora = row("AUR-1").await;
    assert!(
        aurora.contains("Aurora Wireless Headphones") && aurora.contains("$149.99") && !aurora.contains('€'),
        "{aurora}"
    );
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_reads_the_dashboard_in_their_language() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let b = owner_in_dashboard(&app).await;
    // the browser asks for English: the dashboard's words are English
    assert!(b.text("header nav").await.contains("Orders"));
    assert_eq!(b.text("main h1").await, "Today");
    let lang = || async { b.client.execute("return document.documentElement.lang", Vec::new()).await.unwrap() };
    assert_eq!(lang().await, "en");

    // German, from the footer's switch, back on the page it was on
    b.goto("/admin/products").await;
    b.client.find(Locator::Css("#dashboard-language")).await.unwrap().select_by_value("de").await.unwrap();
    b.click("footer form.language button[type=submit]").await;
    b.wait_text_with("main h1", "Produkte").await;
    assert_eq!(b.path().await, "/admin/products");
    assert_eq!(lang().await, "de");
    let menu = b.text("header nav").await;
    assert!(menu.contains("Bestellungen") && menu.contains("Geschenkkarten"), "{menu}");
    assert!(b.text("header").await.contains("Abmelden"));
    let tabs = b.text("nav.tabs").await;
    assert!(tabs.contains("Alle") && tabs.contains("Entwürfe") && tabs.contains("Ausgemustert"), "{tabs}");
    // the catalog's texts are the shop's own, as typed; a product's status is said in German
    let rows = b.text("table.lines tbody").await;
    assert!(rows.contains("Aurora Wireless Headphones") && rows.contains("aktiv"), "{rows}");
    accessible(&b, "the products' list in German").await;
    b.goto("/admin").await;
    assert_eq!(b.text("main h1").await, "Heute");
    assert!(b.text("main").await.contains("Zu versendende Bestellungen"));
    b.shoot("admin-home-german").await;
    accessible(&b, "the dashboard's home in German").await;

    // a form's own checks speak German too, and a refused form changes nothing
    b.goto("/admin/promotions").await;
    assert_eq!(b.text("main h1").await, "Aktionen");
    let before = crate::common::digest(&app.conn());
    b.click("form[action='/admin/promotions'] button[type=submit]").await;
    let said = b.wait_text_with("main", "erforderlich").await;
    assert!(said.contains("Eine Aktion hinzufügen"), "{said}");
    assert_eq!(crate::common::digest(&app.conn()), before, "nothing changed");
    b.shoot("admin-promotion-refused-german").await;
    // and so do the API's own checks the form shows: a code longer than a code may be
    let long = "X".repeat(70);
    b.client.execute("document.getElementById('f-code').value = arguments[0]", vec![long.into()]).await.unwrap();
    b.fill("#f-value", "10").await;
    b.click("form[action='/admin/promotions'] button[type=submit]").await;
    let said = b.wait_text_with("main", "Zeichen").await;
    assert!(said.contains("darf höchstens 64 Zeichen lang sein"), "{said}");
    assert_eq!(crate::common::digest(&app.conn()), before, "nothing changed");

    // French; then a language the dashboard does not speak, refused, the choice kept
    b.goto("/admin").await;
    b.client.find(Locator::Css("#dashboard-language")).await.unwrap().select_by_value("fr").await.unwrap();
    b.click("footer form.language button[type=submit]").await;
    b.wait_text_with("main h1", "Aujourd'hui").await;
    assert!(b.text("header nav").await.contains("Commandes"));
    choose_by_hand(&b, "dashboard-language", "it").await;
    b.click("footer form.language button[type=submit]").await;
    let said = b.wait_text_with("main", "languages").await;
    assert!(said.contains("must be one of the dashboard's languages: en, de, fr, es"), "{said}");
    b.goto("/admin").await;
    assert_eq!(b.text("main h1").await, "Aujourd'hui", "the choice is as it was");

    // without a choice, the browser's language decides (the session's cookie alone)
    let token = b.client.get_named_cookie("sf_session").await.unwrap().value().to_owned();
    let cookie = format!("sf_session={token}");
    let spanish = app.get_with("/admin", &[HTML, ("Cookie", &cookie), ("Accept-Language", "es-ES,es;q=0.9")]).await;
    assert_eq!(spanish.status, 200);
    assert!(spanish.text().contains("<html lang=\"es\"") && spanish.text().contains("Pedidos por enviar"));
    let other = app.get_with("/admin", &[HTML, ("Cookie", &cookie), ("Accept-Language", "it-IT")]).await;
    assert!(other.text().contains("Orders to fulfil"), "a language the dashboard does not speak: English");
    // the login page too, before anyone logs in
    let login = app.get_with("/admin/login", &[HTML, ("Accept-Language", "de")]).await;
    assert!(login.text().contains("Beim Dashboard anmelden"), "{}", login.text());

    // back to English
    b.client.find(Locator::Css("#dashboard-language")).await.unwrap().select_by_value("en").await.unwrap();
    b.click("footer form.language button[type=submit]").await;
    b.wait_text_with("main h1", "Today").await;
    b.close().await;
    app.stop().await;
}

/// Chooses `value` in the select `id` though the page does not offer it, as a hand-made
/// post would send it.
async fn choose_by_hand(b: &Browser, id: &str, value: &str) {
    let script = "const s = document.getElementById(arguments[0]); const o = document.createElement('option');
                  o.value = arguments[1]; o.textContent = arguments[1]; s.add(o); s.value = arguments[1];";
    b.client.execute(script, vec![id.into(), value.into()]).await.unwrap();
}

/// A browser with the shop's owner (made now) logged in to the dashboard, on its home.
async fn owner_in_dashboard(app: &TestApp) -> Browser {
    app.admin("owner@example.com").await;
    let b = Browser::start(app.addr).await;
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;
    b
}

/// Fills the checkout's contact and address: `name` at `email`, in San Francisco.
async fn fill_checkout(b: &Browser, email: &str, name: &str) {
    for (field, value) in [
        ("#f-email", email),
        ("#f-name", name),
        ("#f-line1", "1 Main St"),
        ("#f-city", "San Francisco"),
        ("#f-state", "CA"),
        ("#f-postal_code", "94100"),
    ] {
        b.fill(field, value).await;
    }
}

/// Fills the new draft order's form: a customer on the phone, one line, an address in
/// California.
async fn fill_new_draft(b: &Browser, sku: &str, quantity: &str) {
    b.fill("#f-email", "phone@example.com").await;
    b.fill("#f-lines-0-sku", sku).await;
    b.fill("#f-lines-0-quantity", quantity).await;
    b.fill("#f-shipping_address-name", "Grace Hopper").await;
    b.fill("#f-shipping_address-line1", "2 Harbour Road").await;
    b.fill("#f-shipping_address-city", "San Francisco").await;
    b.fill("#f-shipping_address-state", "CA").await;
    b.fill("#f-shipping_address-postal_code", "94101").await;
}

/// Fills the login form shown (e-mail, the tests' password, a code when given) and sends it.
async fn submit_login(b: &Browser, email: &str, otp: Option<&str>) {
    b.fill("#email", email).await;
    b.fill("#password", "correct horse 1").await;
    if let Some(code) = otp {
        b.fill("#otp", code).await;
    }
    b.click("main form button[type=submit]").await;
}

/// A form post to a page, as a browser on the shop's own page sends it.
async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    extra: &[(&str, &str)],
    form: &str,
) -> crate::common::Resp {
    let cookie = cookie.map(|t| format!("sf_session={t}"));
    let mut headers: Vec<(&str, &str)> =
        vec![HTML, ("Content-Type", "application/x-www-form-urlencoded"), ("Sec-Fetch-Site", "same-origin")];
    if let Some(c) = &cookie {
        headers.push(("Cookie", c));
    }
    headers.retain(|(k, _)| !extra.iter().any(|(e, _)| e.eq_ignore_ascii_case(k)));
    headers.extend_from_slice(extra);
    crate::common::send(app.addr, "POST", path.as_bytes(), &headers, form.as_bytes()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cart_and_checkout_forms_refuse_bad_input_forged_posts_and_strangers_and_change_nothing() {
    let app = page_app().await;
    let c = app.conn();
    let variant: i64 = c.query_row("SELECT id FROM variants WHERE product_id = 1 LIMIT 1", [], |r| r.get(0)).unwrap();
    let before = crate::common::digest(&c);
    // without a session: bad quantities and variants are 422 pages, and no session is opened
    for (form, says) in [
        (format!("variant_id={variant}&quantity=lots"), "must be a whole number"),
        (format!("variant_id={variant}&quantity=0"), "quantity"),
        (format!("variant_id={variant}&quantity=5000"), "quantity"),
        ("variant_id=999999&quantity=1".to_owned(), "variant_id"),
        ("variant_id=not-an-id&quantity=1".to_owned(), "variant_id"),
        ("quantity=1".to_owned(), "That did not work"),
    ] {
        let r = post_form(&app, "/cart/items", None, &[], &form).await;
        assert_eq!(r.status, 422, "{form}: {}", r.text());
        assert!(r.text().contains(says), "{form}: {}", r.text());
        assert!(r.header("set-cookie").is_none_or(|c| !c.starts_with("sf_session=")), "{form}");
    }
    // posted from another site: refused whatever it carries (an older browser says only Origin)
    for from in [
        [("Sec-Fetch-Site", "cross-site"), ("Origin", "http://evil.example")],
        [("Sec-Fetch-Site", "same-site"), ("Origin", "http://shop.127.0.0.1")],
        [("Origin", "http://evil.example"), ("X-Nothing", "")],
        [("Origin", "null"), ("X-Nothing", "")],
    ] {
        let headers: Vec<(&str, &str)> =
            [HTML, ("Content-Type", "application/x-www-form-urlencoded")].into_iter().chain(from).collect();
        let body = format!("variant_id={variant}&quantity=1");
        let r = crate::common::send(app.addr, "POST", b"/cart/items", &headers, body.as_bytes()).await;
        assert_eq!(r.status, 403, "{from:?}: {}", r.text());
        assert!(r.text().contains("another site"), "{}", r.text());
    }
    assert_eq!(crate::common::digest(&c), before, "refused forms change nothing");

    // a session's forms need its CSRF token; another session's token, or none, is refused
    let token = app.guest().await;
    let other = app.guest().await;
    let good = storefront::pages::session::csrf_token(&token);
    let bad = storefront::pages::session::csrf_token(&other);
    let r = post_form(&app, "/cart/items", Some(&token), &[], &format!("variant_id={variant}&quantity=2")).await;
    assert_eq!((r.status, r.header("location")), (303, Some("/cart")), "{}", r.text());
    let item: i64 = c.query_row("SELECT id FROM cart_items ORDER BY id DESC LIMIT 1", [], |r| r.get(0)).unwrap();
    let before = crate::common::digest(&c);
    for form in ["quantity=1".to_owned(), format!("quantity=1&csrf={bad}"), "quantity=1&csrf=".to_owned()] {
        let r = post_form(&app, &format!("/cart/items/{item}"), Some(&token), &[], &form).await;
        assert_eq!(r.status, 403, "{form}");
        let r = post_form(&app, &format!("/cart/items/{item}/remove"), Some(&token), &[], &form).await;
        assert_eq!(r.status, 403, "{form}");
    }
    // a line of another's cart is not found; a bad quantity is 422
    let r = post_form(&app, &format!("/cart/items/{item}"), Some(&other), &[], &format!("quantity=1&csrf={bad}")).await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r =
        post_form(&app, &format!("/cart/items/{item}"), Some(&token), &[], &format!("quantity=-1&csrf={good}")).await;
    assert_eq!(r.status, 422, "{}", r.text());
    // checkout: without a session, without the token, or with fields missing: nothing placed
    let r = post_form(&app, "/checkout", None, &[], "name=Ada").await;
    assert_eq!(r.status, 403);
    let r = post_form(&app, "/checkout", Some(&token), &[], "name=Ada").await;
    assert_eq!(r.status, 403);
    let r = post_form(
        &app,
        "/checkout",
        Some(&token),
        &[],
        &format!("csrf={good}&name=Ada&country=US&payment_method=card&email=ada%40example.com"),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("aria-invalid=\"true\""), "the fields' problems are marked on the form: {}", r.text());
    assert!(r.text().contains("value=\"Ada\""), "what was typed stays");
    assert_eq!(crate::common::digest(&c), before, "nothing changed");
    // the order of one session is not another's to see
    let r = post_form(
        &app,
        "/checkout",
        Some(&token),
        &[],
        &format!("csrf={good}&email=ada%40example.com&name=Ada&line1=1+Main+St&city=SF&state=CA&postal_code=94100&country=US&payment_method=card&idempotency_key=k1"),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let order = r.header("location").unwrap().to_owned();
    assert!(order.starts_with("/orders/"));
    let mine = app.get_with(&order, &[HTML, ("Cookie", &format!("sf_session={token}"))]).await;
    assert_eq!(mine.status, 200);
    assert_eq!(mine.header("cache-control"), Some("private, no-store"));
    assert_eq!(app.get_with(&order, &[HTML, ("Cookie", &format!("sf_session={other}"))]).await.status, 404);
    assert_eq!(app.get_with(&order, &[HTML]).await.status, 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_registers_turns_on_two_factor_login_and_logs_in_with_a_code() {
    let app = page_app().await;
    let b = Browser::start(app.addr).await;
    b.goto("/account").await;
    b.wait_path("/account/login").await;
    b.click("a[href='/account/register']").await;
    b.wait_path("/account/register").await;
    // a password too short is the API's 422, said beside the field; what was typed stays
    b.fill("#name", "Hedy Lamarr").await;
    b.fill("#email", "hedy@example.com").await;
    b.fill("#password", "short").await;
    b.click("main form button[type=submit]").await;
    assert!(b.wait_text("#password-error").await.contains("8"), "{}", b.text("main").await);
    assert_eq!(
        b.client.find(Locator::Css("#email")).await.unwrap().prop("value").await.unwrap().as_deref(),
        Some("hedy@example.com")
    );
    b.shoot("account-register").await;
    accessible(&b, "register").await;
    // an e-mail that has an account already: said beside the field
    b.fill("#email", "grace@example.com").await;
    b.fill("#password", "correct horse 1").await;
    b.click("main form button[type=submit]").await;
    assert_eq!(b.wait_text("#email-error").await, "is already registered");
    b.fill("#email", "hedy@example.com").await;
    b.fill("#password", "correct horse 1").await;
    b.click("main form button[type=submit]").await;
    b.wait_path("/account").await;
    assert!(b.text("main").await.contains("hedy@example.com"));
    assert!(b.text("main").await.contains("No orders yet"));
    b.shoot("account-home").await;
    accessible(&b, "account").await;

    // two-factor login: the secret, its first code, the recovery codes
    b.click("form[action='/account/2fa/setup'] button").await;
    b.wait_path("/account/2fa/setup").await;
    let secret = b.text("code.secret").await;
    b.fill("#code", "000000").await;
    b.click("main form button[type=submit]").await;
    b.wait_text_with(".error", "wrong").await;
    b.fill("#code", &crate::two_factor::code(&secret, 0)).await;
    b.click("main form button[type=submit]").await;
    b.wait_text("ul.codes").await;
    assert_eq!(b.client.find_all(Locator::Css("ul.codes li")).await.unwrap().len(), 10);
    b.shoot("account-two-factor").await;

    // log out; logging in again asks for the code
    b.goto("/account").await;
    b.click("form[action='/account/logout'] button").await;
    b.wait_path("/").await;
    assert!(b.client.get_named_cookie("sf_session").await.is_err(), "the cookie is gone");
    b.goto("/account/login").await;
    submit_login(&b, "hedy@example.com", None).await;
    b.wait_text_with(".error", "authenticator").await;
    b.shoot("account-login-code").await;
    accessible(&b, "login").await;
    submit_login(&b, "hedy@example.com", Some(&crate::two_factor::code(&secret, 1))).await;
    b.wait_path("/account").await;
    assert!(b.text("main").await.contains("On: logging in asks for a code"));
    // the session list shows this one and the first (ended by the logout: not listed)
    assert_eq!(b.client.find_all(Locator::Css("#sessions + table tbody tr")).await.unwrap().len(), 1);
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_logs_in_with_two_factor_fulfils_an_order_from_the_queue_and_approves_a_review() {
    use serde_json::json;
    const SECRET: &str = "whsec-pages-test-0123456789";
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.admin_require_2fa = true;
            c.payment_webhook_secret = Some(SECRET.into());
            c.cache_warm_products = 0;
        })
        .start()
        .await;
    // the owner, with two-factor login on (through the API)
    let owner = app.admin("owner@example.com").await;
    let r = app.call("POST", "/api/auth/2fa/setup", Some(&owner), None, &[]).await;
    let secret = r.json()["data"]["secret"].as_str().unwrap().to_owned();
    let r = app
        .call(
            "POST",
            "/api/auth/2fa/enable",
            Some(&owner),
            Some(&json!({"code": crate::two_factor::code(&secret, 0)})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // a shopper's paid order
    let (order, _) = paid_guest_order(&app, SECRET, json!([{"product_id": "1", "quantity": 1}])).await;

    let b = Browser::start(app.addr).await;
    b.goto("/admin").await;
    b.wait_path("/admin/login").await;
    // a shopper's account is not the owner's
    app.register("someone@example.com").await;
    submit_login(&b, "someone@example.com", None).await;
    b.wait_text_with(".error", "not an administrator").await;
    // the owner's password, then the code
    submit_login(&b, "owner@example.com", None).await;
    b.wait_text_with(".error", "authenticator").await;
    b.shoot("admin-login").await;
    accessible(&b, "admin login").await;
    submit_login(&b, "owner@example.com", Some(&crate::two_factor::code(&secret, 1))).await;
    b.wait_path("/admin").await;

    // home: the paid order waits to be fulfilled, the pending review to be moderated
    let queue = b.wait_text("section[aria-labelledby=fulfil]").await;
    assert!(queue.contains(&format!("#{order}")) && queue.contains("buyer@example.com"), "{queue}");
    assert!(b.text("section[aria-labelledby=waiting]").await.contains("Spam"));
    assert!(b.text(".figures").await.contains("orders today"));
    b.shoot("admin-home").await;
    accessible(&b, "admin home").await;

    // the order: fulfil it
    b.click(&format!("section[aria-labelledby=fulfil] a[href='/admin/orders/{order}']")).await;
    b.wait_path(&format!("/admin/orders/{order}")).await;
    b.shoot("admin-order").await;
    accessible(&b, "admin order").await;
    b.fill("#f-carrier", "Royal Mail").await;
    b.fill("#f-tracking_number", "RM123456785GB").await;
    b.fill("#f-note", "Sent with the morning post").await;
    b.click("form.ship button[type=submit]").await;
    b.wait_until_text("h1 .status", "fulfilled").await;
    assert!(b.text("main").await.contains("Sent with the morning post"));
    assert!(b.text("#shipments + ol").await.contains("RM123456785GB"));
    // the API says the same, and the audit log has the owner's change
    let admin_view = app.call("GET", &format!("/api/admin/orders/{order}"), Some(&owner), None, &[]).await;
    assert_eq!(admin_view.json()["data"]["status"], "fulfilled");
    let audited: i64 = app
        .conn()
        .query_row(
            "SELECT count(*) FROM audit_log WHERE entity_id = ?1 AND action LIKE 'order.%'",
            [order.parse::<i64>().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert!(audited >= 1, "the change is audited");
    b.goto("/admin").await;
    assert!(!b.text("section[aria-labelledby=fulfil]").await.contains(&format!("#{order}")), "off the queue");

    // a review approved from the dashboard shows on the product's page
    b.goto("/admin/reviews").await;
    b.shoot("admin-reviews").await;
    accessible(&b, "admin reviews").await;
    assert!(!app.get("/p/aurora-wireless-headphones").await.text().contains("Buy cheap watches"));
    b.click("#review-4 form button[aria-label^=Approve]").await;
    b.wait_path("/admin/reviews?status=pending").await;
    b.wait_until_text("main .empty", "No reviews here.").await;
    assert!(
        app.get("/p/aurora-wireless-headphones").await.text().contains("Buy cheap watches"),
        "approved: on the page"
    );

    // another site's form cannot act for the owner
    let before = crate::common::digest(&app.conn());
    let token = b.client.get_named_cookie("sf_session").await.unwrap().value().to_owned();
    let r =
        post_form(&app, "/admin/reviews/4", Some(&token), &[("Sec-Fetch-Site", "cross-site")], "status=rejected").await;
    assert_eq!(r.status, 403);
    let r = post_form(&app, "/admin/reviews/4", Some(&token), &[], "status=rejected").await;
    assert_eq!(r.status, 403, "no CSRF token");
    assert_eq!(crate::common::digest(&app.conn()), before);
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_creates_a_product_with_stock_prices_it_and_shoppers_find_it() {
    let app = page_app().await;
    let b = owner_in_dashboard(&app).await;
    b.click("nav a[href='/admin/products']").await;
    b.wait_path("/admin/products").await;
    b.shoot("admin-products").await;
    accessible(&b, "admin products").await;
    b.click("a[href='/admin/products/new']").await;
    b.wait_path("/admin/products/new").await;
    // a price that is not one, and no category: said beside the fields, nothing created
    let before = crate::common::digest(&app.conn());
    b.fill("#f-sku", "ZEBRA-1").await;
    b.fill("#f-name", "Zebra Striped Teapot").await;
    b.fill("#f-description", "A teapot with stripes.").await;
    b.fill("#f-price", "twelve").await;
    b.fill("#f-quantity", "7").await;
    b.click("main form button[type=submit]").await;
    assert_eq!(b.wait_text("#f-price-error").await, "a price like 19.99");
    assert!(b.text("main").await.contains("choose a category"));
    assert_eq!(crate::common::digest(&app.conn()), before, "nothing created");
    b.shoot("admin-product-new").await;
    accessible(&b, "admin new product").await;
    b.fill("#f-price", "24.50").await;
    let kitchen: i64 =
        app.conn().query_row("SELECT id FROM categories WHERE slug = 'kitchen'", [], |r| r.get(0)).unwrap();
    b.client.find(Locator::Css("#f-category_id")).await.unwrap().select_by_value(&kitchen.to_string()).await.unwrap();
    b.click("main form button[type=submit]").await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !b.path().await.trim_start_matches("/admin/products/").chars().all(|c| c.is_ascii_digit())
        || b.path().await.ends_with("/new")
    {
        assert!(tokio::time::Instant::now() < deadline, "not created: {}", b.text("main").await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let id = b.path().await.trim_start_matches("/admin/products/").to_owned();
    b.shoot("admin-product").await;
    accessible(&b, "admin product").await;
    // the shop shows it at once: its page, search, its category
    let page = app.get("/p/zebra-striped-teapot").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("$24.50") && page.text().contains("In stock"));
    assert!(app.get("/search?q=zebra").await.text().contains("Zebra Striped Teapot"));
    assert!(app.get("/c/kitchen").await.text().contains("Zebra Striped Teapot"));
    // a sale price; then no stock
    b.fill("#f-sale", "19.99").await;
    b.click("form[action$='/price'] button").await;
    b.wait_path(&format!("/admin/products/{id}?saved=price")).await;
    let page = app.get("/p/zebra-striped-teapot").await.text();
    assert!(page.contains("$19.99") && page.contains("$24.50"), "the sale shows with the price it replaces");
    b.fill("form[action$='/stock'] input[name=quantity]", "0").await;
    b.click("form[action$='/stock'] button").await;
    b.wait_path(&format!("/admin/products/{id}?saved=stock")).await;
    assert!(app.get("/p/zebra-striped-teapot").await.text().contains("Out of stock"));
    // the owner finds it by its sku, and by low stock
    b.goto("/admin/products?q=ZEBRA-1").await;
    assert!(b.text("table.lines").await.contains("Zebra Striped Teapot"));
    b.goto("/admin/products?low_stock=1").await;
    assert!(b.text("table.lines").await.contains("Zebra Striped Teapot"));
    // retired: gone from the shop
    b.goto(&format!("/admin/products/{id}")).await;
    b.click("form[action$='/retire'] button").await;
    b.wait_path(&format!("/admin/products/{id}?saved=retired")).await;
    assert_eq!(b.text("h1 .status").await, "retired");
    assert_eq!(app.get("/p/zebra-striped-teapot").await.status, 404);
    assert!(!app.get("/search?q=zebra").await.text().contains("Zebra Striped Teapot"));
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_import_from_the_dashboard_shows_its_progress_and_its_bad_rows() {
    let app = page_app().await;
    app.admin("owner@example.com").await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("stock.csv");
    std::fs::write(
        &csv,
        "sku,name,category,price,stock\nMUG-9,Quokka Mug,kitchen,1299,5\nBAD-1,Broken Price,kitchen,12.99,1\n\
         LOST-1,Lost Category,garden,100,1\nPOT-9,Quokka Pot,kitchen,2599,2\n",
    )
    .unwrap();
    let b = Browser::start(app.addr).await;
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;
    b.goto("/admin/products").await;
    b.click("a[href='/admin/imports']").await;
    b.wait_path("/admin/imports").await;
    b.shoot("admin-import").await;
    accessible(&b, "admin import").await;
    b.client.find(Locator::Css("#file")).await.unwrap().send_keys(csv.to_str().unwrap()).await.unwrap();
    b.click("main form button[type=submit]").await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !b.path().await.starts_with("/admin/jobs/") {
        assert!(tokio::time::Instant::now() < deadline, "no job page: {}", b.text("main").await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // the page follows the job to its end (it reloads itself while the job runs)
    b.wait_until_text("#job-state", "completed").await;
    assert_eq!(b.text("#created").await, "2");
    assert_eq!(b.text("#rejected-count").await, "2");
    let bad = b.text("table.lines").await;
    assert!(bad.contains("3") && bad.contains("price"), "{bad}");
    assert!(bad.contains("4") && bad.contains("category"), "{bad}");
    let progress = b.client.find(Locator::Css("#progress")).await.unwrap();
    assert_eq!(progress.attr("value").await.unwrap().as_deref(), Some("4"));
    b.shoot("admin-import-done").await;
    accessible(&b, "admin import done").await;
    // the good rows are in the shop at once
    assert!(app.get("/search?q=quokka").await.text().contains("Quokka Pot"));
    // a file that is not an import is refused on the form, and makes no job
    let jobs_before: i64 =
        app.conn().query_row("SELECT count(*) FROM jobs WHERE kind = 'import_products'", [], |r| r.get(0)).unwrap();
    let junk = dir.path().join("junk.csv");
    std::fs::write(&junk, "colour,size\nred,L\n").unwrap();
    b.goto("/admin/imports").await;
    b.client.find(Locator::Css("#file")).await.unwrap().send_keys(junk.to_str().unwrap()).await.unwrap();
    b.click("main form button[type=submit]").await;
    b.wait_text_with(".error", "colour").await;
    let jobs_after: i64 =
        app.conn().query_row("SELECT count(*) FROM jobs WHERE kind = 'import_products'", [], |r| r.get(0)).unwrap();
    assert_eq!(jobs_after, jobs_before);
    b.close().await;
    app.stop().await;
}

/// Waits until the browser is at `{prefix}{digits}{suffix}`; answers the digits.
async fn wait_id_path(b: &Browser, prefix: &str, suffix: &str) -> String {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let path = b.path().await;
        if let Some(id) = path.strip_prefix(prefix).and_then(|rest| rest.strip_suffix(suffix)) {
            if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) {
                return id.to_owned();
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "at {path}: {}", b.text("main").await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_sets_up_a_promotion_a_shopper_uses_it_and_rates_and_categories_change_from_the_dashboard() {
    let app = page_app().await;
    let owner = app.admin("owner@example.com").await;
    let b = Browser::start(app.addr).await;
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;

    // promotions: the list, a value that is not one (said beside it, nothing created), then a code
    b.click("nav a[href='/admin/promotions']").await;
    b.wait_path("/admin/promotions").await;
    assert!(b.text("table.lines").await.contains("WELCOME10"));
    b.shoot("admin-promotions").await;
    accessible(&b, "admin promotions").await;
    let before = crate::common::digest(&app.conn());
    b.fill("#f-code", "WINTER15").await;
    b.client.find(Locator::Css("#f-kind")).await.unwrap().select_by_value("percent").await.unwrap();
    b.fill("#f-value", "fifteen").await;
    b.fill("#f-min_subtotal", "20.00").await;
    b.click("form[action='/admin/promotions'] button[type=submit]").await;
    assert_eq!(b.wait_text("#f-value-error").await, "a whole number");
    assert_eq!(crate::common::digest(&app.conn()), before, "nothing created");
    // a code that is taken: the API's conflict, said on the form
    b.fill("#f-code", "welcome10").await;
    b.fill("#f-value", "15").await;
    b.click("form[action='/admin/promotions'] button[type=submit]").await;
    b.wait_text_with(".error", "another promotion has this value").await;
    assert_eq!(crate::common::digest(&app.conn()), before, "nothing created");
    b.fill("#f-code", "WINTER15").await;
    b.click("form[action='/admin/promotions'] button[type=submit]").await;
    let id = wait_id_path(&b, "/admin/promotions/", "?saved=1").await;
    assert_eq!(b.wait_text("p.notice").await, "Saved.");
    b.shoot("admin-promotion").await;
    accessible(&b, "admin promotion").await;
    let api = app.call("GET", "/api/admin/promotions?per_page=1", Some(&owner), None, &[]).await.json();
    let row = &api["data"][0];
    assert_eq!(row["id"], id.as_str());
    assert_eq!(
        (row["code"].as_str(), row["value"].as_i64(), row["min_subtotal"].as_i64()),
        (Some("WINTER15"), Some(15), Some(2000))
    );

    // a shopper (this browser's session has a cart too) uses it; a code that is none is said so
    b.goto("/p/aurora-wireless-headphones").await;
    b.click("form[action='/cart/items'] button[type=submit]").await;
    b.wait_path("/cart").await;
    b.fill("#discount-code", "NOPE").await;
    b.click("form[action='/cart/discount'] button").await;
    assert!(!b.wait_text("#discount-code-error").await.is_empty());
    b.fill("#discount-code", "winter15").await;
    b.click("form[action='/cart/discount'] button").await;
    b.wait_text_with(".summary", "WINTER15").await;
    let cart = app.call("GET", "/api/cart", Some(&owner), None, &[]).await.json();
    let (subtotal, discount) =
        (cart["data"]["subtotal"]["amount"].as_i64().unwrap(), cart["data"]["discount"]["amount"].as_i64().unwrap());
    assert_eq!(discount, (subtotal * 15 + 50) / 100, "{cart}");
    b.shoot("cart-discount").await;
    accessible(&b, "cart with a code").await;
    b.click("form[action='/cart/discount/remove'] button").await;
    b.wait_text("#discount-code").await;
    assert_eq!(app.call("GET", "/api/cart", Some(&owner), None, &[]).await.json()["data"]["discount"]["amount"], 0);

    // tax rates: California's becomes 7.5 %
    b.goto("/admin/shipping-rates").await;
    assert!(b.text("table.lines").await.contains("Express (1-2 days)"));
    b.shoot("admin-shipping-rates").await;
    accessible(&b, "admin shipping rates").await;
    b.click("nav.tabs a[href='/admin/tax-rates']").await;
    b.wait_path("/admin/tax-rates").await;
    let california: i64 = app
        .conn()
        .query_row("SELECT id FROM tax_rates WHERE country = 'US' AND region = 'CA'", [], |r| r.get(0))
        .unwrap();
    b.click(&format!("table.lines a[href='/admin/tax-rates/{california}']")).await;
    b.wait_path(&format!("/admin/tax-rates/{california}")).await;
    let name: String =
        app.conn().query_row("SELECT name FROM tax_rates WHERE id = ?1", [california], |r| r.get(0)).unwrap();
    assert_eq!(b.text("main h1").await, name, "a rate is titled by its name");
    assert_eq!(
        b.client.find(Locator::Css("#f-rate_bp")).await.unwrap().prop("value").await.unwrap().as_deref(),
        Some("7.25")
    );
    b.fill("#f-rate_bp", "seven").await;
    b.click("main form.panel button[type=submit]").await;
    assert_eq!(b.wait_text("#f-rate_bp-error").await, "a percentage like 20 or 7.5");
    b.fill("#f-rate_bp", "7.5").await;
    b.click("main form.panel button[type=submit]").await;
    b.wait_path(&format!("/admin/tax-rates/{california}?saved=1")).await;
    let rate: i64 =
        app.conn().query_row("SELECT rate_bp FROM tax_rates WHERE id = ?1", [california], |r| r.get(0)).unwrap();
    assert_eq!(rate, 750);
    b.shoot("admin-tax-rate").await;
    accessible(&b, "admin tax rate").await;

    // Germany's prices include its VAT: ticked on its rate, the order a customer places
    // there costs the prices shown and its page says what of them is tax
    let germany: i64 = app.conn().query_row("SELECT id FROM tax_rates WHERE country = 'DE'", [], |r| r.get(0)).unwrap();
    b.goto(&format!("/admin/tax-rates/{germany}")).await;
    let tick = b.client.find(Locator::Css("#f-inclusive")).await.unwrap();
    assert_eq!(tick.prop("checked").await.unwrap().as_deref(), Some("false"), "tax on top until said");
    tick.click().await.unwrap();
    b.click("main form.panel button[type=submit]").await;
    b.wait_path(&format!("/admin/tax-rates/{germany}?saved=1")).await;
    let inclusive: bool =
        app.conn().query_row("SELECT inclusive FROM tax_rates WHERE id = ?1", [germany], |r| r.get(0)).unwrap();
    assert!(inclusive);
    b.goto("/admin/tax-rates").await;
    b.wait_text_with("table.lines", "yes").await;
    let mut berlin = crate::common::address();
    berlin["country"] = serde_json::json!("DE");
    berlin["state"] = serde_json::json!("");
    berlin["city"] = serde_json::json!("Berlin");
    berlin["postal_code"] = serde_json::json!("10115");
    berlin["line1"] = serde_json::json!("Unter den Linden 1");
    let buy = serde_json::json!({"items": [{"product_id": "3", "quantity": 1}], "shipping_address": berlin, "payment_method": "card"});
    let r = app.call("POST", "/api/orders", Some(&owner), Some(&buy), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let placed = r.json()["data"].clone();
    let total = placed["total"]["amount"].as_i64().unwrap();
    assert_eq!(total, 4999 + 899, "Boom Speaker at its shown price, and standard shipping to Germany");
    b.goto(&format!("/orders/{}", placed["order_id"].as_str().unwrap())).await;
    let summary = b.wait_text_with("main dl", "Tax included").await;
    assert!(summary.contains("($7.98)"), "19 % of 49.99 is 7.98 of it: {summary}");
    assert!(summary.contains("$58.98"), "{summary}");
    b.shoot("order-tax-included").await;
    accessible(&b, "order with tax included").await;

    // a category with products cannot be deleted: the page says why and it stays
    let kitchen: i64 =
        app.conn().query_row("SELECT id FROM categories WHERE slug = 'kitchen'", [], |r| r.get(0)).unwrap();
    b.goto("/admin/categories").await;
    b.shoot("admin-categories").await;
    accessible(&b, "admin categories").await;
    b.goto(&format!("/admin/categories/{kitchen}")).await;
    let before = crate::common::digest(&app.conn());
    b.click("form[action$='/delete'] button").await;
    b.wait_text_with(".error", "referred to by other rows").await;
    assert_eq!(crate::common::digest(&app.conn()), before, "nothing deleted");
    // a new sub-category under it shows on the shop's category page
    b.goto("/admin/categories").await;
    b.fill("#f-name", "Teapots").await;
    b.fill("#f-slug", "teapots").await;
    b.client.find(Locator::Css("#f-parent_id")).await.unwrap().select_by_value(&kitchen.to_string()).await.unwrap();
    b.click("form[action='/admin/categories'] button[type=submit]").await;
    wait_id_path(&b, "/admin/categories/", "?saved=1").await;
    assert!(app.get("/c/kitchen").await.text().contains("Teapots"), "the shop shows it at once");

    // the forms cannot be posted from another site, nor without the session's token
    let token = b.client.get_named_cookie("sf_session").await.unwrap().value().to_owned();
    let before = crate::common::digest(&app.conn());
    let r = post_form(
        &app,
        "/admin/promotions",
        Some(&token),
        &[("Sec-Fetch-Site", "cross-site")],
        "code=FREE&kind=percent&value=100",
    )
    .await;
    assert_eq!(r.status, 403);
    let r = post_form(&app, &format!("/admin/tax-rates/{california}/delete"), Some(&token), &[], "").await;
    assert_eq!(r.status, 403, "no CSRF token");
    assert_eq!(crate::common::digest(&app.conn()), before);
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_finds_a_customer_sees_their_orders_and_sessions_and_ends_them() {
    use serde_json::json;
    let app = page_app().await;
    app.admin("owner@example.com").await;
    let body = json!({"email": "ada.lovelace@example.org", "password": "correct horse 1", "name": "Ada Byron"});
    let r = app.call("POST", "/api/auth/register", None, Some(&body), &[]).await;
    assert_eq!(r.status, 201);
    let ada = r.json()["data"]["token"].as_str().unwrap().to_owned();
    app.add_to_cart(&ada, 1, 1).await;
    let order = json!({"shipping_address": crate::common::address(), "payment_method": "card"});
    let r = app.call("POST", "/api/checkout", Some(&ada), Some(&order), &[("Idempotency-Key", "ada-page-1")]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let order = r.json()["data"]["order_id"].as_str().unwrap().to_owned();
    let login = json!({"email": "ada.lovelace@example.org", "password": "correct horse 1"});
    let phone = app.call("POST", "/api/auth/login", None, Some(&login), &[("User-Agent", "Ada's phone")]).await;
    let phone = phone.json()["data"]["token"].as_str().unwrap().to_owned();

    let b = Browser::start(app.addr).await;
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;
    b.click("nav a[href='/admin/customers']").await;
    b.wait_path("/admin/customers").await;
    assert!(b.text("table.lines").await.contains("grace@example.com"));
    b.shoot("admin-customers").await;
    accessible(&b, "admin customers").await;
    b.fill("#customer-q", "byron").await;
    b.click("form[role=search] button").await;
    b.wait_path("/admin/customers?q=byron").await;
    let rows = b.text("table.lines tbody").await;
    assert!(rows.contains("ada.lovelace@example.org") && !rows.contains("grace@example.com"), "{rows}");
    b.click("table.lines tbody a").await;
    let id = wait_id_path(&b, "/admin/customers/", "").await;
    let page = b.wait_text("main").await;
    assert!(page.contains(&format!("#{order}")) && page.contains("Ada's phone"), "{page}");
    b.shoot("admin-customer").await;
    accessible(&b, "admin customer").await;
    b.click("form[action$='/sessions/end'] button").await;
    b.wait_path(&format!("/admin/customers/{id}?ended=2")).await;
    assert_eq!(b.text("p.notice").await, "Ended 2 sessions.");
    assert!(b.text("main").await.contains("No live session."));
    for t in [&ada, &phone] {
        assert_eq!(app.call("GET", "/api/me", Some(t), None, &[]).await.status, 401, "the session ended");
    }
    // a group, made on the Groups tab; Ada is put in it from her page, and the list of
    // its members shows her alone
    b.goto("/admin/customers").await;
    b.click("nav.tabs a[href='/admin/customer-groups']").await;
    b.wait_path("/admin/customer-groups").await;
    b.fill("#f-name", "Wholesale").await;
    b.fill("#f-description", "Trade accounts").await;
    b.click("form[action='/admin/customer-groups'] button[type=submit]").await;
    let group = wait_id_path(&b, "/admin/customer-groups/", "?saved=1").await;
    b.goto("/admin/customer-groups").await;
    assert!(b.text("table.lines").await.contains("Trade accounts"));
    b.shoot("admin-customer-groups").await;
    accessible(&b, "admin customer groups").await;
    b.goto(&format!("/admin/customers/{id}")).await;
    b.click(&format!("#customer-groups input[value='{group}']")).await;
    b.click("#customer-groups button[type=submit]").await;
    b.wait_path(&format!("/admin/customers/{id}?groups=1")).await;
    assert_eq!(b.text("p.notice").await, "Groups saved.");
    let members: Vec<String> = crate::common::column(
        &app.conn(),
        &format!("SELECT cast(customer_id AS TEXT) FROM customer_group_members WHERE group_id = {group}"),
    );
    assert_eq!(members, vec![id.clone()]);
    b.shoot("admin-customer-in-group").await;
    accessible(&b, "admin customer in a group").await;
    b.goto(&format!("/admin/customers?group={group}")).await;
    let rows = b.text("table.lines tbody").await;
    assert!(rows.contains("ada.lovelace@example.org") && rows.contains("Wholesale"), "{rows}");
    assert!(!rows.contains("grace@example.com"), "{rows}");

    // a customer that is none
    b.goto("/admin/customers/999999").await;
    assert_eq!(b.text("h1").await, "Not found");
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_connects_a_webhook_makes_an_api_key_exports_orders_and_reads_the_audit_log() {
    use crate::common::receiver::Receiver;
    use serde_json::json;
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.cache_warm_products = 0;
            // a failing endpoint is tried again within a second, its breaker closed soon
            c.job_retry_base_ms = 30;
            c.job_retry_max_secs = 1;
            c.breaker_cooldown_ms = 200;
            // the receiver listens on loopback
            c.webhook_private_targets = true;
        })
        .start()
        .await;
    let owner = app.admin("owner@example.com").await;
    let receiver = Receiver::start(&[], 500).await;
    let count = |sql: &str| -> i64 { app.conn().query_row(sql, [], |r| r.get(0)).unwrap() };

    let b = Browser::start(app.addr).await;
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;
    b.click("header nav a[href='/admin/webhooks']").await;
    b.wait_path("/admin/webhooks").await;
    assert!(b.text("main").await.contains("No subscriptions yet."));

    // a bad address and no event: said on the form, nothing made
    b.fill("#url", "ftp://example.com/hooks").await;
    b.click("main form button[type=submit]").await;
    let said = b.wait_text("#url-error").await;
    assert!(said.contains("http"), "{said}");
    assert!(b.text("#events-error").await.contains("1 to 32"));
    let typed = b.client.find(Locator::Css("#url")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(typed.as_deref(), Some("ftp://example.com/hooks"), "what was typed stays");
    assert_eq!(count("SELECT count(*) FROM webhook_subscriptions"), 0);

    // a real one: its secret is shown once
    b.fill("#url", &receiver.url("/hooks")).await;
    b.click("input[name=event][value='product.updated']").await;
    b.click("main form button[type=submit]").await;
    let secret = b.wait_text("#secret").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(b.text("table.lines").await.contains("nothing sent yet"));
    b.shoot("admin-webhooks").await;
    accessible(&b, "admin webhooks").await;
    let id: String =
        app.conn().query_row("SELECT cast(id AS TEXT) FROM webhook_subscriptions", [], |r| r.get(0)).unwrap();

    // the endpoint fails: the home page's queue says so
    let r = app
        .call("PATCH", "/api/admin/products/1", Some(&owner), Some(&json!({"name": "Aurora Headphones II"})), &[])
        .await;
    assert_eq!(r.status, 200);
    receiver.wait_for(1, 10).await;
    let failing = b.reload_until("/admin", "main", "Webhooks failing").await;
    assert!(failing.contains(&receiver.url("/hooks")), "{failing}");
    // the last hour's charts: requests have come in, a minute of the hour shows them
    for chart in ["#requests svg", "#p95 svg", "#hits svg"] {
        let label = b.client.find(Locator::Css(chart)).await.unwrap().attr("aria-label").await.unwrap().unwrap();
        assert!(label.contains("over the last hour") || chart == "#hits svg", "{chart}: {label}");
    }
    let requests = b.client.find(Locator::Css("#requests svg")).await.unwrap().attr("aria-label").await.unwrap();
    let highest: f64 = requests.as_deref().unwrap().split("the highest ").nth(1).unwrap().parse().unwrap();
    assert!(highest >= 1.0, "{requests:?}");
    b.shoot("admin-home-webhook-failing").await;
    b.click(&format!("a[href='/admin/webhooks/{id}']")).await;
    b.wait_path(&format!("/admin/webhooks/{id}")).await;
    assert!(b.text("#health").await.contains("failing"));
    assert!(b.text("table.lines").await.contains("500"));

    // it answers again: the waiting delivery arrives by itself; sent again by hand, once more
    receiver.answer(200);
    let page = format!("/admin/webhooks/{id}");
    b.reload_until(&page, "table.lines tbody", "succeeded").await;
    assert!(b.text("#health").await.contains("delivering"));
    let before = receiver.hits().len();
    b.shoot("admin-webhook").await;
    accessible(&b, "admin webhook").await;
    b.click("table.lines form[action$='/retry'] button").await;
    let delivery: String =
        app.conn().query_row("SELECT cast(id AS TEXT) FROM webhook_deliveries", [], |r| r.get(0)).unwrap();
    b.wait_path(&format!("/admin/webhooks/{id}?retried={delivery}")).await;
    let hits = receiver.wait_for(before + 1, 10).await;
    assert_eq!(hits[before].json()["type"], "product.updated");
    assert_eq!(hits[before].json()["id"], hits[0].json()["id"], "the same event");

    // paused from its page: unticked, saved, and said so in the list
    b.goto(&page).await;
    b.click("form.panel input[name=active]").await;
    b.click("form.panel button[type=submit]").await;
    b.wait_path(&format!("{page}?saved=1")).await;
    assert_eq!(count("SELECT active FROM webhook_subscriptions"), 0);

    // an API key: refused without a name or an area; made, shown once, scoped, revoked
    b.click("header nav a[href='/admin/webhooks']").await;
    b.wait_path("/admin/webhooks").await;
    assert!(b.text("table.lines").await.contains("paused"));
    b.click("nav.tabs a[href='/admin/api-keys']").await;
    b.wait_path("/admin/api-keys").await;
    b.click("main form button[type=submit]").await;
    assert!(!b.wait_text("#name-error").await.is_empty());
    assert!(b.text("div.error").await.contains("at least one area"));
    assert_eq!(count("SELECT count(*) FROM api_keys"), 0);
    b.fill("#name", "warehouse sync").await;
    b.click("input[name=catalog][value=read]").await;
    b.click("input[name=orders][value=write]").await;
    b.click("main form button[type=submit]").await;
    let key = b.wait_text("#new-key").await;
    assert!(key.starts_with("sf_"), "{key}");
    let row = b.text("table.lines tbody").await;
    assert!(row.contains("catalog:read") && row.contains("orders:write") && row.contains("never"), "{row}");
    b.shoot("admin-api-keys").await;
    accessible(&b, "admin api keys").await;
    assert_eq!(app.call("GET", "/api/admin/products", Some(&key), None, &[]).await.status, 200);
    assert_eq!(app.call("GET", "/api/admin/audit", Some(&key), None, &[]).await.status, 403, "no audit scope");
    b.goto("/admin/api-keys").await;
    assert!(b.client.find(Locator::Css("#new-key")).await.is_err(), "shown once");
    b.click("table.lines form[action$='/revoke'] button").await;
    b.wait_text_with("main", "No keys yet.").await;
    assert_eq!(app.call("GET", "/api/admin/products", Some(&key), None, &[]).await.status, 401);

    // an export of the orders: the job's page follows it and offers the file
    let order = app.guest().await;
    let body = json!({"items": [{"product_id": "1", "quantity": 1}], "shipping_address": crate::common::address(),
                      "payment_method": "card", "email": "buyer@example.com"});
    assert_eq!(app.call("POST", "/api/orders", Some(&order), Some(&body), &[]).await.status, 201);
    b.click("nav.tabs a[href='/admin/exports']").await;
    b.wait_path("/admin/exports").await;
    b.shoot("admin-exports").await;
    accessible(&b, "admin exports").await;
    b.click("main form button[type=submit]").await;
    let job = wait_id_path(&b, "/admin/jobs/", "").await;
    b.wait_until_text("#job-state", "completed").await;
    assert_eq!(b.text("#rows").await, "1");
    let href = b.client.find(Locator::Css("#download")).await.unwrap().attr("href").await.unwrap().unwrap();
    assert_eq!(href, format!("/admin/exports/{job}"));
    b.shoot("admin-export-done").await;
    accessible(&b, "admin export done").await;
    // the file, with the page's cookie
    let file = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => r.text().then(t => done(r.status + '\\n' + t)));",
            vec![json!(href)],
        )
        .await
        .unwrap();
    let file = file.as_str().unwrap();
    assert!(file.starts_with("200\n"), "{file}");
    assert!(file.contains("buyer@example.com"), "{file}");
    assert_eq!(file.trim_end().lines().count(), 3, "status, header, one order: {file}");
    b.goto("/admin/exports").await;
    assert!(b.text("table.lines").await.contains("completed"));

    // the audit log has each of these acts, newest first
    b.click("nav.tabs a[href='/admin/audit']").await;
    b.wait_path("/admin/audit").await;
    let log = b.text("#audit tbody").await;
    let order_of = |action: &str| log.find(action).unwrap_or_else(|| panic!("{action} in {log}"));
    assert!(order_of("export.download") < order_of("export.create"));
    assert!(order_of("api_key.revoke") < order_of("api_key.create"));
    assert!(order_of("webhook.update") < order_of("webhook.create"));
    b.shoot("admin-audit").await;
    accessible(&b, "admin audit").await;

    // the cache: figures per tier; an unknown tag is refused on the form, a known one flushed
    b.click("nav.tabs a[href='/admin/cache']").await;
    b.wait_path("/admin/cache").await;
    assert!(b.text("main").await.contains("hit ratio"));
    b.fill("#tag", "everything-please").await;
    b.click("form[action='/admin/cache/flush'] button").await;
    assert!(b.wait_text("#tag-error").await.contains("cache tag"));
    b.fill("#tag", "product:1").await;
    b.click("form[action='/admin/cache/flush'] button").await;
    b.wait_path("/admin/cache?flushed=product%3A1").await;
    assert_eq!(b.text("p.notice").await, "Flushed product:1.");
    b.shoot("admin-cache").await;
    accessible(&b, "admin cache").await;
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_gives_a_product_variants_and_a_shopper_buys_the_one_with_its_own_price() {
    use serde_json::json;
    let app = page_app().await;
    let owner = app.admin("owner@example.com").await;
    let new = json!({"sku": "TEE-9", "name": "Quokka Tee", "category_id": "6", "base_price": 2500, "quantity": 2});
    let r = app.call("POST", "/api/admin/products", Some(&owner), Some(&new), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["data"]["id"].as_str().unwrap().to_owned();
    let default = r.json()["data"]["stock"][0]["variant_id"].as_str().unwrap().to_owned();

    let b = Browser::start(app.addr).await;
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;
    b.goto(&format!("/admin/products/{id}")).await;
    // an option without its colon: said beside the field, nothing added
    let before = crate::common::digest(&app.conn());
    b.fill("#v-sku", "TEE-9-BLK-M").await;
    b.fill("#v-options", "Colour Black").await;
    b.fill("#v-quantity", "3").await;
    b.click("form[action$='/variants'] button[type=submit]").await;
    assert!(b.wait_text("#v-options-error").await.contains("Name: Value"));
    assert_eq!(crate::common::digest(&app.conn()), before, "nothing added");
    // typed right, with its own price
    b.fill("#v-options", "Colour: Black\nSize: M").await;
    b.fill("#v-price", "29").await;
    b.click("form[action$='/variants'] button[type=submit]").await;
    b.wait_path(&format!("/admin/products/{id}?saved=variant")).await;
    let rows = b.text("section[aria-labelledby=variants] table.lines tbody").await;
    assert!(rows.contains("Black / M") && rows.contains("29.00") && rows.contains("TEE-9-BLK-M"), "{rows}");
    b.shoot("admin-product-variants").await;
    accessible(&b, "admin product variants").await;
    // the first variant gets its options on its own page
    b.click(&format!("a[href='/admin/products/{id}/variants/{default}']")).await;
    b.wait_path(&format!("/admin/products/{id}/variants/{default}")).await;
    b.fill("#v-options", "Colour: White\nSize: M").await;
    b.fill("#v-name", "White / M").await;
    b.click("main form button[type=submit]").await;
    b.wait_path(&format!("/admin/products/{id}/variants/{default}?saved=1")).await;
    b.shoot("admin-variant").await;
    accessible(&b, "admin variant").await;

    // the shopper chooses the black one, at its own price
    b.goto("/p/quokka-tee").await;
    let choice = b.text("#variant").await;
    assert!(choice.contains("White / M — $25.00") && choice.contains("Black / M — $29.00"), "{choice}");
    let black: String = app
        .conn()
        .query_row("SELECT cast(id AS TEXT) FROM variants WHERE sku = 'TEE-9-BLK-M'", [], |r| r.get(0))
        .unwrap();
    b.client.find(Locator::Css("#variant")).await.unwrap().select_by_value(&black).await.unwrap();
    b.click(".buy form button[type=submit]").await;
    b.wait_path("/cart").await;
    let cart = b.text("table.lines").await;
    assert!(cart.contains("Black / M") && cart.contains("$29.00"), "{cart}");
    b.close().await;
    app.stop().await;
}

/// A product picture that looks like one: a soft background and a round object in `hue`.
fn product_photo(w: u32, h: u32, hue: [u8; 3], format: image::ImageFormat) -> Vec<u8> {
    let (cx, cy, r) = (w as f32 / 2.0, h as f32 * 0.55, h.min(w) as f32 * 0.32);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
        if d < r {
            // lit from the upper left
            let shade =
                1.0 - 0.45 * ((x as f32 - cx + r * 0.4).powi(2) + (y as f32 - cy + r * 0.4).powi(2)).sqrt() / (2.0 * r);
            image::Rgb(hue.map(|c| (c as f32 * shade) as u8))
        } else {
            let g = 244 - (y * 20 / h) as u8;
            image::Rgb([g, g, g.saturating_sub(4)])
        }
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut out), format).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_uploads_pictures_orders_them_and_shoppers_see_them() {
    let app = page_app().await;
    app.admin("owner@example.com").await;
    let dir = tempfile::tempdir().unwrap();
    let (front, side, junk) = (dir.path().join("front.png"), dir.path().join("side.jpg"), dir.path().join("notes.png"));
    std::fs::write(&front, product_photo(960, 720, [40, 90, 200], image::ImageFormat::Png)).unwrap();
    std::fs::write(&side, product_photo(900, 900, [210, 120, 40], image::ImageFormat::Jpeg)).unwrap();
    std::fs::write(&junk, "these are not pixels").unwrap();
    let count = |app: &TestApp| -> i64 {
        app.conn().query_row("SELECT count(*) FROM product_images WHERE product_id = 2", [], |r| r.get(0)).unwrap()
    };
    let before = count(&app);
    let b = Browser::start(app.addr).await;
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;
    b.goto("/admin/products/2").await;
    assert!(b.text("#images + p").await.contains("No pictures yet"));

    // a file that is not a picture: said beside the field, nothing kept
    b.client.find(Locator::Css("#i-file")).await.unwrap().send_keys(junk.to_str().unwrap()).await.unwrap();
    b.click("form[enctype='multipart/form-data'] button[type=submit]").await;
    let said = b.wait_text(".field-error").await;
    assert!(said.contains("JPEG, PNG or WebP"), "{said}");
    assert_eq!(count(&app), before, "nothing kept");

    // two pictures, each with what it shows
    for (file, alt) in [(&front, "Nimbus Earbuds in their case, from the front"), (&side, "Nimbus Earbuds, side view")]
    {
        b.client.find(Locator::Css("#i-file")).await.unwrap().send_keys(file.to_str().unwrap()).await.unwrap();
        b.fill("#i-alt", alt).await;
        b.click("form[enctype='multipart/form-data'] button[type=submit]").await;
        b.wait_path("/admin/products/2?saved=image").await;
    }
    // the thumbnails are made in the background; the page says so until they are there
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        b.goto("/admin/products/2").await;
        let list = b.text("ol.pictures").await;
        if !list.contains("making its thumbnail") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "thumbnails never made: {list}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let first_alt = || async {
        let img = b.client.find(Locator::Css("ol.pictures li:first-child img")).await.unwrap();
        img.attr("alt").await.unwrap().unwrap_or_default()
    };
    assert_eq!(first_alt().await, "Nimbus Earbuds in their case, from the front");
    // the side view goes first: the shop's lists show it from now on
    b.click("ol.pictures li:nth-child(2) form input[value=first] + button").await;
    b.wait_path("/admin/products/2?saved=image_changed").await;
    assert_eq!(first_alt().await, "Nimbus Earbuds, side view");
    b.shoot("admin-product-pictures").await;
    accessible(&b, "admin product pictures").await;

    // a shopper sees both on the product page and the first in the category's list
    b.goto("/p/nimbus-earbuds").await;
    let big = b.client.find(Locator::Css(".gallery img.big")).await.unwrap();
    assert_eq!(big.attr("alt").await.unwrap().as_deref(), Some("Nimbus Earbuds, side view"));
    let loaded = b
        .client
        .execute("return [...document.querySelectorAll('.gallery img')].map(i => i.complete && i.naturalWidth)", vec![])
        .await
        .unwrap();
    assert_eq!(loaded, serde_json::json!([900, 480]), "the big picture and the other's thumbnail load");
    b.shoot("shop-product-pictures").await;
    accessible(&b, "shop product pictures").await;
    b.goto("/search?q=nimbus").await;
    let card = b.client.find(Locator::Css("article.card img.photo")).await.unwrap();
    let src = card.attr("src").await.unwrap().unwrap();
    let thumb = app.get(&src).await;
    assert_eq!(thumb.status, 200);
    let small = image::load_from_memory(&thumb.body).unwrap();
    assert_eq!((small.width(), small.height()), (480, 480), "the list shows the side view's thumbnail");
    b.shoot("shop-search-pictures").await;

    // deleted from the dashboard: gone from the shop at once
    b.goto("/admin/products/2").await;
    b.click("ol.pictures li:first-child form[action$='/delete'] button").await;
    b.wait_path("/admin/products/2?saved=image_deleted").await;
    assert_eq!(count(&app), before + 1);
    let page = app.get("/p/nimbus-earbuds").await.text();
    assert!(!page.contains("side view") && page.contains("from the front"), "{page}");
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_renames_the_shop_from_the_settings_page_and_takes_it_back() {
    let app = page_app().await;
    let b = owner_in_dashboard(&app).await;
    b.goto("/admin/cache").await;
    b.click("nav.tabs a[href='/admin/settings']").await;
    b.wait_path("/admin/settings").await;
    assert!(b.text("#s-shop_name-hint").await.contains("Configured: Storefront"));
    // a value out of bounds: said beside its field, nothing changed
    let before = crate::common::digest(&app.conn());
    b.fill("#s-shop_name", "Quokka Goods").await;
    b.fill("#s-cart_max_lines", "0").await;
    b.click("#settings button[type=submit]").await;
    let said = b.wait_text("#s-cart_max_lines-error").await;
    assert!(said.contains("between 1 and 1000"), "{said}");
    assert_eq!(crate::common::digest(&app.conn()), before, "nothing changed");
    assert_eq!(
        b.client.find(Locator::Css("#s-shop_name")).await.unwrap().prop("value").await.unwrap().as_deref(),
        Some("Quokka Goods"),
        "what was typed stays"
    );
    b.shoot("admin-settings-refused").await;
    b.fill("#s-cart_max_lines", "25").await;
    b.click("#settings button[type=submit]").await;
    b.wait_path("/admin/settings?saved=1").await;
    assert!(b.text("#changed + ul").await.contains("Shop name: Quokka Goods (configured: Storefront)"));
    assert!(b.text("header").await.contains("Quokka Goods"), "the dashboard's own header");
    b.shoot("admin-settings").await;
    accessible(&b, "admin settings").await;
    // the storefront says it at once
    b.goto("/").await;
    assert_eq!(b.text("h1").await, "Welcome to Quokka Goods");
    assert!(b.client.title().await.unwrap().contains("Quokka Goods"));
    // taken back
    b.goto("/admin/settings").await;
    b.click("form[action='/admin/settings/reset'] input[value=shop_name] + button, form[action='/admin/settings/reset']:has(input[value=shop_name]) button").await;
    b.wait_path("/admin/settings?saved=reset").await;
    b.goto("/").await;
    assert_eq!(b.text("h1").await, "Welcome to Storefront");
    let lines: i64 = app
        .conn()
        .query_row("SELECT value FROM settings WHERE key = 'cart_max_lines'", [], |r| r.get::<_, String>(0))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(lines, 25, "the other change stands");
    b.close().await;
    app.stop().await;
}

/// A shop that sells in yen by default: the owner says so on the settings page (a list
/// that names a currency twice is said beside the field, nothing changed). Prices are then
/// typed and shown in whole yen on the dashboard (a price with decimals is refused beside
/// the field), the storefront shows yen and converts into dollars, and the order list
/// shows each order in its own currency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_sells_in_yen_by_default_and_every_page_says_yen() {
    let app = page_app().await;
    let b = owner_in_dashboard(&app).await;
    b.goto("/admin/settings").await;
    let before = crate::common::digest(&app.conn());
    b.fill("#s-currencies", "JPY, JPY 1").await;
    b.click("#settings button[type=submit]").await;
    let said = b.wait_text("#s-currencies-error").await;
    assert!(said.contains("JPY is named twice"), "{said}");
    assert_eq!(crate::common::digest(&app.conn()), before, "nothing changed");
    b.fill("#s-currencies", "JPY, USD 0.67").await;
    b.click("#settings button[type=submit]").await;
    b.wait_path("/admin/settings?saved=1").await;

    // the speaker's 4999 is now yen, typed whole; 15.50 is not a price in yen
    b.goto("/admin/products/3").await;
    assert_eq!(b.value("#f-price").await, "4999");
    let before = crate::common::digest(&app.conn());
    b.fill("#f-price", "15.50").await;
    b.click("form[action='/admin/products/3/price'] button[type=submit]").await;
    let said = b.wait_text("form[action='/admin/products/3/price'] .field-error").await;
    assert!(said.contains("a price like 1500"), "{said}");
    assert_eq!(crate::common::digest(&app.conn()), before, "nothing changed");
    b.fill("#f-price", "1500").await;
    b.click("form[action='/admin/products/3/price'] button[type=submit]").await;
    b.wait_path("/admin/products/3?saved=price").await;
    assert_eq!(b.value("#f-price").await, "1500");
    let stored: i64 = app.conn().query_row("SELECT base_price FROM products WHERE id = 3", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, 1500, "whole yen");
    b.shoot("admin-product-yen").await;
    accessible(&b, "product priced in yen").await;
    b.goto("/admin/products").await;
    let row = b.text("table.lines tbody").await;
    assert!(row.contains("¥1,500") && !row.contains("15.00"), "{row}");

    // the storefront in yen, and in dollars at 0.67 cents a yen: 1500 × 0.67 = $10.05
    b.goto("/p/boom-speaker").await;
    b.wait_text_with(".buy", "¥1,500").await;
    b.client.find(Locator::Css("#currency")).await.unwrap().select_by_value("USD").await.unwrap();
    b.click("form[action='/currency'] button[type=submit]").await;
    b.wait_text_with(".buy", "$10.05").await;
    b.shoot("product-yen-shop-in-dollars").await;

    // an order placed in yen is listed in yen
    let guest = app.guest().await;
    let body = serde_json::json!({"product_id": "3", "quantity": 2});
    assert_eq!(app.call("POST", "/api/cart", Some(&guest), Some(&body), &[]).await.status, 201);
    let r = app.call("POST", "/api/checkout", Some(&guest), Some(&crate::common::checkout_body()), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let total = r.json()["data"]["total"].clone();
    assert_eq!(total["currency"], "JPY", "{total}");
    let shown = format!(
        "¥{}",
        total["amount"]
            .as_i64()
            .unwrap()
            .to_string()
            .as_bytes()
            .rchunks(3)
            .rev()
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(",")
    );
    b.goto("/admin/orders").await;
    let rows = b.text("table.lines tbody").await;
    assert!(rows.contains(&shown), "{shown} in {rows}");
    b.shoot("admin-orders-yen").await;
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_ships_an_order_in_two_parcels_and_the_shopper_follows_them() {
    use serde_json::json;
    const SECRET: &str = "whsec-parcels-test-0123456789";
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.payment_webhook_secret = Some(SECRET.into());
            c.cache_warm_products = 0;
        })
        .start()
        .await;
    let owner = app.admin("owner@example.com").await;
    // a shopper's paid order of two lines: 2 headphones, 3 speakers
    let items = json!([{"product_id": "1", "quantity": 2}, {"product_id": "3", "quantity": 3}]);
    let (order, shopper) = paid_guest_order(&app, SECRET, items).await;
    let api_order = app.call("GET", &format!("/api/admin/orders/{order}"), Some(&owner), None, &[]).await.json();
    let lines: Vec<(i64, String)> = api_order["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["line"].as_i64().unwrap(), i["name"].as_str().unwrap().to_owned()))
        .collect();
    let speakers = lines.iter().find(|(_, n)| n.contains("Boom")).unwrap().clone();
    let headphones = lines.iter().find(|(l, _)| *l != speakers.0).unwrap().clone();

    let b = Browser::start(app.addr).await;
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;
    b.goto(&format!("/admin/orders/{order}")).await;
    assert!(b.text("form.ship").await.contains("2 left"), "{}", b.text("form.ship").await);

    // a tracking page that is not a web address: said beside the field, nothing shipped
    let before = crate::common::digest(&app.conn());
    b.fill(&format!("#q-{}", speakers.0), "0").await;
    b.fill("#f-carrier", "UPS").await;
    b.fill("#f-tracking_number", "1Z999AA10123456784").await;
    b.client.execute("document.getElementById('f-tracking_url').type = 'text'", vec![]).await.unwrap(); // past the browser's own check, as a script could
    b.fill("#f-tracking_url", "javascript:alert(1)").await;
    b.click("form.ship button[type=submit]").await;
    let said = b.wait_text("#f-tracking_url-error").await;
    assert!(said.contains("http"), "{said}");
    assert_eq!(crate::common::digest(&app.conn()), before, "a refused parcel changes nothing");
    assert_eq!(b.text("h1 .status").await, "paid");

    // parcel 1: the headphones alone, with tracking
    b.fill(&format!("#q-{}", speakers.0), "0").await;
    b.fill(&format!("#q-{}", headphones.0), "2").await;
    b.fill("#f-tracking_url", "https://www.ups.com/track?tracknum=1Z999AA10123456784").await;
    b.click("form.ship button[type=submit]").await;
    b.wait_until_text("h1 .status", "partially fulfilled").await;
    let list = b.text("#shipments + ol").await;
    assert!(list.contains("1Z999AA10123456784") && list.contains(&format!("2 × {}", headphones.1)), "{list}");
    assert!(!b.text("form.ship").await.contains(&headphones.1), "nothing of it is left to ship");
    b.shoot("admin-order-parcels").await;
    accessible(&b, "admin order with a parcel").await;

    // parcel 2: what is left, by default
    b.fill("#f-carrier", "DHL").await;
    b.fill("#f-tracking_number", "JD014600003828").await;
    b.click("form.ship button[type=submit]").await;
    b.wait_until_text("h1 .status", "fulfilled").await;
    assert!(b.client.find(Locator::Css("form.ship")).await.is_err(), "nothing left to ship: no form");
    // the first arrived
    b.click("button[aria-label='Mark parcel 1 delivered']").await;
    b.wait_text_with(".shipment .ok", "Delivered").await;
    b.shoot("admin-order-shipped").await;

    // the API agrees: two shipments, every unit shipped once, the first delivered
    let v = app.call("GET", &format!("/api/orders/{order}"), Some(&shopper), None, &[]).await.json();
    let f = v["data"]["fulfillments"].as_array().unwrap();
    assert_eq!(f.len(), 2);
    assert!(f[0]["delivered_at"].is_string() && f[1]["delivered_at"].is_null());
    assert!(v["data"]["items"].as_array().unwrap().iter().all(|i| i["fulfilled"] == i["quantity"]));

    // the shopper's page: both parcels, how to follow them, the first delivered
    b.client.delete_all_cookies().await.unwrap();
    // the shopper's session (a page's script may set the cookie; the shop reads it alike)
    let set = format!("document.cookie = 'sf_session={shopper}; path=/; SameSite=Strict'");
    b.client.execute(&set, vec![]).await.unwrap();
    b.goto(&format!("/orders/{order}")).await;
    assert!(b.wait_text(".notice").await.contains("Shipped"));
    let parcels = b.text("ol.shipments").await;
    assert!(parcels.contains("1Z999AA10123456784") && parcels.contains("JD014600003828"), "{parcels}");
    assert!(parcels.contains("delivered") && parcels.contains("on its way"), "{parcels}");
    let link = b.client.find(Locator::Css("ol.shipments a")).await.unwrap();
    assert_eq!(
        link.attr("href").await.unwrap().as_deref(),
        Some("https://www.ups.com/track?tracknum=1Z999AA10123456784")
    );
    b.shoot("shop-order-parcels").await;
    accessible(&b, "order with parcels").await;
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_refunds_part_of_an_order_and_the_shopper_sees_it() {
    let (app, owner, order, shopper) = after_sale_pages().await;
    let path = format!("/api/admin/orders/{order}");
    let api_order = app.call("GET", &path, Some(&owner), None, &[]).await.json();
    let total = api_order["data"]["total"]["amount"].as_i64().unwrap();
    let speakers = api_order["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"].as_str().unwrap().contains("Boom"))
        .map(|i| (i["line"].as_i64().unwrap(), i["name"].as_str().unwrap().to_owned()))
        .unwrap();

    let b = Browser::start(app.addr).await;
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;
    b.goto(&format!("/admin/orders/{order}")).await;
    let can = b.text("#refund + p.meta").await;
    assert!(can.contains("can still be refunded"), "{can}");

    // an amount that is not one, then more speakers than were bought: said, nothing changes
    let before = crate::common::digest(&app.conn());
    b.fill("#f-amount", "12,5x").await;
    b.fill("#f-reason", "Arrived broken").await;
    b.click("form.refund button[type=submit]").await;
    assert!(b.wait_text("#f-amount-error").await.contains("12.50"));
    b.fill("#f-amount", "").await;
    let line = format!("r-{}", speakers.0);
    b.client.execute(&format!("document.getElementById('{line}').removeAttribute('max')"), vec![]).await.unwrap();
    b.fill(&format!("#{line}"), "5").await;
    b.click("form.refund button[type=submit]").await;
    let said = b.wait_text("#refund-form-error").await;
    assert!(said.contains('3') || said.contains("more"), "{said}");
    assert_eq!(crate::common::digest(&app.conn()), before, "a refused refund changes nothing");
    assert_eq!(b.text("h1 .status").await, "paid");

    // one broken speaker back, at its share of the total
    b.fill(&format!("#{line}"), "1").await;
    b.fill("#f-reason", "Arrived broken").await;
    b.click("form.refund button[type=submit]").await;
    b.wait_until_text("h1 .status", "partially refunded").await;
    let first = b.text("ol.refunds li.refund").await;
    assert!(first.contains(&format!("1 × {}", speakers.1)) && first.contains("refunded"), "{first}");
    assert!(first.contains("Arrived broken"), "{first}");
    // and five of the shop's money for the wait, by amount
    b.fill("#f-amount", "5.00").await;
    b.fill("#f-reason", "Sorry for the wait").await;
    b.click("form.refund button[type=submit]").await;
    b.wait_text_with("ol.refunds", "Sorry for the wait").await;
    b.shoot("admin-order-refunds").await;
    accessible(&b, "admin order with refunds").await;

    // the API agrees: two refunds, one speaker's share plus 5.00, one unit counted refunded
    let v = app.call("GET", &path, Some(&owner), None, &[]).await.json();
    let refunds = v["data"]["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 2, "{v}");
    assert!(refunds.iter().all(|r| r["status"] == "succeeded"), "{v}");
    let share = refunds.iter().find(|r| r["lines"].as_array().is_some_and(|l| !l.is_empty())).unwrap();
    let share = share["amount"]["amount"].as_i64().unwrap();
    assert!(share > 0 && share < total / 3, "one speaker of five units: {share} of {total}");
    assert_eq!(v["data"]["refunded"]["amount"].as_i64().unwrap(), share + 500);
    let item = v["data"]["items"].as_array().unwrap().iter().find(|i| i["line"] == speakers.0).unwrap().clone();
    assert_eq!(item["refunded"], 1, "{item}");

    // the shopper's page says what came back
    b.client.delete_all_cookies().await.unwrap();
    let set = format!("document.cookie = 'sf_session={shopper}; path=/; SameSite=Strict'");
    b.client.execute(&set, vec![]).await.unwrap();
    b.goto(&format!("/orders/{order}")).await;
    let back = b.wait_text("ol.refunds").await;
    assert!(back.contains("Arrived broken") && back.contains("Sorry for the wait"), "{back}");
    assert!(back.contains(&format!("1 × {}", speakers.1)), "{back}");
    b.shoot("shop-order-refunds").await;
    accessible(&b, "order with refunds").await;
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_returns_an_item_and_the_owner_takes_it_back_and_refunds_it() {
    use serde_json::json;
    let (app, owner, order, shopper) = after_sale_pages().await;
    let path = format!("/api/admin/orders/{order}");
    let r = app
        .call(
            "POST",
            &format!("{path}/fulfillments"),
            Some(&owner),
            Some(&json!({"carrier": "UPS", "tracking_number": "1ZRET"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let speakers = r.json()["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"].as_str().unwrap().contains("Boom"))
        .map(|i| {
            (
                i["line"].as_i64().unwrap(),
                i["name"].as_str().unwrap().to_owned(),
                i["variant_id"].as_str().unwrap().to_owned(),
            )
        })
        .unwrap();
    let stock = |app: &TestApp| {
        crate::common::column::<i64>(
            &app.conn(),
            &format!("SELECT available FROM inventory WHERE variant_id = {}", speakers.2),
        )[0]
    };
    let shipped_stock = stock(&app);

    // the shopper asks to send two speakers back
    let b = Browser::start(app.addr).await;
    b.goto("/").await;
    let set = format!("document.cookie = 'sf_session={shopper}; path=/; SameSite=Strict'");
    b.client.execute(&set, vec![]).await.unwrap();
    b.goto(&format!("/orders/{order}")).await;
    let form = b.wait_text("form.return-form").await;
    assert!(form.contains(&speakers.1) && form.contains("up to 3"), "{form}");
    let before = crate::common::digest(&app.conn());
    // nothing chosen, then no reason: said on the form, nothing changes
    b.click("form.return-form button[type=submit]").await;
    assert!(b.wait_text("#lines-error").await.contains("choose"));
    let (q, why) = (format!("ret_{}", speakers.0), format!("why_{}", speakers.0));
    b.fill(&format!("#{q}"), "2").await;
    b.click("form.return-form button[type=submit]").await;
    assert!(b.wait_text(&format!("#{why}-error")).await.contains("empty"));
    assert_eq!(crate::common::digest(&app.conn()), before, "a refused request changes nothing");
    b.fill(&format!("#{q}"), "2").await;
    b.fill(&format!("#{why}"), "Too loud for the flat").await;
    b.click("form.return-form button[type=submit]").await;
    let asked = b.wait_text_with("ol.returns", "asked for").await;
    assert!(asked.contains(&format!("2 × {}", speakers.1)), "{asked}");
    assert!(b.text("form.return-form").await.contains("up to 1"), "one speaker may still be returned");
    b.shoot("shop-order-return").await;
    accessible(&b, "order with a return").await;

    // the owner sees it on the home page, approves it, takes one back on sale, refunds
    b.client.delete_all_cookies().await.unwrap();
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;
    assert!(b.wait_text("#returns + ul").await.contains("to answer"));
    b.goto("/admin/returns").await;
    b.click("table.lines a[href^='/admin/returns/']").await;
    b.wait_text_with("h1", "Return #").await;
    assert!(b.text("table.lines").await.contains("Too loud for the flat"));
    b.fill("#f-note", "Send it to 1 Dock Road, Portsmouth").await;
    b.click("form.answer button[value=approve]").await;
    b.wait_until_text("h1 .status", "waiting for the parcel").await;
    b.client
        .execute(&format!("document.getElementById('got_{}').removeAttribute('max')", speakers.0), vec![])
        .await
        .unwrap();
    b.fill(&format!("#got_{}", speakers.0), "5").await;
    let before = crate::common::digest(&app.conn());
    b.click("form.receive button[type=submit]").await;
    assert!(b.wait_text("div.error").await.contains("asked for 2"));
    assert_eq!(crate::common::digest(&app.conn()), before, "more than asked changes nothing");
    b.fill(&format!("#got_{}", speakers.0), "2").await;
    b.shoot("admin-return-receive").await;
    accessible(&b, "return to receive").await;
    b.click("form.receive button[type=submit]").await;
    b.wait_until_text("h1 .status", "to refund").await;
    assert_eq!(stock(&app), shipped_stock + 2, "both speakers back on sale");
    b.click("form.refund button[type=submit]").await;
    b.wait_until_text("h1 .status", "refunded").await;
    let done = b.text("aside.summary").await;
    assert!(done.contains("Nothing more to do"), "{done}");
    assert!(b.text("section.panel").await.contains("refunded"));
    b.shoot("admin-return-refunded").await;
    accessible(&b, "refunded return").await;

    // the API agrees: the return refunded, its refund succeeded, two speakers refunded
    let v = app.call("GET", &path, Some(&owner), None, &[]).await.json();
    let ret = &v["data"]["returns"][0];
    assert_eq!(ret["status"], "refunded", "{v}");
    assert_eq!(ret["note"], "Send it to 1 Dock Road, Portsmouth");
    let refund = v["data"]["refunds"].as_array().unwrap().iter().find(|r| r["id"] == ret["refund_id"]).unwrap().clone();
    assert_eq!(refund["status"], "succeeded");
    let item = v["data"]["items"].as_array().unwrap().iter().find(|i| i["line"] == speakers.0).unwrap().clone();
    assert_eq!((item["refunded"].as_i64(), item["returnable"].as_i64()), (Some(2), Some(1)), "{item}");

    // the shopper's page says so
    b.client.delete_all_cookies().await.unwrap();
    b.client.execute(&set, vec![]).await.unwrap();
    b.goto(&format!("/orders/{order}")).await;
    let back = b.wait_text("ol.returns").await;
    assert!(back.contains("refunded") && back.contains("1 Dock Road"), "{back}");
    assert!(b.text("ol.refunds").await.contains(&format!("2 × {}", speakers.1)));
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_issues_a_gift_card_and_a_shopper_pays_part_of_an_order_with_it() {
    let (app, _owner, _order, _) = after_sale_pages().await;
    let b = Browser::start(app.addr).await;

    // the owner issues a card: a bad amount is said beside the field and issues nothing
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;
    b.goto("/admin/gift-cards").await;
    assert!(b.wait_text("main").await.contains("No gift cards yet"));
    let before = crate::common::digest(&app.conn());
    b.fill("#f-amount", "thirty").await;
    b.click("form[method=post][action='/admin/gift-cards'] button[type=submit]").await;
    b.wait_text_with("#f-amount-hint", "an amount like 25.00").await;
    assert_eq!(crate::common::digest(&app.conn()), before, "a refused card changes nothing");
    b.fill("#f-amount", "30.00").await;
    b.fill("#f-note", "Birthday present for Ada").await;
    b.click("form[method=post][action='/admin/gift-cards'] button[type=submit]").await;
    let code = b.wait_text("#new-code").await;
    assert_eq!(code.len(), 19, "{code}");
    assert!(b.text("table.lines").await.contains("$30.00"), "the list shows the new card");
    b.shoot("admin-gift-card-issued").await;
    accessible(&b, "gift card issued").await;
    // shown once: the list and the card's page do not show it again
    b.goto("/admin/gift-cards").await;
    assert!(!b.wait_text("main").await.contains(&code));

    // a shopper applies it in the cart: a wrong code first, said beside the field
    let shopper = app.guest().await;
    app.add_to_cart(&shopper, 3, 1).await;
    b.client.delete_all_cookies().await.unwrap();
    b.goto("/").await;
    let set = format!("document.cookie = 'sf_session={shopper}; path=/; SameSite=Strict'");
    b.client.execute(&set, vec![]).await.unwrap();
    b.goto("/cart").await;
    b.fill("#gift-card-code", "AAAA-BBBB-CCCC-DDDD").await;
    b.click("form[action='/cart/gift-card'] button[type=submit]").await;
    assert!(b.wait_text("#gift-card-code-error").await.contains("no gift card has this code"));
    b.fill("#gift-card-code", &code.to_lowercase()).await;
    b.click("form[action='/cart/gift-card'] button[type=submit]").await;
    let summary = b.wait_text_with("dl.gift-card", "Gift card").await;
    assert!(summary.contains(&code[15..]) && summary.contains("$30.00"), "{summary}");
    b.shoot("shop-cart-gift-card").await;
    accessible(&b, "cart with a gift card").await;

    // checkout: the card pays $30, the rest is due by card
    b.goto("/checkout").await;
    assert!(b.wait_text("aside.summary").await.contains("pays up to $30.00"));
    fill_checkout(&b, "ada@example.com", "Ada Lovelace").await;
    b.click("form[action='/checkout'] button[type=submit]").await;
    let totals = b.wait_text_with("section.panel dl", "Paid by gift card").await;
    assert!(totals.contains("−$30.00") && totals.contains("To pay"), "{totals}");
    b.shoot("shop-order-gift-card").await;
    accessible(&b, "order paid in part by gift card").await;
    let order = b.path().await.trim_start_matches("/orders/").to_owned();

    // the owner's card page: the ledger shows the spending and its order; turned off
    b.client.delete_all_cookies().await.unwrap();
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;
    b.goto(&format!("/admin/gift-cards?code={code}")).await;
    b.click("table.lines a[href^='/admin/gift-cards/']").await;
    let ledger = b.wait_text_with("table.lines", "Spent").await;
    assert!(ledger.contains(&format!("#{order}")) && ledger.contains("−$30.00"), "{ledger}");
    assert!(b.text("h1").await.contains("Used up"));
    b.shoot("admin-gift-card").await;
    accessible(&b, "gift card page").await;
    b.click("aside.summary form button[type=submit]").await;
    b.wait_until_text("h1 .status", "Disabled").await;
    let v = app.json(&format!("/api/gift-cards/balance?code={code}")).await;
    assert_eq!(v["data"]["status"], "disabled", "{v}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_edits_a_paid_order_and_records_the_balance_the_shopper_sees() {
    let (app, owner, order, shopper) = after_sale_pages().await;
    let dollars = |m: i64| format!("${}.{:02}", m / 100, m % 100);
    let before: serde_json::Value =
        app.call("GET", &format!("/api/admin/orders/{order}"), Some(&owner), None, &[]).await.json();
    let old_total = before["data"]["total"]["amount"].as_i64().unwrap();
    let speaker = before["data"]["items"][1]["line"].as_i64().unwrap();
    assert_eq!(before["data"]["items"][1]["sku"], "BOOM-1-STD");
    let b = Browser::start(app.addr).await;
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;
    b.goto(&format!("/admin/orders/{order}")).await;
    b.click(&format!("a[href='/admin/orders/{order}/edit']")).await;
    b.wait_path(&format!("/admin/orders/{order}/edit")).await;
    assert!(b.wait_text("h1").await.contains(&format!("Edit order #{order}")));

    // a SKU nobody sells is said beside its field and changes nothing
    let digest = crate::common::digest(&app.conn());
    b.fill(&format!("#f-q_{speaker}"), "4").await;
    b.fill("#f-add_sku", "NOPE-1").await;
    b.click("form.edit button[type=submit]").await;
    b.wait_text_with("#f-add_sku-error", "no product or variant has the SKU NOPE-1").await;
    assert_eq!(crate::common::digest(&app.conn()), digest, "a refused edit changes nothing");
    b.shoot("admin-order-edit").await;
    accessible(&b, "order edit with an error").await;

    // a fourth speaker and a knife (by the product's SKU): the order page shows the balance
    b.fill(&format!("#f-q_{speaker}"), "4").await;
    b.fill("#f-add_sku", "KNIFE-1").await;
    b.click("form.edit button[type=submit]").await;
    b.wait_path(&format!("/admin/orders/{order}")).await;
    let after: serde_json::Value =
        app.call("GET", &format!("/api/admin/orders/{order}"), Some(&owner), None, &[]).await.json();
    let new_total = after["data"]["total"]["amount"].as_i64().unwrap();
    let due = after["data"]["balance_due"]["amount"].as_i64().unwrap();
    assert_eq!(due, new_total - old_total, "{after}");
    assert_eq!(after["data"]["items"][2]["sku"], "KNIFE-1-STD");
    let balance = b.wait_text("p.balance-due").await;
    assert!(balance.contains(&dollars(due)), "{balance}");
    // the parcel form says so before the owner ships what is not paid for
    let unpaid = b.text("form.ship p.ship-unpaid").await;
    assert!(unpaid.contains(&dollars(due)), "{unpaid}");
    assert!(b.text("table.lines").await.contains("Chef Knife"));
    assert!(b.text("main").await.contains("edited: BOOM-1-STD 3 → 4, 1 × KNIFE-1-STD added"));
    b.shoot("admin-order-edited").await;
    accessible(&b, "order with a balance due").await;

    // the shopper's order page says what is due
    b.client.delete_all_cookies().await.unwrap();
    b.goto("/").await;
    let set = format!("document.cookie = 'sf_session={shopper}; path=/; SameSite=Strict'");
    b.client.execute(&set, vec![]).await.unwrap();
    b.goto(&format!("/orders/{order}")).await;
    let owed = b.wait_text("dd.balance-due").await;
    assert_eq!(owed, dollars(due));
    assert!(b.text("main").await.contains("Chef Knife"));
    b.shoot("shop-order-balance-due").await;
    accessible(&b, "order with a balance due (shopper)").await;

    // paid by bank transfer: the owner records it, and the balance is gone
    b.client.delete_all_cookies().await.unwrap();
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;
    b.goto(&format!("/admin/orders/{order}")).await;
    b.click(&format!("form[action='/admin/orders/{order}/balance'] button[type=submit]")).await;
    b.wait_text_with("main", "recorded by the shop").await;
    assert!(!b.text("main").await.contains("Balance due"));
    assert!(b.client.find(Locator::Css("p.ship-unpaid")).await.is_err(), "paid in full: no warning");
    let o: serde_json::Value =
        app.call("GET", &format!("/api/admin/orders/{order}"), Some(&owner), None, &[]).await.json();
    assert_eq!(o["data"]["balance_due"]["amount"], 0);
    assert_eq!(o["data"]["captured"]["amount"].as_i64(), Some(new_total));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_builds_a_draft_order_and_the_customer_opens_its_payment_link() {
    let app = page_app().await;
    let owner = app.admin("owner@example.com").await;
    let b = Browser::start(app.addr).await;
    b.goto("/admin/login").await;
    submit_login(&b, "owner@example.com", None).await;
    b.wait_path("/admin").await;
    b.goto("/admin/orders").await;
    b.click("a[href='/admin/draft-orders/new']").await;
    b.wait_path("/admin/draft-orders/new").await;

    // a SKU nobody sells is said beside its field, and nothing is made
    let digest = crate::common::digest(&app.conn());
    fill_new_draft(&b, "NOPE-1", "2").await;
    b.click("form.draft button[type=submit]").await;
    b.wait_text_with("#f-lines-0-sku-error", "no product or variant has the SKU NOPE-1").await;
    assert_eq!(crate::common::digest(&app.conn()), digest, "a refused draft changes nothing");
    accessible(&b, "new draft order with an error").await;

    // two speakers: the draft's page prices it
    b.fill("#f-lines-0-sku", "BOOM-1").await;
    b.click("form.draft button[type=submit]").await;
    b.wait_text_with("h1", "Draft order #").await;
    let draft: i64 = crate::common::column(&app.conn(), "SELECT max(id) FROM draft_orders")[0];
    b.wait_path(&format!("/admin/draft-orders/{draft}")).await;
    assert!(b.text("table.lines").await.contains("Boom Speaker"));

    // and a knife at the owner's own price
    b.fill("#f-lines-1-sku", "KNIFE-1").await;
    b.fill("#f-lines-1-unit_price", "25.00").await;
    b.click("form.draft button[type=submit]").await;
    b.wait_text_with("table.lines", "Chef Knife").await;
    let d: serde_json::Value =
        app.call("GET", &format!("/api/admin/draft-orders/{draft}"), Some(&owner), None, &[]).await.json();
    let d = &d["data"];
    assert_eq!(d["lines"][1]["unit_price"]["amount"], 2500, "{d}");
    let dollars = |m: i64| format!("${}.{:02}", m / 100, m % 100);
    let total = d["total"]["amount"].as_i64().unwrap();
    assert_eq!(b.text("dd.draft-total").await, dollars(total));
    b.shoot("admin-draft-order").await;
    accessible(&b, "draft order").await;

    // completed with a payment link, shown once
    b.click("form.complete button[value=no]").await;
    b.wait_text_with("h1", "is placed").await;
    let link = b.client.find(Locator::Css("#payment-link")).await.unwrap().prop("value").await.unwrap().unwrap();
    let order: i64 =
        crate::common::column(&app.conn(), &format!("SELECT order_id FROM draft_orders WHERE id = {draft}"))[0];
    assert!(link.contains(&format!("/orders/{order}?key=")), "{link}");
    b.shoot("admin-draft-completed").await;
    accessible(&b, "draft order completed").await;

    // the owner sends a new link from the draft's page: the old one stops working
    b.goto(&format!("/admin/draft-orders/{draft}")).await;
    assert!(b.wait_text("div.notice").await.contains("It is pending."));
    b.click("form[action$='/payment-link'] button[type=submit]").await;
    b.wait_text_with("h1", "A new payment link").await;
    let old = link;
    let link = b.client.find(Locator::Css("#payment-link")).await.unwrap().prop("value").await.unwrap().unwrap();
    assert!(link.contains(&format!("/orders/{order}?key=")) && link != old, "{link}");
    // its Copy button takes the whole link, which a phone's field cannot show
    b.click("button[data-copy=payment-link]").await;
    let said = b.wait_text_with("#copy-said", ".").await;
    assert!(said == "Copied." || said.starts_with("Selected"), "{said}");
    let selected = b
        .client
        .execute("const f = document.getElementById('payment-link'); return f.value.substring(f.selectionStart, f.selectionEnd);", vec![])
        .await
        .unwrap();
    assert_eq!(selected.as_str(), Some(link.as_str()), "the whole link is taken");
    b.shoot("admin-draft-new-link").await;
    accessible(&b, "a new payment link").await;

    // the customer opens the link, with no account and no session
    b.client.delete_all_cookies().await.unwrap();
    let path = &link[link.find("/orders/").unwrap()..];
    b.goto(path).await;
    let due = b.wait_text("p.to-pay").await;
    assert!(due.contains(&dollars(total)), "{due}");
    assert!(b.text("main").await.contains("Chef Knife"));
    b.shoot("shop-order-payment-link").await;
    accessible(&b, "order opened by its payment link").await;
    // without the key, or with the old one, it is not found
    b.goto(&format!("/orders/{order}")).await;
    assert!(!b.text("main").await.contains("Chef Knife"));
    b.goto(&old[old.find("/orders/").unwrap()..]).await;
    assert!(!b.text("main").await.contains("Chef Knife"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_translates_a_product_and_its_category_and_a_shopper_switches_to_german() {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.cache_debug_header = true;
            c.cache_warm_products = 0;
            c.locales = "en, de".into();
        })
        .start()
        .await;
    let b = owner_in_dashboard(&app).await;

    // the product's page lists German, not yet translated
    b.goto("/admin/products/1").await;
    assert!(b.text("#translations + p + table").await.contains("Deutsch (de) Not translated"));
    b.click("a[href='/admin/products/1/translations/de']").await;
    b.wait_path("/admin/products/1/translations/de").await;
    assert!(b.text("aside").await.contains("Aurora Wireless Headphones"), "the English texts beside the form");
    b.fill("#f-name", "Aurora Kabellose Kopfhörer").await;
    b.fill("#f-description", "Kabellose Kopfhörer mit Geräuschunterdrückung und 30 Stunden Akku.").await;
    b.fill("#f-slug", "aurora-kabellose-kopfhoerer").await;
    b.shoot("admin-translation").await;
    accessible(&b, "admin translation").await;
    b.click("form[action='/admin/products/1/translations/de'] button[type=submit]").await;
    b.wait_path("/admin/products/1?saved=translation").await;
    let row = b.text("#translations + p + table tbody").await;
    assert!(row.contains("Aurora Kabellose Kopfhörer") && row.contains("aurora-kabellose-kopfhoerer"), "{row}");
    b.shoot("admin-product-translations").await;

    // the category too; a slug another category has in German is refused beside its field
    b.goto("/admin/categories/3").await;
    b.click("a[href='/admin/categories/3/translations/de']").await;
    b.wait_path("/admin/categories/3/translations/de").await;
    b.fill("#f-name", "Kopfhörer").await;
    b.fill("#f-slug", "kopfhoerer").await;
    b.click("form[action='/admin/categories/3/translations/de'] button[type=submit]").await;
    b.wait_path("/admin/categories/3?saved=translation").await;
    b.goto("/admin/categories/4/translations/de").await;
    let before = crate::common::digest(&app.conn());
    b.fill("#f-name", "Lautsprecher").await;
    b.fill("#f-slug", "kopfhoerer").await;
    b.click("form[action='/admin/categories/4/translations/de'] button[type=submit]").await;
    let said = b.wait_text("#f-slug-error").await;
    assert!(said.contains("another one has this address"), "{said}");
    assert_eq!(crate::common::digest(&app.conn()), before, "nothing changed");
    b.shoot("admin-translation-refused").await;

    // a shopper reads the product in English, switches to German in the footer
    b.goto("/p/aurora-wireless-headphones").await;
    assert_eq!(b.text("h1").await, "Aurora Wireless Headphones");
    b.client.find(Locator::Css("#language")).await.unwrap().select_by_value("de").await.unwrap();
    b.click("form.language button[type=submit]").await;
    b.wait_path("/p/aurora-kabellose-kopfhoerer").await;
    assert_eq!(b.text("h1").await, "Aurora Kabellose Kopfhörer");
    assert!(b.text("main").await.contains("30 Stunden Akku"));
    assert!(b.text("nav.crumbs").await.contains("Kopfhörer"));
    let lang = b.client.find(Locator::Css("html")).await.unwrap().attr("lang").await.unwrap();
    assert_eq!(lang.as_deref(), Some("de"));
    b.shoot("product-german").await;
    accessible(&b, "product in German").await;
    // the switch, where the page ends
    b.goto("/c/kopfhoerer?sort=price_asc").await;
    b.shoot("category-german").await;
    // the category in German, at its German address; the other product falls back to English
    b.click("nav.crumbs a[href='/c/kopfhoerer']").await;
    b.wait_path("/c/kopfhoerer").await;
    let names = b.texts("ul.grid a.title").await.join(" | ");
    assert!(names.contains("Aurora Kabellose Kopfhörer") && names.contains("Nimbus Earbuds"), "{names}");
    // back to English: the same category at its English address
    b.client.find(Locator::Css("#language")).await.unwrap().select_by_value("en").await.unwrap();
    b.click("form.language button[type=submit]").await;
    b.wait_path("/c/headphones").await;
    let names = b.texts("ul.grid a.title").await.join(" | ");
    assert!(names.contains("Aurora Wireless Headphones") && !names.contains("Kopfhörer"), "{names}");
    // a German address shared with someone reading English sends them to the English one
    for (german, english) in
        [("/p/aurora-kabellose-kopfhoerer", "/p/aurora-wireless-headphones"), ("/c/kopfhoerer", "/c/headphones")]
    {
        let r = app.get(german).await;
        assert_eq!((r.status, r.header("location")), (303, Some(english)), "{german}");
    }
    assert_eq!(app.get("/p/no-such-thing").await.status, 404);

    // the owner removes the product's translation: German shows the English name again
    b.goto("/admin/products/1/translations/de").await;
    b.click("form[action='/admin/products/1/translations/de/delete'] button").await;
    b.wait_path("/admin/products/1?saved=translation_removed").await;
    let page = app.get_with("/p/aurora-wireless-headphones", &[("accept-language", "de")]).await;
    assert!(page.text().contains("Aurora Wireless Headphones") && page.text().contains("Kopfhörer"));
    b.close().await;
    app.stop().await;
}

/// Markets: the owner adds a price list in euros and sets a product's price in it from its
/// page (a SKU that is nothing is refused beside its field, nothing changed); a shopper
/// switches the footer to euros and sees and pays the list's price, the rest converted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_sets_euro_prices_and_a_shopper_pays_in_euros() {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.cache_debug_header = true;
            c.cache_warm_products = 0;
            c.currencies = "USD, EUR 0.5".into();
        })
        .start()
        .await;
    let b = owner_in_dashboard(&app).await;

    // a price list in euros, from the pricing tabs
    b.goto("/admin/price-lists").await;
    assert!(b.text("nav.tabs").await.contains("Promotions"), "beside the promotions");
    b.fill("#f-name", "Euro prices").await;
    b.client.find(Locator::Css("#f-currency")).await.unwrap().select_by_value("EUR").await.unwrap();
    b.click("form[action='/admin/price-lists'] button[type=submit]").await;
    let path = b.wait_text("p.notice").await;
    assert!(path.contains("Saved"), "{path}");
    let id: i64 =
        app.conn().query_row("SELECT id FROM price_lists WHERE name = 'Euro prices'", [], |r| r.get(0)).unwrap();
    assert!(b.text("#prices + p").await.contains("lowest price"), "the panel says how prices apply");

    // a SKU that names nothing is refused beside its field, and nothing changes
    let before = crate::common::digest(&app.conn());
    b.fill("#f-sku", "NO-SUCH-SKU").await;
    b.fill("#f-amount", "90.00").await;
    b.click("#set-price button[type=submit]").await;
    let said = b.wait_text("#f-sku-error").await;
    assert!(said.contains("no product or variant has this SKU"), "{said}");
    assert_eq!(crate::common::digest(&app.conn()), before, "nothing changed");
    b.client.execute("document.getElementById('set-price').scrollIntoView()", Vec::new()).await.unwrap();
    b.shoot("admin-price-refused").await;

    // the speaker at 90.00 euros
    b.fill("#f-sku", "BOOM-1").await;
    b.fill("#f-amount", "90.00").await;
    b.click("#set-price button[type=submit]").await;
    b.wait_path(&format!("/admin/price-lists/{id}?saved=1")).await;
    let row = b.text("#prices ~ table tbody").await;
    assert!(row.contains("BOOM-1") && row.contains("€90.00"), "{row}");
    b.shoot("admin-price-list").await;
    accessible(&b, "price list").await;

    // a shopper in dollars switches to euros in the footer
    b.goto("/p/boom-speaker").await;
    assert!(b.text(".buy").await.contains("$49.99"));
    b.client.find(Locator::Css("#currency")).await.unwrap().select_by_value("EUR").await.unwrap();
    b.click("form[action='/currency'] button[type=submit]").await;
    b.wait_text_with(".buy", "€90.00").await;
    assert_eq!(b.path().await, "/p/boom-speaker", "back on the same page");
    b.shoot("product-euros").await;
    b.client.execute("document.querySelector('footer').scrollIntoView()", Vec::new()).await.unwrap();
    b.shoot("footer-currency").await;
    accessible(&b, "product in euros").await;
    // the category: the list's price, the others converted at 0.5
    b.goto("/c/speakers").await;
    assert!(b.text("ul.grid").await.contains("€90.00"));
    b.goto("/c/headphones").await;
    let grid = b.text("ul.grid").await;
    assert!(grid.contains("€75.00") && grid.contains("€40.00"), "{grid}");
    // into the cart and to checkout in euros
    b.goto("/p/boom-speaker").await;
    b.click("form[action='/cart/items'] button[type=submit]").await;
    b.wait_path("/cart").await;
    let cart = b.text("main").await;
    assert!(cart.contains("€90.00") && !cart.contains('$'), "{cart}");
    b.shoot("cart-euros").await;
    let currency: String =
        app.conn().query_row("SELECT currency FROM carts ORDER BY id DESC LIMIT 1", [], |r| r.get(0)).unwrap();
    assert_eq!(currency, "EUR");
    // the owner gives SAVE5 its own discount in euros on the promotion's page; an amount
    // without its currency is refused beside the field and changes nothing
    let save5: i64 = app.conn().query_row("SELECT id FROM promotions WHERE code = 'SAVE5'", [], |r| r.get(0)).unwrap();
    b.goto(&format!("/admin/promotions/{save5}")).await;
    let before = crate::common::digest(&app.conn());
    b.fill("#f-value_in", "4.00").await;
    b.click("form.panel button[type=submit]").await;
    let said = b.wait_text("#f-value_in-error").await;
    assert!(said.contains("a currency code and an amount"), "{said}");
    assert_eq!(crate::common::digest(&app.conn()), before, "nothing changed");
    b.fill("#f-value_in", "EUR 4.00").await;
    b.click("form.panel button[type=submit]").await;
    b.wait_text_with("p.notice", "Saved").await;
    assert_eq!(b.value("#f-value_in").await, "EUR 4.00", "the form shows what is saved");
    b.client.execute("document.getElementById('f-value_in').scrollIntoView()", Vec::new()).await.unwrap();
    b.shoot("admin-promotion-euros").await;
    accessible(&b, "promotion with amounts in euros").await;
    // the shopper's code takes 4 euros off the cart in euros
    b.goto("/cart").await;
    b.fill("#discount-code", "save5").await;
    b.click("form[action='/cart/discount'] button").await;
    let summary = b.wait_text_with(".summary", "SAVE5").await;
    assert!(summary.contains("€4.00"), "{summary}");
    // the owner issues a gift card of 20 euros; the shopper's cart in euros spends it
    b.goto("/admin/gift-cards").await;
    b.client.find(Locator::Css("#currency")).await.unwrap().select_by_value("EUR").await.unwrap();
    b.fill("#f-amount", "20.00").await;
    b.click("form[action='/admin/gift-cards'][method=post] button[type=submit]").await;
    let issued = b.wait_text(".issued").await;
    assert!(issued.contains("€20.00"), "{issued}");
    let code = b.text("#new-code").await;
    b.shoot("admin-gift-card-euros").await;
    b.goto("/cart").await;
    b.fill("#gift-card-code", &code).await;
    b.click("form[action='/cart/gift-card'] button").await;
    let card = b.wait_text(".gift-card").await;
    assert!(card.contains("−€20.00"), "{card}");
    // a draft order for a customer on the phone, in euros: the speaker at the list's price
    b.goto("/admin/draft-orders/new").await;
    fill_new_draft(&b, "BOOM-1", "1").await;
    b.client.find(Locator::Css("#f-currency")).await.unwrap().select_by_value("EUR").await.unwrap();
    b.click("form.draft button[type=submit]").await;
    b.wait_text_with("h1", "Draft order #").await;
    let lines = b.text("table.lines").await;
    assert!(lines.contains("€90.00") && !lines.contains('$'), "{lines}");
    assert!(b.text("dd.draft-total").await.starts_with('€'));
    b.wait_value("#f-currency", "EUR").await;
    b.shoot("admin-draft-euros").await;
    // back to dollars: the cart follows
    b.goto("/cart").await;
    b.client.find(Locator::Css("#currency")).await.unwrap().select_by_value("USD").await.unwrap();
    b.click("form[action='/currency'] button[type=submit]").await;
    b.wait_text_with("main", "$49.99").await;
    // a page asked for straight with the cookie of a currency the shop does not sell in is
    // in the default one
    let page = app.get_with("/p/boom-speaker", &[("cookie", "sf_cur=GBP")]).await;
    assert!(page.text().contains("$49.99"));
    let r = app.call("POST", "/currency", None, None, &[]).await;
    assert!(r.status >= 400, "a form without a currency is refused");
    b.close().await;
    app.stop().await;
}
