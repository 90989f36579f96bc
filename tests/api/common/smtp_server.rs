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

/// A raw message as its reader sees it: the subject's encoded words and the body's
/// transfer encoding (quoted-printable or base64) undone.
pub fn readable(raw: &str) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.decode(s).unwrap_or_default();
    let qp = |s: &str| {
        let s = s.replace("=\r\n", "").replace("=\n", "");
        let (mut out, b) = (Vec::new(), s.as_bytes());
        let mut i = 0;
        while i < b.len() {
            match (b[i], std::str::from_utf8(b.get(i + 1..i + 3).unwrap_or_default()).ok()) {
                (b'=', Some(hex)) if u8::from_str_radix(hex, 16).is_ok() => {
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 3;
                }
                (c, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    let (head, body) = raw.split_once("\r\n\r\n").or_else(|| raw.split_once("\n\n")).unwrap_or((raw, ""));
    // headers: folded lines joined, encoded words (=?utf-8?b?…?=) decoded
    let mut head = head.replace("\r\n ", " ").replace("\n ", " ");
    while let Some(start) = head.find("=?") {
        let Some(len) = head[start + 2..].find("?=").map(|e| e + 4) else { break };
        let word = head[start..start + len].to_owned();
        let parts: Vec<&str> = word.trim_start_matches("=?").trim_end_matches("?=").splitn(3, '?').collect();
        let text = match parts.as_slice() {
            [_, enc, data] if enc.eq_ignore_ascii_case("b") => String::from_utf8_lossy(&b64(data)).into_owned(),
            [_, _, data] => qp(&data.replace('_', " ")),
            _ => word.clone(),
        };
        head = head.replacen(&word, &text, 1).replace("?= ", "");
    }
    let lower = head.to_ascii_lowercase();
    let body = if lower.contains("content-transfer-encoding: base64") {
        String::from_utf8_lossy(&b64(&body.split_whitespace().collect::<String>())).into_owned()
    } else if lower.contains("content-transfer-encoding: quoted-printable") {
        qp(body)
    } else {
        body.to_owned()
    };
    format!("{head}\n\n{body}").replace("\r\n", "\n")
}
