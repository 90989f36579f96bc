//! Application state and start-up: open the database, migrate it, start the writer, build
//! the read pool; the registry of the shop's work ([`tasks`]); what a scrape of `/metrics`
//! reads at its moment ([`metrics`], also the dashboard's figures). The state travels to every handler;
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
use crate::replication::Replication;

pub mod metrics;
pub mod tasks;

pub struct App {
    /// The configuration as the node started. The keys that change at run time
    /// ([`crate::settings::RUNTIME`]) are read from [`App::live`] instead.
    pub config: Config,
    /// The run-time settings over the configuration (see [`crate::settings`]).
    pub settings: Arc<crate::settings::Live>,
    pub db: Db,
    /// The in-memory search index (see [`crate::catalog::search_index`]).
    pub search: Arc<SearchIndex>,
    /// The response cache (see [`crate::cache`]).
    pub cache: Arc<ResponseCache>,
    /// Whether some prices are for customer groups (see [`crate::catalog::prices`]).
    pub group_prices: Arc<crate::catalog::prices::GroupPrices>,
    /// The precomputed bestsellers (see [`crate::catalog::bestsellers`]).
    pub bestsellers: Arc<Bestsellers>,
    /// `Cache-Control` of public catalog responses, rendered once.
    pub catalog_caching: crate::http::Caching,
    /// The job queue's handle: this worker's name, the runner's wake-up (see [`crate::jobs`]).
    pub jobs: Arc<crate::jobs::Jobs>,
    /// The SMTP sender (see [`crate::mail`]).
    pub mailer: crate::mail::Mailer,
    /// seals and opens the secrets kept in the database (see [`crate::secrets`])
    pub secrets: Arc<crate::secrets::Sealer>,
    /// The webhook sender (see [`crate::webhooks`]).
    pub webhooks: crate::webhooks::deliver::Sender,
    /// The payment provider's refunds (see [`crate::orders::provider`]).
    pub refunds: crate::orders::provider::Refunds,
    /// Held while this process serves the database (see [`db::ServingMark`]).
    pub serving: Option<db::ServingMark>,
    /// Set when shutdown begins: `/ready` answers 503 so load balancers stop sending.
    pub draining: AtomicBool,
    pub started: Instant,
    /// Everything `/metrics` shows (see [`crate::telemetry`]).
    pub metrics: crate::telemetry::Metrics,
    /// The last hour of this node's request figures, for the dashboard's charts.
    pub history: crate::admin::dashboard::History,
    /// Password hashing, bounded (see [`crate::auth::Hasher`]).
    pub hasher: crate::auth::Hasher,
    /// The rate limits (see [`crate::limits`]).
    pub limits: crate::limits::Limiter,
    /// The node's handle on Redis, when `redis_url` is set (see [`crate::redis`]): the
    /// rate limits and the cache's second tier share it.
    pub redis: Option<Arc<crate::redis::Redis>>,
    /// `trusted_proxies` and `limit_exempt`, parsed: who a request's client is.
    pub clients: crate::http::client::Clients,
    /// Where access-log lines go, when `access_log` is on.
    pub access_log: Option<crate::http::access_log::AccessLog>,
    /// Primary, replica or neither (see [`crate::replication`]).
    pub replication: Replication,
}

/// What a node derives from its database and keeps current from what each commit
/// changed: the search index, the bestsellers, the response cache.
struct Derived {
    settings: Arc<crate::settings::Live>,
    group_prices: Arc<crate::catalog::prices::GroupPrices>,
    search: Arc<SearchIndex>,
    bestsellers: Arc<Bestsellers>,
    cache: Arc<ResponseCache>,
}

impl Derived {
    fn new(config: &Config) -> Derived {
        Derived {
            settings: Arc::new(crate::settings::Live::new(config.clone())),
            group_prices: Arc::new(crate::catalog::prices::GroupPrices::default()),
            search: Arc::new(if config.search_index { SearchIndex::default() } else { SearchIndex::off() }),
            bestsellers: Arc::new(Bestsellers::default()),
            cache: Arc::new(ResponseCache::new(config.cache_mb, Duration::from_secs(config.cache_ttl_secs))),
        }
    }

    /// The hooks that bring them up to a commit, in order: the run-time settings first and
    /// the search index next (a page or a search made after the cache's bump must find
    /// them current), then the bestsellers, then the cache's tags (`publish`: in Redis and
    /// to the other nodes too, which the primary does for its commits; a replica only bumps
    /// its own L1). `path`: the database this node reads.
    fn hooks(&self, publish: bool, path: &std::path::Path) -> Vec<writer::CommitHook> {
        let mut hooks: Vec<writer::CommitHook> = Vec::new();
        {
            let (settings, path) = (self.settings.clone(), path.to_owned());
            hooks.push(Arc::new(move |changes| {
                if crate::settings::changed(changes) {
                    settings.reload_from(&path);
                }
            }));
        }
        {
            let (groups, path) = (self.group_prices.clone(), path.to_owned());
            hooks.push(Arc::new(move |changes| {
                if changes.touches("price_lists") {
                    groups.reload_from(&path);
                }
            }));
        }
        if self.search.status() != "off" {
            let hook = self.search.clone();
            hooks.push(Arc::new(move |changes| hook.patch(changes)));
        }
        let hook = self.bestsellers.clone();
        hooks.push(Arc::new(move |changes| hook.note(changes)));
        if self.cache.enabled() {
            let hook = self.cache.clone();
            hooks.push(Arc::new(move |changes| {
                let tags = crate::catalog::tags::keys_of_changes(changes);
                if publish {
                    hook.bump_committed(&tags);
                } else if !tags.is_empty() {
                    hook.bump_local(&tags);
                }
            }));
        }
        hooks
    }

    /// Builds the search index in the background (its hook must be registered first).
    fn build_index(&self, path: &std::path::Path) -> anyhow::Result<()> {
        if self.search.status() != "off" {
            let index = self.search.clone();
            let path = path.to_owned();
            std::thread::Builder::new()
                .name("storefront-search-index".into())
                .spawn(move || index.build(&path))
                .context("starting the search index build")?;
        }
        Ok(())
    }
}

/// The database file's directory must exist (the file itself is created, or restored).
fn ensure_dir_of(path: &std::path::Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        anyhow::ensure!(dir.is_dir(), "the directory of the database file {} does not exist", path.display());
    }
    Ok(())
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
#[derive(Clone)]
pub struct Effects {
    /// the shop sends mail: enqueue sending jobs with outbox rows
    pub mail: bool,
    /// `inventory.low` at or below this
    pub low_stock: i64,
    /// a payment provider takes refunds (`payment_provider_url`): refunds of orders paid
    /// through it are sent there by the `refund` job
    pub refund_provider: bool,
    /// seals what a mail carries that must not rest in the database readable (a gift
    /// card's code) until it is sent
    pub secrets: Arc<crate::secrets::Sealer>,
    /// the `currencies` setting: what orders in another currency than the default are
    /// priced by (see `catalog::prices`)
    pub currencies: String,
    /// the `locales` setting: the default language, in which mail is written when its
    /// reader chose none
    pub locales: String,
}

impl Effects {
    /// The words of the language `tag` (`None`: the shop's default) for mail.
    pub fn lang(&self, tag: Option<&str>) -> crate::mail::words::Lang {
        crate::mail::words::Lang::in_shop(tag, &self.locales)
    }
}

impl App {
    pub fn effects(&self) -> Effects {
        Effects {
            mail: self.mailer.sends(),
            low_stock: self.live().low_stock_threshold,
            refund_provider: self.config.payment_provider_url.is_some(),
            secrets: self.secrets.clone(),
            currencies: self.live().currencies.clone(),
            locales: self.live().locales.clone(),
        }
    }

    /// The configuration now: as started, with the owner's run-time settings over it.
    pub fn live(&self) -> Arc<Config> {
        self.settings.get()
    }
}

impl AppState {
    /// Opens (creating and migrating as needed) the database of `config` and starts the
    /// writer; a replica (`replica_of`) gets its copy ready and follows it instead.
    pub fn open(config: Config) -> anyhow::Result<AppState> {
        if config.replica_of.is_some() {
            return AppState::open_replica(config);
        }
        let path = config.db.clone();
        ensure_dir_of(&path)?;
        let mut conn = db::open_write(&path, config.synchronous)
            .with_context(|| format!("opening database {}", path.display()))?;
        let migrated = migrate::migrate(&mut conn).context("migrating the schema")?;
        tracing::info!(db = %path.display(), ?migrated, "database ready");
        // secrets at rest: any still plain (from before sealing) are sealed, and reset mail
        // already sent keeps no code
        let secrets = crate::secrets::Sealer::load_or_create(&config.secrets_key_path())?;
        let tx = conn.transaction()?;
        let sealed = crate::secrets::reseal(&tx, &secrets, &secrets, true)?;
        tx.execute(
            &format!(
                "UPDATE mail_outbox SET body = ?1 WHERE kind IN {} AND sent_at IS NOT NULL AND body <> ?1",
                crate::mail::SECRET_KINDS
            ),
            [crate::mail::REDACTED],
        )?;
        tx.commit()?;
        if sealed > 0 {
            tracing::info!(sealed, key = %secrets.path().display(), "secrets sealed");
        }

        let derived = Derived::new(&config);
        derived.settings.reload(&conn).context("reading the run-time settings")?;
        derived.group_prices.reload(&conn).context("reading the price lists")?;

        let has_products: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM products)", [], |r| r.get(0))?;
        let analyzed: i64 =
            conn.query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'", [], |r| r.get(0))?;
        if analyzed == 0 && has_products {
            db::optimize(&conn)?;
        } else {
            // a user's ANALYZE may have left STAT4 samples: keep plans stable
            db::drop_stat4(&conn)?;
        }

        let metrics = crate::telemetry::Metrics::new(Duration::from_millis(config.slow_query_ms));
        let writer = writer::Writer::start(
            conn,
            writer::WriterConfig { queue_capacity: config.writer_queue, max_batch: config.writer_max_batch },
        )?;
        writer.observe(metrics.writer_observer());
        // the hooks go in before the index's build starts, so no commit falls between the two
        for hook in derived.hooks(true, &path) {
            writer.on_commit(hook);
        }
        derived.build_index(&path)?;
        let jobs =
            Arc::new(crate::jobs::Jobs::new(crate::jobs::runner::Settings::from_config(&config), tasks::perform));
        writer.on_commit(jobs.commit_hook());
        let pool = db::open_read_pool(&path, config.read_pool_size).context("opening the read pool")?;
        let read_observer = metrics.read_observer(Some(Duration::from_millis(config.read_time_limit_ms)));
        let database = Db::new(pool, writer, path.clone(), Duration::from_millis(config.read_wait_ms), read_observer);
        let replication = match &config.replicate_to {
            Some(url) => {
                let args: Vec<std::ffi::OsString> = match &config.litestream_config {
                    Some(own) => vec!["replicate".into(), "-config".into(), own.as_os_str().to_owned()],
                    None => {
                        let file = crate::replication::litestream::write_replicate_config(
                            &path,
                            url,
                            Duration::from_millis(config.replication_interval_ms),
                        )
                        .context("writing the litestream configuration")?;
                        vec!["replicate".into(), "-config".into(), file.into_os_string()]
                    }
                };
                let on_exit: crate::replication::litestream::OnExit = Box::new(|_| {});
                let s =
                    crate::replication::litestream::Supervisor::start("replicate", &config.litestream, args, on_exit)
                        .context("starting litestream replicate")?;
                Replication::Primary(s)
            }
            None => Replication::Standalone,
        };
        AppState::assemble(config, database, derived, jobs, metrics, replication, secrets)
    }

    /// A replica: its copy ready (restored, followed), reads on it, no writer, what
    /// arrives in it applied to the caches and the search index.
    fn open_replica(mut config: Config) -> anyhow::Result<AppState> {
        let path = config.db.clone();
        ensure_dir_of(&path)?;
        let primary = config.replica_of.clone().context("a replica needs replica_of")?;
        // the primary runs the jobs and the shop's recurring tasks; a replica writes nothing
        config.jobs_concurrency = 0;
        let litestream = crate::replication::follow::prepare(
            &path,
            config.replicate_from.as_deref(),
            &config.litestream,
            Duration::from_millis(config.replication_interval_ms),
        )?;
        let metrics = crate::telemetry::Metrics::new(Duration::from_millis(config.slow_query_ms));
        let writer = writer::Writer::detached();
        let follow = crate::replication::follow::Follow::new(&path, writer.position_cell())?;
        let derived = Derived::new(&config);
        derived.settings.reload_from(&path);
        derived.group_prices.reload_from(&path);
        derived.cache.follow();
        for hook in derived.hooks(false, &path) {
            follow.on_commit(hook);
        }
        {
            let (search, cache, path) = (derived.search.clone(), derived.cache.clone(), path.clone());
            let settings = derived.settings.clone();
            let groups = derived.group_prices.clone();
            follow.on_reset(Box::new(move || {
                settings.reload_from(&path);
                groups.reload_from(&path);
                cache.drop_local();
                search.rebuild(&path);
            }));
        }
        derived.build_index(&path)?;
        follow.start().context("starting the copy's tailer")?;
        let jobs =
            Arc::new(crate::jobs::Jobs::new(crate::jobs::runner::Settings::from_config(&config), tasks::perform));
        let read_observer = metrics.read_observer(Some(Duration::from_millis(config.read_time_limit_ms)));
        let database = Db::followed(
            config.read_pool_size as usize,
            writer,
            path,
            Duration::from_millis(config.read_wait_ms),
            read_observer,
        );
        let forward = Arc::new(crate::replication::forward::Forwarder::new(&config, &primary)?);
        let replica = Arc::new(crate::replication::Replica {
            follow,
            forward,
            litestream,
            wait: Duration::from_millis(config.replica_wait_ms),
            max_lag: Duration::from_millis(config.replica_max_lag_ms),
            in_flight: Arc::new(tokio::sync::Semaphore::new(crate::replication::MAX_IN_FLIGHT)),
        });
        // a replica opens no secret (its writes, and the jobs, are the primary's)
        let secrets = crate::secrets::Sealer::load_or_create(&config.secrets_key_path())?;
        AppState::assemble(config, database, derived, jobs, metrics, Replication::Replica(replica), secrets)
    }

    fn assemble(
        config: Config,
        database: Db,
        derived: Derived,
        jobs: Arc<crate::jobs::Jobs>,
        metrics: crate::telemetry::Metrics,
        replication: Replication,
        secrets: crate::secrets::Sealer,
    ) -> anyhow::Result<AppState> {
        derived.cache.track_position(database.writer.position_cell());
        let serving = db::mark_serving(&database.path)
            .map_err(|e| tracing::warn!(error = %e, "cannot mark the database as served; imports from the command line will not know"))
            .ok();
        let mailer = crate::mail::Mailer::new(&config).context("setting up mail")?;
        let webhooks = crate::webhooks::deliver::Sender::new(&config).context("setting up webhooks")?;
        let refunds = crate::orders::provider::Refunds::new(&config).context("setting up the payment provider")?;
        let access_log = config.access_log.then(crate::http::access_log::AccessLog::stdout);
        let catalog_caching =
            crate::http::Caching::Public { max_age: config.catalog_max_age_secs, swr: config.catalog_swr_secs }
                .prebuilt();
        let redis = match &config.redis_url {
            Some(url) => Some(Arc::new(
                crate::redis::Redis::new(url, &config.redis_prefix, Duration::from_millis(config.redis_timeout_ms))
                    .context("the redis_url")?,
            )),
            None => None,
        };
        let limits = crate::limits::Limiter::new(&config, redis.clone());
        let clients = crate::http::client::Clients::new(&config.trusted_proxies, &config.limit_exempt)
            .map_err(anyhow::Error::msg)?;
        if let Some(warning) = trust_warning(&config) {
            tracing::warn!("{warning}");
        }
        Ok(AppState(Arc::new(App {
            settings: derived.settings,
            secrets: Arc::new(secrets),
            hasher: crate::auth::Hasher::new(config.password_hash_queue),
            limits,
            redis,
            clients,
            catalog_caching,
            config,
            db: database,
            search: derived.search,
            group_prices: derived.group_prices,
            bestsellers: derived.bestsellers,
            cache: derived.cache,
            jobs,
            serving,
            mailer,
            webhooks,
            refunds,
            draining: AtomicBool::new(false),
            started: Instant::now(),
            metrics,
            history: Default::default(),
            access_log,
            replication,
        })))
    }

    /// After the server has drained: let the writer commit what it holds and stop.
    pub fn close(&self) {
        self.db.writer.shutdown();
        self.replication.stop();
    }
}

/// What is wrong with who this node trusts to name clients, for its log and `/ready`: a
/// replicated node (primary or replica) with an empty `trusted_proxies` sees every client of
/// a replica or balancer as that peer.
pub fn trust_warning(config: &crate::config::Config) -> Option<String> {
    let replicated = config.replica_of.is_some() || config.replicate_to.is_some();
    (replicated && config.trusted_proxies.is_empty()).then(|| {
        "trusted_proxies is empty on a replicated node: the clients of its replicas and load balancers count as \
         those peers (list them in trusted_proxies)"
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn a_replicated_node_without_trusted_proxies_is_warned_about() {
        let mut c = Config::default();
        assert!(super::trust_warning(&c).is_none(), "one node on the defaults");
        c.trusted_proxies.clear();
        assert!(super::trust_warning(&c).is_none(), "one node trusting nobody: its peers are its clients");
        c.replicate_to = Some("file:///tmp/x".into());
        assert!(super::trust_warning(&c).is_some_and(|w| w.contains("trusted_proxies")), "a primary");
        c.replicate_to = None;
        c.replica_of = Some("http://10.0.0.10:8080".into());
        assert!(super::trust_warning(&c).is_some(), "a replica");
        c.trusted_proxies = vec!["10.0.0.2".into()];
        assert!(super::trust_warning(&c).is_none());
    }
}
