//! The one typed configuration. Precedence, lowest first: built-in defaults < config file
//! (TOML, unknown keys rejected) < `STOREFRONT_*` environment variables (one for every
//! setting) < command-line flags, layered by figment. Validated once at start-up; carried
//! inside the application state, never global.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::db::Synchronous;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Every setting, each key once: its TOML name, its doc (the comment above it), its
/// default ([`Default`] below); its `STOREFRONT_*` variable is its name in capitals
/// ([`settings`]), its flag, where there is one, `crate::cli`'s `serve` argument of the same
/// name. `config print` and the completeness of `deploy/storefront.toml` (a test) come from
/// this list.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
#[schema(default)]
pub struct Config {
    /// Address the HTTP server listens on.
    #[schema(value_type = String)]
    pub listen: SocketAddr,
    /// The SQLite database file (created if missing).
    #[schema(value_type = String)]
    pub db: PathBuf,
    /// Fill an empty database with the demo catalog at start.
    pub demo: bool,
    /// Number of products in the demo catalog.
    #[schema(minimum = 1, maximum = 10000000)]
    pub demo_products: u64,
    /// Redis URL of the shared second cache tier (optional). Secret: redacted when printed.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel this shop uses (several shops can share one
    /// Redis with different prefixes).
    pub redis_prefix: String,
    /// Longest a request waits for Redis before it goes on without it.
    #[schema(minimum = 1, maximum = 10000)]
    pub redis_timeout_ms: u64,
    /// While this node cannot hear other nodes' invalidations (Redis down), its L1 serves
    /// an entry only this long after it was loaded.
    #[schema(maximum = 86400)]
    pub redis_detached_max_age_secs: u64,
    /// Response cache budget in MiB; 0 turns the response cache off.
    #[schema(maximum = 1048576)]
    pub cache_mb: u64,
    /// Longest a cached response lives (commits invalidate it sooner).
    #[schema(minimum = 1, maximum = 86400)]
    pub cache_ttl_secs: u64,
    /// Warming: the best-selling products whose pages (with the tree, brands, the first
    /// listing page and bestsellers) are re-filled at start and every
    /// `cache_warm_interval_secs`; 0 turns warming off.
    #[schema(maximum = 100000)]
    pub cache_warm_products: u64,
    /// How often warming re-fills the hottest pages.
    #[schema(minimum = 1, maximum = 86400)]
    pub cache_warm_interval_secs: u64,
    /// Bestsellers are precomputed: a sale shows in them within this many seconds.
    #[schema(minimum = 1, maximum = 86400)]
    pub bestsellers_refresh_secs: u64,
    /// Add `X-Cache: hit-l1 | hit-l2 | miss` to catalog responses (debugging, benchmarks).
    pub cache_debug_header: bool,
    /// Read-only connections in the pool.
    #[schema(minimum = 1, maximum = 256)]
    pub read_pool_size: u32,
    /// How long a request waits for a read connection before 503.
    #[schema(minimum = 1, maximum = 60000)]
    pub read_wait_ms: u64,
    /// Write units that may wait for the writer before 503.
    #[schema(minimum = 1, maximum = 1000000)]
    pub writer_queue: usize,
    /// Most write units committed in one transaction.
    #[schema(minimum = 1, maximum = 100000)]
    pub writer_max_batch: usize,
    /// `full`: every acknowledged write survives power loss; `normal`: survives a crash.
    #[schema(value_type = String)]
    pub synchronous: Synchronous,
    /// Open client connections accepted at once; more wait in the kernel backlog.
    #[schema(minimum = 1)]
    pub max_connections: usize,
    /// A client gets this long to send its request's headers, and its body (between two
    /// pieces of an upload); then 408 and the connection is closed.
    #[schema(minimum = 1, maximum = 3600)]
    pub request_body_timeout_secs: u64,
    /// Longest a request may take to be answered (uploads excepted): then 503 `timeout`.
    #[schema(minimum = 1, maximum = 3600)]
    pub request_timeout_secs: u64,
    /// Open connections one client address (an IPv6 /64) may hold; more are answered 503
    /// and closed. Trusted proxies are exempt (they carry many clients).
    #[schema(minimum = 1)]
    pub max_connections_per_address: usize,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace_secs: u64,
    /// `max-age` of public catalog responses.
    pub catalog_max_age_secs: u64,
    /// `stale-while-revalidate` of public catalog responses.
    pub catalog_swr_secs: u64,
    /// Serve `/api/search` from the in-memory index (built at start, kept current by the
    /// writer); `false` runs every search on SQLite's FTS5 index.
    pub search_index: bool,
    /// Throttling of logins and password resets: failed attempts allowed per account and
    /// per client address within the window; beyond them, 429 + Retry-After.
    #[schema(minimum = 1)]
    pub auth_window_secs: u64,
    /// Failed logins or resets allowed per account within `auth_window_secs`.
    #[schema(minimum = 1)]
    pub auth_failures_per_account: u64,
    /// Failed logins or resets allowed per client address within `auth_window_secs`.
    #[schema(minimum = 1)]
    pub auth_failures_per_address: u64,
    /// How long a session token lives.
    #[schema(minimum = 1, maximum = 3650)]
    pub session_ttl_days: u64,
    /// How long a password-reset token is valid.
    #[schema(minimum = 1, maximum = 10080)]
    pub reset_token_ttl_mins: u64,
    /// An unpaid order expires (its stock returns) after this long.
    #[schema(minimum = 1, maximum = 525600)]
    pub order_expiry_mins: u64,
    /// A guest's unpaid order holds its stock this long (a customer's: order_expiry_mins).
    #[schema(minimum = 1, maximum = 525600)]
    pub guest_order_expiry_mins: u64,
    /// Unpaid orders, and the units they reserve, one customer or guest session may have
    /// at a time, and one client address (an IPv6 /64): beyond them, checkout is 429.
    /// 0: no bound (a benchmark placing every order from one address).
    #[schema(maximum = 1000000000)]
    pub unpaid_orders_per_owner: u64,
    /// Units one customer or guest session may hold in unpaid orders (0: no bound).
    #[schema(maximum = 1000000000)]
    pub reserved_units_per_owner: u64,
    /// Unpaid orders one client address (an IPv6 /64) may hold (0: no bound).
    #[schema(maximum = 1000000000)]
    pub unpaid_orders_per_address: u64,
    /// Units one client address may hold in unpaid orders (0: no bound).
    #[schema(maximum = 1000000000)]
    pub reserved_units_per_address: u64,
    /// Shared secret of the payment provider's webhook (HMAC-SHA256). Secret: redacted
    /// when printed. Without one, the webhook refuses every call.
    pub payment_webhook_secret: Option<String>,
    /// Shared secret of the carriers' delivery webhook (`POST /api/webhooks/carriers`,
    /// HMAC-SHA256 like the payment one). Secret: redacted when printed. Without one, the
    /// webhook refuses every call (deliveries are then marked in the dashboard).
    pub carrier_webhook_secret: Option<String>,
    /// The payment provider's API, where refunds of orders paid through it are sent
    /// (`POST <url>/refunds`, by the `refund` job, with an `Idempotency-Key` per refund),
    /// e.g. `https://payments.example.com/v1`. Without it, every refund is recorded as paid
    /// back by the shop. Credentials in it are redacted when printed.
    pub payment_provider_url: Option<String>,
    /// The bearer token the payment provider's API asks for. Secret: redacted when printed.
    pub payment_provider_key: Option<String>,
    /// SMTP server that sends the shop's mail, e.g. `smtp://127.0.0.1:2525` or
    /// `smtps://user:pass@host:465` (`?tls=required` for STARTTLS). Without it, mail stays in
    /// the outbox (`storefront mail pending`). Secret: redacted when printed.
    pub smtp_url: Option<String>,
    /// The sender of the shop's mail, e.g. `Shop <shop@example.com>`.
    pub mail_from: String,
    /// The shop's name, at the head of its pages.
    pub shop_name: String,
    /// Where shoppers reach the shop, e.g. `https://shop.example.com`: links in mail (a
    /// draft order's payment link) start with it. Unset: the address the request that
    /// made the link was sent to.
    pub public_url: Option<String>,
    /// Longest one SMTP conversation may take.
    #[schema(minimum = 1, maximum = 300)]
    pub smtp_timeout_secs: u64,
    /// Jobs this node runs at once; 0: it runs none (another node does).
    #[schema(maximum = 4096)]
    pub jobs_concurrency: usize,
    /// A running job's lease: a worker that stops renewing it (killed) loses the job this
    /// long after its last renewal, and another run takes it.
    #[schema(minimum = 1, maximum = 3600)]
    pub job_lease_secs: u64,
    /// Retries wait `job_retry_base_ms · 2^(attempt-1)` (±25 %), at most `job_retry_max_secs`.
    #[schema(minimum = 1, maximum = 3600000)]
    pub job_retry_base_ms: u64,
    /// The longest wait between two attempts of a job.
    #[schema(minimum = 1, maximum = 604800)]
    pub job_retry_max_secs: u64,
    /// Completed jobs are deleted this long after they finished (failed ones are kept).
    #[schema(minimum = 1, maximum = 8760)]
    pub jobs_keep_completed_hours: u64,
    /// At shutdown, running jobs get this long to finish; the rest are given back.
    #[schema(minimum = 1, maximum = 3600)]
    pub jobs_shutdown_grace_secs: u64,
    /// How often unpaid orders past their deadline are looked for.
    #[schema(minimum = 1, maximum = 86400)]
    pub order_expiry_check_secs: u64,
    /// A remote endpoint (the SMTP server, a webhook receiver) that failed this many times
    /// in a row is left alone for `breaker_cooldown_ms`, then probed once; each failed
    /// probe doubles the wait (up to 32x).
    #[schema(minimum = 1, maximum = 1000)]
    pub breaker_failures: u32,
    /// How long a failing endpoint is left alone before it is probed again.
    #[schema(minimum = 1, maximum = 3600000)]
    pub breaker_cooldown_ms: u64,
    /// Serve `/metrics` on a listener of its own (e.g. "127.0.0.1:9090", reachable by the
    /// monitoring network only); the main listener then answers 404 for it.
    #[schema(value_type = Option<String>)]
    pub metrics_listen: Option<SocketAddr>,
    /// A bearer token `/metrics` asks for (`Authorization: Bearer <token>`, else 401).
    /// Secret: redacted when printed.
    pub metrics_token: Option<String>,
    /// The key that seals secrets at rest (TOTP and webhook secrets, unsent reset mail): a
    /// file of 64 hex digits, created 0600 on first start. Keep it out of the backups and
    /// replica storage of the database: a copy without it does not give the secrets away.
    /// Default: beside the database, `<name>-secrets.key`.
    #[schema(value_type = Option<String>)]
    pub secrets_key_file: Option<PathBuf>,
    /// Outgoing webhooks may target loopback, private, link-local and other internal
    /// addresses (on-premises receivers, tests). Off: such targets are refused with 422 when
    /// the URL names one, and at delivery when its host resolves to one.
    pub webhook_private_targets: bool,
    /// Attempts of one webhook delivery (with the retry backoff above: about a day).
    #[schema(minimum = 1, maximum = 100)]
    pub webhook_attempts: i64,
    /// Webhook events and their deliveries are deleted this long after they happened.
    #[schema(minimum = 1, maximum = 3650)]
    pub webhook_keep_days: u64,
    /// `inventory.low` is sent when a variant's available stock falls to this or below.
    #[schema(minimum = 0)]
    pub low_stock_threshold: i64,
    /// A customer may ask to return shipped items for this many days after they were
    /// delivered (or shipped, when no delivery was reported); 0: the shop takes no returns
    /// through the storefront.
    #[schema(maximum = 3650)]
    pub return_window_days: u64,
    /// A draft order's line may carry the owner's own unit price; false: every line sells
    /// at the product's price.
    pub draft_custom_prices: bool,
    /// The languages the catalog is written in, as language tags separated by commas, the
    /// default first (`en, de, pt-BR`): products', categories' and brands' own names,
    /// descriptions and slugs are in the default; the others come from their translations
    /// (`PUT /api/admin/products/{id}/translations/{locale}`), field by field where there
    /// is one. A request picks one with `locale=` or `Accept-Language`.
    pub locales: String,
    /// The currencies the shop sells in, separated by commas: the default first (any: the
    /// currency of products' own prices, shipping rates' and promotions' amounts; changing
    /// it keeps their numbers, in the new one), then each other with its rate from the default
    /// (`USD, EUR 0.92, JPY 1.5`: minor units of it per minor unit of the default, at most 6
    /// decimals). A request picks one with `currency=`; a product's price in it is a price
    /// list's for that currency, else the default's converted at the rate.
    pub currencies: String,
    /// When above 0, the recurring `archive` task moves orders, audit rows and finished
    /// jobs older than this many days to monthly files in `archive_dir`.
    pub archive_after_days: u64,
    /// Where archives go (default: `archive/` beside the database).
    #[schema(value_type = Option<String>)]
    pub archive_dir: Option<PathBuf>,
    /// Where export files and uploaded imports go (default: `files/` beside the database).
    #[schema(value_type = Option<String>)]
    pub files_dir: Option<PathBuf>,
    /// Largest import file the admin API takes.
    #[schema(minimum = 1, maximum = 1048576)]
    pub import_max_mb: u64,
    /// Where uploaded product images and their thumbnails go, each named by a hash of its
    /// bytes (default: `<db name>-media/` beside the database).
    #[schema(value_type = Option<String>)]
    pub media_dir: Option<PathBuf>,
    /// Largest product image the admin API takes.
    #[schema(minimum = 1, maximum = 100)]
    pub media_max_mb: u64,
    /// Rate limits per route class (see `limits`): `[rate_limits.<rule>]` tables with
    /// `per_address` and `per_account` rates like "30/1m"; a rule given replaces its defaults.
    #[schema(value_type = Object)]
    pub rate_limits: crate::limits::RateLimits,
    /// `false` turns every rate limit off (benchmarks from one address).
    pub rate_limits_enabled: bool,
    /// Addresses or CIDR ranges of the load balancers, proxies and replicas in front of this
    /// server: from them, the client is read from `X-Forwarded-For`. Default loopback (a
    /// proxy on the same host); list the balancers and replicas of other hosts. Empty: the
    /// TCP peer is always the client.
    pub trusted_proxies: Vec<String>,
    /// Clients (after `X-Forwarded-For`) that are the operator's own: not held to per-address
    /// rate limits, connection caps, login lockouts or unpaid-order bounds (per-session,
    /// per-account and per-e-mail ones still apply). Default loopback: health checks,
    /// scripts and load tests run on the box. Empty: every client is held to every limit.
    pub limit_exempt: Vec<String>,
    /// Administrators must use the admin API from a session opened with a second factor
    /// (a code at login, or the session that turned two-factor login on); their other
    /// requests still work, so they can turn it on. API keys are not affected.
    pub admin_require_2fa: bool,
    /// Most lines one cart holds (adding another is 409 `cart_full`; a guest cart merged at
    /// login brings its lines while there is room).
    #[schema(minimum = 1, maximum = 1000)]
    pub cart_max_lines: usize,
    /// Guest carts and merged or ordered carts untouched this long are deleted (a
    /// customer's open cart is kept).
    #[schema(minimum = 1, maximum = 3650)]
    pub cart_keep_days: u64,
    /// Sent mail is deleted this long after it was sent.
    #[schema(minimum = 1, maximum = 3650)]
    pub mail_keep_days: u64,
    /// Password hashes (argon2, two at a time) that may wait; beyond this, logins and
    /// registrations are refused with 503 at once instead of queueing without bound.
    #[schema(minimum = 1, maximum = 100000)]
    pub password_hash_queue: usize,
    /// SQL statements that run at least this long are logged with their SQL (never their
    /// values) and counted in `storefront_slow_queries_total`.
    #[schema(minimum = 1, maximum = 3600000)]
    pub slow_query_ms: u64,
    /// A read (all the statements of one request's read) is interrupted after this long
    /// and the request answered 503 `timeout`.
    #[schema(minimum = 10, maximum = 3600000)]
    pub read_time_limit_ms: u64,
    /// One JSON line per request on standard output: time, request id, method, route
    /// template, path, status, duration, client address.
    pub access_log: bool,
    /// Primary: the Litestream replica URL this database is replicated to (`file:///path`,
    /// `s3://bucket/path`, `sftp://user@host/path`); the server runs and supervises
    /// `litestream replicate`. Secret: redacted when printed.
    pub replicate_to: Option<String>,
    /// Replica: the primary's base URL (`http://primary:8080`); every write (any method but
    /// GET and HEAD) is forwarded there.
    pub replica_of: Option<String>,
    /// Replica: the Litestream replica URL its copy is restored and followed from (the
    /// primary's `replicate_to`). Without it, something else (a Litestream sidecar) keeps
    /// the copy at `db` current. Secret: redacted when printed.
    pub replicate_from: Option<String>,
    /// The Litestream program (a name on PATH or a path).
    pub litestream: String,
    /// Primary: a Litestream configuration file of your own to run `replicate` with
    /// (credentials, retention, several destinations) instead of the one the server writes.
    #[schema(value_type = Option<String>)]
    pub litestream_config: Option<PathBuf>,
    /// How often Litestream ships changes (the primary's monitor and sync interval) and
    /// looks for them (a replica's follow interval): the floor of a replica's lag.
    #[schema(minimum = 10, maximum = 60000)]
    pub replication_interval_ms: u64,
    /// A read that presents a commit position (`X-Storefront-Commit`, the `sf_commit`
    /// cookie) its replica has not reached waits up to this long, then is served by the
    /// primary.
    #[schema(maximum = 60000)]
    pub replica_wait_ms: u64,
    /// A replica this far behind the primary (or unsure for this long) is not ready.
    #[schema(minimum = 100, maximum = 86400000)]
    pub replica_max_lag_ms: u64,
    /// A forwarded request waits this long to connect to the primary before 503.
    #[schema(minimum = 10, maximum = 60000)]
    pub primary_connect_timeout_ms: u64,
    /// `text` (for people) or `json` (one object per line, for log shippers).
    #[schema(value_type = String)]
    pub log_format: LogFormat,
    /// tracing filter, e.g. `info` or `storefront=debug,warn`.
    pub log_level: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            db: PathBuf::from("storefront.db"),
            demo: false,
            demo_products: 10_000,
            redis_url: None,
            redis_prefix: "storefront".into(),
            redis_timeout_ms: 50,
            redis_detached_max_age_secs: 1,
            cache_mb: 64,
            cache_ttl_secs: 600,
            cache_debug_header: false,
            cache_warm_products: 100,
            cache_warm_interval_secs: 30,
            bestsellers_refresh_secs: 60,
            read_pool_size: default_pool_size(),
            read_wait_ms: 2_000,
            writer_queue: 4_096,
            writer_max_batch: 64,
            synchronous: Synchronous::Full,
            max_connections: 10_000,
            shutdown_grace_secs: 15,
            request_body_timeout_secs: 10,
            request_timeout_secs: 30,
            max_connections_per_address: 256,
            catalog_max_age_secs: 30,
            catalog_swr_secs: 300,
            search_index: true,
            auth_window_secs: 900,
            auth_failures_per_account: 5,
            auth_failures_per_address: 50,
            session_ttl_days: 30,
            reset_token_ttl_mins: 60,
            order_expiry_mins: 30,
            guest_order_expiry_mins: 15,
            unpaid_orders_per_owner: 5,
            reserved_units_per_owner: 50,
            unpaid_orders_per_address: 20,
            reserved_units_per_address: 200,
            payment_webhook_secret: None,
            carrier_webhook_secret: None,
            payment_provider_url: None,
            payment_provider_key: None,
            smtp_url: None,
            mail_from: "Storefront <shop@localhost>".into(),
            shop_name: "Storefront".into(),
            public_url: None,
            smtp_timeout_secs: 10,
            jobs_concurrency: 32,
            job_lease_secs: 30,
            job_retry_base_ms: 5_000,
            job_retry_max_secs: 6 * 3600,
            jobs_keep_completed_hours: 24,
            jobs_shutdown_grace_secs: 10,
            order_expiry_check_secs: 15,
            breaker_failures: 5,
            breaker_cooldown_ms: 30_000,
            webhook_private_targets: false,
            secrets_key_file: None,
            metrics_listen: None,
            metrics_token: None,
            webhook_attempts: 16,
            webhook_keep_days: 30,
            low_stock_threshold: 5,
            return_window_days: 30,
            draft_custom_prices: true,
            locales: "en".into(),
            currencies: "USD".into(),
            archive_after_days: 0,
            archive_dir: None,
            files_dir: None,
            import_max_mb: 1024,
            media_dir: None,
            media_max_mb: 10,
            rate_limits: crate::limits::RateLimits::default(),
            rate_limits_enabled: true,
            trusted_proxies: crate::http::client::loopback(),
            limit_exempt: crate::http::client::loopback(),
            password_hash_queue: 64,
            admin_require_2fa: false,
            cart_max_lines: 100,
            cart_keep_days: 30,
            mail_keep_days: 7,
            slow_query_ms: 100,
            read_time_limit_ms: 10_000,
            access_log: false,
            replicate_to: None,
            replica_of: None,
            replicate_from: None,
            litestream: "litestream".into(),
            litestream_config: None,
            replication_interval_ms: 1_000,
            replica_wait_ms: 2_000,
            replica_max_lag_ms: 10_000,
            primary_connect_timeout_ms: 2_000,
            log_format: LogFormat::Text,
            log_level: "info".into(),
        }
    }
}

fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) as u32;
    (cores * 2).clamp(4, 32)
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Values given on the command line (`crate::cli`'s `serve` arguments, each named as its
/// key); `None` leaves the environment's, the file's or the default value.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_mb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_pool_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synchronous: Option<Synchronous>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_webhook_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicate_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_of: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicate_from: Option<String>,
}

/// One setting of [`Config`], as [`settings`] lists them.
#[derive(Debug, Clone)]
pub struct Setting {
    /// its TOML name
    pub key: String,
    /// its environment variable
    pub env: String,
    /// the comment above its field
    pub doc: String,
    /// the lowest and highest value a number takes, as its field states them
    pub bounds: (Option<i128>, Option<i128>),
}

impl Setting {
    /// "between 1 and 256", "at least 1", "at most 4096".
    pub fn range(&self) -> Option<String> {
        match self.bounds {
            (Some(lo), Some(hi)) => Some(format!("between {lo} and {hi}")),
            (Some(lo), None) => Some(format!("at least {lo}")),
            (None, Some(hi)) => Some(format!("at most {hi}")),
            (None, None) => None,
        }
    }
}

/// A JSON number as an integer (every bounded setting is one).
fn number(v: &serde_json::Value) -> Option<i128> {
    v.as_i64().map(i128::from).or_else(|| v.as_u64().map(i128::from))
}

/// The prefix of every setting's environment variable.
pub const ENV_PREFIX: &str = "STOREFRONT_";

/// Every setting, from the description of [`Config`] (its fields, their comments).
pub fn settings() -> Vec<Setting> {
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    let RefOr::T(Schema::Object(object)) = <Config as utoipa::PartialSchema>::schema() else {
        unreachable!("Config is described as an object")
    };
    object
        .properties
        .iter()
        .map(|(key, schema)| {
            let schema_json = serde_json::to_value(schema).expect("a schema serializes");
            let bounds = (schema_json.get("minimum").and_then(number), schema_json.get("maximum").and_then(number));
            let doc = match schema {
                RefOr::T(Schema::Object(o)) => o.description.clone(),
                RefOr::T(Schema::AllOf(o)) => o.description.clone(),
                RefOr::T(Schema::OneOf(o)) => o.description.clone(),
                RefOr::T(Schema::Array(a)) => a.description.clone(),
                _ => None,
            };
            Setting {
                key: key.clone(),
                env: format!("{ENV_PREFIX}{}", key.to_uppercase()),
                doc: doc.unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" "),
                bounds,
            }
        })
        .collect()
}

/// The `STOREFRONT_*` variables of every setting (`STOREFRONT_CACHE_MB`; a nested one with
/// `__`: `STOREFRONT_RATE_LIMITS__LOGIN__PER_ADDRESS`). Other `STOREFRONT_*` variables
/// (`STOREFRONT_CONFIG`, the file) are not settings and are left alone.
fn environment() -> figment::providers::Env {
    let keys: std::collections::HashSet<String> = settings().into_iter().map(|s| s.key).collect();
    figment::providers::Env::prefixed(ENV_PREFIX)
        .split("__")
        .filter(move |k| keys.contains(&k.as_str().split('.').next().unwrap_or("").to_lowercase()))
}

impl Config {
    /// Defaults, then the file (if any), then the `STOREFRONT_*` variables, then the
    /// flags; then validation.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        use figment::providers::Serialized;
        let mut layers = figment::Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
            // the file alone first: its unknown keys and bad values are named with its path
            Config::from_toml(&text).map_err(|message| ConfigError::Parse { path: path.into(), message })?;
            let table: toml::Table = toml::from_str(&text).expect("parsed just above");
            layers = layers.merge(Serialized::defaults(table));
        }
        let mut config: Config = layers
            .merge(environment())
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        // an empty value of an optional setting (`STOREFRONT_REDIS_URL=`) leaves it unset
        for v in [
            &mut config.redis_url,
            &mut config.payment_webhook_secret,
            &mut config.carrier_webhook_secret,
            &mut config.payment_provider_url,
            &mut config.public_url,
            &mut config.payment_provider_key,
            &mut config.smtp_url,
            &mut config.replicate_to,
            &mut config.replica_of,
            &mut config.replicate_from,
        ] {
            if v.as_deref().is_some_and(str::is_empty) {
                *v = None;
            }
        }
        config.validate()?;
        Ok(config)
    }

    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems.join("; ")))
        }
    }

    /// Everything wrong with the configuration, each problem beginning with its key.
    pub fn problems(&self) -> Vec<String> {
        // the bounds stated beside each field (`minimum`, `maximum`)
        let mut problems = self.out_of_bounds();
        if let Err(e) = crate::http::client::Clients::new(&self.trusted_proxies, &self.limit_exempt) {
            problems.push(e);
        }
        if self.replica_of.is_some() && self.replicate_to.is_some() {
            problems.push("a node is a primary (replicate_to) or a replica (replica_of), not both".to_owned());
        }
        if self.replicate_from.is_some() && self.replica_of.is_none() {
            problems.push("replicate_from needs replica_of (the primary that takes the writes)".to_owned());
        }
        if let Some(url) = &self.replica_of {
            match url.parse::<axum::http::Uri>() {
                Ok(u)
                    if matches!(u.scheme_str(), Some("http" | "https"))
                        && u.authority().is_some()
                        && u.path_and_query().is_none_or(|p| p.as_str() == "/" || p.as_str().is_empty()) => {}
                _ => problems.push("replica_of must be the primary's base URL, like http://primary:8080".to_owned()),
            }
        }
        for (name, url) in [("replicate_to", &self.replicate_to), ("replicate_from", &self.replicate_from)] {
            if let Some(url) = url {
                if !["file://", "s3://", "sftp://", "gs://", "abs://", "webdav://", "webdavs://", "nats://"]
                    .iter()
                    .any(|p| url.starts_with(p))
                {
                    problems.push(format!("{name} must be a Litestream replica URL (file://, s3://, sftp://, …)"));
                }
            }
        }
        if self.db.as_os_str().is_empty() {
            problems.push("db must name a file".to_owned());
        }
        if let Some(url) = &self.redis_url {
            if !(url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("redis+unix://")) {
                problems.push("redis_url must start with redis://, rediss:// or redis+unix://".to_owned());
            } else if let Err(e) = redis::Client::open(url.as_str()) {
                problems.push(format!("redis_url is not a valid Redis URL: {e}"));
            }
        }
        if self.redis_prefix.is_empty()
            || self.redis_prefix.len() > 64
            || !self.redis_prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            problems.push("redis_prefix must be 1 to 64 letters, digits, '-', '_' or '.'".to_owned());
        }
        if self.payment_webhook_secret.as_deref().is_some_and(|s| s.len() < 16) {
            problems.push("payment_webhook_secret must be at least 16 characters".to_owned());
        }
        if self.carrier_webhook_secret.as_deref().is_some_and(|s| s.len() < 16) {
            problems.push("carrier_webhook_secret must be at least 16 characters".to_owned());
        }
        if let Some(url) = &self.payment_provider_url {
            if !crate::domain::matches_url_pattern(url) || url.parse::<axum::http::Uri>().is_err() {
                problems.push("payment_provider_url must be an http:// or https:// address".to_owned());
            }
        }
        if let Some(url) = &self.public_url {
            let bare = url.parse::<axum::http::Uri>().is_ok_and(|u| u.path() == "/" && u.query().is_none());
            if !crate::domain::matches_url_pattern(url) || !bare {
                problems.push("public_url must be an http:// or https:// address without a path".to_owned());
            }
        }
        if let Some(url) = &self.smtp_url {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                problems.push("smtp_url must start with smtp:// or smtps://".to_owned());
            } else if let Err(e) = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url) {
                problems.push(format!("smtp_url is not a valid SMTP URL: {e}"));
            }
        }
        if self.shop_name.trim().is_empty()
            || self.shop_name.chars().count() > 100
            || self.shop_name.chars().any(char::is_control)
        {
            problems.push("shop_name must be 1 to 100 characters, without control characters".to_owned());
        }
        if let Err(e) = crate::domain::locale::parse_list(&self.locales) {
            problems.push(format!("locales {e}"));
        }
        if let Err(e) = crate::domain::currencies::parse_list(&self.currencies) {
            problems.push(format!("currencies {e}"));
        }
        if let Err(e) = self.mail_from.parse::<lettre::message::Mailbox>() {
            problems.push(format!("mail_from is not a mail address ({e}); e.g. Shop <shop@example.com>"));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log_level).is_err() {
            problems.push(format!("log_level {:?} is not a valid filter", self.log_level));
        }
        problems
    }

    /// Each setting outside the bounds its field states.
    fn out_of_bounds(&self) -> Vec<String> {
        let values = serde_json::to_value(self).expect("the configuration serializes");
        let mut problems = Vec::new();
        for setting in settings() {
            let Some(value) = values.get(&setting.key).and_then(number) else { continue };
            let (min, max) = setting.bounds;
            if min.is_some_and(|m| value < m) || max.is_some_and(|m| value > m) {
                problems.push(format!("{} must be {}", setting.key, setting.range().expect("a bounded setting")));
            }
        }
        problems
    }

    /// Where export files and uploaded imports go.
    pub fn files_dir(&self) -> PathBuf {
        self.files_dir.clone().unwrap_or_else(|| self.beside_db("files"))
    }

    pub fn media_dir(&self) -> PathBuf {
        self.media_dir.clone().unwrap_or_else(|| self.beside_db("media"))
    }

    /// The secrets key file.
    pub fn secrets_key_path(&self) -> PathBuf {
        self.secrets_key_file.clone().unwrap_or_else(|| self.beside_db("secrets.key"))
    }

    /// Where archives go.
    pub fn archive_dir(&self) -> PathBuf {
        self.archive_dir.clone().unwrap_or_else(|| self.beside_db("archive"))
    }

    /// `shop.db` → `shop-<what>/` in the same directory.
    fn beside_db(&self, what: &str) -> PathBuf {
        let stem = self.db.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "storefront".into());
        self.db.with_file_name(format!("{stem}-{what}"))
    }

    /// The configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.redis_url = shown.redis_url.as_deref().map(redact_url);
        shown.payment_webhook_secret = shown.payment_webhook_secret.map(|_| "***".to_owned());
        shown.carrier_webhook_secret = shown.carrier_webhook_secret.map(|_| "***".to_owned());
        shown.payment_provider_url = shown.payment_provider_url.as_deref().map(redact_url);
        shown.payment_provider_key = shown.payment_provider_key.map(|_| "***".to_owned());
        shown.metrics_token = shown.metrics_token.map(|_| "***".to_owned());
        shown.smtp_url = shown.smtp_url.as_deref().map(redact_url);
        shown.replicate_to = shown.replicate_to.as_deref().map(redact_url);
        shown.replicate_from = shown.replicate_from.as_deref().map(redact_url);
        toml::to_string_pretty(&shown).expect("the configuration always serializes")
    }
}

impl Config {
    /// `config print`: every setting with its comment, its variable and its flag (from
    /// `flag_of`), then its value (secrets redacted).
    pub fn to_annotated_toml(&self, flag_of: impl Fn(&str) -> Option<String>) -> String {
        let settings: std::collections::HashMap<String, Setting> =
            settings().into_iter().map(|s| (s.key.clone(), s)).collect();
        let mut out = String::new();
        let mut described = std::collections::HashSet::new();
        for line in self.to_redacted_toml().lines() {
            let key = match line.strip_prefix('[') {
                Some(table) => table.split(['.', ']']).next().unwrap_or(""),
                None => line.split(" = ").next().unwrap_or(""),
            };
            if let Some(s) = settings.get(key).filter(|_| described.insert(key.to_owned())) {
                out.push_str(&format!("\n# {}\n#   env: {}", s.doc, s.env));
                if let Some(flag) = flag_of(key) {
                    out.push_str(&format!("  flag: {flag}"));
                }
                if let Some(range) = s.range() {
                    out.push_str(&format!("  range: {range}"));
                }
                out.push('\n');
            }
            out.push_str(line);
            out.push('\n');
        }
        // the optional settings that are not set print nothing above: say so
        let mut unset: Vec<&Setting> = settings.values().filter(|s| !described.contains(&s.key)).collect();
        unset.sort_by(|a, b| a.key.cmp(&b.key));
        for s in unset {
            out.push_str(&format!("\n# {}\n#   env: {}", s.doc, s.env));
            if let Some(flag) = flag_of(&s.key) {
                out.push_str(&format!("  flag: {flag}"));
            }
            out.push_str(&format!("\n# {} is not set\n", s.key));
        }
        out
    }
}

/// `redis://user:secret@host` → `redis://user:***@host`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &rest[..at];
    let user = userinfo.split(':').next().unwrap_or("");
    let masked = if userinfo.contains(':') { format!("{user}:***") } else { "***".to_owned() };
    format!("{}{}{}", &url[..scheme_end], masked, &rest[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_file_then_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "cache_mb = 7\nread_pool_size = 3\n").unwrap();
        let c = Config::load(Some(&path), Overrides { cache_mb: Some(9), ..Default::default() }).unwrap();
        assert_eq!(c.cache_mb, 9, "flag/env beats file");
        assert_eq!(c.read_pool_size, 3, "file beats default");
        assert_eq!(c.listen, Config::default().listen, "default stays");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        assert!(Config::from_toml("cache_megabytes = 1").unwrap_err().contains("unknown field"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "read_pool_size = 0").unwrap();
        let err = Config::load(Some(&path), Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("read_pool_size must be between 1 and 256"), "{err}");
    }

    /// The bounds stated beside the fields are the ones checked: every bounded setting
    /// refuses one past each end and takes each end.
    #[test]
    fn every_bound_is_checked_at_both_ends() {
        let bounded: Vec<Setting> = settings().into_iter().filter(|s| s.range().is_some()).collect();
        assert!(bounded.len() >= 45, "{}", bounded.len());
        let with = |key: &str, v: i128| {
            let mut values = serde_json::to_value(Config::default()).unwrap();
            values[key] = serde_json::json!(v);
            serde_json::from_value::<Config>(values).ok().map(|c| c.validate())
        };
        for s in &bounded {
            let (lo, hi) = s.bounds;
            for (edge, outside) in [(lo, lo.map(|l| l - 1)), (hi, hi.map(|h| h + 1))] {
                let (Some(edge), Some(outside)) = (edge, outside) else { continue };
                assert!(matches!(with(&s.key, edge), Some(Ok(()))), "{} = {edge} is refused", s.key);
                // a value the field's type cannot hold is refused by parsing already
                if let Some(Err(e)) = with(&s.key, outside) {
                    assert!(e.to_string().contains(&format!("{} must be", s.key)), "{e}");
                } else {
                    assert!(with(&s.key, outside).is_none(), "{} = {outside} is taken", s.key);
                }
            }
        }
    }

    #[test]
    fn every_setting_has_its_doc_and_its_variable() {
        let all = settings();
        assert!(all.len() >= 80, "{} settings", all.len());
        for s in &all {
            assert!(s.doc.len() > 10, "{} has no comment", s.key);
            assert_eq!(s.env, format!("STOREFRONT_{}", s.key.to_uppercase()));
        }
        // every key of the serialized configuration is listed, and no other
        let shown: toml::Table = toml::from_str(&Config::default().to_redacted_toml()).unwrap();
        let mut listed: Vec<&str> = all.iter().map(|s| s.key.as_str()).collect();
        listed.sort_unstable();
        for key in shown.keys() {
            assert!(listed.contains(&key.as_str()), "{key} is not listed");
        }
    }

    /// The variables of settings of every kind, read by the same layering as the server's.
    #[test]
    #[allow(clippy::result_large_err)] // figment's test jail answers its own error type
    fn variables_set_settings_between_the_file_and_the_flags() {
        let vars = [
            ("STOREFRONT_CACHE_TTL_SECS", "77"),
            ("STOREFRONT_SEARCH_INDEX", "false"),
            ("STOREFRONT_MAIL_FROM", "Shop <a@example.com>"),
            ("STOREFRONT_TRUSTED_PROXIES", "[\"10.1.0.0/16\", \"127.0.0.1\"]"),
            ("STOREFRONT_RATE_LIMITS__LOGIN__PER_ADDRESS", "7/1m"),
            ("STOREFRONT_SYNCHRONOUS", "normal"),
            ("STOREFRONT_REDIS_URL", ""),
            ("STOREFRONT_CACHE_MB", "5"),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "cache_ttl_secs = 9\ncache_mb = 3\n").unwrap();
        figment::Jail::expect_with(|jail| {
            for (k, v) in vars {
                jail.set_env(k, v);
            }
            let c = Config::load(Some(&path), Overrides { cache_mb: Some(11), ..Default::default() }).unwrap();
            assert_eq!(c.cache_ttl_secs, 77, "the variable beats the file");
            assert_eq!(c.cache_mb, 11, "the flag beats the variable");
            assert!(!c.search_index);
            assert_eq!(c.mail_from, "Shop <a@example.com>");
            assert_eq!(c.trusted_proxies, ["10.1.0.0/16", "127.0.0.1"]);
            assert_eq!(c.rate_limits.login.per_address.unwrap().to_string(), "7/1m");
            assert_eq!(c.rate_limits.login.per_account, crate::limits::RateLimits::default().login.per_account);
            assert_eq!(c.synchronous, Synchronous::Normal);
            assert_eq!(c.redis_url, None, "an empty variable leaves it unset");
            // a bad value is refused, naming the setting
            jail.set_env("STOREFRONT_READ_WAIT_MS", "soon");
            let err = Config::load(None, Overrides::default()).unwrap_err().to_string();
            assert!(err.contains("READ_WAIT_MS") && err.contains("STOREFRONT_"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn the_sample_in_deploy_names_every_setting() {
        let sample = include_str!("../deploy/storefront.toml");
        let named = |key: &str| {
            sample.lines().any(|l| {
                let l = l.trim_start_matches('#').trim_start();
                l.starts_with(&format!("{key} =")) || l.starts_with(&format!("[{key}."))
            })
        };
        let missing: Vec<String> = settings().into_iter().map(|s| s.key).filter(|k| !named(k)).collect();
        assert!(missing.is_empty(), "deploy/storefront.toml lacks {missing:?}");
    }

    #[test]
    fn the_sample_in_deploy_is_valid() {
        let c = Config::from_toml(include_str!("../deploy/storefront.toml")).unwrap();
        c.validate().unwrap();
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(redact_url("redis://u:pw@h:6379/0"), "redis://u:***@h:6379/0");
        assert_eq!(redact_url("redis://pw@h"), "redis://***@h");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
        let c = Config {
            redis_url: Some("redis://default:hunter2@10.0.0.1".into()),
            payment_webhook_secret: Some("whsec-correct-horse-battery".into()),
            smtp_url: Some("smtps://shop:mailpass9@mail.example.com:465".into()),
            ..Config::default()
        };
        let text = c.to_redacted_toml();
        assert!(!text.contains("hunter2") && text.contains("***"), "{text}");
        assert!(!text.contains("correct-horse"), "{text}");
        assert!(!text.contains("mailpass9") && text.contains("smtps://shop:***@mail.example.com:465"), "{text}");
    }
}
