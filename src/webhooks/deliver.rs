//! Sending deliveries: the HTTP client, a circuit breaker per endpoint, and the `webhook`
//! job that sends one subscription's deliveries in order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::store;
use crate::config::Config;
use crate::error::StoreError;
use crate::jobs::breaker::Breaker;
use crate::jobs::{backoff, Done, JobCtx, JobResult};
use crate::util::{now_ms, rfc3339};

/// A receiver has this long to answer (API.md: a 2xx within 10 s acknowledges).
pub const TIMEOUT: Duration = Duration::from_secs(10);

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector<super::target::VettingResolver>>, Full<Bytes>>;

/// The delivery side of webhooks, shared by every `webhook` job of this process.
pub struct Sender {
    client: HttpsClient,
    breakers: Mutex<HashMap<String, Arc<Breaker>>>,
    threshold: u32,
    cooldown: Duration,
    attempts: i64,
    retry_base: Duration,
    retry_max: Duration,
    /// `webhook_private_targets`: internal addresses allowed
    allow_private: bool,
}

impl Sender {
    pub fn new(c: &Config) -> anyhow::Result<Sender> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // one lookup per connection, each address vetted, and the connection made to them
        let mut http = HttpConnector::new_with_resolver(super::target::VettingResolver {
            allow_private: c.webhook_private_targets,
        });
        http.enforce_http(false);
        http.set_connect_timeout(Some(TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(https);
        Ok(Sender {
            client,
            breakers: Mutex::new(HashMap::new()),
            threshold: c.breaker_failures,
            cooldown: Duration::from_millis(c.breaker_cooldown_ms),
            attempts: c.webhook_attempts,
            retry_base: Duration::from_millis(c.job_retry_base_ms),
            retry_max: Duration::from_secs(c.job_retry_max_secs),
            allow_private: c.webhook_private_targets,
        })
    }

    /// The breaker of the endpoint (scheme, host and port) of `url`.
    pub fn breaker(&self, url: &str) -> Arc<Breaker> {
        let origin = url.parse::<axum::http::Uri>().ok().map_or_else(
            || url.to_owned(),
            |u| format!("{}://{}", u.scheme_str().unwrap_or("http"), u.authority().map_or("", |a| a.as_str())),
        );
        self.breakers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(origin)
            .or_insert_with(|| Arc::new(Breaker::new(self.threshold, self.cooldown)))
            .clone()
    }

    /// POSTs one delivery; the receiver's status, or why there was none — told coarsely
    /// ("refused" for a target that is not public, else "no answer"), so the delivery log
    /// is no tool for probing which hosts and ports answer.
    async fn post(&self, url: &str, event_id: i64, kind: &str, signature: &str, body: Vec<u8>) -> Result<u16, String> {
        // a literal address is connected to as it is: vet it here (names are vetted by
        // the resolver)
        if !self.allow_private && super::target::refused_literal(url).is_some() {
            return Err(super::target::REFUSED.to_owned());
        }
        let req = axum::http::Request::post(url)
            .header("content-type", "application/json")
            .header("user-agent", concat!("storefront-webhooks/", env!("CARGO_PKG_VERSION")))
            .header("storefront-event-id", event_id.to_string())
            .header("storefront-event-type", kind)
            .header("storefront-signature", signature)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("bad request: {e}"))?;
        match tokio::time::timeout(TIMEOUT, self.client.request(req)).await {
            Ok(Ok(resp)) => Ok(resp.status().as_u16()),
            Ok(Err(e)) if refused(&e) => Err(super::target::REFUSED.to_owned()),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "webhook delivery failed");
                Err("no answer".to_owned())
            }
            Err(_) => Err("no answer".to_owned()),
        }
    }
}

/// Whether the vetting resolver refused the target (somewhere in the error's causes).
fn refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.to_string().contains(super::target::REFUSED) {
            return true;
        }
        cause = c.source();
    }
    false
}

#[derive(serde::Deserialize)]
pub struct Args {
    subscription_id: i64,
}

/// Deliveries one run sends before it hands over to a fresh job (other jobs get a turn).
const PER_RUN: usize = 200;

/// The `webhook` job: sends subscription `id`'s pending deliveries, oldest first. It
/// snoozes while the oldest waits for its retry (so order holds) or the endpoint's breaker
/// is open.
pub async fn job(ctx: &JobCtx, args: Args) -> JobResult {
    let app = &ctx.app;
    let sender = &app.webhooks;
    let sub = args.subscription_id;
    let started = Instant::now();
    let mut sent = 0usize;
    loop {
        let Some((url, sealed)) = app.db.read(move |c| store::target(c, sub).map_err(StoreError::from)).await? else {
            return Ok(Done::Completed(Some(
                serde_json::json!({"sent": sent, "stopped": "subscription inactive or gone"}),
            )));
        };
        let secret = app.secrets.open_text(&sealed).map_err(|e| crate::jobs::Permanent(e.to_string()))?;
        let Some(head) = app.db.read(move |c| store::head(c, sub).map_err(StoreError::from)).await? else {
            return Ok(Done::Completed(Some(serde_json::json!({ "sent": sent }))));
        };
        if sent >= PER_RUN || started.elapsed() > Duration::from_secs(60) {
            app.db.writer.run(move |tx| crate::jobs::enqueue(tx, &super::job(sub)).map_err(StoreError::from)).await?;
            return Ok(Done::Completed(Some(serde_json::json!({"sent": sent, "continued": true}))));
        }
        let now = now_ms();
        if head.next_at > now {
            return Ok(Done::Snooze(Duration::from_millis((head.next_at - now) as u64)));
        }
        let breaker = sender.breaker(&url);
        if let Err(wait) = breaker.allow() {
            return Ok(Done::Snooze(wait));
        }
        let data: serde_json::Value = serde_json::from_str(&head.data).unwrap_or(serde_json::Value::Null);
        let body = serde_json::to_vec(&serde_json::json!({
            "id": head.event_id.to_string(),
            "type": head.kind,
            "created_at": rfc3339(head.created_at),
            "data": data,
        }))
        .expect("JSON values serialize");
        let t = now / 1000;
        let signature = super::signature(&secret, t, &body);
        let outcome = sender.post(&url, head.event_id, &head.kind, &signature, body).await;
        let at = now_ms();
        let (status, error, delivered) = match outcome {
            Ok(s) if (200..300).contains(&s) => (Some(s), None, true),
            Ok(s) => (Some(s), Some(format!("the receiver answered {s}")), false),
            Err(e) => (None, Some(e), false),
        };
        let attempts = head.attempts + 1;
        let next_at = if delivered || attempts >= sender.attempts {
            None
        } else {
            let jitter = crate::util::Rng::derive(at as u64, head.id as u64, attempts as u64).unit();
            Some(at + backoff(attempts, sender.retry_base, sender.retry_max, jitter).as_millis() as i64)
        };
        if delivered {
            breaker.success();
            app.metrics.webhook_delivered.increment(1);
            sent += 1;
        } else {
            breaker.failure();
            app.metrics.webhook_failed.increment(1);
            tracing::info!(
                webhook.subscription = sub,
                delivery = head.id,
                attempts,
                error = error.as_deref().unwrap_or(""),
                "webhook delivery failed"
            );
        }
        let id = head.id;
        let recorded_error = error.clone();
        app.db
            .writer
            .run(move |tx| {
                store::record_attempt(tx, id, status, recorded_error.as_deref(), delivered, next_at, at)
                    .map_err(StoreError::from)
            })
            .await?;
        if let Some(next) = next_at {
            // in order: nothing after it goes before it
            return Ok(Done::Snooze(Duration::from_millis((next - at).max(0) as u64)));
        }
    }
}
