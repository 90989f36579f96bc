//! The single writer: group commit, per-unit isolation, back-pressure, change notices and
//! shutdown, against a real SQLite file.

use crate::common;

use std::sync::{Arc, Mutex};

use storefront::db::writer::{ChangeSet, TableChange, Writer, WriterConfig};
use storefront::db::{self, Synchronous};
use storefront::error::StoreError;

fn start(config: WriterConfig) -> (Writer, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = common::make_db(dir.path(), &common::Data::Fixture("small-catalog.sql"));
    let conn = db::open_write(&path, Synchronous::Full).unwrap();
    (Writer::start(conn, config).unwrap(), path, dir)
}

fn read(path: &std::path::Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Occupies the writer until the gate opens, so what is submitted meanwhile waits in the
/// queue and lands in one batch. Returns once the writer is held.
async fn hold(w: &Writer) -> (tokio::task::JoinHandle<Result<(), StoreError>>, common::Gate) {
    let w = w.clone();
    let (mut gate, held) = common::gate();
    let task = tokio::spawn(async move {
        w.run(move |_| {
            held.wait();
            Ok::<_, StoreError>(())
        })
        .await
    });
    gate.entered().await;
    (task, gate)
}

/// Waits until `n` units wait in the writer's queue.
async fn queued(w: &Writer, n: usize) {
    common::wait_for(&format!("{n} queued units"), 10, || w.stats().queue_depth >= n).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_units_share_commits() {
    let (w, path, _dir) = start(WriterConfig::default());
    let tasks: Vec<_> = (0..400)
        .map(|_| {
            let w = w.clone();
            tokio::spawn(async move {
                w.run(|tx| {
                    tx.execute("UPDATE inventory SET available = available + 1 WHERE variant_id = 31", [])?;
                    Ok::<_, StoreError>(())
                })
                .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(read(&path, "SELECT available FROM inventory WHERE variant_id = 31"), 410);
    let s = w.stats();
    assert_eq!(s.units, 400);
    assert!(s.batches < 400 && s.max_batch > 1, "group commit batched units: {s:?}");
    w.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_unit_rolls_back_alone() {
    let (w, path, _dir) = start(WriterConfig::default());
    let (blocker, gate) = hold(&w).await;
    let insert = |id: i64, slug: &'static str, fail: bool| {
        let w = w.clone();
        tokio::spawn(async move {
            w.run(move |tx| {
                tx.execute(
                    "INSERT INTO brands(id, name, slug, created_at) VALUES (?1, ?2, ?2, 0)",
                    rusqlite::params![id, slug],
                )?;
                if fail {
                    return Err(StoreError::Aborted("the unit changed its mind".into()));
                }
                Ok(id)
            })
            .await
        })
    };
    let a = insert(10, "ok-a", false);
    let b = insert(11, "fails-after-insert", true);
    let c = insert(12, "acme", false); // slug taken: constraint violation
    let d = insert(13, "ok-d", false);
    queued(&w, 4).await;
    gate.open();
    blocker.await.unwrap().unwrap();
    assert_eq!(a.await.unwrap().unwrap(), 10);
    assert!(matches!(b.await.unwrap(), Err(StoreError::Aborted(_))));
    assert!(matches!(c.await.unwrap(), Err(StoreError::Constraint(_))));
    assert_eq!(d.await.unwrap().unwrap(), 13);
    assert_eq!(read(&path, "SELECT count(*) FROM brands WHERE id IN (10, 13)"), 2, "neighbours committed");
    assert_eq!(read(&path, "SELECT count(*) FROM brands WHERE id IN (11, 12)"), 0, "failures left nothing");
    let s = w.stats();
    assert!(s.max_batch >= 4, "the four shared a transaction: {s:?}");
    assert_eq!(s.units_failed, 2);
    w.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_unit_is_isolated() {
    let (w, path, _dir) = start(WriterConfig::default());
    let (blocker, gate) = hold(&w).await;
    let w1 = w.clone();
    let ok = tokio::spawn(async move {
        w1.run(|tx| {
            tx.execute("INSERT INTO brands(id, name, slug, created_at) VALUES (20, 'x', 'x', 0)", [])?;
            Ok::<_, StoreError>(())
        })
        .await
    });
    let w2 = w.clone();
    let boom = tokio::spawn(async move {
        w2.run(|tx| -> Result<(), StoreError> {
            tx.execute("INSERT INTO brands(id, name, slug, created_at) VALUES (21, 'y', 'y', 0)", [])?;
            panic!("a bug in a unit of work");
        })
        .await
    });
    queued(&w, 2).await;
    gate.open();
    blocker.await.unwrap().unwrap();
    ok.await.unwrap().unwrap();
    assert!(matches!(boom.await.unwrap(), Err(StoreError::Panicked(_))));
    assert_eq!(read(&path, "SELECT count(*) FROM brands WHERE id = 20"), 1);
    assert_eq!(read(&path, "SELECT count(*) FROM brands WHERE id = 21"), 0);
    assert!(w.is_alive());
    // and it keeps working
    w.run(|tx| Ok::<_, StoreError>(tx.execute("DELETE FROM brands WHERE id = 20", [])?)).await.unwrap();
    w.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_at_once() {
    let (w, _path, _dir) = start(WriterConfig { queue_capacity: 2, max_batch: 512 });
    let (blocker, gate) = hold(&w).await;
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let w = w.clone();
            tokio::spawn(async move { w.run(|_| Ok::<_, StoreError>(())).await })
        })
        .collect();
    // while the writer is held, two wait in the queue and the other four are refused at once
    common::wait_for("four answers while the writer is held", 10, || {
        tasks.iter().filter(|t| t.is_finished()).count() >= 4
    })
    .await;
    gate.open();
    let mut busy = 0;
    let mut done = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => done += 1,
            Err(StoreError::Busy(_)) => busy += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    blocker.await.unwrap().unwrap();
    assert_eq!((done, busy), (2, 4), "two fit the queue, the rest were refused");
    w.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_hooks_see_changes_before_callers_hear_back() {
    let (w, _path, _dir) = start(WriterConfig::default());
    let seen: Arc<Mutex<Vec<ChangeSet>>> = Arc::default();
    let s2 = seen.clone();
    w.on_commit(Arc::new(move |c: &ChangeSet| s2.lock().unwrap().push(c.clone())));
    w.run(|tx| {
        tx.execute("UPDATE products SET base_price = 5999 WHERE id = 3", [])?;
        Ok::<_, StoreError>(())
    })
    .await
    .unwrap();
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "the hook ran before the result was delivered");
        assert_eq!(seen[0].tables.get("products"), Some(&TableChange::Rows([3].into_iter().collect())));
    }
    // a failed unit publishes nothing
    let before = w.stats().batches;
    let failed = w
        .run(|tx| -> Result<(), StoreError> {
            tx.execute("UPDATE products SET base_price = 1 WHERE id = 1", [])?;
            Err(StoreError::Aborted("no".into()))
        })
        .await;
    assert!(failed.is_err());
    assert!(w.stats().batches > before, "the unit was run and its batch committed");
    assert_eq!(seen.lock().unwrap().len(), 1, "a rolled-back change is not announced");
    w.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_commits_what_is_queued_then_refuses() {
    let (w, path, _dir) = start(WriterConfig::default());
    let (blocker, gate) = hold(&w).await;
    let units: Vec<_> = (0..20)
        .map(|i| {
            let w = w.clone();
            tokio::spawn(async move {
                w.run(move |tx| {
                    tx.execute(
                        "INSERT INTO brands(id, name, slug, created_at) VALUES (?1, 'q', 'q-' || ?1, 0)",
                        [100 + i],
                    )?;
                    Ok::<_, StoreError>(())
                })
                .await
            })
        })
        .collect();
    queued(&w, 20).await;
    let w2 = w.clone();
    let stopping = tokio::task::spawn_blocking(move || w2.shutdown());
    gate.open();
    stopping.await.unwrap();
    blocker.await.unwrap().unwrap();
    for q in units {
        q.await.unwrap().unwrap();
    }
    assert_eq!(read(&path, "SELECT count(*) FROM brands WHERE id >= 100"), 20);
    assert!(!w.is_alive());
    assert!(matches!(w.run(|_| Ok::<_, StoreError>(())).await, Err(StoreError::WriterGone)));
}
