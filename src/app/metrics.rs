//! `/metrics`: the recorder's text, after setting what is read at scrape time — queue
//! depths, the writer, replication, the caches' own counters, the job queue (one read),
//! the process and its disk. The hot path's handles live in `crate::telemetry`.

use std::collections::HashMap;

use metrics::Label;

use super::AppState;

/// Sets what is read at scrape time, then renders the text format.
pub async fn scrape(app: &AppState) -> String {
    let m = &app.metrics;
    let g = |name: &'static str, v: f64| m.gauge(name, vec![]).set(v);
    g("storefront_http_requests_in_flight", m.in_flight.load(std::sync::atomic::Ordering::Relaxed) as f64);
    g("storefront_up_seconds", app.started.elapsed().as_secs_f64());
    g("storefront_db_read_queue_depth", app.db.read_queue_depth() as f64);
    let writer = app.db.writer.stats();
    g("storefront_writer_queue_depth", writer.queue_depth as f64);
    g("storefront_writer_queue_capacity", app.config.writer_queue as f64);
    if app.replication.replica().is_none() {
        // a replica has no writer (its writes go to the primary)
        g("storefront_writer_alive", if app.db.writer.is_alive() { 1.0 } else { 0.0 });
    }
    g("storefront_commit_position", app.db.writer.position() as f64);
    if let Some(replica) = app.replication.replica() {
        g("storefront_replica_lag_seconds", replica.follow.lag().as_secs_f64());
    }
    if let Some(s) = app.replication.litestream() {
        g("storefront_litestream_up", if s.is_up() { 1.0 } else { 0.0 });
        m.counter("storefront_litestream_restarts_total", vec![]).absolute(s.restarts());
    }

    // the response cache's own counters
    let cache = app.cache.stats().await;
    let cache_counter = |tier: &'static str, result: &'static str, v: u64| {
        m.counter(
            "storefront_cache_requests_total",
            vec![Label::from_static_parts("tier", tier), Label::from_static_parts("result", result)],
        )
        .absolute(v);
    };
    cache_counter("l1", "hit", cache.hits);
    cache_counter("l1", "miss", cache.misses);
    m.counter("storefront_cache_evictions_total", vec![Label::from_static_parts("tier", "l1")])
        .absolute(cache.evictions);
    g("storefront_cache_entries", cache.entries as f64);
    g("storefront_cache_bytes", cache.bytes as f64);
    if let Some(l2) = app.cache.l2() {
        let s = l2.stats().await;
        cache_counter("l2", "hit", s.hits);
        cache_counter("l2", "miss", s.misses);
        if let Some(server) = s.server {
            m.counter("storefront_cache_evictions_total", vec![Label::from_static_parts("tier", "l2")])
                .absolute(server.evicted_keys);
        }
    }

    // the job queue, from the database (one read)
    let now = crate::util::now_ms();
    let jobs = app
        .db
        .read(move |c| {
            Ok::<_, crate::error::StoreError>((
                crate::jobs::store::counts(c)?,
                crate::jobs::store::queue_stats(c, now)?,
            ))
        })
        .await;
    match jobs {
        Ok((counts, queues)) => {
            // every queue × state, zeros included, so a rule can compare against them
            let mut all: HashMap<(&'static str, &'static str), i64> = HashMap::new();
            for q in crate::jobs::Queue::ALL {
                for s in crate::jobs::State::ALL {
                    all.insert((q.as_str(), s.as_str()), 0);
                }
            }
            for (q, s, n) in counts {
                if let (Some(q), Some(s)) = (crate::jobs::Queue::parse(&q), crate::jobs::State::parse(&s)) {
                    all.insert((q.as_str(), s.as_str()), n);
                }
            }
            for ((q, s), n) in all {
                m.gauge(
                    "storefront_jobs",
                    vec![Label::from_static_parts("queue", q), Label::from_static_parts("state", s)],
                )
                .set(n as f64);
            }
            for (q, stats) in queues {
                m.gauge("storefront_job_lag_seconds", vec![Label::from_static_parts("queue", q.as_str())])
                    .set(stats.lag_seconds);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: could not read the job queue"),
    }

    // the process and its disk
    if let Some(p) = process_figures() {
        // a float that only grows: the `metrics` crate's counters are whole numbers
        g("storefront_process_cpu_seconds_total", p.cpu_millis as f64 / 1000.0);
        g("storefront_process_resident_memory_bytes", p.rss_bytes as f64);
        g("storefront_process_open_fds", p.open_fds as f64);
    }
    let db = &app.db.path;
    let size: u64 = ["", "-wal"]
        .iter()
        .filter_map(|suffix| {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            std::fs::metadata(p).ok().map(|m| m.len())
        })
        .sum();
    g("storefront_db_size_bytes", size as f64);
    let dir = db.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    if let Ok(fs) = rustix::fs::statvfs(dir) {
        g("storefront_disk_free_bytes", (fs.f_bavail * fs.f_frsize) as f64);
        g("storefront_disk_size_bytes", (fs.f_blocks * fs.f_frsize) as f64);
    }
    m.render()
}

struct ProcessFigures {
    cpu_millis: u64,
    rss_bytes: u64,
    open_fds: u64,
}

/// CPU, resident memory and open files of this process, from `/proc` (Linux).
fn process_figures() -> Option<ProcessFigures> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // fields after the command name, which is in parentheses and may hold spaces
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let hz = rustix::param::clock_ticks_per_second().max(1);
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())?;
    let open_fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count() as u64).unwrap_or(0);
    Some(ProcessFigures { cpu_millis: ticks * 1000 / hz, rss_bytes: rss_kb * 1024, open_fds })
}
