//! The payment provider, as refunds see it: an interface ([`Provider`]) with the one
//! implementation a shop connects (`payment_provider_url`: its HTTP API), and the `refund`
//! job that sends a pending refund through it.
//!
//! Orders paid offline (or in a shop with no provider connected) never reach this: their
//! refunds are recorded as paid back by the shop, in the refund's own unit.
//!
//! The job:
//! - sends `POST <payment_provider_url>/refunds` with the header
//!   `Idempotency-Key: storefront-refund-<id>`, the same on every attempt, so a provider
//!   that honours it moves the money once however often the request arrives (a retry
//!   after a timeout, a worker killed mid-call and the job run again by another);
//! - a 2xx settles the refund `succeeded` (with the provider's `id` as its reference); a
//!   refusal (4xx other than 408 and 429) settles it `failed` with the provider's message;
//! - no answer, a 5xx, 408 or 429 is retried with the queue's backoff, behind a circuit
//!   breaker: while the provider is down, refunds wait for its probe instead of spending
//!   their attempts; after the last attempt the refund is `failed` ("the payment provider
//!   did not answer"), and may be asked for again.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::refunds::{self, Settled, ToSend};
use crate::config::Config;
use crate::error::StoreError;
use crate::jobs::breaker::Breaker;
use crate::jobs::{Done, JobCtx, JobResult};
use crate::util::now_ms;

/// The provider has this long to answer one refund.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// What the provider made of a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// the money is on its way back; the provider's reference, if it gave one
    Sent(Option<String>),
    /// refused, for good (the message says why)
    Refused(String),
}

/// A payment provider that takes refunds. `Err`: no answer worth keeping (retry later).
pub trait Provider: Send + Sync {
    fn refund<'a>(&'a self, refund: &'a ToSend) -> BoxFuture<'a, Result<Answer, String>>;
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The provider's HTTP API (`payment_provider_url`).
pub struct HttpProvider {
    url: String,
    key: Option<String>,
    client: HttpsClient,
}

impl HttpProvider {
    pub fn new(url: &str, key: Option<&str>) -> anyhow::Result<HttpProvider> {
        let crypto = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(crypto)?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(https);
        Ok(HttpProvider { url: url.trim_end_matches('/').to_owned(), key: key.map(str::to_owned), client })
    }
}

/// The header every attempt of refund `id` carries.
pub fn idempotency_key(id: i64) -> String {
    format!("storefront-refund-{id}")
}

impl Provider for HttpProvider {
    fn refund<'a>(&'a self, r: &'a ToSend) -> BoxFuture<'a, Result<Answer, String>> {
        Box::pin(async move {
            let body = serde_json::json!({
                "refund_id": r.id.to_string(),
                "order_id": r.order.to_string(),
                "amount": r.amount,
                "currency": r.currency,
                "payment_method": r.payment_method,
                "payment_ref": r.payment_ref,
                "reason": r.reason,
            });
            let mut req = axum::http::Request::post(format!("{}/refunds", self.url))
                .header("content-type", "application/json")
                .header("user-agent", concat!("storefront/", env!("CARGO_PKG_VERSION")))
                .header("idempotency-key", idempotency_key(r.id));
            if let Some(k) = &self.key {
                req = req.header("authorization", format!("Bearer {k}"));
            }
            let req = req
                .body(Full::new(Bytes::from(serde_json::to_vec(&body).expect("JSON values serialize"))))
                .map_err(|e| format!("bad request: {e}"))?;
            let resp = match tokio::time::timeout(TIMEOUT, self.client.request(req)).await {
                Ok(Ok(resp)) => resp,
                Ok(Err(e)) => return Err(format!("no answer: {e}")),
                Err(_) => return Err("no answer in time".to_owned()),
            };
            let status = resp.status().as_u16();
            let bytes = match tokio::time::timeout(TIMEOUT, resp.into_body().collect()).await {
                Ok(Ok(b)) => b.to_bytes(),
                _ => Bytes::new(),
            };
            let said: serde_json::Value = serde_json::from_slice(&bytes[..bytes.len().min(65_536)]).unwrap_or_default();
            let field = |k: &str| said.get(k).and_then(|v| v.as_str()).map(|s| s.chars().take(200).collect::<String>());
            match status {
                200..=299 => Ok(Answer::Sent(field("id"))),
                408 | 429 | 500..=599 => Err(format!("the payment provider answered {status}")),
                _ => Ok(Answer::Refused(
                    field("message")
                        .or_else(|| field("error"))
                        .map(|m| format!("the payment provider refused it ({status}): {m}"))
                        .unwrap_or_else(|| format!("the payment provider refused it ({status})")),
                )),
            }
        })
    }
}

/// The refund side of the payment provider, shared by every `refund` job of this process.
pub struct Refunds {
    provider: Option<Box<dyn Provider>>,
    breaker: Breaker,
}

impl Refunds {
    pub fn new(c: &Config) -> anyhow::Result<Refunds> {
        let provider: Option<Box<dyn Provider>> = match &c.payment_provider_url {
            Some(url) => Some(Box::new(HttpProvider::new(url, c.payment_provider_key.as_deref())?)),
            None => None,
        };
        Ok(Refunds {
            provider,
            breaker: Breaker::new(c.breaker_failures, Duration::from_millis(c.breaker_cooldown_ms)),
        })
    }
}

#[derive(serde::Deserialize)]
pub struct Args {
    refund_id: i64,
}

/// The `refund` job: sends pending refund `refund_id` to the provider (see the module).
pub async fn job(ctx: &JobCtx, args: Args) -> JobResult {
    let app = &ctx.app;
    let id = args.refund_id;
    let Some(refund) = app.db.read(move |c| refunds::pending(c, id).map_err(StoreError::from)).await? else {
        return Ok(Done::Completed(Some(serde_json::json!({"refund": id, "settled": "before"}))));
    };
    let settle = |how: Settled| async move {
        let fx = app.effects();
        let outcome = match &how {
            Settled::Succeeded { .. } => "succeeded",
            Settled::Failed { .. } => "failed",
        };
        app.db.writer.run(move |tx| refunds::settle(tx, id, how, now_ms(), fx).map_err(StoreError::from)).await?;
        Ok::<_, anyhow::Error>(Done::Completed(Some(serde_json::json!({"refund": id, "status": outcome}))))
    };
    let Some(provider) = &app.refunds.provider else {
        // the provider was disconnected since the refund was asked for: the shop pays it
        // back itself, as for any refund without one
        return settle(Settled::Succeeded { provider_ref: None }).await;
    };
    if let Err(wait) = app.refunds.breaker.allow() {
        return Ok(Done::Snooze(wait));
    }
    match provider.refund(&refund).await {
        Ok(answer) => {
            app.refunds.breaker.success();
            match answer {
                Answer::Sent(provider_ref) => settle(Settled::Succeeded { provider_ref }).await,
                Answer::Refused(error) => settle(Settled::Failed { error }).await,
            }
        }
        Err(e) => {
            app.refunds.breaker.failure();
            tracing::warn!(refund = id, attempt = ctx.attempt, error = %e, "refund not sent");
            if ctx.is_last_attempt() {
                return settle(Settled::Failed { error: format!("the payment provider did not answer ({e})") }).await;
            }
            Err(anyhow::anyhow!(e))
        }
    }
}
