//! A real SMTP server for the tests: aiosmtpd (from PyPI, installed into ./.venv by
//! ./test.sh) on a loopback port, storing every message it accepts in a Maildir.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpServer {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

fn python() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().unwrap().port()
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        SmtpServer::start_on(free_port())
    }

    /// On `port` (a port a test held for a server that was down until now).
    pub fn start_on(port: u16) -> SmtpServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let maildir = dir.path().join("maildir");
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd is installed in .venv (./test.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        SmtpServer { port, child, dir }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, raw (headers and body), oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.dir.path().join("maildir").join(sub)) {
                for e in entries.flatten() {
                    let modified = e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
                    files.push((modified, e.path()));
                }
            }
        }
        files.sort();
        files.into_iter().filter_map(|(_, p)| std::fs::read_to_string(p).ok()).collect()
    }

    /// Waits (up to `secs`) until `n` messages satisfying `pred` arrived; returns them.
    pub async fn wait_for(&self, n: usize, secs: u64, pred: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let found: Vec<String> = self.messages().into_iter().filter(|m| pred(m)).collect();
            if found.len() >= n {
                return found;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {n} mails; got {}", found.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
