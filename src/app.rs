//! Application state and start-up: open the database, migrate it, fill the demo catalog
//! when asked, start the writer, build the read pool. The state travels to every handler;
//! the configuration lives inside it, never in a global.

use std::ops::Deref;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cache::ResponseCache;
use crate::catalog::bestsellers::Bestsellers;
use crate::catalog::search_index::SearchIndex;
use crate::config::Config;
use crate::db::{self, migrate, writer, Db};
use crate::seed::{self, SeedOptions};

pub struct App {
    pub config: Config,
    pub db: Db,
    /// The in-memory search index (see [`crate::catalog::search_index`]).
    pub search: Arc<SearchIndex>,
    /// The response cache (see [`crate::cache`]).
    pub cache: Arc<ResponseCache>,
    /// The precomputed bestsellers (see [`crate::catalog::bestsellers`]).
    pub bestsellers: Arc<Bestsellers>,
    /// `Cache-Control` of public catalog responses, rendered once.
    pub catalog_caching: crate::http::Caching,
    /// The job queue's handle: this worker's name, the runner's wake-up (see [`crate::jobs`]).
    pub jobs: Arc<crate::jobs::Jobs>,
    /// The SMTP sender (see [`crate::mail`]).
    pub mailer: crate::mail::Mailer,
    /// The webhook sender (see [`crate::webhooks`]).
    pub webhooks: crate::webhooks::deliver::Sender,
    /// Held while this process serves the database (see [`db::ServingMark`]).
    pub serving: Option<db::ServingMark>,
    /// Set when shutdown begins: `/ready` answers 503 so load balancers stop sending.
    pub draining: AtomicBool,
    pub started: Instant,
    /// Everything `/metrics` shows (see [`crate::telemetry`]).
    pub metrics: crate::telemetry::Metrics,
    /// Password hashing, bounded (see [`crate::customers::auth::Hasher`]).
    pub hasher: crate::customers::auth::Hasher,
    /// The rate limits (see [`crate::limits`]).
    pub limits: crate::limits::Limiter,
    /// `trusted_proxies`, parsed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Where access-log lines go, when `access_log` is on.
    pub access_log: Option<crate::http::access_log::AccessLog>,
}

/// Cheap to clone: one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// What a writer unit needs to know of the shop's settings for the side effects it
/// writes (mail jobs, stock alerts): copied out of the state before the unit runs.
#[derive(Debug, Clone, Copy)]
pub struct Effects {
    /// the shop sends mail: enqueue sending jobs with outbox rows
    pub mail: bool,
    /// `inventory.low` at or below this
    pub low_stock: i64,
}

impl App {
    pub fn effects(&self) -> Effects {
        Effects { mail: self.mailer.sends(), low_stock: self.config.low_stock_threshold }
    }
}

impl AppState {
    /// Opens (creating and migrating as needed) the database of `config` and starts the writer.
    pub fn open(config: Config) -> anyhow::Result<AppState> {
        let path = config.db.clone();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            anyhow::ensure!(dir.is_dir(), "the directory of the database file {} does not exist", path.display());
        }
        let mut conn = db::open_write(&path, config.synchronous)
            .with_context(|| format!("opening database {}", path.display()))?;
        let migrated = migrate::migrate(&mut conn).context("migrating the schema")?;
        tracing::info!(db = %path.display(), ?migrated, "database ready");

        let has_products: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM products)", [], |r| r.get(0))?;
        if config.demo && !has_products {
            let started = Instant::now();
            tracing::info!(products = config.demo_products, "filling the empty database with the demo catalog");
            let mut opts = SeedOptions::today(config.demo_products, 42);
            opts.progress = true;
            let report = seed::seed(&mut conn, opts).context("generating the demo catalog")?;
            db::optimize(&conn)?;
            tracing::info!(?report, secs = started.elapsed().as_secs_f32(), "demo catalog ready");
        } else {
            let analyzed: i64 =
                conn.query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'", [], |r| r.get(0))?;
            if analyzed == 0 && has_products {
                db::optimize(&conn)?;
            } else {
                // a user's ANALYZE may have left STAT4 samples: keep plans stable
                db::drop_stat4(&conn)?;
            }
        }

        let metrics = crate::telemetry::Metrics::new(Duration::from_millis(config.slow_query_ms));
        let writer = writer::Writer::start(
            conn,
            writer::WriterConfig { queue_capacity: config.writer_queue, max_batch: config.writer_max_batch },
        )?;
        writer.observe(metrics.writer_observer());
        let search = Arc::new(if config.search_index { SearchIndex::default() } else { SearchIndex::off() });
        if config.search_index {
            // the hook goes in before the build starts, so no commit falls between the two
            let hook = search.clone();
            writer.on_commit(Arc::new(move |changes| hook.patch(changes)));
            let index = search.clone();
            let path = path.clone();
            std::thread::Builder::new()
                .name("storefront-search-index".into())
                .spawn(move || index.build(&path))
                .context("starting the search index build")?;
        }
        let bestsellers = Arc::new(Bestsellers::default());
        let hook = bestsellers.clone();
        writer.on_commit(Arc::new(move |changes| hook.note(changes)));
        // After the search index's hook (registered above): a search loaded after the
        // cache's bump must find the index already current.
        let cache = Arc::new(ResponseCache::new(config.cache_mb, Duration::from_secs(config.cache_ttl_secs)));
        if cache.enabled() {
            let hook = cache.clone();
            writer.on_commit(Arc::new(move |changes| {
                hook.bump_committed(&crate::catalog::tags::keys_of_changes(changes));
            }));
        }
        let serving = db::mark_serving(&path)
            .map_err(|e| tracing::warn!(error = %e, "cannot mark the database as served; imports from the command line will not know"))
            .ok();
        let jobs = Arc::new(crate::jobs::Jobs::new(crate::jobs::runner::Settings::from_config(&config)));
        writer.on_commit(jobs.commit_hook());
        let mailer = crate::mail::Mailer::new(&config).context("setting up mail")?;
        let webhooks = crate::webhooks::deliver::Sender::new(&config).context("setting up webhooks")?;
        let pool = db::open_read_pool(&path, config.read_pool_size).context("opening the read pool")?;
        let read_observer = metrics.read_observer(Some(Duration::from_millis(config.read_time_limit_ms)));
        let database = Db::new(pool, writer, path, Duration::from_millis(config.read_wait_ms), read_observer);
        let access_log = config.access_log.then(crate::http::access_log::AccessLog::stdout);
        let catalog_caching =
            crate::http::Caching::Public { max_age: config.catalog_max_age_secs, swr: config.catalog_swr_secs }
                .prebuilt();
        let limits = crate::limits::Limiter::new(&config);
        let trusted_proxies =
            crate::http::client::parse_trusted(&config.trusted_proxies).map_err(anyhow::Error::msg)?;
        Ok(AppState(Arc::new(App {
            hasher: crate::customers::auth::Hasher::new(config.password_hash_queue),
            limits,
            trusted_proxies,
            catalog_caching,
            config,
            db: database,
            search,
            bestsellers,
            cache,
            jobs,
            serving,
            mailer,
            webhooks,
            draining: AtomicBool::new(false),
            started: Instant::now(),
            metrics,
            access_log,
        })))
    }

    /// After the server has drained: let the writer commit what it holds and stop.
    pub fn close(&self) {
        self.db.writer.shutdown();
    }
}
