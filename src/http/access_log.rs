//! The access log: one JSON line per answered request on standard output, written by a
//! thread of its own so a slow terminal or pipe never holds a request. Lines wait in a
//! bounded queue; when it is full they are dropped (and counted in the next line that
//! gets through) rather than grow memory or slow the server.

use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(serde::Serialize)]
struct Line<'a> {
    ts: String,
    request_id: &'a str,
    method: &'a str,
    route: &'a str,
    path: &'a str,
    status: u16,
    duration_ms: f64,
    client: Option<IpAddr>,
    #[serde(skip_serializing_if = "is_zero")]
    dropped_before: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub struct AccessLog {
    lines: crossbeam_channel::Sender<Vec<u8>>,
    dropped: Arc<AtomicU64>,
}

/// One request as the log sees it.
pub struct Entry<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    pub route: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub duration: std::time::Duration,
    pub client: Option<IpAddr>,
}

impl AccessLog {
    pub fn stdout() -> AccessLog {
        let (lines, rx) = crossbeam_channel::bounded::<Vec<u8>>(8192);
        std::thread::Builder::new()
            .name("storefront-access-log".into())
            .spawn(move || {
                let out = std::io::stdout();
                let mut out = std::io::BufWriter::new(out.lock());
                // ends when the server's state (the only sender) is gone
                while let Ok(line) = rx.recv() {
                    let _ = out.write_all(&line);
                    // write out whenever the queue is empty: lines appear promptly when
                    // quiet and in big writes when busy
                    if rx.is_empty() {
                        let _ = out.flush();
                    }
                }
                let _ = out.flush();
            })
            .expect("spawning the access-log thread");
        AccessLog { lines, dropped: Arc::default() }
    }

    pub fn log(&self, e: &Entry<'_>) {
        let line = Line {
            ts: crate::util::rfc3339(crate::util::now_ms()),
            request_id: e.request_id,
            method: e.method,
            route: e.route,
            path: e.path,
            status: e.status,
            duration_ms: (e.duration.as_micros() as f64) / 1000.0,
            client: e.client,
            dropped_before: self.dropped.swap(0, Ordering::Relaxed),
        };
        let mut buf = serde_json::to_vec(&line).expect("a log line always serializes");
        buf.push(b'\n');
        if self.lines.try_send(buf).is_err() {
            self.dropped.fetch_add(1 + line.dropped_before, Ordering::Relaxed);
        }
    }
}
