//! A real browser for the page tests: Debian's headless Chromium driven through its own
//! chromedriver over WebDriver (fantoccini). The driver and the browser run in a process
//! group of their own, killed whole when the test ends, pass or fail. Screenshots go to
//! `target/screenshots/` (desktop and phone widths); axe-core, installed pinned from the
//! npm registry by ./test.sh, checks each page's accessibility.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

pub const DESKTOP: (u32, u32) = (1280, 900);
pub const TAB: &str = "\u{E004}";
pub const ENTER: &str = "\u{E007}";
pub const PHONE: (u32, u32) = (390, 844);

pub struct Browser {
    pub client: Client,
    driver: Child,
    /// `http://127.0.0.1:port` of the shop under test
    pub base: String,
}

fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/lib/chromium"] {
        let p = PathBuf::from(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is missing: run ./test.sh, which installs Debian's chromium and chromium-driver");
}

/// axe-core's script, as ./test.sh installed it.
pub fn axe_source() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".npm-tools/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|_| panic!("{} is missing: run ./test.sh, which installs it", p.display()))
}

pub fn screenshots_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

impl Browser {
    /// A fresh browser (its own profile, no cookies) on the shop at `addr`.
    pub async fn start(addr: std::net::SocketAddr) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // the driver dies with this test's thread even when the test binary aborts (a Drop
        // never runs then): util-linux's setpriv sets its parent-death signal
        let mut cmd = if std::path::Path::new("/usr/bin/setpriv").exists() {
            let mut c = Command::new("/usr/bin/setpriv");
            c.args(["--pdeathsig", "KILL", "--"]).arg(tool("chromedriver"));
            c
        } else {
            Command::new(tool("chromedriver"))
        };
        cmd.arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let driver = cmd.spawn().expect("chromedriver starts");
        let mut guard = Guard(Some(driver));
        let caps: serde_json::Map<String, Value> = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": tool("chromium"),
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--no-first-run", "--disable-extensions", "--disable-background-networking",
                         "--disable-sync", "--disable-default-apps", "--hide-scrollbars", "--force-device-scale-factor=1",
                         "--lang=en-US", format!("--window-size={},{}", DESKTOP.0, DESKTOP.1)]
            }
        })
        .as_object()
        .unwrap()
        .clone();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) => {
                    assert!(tokio::time::Instant::now() < deadline, "chromedriver did not answer: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        Browser { client, driver: guard.0.take().unwrap(), base: format!("http://{addr}") }
    }

    pub async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    pub async fn path(&self) -> String {
        let u = self.client.current_url().await.unwrap();
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        }
    }

    pub async fn text(&self, css: &str) -> String {
        self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).text().await.unwrap()
    }

    /// The texts of every element `css` now shows, in order.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.client.find_all(Locator::Css(css)).await.unwrap() {
            out.push(e.text().await.unwrap());
        }
        out
    }

    /// The value of the form field `css`.
    pub async fn value(&self, css: &str) -> String {
        let el = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        el.prop("value").await.unwrap().unwrap_or_default()
    }

    /// Waits (up to 10 s) until the form field `css` holds `value` (a page that answers a
    /// form by coming back with it chosen).
    pub async fn wait_value(&self, css: &str, value: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                if e.prop("value").await.ok().flatten().as_deref() == Some(value) {
                    return;
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "{css} never held {value:?} on {}", self.path().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn click(&self, css: &str) {
        self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let el = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        el.clear().await.unwrap();
        el.send_keys(value).await.unwrap();
    }

    /// The text of the element `css` once the page shows one (up to 10 s): for a page that
    /// answers a form at the same address.
    pub async fn wait_text(&self, css: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                if let Ok(t) = e.text().await {
                    return t;
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "no {css} on {}", self.path().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (up to 10 s) until the element `css` has `part` in its text; returns the text.
    pub async fn wait_text_with(&self, css: &str, part: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                if let Ok(t) = e.text().await {
                    if t.contains(part) {
                        return t;
                    }
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "{css} never said {part:?} on {}", self.path().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens `path` again and again (up to 10 s) until its element `css` has `part` in its
    /// text: for a page that shows what background work has done.
    pub async fn reload_until(&self, path: &str, css: &str, part: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            self.goto(path).await;
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                if let Ok(t) = e.text().await {
                    if t.contains(part) {
                        return t;
                    }
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "{path}: {css} never said {part:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (up to 10 s) until the element `css` reads `text`.
    pub async fn wait_until_text(&self, css: &str, text: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                if e.text().await.is_ok_and(|t| t == text) {
                    return;
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "{css} never read {text:?} on {}", self.path().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Keys typed into whatever has the focus (WebDriver codes: `TAB`, `ENTER`).
    pub async fn keys(&self, text: &str) {
        self.client.active_element().await.unwrap().send_keys(text).await.unwrap();
    }

    /// The focused element's `id` (empty when it has none).
    pub async fn focused_id(&self) -> String {
        let v =
            self.client.execute("return document.activeElement && document.activeElement.id", vec![]).await.unwrap();
        v.as_str().unwrap_or("").to_owned()
    }

    /// Presses Tab until the element with `id` has the focus (at most 40 times).
    pub async fn tab_to(&self, id: &str) {
        for _ in 0..40 {
            if self.focused_id().await == id {
                return;
            }
            self.keys(TAB).await;
        }
        panic!("Tab never reached #{id}");
    }

    /// Waits (up to 10 s) for the page's path to become `path`.
    pub async fn wait_path(&self, path: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.path().await;
            if now == path {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                let shown = match self.client.find(Locator::Css("main")).await {
                    Ok(m) => m.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                panic!("still at {now}, waited for {path}; the page says: {shown}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Screenshots of the page at desktop and phone widths: `target/screenshots/{name}-….png`.
    pub async fn shoot(&self, name: &str) {
        let dir = screenshots_dir();
        for (label, (w, h)) in [("phone", PHONE), ("desktop", DESKTOP)] {
            self.client.set_window_size(w, h).await.unwrap();
            // the layout settles at the new width before the picture
            let _ = self
                .client
                .execute("return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))", vec![])
                .await;
            let png = self.client.screenshot().await.unwrap();
            assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
            std::fs::write(dir.join(format!("{name}-{label}.png")), png).unwrap();
        }
    }

    /// What the page now shown weighs, as the browser loaded it: (requests, bytes of their
    /// bodies as sent (compressed), bytes of scripts as sent, addresses of another origin).
    pub async fn weight(&self) -> (usize, u64, u64, Vec<String>) {
        let v = self
            .client
            .execute(
                "const nav = performance.getEntriesByType('navigation')[0];
                 const res = performance.getEntriesByType('resource');
                 return {
                   requests: 1 + res.length,
                   bytes: nav.encodedBodySize + res.reduce((n, r) => n + r.encodedBodySize, 0),
                   script: res.filter(r => r.initiatorType === 'script').reduce((n, r) => n + r.encodedBodySize, 0),
                   names: res.map(r => r.name)
                 };",
                vec![],
            )
            .await
            .unwrap();
        let foreign = v["names"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| n.as_str())
            .filter(|n| !n.starts_with(&self.base) && !n.starts_with("data:"))
            .map(str::to_owned)
            .collect();
        (v["requests"].as_u64().unwrap() as usize, v["bytes"].as_u64().unwrap(), v["script"].as_u64().unwrap(), foreign)
    }

    /// axe-core's serious and critical violations on the page, as `rule: where` lines.
    pub async fn accessibility_problems(&self) -> Vec<String> {
        let axe = axe_source();
        self.client.execute(&axe, vec![]).await.unwrap();
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map(v => ({
                     id: v.id, impact: v.impact, help: v.help,
                     nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)
                 })))).catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));",
                vec![],
            )
            .await
            .unwrap();
        result
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| format!("{} ({}): {} at {}", v["id"], v["impact"], v["help"], v["nodes"]))
            .collect()
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        kill_group(&mut self.driver);
    }
}

fn kill_group(child: &mut Child) {
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
    let _ = child.kill();
    let _ = child.wait();
}

struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            kill_group(c);
        }
    }
}

/// Whatever the test's end, the driver and its browsers go.
impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}
