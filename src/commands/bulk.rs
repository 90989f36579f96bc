//! `storefront import products FILE` and `storefront export products|orders|customers`,
//! with progress bars on standard error.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::bulk::export::{self, Kind};
use crate::bulk::import::Format;

fn bar(what: &str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>9} [{bar:40}] {percent:>3}% {pos}/{len} rows ({per_sec}, eta {eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// What an import did, for the exit status: were rows rejected?
pub struct Imported {
    pub rejected: u64,
}

/// Imports products from `file`. Refused while a server runs on the database: its caches
/// and search index learn of writes only through its own writer (use the admin API's
/// `POST /api/admin/imports` then).
pub fn import_products(db: &Path, file: &Path, format: Option<Format>) -> anyhow::Result<Imported> {
    let format = format
        .or_else(|| Format::of_path(file))
        .context("say --format csv or --format jsonl (the file's name does not tell)")?;
    anyhow::ensure!(file.is_file(), "no file at {}", file.display());
    anyhow::ensure!(
        !crate::db::is_served(db)?,
        "a server is running on {}: import through it (POST /api/admin/imports), or stop it first",
        db.display()
    );
    let tool = super::Tool::open(db)?;
    let started = std::time::Instant::now();
    let bar = bar("importing");
    let report = import_file(&tool, file, format, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    let report = report?;
    for r in &report.rejected {
        eprintln!("line {}: {}: {}", r.line, r.field, r.reason);
    }
    if report.rejected_count > report.rejected.len() as u64 {
        eprintln!("… and {} more rejected rows", report.rejected_count - report.rejected.len() as u64);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} rows in {:.1}s ({:.0} rows/s): {} created, {} updated, {} unchanged, {} rejected",
        report.rows,
        secs,
        report.rows as f64 / secs.max(1e-9),
        report.created,
        report.updated,
        report.unchanged,
        report.rejected_count
    );
    Ok(Imported { rejected: report.rejected_count })
}

/// Exports `kind` to `out` (standard output when `None`), streamed.
pub fn export(db: &Path, kind: Kind, format: Format, since: Option<&str>, out: Option<&Path>) -> anyhow::Result<()> {
    let since = match since {
        Some(s) => crate::util::parse_utc(s)
            .with_context(|| format!("--since {s:?}: a date (2026-01-31) or an RFC 3339 UTC timestamp"))?,
        None => 0,
    };
    anyhow::ensure!(db.exists(), "no database at {}", db.display());
    let conn = crate::db::open_read(db)?;
    let bar = bar("exporting");
    let mut progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let rows = match out {
        Some(path) => {
            let part = path.with_extension("part");
            // never written through a link: a leftover part (file or link) is removed, the
            // new one made 0600 and exclusively, and renamed over `path` (which replaces a
            // link there, not its target)
            if std::fs::symlink_metadata(&part).is_ok() {
                std::fs::remove_file(&part).with_context(|| format!("removing {}", part.display()))?;
            }
            let file = crate::util::create_private(&part).with_context(|| format!("creating {}", part.display()))?;
            let mut w = std::io::BufWriter::with_capacity(256 * 1024, file);
            let rows = export::write(&conn, kind, format, since, &mut w, &mut progress)?;
            let file = w.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            std::fs::rename(&part, path)?;
            rows
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::with_capacity(256 * 1024, stdout.lock());
            let rows = export::write(&conn, kind, format, since, &mut w, &mut progress)?;
            w.flush()?;
            rows
        }
    };
    bar.finish_and_clear();
    eprintln!("exported {rows} {}", kind.as_str());
    Ok(())
}

/// The shop's languages as a server on the database would have them: the configuration
/// of the environment (`STOREFRONT_LOCALES`), with the run-time settings stored in the
/// database over it.
fn shop_of(tool: &super::Tool) -> anyhow::Result<crate::bulk::import::Shop> {
    let live = crate::settings::Live::new(crate::config::Config::load(None, Default::default())?);
    live.reload(&tool.read)?;
    Ok(crate::bulk::import::Shop::of(&live.get()))
}

/// Imports a file from the command line: `progress(done, total)` after each batch.
fn import_file(
    tool: &super::Tool,
    path: &Path,
    format: Format,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<crate::bulk::import::Report> {
    let total = crate::bulk::import::count_rows(path, format)?;
    progress(0, total);
    let mut source = crate::bulk::import::Source::open(path, format)?;
    let mut report = crate::bulk::import::Report::default();
    let shop = shop_of(tool)?;
    loop {
        let batch = source.next_batch(crate::bulk::import::BATCH)?;
        for r in batch.rejected {
            report.reject(r);
        }
        let rows = batch.rows;
        let shop = shop.clone();
        let applied = tool.write(move |tx| {
            crate::bulk::import::apply(tx, &rows, crate::util::now_ms(), &shop).map_err(crate::error::StoreError::from)
        })?;
        report.add(batch.read, applied);
        progress(report.rows, total.max(report.rows));
        if source.is_done() {
            return Ok(report);
        }
    }
}
