//! Mail: the outbox and the sender.
//!
//! A mail is a row of `mail_outbox` written in the same writer unit as what it announces
//! (an order, a payment, a password reset), so no mail is lost and none is sent for
//! something that rolled back. With `smtp_url` set, the same unit enqueues a `mail` job that
//! sends it over SMTP (lettre): a bounded timeout per conversation, retries with the
//! queue's backoff, and a circuit breaker that stops hammering a server that keeps failing
//! (jobs meeting it open wait for its probe without spending attempts). A sent
//! mail carrying a secret (a password-reset code, gift card codes: [`SECRET_KINDS`]) has
//! its body overwritten: the code is not kept in clear once it left.
//! Without `smtp_url`, mail stays in the outbox (`storefront mail pending`); a later start
//! with `smtp_url` sends what waits there.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rusqlite::{params, Connection, OptionalExtension};

use crate::config::Config;
use crate::db::writer::WriteTx;
use crate::error::StoreError;
use crate::jobs::breaker::Breaker;
use crate::jobs::{Done, JobCtx, JobResult, NewJob, Queue};
use crate::util::now_ms;

pub mod words;

/// What a sent reset mail's body becomes.
pub const REDACTED: &str = "(sent; the code it carried is not kept)";

/// The kinds of mail that carry a secret (a password-reset code, gift card codes, a draft
/// order's payment link): sealed until sent, then not kept (an SQL list, for `kind IN …`).
macro_rules! secret_kinds {
    () => {
        "('password_reset', 'gift_cards', 'payment_link')"
    };
}
pub const SECRET_KINDS: &str = secret_kinds!();

/// An amount as a history row (or an English mail) says it: `12.50 USD`, `1500 JPY`
/// (minor units; never a float).
pub fn amount(minor: i64, currency: &str) -> String {
    words::Lang::En.amount(minor, currency)
}

/// The language order `order`'s mail is written in: the one it was placed in (see
/// [`words`]), else the shop's default.
pub fn order_lang(conn: &Connection, order: i64, fx: &crate::app::Effects) -> rusqlite::Result<words::Lang> {
    let tag: Option<String> = conn
        .prepare_cached("SELECT locale FROM orders WHERE id = ?1")?
        .query_row([order], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(fx.lang(tag.as_deref()))
}

/// Writes a mail to the outbox in the unit of `tx`, and its sending job when `send` (the
/// shop has an SMTP server: [`Mailer::sends`]). Reset codes go first (queue `high`).
pub fn enqueue(
    tx: &WriteTx,
    send: bool,
    kind: &str,
    to: &str,
    subject: &str,
    body: &str,
    now: i64,
) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO mail_outbox(kind, to_email, subject, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![kind, to, subject, body, now])?;
    let id = tx.last_insert_rowid();
    if send {
        crate::jobs::enqueue(tx, &job(id, kind))?;
    }
    Ok(id)
}

fn job(id: i64, kind: &str) -> NewJob {
    let queue = if kind == "password_reset" { Queue::High } else { Queue::Default };
    NewJob::new(crate::jobs::Kind::Mail, serde_json::json!({ "outbox_id": id }))
        .queue(queue)
        .unique(format!("mail:{id}"))
}

/// Enqueues sending jobs for unsent mail of the last week (a start with `smtp_url` after
/// mail piled up without it). Returns how many.
pub fn enqueue_unsent(tx: &WriteTx, now: i64) -> rusqlite::Result<usize> {
    let rows: Vec<(i64, String)> = tx
        .prepare_cached(
            "SELECT id, kind FROM mail_outbox WHERE sent_at IS NULL AND created_at > ?1 ORDER BY id LIMIT 10000",
        )?
        .query_map([now - 7 * 86_400_000], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut n = 0;
    for (id, kind) in rows {
        n += usize::from(crate::jobs::enqueue(tx, &job(id, &kind))?.is_some());
    }
    Ok(n)
}

#[derive(Debug, serde::Serialize)]
pub struct Mail {
    pub id: i64,
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub created_at: i64,
}

fn mail_row(r: &rusqlite::Row) -> rusqlite::Result<Mail> {
    Ok(Mail {
        id: r.get(0)?,
        kind: r.get(1)?,
        to: r.get(2)?,
        subject: r.get(3)?,
        body: r.get(4)?,
        created_at: r.get(5)?,
    })
}

/// Mail not sent yet, oldest first.
pub fn pending(conn: &Connection, limit: i64) -> rusqlite::Result<Vec<Mail>> {
    conn.prepare_cached(
        "SELECT id, kind, to_email, subject, body, created_at FROM mail_outbox
         WHERE sent_at IS NULL ORDER BY id LIMIT ?1",
    )?
    .query_map([limit], mail_row)?
    .collect()
}

fn unsent(conn: &Connection, id: i64) -> rusqlite::Result<Option<Mail>> {
    conn.prepare_cached(
        "SELECT id, kind, to_email, subject, body, created_at FROM mail_outbox WHERE id = ?1 AND sent_at IS NULL",
    )?
    .query_row([id], mail_row)
    .optional()
}

fn mark_sent(tx: &WriteTx, id: i64, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(concat!(
        "UPDATE mail_outbox SET sent_at = ?1, attempts = attempts + 1, last_error = NULL,
             body = CASE WHEN kind IN ",
        secret_kinds!(),
        " THEN ?2 ELSE body END
         WHERE id = ?3"
    ))?
    .execute(params![now, REDACTED, id])?;
    Ok(())
}

fn mark_failed(tx: &WriteTx, id: i64, error: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE mail_outbox SET attempts = attempts + 1, last_error = ?1 WHERE id = ?2")?
        .execute(params![error, id])?;
    Ok(())
}

/// The SMTP sender (none without `smtp_url`) and its circuit breaker.
pub struct Mailer {
    url: Option<String>,
    timeout: Duration,
    /// built on first use, inside the runtime: lettre's connection pool starts a task
    transport: std::sync::OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    pub breaker: Breaker,
}

impl Mailer {
    pub fn new(c: &Config) -> anyhow::Result<Mailer> {
        if let Some(url) = &c.smtp_url {
            // checked now, so a bad URL stops the start rather than the first mail
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?;
        }
        Ok(Mailer {
            url: c.smtp_url.clone(),
            timeout: Duration::from_secs(c.smtp_timeout_secs),
            transport: std::sync::OnceLock::new(),
            from: c.mail_from.parse()?,
            breaker: Breaker::new(c.breaker_failures, Duration::from_millis(c.breaker_cooldown_ms)),
        })
    }

    /// Does this shop send mail (has an SMTP server)?
    pub fn sends(&self) -> bool {
        self.url.is_some()
    }

    /// The transport; call from within the runtime.
    fn transport(&self) -> Option<&AsyncSmtpTransport<Tokio1Executor>> {
        let url = self.url.as_deref()?;
        Some(self.transport.get_or_init(|| {
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .expect("checked when the mailer was made")
                .timeout(Some(self.timeout))
                .build()
        }))
    }
}

#[derive(serde::Deserialize)]
pub struct MailArgs {
    outbox_id: i64,
}

/// The `mail` job: send one outbox row.
pub async fn send_job(ctx: &JobCtx, args: MailArgs) -> JobResult {
    let app = &ctx.app;
    let Some(transport) = app.mailer.transport() else {
        return Ok(Done::Completed(Some(serde_json::json!({"sent": false, "reason": "no smtp_url"}))));
    };
    let id = args.outbox_id;
    let Some(mail) = app.db.read(move |c| unsent(c, id).map_err(StoreError::from)).await? else {
        return Ok(Done::Completed(Some(serde_json::json!({"sent": false, "reason": "already sent"}))));
    };
    if let Err(wait) = app.mailer.breaker.allow() {
        return Ok(Done::Snooze(wait));
    }
    // a reset mail's body is sealed until it is sent
    let body = app.secrets.open_text(&mail.body).map_err(|e| crate::jobs::Permanent(e.to_string()))?;
    let message = match mail.to.parse::<Mailbox>().map_err(anyhow::Error::from).and_then(|to| {
        Message::builder()
            .from(app.mailer.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(anyhow::Error::from)
    }) {
        Ok(m) => m,
        Err(e) => {
            // no retry can fix the address
            let error = format!("cannot build the mail: {e}");
            app.db.writer.run(move |tx| mark_failed(tx, id, &error).map_err(StoreError::from)).await?;
            return Err(crate::jobs::Permanent(format!("cannot build the mail: {e}")).into());
        }
    };
    match transport.send(message).await {
        Ok(_) => {
            app.mailer.breaker.success();
            app.db.writer.run(move |tx| mark_sent(tx, id, now_ms()).map_err(StoreError::from)).await?;
            tracing::info!(mail.id = id, mail.kind = %mail.kind, "mail sent");
            Ok(Done::Completed(Some(serde_json::json!({"sent": true}))))
        }
        Err(e) => {
            let error = e.to_string();
            // a permanent refusal (5xx) means the server works: no breaker, no retry
            let permanent = e.is_permanent();
            if !permanent {
                app.mailer.breaker.failure();
            }
            let recorded = error.clone();
            app.db.writer.run(move |tx| mark_failed(tx, id, &recorded).map_err(StoreError::from)).await?;
            if permanent {
                Err(crate::jobs::Permanent(format!("the SMTP server refused the mail: {error}")).into())
            } else {
                Err(anyhow::anyhow!("sending failed: {error}"))
            }
        }
    }
}

/// Sent mail older than `before` (at most `limit`); unsent mail stays until it is sent.
pub fn purge_sent(tx: &crate::db::writer::WriteTx, before: i64, limit: i64) -> rusqlite::Result<usize> {
    tx.prepare_cached("DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox WHERE sent_at < ?1 LIMIT ?2)")?
        .execute(rusqlite::params![before, limit])
}
