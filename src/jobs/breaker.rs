//! A circuit breaker for one remote endpoint (the SMTP server, a webhook receiver): after
//! `threshold` failures in a row it opens, and senders stop trying for a cool-down; then
//! one probe is let through. A probe that succeeds closes it; one that fails opens it again
//! for twice as long (up to 32× the first cool-down). Jobs that meet an open breaker are
//! put back to wait for the probe instead of spending their attempts on a server that is
//! down.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
enum Phase {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
        cooldown: Duration,
    },
    /// one probe is out; everyone else waits for its outcome
    Probing {
        since: Instant,
        cooldown: Duration,
    },
}

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    phase: Mutex<Phase>,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker { threshold: threshold.max(1), cooldown, phase: Mutex::new(Phase::Closed { failures: 0 }) }
    }

    /// May a call go out now? `Err(wait)`: not before `wait` has passed.
    pub fn allow(&self) -> Result<(), Duration> {
        self.allow_at(Instant::now())
    }

    pub fn allow_at(&self, now: Instant) -> Result<(), Duration> {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        match *phase {
            Phase::Closed { .. } => Ok(()),
            Phase::Open { until, cooldown } if now >= until => {
                *phase = Phase::Probing { since: now, cooldown };
                Ok(())
            }
            Phase::Open { until, .. } => Err(until - now),
            // a probe that never reported (its job died) is given up after a cool-down
            Phase::Probing { since, cooldown } if now >= since + cooldown => {
                *phase = Phase::Probing { since: now, cooldown };
                Ok(())
            }
            Phase::Probing { since, cooldown } => Err(since + cooldown - now),
        }
    }

    pub fn success(&self) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = Phase::Closed { failures: 0 };
    }

    pub fn failure(&self) {
        self.failure_at(Instant::now());
    }

    pub fn failure_at(&self, now: Instant) {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        *phase = match *phase {
            Phase::Closed { failures } if failures + 1 >= self.threshold => {
                tracing::warn!(cooldown_ms = self.cooldown.as_millis() as u64, "circuit breaker open");
                Phase::Open { until: now + self.cooldown, cooldown: self.cooldown }
            }
            Phase::Closed { failures } => Phase::Closed { failures: failures + 1 },
            Phase::Probing { cooldown, .. } | Phase::Open { cooldown, .. } => {
                let next = (cooldown * 2).min(self.cooldown * 32);
                Phase::Open { until: now + next, cooldown: next }
            }
        };
    }

    /// `closed`, `open` or `probing`, for status pages.
    pub fn state(&self) -> &'static str {
        match *self.phase.lock().unwrap_or_else(|e| e.into_inner()) {
            Phase::Closed { .. } => "closed",
            Phase::Open { .. } => "open",
            Phase::Probing { .. } => "probing",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_probes_once_and_backs_off() {
        let b = Breaker::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        for _ in 0..2 {
            assert!(b.allow_at(t0).is_ok());
            b.failure_at(t0);
        }
        assert_eq!(b.state(), "closed", "two failures are below the threshold");
        b.failure_at(t0);
        assert_eq!(b.state(), "open");
        assert_eq!(b.allow_at(t0 + Duration::from_secs(4)), Err(Duration::from_secs(6)));
        // after the cool-down exactly one probe goes out
        let t1 = t0 + Duration::from_secs(10);
        assert!(b.allow_at(t1).is_ok());
        assert!(b.allow_at(t1).is_err(), "a second caller waits for the probe");
        // the probe fails: open twice as long
        b.failure_at(t1);
        assert_eq!(b.allow_at(t1 + Duration::from_secs(19)), Err(Duration::from_secs(1)));
        let t2 = t1 + Duration::from_secs(20);
        assert!(b.allow_at(t2).is_ok());
        b.success();
        assert_eq!(b.state(), "closed");
        assert!(b.allow_at(t2).is_ok() && b.allow_at(t2).is_ok(), "closed lets everyone through");
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = Breaker::new(2, Duration::from_secs(1));
        b.failure();
        b.success();
        b.failure();
        assert_eq!(b.state(), "closed");
    }
}
