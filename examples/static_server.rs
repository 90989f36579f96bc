//! The baseline of the load benchmarks: a bare hyper HTTP/1 server answering fixed bytes.
//! It is given the exact bodies storefront returned, so a storefront figure divided by
//! this one, measured in the same run, is a ratio that survives a noisy machine.
//!
//! usage: static_server LISTEN_ADDR PATH=FILE [PATH=FILE ...]
//! (PATH may carry a query string, matched against the whole request target; FILE is
//! what follows the last `=`; PATH `*` answers every target no other PATH names)

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

fn main() {
    let mut args = std::env::args().skip(1);
    let listen = args.next().expect("usage: static_server LISTEN_ADDR PATH=FILE ...");
    let mut routes = HashMap::new();
    for a in args {
        let (path, file) = a.rsplit_once('=').expect("PATH=FILE");
        routes.insert(path.to_owned(), Bytes::from(std::fs::read(file).expect("readable body file")));
    }
    let routes = Arc::new(routes);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen).await.expect("bind");
        eprintln!("static server on {listen} with {} routes", routes.len());
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let routes = routes.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
                    let resp = match routes.get(target).or_else(|| routes.get("*")) {
                        Some(body) => Response::builder()
                            .header("content-type", "application/json")
                            .header("cache-control", "public, max-age=30, stale-while-revalidate=300")
                            .header("etag", "\"0123456789abcdef\"")
                            .header("vary", "accept-encoding")
                            .header("x-request-id", "0123456789abcdef01234567")
                            .body(Full::new(body.clone()))
                            .unwrap(),
                        None => Response::builder().status(404).body(Full::new(Bytes::new())).unwrap(),
                    };
                    async move { Ok::<_, Infallible>(resp) }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
}
