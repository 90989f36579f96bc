//! Thin entry point: parse the command line, start logging, dispatch.

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use storefront::app::AppState;
use storefront::bulk::export::Kind;
use storefront::bulk::import::Format;
use storefront::cli::{AdminAction, Cli, Command, ConfigAction, ImportWhat, JobsAction, MailAction, SecretsAction};
use storefront::config::{Config, LogFormat};
use storefront::{db, seed, web};

fn init_logging(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let config = Config::load(args.config.as_deref(), args.overrides())?;
            init_logging(&config.log_level, config.log_format);
            serve(config)
        }
        Command::Config { action: ConfigAction::Print(args) } => {
            let config = Config::load(args.config.as_deref(), args.overrides())?;
            print!("{}", config.to_annotated_toml(storefront::cli::flag_of));
            Ok(())
        }
        Command::Config { action: ConfigAction::Check(args) } => {
            Config::load(args.config.as_deref(), args.overrides())?;
            println!("configuration ok");
            Ok(())
        }
        Command::Migrate(a) => {
            init_logging("info", LogFormat::Text);
            let mut conn = db::open_write(&a.db, db::Synchronous::Full)?;
            let outcome = db::migrate::migrate(&mut conn)?;
            println!("{}: {outcome:?}", a.db.display());
            Ok(())
        }
        Command::Analyze(a) => {
            let conn = db::open_write(&a.db, db::Synchronous::Full)?;
            db::optimize(&conn)?;
            println!("{}: statistics refreshed", a.db.display());
            Ok(())
        }
        Command::Admin { action: AdminAction::Create(a) } => admin_create(&a),
        Command::Mail { action: MailAction::Pending { db: path, limit } } => {
            let conn = db::open_read(&path)?;
            let mails = storefront::mail::pending(&conn, limit)?;
            // a reset mail is sealed until sent: opened with the key beside the database
            let key = storefront::config::Config { db: path, ..Default::default() }.secrets_key_path();
            let secrets = storefront::secrets::Sealer::load_or_create(&key)?;
            if mails.is_empty() {
                println!("no mail waiting");
            }
            for m in mails {
                println!(
                    "--- #{} {} to {} at {}\nSubject: {}\n\n{}\n",
                    m.id,
                    m.kind,
                    m.to,
                    storefront::util::rfc3339(m.created_at),
                    m.subject,
                    secrets.open_text(&m.body)?
                );
            }
            Ok(())
        }
        Command::Import { what: ImportWhat::Products { file, format, db } } => {
            init_logging("warn", LogFormat::Text);
            let format = match format.as_deref() {
                Some(f) => Some(Format::parse(f).ok_or_else(|| anyhow::anyhow!("--format must be csv or jsonl"))?),
                None => None,
            };
            let imported = storefront::commands::bulk::import_products(&db, &file, format)?;
            if imported.rejected > 0 {
                std::process::exit(2);
            }
            Ok(())
        }
        Command::Export(a) => {
            init_logging("warn", LogFormat::Text);
            let kind = Kind::parse(&a.kind).ok_or_else(|| anyhow::anyhow!("export products, orders or customers"))?;
            let format = Format::parse(&a.format).ok_or_else(|| anyhow::anyhow!("--format must be csv or jsonl"))?;
            storefront::commands::bulk::export(&a.db, kind, format, a.since.as_deref(), a.out.as_deref())
        }
        Command::Archive(a) => {
            init_logging("warn", LogFormat::Text);
            storefront::commands::archive(&a.db, &a.before, a.dir)
        }
        Command::Backup(a) => {
            let bytes = storefront::archive::backup(&a.db, &a.out)?;
            println!("{}: a consistent copy of {} ({bytes} bytes)", a.out.display(), a.db.display());
            Ok(())
        }
        Command::Secrets { action: SecretsAction::Rotate { db, key_file } } => {
            let n = storefront::commands::rotate_secrets(&db, key_file)?;
            println!("{n} secrets sealed under a new key");
            Ok(())
        }
        Command::Jobs { action } => match action {
            JobsAction::List { state, queue, limit, db } => {
                storefront::commands::jobs::list(&db, state.as_deref(), queue.as_deref(), limit)
            }
            JobsAction::Retry { id, db } => storefront::commands::jobs::retry(&db, id),
            JobsAction::Cancel { id, db } => storefront::commands::jobs::cancel(&db, id),
        },
        Command::Seed(a) => {
            init_logging(&std::env::var("STOREFRONT_LOG").unwrap_or_else(|_| "warn".into()), LogFormat::Text);
            let started = std::time::Instant::now();
            let mut conn = db::open_write(&a.db, db::Synchronous::Full)?;
            db::migrate::migrate(&mut conn)?;
            seed::ensure_empty(&conn)?;
            db::configure_bulk_load(&conn).context("the database is in use (is a server running on it?)")?;
            let mut opts = seed::SeedOptions::today(a.products, a.seed);
            opts.progress = !a.quiet;
            opts.orders = a.orders;
            let report = seed::seed(&mut conn, opts).context("seeding")?;
            db::optimize(&conn)?;
            tracing::info!(secs = started.elapsed().as_secs_f32(), "statistics refreshed");
            db::end_bulk_load(&conn, db::Synchronous::Full)?;
            println!(
                "seeded {} products ({} variants, {} images), {} categories, {} brands, {} customers, {} orders, {} reviews in {:.1}s",
                report.products,
                report.variants,
                report.images,
                report.categories,
                report.brands,
                report.customers,
                report.orders,
                report.reviews,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

fn admin_create(a: &storefront::cli::AdminCreateArgs) -> anyhow::Result<()> {
    use std::io::BufRead;
    let email = storefront::domain::Email::parse(&a.email).map_err(|m| anyhow::anyhow!("--email {m}"))?;
    let password = if a.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        rpassword_prompt()?
    };
    storefront::customers::create_admin(&a.db, &email, &a.name, &password)?;
    println!("administrator {} ready", email.as_str());
    Ok(())
}

/// Reads a password from the terminal without echo when there is one (stty), twice.
fn rpassword_prompt() -> anyhow::Result<String> {
    use std::io::{BufRead, Write};
    let tty = std::process::Command::new("stty").arg("-echo").stdin(std::process::Stdio::inherit()).status();
    let read = |prompt: &str| -> anyhow::Result<String> {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        eprintln!();
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    };
    let first = read("password: ");
    let second = read("again: ");
    if tty.is_ok() {
        let _ = std::process::Command::new("stty").arg("echo").stdin(std::process::Stdio::inherit()).status();
    }
    let (first, second) = (first?, second?);
    anyhow::ensure!(first == second, "the passwords differ");
    Ok(first)
}

fn serve(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let listen = config.listen;
    storefront::commands::fill_demo(&config)?;
    let state = AppState::open(config)?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
        web::run(state.clone(), listener, web::shutdown_signal()).await?;
        anyhow::Ok(())
    })?;
    // the server has drained: let the writer commit what it holds, then exit
    state.close();
    tracing::info!("stopped");
    Ok(())
}
