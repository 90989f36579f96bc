//! The job queue: its SQL driven with explicit clocks (priority, schedule, unique keys,
//! backoff, leases, snooze, release, pruning), then the runner in the real server (a
//! poison job, scheduled jobs, shutdown, the admin API), then the real binary killed with
//! SIGKILL while jobs run.

use std::process::{Child, Command, Stdio};

use serde_json::json;
use storefront::error::StoreError;
use storefront::jobs::store::{self, Outcome};
use storefront::jobs::{Kind, NewJob, Queue, State};

use crate::common::{self, column, TestApp};

async fn unit<T: Send + 'static>(
    app: &TestApp,
    f: impl FnOnce(&storefront::db::writer::WriteTx) -> rusqlite::Result<T> + Send + 'static,
) -> T {
    app.state.db.writer.run(move |tx| f(tx).map_err(StoreError::from)).await.unwrap()
}

fn state_of(app: &TestApp, id: i64) -> (String, i64) {
    app.conn()
        .query_row("SELECT state, attempts FROM jobs WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
}

async fn wait_state(app: &TestApp, id: i64, state: &str, secs: u64) {
    common::wait_for(&format!("job {id} to be {state}"), secs, || state_of(app, id).0 == state).await;
}

/// A server that runs no jobs itself: the test is the only worker, with its own clock.
async fn queue_only() -> TestApp {
    TestApp::builder().config(|c| c.jobs_concurrency = 0).start().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_takes_by_priority_and_time_and_keeps_unique_keys() {
    let app = queue_only().await;
    let t = 1_000_000_000_000i64;
    let ids = unit(&app, move |tx| {
        let low = store::enqueue_at(tx, &NewJob::new(Kind::Noop, json!({})).queue(Queue::Low), t)?;
        let default = store::enqueue_at(tx, &NewJob::new(Kind::Noop, json!({})).queue(Queue::Default), t)?;
        let high = store::enqueue_at(tx, &NewJob::new(Kind::Noop, json!({})).queue(Queue::High), t)?;
        let later = store::enqueue_at(tx, &NewJob::new(Kind::Noop, json!({})).queue(Queue::High).at(t + 60_000), t)?;
        let keyed = store::enqueue_at(tx, &NewJob::new(Kind::Noop, json!({})).queue(Queue::Low).unique("k"), t)?;
        let again = store::enqueue_at(tx, &NewJob::new(Kind::Noop, json!({})).unique("k"), t)?;
        Ok([low, default, high, later, keyed, again])
    })
    .await;
    let [low, default, high, later, keyed, again] = ids;
    assert!(again.is_none(), "a key that waits is not enqueued twice");
    assert_eq!(state_of(&app, later.unwrap()).0, "scheduled");
    // the scheduled job is not taken before its time; the rest by queue, then age
    let claimed = unit(&app, move |tx| store::claim(tx, "w1", 10, t + 1, t + 3_600_000)).await.0;
    let order: Vec<i64> = claimed.iter().map(|j| j.id).collect();
    assert_eq!(order, [high.unwrap(), default.unwrap(), low.unwrap(), keyed.unwrap()]);
    assert!(claimed.iter().all(|j| j.attempt == 1));
    // a running job does not hold its key: the next one may wait already
    let next =
        unit(&app, move |tx| store::enqueue_at(tx, &NewJob::new(Kind::Noop, json!({})).unique("k"), t + 2)).await;
    assert!(next.is_some());
    let (taken, _) = unit(&app, move |tx| store::claim(tx, "w1", 10, t + 60_000, t + 3_600_000)).await;
    let taken: Vec<i64> = taken.iter().map(|j| j.id).collect();
    assert_eq!(taken, [later.unwrap(), next.unwrap()], "due at its time");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_back_off_leases_run_out_and_snoozes_do_not_count() {
    let app = queue_only().await;
    let t = 1_000_000_000_000i64;
    let id =
        unit(&app, move |tx| store::enqueue_at(tx, &NewJob::new(Kind::Noop, json!({})).attempts(3), t)).await.unwrap();
    let claim = |worker: &'static str, at: i64| {
        let app = &app;
        async move { unit(app, move |tx| store::claim(tx, worker, 10, at, at + 1_000)).await }
    };
    // attempt 1 fails: retryable, not taken before its retry time
    assert_eq!(claim("w1", t).await.0.len(), 1);
    let failed = Outcome::Failed { error: "boom 1".into(), retry_at: Some(t + 5_000) };
    let st = unit(&app, move |tx| store::finish(tx, id, 1, "w1", &failed, t + 10)).await;
    assert_eq!(st, Some(State::Retryable));
    assert!(claim("w1", t + 4_999).await.0.is_empty());
    // attempt 2: a snooze gives the attempt back
    let got = claim("w1", t + 5_000).await.0;
    assert_eq!((got.len(), got[0].attempt), (1, 2));
    let snooze = Outcome::Snoozed { until: t + 6_000 };
    assert_eq!(unit(&app, move |tx| store::finish(tx, id, 2, "w1", &snooze, t + 5_001)).await, Some(State::Scheduled));
    assert_eq!(state_of(&app, id), ("scheduled".into(), 1));
    // attempt 2 again: its worker dies; after the lease another takes it
    assert_eq!(claim("w1", t + 6_000).await.0[0].attempt, 2);
    assert!(claim("w2", t + 6_500).await.0.is_empty(), "the lease still holds");
    let got = claim("w2", t + 7_001).await.0;
    assert_eq!((got.len(), got[0].attempt), (1, 3), "taken back after the lease");
    // the dead worker's late report changes nothing
    let late = Outcome::Completed { result: None };
    assert_eq!(unit(&app, move |tx| store::finish(tx, id, 2, "w1", &late, t + 7_002)).await, None);
    // the last attempt fails: failed for good, every attempt's error kept
    let last = Outcome::Failed { error: "boom 3".into(), retry_at: Some(t + 99_000) };
    assert_eq!(unit(&app, move |tx| store::finish(tx, id, 3, "w2", &last, t + 7_003)).await, Some(State::Failed));
    let errors: String = app.conn().query_row("SELECT errors FROM jobs WHERE id = ?1", [id], |r| r.get(0)).unwrap();
    let errors: serde_json::Value = serde_json::from_str(&errors).unwrap();
    let texts: Vec<&str> = errors.as_array().unwrap().iter().map(|e| e["error"].as_str().unwrap()).collect();
    assert_eq!(texts.len(), 3, "{errors}");
    assert_eq!(texts[0], "boom 1");
    assert!(texts[1].contains("lease ran out"), "{texts:?}");
    assert_eq!(texts[2], "boom 3");
    assert!(claim("w2", t + 200_000).await.0.is_empty(), "a failed job is not taken again");

    // a job given back at shutdown: available at once, the attempt not counted
    let other = unit(&app, move |tx| store::enqueue_at(tx, &NewJob::new(Kind::Noop, json!({})), t)).await.unwrap();
    assert_eq!(claim("w3", t + 300_000).await.0.len(), 1);
    assert_eq!(unit(&app, |tx| store::release(tx, "w3")).await, 1);
    assert_eq!(state_of(&app, other), ("available".into(), 0));
    // completed jobs are pruned after their time, nothing else
    let done = Outcome::Completed { result: Some(json!({"ok": true})) };
    assert_eq!(claim("w3", t + 300_001).await.0.len(), 1);
    unit(&app, move |tx| store::finish(tx, other, 1, "w3", &done, t + 300_002)).await;
    assert_eq!(unit(&app, move |tx| store::prune(tx, t + 300_002, 100)).await, 0);
    assert_eq!(unit(&app, move |tx| store::prune(tx, t + 300_003, 100)).await, 1);
    assert_eq!(column::<i64>(&app.conn(), "SELECT count(*) FROM jobs WHERE state = 'failed'"), [1]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_job_fails_after_its_attempts_blocks_nothing_and_can_be_retried() {
    let app = TestApp::builder()
        .config(|c| {
            c.job_retry_base_ms = 10;
            c.jobs_concurrency = 4;
        })
        .start()
        .await;
    let admin = app.admin("root@example.com").await;
    // a job of a kind this version does not know, as a newer version would have written it
    let poison = unit(&app, |tx| {
        let now = storefront::util::now_ms();
        tx.execute(
            "INSERT INTO jobs(kind, queue, priority, state, args, max_attempts, run_at, created_at)
             VALUES ('from_a_newer_version', 'default', 1, 'available', '{}', 3, ?1, ?1)",
            [now],
        )?;
        Ok(tx.last_insert_rowid())
    })
    .await;
    let noops = unit(&app, |tx| {
        (0..200)
            .map(|_| storefront::jobs::enqueue(tx, &NewJob::new(Kind::Noop, json!({}))))
            .collect::<Result<Vec<_>, _>>()
    })
    .await;
    let c = app.conn();
    let done = || column::<i64>(&c, "SELECT count(*) FROM jobs WHERE kind = 'noop' AND state = 'completed'")[0];
    common::wait_for("the noop jobs", 30, || done() == noops.len() as i64).await;
    wait_state(&app, poison, "failed", 30).await;
    assert_eq!(state_of(&app, poison).1, 3);

    // the admin API shows it with every attempt's error
    let r = app.call("GET", "/api/admin/jobs?state=failed", Some(&admin), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let list = r.json();
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [poison.to_string()]);
    for q in ["high", "default", "low"] {
        assert!(list["meta"]["queues"][q]["depth"].is_i64() && list["meta"]["queues"][q]["lag_seconds"].is_number());
    }
    let job =
        app.call("GET", &format!("/api/admin/jobs/{poison}"), Some(&admin), None, &[]).await.json()["data"].clone();
    assert_eq!(
        (job["state"].as_str(), job["attempts"].as_i64(), job["max_attempts"].as_i64()),
        (Some("failed"), Some(3), Some(3))
    );
    let errors = job["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3);
    assert!(errors.iter().all(|e| e["error"].as_str().unwrap().contains("unknown job kind")), "{errors:?}");
    assert_eq!(errors.iter().map(|e| e["attempt"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 2, 3]);

    // refused changes change nothing
    let user = app.register("user@example.com").await;
    let before = common::digest(&c);
    let r = app.call("DELETE", &format!("/api/admin/jobs/{poison}"), Some(&admin), None, &[]).await;
    assert_eq!((r.status, r.error_code()), (409, "job_state".into()), "a failed job cannot be cancelled");
    let r = app.call("POST", &format!("/api/admin/jobs/{}/retry", noops[0].unwrap()), Some(&admin), None, &[]).await;
    assert_eq!((r.status, r.error_code()), (409, "job_state".into()), "a completed job is not retried");
    let r = app.call("POST", "/api/admin/jobs/999999/retry", Some(&admin), None, &[]).await;
    assert_eq!((r.status, r.error_code()), (404, "not_found".into()));
    let r = app.call("GET", "/api/admin/jobs?state=done", Some(&admin), None, &[]).await;
    assert!(r.status == 400 || r.status == 422, "{}", r.text());
    let r = app.call("POST", &format!("/api/admin/jobs/{poison}/retry"), Some(&user), None, &[]).await;
    assert_eq!(r.status, 403);
    assert_eq!(common::digest(&c), before);

    // a retry gives it one more attempt, which fails the same way
    let r = app.call("POST", &format!("/api/admin/jobs/{poison}/retry"), Some(&admin), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    common::wait_for("the retried attempt", 30, || state_of(&app, poison) == ("failed".into(), 4)).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_jobs_wait_for_their_time_and_can_be_cancelled() {
    let app = TestApp::builder().start().await;
    let admin = app.admin("root@example.com").await;
    let now = storefront::util::now_ms();
    let (soon, later) = unit(&app, move |tx| {
        let soon = storefront::jobs::enqueue(tx, &NewJob::new(Kind::Noop, json!({})).at(now + 300))?;
        let later = storefront::jobs::enqueue(tx, &NewJob::new(Kind::Noop, json!({})).at(now + 3_600_000))?;
        Ok((soon.unwrap(), later.unwrap()))
    })
    .await;
    wait_state(&app, soon, "completed", 30).await;
    let (run_at, started): (i64, i64) = app
        .conn()
        .query_row("SELECT run_at, started_at FROM jobs WHERE id = ?1", [soon], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert!(started >= run_at, "started {started} before its time {run_at}");
    assert_eq!(state_of(&app, later).0, "scheduled");
    let r = app.call("DELETE", &format!("/api/admin/jobs/{later}"), Some(&admin), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["state"], "cancelled");
    let audit: Vec<String> = column(&app.conn(), "SELECT action FROM audit_log WHERE entity = 'job'");
    assert_eq!(audit, ["job.cancel"]);
    // a run of a recurring task is not cancelled: its chain (order expiry, the purge) would end
    let waiting = || -> Vec<i64> {
        column(&app.conn(), "SELECT id FROM jobs WHERE unique_key LIKE 'recurring:%' AND state = 'scheduled' LIMIT 1")
    };
    crate::common::wait_for("a recurring task's next run", 30, || !waiting().is_empty()).await;
    let recurring = waiting();
    let r = app.call("DELETE", &format!("/api/admin/jobs/{}", recurring[0]), Some(&admin), None, &[]).await;
    assert_eq!((r.status, r.error_code()), (409, "job_state".into()), "{}", r.text());
    let still: Vec<String> = column(&app.conn(), &format!("SELECT state FROM jobs WHERE id = {}", recurring[0]));
    assert_ne!(still[0], "cancelled");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_running_jobs_finish_and_gives_the_rest_back() {
    let app = TestApp::builder().config(|c| c.jobs_shutdown_grace_secs = 2).start().await;
    let (short, long) = unit(&app, |tx| {
        let short = storefront::jobs::enqueue(tx, &NewJob::new(Kind::Sleep, json!({"ms": 300})))?;
        let long = storefront::jobs::enqueue(tx, &NewJob::new(Kind::Sleep, json!({"ms": 120_000})))?;
        Ok((short.unwrap(), long.unwrap()))
    })
    .await;
    wait_state(&app, short, "running", 30).await;
    wait_state(&app, long, "running", 30).await;
    let path = app.db_path.clone();
    let _files = app.stop_keeping_files().await;
    let c = rusqlite::Connection::open(&path).unwrap();
    let row = |id: i64| -> (String, i64, Option<String>) {
        c.query_row("SELECT state, attempts, locked_by FROM jobs WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
    };
    assert_eq!(row(short), ("completed".into(), 1, None), "finished within the grace");
    assert_eq!(row(long), ("available".into(), 0, None), "given back, its attempt not counted");
}

fn start_binary(db: &std::path::Path, config: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_storefront"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--log-level", "warn", "--db"])
        .arg(db)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_running_when_the_server_is_killed_complete_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::make_db(dir.path(), &common::Data::Empty);
    let config = dir.path().join("storefront.toml");
    std::fs::write(&config, "job_lease_secs = 1\njobs_concurrency = 6\n").unwrap();
    {
        // jobs written as the queue writes them, before the server starts
        let c = rusqlite::Connection::open(&db).unwrap();
        for i in 0..18 {
            let kind = if i % 3 == 0 { "noop" } else { "sleep" };
            c.execute(
                "INSERT INTO jobs(kind, queue, priority, state, args, max_attempts, run_at, created_at)
                 VALUES (?1, 'default', 1, 'available', '{\"ms\": 1500}', 5, 0, 0)",
                [kind],
            )
            .unwrap();
        }
    }
    let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let count = |sql: &str| column::<i64>(&c, sql)[0];
    let port = common::smtp_server::free_port();
    let mut child = start_binary(&db, &config, port);
    common::wait_for("jobs running", 30, || {
        count("SELECT count(*) FROM jobs WHERE kind = 'sleep' AND state = 'running'") > 0
    })
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let interrupted: Vec<i64> = column(&c, "SELECT id FROM jobs WHERE state = 'running' AND kind = 'sleep'");
    assert!(!interrupted.is_empty());

    let port = common::smtp_server::free_port();
    let mut child = start_binary(&db, &config, port);
    let all_done = || count("SELECT count(*) FROM jobs WHERE kind IN ('noop', 'sleep') AND state = 'completed'") == 18;
    common::wait_for("every job to complete after the restart", 60, all_done).await;
    for id in interrupted {
        let (attempts, errors): (i64, String) = c
            .query_row("SELECT attempts, errors FROM jobs WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert!(attempts >= 2 && errors.contains("lease ran out"), "job {id}: {attempts} attempts, {errors}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
