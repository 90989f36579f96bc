//! The write-path load generator of `benches/checkout.sh`: keep-alive HTTP/1.1 clients on
//! 127.0.0.1, bounded in count and time.
//!
//! usage: shop_load ADDR SCENARIO CONNS SECS
//! - `checkout`: each client first prepares its own guest carts (`PREPARE` per client,
//!   default 250: guest session + one line), then, once the server is at rest again (with
//!   `SERVER_PID`), checks them out as fast as it can
//! - `checkout_gift`: as `checkout`, with a gift card applied to every cart: client `i` uses
//!   the `i`-th code of `GIFT_CODES` (comma-separated, taken round)
//!   (one card for all: every checkout spends from it)
//! - `checkout_gift_part`: as `checkout`, each cart with a card of its own worth `GIFT_PART`
//!   minor units (default 100), issued while preparing with the administrator's `ADMIN_TOKEN`:
//!   the card pays part of the order and the rest is left to pay by card, as without one
//! - `checkout_paid`: as `checkout`, and each order then paid through the payment
//!   provider's signed callback (`POST /api/webhooks/payments`, signed with `PAY_SECRET`,
//!   the server's `payment_webhook_secret`): an operation is one order placed and paid, the
//!   end state of an order a gift card pays in whole
//! - `flow`: each iteration is the whole flow: guest session, add to cart, checkout
//! - `static`: POST /api/checkout with a fixed body (against the static server baseline)
//!
//! Products are drawn from ids 1..=PRODUCTS (default 1000), which must have stock.
//! Prints one JSON line: completed operations, rate per second, p50/p99 latency of the
//! measured requests (ms), errors; with `SERVER_PID` (and `CLK_TCK`, default 100), also the
//! CPU time the server's process spent over the measured part, per completed operation
//! (`cpu_us_per_op`: all its threads, user and system), which a shared machine's noise moves
//! far less than the rate.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        Conn { addr, stream: None, buf: Vec::with_capacity(16 * 1024) }
    }

    /// One request on the kept-alive connection (reconnecting when the server closed it).
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &str,
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        self.send(method, path, &auth, body).await
    }

    /// `POST path` signed with `X-Signature: sha256=<sig>`.
    async fn call_signed(&mut self, path: &str, sig: &str, body: &str) -> std::io::Result<(u16, Vec<u8>)> {
        self.send("POST", path, &format!("X-Signature: sha256={sig}\r\n"), body).await
    }

    /// One request with `headers` (whole lines) on the kept-alive connection.
    async fn send(&mut self, method: &str, path: &str, headers: &str, body: &str) -> std::io::Result<(u16, Vec<u8>)> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}");
        if !body.is_empty() {
            req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        req.push_str(body);
        for attempt in 0..2 {
            if self.stream.is_none() {
                let s = TcpStream::connect(self.addr).await?;
                s.set_nodelay(true)?;
                self.stream = Some(s);
                self.buf.clear();
            }
            let s = self.stream.as_mut().expect("connected above");
            if s.write_all(req.as_bytes()).await.is_ok() {
                if let Ok(r) = read_response(s, &mut self.buf).await {
                    return Ok(r);
                }
            }
            self.stream = None;
            if attempt == 1 {
                break;
            }
        }
        Err(std::io::Error::other("the connection failed twice"))
    }
}

async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<(u16, Vec<u8>)> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).map_err(std::io::Error::other)?;
            let status: u16 = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| std::io::Error::other("bad status"))?;
            let len: usize = head
                .split("\r\n")
                .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                read_more(s, buf).await?;
            }
            let body = buf[end + 4..end + 4 + len].to_vec();
            buf.drain(..end + 4 + len);
            return Ok((status, body));
        }
        read_more(s, buf).await?;
    }
}

async fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    let n = s.read(&mut chunk).await?;
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

const CHECKOUT: &str = r#"{"shipping_address":{"name":"Load Test","line1":"1 Main St","city":"Austin","state":"TX","postal_code":"73301","country":"US"},"payment_method":"card"}"#;

fn token_of(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(v["data"]["token"].as_str()?.to_owned())
}

async fn guest_cart(c: &mut Conn, product: u64) -> Option<String> {
    let (s, b) = c.call("POST", "/api/auth/guest", None, "").await.ok()?;
    let token = if s == 201 { token_of(&b)? } else { return None };
    let add = format!(r#"{{"product_id":"{product}","quantity":1}}"#);
    let (s, _) = c.call("POST", "/api/cart", Some(&token), &add).await.ok()?;
    (s == 201).then_some(token)
}

/// A guest cart with the gift card `code` applied.
async fn gift_cart(c: &mut Conn, product: u64, code: &str) -> Option<String> {
    let token = guest_cart(c, product).await?;
    let (s, _) = c.call("POST", "/api/cart/gift-card", Some(&token), &format!(r#"{{"code":"{code}"}}"#)).await.ok()?;
    (s == 200).then_some(token)
}

/// A new gift card worth `amount` (USD minor units), issued by the administrator: its code.
/// The provider's callback for `order`: paid, signed as `POST /api/webhooks/payments` wants.
async fn pay(c: &mut Conn, secret: &str, order: &str, event: &str) -> bool {
    use hmac::Mac;
    let body = format!(r#"{{"event_id":"{event}","order_id":"{order}","status":"succeeded"}}"#);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body.as_bytes());
    let sig: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    matches!(c.call_signed("/api/webhooks/payments", &sig, &body).await, Ok((200, _)))
}

/// The order id of a checkout's answer.
fn order_of(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(v["data"]["order_id"].as_str()?.to_owned())
}

async fn issue_card(c: &mut Conn, admin: &str, amount: u64) -> Option<String> {
    let body = format!(r#"{{"amount":{amount},"currency":"USD","note":"checkout bench"}}"#);
    let (s, b) = c.call("POST", "/api/admin/gift-cards", Some(admin), &body).await.ok()?;
    let v: serde_json::Value = serde_json::from_slice(&b).ok().filter(|_| s == 201)?;
    Some(v["data"]["code"].as_str()?.to_owned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!(
            "usage: shop_load ADDR checkout|checkout_gift|checkout_gift_part|checkout_paid|flow|static CONNS SECS"
        );
        std::process::exit(2);
    }
    let addr: SocketAddr = args[1].parse().expect("ADDR like 127.0.0.1:8080");
    assert!(addr.ip().is_loopback(), "load goes to this machine only");
    let scenario = args[2].clone();
    let conns: usize = args[3].parse().expect("CONNS");
    let secs: u64 = args[4].parse().expect("SECS");
    let prepare: usize = std::env::var("PREPARE").ok().and_then(|v| v.parse().ok()).unwrap_or(250);
    let products: u64 = std::env::var("PRODUCTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let codes: Vec<String> = std::env::var("GIFT_CODES")
        .unwrap_or_default()
        .split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    assert!(scenario != "checkout_gift" || !codes.is_empty(), "checkout_gift needs GIFT_CODES");
    let admin = std::env::var("ADMIN_TOKEN").unwrap_or_default();
    assert!(scenario != "checkout_gift_part" || !admin.is_empty(), "checkout_gift_part needs ADMIN_TOKEN");
    let secret = std::env::var("PAY_SECRET").unwrap_or_default();
    assert!(scenario != "checkout_paid" || !secret.is_empty(), "checkout_paid needs PAY_SECRET");
    let part: u64 = std::env::var("GIFT_PART").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async move {
        // phase 1 (checkout only): every client prepares its carts
        let mut prepared: Vec<Vec<String>> = vec![Vec::new(); conns];
        if scenario.starts_with("checkout") {
            let started = Instant::now();
            let mut set = tokio::task::JoinSet::new();
            for i in 0..conns {
                let gift = (scenario == "checkout_gift").then(|| codes[i % codes.len()].clone());
                let issuer = (scenario == "checkout_gift_part").then(|| admin.clone());
                set.spawn(async move {
                    let mut c = Conn::new(addr);
                    let mut tokens = Vec::with_capacity(prepare);
                    for k in 0..prepare {
                        let product = 1 + ((i * prepare + k) as u64 * 7919) % products;
                        let cart = match (&gift, &issuer) {
                            (Some(code), _) => gift_cart(&mut c, product, code).await,
                            (None, Some(admin)) => match issue_card(&mut c, admin, part).await {
                                Some(code) => gift_cart(&mut c, product, &code).await,
                                None => None,
                            },
                            (None, None) => guest_cart(&mut c, product).await,
                        };
                        tokens.extend(cart);
                    }
                    (i, tokens)
                });
            }
            while let Some(r) = set.join_next().await {
                let (i, tokens) = r.unwrap();
                prepared[i] = tokens;
            }
            let n: usize = prepared.iter().map(Vec::len).sum();
            eprintln!("prepared {n} carts in {:.1}s", started.elapsed().as_secs_f64());
            // what preparing left the server to do (its jobs, the log's checkpoint) is not
            // the checkouts' cost: measure from a server at rest
            let waited = Instant::now();
            wait_server_idle().await;
            eprintln!("the server was at rest {:.1}s later", waited.elapsed().as_secs_f64());
        }
        // phase 2: measure
        let cpu_before = server_cpu_ticks();
        let errors = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(secs);
        let started = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for (i, tokens) in prepared.into_iter().enumerate() {
            let scenario = scenario.clone();
            let errors = errors.clone();
            let secret = secret.clone();
            set.spawn(async move {
                let mut c = Conn::new(addr);
                let mut lat: Vec<u32> = Vec::new();
                let mut k = 0u64;
                let mut tokens = tokens.into_iter();
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    let ok = match scenario.as_str() {
                        "checkout" | "checkout_gift" | "checkout_gift_part" => match tokens.next() {
                            Some(t) => {
                                matches!(c.call("POST", "/api/checkout", Some(&t), CHECKOUT).await, Ok((201, _)))
                            }
                            None => break,
                        },
                        "checkout_paid" => match tokens.next() {
                            Some(t) => match c.call("POST", "/api/checkout", Some(&t), CHECKOUT).await {
                                Ok((201, body)) => match order_of(&body) {
                                    Some(order) => pay(&mut c, &secret, &order, &format!("bench-{order}")).await,
                                    None => false,
                                },
                                _ => false,
                            },
                            None => break,
                        },
                        "flow" => {
                            k += 1;
                            match guest_cart(&mut c, 1 + (i as u64 * 104_729 + k * 7919) % products).await {
                                Some(t) => {
                                    matches!(c.call("POST", "/api/checkout", Some(&t), CHECKOUT).await, Ok((201, _)))
                                }
                                None => false,
                            }
                        }
                        _ => matches!(c.call("POST", "/api/checkout", Some("x"), CHECKOUT).await, Ok((200 | 201, _))),
                    };
                    if ok {
                        lat.push(t0.elapsed().as_micros() as u32);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                lat
            });
        }
        let mut all = Vec::new();
        while let Some(r) = set.join_next().await {
            all.extend(r.unwrap());
        }
        let cpu = server_cpu_ticks().zip(cpu_before).map(|(after, before)| after - before);
        let elapsed = started.elapsed().as_secs_f64();
        all.sort_unstable();
        let pct = |p: f64| {
            all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                .map_or(0.0, |v| *v as f64 / 1000.0)
        };
        println!(
            "{}",
            serde_json::json!({
                "scenario": scenario, "conns": conns, "completed": all.len(), "secs": (elapsed * 100.0).round() / 100.0,
                "rate": (all.len() as f64 / elapsed).round(), "p50_ms": pct(0.50), "p99_ms": pct(0.99),
                "errors": errors.load(Ordering::Relaxed),
                "cpu_us_per_op": cpu.filter(|_| !all.is_empty()).map(|ticks| {
                    let per_tick = 1e6 / std::env::var("CLK_TCK").ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(100.0);
                    (ticks as f64 * per_tick / all.len() as f64).round()
                }),
            })
        );
    });
}

/// Until the server (`SERVER_PID`) has used under 5 % of a core for a second, at most 60 s.
async fn wait_server_idle() {
    let hz: u64 = std::env::var("CLK_TCK").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let Some(mut last) = server_cpu_ticks() else { return };
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(now) = server_cpu_ticks() else { return };
        if (now - last) * 20 < hz {
            return;
        }
        last = now;
    }
    eprintln!("the server did not come to rest in 60 s");
}

/// The server's CPU time so far (user and system, all threads) in clock ticks, when
/// `SERVER_PID` names a process: fields 14 and 15 of its `/proc/PID/stat`.
fn server_cpu_ticks() -> Option<u64> {
    let pid = std::env::var("SERVER_PID").ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name (field 2) may hold spaces: count the fields after its closing paren
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}
