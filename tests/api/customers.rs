//! Customers and sessions through HTTP: registration, login, throttling, sessions,
//! profile and addresses, password reset through the mail outbox, guest carts adopted at
//! login.

use crate::common;

use crate::common::{column, TestApp};
use serde_json::json;

fn ok(r: &common::Resp, status: u16) -> serde_json::Value {
    assert_eq!(r.status, status, "{}", r.text());
    r.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_login_sessions_profile_and_logout() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let body = json!({"email": "Mia@Example.com", "password": "correct horse 1", "name": "Mia"});
    let v = ok(&app.call("POST", "/api/auth/register", None, Some(&body), &[("User-Agent", "phone/1.0")]).await, 201);
    let first = v["data"]["token"].as_str().unwrap().to_owned();
    assert_eq!(v["data"]["customer"]["email"], "Mia@Example.com");
    assert_eq!(v["data"]["customer"]["role"], "customer");
    let hash: Vec<String> = column(&app.conn(), "SELECT password_hash FROM customers WHERE email = 'mia@example.com'");
    assert!(hash[0].starts_with("$argon2id$"), "only a hash is stored");
    let tokens: Vec<Vec<u8>> = column(&app.conn(), "SELECT token_hash FROM sessions");
    assert!(tokens.iter().all(|t| t.len() == 32 && t != first.as_bytes()), "only token hashes are stored");

    // the same address in another case is the same account
    let dup = json!({"email": "mia@example.COM", "password": "another pass 2", "name": "Other"});
    let r = app.call("POST", "/api/auth/register", None, Some(&dup), &[]).await;
    assert_eq!((r.status, r.error_code()), (409, "email_taken".into()));

    let wrong = json!({"email": "mia@example.com", "password": "wrong password"});
    let r = app.call("POST", "/api/auth/login", None, Some(&wrong), &[]).await;
    assert_eq!((r.status, r.error_code()), (401, "invalid_credentials".into()));
    let unknown = json!({"email": "nobody@example.com", "password": "wrong password"});
    let r = app.call("POST", "/api/auth/login", None, Some(&unknown), &[]).await;
    assert_eq!((r.status, r.error_code()), (401, "invalid_credentials".into()), "same answer: no account probing");
    let right = json!({"email": "mia@example.com", "password": "correct horse 1"});
    let v = ok(&app.call("POST", "/api/auth/login", None, Some(&right), &[("User-Agent", "laptop/2.0")]).await, 200);
    let second = v["data"]["token"].as_str().unwrap().to_owned();

    let me = ok(&app.call("GET", "/api/me", Some(&second), None, &[]).await, 200);
    assert_eq!(me["data"]["name"], "Mia");
    let r = app.call("GET", "/api/me", Some(&second), None, &[]).await;
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    let v = ok(&app.call("PATCH", "/api/me", Some(&second), Some(&json!({"name": "Mia Wong"})), &[]).await, 200);
    assert_eq!(v["data"]["name"], "Mia Wong");

    let v = ok(&app.call("GET", "/api/auth/sessions", Some(&second), None, &[]).await, 200);
    let sessions = v["data"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["device"], "laptop/2.0");
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(sessions[1]["device"], "phone/1.0");
    assert_eq!(sessions[1]["client_addr"], "127.0.0.1");
    // revoke the phone's session from the laptop: the phone's token stops working
    let phone = sessions[1]["id"].as_str().unwrap();
    let r = app.call("DELETE", &format!("/api/auth/sessions/{phone}"), Some(&second), None, &[]).await;
    assert_eq!(r.status, 204);
    let r = app.call("GET", "/api/me", Some(&first), None, &[]).await;
    assert_eq!((r.status, r.error_code()), (401, "invalid_token".into()));
    let r = app.call("DELETE", &format!("/api/auth/sessions/{phone}"), Some(&second), None, &[]).await;
    assert_eq!(r.status, 404, "revoked already");

    // addresses
    let a = json!({"name": "Mia", "line1": "2 Side St", "city": "Austin", "state": "TX", "postal_code": "73301",
                   "country": "us", "phone": "+1 555 0100"});
    let v = ok(&app.call("POST", "/api/me/addresses", Some(&second), Some(&a), &[]).await, 201);
    assert_eq!(v["data"]["country"], "US");
    let id = v["data"]["id"].as_str().unwrap().to_owned();
    let v = ok(&app.call("GET", "/api/me/addresses", Some(&second), None, &[]).await, 200);
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.call("DELETE", &format!("/api/me/addresses/{id}"), Some(&second), None, &[]).await.status, 204);
    assert_eq!(app.call("DELETE", &format!("/api/me/addresses/{id}"), Some(&second), None, &[]).await.status, 404);

    // a guest token is not a customer
    let guest = app.guest().await;
    let r = app.call("GET", "/api/me", Some(&guest), None, &[]).await;
    assert_eq!((r.status, r.error_code()), (401, "login_required".into()));

    assert_eq!(app.call("POST", "/api/auth/logout", Some(&second), None, &[]).await.status, 204);
    let r = app.call("GET", "/api/me", Some(&second), None, &[]).await;
    assert_eq!(r.status, 401, "a logged-out token is revoked");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_throttled_per_account_and_per_address() {
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.auth_failures_per_account = 3;
            c.auth_failures_per_address = 5;
        })
        .start()
        .await;
    app.register("kim@example.com").await;
    let wrong = json!({"email": "kim@example.com", "password": "not the password"});
    for _ in 0..3 {
        assert_eq!(app.call("POST", "/api/auth/login", None, Some(&wrong), &[]).await.status, 401);
    }
    let right = json!({"email": "kim@example.com", "password": "correct horse 1"});
    let r = app.call("POST", "/api/auth/login", None, Some(&right), &[]).await;
    assert_eq!((r.status, r.error_code()), (429, "rate_limited".into()), "even the right password waits");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 900, "{retry}");
    let failed: Vec<i64> = column(&app.conn(), "SELECT count(*) FROM auth_attempts WHERE succeeded = 0");
    assert_eq!(failed[0], 3, "failed attempts are recorded; the refused one is not an attempt");
    // other accounts from the same address: two more failures use up the address's 5
    for email in ["a@example.com", "b@example.com"] {
        let body = json!({"email": email, "password": "whatever 123"});
        assert_eq!(app.call("POST", "/api/auth/login", None, Some(&body), &[]).await.status, 401);
    }
    let other = json!({"email": "c@example.com", "password": "whatever 123"});
    assert_eq!(app.call("POST", "/api/auth/login", None, Some(&other), &[]).await.status, 429);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_by_single_use_mailed_token() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let old = app.register("lee@example.com").await;
    let r = app.call("POST", "/api/auth/password/forgot", None, Some(&json!({"email": "lee@example.com"})), &[]).await;
    let known = ok(&r, 202);
    let r =
        app.call("POST", "/api/auth/password/forgot", None, Some(&json!({"email": "ghost@example.com"})), &[]).await;
    assert_eq!(ok(&r, 202), known, "the answer does not tell who has an account");
    let mails = app.reset_mails();
    assert_eq!(mails.len(), 1, "mail only for the real account");
    let token = mails[0].split("Your reset code: ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let stored: Vec<Vec<u8>> = column(&app.conn(), "SELECT token_hash FROM password_resets");
    assert_ne!(stored[0], token.as_bytes(), "the database keeps a hash");

    let bad = json!({"token": "not-the-token", "password": "brand new pass"});
    let r = app.call("POST", "/api/auth/password/reset", None, Some(&bad), &[]).await;
    assert_eq!((r.status, r.error_code()), (422, "invalid_token".into()));
    let reset = json!({"token": token, "password": "brand new pass"});
    assert_eq!(app.call("POST", "/api/auth/password/reset", None, Some(&reset), &[]).await.status, 204);
    assert_eq!(app.call("GET", "/api/me", Some(&old), None, &[]).await.status, 401, "old sessions end");
    let login = json!({"email": "lee@example.com", "password": "brand new pass"});
    ok(&app.call("POST", "/api/auth/login", None, Some(&login), &[]).await, 200);
    let again = json!({"token": token, "password": "another new pass"});
    let r = app.call("POST", "/api/auth/password/reset", None, Some(&again), &[]).await;
    assert_eq!(r.status, 422, "a reset token works once");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_cart_is_adopted_or_merged_at_login() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    // a customer with a cart of their own (1 Boom Speaker)
    let own = app.register("sam@example.com").await;
    app.add_to_cart(&own, 3, 1).await;
    // a guest adds 2 Boom Speakers and 1 Chef Knife, then logs in
    let guest = app.guest().await;
    app.add_to_cart(&guest, 3, 2).await;
    app.add_to_cart(&guest, 5, 1).await;
    let login = json!({"email": "sam@example.com", "password": "correct horse 1"});
    let v = ok(&app.call("POST", "/api/auth/login", Some(&guest), Some(&login), &[]).await, 200);
    let token = v["data"]["token"].as_str().unwrap();
    let cart = ok(&app.call("GET", "/api/cart", Some(token), None, &[]).await, 200);
    let lines: Vec<(String, i64)> = cart["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["slug"].as_str().unwrap().to_owned(), i["quantity"].as_i64().unwrap()))
        .collect();
    assert_eq!(lines, vec![("boom-speaker".into(), 3), ("chef-knife".into(), 1)]);
    let guest_cart = ok(&app.call("GET", "/api/cart", Some(&guest), None, &[]).await, 200);
    assert_eq!(guest_cart["data"]["items"], json!([]), "the guest's cart was merged away");

    // a new account adopts the guest's cart as it is
    let guest = app.guest().await;
    app.add_to_cart(&guest, 5, 2).await;
    let body = json!({"email": "new@example.com", "password": "correct horse 1", "name": "New"});
    let v = ok(&app.call("POST", "/api/auth/register", Some(&guest), Some(&body), &[]).await, 201);
    let cart = ok(&app.call("GET", "/api/cart", Some(v["data"]["token"].as_str().unwrap()), None, &[]).await, 200);
    assert_eq!(cart["data"]["item_count"], 2);
    app.stop().await;
}
