//! The contract suites on the embedded adapters: real directories and real SQLite files.

use std::time::Duration;

use vetted_contract::queue::QueueUnderTest;
use vetted_contract::{objects, queue, restaurants, uploads};
use vetted_embedded::db::Db;
use vetted_embedded::fs_store::FsObjectStore;
use vetted_embedded::sqlite_queue::{QueueConfig, SqliteWorkQueue};
use vetted_embedded::sqlite_restaurants::SqliteRestaurants;
use vetted_embedded::sqlite_uploads::SqliteUploads;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_object_store_passes_the_object_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsObjectStore::new(dir.path().join("objects")).unwrap();
    objects::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_uploads_pass_the_uploads_contract() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
    uploads::run_all(&SqliteUploads::new(db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_restaurants_pass_the_restaurants_contract() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
    restaurants::run_all(&SqliteRestaurants::new(db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_work_queue_passes_the_queue_contract() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
    let config = QueueConfig {
        visibility_timeout: Duration::from_secs(1),
        max_receives: 3,
    };
    // Another queue in the same database, busy with its own messages, must not interfere.
    let neighbour = SqliteWorkQueue::new(db.clone(), "neighbour", config);
    for i in 0..5 {
        vetted_core::ports::WorkQueue::send(&neighbour, &format!("neighbour {i}"))
            .await
            .unwrap();
    }
    let queue = SqliteWorkQueue::new(db, "intake", config);
    queue::run_all(QueueUnderTest {
        queue: &queue,
        visibility_timeout: config.visibility_timeout,
        max_receives: config.max_receives,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_webhooks_pass_the_webhooks_contract() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
    vetted_contract::webhooks::run_all(&vetted_embedded::sqlite_webhooks::SqliteWebhooks::new(db))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_notifications_pass_the_notifications_contract() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
    vetted_contract::notifications::run_all(
        &vetted_embedded::sqlite_notifications::SqliteNotifications::new(db),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_invitations_pass_the_invitations_contract() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
    vetted_contract::invitations::run_all(
        &vetted_embedded::sqlite_invitations::SqliteInvitations::new(db),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_audit_passes_the_audit_contract() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
    vetted_contract::audit::run_all(&vetted_embedded::sqlite_audit::SqliteAudit::new(db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_banned_passes_the_banned_contract() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
    vetted_contract::banned::run_all(&vetted_embedded::sqlite_banned::SqliteBanned::new(db)).await;
}
