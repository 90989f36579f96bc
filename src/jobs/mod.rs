//! Background work: a job queue in the shop's own SQLite database, written only through the
//! writer.
//!
//! - A job is enqueued inside the writer unit of the change it belongs to ([`enqueue`]):
//!   an order and its confirmation mail commit together or not at all.
//! - Queues `high`, `default`, `low` are taken in that order; a job may wait for its
//!   `run_at` (scheduled); a job with a `unique_key` is not enqueued again while one with
//!   the same key waits; a long job (an import) reports `done/total` progress.
//! - At least once: the runner takes jobs with a lease it renews while they run. A worker
//!   that dies (kill -9) stops renewing; once the lease has run out, the job is taken again.
//!   A failed attempt is retried with exponential backoff and jitter until `max_attempts`,
//!   then the job is `failed`, kept with every attempt's error, and can be retried or
//!   cancelled (`storefront jobs …`, `/api/admin/jobs`). Completed jobs are pruned.
//! - No polling while idle: the runner sleeps until a commit enqueues work (the writer's
//!   hook wakes it) or until the earliest `run_at` or lease end it knows of.
//! - Recurring tasks are registered in ONE place, [`schedule`].
//!
//! States: `scheduled` (waits for its time) → `available` → `running` → `completed`, or
//! back to `retryable` (waits for its backoff) after a failed attempt, `failed` after the
//! last one, `cancelled` by an administrator.

pub mod breaker;
pub mod kinds;
pub mod runner;
pub mod schedule;
pub mod store;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use kinds::{Done, JobCtx, JobResult, Kind};
pub use runner::Jobs;
pub use store::enqueue;

/// A queue: a priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Queue {
    High,
    Default,
    Low,
}

impl Queue {
    pub const ALL: [Queue; 3] = [Queue::High, Queue::Default, Queue::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Queue::High => "high",
            Queue::Default => "default",
            Queue::Low => "low",
        }
    }

    /// Available jobs are taken by ascending priority.
    pub fn priority(self) -> i64 {
        match self {
            Queue::High => 0,
            Queue::Default => 1,
            Queue::Low => 2,
        }
    }

    pub fn parse(s: &str) -> Option<Queue> {
        Queue::ALL.into_iter().find(|q| q.as_str() == s)
    }
}

impl crate::http::Choice for Queue {
    fn choices() -> Vec<(&'static str, Queue)> {
        Queue::ALL.map(|q| (q.as_str(), q)).to_vec()
    }
}

/// Where a job is in its life (see the module's description).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Scheduled,
    Available,
    Running,
    Retryable,
    Completed,
    Failed,
    Cancelled,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Scheduled,
        State::Available,
        State::Running,
        State::Retryable,
        State::Completed,
        State::Failed,
        State::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Scheduled => "scheduled",
            State::Available => "available",
            State::Running => "running",
            State::Retryable => "retryable",
            State::Completed => "completed",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|q| q.as_str() == s)
    }
}

impl crate::http::Choice for State {
    fn choices() -> Vec<(&'static str, State)> {
        State::ALL.map(|s| (s.as_str(), s)).to_vec()
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: Kind,
    pub queue: Queue,
    pub args: serde_json::Value,
    pub unique_key: Option<String>,
    /// unix ms; `None`: now
    pub run_at: Option<i64>,
    pub max_attempts: i64,
}

impl NewJob {
    /// A job of `kind` with `args`, on its kind's queue with its kind's attempts.
    pub fn new(kind: Kind, args: serde_json::Value) -> NewJob {
        let (queue, max_attempts) = kind.defaults();
        NewJob { kind, queue, args, unique_key: None, run_at: None, max_attempts }
    }
    pub fn queue(mut self, queue: Queue) -> NewJob {
        self.queue = queue;
        self
    }
    /// Not enqueued while a job with this key waits.
    pub fn unique(mut self, key: impl Into<String>) -> NewJob {
        self.unique_key = Some(key.into());
        self
    }
    pub fn at(mut self, unix_ms: i64) -> NewJob {
        self.run_at = Some(unix_ms);
        self
    }
    pub fn attempts(mut self, max: i64) -> NewJob {
        self.max_attempts = max.max(1);
        self
    }
}

/// An error no retry can mend (a malformed address, a 4xx a receiver will always answer):
/// a job body returning it fails for good at once.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Permanent(pub String);

/// The wait before retry `attempt + 1` after `attempt` failed: `base · 2^(attempt-1)`,
/// capped at `max`, times a jitter in [0.75, 1.25) so that jobs that failed together do not
/// come back together.
pub fn backoff(attempt: i64, base: Duration, max: Duration, jitter_unit: f64) -> Duration {
    let exp = (attempt.clamp(1, 40) - 1) as u32;
    let raw = base.saturating_mul(2u32.saturating_pow(exp.min(31)));
    let capped = raw.min(max);
    capped.mul_f64(0.75 + 0.5 * jitter_unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_cap() {
        let (base, max) = (Duration::from_secs(5), Duration::from_secs(3600));
        assert_eq!(backoff(1, base, max, 0.5), Duration::from_secs(5));
        assert_eq!(backoff(2, base, max, 0.5), Duration::from_secs(10));
        assert_eq!(backoff(4, base, max, 0.5), Duration::from_secs(40));
        assert_eq!(backoff(30, base, max, 0.5), max, "capped");
        assert!(backoff(3, base, max, 0.0) < backoff(3, base, max, 0.99), "jitter spreads retries");
        assert_eq!(backoff(3, base, max, 0.0), Duration::from_secs(15));
    }

    #[test]
    fn names_round_trip() {
        for q in Queue::ALL {
            assert_eq!(Queue::parse(q.as_str()), Some(q));
        }
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("done"), None);
    }
}
