//! What the owner's dashboard shows beyond the admin API's lists: today's orders and
//! revenue. Orders' ids grow with their time of placing, so today's are the newest ids: the
//! read walks back from the newest order to the last one placed before the day began (the
//! day's orders, never the table).

use rusqlite::Connection;

/// Orders placed since the day began (UTC), and the revenue of those paid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Today {
    pub orders: i64,
    /// minor units, of orders paid or fulfilled
    pub revenue: i64,
    /// orders placed in each hour of the day
    pub by_hour: [i64; 24],
}

pub fn today(conn: &Connection, day_start_ms: i64) -> rusqlite::Result<Today> {
    let mut t = Today::default();
    let mut stmt = conn.prepare_cached(
        "SELECT (created_at - ?1) / 3600000, count(*),
                coalesce(sum(CASE WHEN status IN ('paid', 'fulfilled') THEN total END), 0)
         FROM orders
         WHERE id > coalesce((SELECT id FROM orders WHERE created_at < ?1 ORDER BY id DESC LIMIT 1), 0)
           AND created_at >= ?1
         GROUP BY 1",
    )?;
    let mut rows = stmt.query([day_start_ms])?;
    while let Some(r) = rows.next()? {
        let (hour, n, revenue): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        t.orders += n;
        t.revenue += revenue;
        if let Some(slot) = t.by_hour.get_mut(hour as usize) {
            *slot += n;
        }
    }
    Ok(t)
}
