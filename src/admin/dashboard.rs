//! What the owner's dashboard shows beyond the admin API's lists: today's orders and
//! revenue. Orders' ids grow with their time of placing, so today's are the newest ids: the
//! read walks back from the newest order to the last one placed before the day began (the
//! day's orders, never the table).

use rusqlite::Connection;

/// Orders placed since the day began (UTC), and the revenue of those paid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Today {
    pub orders: i64,
    /// of orders paid or fulfilled: minor units by currency (each one orders were paid in)
    pub revenue: Vec<(String, i64)>,
    /// orders placed in each hour of the day
    pub by_hour: [i64; 24],
}

pub fn today(conn: &Connection, day_start_ms: i64) -> rusqlite::Result<Today> {
    let mut t = Today::default();
    let mut stmt = conn.prepare_cached(
        "SELECT (created_at - ?1) / 3600000, count(*),
                sum(CASE WHEN status IN ('paid', 'partially_fulfilled', 'fulfilled') THEN total END), currency
         FROM orders
         WHERE id > coalesce((SELECT id FROM orders WHERE created_at < ?1 ORDER BY id DESC LIMIT 1), 0)
           AND created_at >= ?1
         GROUP BY 1, currency",
    )?;
    let mut rows = stmt.query([day_start_ms])?;
    while let Some(r) = rows.next()? {
        let (hour, n, revenue, currency): (i64, i64, Option<i64>, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        t.orders += n;
        if let Some(paid) = revenue {
            match t.revenue.iter_mut().find(|(c, _)| *c == currency) {
                Some((_, sum)) => *sum += paid,
                None => t.revenue.push((currency, paid)),
            }
        }
        if let Some(slot) = t.by_hour.get_mut(hour as usize) {
            *slot += n;
        }
    }
    Ok(t)
}

/// What this node's counters read at one moment: requests answered, the request-time
/// histogram's cumulative buckets, the response cache's hits and misses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub at_ms: i64,
    pub requests: f64,
    /// (upper bound in seconds, requests within it), by bound
    pub buckets: Vec<(f64, f64)>,
    pub cache_hits: u64,
    pub cache_misses: u64,
}

impl Sample {
    /// The request figures of a `/metrics` text (every route summed).
    pub fn from_scrape(at_ms: i64, scrape: &str, cache_hits: u64, cache_misses: u64) -> Sample {
        let mut requests = 0.0;
        let mut buckets: std::collections::BTreeMap<String, f64> = Default::default();
        let value = |rest: &str| rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        for line in scrape.lines() {
            if let Some(rest) = line.strip_prefix("storefront_http_requests_total{") {
                requests += value(rest);
            } else if let Some(rest) = line.strip_prefix("storefront_http_request_duration_seconds_bucket{") {
                let le = rest.split("le=\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or("");
                *buckets.entry(le.to_owned()).or_default() += value(rest);
            }
        }
        let mut buckets: Vec<(f64, f64)> = buckets
            .into_iter()
            .filter_map(|(le, n)| le.parse::<f64>().ok().or((le == "+Inf").then_some(f64::INFINITY)).map(|b| (b, n)))
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        Sample { at_ms, requests, buckets, cache_hits, cache_misses }
    }

    /// The 95th percentile of the requests counted in `buckets` (the bound it falls
    /// within; infinity beyond the last bound), none without requests.
    pub fn p95_of(buckets: &[(f64, f64)]) -> Option<f64> {
        let count = buckets.last().map_or(0.0, |b| b.1);
        (count > 0.0).then(|| buckets.iter().find(|(_, n)| *n >= 0.95 * count).map_or(f64::INFINITY, |b| b.0))
    }
}

/// This node's figures now.
pub async fn sample(app: &crate::app::AppState) -> Sample {
    let cache = app.cache.stats().await;
    Sample::from_scrape(crate::util::now_ms(), &app.metrics.render(), cache.hits, cache.misses)
}

/// The figures of the time between two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// when it ended
    pub at_ms: i64,
    pub requests: f64,
    pub p95: Option<f64>,
    pub cache_hit_ratio: Option<f64>,
}

fn span(from: &Sample, to: &Sample) -> Span {
    // a counter that went down was reset (a new recorder): the span starts from nothing
    let reset = to.requests < from.requests;
    let base = |f: f64| if reset { 0.0 } else { f };
    let buckets: Vec<(f64, f64)> = to
        .buckets
        .iter()
        .map(|(le, n)| {
            let before = from.buckets.iter().find(|(b, _)| b == le).map_or(0.0, |(_, m)| *m);
            (*le, (n - base(before)).max(0.0))
        })
        .collect();
    let hits = to.cache_hits.saturating_sub(from.cache_hits);
    let misses = to.cache_misses.saturating_sub(from.cache_misses);
    Span {
        at_ms: to.at_ms,
        requests: (to.requests - base(from.requests)).max(0.0),
        p95: Sample::p95_of(&buckets),
        cache_hit_ratio: (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64),
    }
}

/// The node's request figures over the last hour: a sample a minute (the `metrics_history`
/// task), kept in memory; the dashboard's charts are the spans between them, the last one
/// ending now.
#[derive(Debug, Default)]
pub struct History {
    samples: std::sync::Mutex<std::collections::VecDeque<Sample>>,
}

impl History {
    /// Samples kept: an hour of minutes and the one before.
    pub const KEEP: usize = 61;

    pub fn record(&self, s: Sample) {
        let mut samples = self.samples.lock().expect("history lock");
        if samples.len() == Self::KEEP {
            samples.pop_front();
        }
        samples.push_back(s);
    }

    /// The spans between the kept samples, oldest first, and the one from the last to `now`
    /// (before the first sample, from the start, when every counter was zero).
    pub fn spans(&self, now: &Sample) -> Vec<Span> {
        let samples = self.samples.lock().expect("history lock");
        let mut out: Vec<Span> = samples.iter().zip(samples.iter().skip(1)).map(|(a, b)| span(a, b)).collect();
        match samples.back() {
            Some(last) if last.at_ms < now.at_ms => out.push(span(last, now)),
            Some(_) => {}
            None => out.push(span(&Sample::default(), now)),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(requests: f64, fast: f64, slow: f64) -> String {
        format!(
            "storefront_http_requests_total{{method=\"GET\",route=\"/\",status=\"200\"}} {requests}\n\
             storefront_http_request_duration_seconds_bucket{{route=\"/\",le=\"0.005\"}} {fast}\n\
             storefront_http_request_duration_seconds_bucket{{route=\"/\",le=\"0.1\"}} {}\n\
             storefront_http_request_duration_seconds_bucket{{route=\"/\",le=\"+Inf\"}} {}\n",
            fast + slow,
            fast + slow
        )
    }

    #[test]
    fn spans_are_the_differences_between_samples_and_the_last_ends_now() {
        let h = History::default();
        h.record(Sample::from_scrape(0, &scrape(100.0, 100.0, 0.0), 10, 0));
        // the next minute: 100 more, 10 of them slow; 30 cache hits and 10 misses
        h.record(Sample::from_scrape(60_000, &scrape(200.0, 190.0, 10.0), 40, 10));
        let now = Sample::from_scrape(90_000, &scrape(200.0, 190.0, 10.0), 40, 10);
        let spans = h.spans(&now);
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].requests, 100.0);
        assert_eq!(spans[0].p95, Some(0.1), "10 of 100 took over 5 ms");
        assert_eq!(spans[0].cache_hit_ratio, Some(0.75));
        assert_eq!(spans[1], Span { at_ms: 90_000, requests: 0.0, p95: None, cache_hit_ratio: None });
        // a restarted recorder counts from nothing
        let h = History::default();
        h.record(Sample::from_scrape(0, &scrape(500.0, 500.0, 0.0), 0, 0));
        let spans = h.spans(&Sample::from_scrape(60_000, &scrape(20.0, 20.0, 0.0), 0, 0));
        assert_eq!(spans[0].requests, 20.0);
        assert_eq!(spans[0].p95, Some(0.005));
        // before the first sample: since the start
        let spans = History::default().spans(&Sample::from_scrape(5_000, &scrape(7.0, 7.0, 0.0), 1, 1));
        assert_eq!(spans, vec![Span { at_ms: 5_000, requests: 7.0, p95: Some(0.005), cache_hit_ratio: Some(0.5) }]);
    }

    #[test]
    fn an_hour_is_kept() {
        let h = History::default();
        for i in 0..200 {
            h.record(Sample { at_ms: i * 60_000, ..Sample::default() });
        }
        let spans = h.spans(&Sample { at_ms: 200 * 60_000, ..Sample::default() });
        assert_eq!(spans.len(), History::KEEP);
        assert_eq!(spans[0].at_ms, 140 * 60_000);
    }
}
