//! Bulk data in and out: product imports ([`import`]) and exports of products, orders and
//! customers ([`export`]), each as a job the admin API starts (with progress) and as a
//! command with a progress bar. Both stream: memory does not grow with the file.

pub mod export;
pub mod handlers;
pub mod import;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::error::StoreError;
use crate::jobs::{Done, JobCtx, JobResult, Permanent};
use crate::util::now_ms;
use import::{Format, Report, Source};

#[derive(Debug, Deserialize)]
pub struct ImportArgs {
    pub path: PathBuf,
    pub format: Format,
}

/// Runs `f` on a blocking thread (file reading and parsing).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    Ok(tokio::task::spawn_blocking(f).await?)
}

/// The `import_products` job: the uploaded file, batch by batch through the writer, with
/// `done/total` rows as progress. Re-running it (a retry after a crash) is harmless: rows
/// are upserted by sku.
pub async fn import_job(ctx: &mut JobCtx, args: ImportArgs) -> JobResult {
    let app = ctx.app.clone();
    let (path, format) = (args.path.clone(), args.format);
    let p = path.clone();
    let total = blocking(move || import::count_rows(&p, format)).await?.map_err(|e| Permanent(e.to_string()))?;
    ctx.progress(0, Some(total as i64), true).await?;
    let p = path.clone();
    let mut source: Source = blocking(move || Source::open(&p, format)).await?.map_err(|e| Permanent(e.to_string()))?;
    let mut report = Report::default();
    loop {
        let (s, batch) = blocking(move || {
            let b = source.next_batch(import::BATCH);
            (source, b)
        })
        .await?;
        source = s;
        let batch = batch?;
        for r in batch.rejected {
            report.reject(r);
        }
        let rows = Arc::new(batch.rows);
        let applied = write_batch(&app, rows).await?;
        report.add(batch.read, applied);
        ctx.progress(report.rows as i64, Some(total as i64), false).await?;
        if source.is_done() {
            break;
        }
    }
    ctx.progress(report.rows as i64, Some(total.max(report.rows) as i64), true).await?;
    tracing::info!(
        job.id = ctx.id,
        rows = report.rows,
        created = report.created,
        updated = report.updated,
        rejected = report.rejected_count,
        "import done"
    );
    // the upload has served its purpose
    let _ = tokio::fs::remove_file(&path).await;
    Ok(Done::Completed(Some(serde_json::to_value(&report)?)))
}

/// One batch through the writer, waiting out a full queue (the shop's own writes go first).
async fn write_batch(app: &crate::app::AppState, rows: Arc<Vec<import::Row>>) -> anyhow::Result<import::Applied> {
    let mut wait = Duration::from_millis(20);
    loop {
        let r = rows.clone();
        let shop = import::Shop::of(&app.live());
        match app.db.writer.run(move |tx| import::apply(tx, &r, now_ms(), &shop).map_err(StoreError::from)).await {
            Err(StoreError::Busy(_)) if wait < Duration::from_secs(10) => {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            other => return Ok(other?),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ExportArgs {
    pub kind: export::Kind,
    pub format: Format,
    /// unix ms
    pub since: Option<i64>,
}

/// Where export files go.
pub fn exports_dir(c: &crate::config::Config) -> PathBuf {
    c.files_dir().join("exports")
}

/// Where uploaded imports wait for their job.
pub fn imports_dir(c: &crate::config::Config) -> PathBuf {
    c.files_dir().join("imports")
}

/// The file of export job `id`.
pub fn export_file(c: &crate::config::Config, id: i64, format: Format) -> PathBuf {
    exports_dir(c).join(format!("export-{id}.{}", format.extension()))
}

/// The `export` job: writes the file beside the database (renamed into place when
/// complete), reporting `done/total` rows.
pub async fn export_job(ctx: &mut JobCtx, args: ExportArgs) -> JobResult {
    let app = ctx.app.clone();
    let dir = exports_dir(&app.config);
    tokio::fs::create_dir_all(&dir).await?;
    let file = export_file(&app.config, ctx.id, args.format);
    let part = file.with_extension("part");
    let (done, total) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (d, t, db, out) = (done.clone(), total.clone(), app.db.path.clone(), part.clone());
    let work = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        let conn = crate::db::open_read(&db)?;
        let f = std::fs::File::create(&out)?;
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, f);
        let n = export::write(&conn, args.kind, args.format, args.since.unwrap_or(0), &mut w, &mut |a, b| {
            d.store(a, Ordering::Relaxed);
            t.store(b, Ordering::Relaxed);
        })?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        Ok(n)
    });
    tokio::pin!(work);
    let rows = loop {
        tokio::select! {
            r = &mut work => break r??,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {
                let (a, b) = (done.load(Ordering::Relaxed), total.load(Ordering::Relaxed));
                ctx.progress(a as i64, Some(b as i64), false).await?;
            }
        }
    };
    tokio::fs::rename(&part, &file).await?;
    let bytes = tokio::fs::metadata(&file).await?.len();
    ctx.progress(rows as i64, Some(rows as i64), true).await?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Done::Completed(Some(serde_json::json!({
        "file": name, "kind": args.kind, "format": args.format, "rows": rows, "bytes": bytes
    }))))
}

/// Spreadsheet formulas in CSV cells (OWASP's "CSV injection"): a text cell that starts
/// with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by the
/// spreadsheet that opens the export (a customer named `=HYPERLINK(...)`). Exports write
/// such a cell with one more `'` in front (after any it already has, so the rule reverses
/// exactly); imports take one away, so an export imports back unchanged. Numbers are written
/// as they are.
pub mod formula {
    use std::borrow::Cow;

    const TRIGGERS: &[char] = &['=', '+', '-', '@', '\t', '\r'];

    /// Whether `s`, past its leading quotes, starts like a formula.
    fn armed(s: &str) -> bool {
        s.trim_start_matches('\'').starts_with(TRIGGERS)
    }

    /// A text cell as an export writes it.
    pub fn neutralize(s: &str) -> Cow<'_, str> {
        if armed(s) {
            Cow::Owned(format!("'{s}"))
        } else {
            Cow::Borrowed(s)
        }
    }

    /// A cell as an import reads it.
    pub fn restore(s: &str) -> &str {
        match s.strip_prefix('\'') {
            Some(rest) if armed(rest) => rest,
            _ => s,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn formulas_are_defused_and_come_back_unchanged() {
            for (value, written) in [
                ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
                ("+1", "'+1"),
                ("-2+3", "'-2+3"),
                ("@SUM(A1)", "'@SUM(A1)"),
                ("\tx", "'\tx"),
                ("\rx", "'\rx"),
                ("'=x", "''=x"),
                ("plain", "plain"),
                ("'quoted", "'quoted"),
                ("a=b", "a=b"),
                ("", ""),
            ] {
                assert_eq!(neutralize(value), written, "{value:?}");
                assert_eq!(restore(&neutralize(value)), value, "{value:?}");
            }
        }
    }
}
