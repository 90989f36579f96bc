//! Settings an owner changes while the shop runs: a few of the configuration's keys
//! ([`RUNTIME`]) that are safe to change without a restart, kept in the `settings` table and
//! laid over the configuration the node started with.
//!
//! A stored value wins over the configuration file (it is the owner's later word); taking it
//! back ([`put`] with `None`) returns the key to the configured value. Values are checked by
//! the configuration's own rules ([`crate::config::Config::problems`]: the bounds beside each
//! field, the shop name's), so a setting means the same from the file, the environment and
//! the dashboard.
//!
//! Every node keeps its copy current from what each commit changed ([`Live::reload`] runs
//! in the writer's commit hooks on the primary and in the change-log tailer on a replica,
//! before the cache's tags are bumped): no request after an acknowledged change sees the
//! old value, on any node.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use rusqlite::{params, Connection, OptionalExtension};

use crate::config::Config;
use crate::db::writer::ChangeSet;

/// The keys that change at run time. Each is read where it is used from [`Live::get`],
/// never from the configuration a node started with:
/// - `shop_name`: every page's title and header (a change reaches every cached page);
/// - `low_stock_threshold`: `inventory.low` and the dashboard's low-stock filter;
/// - `cart_max_lines`: the next line added to any cart;
/// - `order_expiry_mins`, `guest_order_expiry_mins`: orders placed from then on;
/// - `admin_require_2fa`: the next administrator request;
/// - `return_window_days`: the next return asked for;
/// - `draft_custom_prices`: the next draft order saved or completed;
/// - `locales`: the languages of every catalog answer (a change reaches every cached one);
/// - `currencies`: the currencies a request may ask for and their rates (likewise).
pub const RUNTIME: [&str; 10] = [
    "shop_name",
    "low_stock_threshold",
    "cart_max_lines",
    "order_expiry_mins",
    "guest_order_expiry_mins",
    "admin_require_2fa",
    "return_window_days",
    "draft_custom_prices",
    "locales",
    "currencies",
];

/// The table the settings live in (a commit that touches it reloads every node's copy).
pub const TABLE: &str = "settings";

/// The configuration as it stands now: as started, with the stored settings over it.
pub struct Live {
    started: Config,
    current: RwLock<Arc<Config>>,
}

impl Live {
    pub fn new(started: Config) -> Live {
        let current = RwLock::new(Arc::new(started.clone()));
        Live { started, current }
    }

    /// The configuration now (cheap: one `Arc`).
    pub fn get(&self) -> Arc<Config> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The configuration as the node started (file, environment, flags).
    pub fn started(&self) -> &Config {
        &self.started
    }

    /// Reads the stored settings and lays them over the started configuration. A stored
    /// value that no longer passes (a rule that tightened since) is left out, and said.
    pub fn reload(&self, conn: &Connection) -> rusqlite::Result<()> {
        let mut next = self.started.clone();
        for row in stored(conn)? {
            match overlay(&next, &[(row.key.clone(), Some(row.value.clone()))]) {
                Ok(c) => next = c,
                Err(problems) => {
                    tracing::warn!(key = %row.key, ?problems, "a stored setting no longer passes; the configured value stands");
                }
            }
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(())
    }
}

impl Live {
    /// [`Live::reload`] from a connection of its own on `path` (a commit hook's: the
    /// writer's and the tailer's connections are theirs). A failure keeps the copy as it
    /// was, and says so.
    pub fn reload_from(&self, path: &std::path::Path) {
        let done = crate::db::open_read(path).and_then(|conn| self.reload(&conn));
        if let Err(e) = done {
            tracing::error!(error = %e, "cannot read the run-time settings; the previous values stand");
        }
    }
}

/// Whether a commit changed the settings.
pub fn changed(changes: &ChangeSet) -> bool {
    changes.tables.contains_key(TABLE)
}

/// `config` with each `(key, value)` set (`None`: the value `started` has). Refusals by
/// key: a key that is not one of [`RUNTIME`], a value of the wrong kind, a value the
/// configuration's rules refuse.
pub fn apply(
    started: &Config,
    now: &Config,
    changes: &[(String, Option<serde_json::Value>)],
) -> Result<Config, BTreeMap<String, String>> {
    let from_start = serde_json::to_value(started).expect("the configuration serializes");
    let resolved: Vec<(String, Option<serde_json::Value>)> = changes
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone().unwrap_or_else(|| from_start.get(k).cloned().unwrap_or_default()))))
        .collect();
    overlay(now, &resolved)
}

fn overlay(base: &Config, changes: &[(String, Option<serde_json::Value>)]) -> Result<Config, BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    let mut value = serde_json::to_value(base).expect("the configuration serializes");
    for (key, v) in changes {
        if !RUNTIME.contains(&key.as_str()) {
            errors.insert(
                key.clone(),
                format!("not a setting that changes at run time; those are {}", RUNTIME.join(", ")),
            );
            continue;
        }
        let Some(v) = v else { continue };
        // one key at a time, so a value of the wrong kind is named by its key
        let mut one = value.clone();
        one[key] = v.clone();
        if serde_json::from_value::<Config>(one).is_err() {
            let kind = match value.get(key) {
                Some(serde_json::Value::Bool(_)) => "true or false",
                Some(serde_json::Value::String(_)) => "text",
                _ => "a whole number",
            };
            errors.insert(key.clone(), format!("must be {kind}"));
            continue;
        }
        value[key] = v.clone();
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let config: Config =
        serde_json::from_value(value).map_err(|e| BTreeMap::from([("settings".to_owned(), e.to_string())]))?;
    for problem in config.problems() {
        // "cart_max_lines must be …": said beside its key as "must be …"
        match RUNTIME
            .iter()
            .find_map(|k| problem.strip_prefix(*k).and_then(|rest| rest.strip_prefix(' ')).map(|rest| (*k, rest)))
        {
            Some((key, rest)) => errors.entry(key.to_owned()).or_insert_with(|| rest.to_owned()),
            None => errors.entry("settings".to_owned()).or_insert(problem),
        };
    }
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors)
    }
}

/// One stored setting.
#[derive(Debug, Clone)]
pub struct Stored {
    pub key: String,
    pub value: serde_json::Value,
    pub changed_at: i64,
    /// the administrator who changed it
    pub changed_by: Option<i64>,
}

pub fn stored(conn: &Connection) -> rusqlite::Result<Vec<Stored>> {
    let mut stmt = conn.prepare_cached("SELECT key, value, changed_at, changed_by FROM settings ORDER BY key")?;
    let rows = stmt.query_map([], |r| {
        let text: String = r.get(1)?;
        Ok(Stored {
            key: r.get(0)?,
            value: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
            changed_at: r.get(2)?,
            changed_by: r.get(3)?,
        })
    })?;
    rows.collect()
}

/// Stores `key`'s value (`None`: takes it back). Answers the stored value before, if any.
pub fn put(
    conn: &Connection,
    key: &str,
    value: Option<&serde_json::Value>,
    by: Option<i64>,
    now: i64,
) -> rusqlite::Result<Option<serde_json::Value>> {
    let before: Option<String> =
        conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?.query_row([key], |r| r.get(0)).optional()?;
    match value {
        Some(v) => {
            conn.prepare_cached(
                "INSERT INTO settings(key, value, changed_at, changed_by) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at,
                                                changed_by = excluded.changed_by",
            )?
            .execute(params![key, v.to_string(), now, by])?;
        }
        None => {
            conn.prepare_cached("DELETE FROM settings WHERE key = ?1")?.execute([key])?;
        }
    }
    Ok(before.and_then(|t| serde_json::from_str(&t).ok()))
}

/// What the dashboard and the API show of one key: its doc, bounds, value now, the
/// configured value, and when it was changed (if it was).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SettingOut {
    pub key: String,
    /// what it does (the configuration's comment)
    pub description: String,
    /// its value now, on every node: text, a whole number or true/false, as the key is
    pub value: serde_json::Value,
    /// its value from the configuration (file, environment, flags): what taking the
    /// change back returns to
    pub configured: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<i64>,
    /// when it was changed at run time (RFC 3339); absent while the configured value stands
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<String>,
    /// the administrator who changed it
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<String>,
}

/// Every run-time setting as it stands, in [`RUNTIME`]'s order.
pub fn described(live: &Live, rows: &[Stored]) -> Vec<SettingOut> {
    let now = serde_json::to_value(&*live.get()).expect("the configuration serializes");
    let started = serde_json::to_value(live.started()).expect("the configuration serializes");
    let docs: BTreeMap<String, crate::config::Setting> =
        crate::config::settings().into_iter().map(|s| (s.key.clone(), s)).collect();
    RUNTIME
        .iter()
        .map(|key| {
            let doc = docs.get(*key);
            let row = rows.iter().find(|r| r.key == *key);
            let bound = |b: Option<i128>| b.and_then(|n| i64::try_from(n).ok());
            SettingOut {
                key: (*key).to_owned(),
                description: doc.map(|d| d.doc.clone()).unwrap_or_default(),
                value: now.get(*key).cloned().unwrap_or_default(),
                configured: started.get(*key).cloned().unwrap_or_default(),
                minimum: doc.and_then(|d| bound(d.bounds.0)),
                maximum: doc.and_then(|d| bound(d.bounds.1)),
                changed_at: row.map(|r| crate::util::rfc3339(r.changed_at)),
                changed_by: row.and_then(|r| r.changed_by).map(|id| id.to_string()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_checked_by_the_configurations_rules_and_named_by_key() {
        let c = Config::default();
        let ok = apply(
            &c,
            &c,
            &[("shop_name".into(), Some(json!("Quokka Goods"))), ("cart_max_lines".into(), Some(json!(7)))],
        )
        .unwrap();
        assert_eq!((ok.shop_name.as_str(), ok.cart_max_lines), ("Quokka Goods", 7));
        let back = apply(&c, &ok, &[("shop_name".into(), None)]).unwrap();
        assert_eq!((back.shop_name.as_str(), back.cart_max_lines), (c.shop_name.as_str(), 7));
        for (key, value, says) in [
            ("cart_max_lines", json!(0), "between 1 and 1000"),
            ("cart_max_lines", json!("many"), "a whole number"),
            ("shop_name", json!(""), "1 to 100 characters"),
            ("shop_name", json!(12), "text"),
            ("admin_require_2fa", json!("yes"), "true or false"),
            ("low_stock_threshold", json!(-1), "at least 0"),
            ("db", json!("/elsewhere.db"), "not a setting that changes at run time"),
        ] {
            let e = apply(&c, &c, &[(key.into(), Some(value.clone()))]).unwrap_err();
            assert!(e.get(key).is_some_and(|m| m.contains(says)), "{key} = {value}: {e:?}");
        }
    }
}
