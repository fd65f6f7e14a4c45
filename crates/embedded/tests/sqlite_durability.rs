//! The SQLite adapters across a close and reopen of the database file, and where they are
//! stricter than SQS: stale receipts after a redelivery, queues isolated by name, migrations.

use std::time::Duration;

use vetted_core::ports::{QueueError, QueueStats, Uploads, WorkQueue};
use vetted_core::record::{FileName, UploadMethod};
use vetted_core::{
    ImageType, OwnerId, RecordChanges, SlotRef, Status, TaskToken, Timestamp, Transition, UploadId,
    UploadRecord,
};
use vetted_embedded::db::{COMPONENTS, Db, DbError};
use vetted_embedded::sqlite_queue::{QueueConfig, SqliteWorkQueue};
use vetted_embedded::sqlite_uploads::SqliteUploads;

fn intent(owner: &str, at_ms: i64) -> UploadRecord {
    UploadRecord::new_intent(
        UploadId::generate(),
        OwnerId::parse(owner).expect("owner id"),
        "r1/gallery-1".parse::<SlotRef>().expect("slot"),
        FileName::parse("logo.png").expect("file name"),
        ImageType::Png,
        4096,
        UploadMethod::Put,
        Timestamp::from_unix_millis(at_ms),
        Timestamp::from_unix_millis(at_ms + 60_000),
    )
}

const FAST: QueueConfig = QueueConfig {
    visibility_timeout: Duration::from_millis(300),
    max_receives: 2,
};

async fn receive_one(queue: &SqliteWorkQueue) -> vetted_core::ports::QueueMessage {
    let mut got = queue
        .receive(1, Duration::from_secs(5))
        .await
        .expect("receive");
    assert_eq!(got.len(), 1, "nothing delivered within 5 s");
    got.remove(0)
}

#[tokio::test]
async fn records_survive_closing_and_reopening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("vetted.db");
    let mut record = intent("owner-1", 1_000);
    {
        let uploads = SqliteUploads::new(Db::open(&path).await.unwrap());
        uploads.create(&record).await.unwrap();
        for (from, to) in [
            (Status::AwaitingUpload, Status::Received),
            (Status::Received, Status::InReview),
        ] {
            let t = Transition::new(from, to, Timestamp::from_unix_millis(2_000))
                .unwrap()
                .with(RecordChanges {
                    task_token: Some(TaskToken::parse("the-token").unwrap()),
                    width: Some(640),
                    ..RecordChanges::default()
                });
            record = uploads.transition(&record.id, &t).await.unwrap();
        }
    }
    let uploads = SqliteUploads::new(Db::open(&path).await.unwrap());
    let stored = uploads.get(&record.id).await.unwrap();
    assert_eq!(stored, record);
    assert_eq!(stored.task_token.unwrap().expose(), "the-token");
}

#[tokio::test]
async fn queued_and_in_flight_messages_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vetted.db");
    let first_receipt = {
        let queue = SqliteWorkQueue::new(Db::open(&path).await.unwrap(), "intake", FAST);
        for body in ["a", "b", "c"] {
            queue.send(body).await.unwrap();
        }
        let message = receive_one(&queue).await;
        assert_eq!(message.body, "a");
        message.receipt
    };
    let queue = SqliteWorkQueue::new(Db::open(&path).await.unwrap(), "intake", FAST);
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.visible + stats.in_flight, 3, "{stats:?}");
    let mut bodies = Vec::new();
    while bodies.len() < 3 {
        let message = receive_one(&queue).await;
        if message.body == "a" {
            assert_eq!(message.receive_count, 2);
            assert_ne!(message.receipt, first_receipt);
        }
        queue.ack(&message.receipt).await.unwrap();
        bodies.push(message.body);
    }
    bodies.sort();
    assert_eq!(bodies, ["a", "b", "c"]);
}

#[tokio::test]
async fn messages_a_dead_process_received_are_released_at_once_on_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vetted.db");
    let slow = QueueConfig {
        visibility_timeout: Duration::from_secs(3600),
        max_receives: 5,
    };
    let old_receipt = {
        let queue = SqliteWorkQueue::new(Db::open(&path).await.unwrap(), "sanitize", slow);
        queue.send("in hand when killed").await.unwrap();
        queue.send("delayed by a retry").await.unwrap();
        let killed = receive_one(&queue).await;
        let retried = receive_one(&queue).await;
        queue
            .retry_after(&retried.receipt, Duration::from_secs(600))
            .await
            .unwrap();
        killed.receipt
    };
    let queue = SqliteWorkQueue::new(Db::open(&path).await.unwrap(), "sanitize", slow);
    let other = SqliteWorkQueue::new(Db::open(&path).await.unwrap(), "intake", slow);
    other.send("another queue's").await.unwrap();
    receive_one(&other).await;
    assert_eq!(queue.release_unacknowledged().await.unwrap(), 2);
    let (first, second) = (receive_one(&queue).await, receive_one(&queue).await);
    assert_eq!((first.receive_count, second.receive_count), (2, 2));
    assert!(matches!(
        queue.ack(&old_receipt).await,
        Err(QueueError::StaleReceipt)
    ));
    assert_eq!(
        other.stats().await.unwrap().in_flight,
        1,
        "only its own queue"
    );
    assert_eq!(queue.release_unacknowledged().await.unwrap(), 2);
}

#[tokio::test]
async fn dead_letters_survive_reopening_and_can_be_redriven() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vetted.db");
    {
        let queue = SqliteWorkQueue::new(Db::open(&path).await.unwrap(), "intake", FAST);
        queue.send("poison").await.unwrap();
        for count in 1..=FAST.max_receives {
            assert_eq!(receive_one(&queue).await.receive_count, count);
        }
        let after_timeout = queue.receive(10, Duration::from_secs(1)).await.unwrap();
        assert!(after_timeout.is_empty(), "{after_timeout:?}");
        assert_eq!(queue.stats().await.unwrap().dead, 1);
    }
    let queue = SqliteWorkQueue::new(Db::open(&path).await.unwrap(), "intake", FAST);
    let expected = QueueStats {
        visible: 0,
        in_flight: 0,
        dead: 1,
    };
    assert_eq!(queue.stats().await.unwrap(), expected);
    assert_eq!(queue.redrive(10).await.unwrap(), 1);
    let message = receive_one(&queue).await;
    assert_eq!(
        (message.body.as_str(), message.receive_count),
        ("poison", 1)
    );
    queue.ack(&message.receipt).await.unwrap();
}

#[tokio::test]
async fn a_receipt_from_before_a_redelivery_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let queue = SqliteWorkQueue::new(
        Db::open(dir.path().join("vetted.db")).await.unwrap(),
        "q",
        FAST,
    );
    queue.send("m").await.unwrap();
    let first = receive_one(&queue).await;
    let second = receive_one(&queue).await;
    assert_eq!(second.receive_count, 2);
    assert!(matches!(
        queue.ack(&first.receipt).await,
        Err(QueueError::StaleReceipt)
    ));
    assert!(matches!(
        queue.retry_after(&first.receipt, Duration::ZERO).await,
        Err(QueueError::StaleReceipt)
    ));
    assert_eq!(
        queue.stats().await.unwrap().in_flight,
        1,
        "the stale ack acted"
    );
    queue.ack(&second.receipt).await.unwrap();
    assert!(matches!(
        queue.ack(&second.receipt).await,
        Err(QueueError::StaleReceipt)
    ));
}

#[tokio::test]
async fn queues_of_one_database_are_isolated_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
    let intake = SqliteWorkQueue::new(db.clone(), "intake", FAST);
    let review = SqliteWorkQueue::new(db.clone(), "review", FAST);
    intake.send("for intake").await.unwrap();
    review.send("for review").await.unwrap();
    assert_eq!(receive_one(&review).await.body, "for review");
    let message = receive_one(&intake).await;
    assert_eq!(message.body, "for intake");
    assert!(matches!(
        review.ack(&message.receipt).await,
        Err(QueueError::StaleReceipt)
    ));
    assert_eq!(review.redrive(10).await.unwrap(), 0);
    assert_eq!(intake.stats().await.unwrap().in_flight, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_through_another_handle_reaches_a_waiting_receive() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
    let consumer = SqliteWorkQueue::new(db.clone(), "intake", FAST);
    let producer = SqliteWorkQueue::new(db, "intake", FAST);
    let (received, ()) = tokio::join!(consumer.receive(1, Duration::from_secs(30)), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        producer.send("hello").await.unwrap();
    });
    assert_eq!(received.unwrap()[0].body, "hello");
}

#[tokio::test]
async fn migrations_run_once_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vetted.db");
    let versions = |db: Db| async move {
        db.read(|conn| {
            let mut stmt =
                conn.prepare("SELECT component, version FROM schema_versions ORDER BY component")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
        .unwrap()
    };
    let first = versions(Db::open(&path).await.unwrap()).await;
    let mut expected: Vec<(String, u32)> = COMPONENTS
        .iter()
        .map(|(name, migrations)| ((*name).to_owned(), migrations.last().unwrap().version))
        .collect();
    expected.sort();
    assert_eq!(first, expected);
    assert!(
        first.contains(&("uploads".to_owned(), 10)) && first.contains(&("queue".to_owned(), 1))
    );
    let db = Db::open(&path).await.unwrap();
    assert_eq!(
        versions(db.clone()).await,
        first,
        "a reopen changed versions"
    );
    db.call(|conn| {
        conn.execute(
            "UPDATE schema_versions SET version = 99 WHERE component = 'queue'",
            [],
        )
    })
    .await
    .unwrap();
    drop(db);
    match Db::open(&path).await {
        Err(DbError::SchemaTooNew {
            component, found, ..
        }) => assert_eq!((component.as_str(), found), ("queue", 99)),
        Err(other) => panic!("expected SchemaTooNew, got {other}"),
        Ok(_) => panic!("a database from a newer build was opened"),
    }
}

/// A file written by a build that knew only version 1 of the uploads schema: its records read
/// back after the upgrade, with the documented defaults for what version 1 did not keep.
#[tokio::test]
async fn version_1_upload_rows_read_back_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vetted.db");
    let id = UploadId::generate();
    {
        let (_, uploads_migrations) = COMPONENTS
            .iter()
            .find(|(name, _)| *name == "uploads")
            .unwrap();
        let version_1 = uploads_migrations.iter().find(|m| m.version == 1).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_versions (
                component TEXT PRIMARY KEY,
                version INTEGER NOT NULL
            ) STRICT;
            INSERT INTO schema_versions VALUES ('uploads', 1);",
        )
        .unwrap();
        conn.execute_batch(version_1.sql).unwrap();
        conn.execute(
            "INSERT INTO uploads (id, owner, filename, declared_type, declared_size, method,
                object_key, status, status_since, created_at, expires_at, moderator, decision)
             VALUES (?1, 'owner-1', 'old.png', 'image/png', 10, 'post', ?2, 'DECLINED', 3000,
                1000, 61000, 'mod-1', 'decline')",
            rusqlite::params![id.to_string(), format!("incoming/owner-1/{id}")],
        )
        .unwrap();
    }
    let uploads = SqliteUploads::new(Db::open(&path).await.unwrap());
    let stored = uploads.get(&id).await.unwrap();
    assert_eq!(
        stored.target,
        "legacy/gallery-1".parse::<SlotRef>().unwrap(),
        "a version 1 row must read back with the documented default slot"
    );
    assert_eq!(stored.decided_at, None, "version 1 kept no decision time");
    assert_eq!(
        stored.escalation_level, None,
        "rows before version 5 were never escalated"
    );
    assert_eq!(stored.status, Status::Declined);
    assert_eq!(stored.key.as_str(), format!("incoming/owner-1/{id}"));
}
