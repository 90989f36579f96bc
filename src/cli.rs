//! The command line: one binary, operations as subcommands.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{LogFormat, Overrides};
use crate::db::Synchronous;

#[derive(Debug, Parser)]
#[command(name = "storefront", version, about = "An e-commerce storefront API server on embedded SQLite")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Create or upgrade the database schema.
    Migrate(DbArg),
    /// Generate a deterministic catalog (with past orders and reviews) into an empty database.
    Seed(SeedArgs),
    /// Show or check the effective configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Refresh the query planner's statistics (keeps plans stable: no STAT4 samples).
    Analyze(DbArg),
    /// Administrator accounts.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// The mail outbox.
    Mail {
        #[command(subcommand)]
        action: MailAction,
    },
    /// Import products from a CSV or JSON-lines file (upsert by sku), with a progress bar.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Export products, orders or customers as CSV or JSON lines, streamed.
    Export(ExportArgs),
    /// Move finished orders (with lines, history, payments), audit rows and finished jobs
    /// older than a date into monthly SQLite files.
    Archive(ArchiveArgs),
    /// A consistent online copy of the database (the server may keep running).
    Backup(BackupArgs),
    /// The job queue: list, retry, cancel.
    Jobs {
        #[command(subcommand)]
        action: JobsAction,
    },
    /// The key that seals secrets at rest (TOTP and webhook secrets, unsent reset mail).
    Secrets {
        #[command(subcommand)]
        action: SecretsAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsAction {
    /// Seal every secret again under a new key (the server must be stopped); the key file
    /// is replaced once all are (an interrupted rotation is finished by running it again).
    Rotate {
        /// SQLite database file.
        #[arg(long, env = "STOREFRONT_DB", default_value = "storefront.db")]
        db: PathBuf,
        /// The key file (default: beside the database, `<name>-secrets.key`).
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportWhat {
    /// Products: columns sku, name, slug?, description?, category (slug), brand (slug)?,
    /// price, sale_price?, stock, active? (prices in minor units). Exit status 2 when rows
    /// were rejected (each is listed with its line).
    Products {
        /// the file (.csv with a header row, or .jsonl)
        file: PathBuf,
        /// csv or jsonl (default: from the file's extension)
        #[arg(long)]
        format: Option<String>,
        /// SQLite database file.
        #[arg(long, env = "STOREFRONT_DB", default_value = "storefront.db")]
        db: PathBuf,
    },
}

#[derive(Debug, Args, Clone)]
pub struct ExportArgs {
    /// products, orders or customers
    pub kind: String,
    /// csv or jsonl
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// write here (default: standard output)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// only rows changed (products) or created (orders, customers) since this date
    /// (2026-01-31) or RFC 3339 UTC timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// SQLite database file.
    #[arg(long, env = "STOREFRONT_DB", default_value = "storefront.db")]
    pub db: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct ArchiveArgs {
    /// move what is older than this date (2026-01-31) or RFC 3339 UTC timestamp
    #[arg(long)]
    pub before: String,
    /// where the monthly files go (default: <db name>-archive/ beside the database)
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// SQLite database file.
    #[arg(long, env = "STOREFRONT_DB", default_value = "storefront.db")]
    pub db: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct BackupArgs {
    /// the copy (a new file)
    #[arg(long)]
    pub out: PathBuf,
    /// SQLite database file.
    #[arg(long, env = "STOREFRONT_DB", default_value = "storefront.db")]
    pub db: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// Jobs, newest first, with each queue's depth and lag.
    List {
        /// scheduled, available, running, retryable, completed, failed or cancelled
        #[arg(long)]
        state: Option<String>,
        /// high, default or low
        #[arg(long)]
        queue: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// SQLite database file.
        #[arg(long, env = "STOREFRONT_DB", default_value = "storefront.db")]
        db: PathBuf,
    },
    /// Run a failed, cancelled, retryable or scheduled job again now.
    Retry {
        id: i64,
        /// SQLite database file.
        #[arg(long, env = "STOREFRONT_DB", default_value = "storefront.db")]
        db: PathBuf,
    },
    /// Cancel a job that has not finished.
    Cancel {
        id: i64,
        /// SQLite database file.
        #[arg(long, env = "STOREFRONT_DB", default_value = "storefront.db")]
        db: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Create an administrator (the password is prompted for, or read from stdin).
    Create(AdminCreateArgs),
}

#[derive(Debug, Args, Clone)]
pub struct AdminCreateArgs {
    /// The administrator's e-mail address (their login).
    #[arg(long)]
    pub email: String,
    /// Display name.
    #[arg(long, default_value = "Administrator")]
    pub name: String,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
    /// SQLite database file.
    #[arg(long, env = "STOREFRONT_DB", default_value = "storefront.db")]
    pub db: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum MailAction {
    /// Print the mail waiting to be sent (development: read reset codes here).
    Pending {
        /// SQLite database file.
        #[arg(long, env = "STOREFRONT_DB", default_value = "storefront.db")]
        db: PathBuf,
        /// At most this many, oldest first.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the effective configuration as TOML, secrets redacted: every setting with its
    /// comment, its STOREFRONT_* variable and its flag.
    Print(ServeArgs),
    /// Validate the configuration and exit non-zero if it is invalid.
    Check(ServeArgs),
}

#[derive(Debug, Args, Clone, Default)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// SQLite database file (default ./storefront.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Fill an empty database with a demo catalog.
    #[arg(long)]
    pub demo: bool,
    /// Redis URL for the shared cache tier and rate limits.
    #[arg(long = "redis")]
    pub redis_url: Option<String>,
    /// Response cache budget in MiB (0 turns it off).
    #[arg(long)]
    pub cache_mb: Option<u64>,
    /// TOML configuration file.
    #[arg(long, env = "STOREFRONT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Read-only connections in the pool.
    #[arg(long)]
    pub read_pool_size: Option<u32>,
    /// Commit durability: full (survives power loss) or normal (survives a crash).
    #[arg(long, value_parser = parse_sync)]
    pub synchronous: Option<Synchronous>,
    /// Log format.
    #[arg(long)]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. info, warn, storefront=debug.
    #[arg(long, env = "STOREFRONT_LOG")]
    pub log_level: Option<String>,
    /// Shared secret of the payment webhook (HMAC-SHA256).
    #[arg(long)]
    pub payment_webhook_secret: Option<String>,
    /// SMTP server for the shop's mail, e.g. smtp://127.0.0.1:2525 (without it mail stays
    /// in the outbox).
    #[arg(long)]
    pub smtp_url: Option<String>,
    /// Sender of the shop's mail, e.g. "Shop <shop@example.com>".
    #[arg(long)]
    pub mail_from: Option<String>,
    /// Primary: replicate the database with Litestream to this replica URL (file:///path,
    /// s3://bucket/path, sftp://host/path).
    #[arg(long)]
    pub replicate_to: Option<String>,
    /// Replica: the primary's base URL (http://primary:8080), where writes are forwarded.
    #[arg(long)]
    pub replica_of: Option<String>,
    /// Replica: the Litestream replica URL to restore and follow the copy at --db from
    /// (without it, a Litestream sidecar keeps the copy current).
    #[arg(long)]
    pub replicate_from: Option<String>,
}

fn parse_sync(s: &str) -> Result<Synchronous, String> {
    match s.to_ascii_lowercase().as_str() {
        "full" => Ok(Synchronous::Full),
        "normal" => Ok(Synchronous::Normal),
        _ => Err("expected full or normal".into()),
    }
}

impl ServeArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            listen: self.listen,
            db: self.db.clone(),
            demo: self.demo.then_some(true),
            redis_url: self.redis_url.clone(),
            cache_mb: self.cache_mb,
            read_pool_size: self.read_pool_size,
            synchronous: self.synchronous,
            log_format: self.log_format,
            log_level: self.log_level.clone(),
            payment_webhook_secret: self.payment_webhook_secret.clone(),
            smtp_url: self.smtp_url.clone(),
            mail_from: self.mail_from.clone(),
            replicate_to: self.replicate_to.clone(),
            replica_of: self.replica_of.clone(),
            replicate_from: self.replicate_from.clone(),
        }
    }
}

/// The flag of a setting, where `serve` has one (its argument is named as the key).
pub fn flag_of(key: &str) -> Option<String> {
    use clap::CommandFactory;
    let cli = Cli::command();
    let serve = cli.find_subcommand("serve")?;
    let arg = serve.get_arguments().find(|a| a.get_id().as_str() == key)?;
    arg.get_long().map(|l| format!("--{l}"))
}

#[derive(Debug, Args, Clone)]
pub struct DbArg {
    /// SQLite database file.
    #[arg(long, env = "STOREFRONT_DB", default_value = "storefront.db")]
    pub db: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct SeedArgs {
    /// How many products to generate.
    #[arg(long)]
    pub products: u64,
    /// Seed of the generator: the same seed gives the same catalog.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// How many past orders to generate (default: one for every two products, at least 100).
    #[arg(long)]
    pub orders: Option<u64>,
    /// SQLite database file.
    #[arg(long, env = "STOREFRONT_DB", default_value = "storefront.db")]
    pub db: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_flag_of_serve_is_a_setting() {
        let keys: Vec<String> = crate::config::settings().into_iter().map(|s| s.key).collect();
        let cli = Cli::command();
        let serve = cli.find_subcommand("serve").unwrap();
        for arg in serve.get_arguments().filter(|a| a.get_long().is_some()) {
            let id = arg.get_id().as_str();
            if id == "config" || id == "help" {
                continue;
            }
            assert!(keys.iter().any(|k| k == id), "--{} is no setting", arg.get_long().unwrap());
            assert_eq!(flag_of(id).as_deref(), Some(format!("--{}", arg.get_long().unwrap()).as_str()));
        }
        assert_eq!(flag_of("redis_url").as_deref(), Some("--redis"), "the contract's spelling");
        assert_eq!(flag_of("cache_ttl_secs"), None);
    }
}
