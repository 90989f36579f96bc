//! Two-factor login and API keys, through HTTP.

use serde_json::{json, Value};

use crate::common::{column, TestApp};

/// The code of the authenticator holding `secret` (base32), `ahead` steps from now.
pub fn code(secret: &str, ahead: u64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let t = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    t.generate(now + 30 * ahead)
}

fn login(email: &str, otp: Option<&str>) -> Value {
    let mut b = json!({"email": email, "password": "correct horse 1"});
    if let Some(o) = otp {
        b["otp"] = json!(o);
    }
    b
}

/// Turns two-factor login on for `token`'s account; the secret and recovery codes.
async fn turn_on(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let r = app.call("POST", "/api/auth/2fa/setup", Some(token), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let secret = r.json()["data"]["secret"].as_str().unwrap().to_owned();
    let r = app.call("POST", "/api/auth/2fa/enable", Some(token), Some(&json!({"code": code(&secret, 0)})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let codes =
        r.json()["data"]["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    (secret, codes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_login_from_setup_to_disable() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let token = app.register("two@example.com").await;
    let r = app.call("POST", "/api/auth/2fa/enable", Some(&token), Some(&json!({"code": "123456"})), &[]).await;
    assert_eq!((r.status, r.error_code()), (409, "two_factor_not_set_up".into()));
    let r = app.call("POST", "/api/auth/2fa/setup", Some(&token), None, &[]).await;
    assert_eq!(r.status, 200);
    let setup = r.json()["data"].clone();
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let url = setup["otpauth_url"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/Storefront:two%40example%2Ecom?secret=") && url.contains(&secret), "{url}");
    // a wrong first code leaves it off (the right one is taken once: the clock may pass
    // into the next 30 s step between two calls, and the step's code with it)
    let first = code(&secret, 0);
    let wrong = if first == "000000" { "111111" } else { "000000" };
    let r = app.call("POST", "/api/auth/2fa/enable", Some(&token), Some(&json!({"code": wrong})), &[]).await;
    assert_eq!((r.status, r.error_code()), (403, "invalid_code".into()));
    assert_eq!(app.call("POST", "/api/auth/login", None, Some(&login("two@example.com", None)), &[]).await.status, 200);
    let r = app.call("POST", "/api/auth/2fa/enable", Some(&token), Some(&json!({"code": first})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let recovery: Vec<String> =
        r.json()["data"]["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(recovery.len(), 10);
    let stored: Vec<Vec<u8>> = column(&app.conn(), "SELECT code_hash FROM recovery_codes");
    assert!(stored.iter().all(|h| h.len() == 32 && !recovery.iter().any(|c| c.as_bytes() == &h[..])), "hashes only");

    // from now on the password is not enough
    let r = app.call("POST", "/api/auth/login", None, Some(&login("two@example.com", None)), &[]).await;
    assert_eq!((r.status, r.error_code()), (401, "otp_required".into()));
    let r = app.call("POST", "/api/auth/login", None, Some(&login("two@example.com", Some(wrong))), &[]).await;
    assert_eq!((r.status, r.error_code()), (401, "invalid_otp".into()));
    // the code that turned it on is used up; the next step's code works, once
    let r = app.call("POST", "/api/auth/login", None, Some(&login("two@example.com", Some(&first))), &[]).await;
    assert_eq!((r.status, r.error_code()), (401, "invalid_otp".into()), "a code works once");
    let next = code(&secret, 1);
    assert_eq!(
        app.call("POST", "/api/auth/login", None, Some(&login("two@example.com", Some(&next))), &[]).await.status,
        200
    );
    let r = app.call("POST", "/api/auth/login", None, Some(&login("two@example.com", Some(&next))), &[]).await;
    assert_eq!(r.status, 401, "…and only once");
    // a recovery code, in any case and spacing, once
    let spelled = recovery[0].to_uppercase().replace('-', " ");
    let r = app.call("POST", "/api/auth/login", None, Some(&login("two@example.com", Some(&spelled))), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app.call("POST", "/api/auth/login", None, Some(&login("two@example.com", Some(&recovery[0]))), &[]).await;
    assert_eq!((r.status, r.error_code()), (401, "invalid_otp".into()), "a recovery code works once");
    // every missing or wrong code counted as a failed login: guessing codes is throttled
    let r = app.call("POST", "/api/auth/login", None, Some(&login("two@example.com", Some(&recovery[1]))), &[]).await;
    assert_eq!(r.status, 429, "{}", r.text());

    // turning it off needs the password and a code
    let off = |password: &str, code: &str| json!({"password": password, "code": code});
    let r =
        app.call("POST", "/api/auth/2fa/disable", Some(&token), Some(&off("wrong password", &recovery[1])), &[]).await;
    assert!(matches!(r.status, 403 | 429), "{}", r.text());
    let stays: Vec<i64> = column(&app.conn(), "SELECT count(*) FROM two_factor WHERE enabled_at IS NOT NULL");
    assert_eq!(stays[0], 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_with_password_and_recovery_code() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let token = app.register("off@example.com").await;
    let (_, recovery) = turn_on(&app, &token).await;
    let r = app.call("POST", "/api/auth/2fa/setup", Some(&token), None, &[]).await;
    assert_eq!((r.status, r.error_code()), (409, "two_factor_enabled".into()));
    let body = json!({"password": "correct horse 1", "code": recovery[3]});
    let r = app.call("POST", "/api/auth/2fa/disable", Some(&token), Some(&body), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["enabled"], false);
    assert_eq!(app.call("POST", "/api/auth/login", None, Some(&login("off@example.com", None)), &[]).await.status, 200);
    let gone: Vec<i64> =
        column(&app.conn(), "SELECT (SELECT count(*) FROM two_factor) + (SELECT count(*) FROM recovery_codes)");
    assert_eq!(gone[0], 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_can_be_required_to_use_two_factor_login() {
    let app = TestApp::builder().fixture("small-catalog.sql").config(|c| c.admin_require_2fa = true).start().await;
    let admin = app.admin("boss@example.com").await;
    let r = app.call("GET", "/api/admin/orders", Some(&admin), None, &[]).await;
    assert_eq!((r.status, r.error_code()), (403, "two_factor_required".into()));
    // a second session, opened with the password alone (e.g. on a stolen laptop)
    let r = app.call("POST", "/api/auth/login", None, Some(&login("boss@example.com", None)), &[]).await;
    let before = r.json()["data"]["token"].as_str().unwrap().to_owned();
    // the rest of the account works, so the administrator can turn it on
    assert_eq!(app.call("GET", "/api/me", Some(&admin), None, &[]).await.status, 200);
    let (secret, _) = turn_on(&app, &admin).await;
    assert_eq!(app.call("GET", "/api/admin/orders", Some(&admin), None, &[]).await.status, 200);
    // the session opened before the second factor existed is over, not an admin session
    let r = app.call("GET", "/api/admin/orders", Some(&before), None, &[]).await;
    assert_eq!((r.status, r.error_code()), (401, "invalid_token".into()), "{}", r.text());
    // a session that was opened without a code (one that predates this rule) is refused;
    // logging in with a code opens one that is not
    let r =
        app.call("POST", "/api/auth/login", None, Some(&login("boss@example.com", Some(&code(&secret, 1)))), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let with_code = r.json()["data"]["token"].as_str().unwrap().to_owned();
    app.write("UPDATE sessions SET second_factor = 0 WHERE revoked_at IS NULL").await;
    let r = app.call("GET", "/api/admin/orders", Some(&with_code), None, &[]).await;
    assert_eq!((r.status, r.error_code()), (403, "two_factor_required".into()), "the flag is the session's");
    app.write("UPDATE sessions SET second_factor = 1 WHERE revoked_at IS NULL").await;
    assert_eq!(app.call("GET", "/api/admin/orders", Some(&with_code), None, &[]).await.status, 200);
    let flags: Vec<i64> = column(&app.conn(), "SELECT second_factor FROM sessions WHERE revoked_at IS NULL");
    assert_eq!(flags, [1, 1], "the enabling session and the one opened with a code");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_scoped_hashed_revocable_and_audited() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let admin = app.admin("keys@example.com").await;
    let customer = app.register("nobody@example.com").await;
    let make = json!({"name": "warehouse sync", "scopes": ["catalog:write", "orders:read"]});
    assert_eq!(app.call("POST", "/api/admin/api-keys", Some(&customer), Some(&make), &[]).await.status, 403);
    for (bad, field) in [
        (json!({"name": "x", "scopes": []}), "scopes"),
        (json!({"name": "x", "scopes": ["everything"]}), "scopes[0]"),
        (json!({"name": " ", "scopes": ["cache:read"]}), "name"),
    ] {
        let before = crate::common::digest(&app.conn());
        let r = app.call("POST", "/api/admin/api-keys", Some(&admin), Some(&bad), &[]).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
        assert!(r.json()["error"]["details"][field].is_string(), "{}", r.text());
        assert_eq!(crate::common::digest(&app.conn()), before);
    }
    let r = app.call("POST", "/api/admin/api-keys", Some(&admin), Some(&make), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json()["data"].clone();
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sf_") && key.len() > 40);
    assert_eq!(created["scopes"], json!(["catalog:write", "orders:read"]));
    let stored: Vec<Vec<u8>> = column(&app.conn(), "SELECT key_hash FROM api_keys");
    assert!(stored[0].len() == 32 && stored[0] != key.as_bytes(), "only a hash is kept");
    let list = app.call("GET", "/api/admin/api-keys", Some(&admin), None, &[]).await.json();
    assert!(list["data"][0].get("key").is_none() && key.starts_with(list["data"][0]["prefix"].as_str().unwrap()));

    // what the scopes allow
    let price = json!({"base": 5555});
    let r = app.call("PUT", "/api/admin/products/3/price", Some(&key), Some(&price), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.call("GET", "/api/admin/orders", Some(&key), None, &[]).await.status, 200);
    // and nothing else
    let r = app.call("PATCH", "/api/admin/orders/1", Some(&key), Some(&json!({"status": "fulfilled"})), &[]).await;
    assert_eq!((r.status, r.error_code()), (403, "insufficient_scope".into()));
    assert_eq!(app.call("GET", "/api/admin/audit", Some(&key), None, &[]).await.status, 403);
    assert_eq!(app.call("POST", "/api/admin/api-keys", Some(&key), Some(&make), &[]).await.status, 403);
    let r = app.call("GET", "/api/me", Some(&key), None, &[]).await;
    assert_eq!((r.status, r.error_code()), (401, "invalid_token".into()), "keys are for the admin API only");
    // audited as the key
    let audit = app.call("GET", "/api/admin/audit", Some(&admin), None, &[]).await.json();
    let by_key: Vec<&Value> =
        audit["data"].as_array().unwrap().iter().filter(|a| a["api_key_id"] == id.as_str()).collect();
    assert_eq!(by_key.len(), 1, "{audit}");
    assert_eq!(by_key[0]["action"], "product.price");
    assert!(audit["data"].as_array().unwrap().iter().any(|a| a["action"] == "api_key.create"));
    // revoked: at once
    assert_eq!(app.call("DELETE", &format!("/api/admin/api-keys/{id}"), Some(&admin), None, &[]).await.status, 204);
    let r = app.call("GET", "/api/admin/orders", Some(&key), None, &[]).await;
    assert_eq!((r.status, r.error_code()), (401, "invalid_token".into()));
    assert_eq!(app.call("DELETE", &format!("/api/admin/api-keys/{id}"), Some(&admin), None, &[]).await.status, 404);
    assert_eq!(app.call("GET", &format!("/api/admin/api-keys/{id}"), Some(&admin), None, &[]).await.status, 404);
    let list = app.call("GET", "/api/admin/api-keys", Some(&admin), None, &[]).await.json();
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "gone from the list");
    let revoked: Vec<i64> = column(&app.conn(), "SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL");
    assert_eq!(revoked[0], 1, "kept for the audit log");
    app.stop().await;
}

/// What would let the reader of a copy of the database act as someone is sealed with a key
/// kept beside it, not in it: the TOTP secret, a webhook's signing secret, a reset code in
/// mail not yet sent. `storefront secrets rotate` seals them again under a new key (refused
/// while the database is served) and two-factor login goes on working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_the_database_gives_no_secret_away_and_keys_rotate() {
    let app = TestApp::builder().fixture("small-catalog.sql").start().await;
    let admin = app.admin("vault@example.com").await;
    let (secret, _) = turn_on(&app, &admin).await;
    let r = app
        .call(
            "POST",
            "/api/admin/webhooks",
            Some(&admin),
            Some(&json!({"url": "https://hooks.example.com/x", "events": ["order.paid"]})),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let hook_secret = r.json()["data"]["secret"].as_str().unwrap().to_owned();
    let r =
        app.call("POST", "/api/auth/password/forgot", None, Some(&json!({"email": "vault@example.com"})), &[]).await;
    assert_eq!(r.status, 202);
    let reset_code =
        app.reset_mails()[0].split("Your reset code: ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    // a backup, as anyone holding a copy would read it
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_storefront"))
        .args(["backup", "--db"])
        .arg(&app.db_path)
        .arg("--out")
        .arg(&copy)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777, 0o600, "a backup is private");
    }
    let bytes = std::fs::read(&copy).unwrap();
    let raw = totp_rs::Secret::Encoded(secret.clone()).to_bytes().unwrap();
    let holds = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!holds(&raw), "the TOTP secret is in the copy");
    assert!(!holds(hook_secret.as_bytes()), "the webhook secret is in the copy");
    assert!(!holds(reset_code.as_bytes()), "the reset code is in the copy");
    assert!(holds(b"vault@example.com"), "(the copy is a real one)");

    // rotation: refused while served, then every secret sealed anew
    let rotate = |db: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_storefront"))
            .args(["secrets", "rotate", "--db"])
            .arg(db)
            .output()
            .unwrap()
    };
    let refused = rotate(&app.db_path);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("being served"));
    let db = app.db_path.clone();
    let stored = || -> Vec<Vec<u8>> {
        let c = rusqlite::Connection::open(&db).unwrap();
        let mut st = c
            .prepare("SELECT secret FROM two_factor UNION ALL SELECT CAST(secret AS BLOB) FROM webhook_subscriptions")
            .unwrap();
        st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    let files = app.stop_keeping_files().await;
    let before = stored();
    let key = std::fs::read_to_string(db.with_file_name("test-secrets.key")).unwrap();
    let rotated = rotate(&db);
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    assert!(
        String::from_utf8_lossy(&rotated.stdout).contains("3 secrets"),
        "{}",
        String::from_utf8_lossy(&rotated.stdout)
    );
    let after = stored();
    assert_eq!(before.len(), after.len());
    assert!(before.iter().zip(&after).all(|(a, b)| a != b), "every value sealed anew");
    assert_ne!(std::fs::read_to_string(db.with_file_name("test-secrets.key")).unwrap(), key, "a new key");
    // the shop goes on: two-factor login with the rotated secret, the reset code still works
    let app = TestApp::builder().same_data_as_path(&db).start().await;
    let login = json!({"email": "vault@example.com", "password": "correct horse 1", "otp": code(&secret, 1)});
    let r = app.call("POST", "/api/auth/login", None, Some(&login), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(app.reset_mails()[0].contains(&reset_code), "the unsent reset mail opens with the new key");
    app.stop().await;
    drop(files);
}
