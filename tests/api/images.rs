//! Product images through HTTP: a multipart upload kept under its hash and served for good,
//! its thumbnail made by a job, the order and text changed, deletion (the files go when no
//! image names them), every bad upload refused with a clear 4xx and nothing changed.

use std::io::Cursor;

use serde_json::{json, Value};
use sha2::Digest;

use crate::common::{self, Resp, TestApp};

/// A picture of `w`×`h` pixels in `format`, a gradient seeded by `seed` (so each is other bytes).
pub fn picture(w: u32, h: u32, seed: u8, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, seed.wrapping_mul(37)])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

/// One part of a multipart form: `(name, filename?, content type?, bytes)`.
pub type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

/// A multipart form body and its content type.
pub fn multipart(parts: &[Part]) -> (String, Vec<u8>) {
    let boundary = "----storefront-test-7d41a2";
    let mut body = Vec::new();
    for (name, filename, ct, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes());
        if let Some(f) = filename {
            body.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = ct {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(app: &TestApp, token: &str, product: &str, parts: &[Part<'_>]) -> Resp {
    let (ct, body) = multipart(parts);
    let auth = format!("Bearer {token}");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", ct.as_str())];
    common::send(app.addr, "POST", format!("/api/admin/products/{product}/images").as_bytes(), &headers, &body).await
}

fn sha(bytes: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(bytes))
}

async fn admin_product(app: &TestApp, admin: &str, id: &str) -> Value {
    let r = app.call("GET", &format!("/api/admin/products/{id}"), Some(admin), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_picture_is_served_for_good_gets_a_thumbnail_and_shows_in_the_shop() {
    let app = TestApp::builder().fixture("small-catalog.sql").config(|c| c.media_max_mb = 1).start().await;
    let admin = app.admin("owner@example.com").await;
    let new = json!({"sku": "KITE-1", "name": "Harbour Kite", "category_id": "6", "base_price": 4200, "quantity": 3});
    let r = app.call("POST", "/api/admin/products", Some(&admin), Some(&new), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["data"]["id"].as_str().unwrap().to_owned();
    // cached views the upload must reach
    assert_eq!(app.json("/api/products/harbour-kite").await["data"]["images"], json!([]));
    assert!(app.json("/api/products?q=kite").await["data"][0]["image"].is_null());

    let png = picture(1200, 800, 1, image::ImageFormat::Png);
    let r = upload(
        &app,
        &admin,
        &id,
        &[("file", Some("kite.png"), Some("image/png"), &png), ("alt", None, None, b"The kite in the sky")],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let img = r.json()["data"].clone();
    let url = format!("/media/{}.png", sha(&png));
    assert_eq!(
        (img["url"].as_str(), img["alt"].as_str(), img["position"].as_i64()),
        (Some(url.as_str()), Some("The kite in the sky"), Some(0))
    );

    // served at once, the same bytes, cached for good
    let r = app.get(&url).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, png);
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(r.header("cache-control"), Some("public, max-age=31536000, immutable"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let etag = r.header("etag").unwrap().to_owned();
    assert_eq!(app.get_with(&url, &[("If-None-Match", &etag)]).await.status, 304);
    let other = format!("/media/{}.png", sha(b"not stored"));
    for missing in [other.as_str(), "/media/..%2Fstorefront.db", "/media/abc.png", &url.replace(".png", ".gif")] {
        assert_eq!(app.get(missing).await.status, 404, "{missing}");
    }

    // the thumbnail: made by a job, 480 pixels on its longest side, shown everywhere
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let thumb = loop {
        let p = admin_product(&app, &admin, &id).await;
        if p["images"][0]["thumbnail_ready"] == true {
            break p["images"][0]["thumbnail"].as_str().unwrap().to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for the thumbnail");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_ne!(thumb, url);
    let t = app.get(&thumb).await;
    assert_eq!(t.status, 200);
    assert_eq!(format!("/media/{}.png", sha(&t.body)), thumb, "named by its bytes");
    let small = image::load_from_memory(&t.body).unwrap();
    assert_eq!((small.width(), small.height()), (480, 320));
    let p = app.json("/api/products/harbour-kite").await["data"].clone();
    assert_eq!(p["images"][0]["url"], url);
    assert_eq!(p["images"][0]["thumbnail"], thumb);
    assert_eq!(app.json("/api/products?q=kite").await["data"][0]["image"]["thumbnail"], thumb);

    // a JPEG and a WebP; the JPEG moved first becomes the one lists show
    let jpg = picture(300, 200, 2, image::ImageFormat::Jpeg);
    let r = upload(&app, &admin, &id, &[("file", Some("a.bin"), None, &jpg)]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let jpg_id = r.json()["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["data"]["url"], format!("/media/{}.jpg", sha(&jpg)));
    let webp = picture(64, 64, 3, image::ImageFormat::WebP);
    let r = upload(&app, &admin, &id, &[("file", Some("c.webp"), Some("image/webp"), &webp)]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(app.get(r.json()["data"]["url"].as_str().unwrap()).await.header("content-type"), Some("image/webp"));
    let r = app
        .call(
            "PATCH",
            &format!("/api/admin/products/{id}/images/{jpg_id}"),
            Some(&admin),
            Some(&json!({"position": 0, "alt": "Front"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let order: Vec<(String, i64)> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["url"].as_str().unwrap().rsplit('.').next().unwrap().to_owned(), i["position"].as_i64().unwrap()))
        .collect();
    assert_eq!(order, [("jpg".to_owned(), 0), ("png".to_owned(), 1), ("webp".to_owned(), 2)]);
    let listed = app.json("/api/products?q=kite").await["data"][0]["image"].clone();
    assert_eq!(listed["url"], format!("/media/{}.jpg", sha(&jpg)), "the first image is the one lists show");
    let shown = app.json("/api/products/harbour-kite").await["data"]["images"].clone();
    assert_eq!(shown[0]["alt"], "Front");

    // the storefront's product page shows the pictures
    let page = app.get("/p/harbour-kite").await.text();
    assert!(page.contains(&format!("src=\"/media/{}.jpg\"", sha(&jpg))), "{page}");
    assert!(page.contains("alt=\"Front\""), "{page}");

    // deleting the PNG: the others close up and its two files go (nothing else names them)
    let png_id = admin_product(&app, &admin, &id).await["images"][1]["id"].as_str().unwrap().to_owned();
    let dir = app.state.config.media_dir();
    let (png_file, thumb_file) =
        (dir.join(url.trim_start_matches("/media/")), dir.join(thumb.trim_start_matches("/media/")));
    assert!(png_file.is_file() && thumb_file.is_file());
    let r = app.call("DELETE", &format!("/api/admin/products/{id}/images/{png_id}"), Some(&admin), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let left = admin_product(&app, &admin, &id).await["images"].clone();
    let positions: Vec<i64> = left.as_array().unwrap().iter().map(|i| i["position"].as_i64().unwrap()).collect();
    assert_eq!(positions, [0, 1]);
    assert_eq!(app.json("/api/products/harbour-kite").await["data"]["images"].as_array().unwrap().len(), 2);
    common::wait_for("the deleted picture's files to go", 30, || !png_file.exists() && !thumb_file.exists()).await;
    assert_eq!(app.get(&url).await.status, 404);

    // the same picture on two products is kept once; deleting it from one keeps the file
    let r = upload(&app, &admin, "1", &[("file", Some("j.jpg"), None, &jpg)]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let jpg_file = dir.join(format!("{}.jpg", sha(&jpg)));
    let r = app.call("DELETE", &format!("/api/admin/products/{id}/images/{jpg_id}"), Some(&admin), None, &[]).await;
    assert_eq!(r.status, 204);
    common::wait_for("the sweep after the second delete", 30, || {
        common::column::<String>(&app.conn(), "SELECT state FROM jobs WHERE kind = 'media_sweep' ORDER BY id")
            .iter()
            .filter(|s| *s == "completed")
            .count()
            >= 2
    })
    .await;
    assert!(jpg_file.is_file(), "product 1 still shows it");
    assert_eq!(app.get(&format!("/media/{}.jpg", sha(&jpg))).await.status, 200);

    // every change audited
    let actions = common::column::<String>(
        &app.conn(),
        "SELECT action FROM audit_log WHERE action LIKE 'product.image%' ORDER BY id",
    );
    assert_eq!(
        actions,
        [
            "product.image_add",
            "product.image_add",
            "product.image_add",
            "product.image_update",
            "product.image_delete",
            "product.image_add",
            "product.image_delete"
        ]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_upload_is_refused_with_a_clear_4xx_and_changes_nothing() {
    let app = TestApp::builder().fixture("small-catalog.sql").config(|c| c.media_max_mb = 1).start().await;
    let admin = app.admin("owner@example.com").await;
    let shopper = app.register("shopper@example.com").await;
    let good = picture(40, 30, 9, image::ImageFormat::Png);
    let r = upload(&app, &admin, "2", &[("file", Some("g.png"), None, &good)]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let image_id = r.json()["data"]["id"].as_str().unwrap().to_owned();
    // the good picture's thumbnail job settles first, so nothing moves under the comparison
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let before = loop {
        let p = admin_product(&app, &admin, "2").await;
        if p["images"][0]["thumbnail_ready"] == true {
            break p;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for the thumbnail");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    let files = || {
        let mut names: Vec<String> = std::fs::read_dir(app.state.config.media_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let files_before = files();

    let mut bomb = good.clone();
    bomb[16..24].copy_from_slice(&[0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60]); // claims 60,000 × 60,000
    let big = vec![0xFFu8; 1024 * 1024 + 10];
    let mut too_big = b"\xFF\xD8\xFF\xE0".to_vec();
    too_big.extend_from_slice(&big);
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    let long_alt = "a".repeat(301);
    let cases: Vec<(&str, Vec<Part>, u16, &str)> = vec![
        (
            "a GIF",
            vec![("file", Some("x.gif"), Some("image/gif"), b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")],
            415,
            "unsupported_media_type",
        ),
        ("an SVG named .png", vec![("file", Some("x.png"), Some("image/png"), svg)], 415, "unsupported_media_type"),
        ("text named .jpg", vec![("file", Some("x.jpg"), Some("image/jpeg"), b"hello")], 415, "unsupported_media_type"),
        (
            "a PNG signature and nothing",
            vec![("file", None, None, b"\x89PNG\r\n\x1a\nbroken")],
            422,
            "validation_failed",
        ),
        ("a header claiming 3.6 gigapixels", vec![("file", None, None, &bomb)], 422, "validation_failed"),
        ("over media_max_mb", vec![("file", None, None, &too_big)], 413, "payload_too_large"),
        ("no file", vec![("alt", None, None, b"just words")], 422, "validation_failed"),
        ("an empty file", vec![("file", Some("e.png"), None, b"")], 422, "validation_failed"),
        ("two files", vec![("file", None, None, &good), ("file", None, None, &good)], 422, "validation_failed"),
        (
            "an unknown field",
            vec![("file", None, None, &good), ("caption", None, None, b"x")],
            422,
            "validation_failed",
        ),
        (
            "alt too long",
            vec![("file", None, None, &good), ("alt", None, None, long_alt.as_bytes())],
            422,
            "validation_failed",
        ),
    ];
    for (what, parts, status, code) in cases {
        let r = upload(&app, &admin, "2", &parts).await;
        assert_eq!((r.status, r.error_code()), (status, code.to_owned()), "{what}: {}", r.text());
    }
    // not a form at all
    let auth = format!("Bearer {admin}");
    let path = b"/api/admin/products/2/images";
    let r =
        common::send(app.addr, "POST", path, &[("Authorization", &auth), ("Content-Type", "image/png")], &good).await;
    assert_eq!((r.status, r.error_code()), (415, "unsupported_media_type".into()));
    let r = common::send(
        app.addr,
        "POST",
        path,
        &[("Authorization", &auth), ("Content-Type", "multipart/form-data; boundary=x")],
        b"--x\r\nbroken",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    // not there, not theirs
    let r = upload(&app, &admin, "999999", &[("file", None, None, &good)]).await;
    assert_eq!((r.status, r.error_code()), (404, "not_found".into()));
    let r = upload(&app, &shopper, "2", &[("file", None, None, &good)]).await;
    assert_eq!(r.status, 403);
    let item = format!("/api/admin/products/2/images/{image_id}");
    for (method, path, body, status) in [
        ("PATCH", item.as_str(), json!({"position": -1}), 422),
        ("PATCH", item.as_str(), json!({"alt": long_alt}), 422),
        ("PATCH", item.as_str(), json!({"caption": "x"}), 422),
        ("PATCH", "/api/admin/products/3/images/1", json!({"alt": "x"}), 404),
        ("PATCH", "/api/admin/products/2/images/999999", json!({"alt": "x"}), 404),
        ("DELETE", "/api/admin/products/2/images/999999", json!(null), 404),
        ("DELETE", "/api/admin/products/3/images/1", json!(null), 404),
    ] {
        let body = (!body.is_null()).then_some(&body);
        let r = app.call(method, path, Some(&admin), body, &[]).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text());
    }
    assert_eq!(app.call("DELETE", &item, Some(&shopper), None, &[]).await.status, 403);
    assert_eq!(admin_product(&app, &admin, "2").await, before, "refused uploads change nothing");
    assert_eq!(files(), files_before, "and keep no file");

    // a product holds at most 20 images
    for seed in 0..19u8 {
        let r = upload(&app, &admin, "2", &[("file", None, None, &picture(8, 8, seed, image::ImageFormat::Png))]).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let r = upload(&app, &admin, "2", &[("file", None, None, &picture(8, 8, 200, image::ImageFormat::Png))]).await;
    assert_eq!((r.status, r.error_code()), (409, "too_many_images".into()));
    assert_eq!(admin_product(&app, &admin, "2").await["images"].as_array().unwrap().len(), 20);
    app.stop().await;
}
