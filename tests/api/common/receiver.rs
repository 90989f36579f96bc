//! A real HTTP receiver of webhooks: a hyper server on a loopback port that records every
//! request and answers from a script (`500, 500, then 200`), or holds every request open
//! until the test lets it go (a receiver that hangs).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

#[derive(Debug, Clone)]
pub struct Hit {
    pub at: Instant,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// what the receiver answered (0: it hung and never answered)
    pub answered: u16,
}

impl Hit {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

struct Script {
    statuses: VecDeque<u16>,
    then: u16,
    hang: bool,
}

pub struct Receiver {
    pub addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Arc<Mutex<Script>>,
    release: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Answers `statuses` in turn, then `then` to every later request.
    pub async fn start(statuses: &[u16], then: u16) -> Receiver {
        Receiver::with(Script { statuses: statuses.iter().copied().collect(), then, hang: false }).await
    }

    /// Holds every request open until [`Receiver::release`].
    pub async fn hanging() -> Receiver {
        Receiver::with(Script { statuses: VecDeque::new(), then: 200, hang: true }).await
    }

    async fn with(script: Script) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let script = Arc::new(Mutex::new(script));
        let (release, released) = tokio::sync::watch::channel(false);
        let (h, s) = (hits.clone(), script.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (hits, script, released) = (h.clone(), s.clone(), released.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (hits, script) = (hits.clone(), script.clone());
                        let mut released = released.clone();
                        async move {
                            let at = Instant::now();
                            let headers = req
                                .headers()
                                .iter()
                                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                                .collect();
                            let body =
                                req.into_body().collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
                            let (status, hang) = {
                                let mut s = script.lock().unwrap();
                                let st = s.statuses.pop_front().unwrap_or(s.then);
                                (st, s.hang)
                            };
                            let index = {
                                let mut h = hits.lock().unwrap();
                                h.push(Hit { at, headers, body, answered: if hang { 0 } else { status } });
                                h.len() - 1
                            };
                            if hang {
                                let _ = released.wait_for(|r| *r).await;
                                hits.lock().unwrap()[index].answered = status;
                            }
                            let resp = hyper::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from_static(b"ok")))
                                .unwrap();
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { addr, hits, script, release, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// The webhook events of type `kind` received, in order, each once: delivery is at
    /// least once, and a receiver keeps the first of each event id.
    pub fn events_of(&self, kind: &str) -> Vec<serde_json::Value> {
        let mut events: Vec<serde_json::Value> = Vec::new();
        for e in self.hits().iter().map(|h| h.json()).filter(|e| e["type"] == kind) {
            if !events.iter().any(|seen| seen["id"] == e["id"]) {
                events.push(e);
            }
        }
        events
    }

    /// From now on, answer `status` to everything at once (requests held already stay held).
    pub fn answer(&self, status: u16) {
        let mut s = self.script.lock().unwrap();
        s.statuses.clear();
        s.then = status;
        s.hang = false;
    }

    /// Lets every held request (and every later one) be answered.
    pub fn release(&self) {
        let _ = self.release.send(true);
    }

    /// Waits (up to `secs`) until at least `n` requests came; returns them.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Hit> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let hits = self.hits();
            if hits.len() >= n {
                return hits;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {n} deliveries; got {}", hits.len());
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.release();
        self.task.abort();
    }
}
