//! The kinds of job this binary runs ([`Kind`]: each kind's name, queue, attempts and time
//! limit) and what a job body gets ([`JobCtx`]) and answers ([`Done`]). A job of a kind
//! this binary does not know (a newer version's) fails its attempts like any other poison
//! job, blocking nothing.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::de::DeserializeOwned;

use super::Queue;
use crate::app::AppState;

/// A job body's answer.
#[derive(Debug)]
pub enum Done {
    /// finished; the value is kept as the job's `result`
    Completed(Option<serde_json::Value>),
    /// not now (an open circuit breaker): run again after this long, without spending an
    /// attempt
    Snooze(Duration),
}

pub type JobResult = anyhow::Result<Done>;

/// What a job body gets: the application, and its own record.
pub struct JobCtx {
    pub app: AppState,
    pub id: i64,
    pub attempt: i64,
    pub max_attempts: i64,
    worker: String,
    last_progress: Option<Instant>,
}

impl JobCtx {
    pub(super) fn new(app: AppState, id: i64, attempt: i64, max_attempts: i64, worker: String) -> JobCtx {
        JobCtx { app, id, attempt, max_attempts, worker, last_progress: None }
    }

    /// Reports `done/total`; written at most every 250 ms (and always when `force`).
    pub async fn progress(&mut self, done: i64, total: Option<i64>, force: bool) -> anyhow::Result<()> {
        if !force && self.last_progress.is_some_and(|t| t.elapsed() < Duration::from_millis(250)) {
            return Ok(());
        }
        self.last_progress = Some(Instant::now());
        let (id, worker) = (self.id, self.worker.clone());
        self.app
            .db
            .writer
            .run(move |tx| super::store::progress(tx, id, &worker, done, total).map_err(crate::error::StoreError::from))
            .await?;
        Ok(())
    }

    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

/// Every kind of job, spelled once: its name in the queue's rows, its queue, attempts and
/// time limit. Each kind's body is registered where the application is assembled
/// (`crate::app::jobs`), in one exhaustive `match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Mail,
    /// sends one refund to the payment provider (`{"refund_id": N}`)
    Refund,
    Webhook,
    OrderExpiry,
    ImportProducts,
    Export,
    Purge,
    SearchUpkeep,
    Archive,
    /// a thumbnail of an uploaded picture
    MediaThumbnail,
    /// removes stored pictures no image names any more
    MediaSweep,
    /// does nothing: the queue's own cost (benchmarks, health checks)
    Noop,
    /// holds a worker slot for `{"ms": N}` (tests of shutdown and leases)
    Sleep,
}

impl Kind {
    /// The kinds of work the shop enqueues (and the metrics count).
    pub const SHOP: [Kind; 11] = [
        Kind::Mail,
        Kind::Refund,
        Kind::Webhook,
        Kind::OrderExpiry,
        Kind::ImportProducts,
        Kind::Export,
        Kind::Purge,
        Kind::SearchUpkeep,
        Kind::Archive,
        Kind::MediaThumbnail,
        Kind::MediaSweep,
    ];
    /// Every kind: the shop's, and the two the tests and benchmarks enqueue.
    pub fn all() -> impl Iterator<Item = Kind> {
        Kind::SHOP.into_iter().chain([Kind::Noop, Kind::Sleep])
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Mail => "mail",
            Kind::Refund => "refund",
            Kind::Webhook => "webhook",
            Kind::OrderExpiry => "order_expiry",
            Kind::ImportProducts => "import_products",
            Kind::Export => "export",
            Kind::Purge => "purge",
            Kind::SearchUpkeep => "search_upkeep",
            Kind::Archive => "archive",
            Kind::MediaThumbnail => "media_thumbnail",
            Kind::MediaSweep => "media_sweep",
            Kind::Noop => "noop",
            Kind::Sleep => "sleep",
        }
    }

    /// The kind of a stored job; `None` for one this binary does not know (a newer
    /// version's), which fails its attempts like any other poison job.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::all().find(|k| k.name() == name)
    }

    /// Its queue and attempts.
    pub fn defaults(self) -> (Queue, i64) {
        match self {
            Kind::Mail => (Queue::High, 12),
            Kind::Refund => (Queue::High, 25),
            Kind::Webhook => (Queue::Default, 25),
            Kind::OrderExpiry => (Queue::High, 3),
            Kind::ImportProducts | Kind::Export => (Queue::Default, 3),
            Kind::MediaThumbnail | Kind::MediaSweep => (Queue::Default, 5),
            Kind::Purge | Kind::SearchUpkeep | Kind::Archive => (Queue::Low, 3),
            Kind::Noop | Kind::Sleep => (Queue::Default, 5),
        }
    }

    /// Longest one attempt may run before it counts as failed.
    pub fn time_limit(self) -> Duration {
        match self {
            Kind::ImportProducts | Kind::Export | Kind::Archive => Duration::from_secs(6 * 3600),
            Kind::Webhook => Duration::from_secs(300),
            _ => Duration::from_secs(120),
        }
    }
}

impl crate::http::Choice for Kind {
    fn choices() -> Vec<(&'static str, Kind)> {
        Kind::all().map(|k| (k.name(), k)).collect()
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The arguments of a job, parsed.
pub fn args<T: DeserializeOwned>(raw: &str) -> anyhow::Result<T> {
    serde_json::from_str(raw).context("the job's arguments do not parse")
}

/// Runs one attempt of a job of a kind: the registry of job bodies, assembled with the
/// application.
pub type Perform = for<'a> fn(&'a mut JobCtx, Kind, &'a str) -> futures_util::future::BoxFuture<'a, JobResult>;

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn kinds_round_trip_by_name() {
        for k in Kind::all() {
            assert_eq!(Kind::parse(k.name()), Some(k));
        }
        assert_eq!(Kind::parse("from_a_newer_version"), None);
    }
}
