//! The SQLite writer's batches: calls queued together share one transaction, and each is
//! still answered on its own, so a call that fails or panics takes nothing of the others with
//! it.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use rusqlite::{Connection, OpenFlags};
use vetted_embedded::db::{BATCH, Db, DbError};

type Call = Pin<Box<dyn Future<Output = Result<i64, DbError>> + Send>>;

/// Committed rows of `t`, read through a connection of the test's own (not the writer's).
fn committed_ids(path: &std::path::Path) -> rusqlite::Result<Vec<i64>> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut select = conn.prepare("SELECT id FROM t ORDER BY id")?;
    let ids = select.query_map([], |row| row.get(0))?;
    ids.collect()
}

#[tokio::test]
async fn a_failing_call_does_not_fail_the_others_in_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
    db.call(|conn| {
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT NOT NULL)")
    })
    .await
    .unwrap();

    // Hold the writer in a call of its own until every call below is queued, so that the
    // writer then takes them all as one batch.
    let (started, running) = tokio::sync::oneshot::channel();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let blocker = tokio::spawn({
        let db = db.clone();
        async move {
            db.call(move |_| {
                let _ = started.send(());
                let _ = wait.recv();
                Ok(())
            })
            .await
        }
    });
    running.await.unwrap();

    let path = db.path().to_path_buf();
    let count: i64 = 10;
    assert!(count as usize <= BATCH);
    let mut calls: Vec<Call> = (0..count)
        .map(|i| {
            let (db, path) = (db.clone(), path.clone());
            Box::pin(async move {
                db.call(move |conn| {
                    match i {
                        // Writes one row, then fails: the row must not stay.
                        3 => {
                            conn.execute("INSERT INTO t (id, note) VALUES (?1, 'kept?')", [i])?;
                            conn.execute("INSERT INTO t (id, note) VALUES (?1, NULL)", [100 + i])?;
                        }
                        // Writes one row, then panics: the row must not stay.
                        6 => {
                            conn.execute("INSERT INTO t (id, note) VALUES (?1, 'kept?')", [i])?;
                            panic!("a call that panics mid-batch");
                        }
                        // A call's own transaction is a savepoint inside the batch.
                        7 => {
                            let tx = vetted_embedded::db::immediate(conn)?;
                            tx.execute("INSERT INTO t (id, note) VALUES (?1, 'ok')", [i])?;
                            tx.commit()?;
                        }
                        _ => {
                            conn.execute("INSERT INTO t (id, note) VALUES (?1, 'ok')", [i])?;
                        }
                    }
                    // What another connection sees now: nothing of this batch, which has
                    // not committed yet.
                    let seen = committed_ids(&path)?;
                    Ok(seen.len() as i64)
                })
                .await
            }) as Call
        })
        .collect();
    // `Db::call` queues its call on its first poll; the writer is held, so none can finish.
    std::future::poll_fn(|cx| {
        for call in &mut calls {
            assert!(call.as_mut().poll(cx).is_pending());
        }
        Poll::Ready(())
    })
    .await;
    go.send(()).unwrap();
    blocker.await.unwrap().unwrap();

    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await);
    }
    for (i, answer) in answers.into_iter().enumerate() {
        match (i, answer) {
            (3, Err(DbError::Sqlite(e))) => assert!(
                e.to_string().contains("NOT NULL"),
                "call 3 failed with its own error: {e}"
            ),
            (6, Err(DbError::Panicked)) => {}
            (3 | 6, other) => panic!("call {i} should have failed on its own, got {other:?}"),
            (_, Ok(seen)) => assert_eq!(
                seen, 0,
                "call {i} ran in a batch whose earlier writes were not yet committed"
            ),
            (_, Err(e)) => panic!("call {i} failed because another call did: {e}"),
        }
    }
    assert_eq!(
        committed_ids(&path).unwrap(),
        vec![0, 1, 2, 4, 5, 7, 8, 9],
        "every call that succeeded is committed, and nothing of the two that failed"
    );
    // The writer carries on.
    let ids = db
        .call(|conn| conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get::<_, i64>(0)))
        .await
        .unwrap();
    assert_eq!(ids, 8);
}
