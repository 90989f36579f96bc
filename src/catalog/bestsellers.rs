//! Bestsellers: the products with the most units sold over the last 1 to 365 days, the top
//! of every window precomputed in one pass and served from memory.
//!
//! Why: summed on demand, a 30-day window at a million products groups ~320,000 daily rows
//! (125–150 ms a request). The board answers any window in microseconds; the page then
//! reads the summaries of the products it shows.
//!
//! How it stays current: the `bestsellers` task of [`crate::jobs::schedule`] rebuilds the board when sales were recorded
//! since the last build (the writer's post-commit hook marks it), at most every
//! `bestsellers_refresh_secs`, and right after midnight UTC when every window moves by a
//! day. So a sale shows in bestsellers within `bestsellers_refresh_secs` (stated in the
//! API document); the rebuild invalidates the cached bestseller responses. Until the
//! first build, and on a day the board was not yet rebuilt for, SQLite answers.
//!
//! The build: daily rows newest day first, a running total per product, and the top
//! [`KEEP`] of those totals kept as the window grows one day at a time — totals only grow
//! as the window reaches back, so the top set is exact after every day and is copied out
//! as that window's answer.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use rusqlite::Connection;

use crate::db::writer::ChangeSet;
use crate::util::{now_ms, DAY_MS};

/// Windows reach back this many days.
pub const MAX_DAYS: i64 = 365;

/// Per window, this many products are kept: a page shows at most 100, and retired
/// products (skipped when shown) leave room for the next ones.
pub const KEEP: usize = 210;

/// The top of every window, as of one day.
pub struct Board {
    /// the day (since 1970-01-01, UTC) the windows end on
    pub day: i64,
    /// `tops[d - 1]`: (product id, units) of the last `d` days, most units first, ties by id
    tops: Vec<Vec<(i64, i64)>>,
}

impl Board {
    /// One pass over the daily rows of the `MAX_DAYS` days ending on `today`.
    pub fn build(conn: &Connection, today: i64) -> rusqlite::Result<Board> {
        let mut running: HashMap<i64, i64> = HashMap::new();
        // (units, Reverse(id)) ascending: the first is the one to drop
        let mut top: BTreeSet<(i64, std::cmp::Reverse<i64>)> = BTreeSet::new();
        let mut tops: Vec<Vec<(i64, i64)>> = Vec::with_capacity(MAX_DAYS as usize);
        let snapshot = |top: &BTreeSet<(i64, std::cmp::Reverse<i64>)>| -> Vec<(i64, i64)> {
            top.iter().rev().map(|(units, id)| (id.0, *units)).collect()
        };
        let mut stmt = conn.prepare_cached(
            "SELECT day, product_id, units FROM product_sales_daily WHERE day > ?1 AND day <= ?2
             ORDER BY day DESC",
        )?;
        let mut rows = stmt.query([today - MAX_DAYS, today])?;
        while let Some(r) = rows.next()? {
            let (day, id, units): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            // every window that ends before this row's day is complete
            while (tops.len() as i64) < today - day {
                tops.push(snapshot(&top));
            }
            let total = running.entry(id).or_default();
            let before = *total;
            *total += units.max(0);
            let now = *total;
            if top.remove(&(before, std::cmp::Reverse(id))) || top.len() < KEEP {
                top.insert((now, std::cmp::Reverse(id)));
            } else if top.first().is_some_and(|low| (now, std::cmp::Reverse(id)) > *low) {
                top.pop_first();
                top.insert((now, std::cmp::Reverse(id)));
            }
        }
        while (tops.len() as i64) < MAX_DAYS {
            tops.push(snapshot(&top));
        }
        Ok(Board { day: today, tops })
    }

    /// The top of the last `days` days (1 to [`MAX_DAYS`]).
    pub fn top(&self, days: i64) -> &[(i64, i64)] {
        &self.tops[(days.clamp(1, MAX_DAYS) - 1) as usize]
    }
}

#[derive(Default)]
pub struct Bestsellers {
    board: RwLock<Option<Arc<Board>>>,
    /// a sale was committed since the last build
    sold: AtomicBool,
    /// a request found no board and was answered by SQLite (and maybe cached)
    fell_back: AtomicBool,
}

impl Bestsellers {
    /// The board for `today`, when one is built.
    pub fn for_day(&self, today: i64) -> Option<Arc<Board>> {
        let board = self.board.read().unwrap_or_else(|e| e.into_inner()).clone().filter(|b| b.day == today);
        if board.is_none() {
            self.fell_back.store(true, Ordering::Release);
        }
        board
    }

    /// The writer's post-commit hook: notes a sale for the next rebuild.
    pub fn note(&self, changes: &ChangeSet) {
        if super::tags::records_sale(changes) {
            self.sold.store(true, Ordering::Release);
        }
    }

    /// Rebuilds the board from the database at `path` when a sale was noted or the day
    /// changed (or `force`). Returns whether cached bestseller responses must go: a board
    /// replaced another, or requests were answered without one meanwhile (a first build
    /// that nobody asked for changes no answer).
    pub fn refresh(&self, path: &Path, force: bool) -> rusqlite::Result<bool> {
        let today = now_ms().div_euclid(DAY_MS);
        let stale = self.board.read().unwrap_or_else(|e| e.into_inner()).as_ref().is_none_or(|b| b.day != today);
        // taken before the build: a sale committed during it leaves the flag set again
        let sold = self.sold.swap(false, Ordering::AcqRel);
        if !(force || stale || sold) {
            return Ok(false);
        }
        let started = std::time::Instant::now();
        let conn = crate::db::open_read(path)?;
        conn.execute_batch("BEGIN")?;
        let built = Board::build(&conn, today);
        conn.execute_batch("COMMIT")?;
        match built {
            Ok(board) => {
                tracing::debug!(ms = started.elapsed().as_millis() as u64, "bestsellers board built");
                let replaced = self.board.write().unwrap_or_else(|e| e.into_inner()).replace(Arc::new(board)).is_some();
                Ok(replaced | self.fell_back.swap(false, Ordering::AcqRel))
            }
            Err(e) => {
                self.sold.store(sold, Ordering::Release);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The board against the SQL sum, for every window.
    #[test]
    fn every_window_matches_a_sum_over_its_days() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE product_sales_daily (day INTEGER, product_id INTEGER, units INTEGER, PRIMARY KEY (day, product_id)) WITHOUT ROWID").unwrap();
        let today = 20_000;
        let mut rng = crate::util::Rng::new(9);
        for _ in 0..20_000 {
            let day = today - (rng.next_u64() % 400) as i64;
            let product = 1 + (rng.next_u64() % 600) as i64;
            // a few products sell much more: ties and a long tail both occur
            let units = if product % 50 == 0 { 5 } else { 1 + (rng.next_u64() % 3) as i64 };
            conn.execute(
                "INSERT INTO product_sales_daily VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET units = units + excluded.units",
                [day, product, units],
            )
            .unwrap();
        }
        let board = Board::build(&conn, today).unwrap();
        for days in [1, 2, 7, 30, 90, 200, 365] {
            let want: Vec<(i64, i64)> = conn
                .prepare(
                    "SELECT product_id, sum(units) FROM product_sales_daily WHERE day > ?1 AND day <= ?2
                     GROUP BY product_id ORDER BY 2 DESC, 1 LIMIT ?3",
                )
                .unwrap()
                .query_map([today - days, today, KEEP as i64], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(board.top(days), want.as_slice(), "{days} days");
        }
    }
}
