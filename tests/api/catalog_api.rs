//! The catalog API against a small fixture whose every value is known.

use crate::common::TestApp;
use serde_json::Value;

async fn app() -> TestApp {
    TestApp::builder().fixture("small-catalog.sql").start().await
}

fn slugs(v: &Value) -> Vec<String> {
    v["data"].as_array().unwrap().iter().map(|p| p["slug"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_detail_has_every_relation() {
    let app = app().await;
    let v = app.json("/api/products/aurora-wireless-headphones").await;
    let p = &v["data"];
    assert_eq!(p["id"], "1");
    assert_eq!(p["sku"], "AUR-1");
    assert_eq!(p["price"], serde_json::json!({"amount": 14999, "currency": "USD"}));
    assert_eq!(p["base_price"]["amount"], 19999);
    assert_eq!(p["sale_price"]["amount"], 14999);
    assert_eq!(p["in_stock"], true);
    assert_eq!(p["category"]["slug"], "headphones");
    assert_eq!(p["brand"]["slug"], "acme");
    assert_eq!(p["images"].as_array().unwrap().len(), 2);
    assert_eq!(p["images"][0]["url"], "/media/aurora-1.jpg");
    assert_eq!(p["images"][1]["thumbnail"], "/media/aurora-2-thumb.jpg");
    let variants = p["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    assert_eq!((variants[0]["name"].as_str(), variants[0]["in_stock"].as_bool()), (Some("Black"), Some(true)));
    assert_eq!((variants[1]["name"].as_str(), variants[1]["in_stock"].as_bool()), (Some("White"), Some(false)));
    assert_eq!(variants[0]["price"]["amount"], 14999, "variants inherit the product price");
    assert_eq!(variants[0]["attributes"][0]["value"], "Black");
    assert_eq!(p["options"][0]["values"], serde_json::json!(["Black", "White"]));
    // never the exact stock count
    assert!(!v.to_string().contains("\"available\""), "{v}");
    // rating: 5, 4, 3 approved; the pending 1 does not count
    assert_eq!(p["rating"]["count"], 3);
    assert_eq!(p["rating"]["average"], 4.0);
    assert_eq!(p["rating"]["distribution"]["5"], 1);
    assert_eq!(p["rating"]["distribution"]["1"], 0);
    let reviews = p["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 3);
    assert_eq!(reviews[0]["title"], "Fine", "newest first");
    assert_eq!(reviews[2]["author"], "Ada L.", "first name and initial only");
    assert!(!v.to_string().contains("Spam"), "pending reviews are not shown");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retired_and_unknown_products_are_not_found() {
    let app = app().await;
    for path in
        ["/api/products/retired-speaker", "/api/products/no-such-thing", "/api/products/UPPER", "/api/products/%FF%FE"]
    {
        let r = app.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.error_code(), "not_found");
    }
    let all = app.json("/api/products?per_page=100").await;
    assert!(!slugs(&all).contains(&"retired-speaker".to_owned()));
    assert_eq!(all["meta"]["total"], 4);
    let search = app.json("/api/search?q=speaker").await;
    assert_eq!(slugs(&search), vec!["boom-speaker"], "retired products are not searchable");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_sorts() {
    let app = app().await;
    let cases: &[(&str, &[&str])] = &[
        ("", &["chef-knife", "boom-speaker", "nimbus-earbuds", "aurora-wireless-headphones"]),
        ("category=electronics", &["boom-speaker", "nimbus-earbuds", "aurora-wireless-headphones"]),
        ("category=audio&sort=price_asc", &["boom-speaker", "nimbus-earbuds", "aurora-wireless-headphones"]),
        ("category=headphones&in_stock=true", &["aurora-wireless-headphones"]),
        ("brand=acme", &["boom-speaker", "aurora-wireless-headphones"]),
        ("brand=acme&category=speakers", &["boom-speaker"]),
        ("min_price=3000&max_price=8000", &["boom-speaker", "nimbus-earbuds"]),
        ("sort=price_desc", &["aurora-wireless-headphones", "nimbus-earbuds", "boom-speaker", "chef-knife"]),
        ("sort=popular", &["aurora-wireless-headphones", "boom-speaker", "nimbus-earbuds", "chef-knife"]),
        ("sort=rating&per_page=1", &["aurora-wireless-headphones"]),
        ("q=wireless", &["nimbus-earbuds", "aurora-wireless-headphones"]),
        ("q=wireless&in_stock=true", &["aurora-wireless-headphones"]),
        ("q=acme", &["boom-speaker", "aurora-wireless-headphones"]),
        ("in_stock=true", &["chef-knife", "boom-speaker", "aurora-wireless-headphones"]),
        ("category=kitchen&brand=globex", &[]),
    ];
    for (query, want) in cases {
        let v = app.json(&format!("/api/products?{query}")).await;
        assert_eq!(slugs(&v), *want, "?{query}");
        if !query.contains("per_page") {
            assert_eq!(v["meta"]["total"], want.len(), "total of ?{query}");
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_and_sparse_fields() {
    let app = app().await;
    let v = app.json("/api/products?sort=price_desc&per_page=1").await;
    let p = &v["data"][0];
    for f in ["id", "sku", "name", "slug", "price", "image", "category", "in_stock", "rating"] {
        assert!(p.get(f).is_some(), "summary has {f}: {p}");
    }
    assert_eq!(p["image"]["url"], "/media/aurora-1.jpg");
    assert_eq!(p["image"]["thumbnail"], "/media/aurora-1-thumb.jpg");
    assert_eq!(p["rating"], serde_json::json!({"average": 4.0, "count": 3}));
    assert_eq!(v["meta"]["last_page"], 4);
    let v = app.json("/api/products?fields=id,name,price&per_page=2").await;
    let keys: Vec<&String> = v["data"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["id", "name", "price"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_are_keyset_paginated() {
    let app = app().await;
    let first = app.json("/api/products/aurora-wireless-headphones/reviews?per_page=2").await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    assert_eq!(first["meta"]["total"], 3);
    assert_eq!(first["meta"]["has_more"], true);
    let cursor = first["meta"]["next_cursor"].as_str().unwrap();
    let second =
        app.json(&format!("/api/products/aurora-wireless-headphones/reviews?per_page=2&cursor={cursor}")).await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_eq!(second["data"][0]["title"], "Superb");
    assert_eq!(second["meta"]["has_more"], false);
    let back = second["meta"]["prev_cursor"].as_str().unwrap();
    let again = app.json(&format!("/api/products/aurora-wireless-headphones/reviews?per_page=2&cursor={back}")).await;
    assert_eq!(again["data"], first["data"], "prev_cursor leads back to the first page");
    let r = app.get("/api/products/boom-speaker/reviews?cursor=bogus").await;
    assert_eq!((r.status, r.error_code().as_str()), (400, "invalid_cursor"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bestsellers_count_the_last_30_days_of_active_products() {
    let app = app().await;
    let v = app.json("/api/products/bestsellers").await;
    let got: Vec<(String, i64)> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["slug"].as_str().unwrap().to_owned(), p["units_sold"].as_i64().unwrap()))
        .collect();
    assert_eq!(got, vec![("boom-speaker".to_owned(), 7), ("aurora-wireless-headphones".to_owned(), 3)]);
    let v = app.json("/api/products/bestsellers?days=90").await;
    assert_eq!(v["data"][0]["slug"], "aurora-wireless-headphones");
    assert_eq!(v["data"][0]["units_sold"], 53);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn categories_and_brands() {
    let app = app().await;
    let tree = app.json("/api/categories").await;
    let roots = tree["data"].as_array().unwrap();
    assert_eq!(roots.len(), 2);
    assert_eq!(roots[0]["slug"], "electronics");
    assert_eq!(roots[0]["product_count"], 3, "includes sub-categories, not retired products");
    assert_eq!(roots[0]["children"][0]["children"][0]["slug"], "headphones");
    assert_eq!(roots[0]["children"][0]["children"][0]["product_count"], 2);
    assert_eq!(roots[1]["product_count"], 1);

    let c = app.json("/api/categories/audio").await;
    let c = &c["data"];
    assert_eq!(c["parent"]["slug"], "electronics");
    assert_eq!(
        c["path"].as_array().unwrap().iter().map(|p| p["slug"].as_str().unwrap()).collect::<Vec<_>>(),
        vec!["electronics", "audio"]
    );
    assert_eq!(c["children"].as_array().unwrap().len(), 2);
    assert_eq!(c["children"][1]["slug"], "speakers");
    assert_eq!(c["children"][1]["product_count"], 1);
    assert_eq!(c["product_count"], 3);
    assert_eq!(app.get("/api/categories/nope").await.status, 404);

    let b = app.json("/api/brands").await;
    let brands = b["data"].as_array().unwrap();
    assert_eq!(brands.len(), 2);
    assert_eq!((brands[0]["slug"].as_str(), brands[0]["product_count"].as_i64()), (Some("acme"), Some(2)));
    assert_eq!((brands[1]["slug"].as_str(), brands[1]["product_count"].as_i64()), (Some("globex"), Some(1)));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_ranks_and_counts_facets() {
    let app = app().await;
    let v = app.json("/api/search?q=wireless").await;
    // a name match outranks a description-only match
    assert_eq!(slugs(&v), vec!["aurora-wireless-headphones", "nimbus-earbuds"]);
    let meta = &v["meta"];
    assert_eq!(meta["total"], 2);
    let cats: Vec<(String, i64)> = meta["facets"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["slug"].as_str().unwrap().to_owned(), c["count"].as_i64().unwrap()))
        .collect();
    assert_eq!(cats, vec![("electronics".into(), 2), ("audio".into(), 2), ("headphones".into(), 2)]);
    let brands = meta["facets"]["brands"].as_array().unwrap();
    assert_eq!(brands.len(), 2);
    let bands = meta["facets"]["price_bands"].as_array().unwrap();
    let counted: Vec<i64> = bands.iter().map(|b| b["count"].as_i64().unwrap()).collect();
    assert_eq!(counted.iter().sum::<i64>(), 2);
    // 79.99 in [50, 100), 149.99 in [100, 250)
    assert_eq!(bands[3]["count"], 1);
    assert_eq!(bands[4]["count"], 1);
    assert_eq!(bands[4]["min"]["amount"], 10000);
    // prefix of the last word while typing; diacritics folded
    // (the earbuds match through their category, Headphones; the name match ranks first)
    let both = vec!["aurora-wireless-headphones", "nimbus-earbuds"];
    assert_eq!(slugs(&app.json("/api/search?q=headph").await), both);
    assert_eq!(slugs(&app.json("/api/search?q=H%C3%A9adphones").await), both);
    assert_eq!(slugs(&app.json("/api/search?q=portable").await), vec!["boom-speaker"]);
    // filters apply to hits and facets
    let v = app.json("/api/search?q=wireless&in_stock=true").await;
    assert_eq!(slugs(&v), vec!["aurora-wireless-headphones"]);
    assert_eq!(v["meta"]["facets"]["brands"][0]["count"], 1);
    let v = app.json("/api/search?q=wireless&sort=price_asc").await;
    assert_eq!(slugs(&v), vec!["nimbus-earbuds", "aurora-wireless-headphones"]);
    let v = app.json("/api/search?q=zzzz").await;
    assert_eq!(v["meta"]["total"], 0);
    assert_eq!(v["data"], serde_json::json!([]));
    app.stop().await;
}
