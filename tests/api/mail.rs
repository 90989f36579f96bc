//! Mail over a real SMTP server (aiosmtpd): the reset code arrives and works, the code is
//! not kept once sent, order confirmations and payment receipts go out; a server that is
//! down trips the circuit breaker (mail waits for its probe instead of hammering it) and
//! everything goes out once it is back.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::json;

use crate::common::smtp_server::{free_port, readable, SmtpServer};
use crate::common::{self, address, column, TestApp};

const SECRET: &str = "whsec-mail-test-0123456789";

/// The text of a raw message, soft line breaks of quoted-printable undone.
fn text(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_codes_confirmations_and_receipts_go_out_over_smtp() {
    let smtp = SmtpServer::start();
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.smtp_url = Some(smtp.url());
            c.mail_from = "Corner Shop <shop@example.com>".into();
            c.payment_webhook_secret = Some(SECRET.into());
        })
        .start()
        .await;
    app.register("shopper@example.net").await;

    // the reset code, end to end
    let r =
        app.call("POST", "/api/auth/password/forgot", None, Some(&json!({"email": "shopper@example.net"})), &[]).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let mails = smtp.wait_for(1, 30, |m| m.contains("Reset your password")).await;
    let mail = text(&mails[0]);
    assert!(mail.contains("To: shopper@example.net"), "{mail}");
    assert!(
        mail.contains("From: \"Corner Shop\" <shop@example.com>")
            || mail.contains("From: Corner Shop <shop@example.com>"),
        "{mail}"
    );
    let code = mail.split("Your reset code: ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let c = app.conn();
    let sent = || {
        column::<i64>(&c, "SELECT count(*) FROM mail_outbox WHERE kind = 'password_reset' AND sent_at IS NOT NULL")[0]
    };
    common::wait_for("the outbox to record the sending", 30, || sent() == 1).await;
    let bodies: Vec<String> = column(&c, "SELECT body FROM mail_outbox WHERE kind = 'password_reset'");
    assert!(!bodies[0].contains(&code), "the code is not kept in clear once sent: {}", bodies[0]);
    let reset = json!({"token": code, "password": "a brand new pass"});
    assert_eq!(app.call("POST", "/api/auth/password/reset", None, Some(&reset), &[]).await.status, 204);
    let login = json!({"email": "shopper@example.net", "password": "a brand new pass"});
    let r = app.call("POST", "/api/auth/login", None, Some(&login), &[]).await;
    assert_eq!(r.status, 200);
    // (the reset ended every earlier session)
    let token = r.json()["data"]["token"].as_str().unwrap().to_owned();

    // an order's confirmation, then its receipt
    let b =
        json!({"items": [{"product_id": "1", "quantity": 1}], "shipping_address": address(), "payment_method": "card"});
    let r = app.call("POST", "/api/orders", Some(&token), Some(&b), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let placed = r.json()["data"].clone();
    let order = placed["order_id"].as_str().unwrap().to_owned();
    let subject = format!("Subject: Your order {order}");
    smtp.wait_for(1, 30, |m| m.contains(&subject)).await;
    let event = json!({"event_id": format!("evt-{order}"), "order_id": order, "status": "succeeded",
                       "amount": placed["total"]["amount"]});
    app.payment_webhook(SECRET, &event.to_string()).await;
    let receipt = format!("Subject: Payment received for order {order}");
    let got = smtp.wait_for(1, 30, |m| m.contains(&receipt)).await;
    assert!(got[0].contains("To: shopper@example.net"));
    assert_eq!(smtp.messages().len(), 3, "one mail each, none twice");
    app.stop().await;
}

/// A TCP server that takes each connection and closes it at once (an SMTP server that is
/// down but reachable), recording when each came.
struct DeadServer {
    accepted: Arc<Mutex<Vec<Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

impl DeadServer {
    async fn start(port: u16) -> DeadServer {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let accepted: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let a = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                a.lock().unwrap().push(Instant::now());
                drop(stream);
            }
        });
        DeadServer { accepted, task }
    }
    fn count(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }
    async fn stop(self) -> Vec<Instant> {
        self.task.abort();
        let _ = self.task.await;
        let a = self.accepted.lock().unwrap().clone();
        a
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_smtp_server_trips_the_breaker_and_mail_goes_out_once_it_is_back() {
    let port = free_port();
    let dead = DeadServer::start(port).await;
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
            // one mail at a time, quick retries, a breaker that opens after 3 failures for 1 s
            c.jobs_concurrency = 1;
            c.job_retry_base_ms = 20;
            c.breaker_failures = 3;
            c.breaker_cooldown_ms = 1_000;
        })
        .start()
        .await;
    for i in 0..6 {
        app.register(&format!("user{i}@example.com")).await;
        let r = app
            .call(
                "POST",
                "/api/auth/password/forgot",
                None,
                Some(&json!({"email": format!("user{i}@example.com")})),
                &[],
            )
            .await;
        assert_eq!(r.status, 202);
    }
    // three failures open the breaker; the next connection is its probe, a cool-down later
    common::wait_for("the breaker's probe", 30, || dead.count() >= 4).await;
    let at = dead.stop().await;
    let gap = at[3].duration_since(at[2]);
    assert!(
        gap.as_millis() >= 500,
        "after 3 failures the server was left alone until the probe, not tried at once by the other mails ({gap:?})"
    );
    let c = app.conn();

    // the server comes back: every mail goes out
    let smtp = SmtpServer::start_on(port);
    smtp.wait_for(6, 60, |m| m.contains("Reset your password")).await;
    let sent = || column::<i64>(&c, "SELECT count(*) FROM mail_outbox WHERE sent_at IS NOT NULL")[0];
    common::wait_for("the outbox to record them", 30, || sent() == 6).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_sends_mail_with_smtp_url_from_the_command_line() {
    let smtp = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = common::make_db(dir.path(), &common::Data::Fixture("small-catalog.sql"));
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_storefront"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--log-level", "warn", "--smtp-url", &smtp.url()])
        .args(["--mail-from", "Shop <shop@example.com>", "--db"])
        .arg(&db)
        .env_remove("STOREFRONT_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while common::try_send(addr, "GET", b"/ready", &[], b"").await.is_none_or(|r| r.status != 200) {
        assert!(tokio::time::Instant::now() < deadline, "the server became ready");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let body = json!({"email": "grace@example.com"}).to_string();
    let r = common::send(
        addr,
        "POST",
        b"/api/auth/password/forgot",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 202);
    let mails = smtp.wait_for(1, 30, |m| m.contains("Reset your password")).await;
    assert!(mails[0].contains("To: grace@example.com"));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_is_written_in_the_language_of_its_reader() {
    let smtp = SmtpServer::start();
    let app = TestApp::builder()
        .fixture("small-catalog.sql")
        .config(|c| {
            c.smtp_url = Some(smtp.url());
            c.locales = "en, de, fr, pt-BR".into();
            c.payment_webhook_secret = Some(SECRET.into());
        })
        .start()
        .await;
    let mail_to = |to: &'static str, subject: String| {
        let smtp = &smtp;
        async move {
            let got = smtp
                .wait_for(1, 30, |m| readable(m).contains(&format!("To: {to}")) && readable(m).contains(&subject))
                .await;
            readable(
                got.iter()
                    .find(|m| readable(m).contains(&format!("To: {to}")) && readable(m).contains(&subject))
                    .unwrap(),
            )
        }
    };

    // a customer who reads German (asked as Austrian German: the shop's German)
    let body = json!({"email": "anna@example.de", "password": "a long password", "name": "Anna", "locale": "de-AT"});
    let r = app.call("POST", "/api/auth/register", None, Some(&body), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["data"]["customer"]["locale"], "de");
    let anna = r.json()["data"]["token"].as_str().unwrap().to_owned();
    // her order's mail is German whatever the request's language, amounts as German writes them
    let b =
        json!({"items": [{"product_id": "1", "quantity": 1}], "shipping_address": address(), "payment_method": "card"});
    let r = app.call("POST", "/api/orders", Some(&anna), Some(&b), &[("accept-language", "fr")]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let placed = r.json()["data"].clone();
    let order = placed["order_id"].as_str().unwrap().to_owned();
    let total = placed["total"]["amount"].as_i64().unwrap();
    let mail = mail_to("anna@example.de", format!("Subject: Ihre Bestellung {order}")).await;
    let german = format!("{},{:02} USD", total / 100, total % 100);
    assert!(mail.contains(&format!("Vielen Dank für Ihre Bestellung {order}.")), "{mail}");
    assert!(mail.contains(&format!("Summe: {german}")), "{mail}");
    let event = json!({"event_id": format!("evt-{order}"), "order_id": order, "status": "succeeded",
                       "amount": placed["total"]["amount"]});
    app.payment_webhook(SECRET, &event.to_string()).await;
    let mail = mail_to("anna@example.de", format!("Subject: Zahlung für Bestellung {order} erhalten")).await;
    assert!(mail.contains(&format!("Bezahlt: {german}")), "{mail}");
    // her password reset too
    let forgot = json!({"email": "anna@example.de"});
    assert_eq!(app.call("POST", "/api/auth/password/forgot", None, Some(&forgot), &[]).await.status, 202);
    let mail = mail_to("anna@example.de", "Subject: Passwort zurücksetzen".into()).await;
    assert!(mail.contains("Ihr Code: "), "{mail}");

    // a guest's mail is in the language the checkout asked in
    let guest = app.guest().await;
    let b = json!({"items": [{"product_id": "1", "quantity": 1}], "shipping_address": address(),
                   "payment_method": "card", "email": "guest@example.fr"});
    let r = app.call("POST", "/api/orders", Some(&guest), Some(&b), &[("accept-language", "fr-CA, en;q=0.5")]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let order = r.json()["data"]["order_id"].as_str().unwrap().to_owned();
    let mail = mail_to("guest@example.fr", format!("Subject: Votre commande {order}")).await;
    assert!(mail.contains("Merci pour votre commande") && mail.contains("À payer : "), "{mail}");
    // a language the shop sells in but has no mail words for is written in English
    let b = json!({"items": [{"product_id": "1", "quantity": 1}], "shipping_address": address(),
                   "payment_method": "card", "email": "cliente@example.br"});
    let r = app.call("POST", "/api/orders", Some(&app.guest().await), Some(&b), &[("accept-language", "pt-BR")]).await;
    let order = r.json()["data"]["order_id"].as_str().unwrap().to_owned();
    let mail = mail_to("cliente@example.br", format!("Subject: Your order {order}")).await;
    assert!(mail.contains("Thank you for your order"), "{mail}");

    // bad languages are refused and change nothing (once the mail above is recorded as sent)
    common::settled(&app).await;
    let before = common::digest(&app.conn());
    for bad in ["es", "klingon", "DE", ""] {
        let body = json!({"email": "x@example.com", "password": "a long password", "name": "X", "locale": bad});
        let r = app.call("POST", "/api/auth/register", None, Some(&body), &[]).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
        assert!(r.json()["error"]["details"]["locale"].as_str().unwrap().contains("en, de, fr, pt-BR"), "{}", r.text());
        let r = app.call("PATCH", "/api/me", Some(&anna), Some(&json!({"locale": bad})), &[]).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
    }
    assert_eq!(common::digest(&app.conn()), before);
    // back to the default: her next reset is in English
    let r = app.call("PATCH", "/api/me", Some(&anna), Some(&json!({"locale": "en"})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["locale"], serde_json::Value::Null);
    assert_eq!(app.call("POST", "/api/auth/password/forgot", None, Some(&forgot), &[]).await.status, 202);
    mail_to("anna@example.de", "Subject: Reset your password".into()).await;
    // registering without a language takes the request's
    let body = json!({"email": "marie@example.fr", "password": "a long password", "name": "Marie"});
    let r = app.call("POST", "/api/auth/register", None, Some(&body), &[("accept-language", "fr")]).await;
    assert_eq!(r.json()["data"]["customer"]["locale"], "fr", "{}", r.text());
    app.stop().await;
}
