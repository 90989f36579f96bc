//! The operations that run as subcommands beside the server (`storefront jobs …`, and more):
//! each opens the database itself. Their writes go through a writer of their own (the same
//! code the server's units run, so every rule a unit keeps holds here too); SQLite's locking
//! serializes them with a server running on the same file.

pub mod bulk;
pub mod jobs;

use std::path::Path;

use anyhow::Context;

use crate::db::{self, writer};

/// `serve --demo`: the database (created and migrated as needed) gets the demo catalog
/// when it has no products yet — before the server opens it.
pub fn fill_demo(config: &crate::config::Config) -> anyhow::Result<()> {
    if !config.demo || config.replica_of.is_some() {
        return Ok(());
    }
    let path = &config.db;
    let mut conn =
        db::open_write(path, config.synchronous).with_context(|| format!("opening database {}", path.display()))?;
    db::migrate::migrate(&mut conn).context("migrating the schema")?;
    let has_products: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM products)", [], |r| r.get(0))?;
    if has_products {
        return Ok(());
    }
    let started = std::time::Instant::now();
    tracing::info!(products = config.demo_products, "filling the empty database with the demo catalog");
    let mut opts = crate::seed::SeedOptions::today(config.demo_products, 42);
    opts.progress = true;
    // the demo's past orders are in the shop's default currency, as its prices are
    opts.currency = crate::domain::currencies::default_of(&config.currencies);
    let report = crate::seed::seed(&mut conn, opts).context("generating the demo catalog")?;
    db::optimize(&conn)?;
    tracing::info!(?report, secs = started.elapsed().as_secs_f32(), "demo catalog ready");
    drop(conn);
    // the demo's owner, with a password of its own (said once, here)
    let mut bytes = [0u8; 9];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    let password = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
    let email = crate::domain::Email::parse(DEMO_OWNER).map_err(|m| anyhow::anyhow!("{m}"))?;
    crate::customers::create_admin(path, &email, "Demo owner", &password)?;
    tracing::info!(email = DEMO_OWNER, "demo owner created");
    eprintln!(
        "\n  The demo shop's dashboard: http://{}/admin\n  log in as {DEMO_OWNER} with the password {password}\n  \
         (shown this once; `storefront admin create --email {DEMO_OWNER}` sets a new one)\n",
        config.listen
    );
    Ok(())
}

/// The demo shop's administrator.
pub const DEMO_OWNER: &str = "owner@example.com";

/// The database of a command: a read connection and a writer, migrated first.
pub struct Tool {
    pub read: rusqlite::Connection,
    pub writer: writer::Writer,
    runtime: tokio::runtime::Runtime,
}

impl Tool {
    pub fn open(path: &Path) -> anyhow::Result<Tool> {
        anyhow::ensure!(path.exists(), "no database at {}", path.display());
        let mut conn =
            db::open_write(path, db::Synchronous::Full).with_context(|| format!("opening {}", path.display()))?;
        db::migrate::migrate(&mut conn).context("migrating the schema")?;
        let writer = writer::Writer::start(conn, writer::WriterConfig::default())?;
        let read = db::open_read(path)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(Tool { read, writer, runtime })
    }

    /// Runs `f` as one writer unit and waits for its commit.
    pub fn write<T, F>(&self, f: F) -> Result<T, crate::error::StoreError>
    where
        F: FnOnce(&writer::WriteTx<'_>) -> Result<T, crate::error::StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.runtime.block_on(self.writer.run(f))
    }
}

/// `storefront archive --before DATE [--dir DIR]`.
pub fn archive(db: &Path, before: &str, dir: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let before = crate::util::parse_utc(before)
        .with_context(|| format!("--before {before:?}: a date (2026-01-31) or an RFC 3339 UTC timestamp"))?;
    let config = crate::config::Config { db: db.to_owned(), archive_dir: dir, ..Default::default() };
    let dir = config.archive_dir();
    let tool = Tool::open(db)?;
    let bar = indicatif::ProgressBar::new_spinner();
    let report = tool.runtime.block_on(crate::archive::run(&tool.writer, db, &dir, before, &mut |r| {
        bar.set_message(format!("{} orders, {} audit rows, {} jobs", r.orders, r.audit_rows, r.jobs));
        bar.tick();
    }));
    bar.finish_and_clear();
    let report = report?;
    println!(
        "archived {} orders, {} audit rows and {} jobs into {} ({})",
        report.orders,
        report.audit_rows,
        report.jobs,
        dir.display(),
        if report.files.is_empty() { "nothing to move".to_owned() } else { report.files.join(", ") }
    );
    Ok(())
}

impl Drop for Tool {
    fn drop(&mut self) {
        self.writer.shutdown();
    }
}

/// `storefront secrets rotate`: every sealed secret sealed again under a new key, in one
/// transaction; the new key's file replaces the old one after it commits. Refused beside a
/// running server (its key would be the old one). Answers how many values were resealed.
pub fn rotate_secrets(db: &std::path::Path, key_file: Option<std::path::PathBuf>) -> anyhow::Result<usize> {
    use anyhow::Context;
    anyhow::ensure!(
        !crate::db::is_served(db)?,
        "{} is being served: stop the server first (it holds the current key)",
        db.display()
    );
    anyhow::ensure!(db.exists(), "{} does not exist", db.display());
    let config = crate::config::Config { db: db.to_owned(), secrets_key_file: key_file, ..Default::default() };
    let key = config.secrets_key_path();
    anyhow::ensure!(key.exists(), "no key file at {}: nothing is sealed with it", key.display());
    let current = crate::secrets::Sealer::load_or_create(&key)?;
    let next = current.begin_rotation()?;
    let mut conn = crate::db::open_write(db, crate::db::Synchronous::Full).context("opening the database")?;
    let tx = conn.transaction()?;
    let n = crate::secrets::reseal(&tx, &current, &next, false)?;
    tx.commit()?;
    next.finish_rotation()?;
    Ok(n)
}
