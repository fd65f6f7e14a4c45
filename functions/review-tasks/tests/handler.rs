//! The review-tasks handler's batch mapping, on the embedded adapters (a real SQLite file, a
//! real directory, the embedded engine running the review ASL): a real `await_decision` task,
//! delivered twice, is done once and both deliveries are acknowledged; bodies that are not
//! task messages are reported as failed.

// Tests report a failed setup by panicking.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use vetted_core::policy::SlotPolicies;
use vetted_core::ports::{ObjectStore, ReviewStart, ReviewStarter, Uploads, WorkQueue};
use vetted_core::record::{FileName, UploadMethod};
use vetted_core::review::Review;
use vetted_core::review::sanitize::DEFAULT_MAX_DECODE_ALLOC;
use vetted_core::{
    Clock, ExecutionName, ImageType, ObjectKey, OwnerId, Policy, Ports, RecordChanges, Status,
    SystemClock, Transition, UploadId, UploadRecord,
};
use vetted_embedded::db::Db;
use vetted_embedded::fs_store::FsObjectStore;
use vetted_embedded::outbox::SqliteOutbox;
use vetted_embedded::sqlite_queue::{QueueConfig, SqliteWorkQueue};
use vetted_embedded::sqlite_restaurants::SqliteRestaurants;
use vetted_embedded::sqlite_uploads::SqliteUploads;
use vetted_embedded::workflow::EmbeddedWorkflow;
use vetted_lambda::sqs::{handle_sqs_batch, sqs_event};

const ASL: &str = include_str!("../../../statemachine/review.asl.json");

#[tokio::test]
async fn real_tasks_are_acknowledged_and_malformed_ones_fail() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = QueueConfig {
        visibility_timeout: Duration::from_secs(30),
        max_receives: 3,
    };
    let sanitize_queue = SqliteWorkQueue::new(db.clone(), "sanitize", config);
    let review_tasks = SqliteWorkQueue::new(db.clone(), "review-tasks", config);
    let engine = EmbeddedWorkflow::open_review(
        db.clone(),
        ASL,
        Arc::new(sanitize_queue.clone()),
        Arc::new(review_tasks.clone()),
        clock.clone(),
    )
    .await
    .unwrap();
    let uploads = Arc::new(SqliteUploads::new(db.clone()));
    let objects = Arc::new(FsObjectStore::new(dir.path().join("objects")).unwrap());
    let review = Arc::new(Review {
        ports: Ports {
            uploads: uploads.clone(),
            restaurants: Arc::new(SqliteRestaurants::new(db.clone())),
            banned: Arc::new(vetted_embedded::sqlite_banned::SqliteBanned::new(
                db.clone(),
            )),
            audit: Arc::new(vetted_embedded::sqlite_audit::SqliteAudit::new(db.clone())),
            objects: objects.clone(),
            events: Arc::new(SqliteOutbox::new(db, clock.clone())),
            media: Default::default(),
            clock: clock.clone(),
        },
        tasks: Arc::new(engine.clone()),
        policies: SlotPolicies::uniform(Policy::default()),
        max_decode_alloc: DEFAULT_MAX_DECODE_ALLOC,
        memory: vetted_core::review::sanitize::budget::MemoryBudget::default(),
        // No scanner, and unscanned uploads proceed: these tests are about other steps.
        scanning: vetted_core::review::Scanning::without_scanner(true),
    });

    // An upload intake accepted, in review.
    let now = clock.now();
    let png = vetted_samples::images::png(200, 100);
    let intent = UploadRecord::new_intent(
        UploadId::generate(),
        OwnerId::parse("owner-1").unwrap(),
        "r1/gallery-1".parse().unwrap(),
        FileName::parse("logo.png").unwrap(),
        ImageType::Png,
        png.len() as u64,
        UploadMethod::Post,
        now,
        now.saturating_add(Duration::from_secs(300)),
    );
    uploads.create(&intent).await.unwrap();
    objects
        .put(&intent.key, png.clone().into(), "image/png")
        .await
        .unwrap();
    let execution = ExecutionName::parse(&format!("review-{}", intent.id)).unwrap();
    let received = Transition::new(Status::AwaitingUpload, Status::Received, now)
        .unwrap()
        .with(RecordChanges {
            detected_type: Some(ImageType::Png),
            width: Some(200),
            height: Some(100),
            bytes: Some(png.len() as u64),
            execution_name: Some(execution.clone()),
            ..Default::default()
        });
    uploads.transition(&intent.id, &received).await.unwrap();
    let start = ReviewStart {
        upload_id: intent.id,
        review_timeout_seconds: 600,
        review_stages: vetted_core::ports::ReviewStages::without_escalation(600),
    };
    engine.start(&execution, &start).await.unwrap();
    // The scan comes first (skipped: no scanner, allowed here), then the sanitize task.
    for expected in ["\"scan\"", "\"sanitize\""] {
        let task = sanitize_queue
            .receive(1, Duration::from_secs(5))
            .await
            .unwrap()
            .pop()
            .unwrap_or_else(|| panic!("the workflow sent no {expected} task"));
        assert!(task.body.contains(expected), "{}", task.body);
        review.handle_message(&task.body).await.unwrap();
    }
    let task = review_tasks
        .receive(1, Duration::from_secs(5))
        .await
        .unwrap()
        .pop()
        .expect("the workflow moved on to the decision");
    assert!(task.body.contains("await_decision"), "{}", task.body);

    let response = handle_sqs_batch(
        review.as_ref(),
        sqs_event(&[
            ("task", &task.body),
            ("task-again", &task.body),
            ("not-json", "<html>"),
            (
                "no-token",
                &format!(r#"{{"task":"publish","upload_id":"{}"}}"#, intent.id),
            ),
            (
                "unknown-task",
                r#"{"task":"paint","upload_id":"x","execution":"e","task_token":"t"}"#,
            ),
        ]),
    )
    .await;

    let failed: BTreeSet<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        BTreeSet::from(["not-json", "no-token", "unknown-task"])
    );
    assert!(
        objects
            .head(&ObjectKey::sanitized(&intent.id))
            .await
            .is_ok(),
        "the sanitize task wrote the sanitized copy"
    );
    let record = uploads.get(&intent.id).await.unwrap();
    assert_eq!(record.status, Status::InReview);
    assert!(
        record.task_token.is_some(),
        "the token waits for a moderator"
    );
}
