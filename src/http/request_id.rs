//! Request ids and the headers every answer carries: `X-Request-Id` (the client's, when it
//! sent a sane one, else one made here) and, on writes, `X-Storefront-Commit`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use axum::http::HeaderValue;

pub const REQUEST_ID: &str = "x-request-id";

/// The commit position of a write's answer (API.md: read-your-writes).
pub const COMMIT_HEADER: &str = "x-storefront-commit";

/// The id of the request being served (an extension of the request).
#[derive(Clone, Debug)]
pub struct RequestId(pub HeaderValue);

fn process_prefix() -> u64 {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    *PREFIX.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        crate::util::Rng::new(t ^ ((std::process::id() as u64) << 32)).next_u64()
    })
}

/// Each thread takes its numbers in blocks, so that two threads answering requests side by
/// side do not contend for one counter on every request.
const BLOCK: u64 = 1024;

fn next_number() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        /// the next number of this thread's block, and the block's end
        static NEXT: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
    }
    NEXT.with(|c| {
        let (mut next, mut end) = c.get();
        if next == end {
            next = COUNTER.fetch_add(BLOCK, Ordering::Relaxed);
            end = next + BLOCK;
        }
        c.set((next + 1, end));
        next
    })
}

pub fn next_request_id() -> HeaderValue {
    let n = next_number();
    // 16 hex digits of the process prefix, 8 of the counter (no formatting machinery: this
    // runs for every request, cache hits included)
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = [0u8; 24];
    let (p, n) = (process_prefix(), n as u32);
    for (i, b) in id[..16].iter_mut().enumerate() {
        *b = HEX[((p >> (60 - 4 * i)) & 0xf) as usize];
    }
    for (i, b) in id[16..].iter_mut().enumerate() {
        *b = HEX[((n >> (28 - 4 * i)) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&id).expect("hex digits make a valid header")
}

/// A client-sent id is kept when it is 1–128 visible ASCII characters.
pub fn client_request_id(v: &HeaderValue) -> Option<HeaderValue> {
    let b = v.as_bytes();
    (!b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())).then(|| v.clone())
}

/// The id of a request with these headers: the client's, else a new one.
pub fn of_request(headers: &axum::http::HeaderMap) -> HeaderValue {
    headers.get(REQUEST_ID).and_then(client_request_id).unwrap_or_else(next_request_id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_unique_across_threads() {
        let ids: Vec<Vec<String>> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    (0..3000).map(|_| super::next_request_id().to_str().unwrap().to_owned()).collect()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        let all: std::collections::HashSet<&String> = ids.iter().flatten().collect();
        assert_eq!(all.len(), 12_000);
        assert!(all.iter().all(|id| id.len() == 24));
    }
}
