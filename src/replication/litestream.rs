//! Litestream as a child process: started, watched, restarted with backoff, stopped with
//! the server. A primary runs `litestream replicate` for its database; a replica runs
//! `litestream restore -f` (follow mode) to keep its copy current.
//!
//! The child is tied to the server's life: it is killed by the kernel if the server dies
//! (`PR_SET_PDEATHSIG`, so a `kill -9` of the server leaves no Litestream behind writing
//! to a copy nobody reads), and stopped with SIGTERM (Litestream's own graceful stop: the
//! primary's last changes are shipped) when the server stops.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::now_ms;

/// What to do with a child that ended, decided from the lines it printed.
pub type OnExit = Box<dyn Fn(&[String]) + Send + Sync>;

/// One supervised Litestream process.
pub struct Supervisor {
    /// `replicate` or `restore`
    pub what: &'static str,
    up: AtomicBool,
    restarts: AtomicU64,
    /// when the running child started (ms), 0 when none runs
    since: AtomicI64,
    pid: AtomicU32,
    stop: AtomicBool,
    last_error: Mutex<Option<String>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Lines kept of a child's output, to decide what its exit means.
const TAIL_LINES: usize = 20;

impl Supervisor {
    /// Starts `program args…` now and keeps it running until [`Supervisor::stop`].
    pub fn start(
        what: &'static str,
        program: &str,
        args: Vec<OsString>,
        on_exit: OnExit,
    ) -> std::io::Result<Arc<Supervisor>> {
        let s = Arc::new(Supervisor {
            what,
            up: AtomicBool::new(false),
            restarts: AtomicU64::new(0),
            since: AtomicI64::new(0),
            pid: AtomicU32::new(0),
            stop: AtomicBool::new(false),
            last_error: Mutex::new(None),
            thread: Mutex::new(None),
        });
        let me = s.clone();
        let program = program.to_owned();
        // The thread lives as long as the supervision: the kernel's parent-death signal
        // follows the thread that forked the child.
        let handle = std::thread::Builder::new()
            .name(format!("storefront-litestream-{what}"))
            .spawn(move || me.supervise(&program, &args, &on_exit))?;
        *s.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        Ok(s)
    }

    fn supervise(&self, program: &str, args: &[OsString], on_exit: &OnExit) {
        let mut backoff = Duration::from_millis(250);
        while !self.stop.load(Ordering::SeqCst) {
            let started = Instant::now();
            match spawn(program, args) {
                Ok(mut child) => {
                    self.pid.store(child.id(), Ordering::SeqCst);
                    self.since.store(now_ms(), Ordering::SeqCst);
                    self.up.store(true, Ordering::SeqCst);
                    tracing::info!(what = self.what, pid = child.id(), "litestream started");
                    let tail: Arc<Mutex<Vec<String>>> = Arc::default();
                    let readers: Vec<_> = [
                        child.stdout.take().map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
                        child.stderr.take().map(|e| Box::new(e) as Box<dyn std::io::Read + Send>),
                    ]
                    .into_iter()
                    .flatten()
                    .map(|out| {
                        let tail = tail.clone();
                        let what = self.what;
                        std::thread::spawn(move || relay(what, out, &tail))
                    })
                    .collect();
                    let status = child.wait();
                    for r in readers {
                        let _ = r.join();
                    }
                    self.up.store(false, Ordering::SeqCst);
                    self.pid.store(0, Ordering::SeqCst);
                    self.since.store(0, Ordering::SeqCst);
                    if self.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let lines = tail.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    let last = lines.iter().rev().find(|l| l.contains("level=ERROR")).or(lines.last()).cloned();
                    let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                    tracing::warn!(what = self.what, %status, last = last.as_deref().unwrap_or(""), "litestream ended; restarting it");
                    *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(format!("{status}: {}", last.unwrap_or_default()));
                    on_exit(&lines);
                }
                Err(e) => {
                    tracing::error!(what = self.what, program, error = %e, "cannot start litestream");
                    *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(format!("cannot start {program}: {e}"));
                }
            }
            self.restarts.fetch_add(1, Ordering::Relaxed);
            if started.elapsed() > Duration::from_secs(60) {
                backoff = Duration::from_millis(250);
            }
            // parked, so stop() wakes it at once
            std::thread::park_timeout(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    /// Is the child running now?
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    /// The running child's process id.
    pub fn pid(&self) -> Option<u32> {
        Some(self.pid.load(Ordering::SeqCst)).filter(|p| *p != 0)
    }

    /// Times the child ended (or could not start) and was started again.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// What `/ready` shows: `ok` or `restarting`, and the last failure.
    pub fn status(&self) -> serde_json::Value {
        let last = self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
        serde_json::json!({
            "litestream": self.what,
            "state": if self.is_up() { "ok" } else { "restarting" },
            "restarts": self.restarts(),
            "last_error": last,
        })
    }

    /// Stops the child (SIGTERM, then SIGKILL after `grace`) and the supervision.
    pub fn stop(&self, grace: Duration) {
        self.stop.store(true, Ordering::SeqCst);
        let pid = self.pid.load(Ordering::SeqCst);
        if let Some(pid) = rustix::process::Pid::from_raw(pid as i32).filter(|_| pid != 0) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let deadline = Instant::now() + grace;
            while self.pid.load(Ordering::SeqCst) != 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if self.pid.load(Ordering::SeqCst) != 0 {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

/// What of the server's environment Litestream gets: where to find things, and the
/// credentials and settings of its storage (never the server's own settings and secrets,
/// `STOREFRONT_*`).
const PASSED_ON: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "TZ",
    "LANG",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "AWS_",
    "LITESTREAM_",
    "GOOGLE_",
    "AZURE_",
    "ABS_",
    "SFTP_",
    "NATS_",
];

/// Starts the child with its output piped to us, the parent-death signal set and an
/// environment of [`PASSED_ON`] only.
fn spawn(program: &str, args: &[OsString]) -> std::io::Result<std::process::Child> {
    let mut cmd = Command::new(program);
    cmd.env_clear().envs(std::env::vars_os().filter(|(k, _)| {
        let k = k.to_string_lossy();
        PASSED_ON.iter().any(|p| if p.ends_with('_') { k.starts_with(p) } else { k == *p })
    }));
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    set_parent_death_signal(&mut cmd);
    cmd.spawn()
}

/// Asks the kernel to kill the child when the thread that forked it ends (which is when
/// the server ends: the supervising thread lives as long as the server).
#[allow(unsafe_code)]
fn set_parent_death_signal(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and makes one system call
    // (prctl), which is async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)
        });
    }
}

/// Relays a child's output to the log (its routine lines at debug level, its warnings and
/// errors as such) and keeps the last lines.
fn relay(what: &'static str, out: Box<dyn std::io::Read + Send>, tail: &Mutex<Vec<String>>) {
    for line in BufReader::new(out).lines() {
        let Ok(line) = line else { break };
        if line.contains("level=ERROR") {
            tracing::error!(target: "litestream", what, "{line}");
        } else if line.contains("level=WARN") {
            tracing::warn!(target: "litestream", what, "{line}");
        } else {
            tracing::debug!(target: "litestream", what, "{line}");
        }
        let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
        if t.len() >= TAIL_LINES {
            t.remove(0);
        }
        t.push(line);
    }
}

/// The configuration file a primary's `litestream replicate` runs with: the database, its
/// destination and the intervals. Written beside the database (`<db>.litestream.yml`).
pub fn write_replicate_config(db: &Path, url: &str, interval: Duration) -> std::io::Result<PathBuf> {
    let db = std::path::absolute(db)?;
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".litestream.yml");
    let path = db.with_file_name(name);
    let ms = interval.as_millis();
    // JSON strings are valid YAML scalars: paths and URLs are quoted whatever they hold
    let text = format!(
        "# written by storefront at start: the primary's replication (do not edit; use\n\
         # litestream_config for a configuration of your own)\n\
         dbs:\n  - path: {db}\n    monitor-interval: {ms}ms\n    replica:\n      url: {url}\n      sync-interval: {ms}ms\n",
        db = serde_json::to_string(&db.to_string_lossy()).expect("a string"),
        url = serde_json::to_string(url).expect("a string"),
    );
    write_private(&path, &text)?;
    Ok(path)
}

/// The configuration of a replica's follow-mode restore of `db` from `url`, written beside
/// the copy (0600): the storage's URL, which may carry credentials, is then on no command
/// line.
pub fn write_restore_config(db: &Path, url: &str) -> std::io::Result<PathBuf> {
    let db = std::path::absolute(db)?;
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".restore.yml");
    let path = db.with_file_name(name);
    let text = format!(
        "# written by storefront at start: the replica's restore (do not edit)\n\
         dbs:\n  - path: {db}\n    replica:\n      url: {url}\n",
        db = serde_json::to_string(&db.to_string_lossy()).expect("a string"),
        url = serde_json::to_string(url).expect("a string"),
    );
    write_private(&path, &text)?;
    Ok(path)
}

/// Replaces `path` with `text`, readable by its owner only (it may hold credentials).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("yml.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = crate::util::create_private(&tmp)?;
    std::io::Write::write_all(&mut f, text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod private_tests {
    /// Litestream's configurations are its owner's alone, the storage URL is on no command
    /// line, and the child gets no `STOREFRONT_*` setting of the server's.
    #[test]
    fn configurations_are_private_and_the_child_gets_no_server_secret() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("copy.db");
        let url = "sftp://user:secret@storage.example:22/shop";
        for path in [
            super::write_restore_config(&db, url).unwrap(),
            super::write_replicate_config(&db, url, std::time::Duration::from_millis(100)).unwrap(),
        ] {
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "{}", path.display());
            assert!(std::fs::read_to_string(&path).unwrap().contains(url));
        }
        // as a server's environment holds them (names no other test reads)
        std::env::set_var("STOREFRONT_PAYMENT_WEBHOOK_SECRET_FOR_TEST", "whsec");
        std::env::set_var("AWS_REGION_FOR_TEST", "eu");
        let child = super::spawn("env", &[]).unwrap().wait_with_output().unwrap();
        let env = String::from_utf8_lossy(&child.stdout);
        assert!(!env.contains("STOREFRONT_"), "{env}");
        assert!(env.contains("AWS_REGION_FOR_TEST=eu") && env.contains("PATH="), "{env}");
    }
}
