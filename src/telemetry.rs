//! Metrics: every figure `GET /metrics` shows, in one place.
//!
//! Each application state owns its own Prometheus recorder (the `metrics` crate's handles,
//! rendered by `metrics-exporter-prometheus`) instead of the process-global one, so two
//! servers in one process (the tests) never count each other's work.
//!
//! What costs something per event is recorded where it happens, through handles made once:
//! requests (`storefront_http_*`, looked up by method, route template and status in a map
//! that only grows by the few combinations a route answers), read waits, writer batches,
//! jobs, webhook deliveries, rate-limit refusals, slow statements. What the process already
//! counts (the response cache's hits and misses, queue depths, jobs per state, the
//! process's CPU and memory) is read when Prometheus scrapes, so it costs the hot path
//! nothing.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::Method;
use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::db::writer::WriterObserver;
use crate::db::{ReadObserver, SlowStatements};

const META: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Request latency buckets (seconds): a cache hit takes tens of microseconds, a checkout a
/// few milliseconds, and the alert on p95 needs resolution around 100–500 ms.
const LATENCY: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Waits and commits are shorter: a reader is usually free at once, a commit is one fsync.
const SHORT: &[f64] = &[0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.0];
/// Jobs run from microseconds (a no-op) to minutes (a million-row import).
const JOBS: &[f64] = &[0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0, 3600.0];
const BATCH: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// The request methods as labels (anything else is `OTHER`, so a client cannot grow the
/// series).
fn method_index(m: &Method) -> u8 {
    match *m {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::PATCH => 4,
        Method::DELETE => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}
const METHODS: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"];

/// The request handles one thread has looked up, by (recorder, method, route template's
/// address, status): the hot path finds its counter and histogram without touching a
/// lock or a cache line another core writes.
type Local = HashMap<(u64, u8, usize, u16), (Counter, Histogram), std::hash::BuildHasherDefault<Mixer>>;

thread_local! {
    static LOCAL: std::cell::RefCell<Local> = std::cell::RefCell::default();
}

/// A hasher for small keys of integers (a multiply and a rotate per word).
#[derive(Default)]
struct Mixer(u64);

impl std::hash::Hasher for Mixer {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A request's counter (by method, route, status) and histogram (by method, route).
type RequestHandles = (Counter, Histogram);

pub struct Metrics {
    /// this recorder among others in the process (the thread-local maps' key)
    id: u64,
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    requests: RwLock<HashMap<(u8, &'static str, u16), RequestHandles>>,
    /// requests being answered (a plain integer: one `fetch_add` per request)
    pub in_flight: std::sync::atomic::AtomicI64,
    pub slow_statements: Arc<SlowStatements>,
    pub webhook_delivered: Counter,
    pub webhook_failed: Counter,
    by_kind: RwLock<HashMap<(&'static str, String), Counter>>,
    job_durations: RwLock<HashMap<String, Histogram>>,
}

impl Metrics {
    pub fn new(slow_statement: Duration) -> Metrics {
        let mut builder = PrometheusBuilder::new();
        for (name, buckets) in [
            ("storefront_http_request_duration_seconds", LATENCY),
            ("storefront_db_read_wait_seconds", SHORT),
            ("storefront_writer_commit_seconds", SHORT),
            ("storefront_writer_batch_size", BATCH),
            ("storefront_job_duration_seconds", JOBS),
        ] {
            builder = builder
                .set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)
                .expect("bucket lists are not empty");
        }
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        for (name, unit, text) in DESCRIPTIONS {
            recorder.describe_counter((*name).into(), *unit, (*text).into());
        }
        let counter = |name: &'static str| recorder.register_counter(&Key::from_static_name(name), &META);
        let slow_statements =
            Arc::new(SlowStatements { threshold: slow_statement, counter: counter("storefront_slow_queries_total") });
        let webhook = |result: &'static str| {
            recorder.register_counter(
                &Key::from_static_parts("storefront_webhook_deliveries_total", LABEL_RESULT[result_index(result)]),
                &META,
            )
        };
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let m = Metrics {
            id: IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            in_flight: std::sync::atomic::AtomicI64::new(0),
            webhook_delivered: webhook("delivered"),
            webhook_failed: webhook("failed"),
            slow_statements,
            requests: RwLock::default(),
            by_kind: RwLock::default(),
            job_durations: RwLock::default(),
            recorder,
            handle,
        };
        m.gauge("storefront_build_info", vec![Label::new("version", env!("CARGO_PKG_VERSION"))]).set(1.0);
        // counters an alert takes `increase()` of exist from the start at 0: a series that
        // first appears at 1 has no earlier sample to increase from, and would never fire
        for rule in crate::limits::Rule::ALL {
            let _ = m.labelled("storefront_rate_limited_total", "rule", rule.name());
        }
        for kind in crate::jobs::Kind::SHOP.map(crate::jobs::Kind::name) {
            let _ = m.labelled("storefront_jobs_failed_total", "kind", kind);
        }
        m
    }

    pub fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.recorder.register_counter(&Key::from_parts(name, labels), &META)
    }

    pub fn gauge(&self, name: &'static str, labels: Vec<Label>) -> Gauge {
        self.recorder.register_gauge(&Key::from_parts(name, labels), &META)
    }

    pub fn histogram(&self, name: &'static str, labels: Vec<Label>) -> Histogram {
        self.recorder.register_histogram(&Key::from_parts(name, labels), &META)
    }

    /// What the read path reports.
    pub fn read_observer(&self, time_limit: Option<Duration>) -> ReadObserver {
        ReadObserver {
            wait_seconds: Some(self.histogram("storefront_db_read_wait_seconds", vec![])),
            slow: Some(self.slow_statements.clone()),
            time_limit,
        }
    }

    /// What the writer reports.
    pub fn writer_observer(&self) -> WriterObserver {
        WriterObserver {
            batch_size: self.histogram("storefront_writer_batch_size", vec![]),
            commit_seconds: self.histogram("storefront_writer_commit_seconds", vec![]),
            slow: Some(self.slow_statements.clone()),
        }
    }

    /// One answered request: `route` is the template (`/api/products/{slug}`), or
    /// `unmatched` for paths no route serves.
    pub fn request(&self, method: &Method, route: &'static str, status: u16, took: Duration) {
        let m = method_index(method);
        let key = (self.id, m, route.as_ptr() as usize, status);
        let found = LOCAL.with(|l| {
            let l = l.borrow();
            l.get(&key).map(|(c, h)| {
                c.increment(1);
                h.record(took.as_secs_f64());
            })
        });
        if found.is_none() {
            let (c, h) = self.handles(m, route, status);
            c.increment(1);
            h.record(took.as_secs_f64());
            LOCAL.with(|l| l.borrow_mut().insert(key, (c, h)));
        }
    }

    /// The shared handles of one method, route and status (made on first use).
    fn handles(&self, m: u8, route: &'static str, status: u16) -> (Counter, Histogram) {
        if let Some(h) = self.requests.read().expect("metrics map poisoned").get(&(m, route, status)) {
            return h.clone();
        }
        let counter = self.counter(
            "storefront_http_requests_total",
            vec![
                Label::from_static_parts("method", METHODS[m as usize]),
                Label::from_static_parts("route", route),
                Label::new("status", status.to_string()),
            ],
        );
        let histogram = self.histogram(
            "storefront_http_request_duration_seconds",
            vec![Label::from_static_parts("method", METHODS[m as usize]), Label::from_static_parts("route", route)],
        );
        self.requests
            .write()
            .expect("metrics map poisoned")
            .insert((m, route, status), (counter.clone(), histogram.clone()));
        (counter, histogram)
    }

    /// A finished job run (not a snooze).
    pub fn job_ran(&self, kind: &str, took: Duration) {
        let known = self.job_durations.read().expect("metrics map poisoned").get(kind).cloned();
        let h = known.unwrap_or_else(|| {
            let h = self.histogram("storefront_job_duration_seconds", vec![Label::new("kind", kind.to_owned())]);
            self.job_durations.write().expect("metrics map poisoned").insert(kind.to_owned(), h.clone());
            h
        });
        h.record(took.as_secs_f64());
    }

    /// A job that failed for good (out of attempts, or a permanent error).
    pub fn job_failed(&self, kind: &str) {
        self.labelled("storefront_jobs_failed_total", "kind", kind).increment(1);
    }

    /// A 429 of rate-limit rule `rule`.
    pub fn rate_limited(&self, rule: &str) {
        self.labelled("storefront_rate_limited_total", "rule", rule).increment(1);
    }

    fn labelled(&self, name: &'static str, label: &'static str, value: &str) -> Counter {
        let known = self.by_kind.read().expect("metrics map poisoned").get(&(name, value.to_owned())).cloned();
        known.unwrap_or_else(|| {
            let c = self.counter(name, vec![Label::new(label, value.to_owned())]);
            self.by_kind.write().expect("metrics map poisoned").insert((name, value.to_owned()), c.clone());
            c
        })
    }

    /// The text format, after `sample` has set what is read at scrape time.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds recorded histogram samples into their buckets (between scrapes, so memory
    /// stays flat when nobody scrapes).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

const LABEL_RESULT: [&[Label]; 2] =
    [&[Label::from_static_parts("result", "delivered")], &[Label::from_static_parts("result", "failed")]];

fn result_index(r: &str) -> usize {
    usize::from(r != "delivered")
}

/// `# HELP` lines.
const DESCRIPTIONS: &[(&str, Option<metrics::Unit>, &str)] = &[
    ("storefront_http_requests_total", None, "HTTP requests answered, by method, route template and status"),
    ("storefront_http_request_duration_seconds", Some(metrics::Unit::Seconds), "time to answer an HTTP request"),
    ("storefront_http_requests_in_flight", None, "HTTP requests being answered now"),
    ("storefront_cache_requests_total", None, "response cache lookups by tier (l1, l2) and result (hit, miss)"),
    (
        "storefront_cache_evictions_total",
        None,
        "entries evicted from the response cache (l2: the whole Redis server's evicted keys)",
    ),
    ("storefront_cache_entries", None, "entries in the in-process response cache"),
    ("storefront_cache_bytes", None, "bytes charged to the in-process response cache"),
    ("storefront_db_read_queue_depth", None, "read jobs waiting for a reader thread"),
    ("storefront_db_read_wait_seconds", Some(metrics::Unit::Seconds), "time a read job waited for a reader thread"),
    ("storefront_writer_queue_depth", None, "write units waiting for the writer"),
    ("storefront_writer_queue_capacity", None, "write units that may wait before writes are refused"),
    ("storefront_writer_alive", None, "1 while the writer thread runs"),
    ("storefront_writer_batch_size", None, "write units per committed transaction"),
    (
        "storefront_writer_commit_seconds",
        Some(metrics::Unit::Seconds),
        "time of one write transaction, BEGIN to COMMIT done",
    ),
    ("storefront_jobs", None, "jobs by queue and state"),
    ("storefront_job_lag_seconds", Some(metrics::Unit::Seconds), "age of the oldest job waiting to run, by queue"),
    ("storefront_job_duration_seconds", Some(metrics::Unit::Seconds), "time one job run took, by kind"),
    ("storefront_jobs_failed_total", None, "jobs that failed for good (out of attempts or permanent), by kind"),
    ("storefront_webhook_deliveries_total", None, "webhook delivery attempts by result (delivered, failed)"),
    ("storefront_rate_limited_total", None, "requests refused with 429, by rate-limit rule"),
    ("storefront_slow_queries_total", None, "SQL statements slower than slow_query_ms"),
    ("storefront_build_info", None, "1, labelled with the version"),
    ("storefront_up_seconds", Some(metrics::Unit::Seconds), "time since the server started"),
    ("storefront_process_cpu_seconds_total", Some(metrics::Unit::Seconds), "CPU time the process used (user + system)"),
    ("storefront_process_resident_memory_bytes", Some(metrics::Unit::Bytes), "resident memory of the process"),
    ("storefront_process_open_fds", None, "open file descriptors of the process"),
    ("storefront_db_size_bytes", Some(metrics::Unit::Bytes), "size of the database file and its WAL"),
    ("storefront_disk_free_bytes", Some(metrics::Unit::Bytes), "free space of the file system that holds the database"),
    ("storefront_disk_size_bytes", Some(metrics::Unit::Bytes), "size of the file system that holds the database"),
    (
        "storefront_replica_lag_seconds",
        Some(metrics::Unit::Seconds),
        "a replica: time since it learned of a primary commit its copy does not hold yet (0: current)",
    ),
    ("storefront_commit_position", None, "the change-log position of this node's data (a replica: its copy's)"),
    (
        "storefront_litestream_up",
        None,
        "1 while the supervised Litestream runs (replicate on a primary, restore on a replica)",
    ),
    ("storefront_litestream_restarts_total", None, "times the supervised Litestream ended and was started again"),
];
