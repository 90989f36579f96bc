//! The catalog in more than one language: an owner translates products, categories and
//! brands (`PUT …/translations/{locale}`); shoppers get them by `locale=` or
//! `Accept-Language`, field by field over the default language, on product pages, lists,
//! search (which finds the words of every language) and the category tree; the cache never
//! answers one language for another nor an old translation after a change; every bad
//! request is refused and changes nothing.

use serde_json::{json, Value};

use crate::common::{self, Data, TestApp};

const AURORA: &str = "/api/products/aurora-wireless-headphones";

async fn put(app: &TestApp, token: &str, path: &str, body: Value) -> common::Resp {
    app.call("PUT", path, Some(token), Some(&body), &[]).await
}

fn names(list: &Value) -> Vec<String> {
    let mut v: Vec<String> =
        list["data"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect();
    v.sort();
    v
}

/// What the translation tables and the audit log hold: a bad request must leave it as is.
fn state(app: &TestApp) -> (Vec<String>, i64) {
    let conn = app.conn();
    let rows = common::column::<String>(
        &conn,
        "SELECT 'p' || product_id || locale || name || slug || description FROM product_translations
         UNION ALL SELECT 'c' || category_id || locale || name || slug FROM category_translations
         UNION ALL SELECT 'b' || brand_id || locale || name || slug FROM brand_translations ORDER BY 1",
    );
    let audits: i64 =
        conn.query_row("SELECT count(*) FROM audit_log WHERE action LIKE '%.translation'", [], |r| r.get(0)).unwrap();
    (rows, audits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_translates_the_catalog_and_shoppers_read_it_in_their_language() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::make_db(dir.path(), &Data::Fixture("small-catalog.sql"));
    let app = TestApp::builder()
        .same_data_as_path(&db)
        .config(|c| {
            c.locales = "en, de, fr".into();
            c.cache_debug_header = true;
        })
        .start()
        .await;
    let admin = app.admin("owner@example.com").await;

    // -- the owner translates a product, its category and its brand into German --------------
    let r = put(
        &app,
        &admin,
        "/api/admin/products/1/translations/de",
        json!({"name": "Aurora Kabellose Kopfhörer", "description": "Kabellose Kopfhörer mit Geräuschunterdrückung.",
               "slug": "aurora-kabellose-kopfhoerer"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.json()["data"].clone();
    assert_eq!((t["locale"].as_str(), t["slug"].as_str()), (Some("de"), Some("aurora-kabellose-kopfhoerer")));
    let r = put(&app, &admin, "/api/admin/categories/3/translations/de", json!({"name": "Kopfhörer"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["slug"], "kopfh-rer", "a slug made from the name when none is given");
    let r = put(
        &app,
        &admin,
        "/api/admin/categories/3/translations/de",
        json!({"name": "Kopfhörer", "slug": "kopfhoerer", "description": "Auf dem Kopf."}),
    )
    .await;
    assert_eq!((r.status, r.json()["data"]["slug"].as_str()), (200, Some("kopfhoerer")), "set whole again");
    let r = put(&app, &admin, "/api/admin/brands/1/translations/de", json!({"name": "Acme Deutschland"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let list = app.call("GET", "/api/admin/products/1/translations", Some(&admin), None, &[]).await;
    assert_eq!(list.status, 200, "{}", list.text());
    assert_eq!(list.json()["data"].as_array().unwrap().len(), 1);

    // -- a product page in German: by locale=, by Accept-Language, by either slug -------------
    let de = app.json(&format!("{AURORA}?locale=de")).await["data"].clone();
    assert_eq!(de["name"], "Aurora Kabellose Kopfhörer");
    assert_eq!(de["slug"], "aurora-kabellose-kopfhoerer");
    assert_eq!(de["description"], "Kabellose Kopfhörer mit Geräuschunterdrückung.");
    assert_eq!(de["category"]["name"], "Kopfhörer");
    assert_eq!(de["category"]["slug"], "kopfhoerer");
    assert_eq!(de["brand"]["name"], "Acme Deutschland");
    assert_eq!(de["brand"]["slug"], "acme-deutschland", "made from the translated name");
    let by_slug = app.json("/api/products/aurora-kabellose-kopfhoerer?locale=de").await["data"].clone();
    assert_eq!(by_slug["id"], de["id"]);
    let r = app.get("/api/products/aurora-kabellose-kopfhoerer").await;
    assert_eq!(r.status, 404, "a German slug is not the product's in English");
    let header = app.get_with(AURORA, &[("accept-language", "de-AT,de;q=0.9,en;q=0.5")]).await;
    assert_eq!(header.status, 200);
    assert_eq!(header.json()["data"]["name"], "Aurora Kabellose Kopfhörer");
    assert!(header.header("vary").unwrap_or_default().contains("accept-language"), "{:?}", header.header("vary"));
    // French is enabled but nothing is translated: every field falls back to English
    let fr = app.get_with(AURORA, &[("accept-language", "fr-FR, fr;q=0.9")]).await.json()["data"].clone();
    assert_eq!(
        (fr["name"].as_str(), fr["category"]["name"].as_str()),
        (Some("Aurora Wireless Headphones"), Some("Headphones"))
    );
    // a language the shop lacks is its default's
    assert_eq!(app.json(&format!("{AURORA}?locale=ja")).await["data"]["name"], "Aurora Wireless Headphones");
    // a product without a translation keeps its own texts, its category's are German
    let nimbus = app.json("/api/products/nimbus-earbuds?locale=de").await["data"].clone();
    assert_eq!(
        (nimbus["name"].as_str(), nimbus["category"]["name"].as_str()),
        (Some("Nimbus Earbuds"), Some("Kopfhörer"))
    );

    // -- the cache keeps languages apart, whichever way they were asked for --------------------
    for _ in 0..2 {
        let en = app.get(AURORA).await;
        assert_eq!(en.json()["data"]["name"], "Aurora Wireless Headphones", "the English target stays English");
        let de = app.get_with(AURORA, &[("accept-language", "de")]).await;
        assert_eq!(de.json()["data"]["name"], "Aurora Kabellose Kopfhörer");
    }
    assert_eq!(app.get_with(AURORA, &[("accept-language", "de")]).await.header("x-cache"), Some("hit-l1"));

    // -- lists, search, facets, the tree and brands in German ----------------------------------
    let list = app.json("/api/products?category=kopfhoerer&locale=de").await;
    assert_eq!(names(&list), ["Aurora Kabellose Kopfhörer", "Nimbus Earbuds"]);
    let list = app.get_with("/api/products?category=headphones&sort=price_asc", &[("accept-language", "de")]).await;
    assert_eq!(names(&list.json()), ["Aurora Kabellose Kopfhörer", "Nimbus Earbuds"], "the own slug works too");
    let en = app.json("/api/products?category=headphones&sort=price_asc").await;
    assert_eq!(names(&en), ["Aurora Wireless Headphones", "Nimbus Earbuds"]);
    let r = app.get("/api/products?category=kopfhoerer").await;
    assert_eq!(r.status, 422, "the German slug is unknown in English: {}", r.text());
    // search finds the German words in any language; the hit and facets speak the request's
    // (and a category's German name finds what is in it)
    for (target, total) in
        [("/api/search?q=kabellose", 1), ("/api/search?q=kabellose&locale=de", 1), ("/api/search?q=kopfhorer", 2)]
    {
        let hits = app.json(target).await;
        assert_eq!(hits["meta"]["total"], total, "{target}: {hits}");
    }
    let hits = app.json("/api/search?q=kabellose&locale=de").await;
    assert_eq!(hits["data"][0]["name"], "Aurora Kabellose Kopfhörer");
    let facets = hits["meta"]["facets"].to_string();
    assert!(facets.contains("Kopfhörer") && facets.contains("Acme Deutschland"), "{facets}");
    let hits = app.json("/api/search?q=kabellose").await;
    assert_eq!(hits["data"][0]["name"], "Aurora Wireless Headphones");
    assert!(!hits["meta"]["facets"].to_string().contains("Kopfhörer"));
    let tree = app.json("/api/categories?locale=de").await.to_string();
    assert!(
        tree.contains("\"Kopfhörer\"") && tree.contains("Auf dem Kopf.") && tree.contains("\"Speakers\""),
        "{tree}"
    );
    let cat = app.json("/api/categories/kopfhoerer?locale=de").await["data"].clone();
    assert_eq!((cat["name"].as_str(), cat["path"][2]["slug"].as_str()), (Some("Kopfhörer"), Some("kopfhoerer")));
    let audio = app.json("/api/categories/audio?locale=de").await["data"].clone();
    assert_eq!(audio["children"][0]["name"], "Kopfhörer");
    let brands = app.json("/api/brands?locale=de").await["data"].clone();
    assert_eq!(brands[0]["name"], "Acme Deutschland");
    let best = app.json("/api/products/bestsellers?locale=de").await["data"].clone();
    let aurora = best.as_array().unwrap().iter().find(|b| b["id"] == "1").expect("sold yesterday");
    assert_eq!(aurora["name"], "Aurora Kabellose Kopfhörer");

    // -- a change shows at once, in every cached answer of the language -----------------------
    let r = put(
        &app,
        &admin,
        "/api/admin/products/1/translations/de",
        json!({"name": "Aurora Funkkopfhörer", "slug": "aurora-funkkopfhoerer"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let de = app.get_with(AURORA, &[("accept-language", "de")]).await.json()["data"].clone();
    assert_eq!(de["name"], "Aurora Funkkopfhörer");
    assert_eq!(
        de["description"], "Noise cancelling wireless headphones with a 30 hour battery.",
        "set whole: none now"
    );
    let list = app.json("/api/products?category=kopfhoerer&locale=de").await;
    assert_eq!(names(&list), ["Aurora Funkkopfhörer", "Nimbus Earbuds"]);
    assert_eq!(app.json("/api/search?q=funkkopfhorer").await["meta"]["total"], 1);
    assert_eq!(app.json("/api/search?q=kabellose").await["meta"]["total"], 0, "the old words are gone");
    assert_eq!(app.get("/api/products/aurora-kabellose-kopfhoerer?locale=de").await.status, 404);

    // -- every bad request is refused and changes nothing --------------------------------------
    let shopper = app.register("shopper@example.com").await;
    let before = state(&app);
    let bad: Vec<(&str, Value, u16)> = vec![
        ("/api/admin/products/1/translations/en", json!({"name": "Default"}), 422),
        ("/api/admin/products/1/translations/es", json!({"name": "Auriculares"}), 422),
        ("/api/admin/products/1/translations/DE", json!({"name": "Gross"}), 422),
        ("/api/admin/products/1/translations/de", json!({"name": ""}), 422),
        ("/api/admin/products/1/translations/de", json!({"name": "x\u{7}y"}), 422),
        ("/api/admin/products/1/translations/de", json!({"name": "A", "slug": "Not A Slug"}), 422),
        ("/api/admin/products/1/translations/de", json!({"name": "A", "colour": "red"}), 422),
        ("/api/admin/products/1/translations/de", json!({"name": "A", "slug": "nimbus-earbuds"}), 409),
        ("/api/admin/products/2/translations/de", json!({"name": "A", "slug": "aurora-funkkopfhoerer"}), 409),
        ("/api/admin/categories/4/translations/de", json!({"name": "A", "slug": "kopfhoerer"}), 409),
        ("/api/admin/products/999/translations/de", json!({"name": "A"}), 404),
        ("/api/admin/products/abc/translations/de", json!({"name": "A"}), 404),
        ("/api/admin/brands/9/translations/de", json!({"name": "A"}), 404),
    ];
    for (path, body, status) in &bad {
        let r = put(&app, &admin, path, body.clone()).await;
        assert_eq!(r.status, *status, "PUT {path} {body}: {}", r.text());
    }
    let r = put(&app, &shopper, "/api/admin/products/1/translations/de", json!({"name": "A"})).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = app.call("DELETE", "/api/admin/products/2/translations/de", Some(&admin), None, &[]).await;
    assert_eq!(r.status, 404, "no translation to remove: {}", r.text());
    let r = app.call("DELETE", "/api/admin/products/1/translations/es", Some(&admin), None, &[]).await;
    assert_eq!(r.status, 422, "{}", r.text());
    for target in [&format!("{AURORA}?locale=d_e") as &str, "/api/products?locale=12", "/api/brands?locale=deutsch"] {
        let r = app.get(target).await;
        assert_eq!((r.status, r.error_code()), (422, "validation_failed".into()), "{target}: {}", r.text());
    }
    assert_eq!(
        app.get("/api/search/suggest?q=kab&locale=de").await.status,
        400,
        "suggest is the same in every language"
    );
    assert_eq!(state(&app), before, "nothing changed");

    // -- audited, and removed: the default's texts again ---------------------------------------
    let audits: Vec<String> = common::column(
        &app.conn(),
        "SELECT action || ' ' || entity || ' ' || entity_id || ' ' || (before IS NOT NULL) FROM audit_log
         WHERE action LIKE '%.translation' ORDER BY id",
    );
    assert_eq!(
        audits,
        [
            "product.translation product 1 0",
            "category.translation category 3 0",
            "category.translation category 3 1",
            "brand.translation brand 1 0",
            "product.translation product 1 1"
        ]
    );
    let r = app.call("DELETE", "/api/admin/products/1/translations/de", Some(&admin), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let de = app.get_with(AURORA, &[("accept-language", "de")]).await.json()["data"].clone();
    assert_eq!(
        (de["name"].as_str(), de["category"]["name"].as_str()),
        (Some("Aurora Wireless Headphones"), Some("Kopfhörer"))
    );

    // -- the languages are a run-time setting: with English alone, German is asked in vain ------
    let r = app.call("PATCH", "/api/admin/settings", Some(&admin), Some(&json!({"locales": "en, Deutsch"})), &[]).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("locales"), "{}", r.text());
    let r = app.call("PATCH", "/api/admin/settings", Some(&admin), Some(&json!({"locales": "en"})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app.get_with("/api/categories/audio", &[("accept-language", "de")]).await;
    assert_eq!(r.json()["data"]["children"][0]["name"], "Headphones");
    assert!(!r.header("vary").unwrap_or_default().contains("accept-language"));
    app.stop().await;
}

/// The names of a search's hits (`target` a search URL), sorted.
async fn found(app: &TestApp, target: &str) -> Vec<String> {
    let r = app.get(target).await;
    assert_eq!(r.status, 200, "{target}: {}", r.text());
    names(&r.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_every_language_without_the_in_memory_index() {
    // SQLite's full-text index alone, as while the in-memory index is being built or with it off
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.locales = "en, de".into();
            c.search_index = false;
        })
        .start()
        .await;
    assert!(!app.state.search.is_ready());
    let admin = app.admin("owner@example.com").await;
    let headphones = found(&app, "/api/search?q=headphones").await;
    let acme = found(&app, "/api/search?q=acme").await;
    assert!(headphones.len() >= 2 && !acme.is_empty(), "{headphones:?} {acme:?}");
    for q in ["kabellose", "kopfhorer", "deutschland"] {
        assert_eq!(found(&app, &format!("/api/search?q={q}")).await, Vec::<String>::new(), "{q}: nothing yet");
    }

    for (path, body) in [
        (
            "/api/admin/products/1/translations/de",
            json!({"name": "Aurora Kabellose Kopfhörer", "description": "Mit Geräuschunterdrückung."}),
        ),
        ("/api/admin/categories/3/translations/de", json!({"name": "Kopfhörer"})),
        ("/api/admin/brands/1/translations/de", json!({"name": "Acme Deutschland"})),
    ] {
        let r = put(&app, &admin, path, body).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    // a product's own words, its description's, its category's and its brand's, in German
    assert_eq!(found(&app, "/api/search?q=kabellose").await, ["Aurora Wireless Headphones"]);
    assert_eq!(found(&app, "/api/search?q=gerauschunterdruckung").await, ["Aurora Wireless Headphones"]);
    assert_eq!(found(&app, "/api/products?q=kabellose").await, ["Aurora Wireless Headphones"], "lists too");
    let in_category = found(&app, "/api/products?category=headphones").await;
    assert_eq!(found(&app, "/api/search?q=kopfhorer").await, in_category, "the category's German name");
    assert_eq!(found(&app, "/api/search?q=deutschland").await, acme, "the brand's German name");
    // in German, the hit has its German name
    let hits = app.json("/api/search?q=kabellose&locale=de").await;
    assert_eq!(hits["data"][0]["name"], "Aurora Kabellose Kopfhörer");
    // the default language's words still find the same
    assert_eq!(found(&app, "/api/search?q=headphones").await, headphones);
    assert_eq!(found(&app, "/api/search?q=acme").await, acme);

    // changed and removed: the old words find nothing, the new ones find it
    let r = put(&app, &admin, "/api/admin/products/1/translations/de", json!({"name": "Aurora Funkhörer"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(found(&app, "/api/search?q=funkhorer").await, ["Aurora Wireless Headphones"]);
    assert_eq!(found(&app, "/api/search?q=kabellose").await, Vec::<String>::new(), "the old words are gone");
    for path in ["/api/admin/categories/3/translations/de", "/api/admin/brands/1/translations/de"] {
        let r = app.call("DELETE", path, Some(&admin), None, &[]).await;
        assert!(r.status == 200 || r.status == 204, "{path}: {}", r.text());
    }
    assert_eq!(found(&app, "/api/search?q=kopfhorer").await, Vec::<String>::new());
    assert_eq!(found(&app, "/api/search?q=deutschland").await, Vec::<String>::new());
    // a product renamed keeps its translation's words; retired, nothing finds it
    let r =
        app.call("PATCH", "/api/admin/products/1", Some(&admin), Some(&json!({"name": "Aurora Studio"})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(found(&app, "/api/search?q=funkhorer").await, ["Aurora Studio"]);
    let r = app.call("DELETE", "/api/admin/products/1", Some(&admin), None, &[]).await;
    assert!(r.status == 200 || r.status == 204, "{}", r.text());
    assert_eq!(found(&app, "/api/search?q=funkhorer").await, Vec::<String>::new());
    app.stop().await;
}
