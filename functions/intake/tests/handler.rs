//! The intake handler's batch mapping, on the embedded adapters (a real SQLite file, a real
//! directory, the embedded engine running the review ASL): which messages of a batch are
//! acknowledged and which are reported as failed, and that each acknowledged one did its work.

// Tests report a failed setup by panicking.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use vetted_core::intake::{Intake, execution_name};
use vetted_core::policy::SlotPolicies;
use vetted_core::ports::{ObjectStore, StoreError, Uploads};
use vetted_core::record::{FileName, UploadMethod};
use vetted_core::{
    Clock, ImageType, ObjectKey, OwnerId, Policy, Ports, Status, SystemClock, UploadId,
    UploadRecord,
};
use vetted_embedded::db::Db;
use vetted_embedded::fs_store::FsObjectStore;
use vetted_embedded::outbox::SqliteOutbox;
use vetted_embedded::sqlite_queue::{QueueConfig, SqliteWorkQueue};
use vetted_embedded::sqlite_restaurants::SqliteRestaurants;
use vetted_embedded::sqlite_uploads::SqliteUploads;
use vetted_embedded::workflow::EmbeddedWorkflow;
use vetted_lambda::sqs::{handle_sqs_batch, sqs_event};

const BUCKET: &str = "vetted";
const ASL: &str = include_str!("../../../statemachine/review.asl.json");

struct Rig {
    _dir: tempfile::TempDir,
    uploads: Arc<SqliteUploads>,
    objects: Arc<FsObjectStore>,
    engine: EmbeddedWorkflow,
    intake: Intake,
}

async fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = QueueConfig {
        visibility_timeout: Duration::from_secs(30),
        max_receives: 3,
    };
    let queue = |name| Arc::new(SqliteWorkQueue::new(db.clone(), name, config));
    let engine = EmbeddedWorkflow::open_review(
        db.clone(),
        ASL,
        queue("sanitize"),
        queue("review-tasks"),
        clock.clone(),
    )
    .await
    .unwrap();
    let uploads = Arc::new(SqliteUploads::new(db.clone()));
    let objects = Arc::new(FsObjectStore::new(dir.path().join("objects")).unwrap());
    let intake = Intake {
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
            clock,
        },
        reviews: Arc::new(engine.clone()),
        policies: SlotPolicies::uniform(Policy::default()),
        bucket: BUCKET.to_owned(),
        review_timeout: Duration::from_secs(600),
        escalation: vetted_core::review::EscalationShares::none(),
        deferral: vetted_core::intake::Deferral::none(),
    };
    Rig {
        _dir: dir,
        uploads,
        objects,
        engine,
        intake,
    }
}

/// An S3 notification for `key`, encoded as S3 encodes keys (`+` for a space).
fn notification(key: &str) -> String {
    let encoded: String = key
        .bytes()
        .map(|b| match b {
            b' ' => "+".to_owned(),
            b if b.is_ascii_alphanumeric() || b"-_.*".contains(&b) => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect();
    serde_json::json!({ "Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Post",
        "s3": { "bucket": { "name": BUCKET }, "object": { "key": encoded } }
    }]})
    .to_string()
}

#[tokio::test]
async fn only_messages_intake_could_not_handle_are_reported_failed() {
    let rig = rig().await;
    let now = SystemClock.now();
    let owner = OwnerId::parse("owner-1").unwrap();
    let intent = UploadRecord::new_intent(
        UploadId::generate(),
        owner.clone(),
        "r1/gallery-1".parse().unwrap(),
        FileName::parse("logo.png").unwrap(),
        ImageType::Png,
        10_000,
        UploadMethod::Post,
        now,
        now.saturating_add(Duration::from_secs(300)),
    );
    rig.uploads.create(&intent).await.unwrap();
    let png = vetted_samples::images::png(200, 100);
    rig.objects
        .put(&intent.key, png.into(), "image/png")
        .await
        .unwrap();
    let stray = ObjectKey::from_notification("incoming/owner 1/../x+y").unwrap();
    rig.objects
        .put(&stray, b"stray".to_vec().into(), "text/plain")
        .await
        .unwrap();

    let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"vetted"}"#;
    let good = notification(intent.key.as_str());
    let stray_event = notification(stray.as_str());
    let response = handle_sqs_batch(
        &rig.intake,
        sqs_event(&[
            ("test-event", test_event),
            ("upload", &good),
            ("not-json", "this is not JSON"),
            ("stray", &stray_event),
            ("not-a-notification", r#"{"Records":7}"#),
            (
                "bad-key-encoding",
                &notification("x").replace("\"x\"", "\"%FF\""),
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
        BTreeSet::from(["not-json", "not-a-notification", "bad-key-encoding"])
    );
    let record = rig.uploads.get(&intent.id).await.unwrap();
    assert_eq!(record.status, Status::Received);
    assert_eq!(
        (record.detected_type, record.width, record.height),
        (Some(ImageType::Png), Some(200), Some(100))
    );
    let version = record.object_version.clone().unwrap();
    let execution = execution_name(&intent.id, &version);
    assert_eq!(record.execution_name.as_ref(), Some(&execution));
    assert!(
        rig.engine
            .describe(execution.as_str())
            .await
            .unwrap()
            .is_some(),
        "the review started"
    );
    assert!(matches!(
        rig.objects.head(&stray).await,
        Err(StoreError::NotFound(_))
    ));
}

/// The binary, started as Lambda would start it but with a setting missing, stops before
/// serving anything and names the variable.
#[test]
fn a_missing_setting_stops_the_function_at_start_naming_it() {
    let run = |vars: &[(&str, &str)]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_intake"))
            .env_clear()
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    assert!(run(&[]).contains("environment variable VETTED_BUCKET is not set"));
    let stderr = run(&[
        ("VETTED_BUCKET", "b"),
        ("VETTED_TABLE", "t"),
        ("VETTED_RESTAURANTS_TABLE", "r"),
        ("VETTED_EVENT_BUS", "e"),
    ]);
    assert!(
        stderr.contains("environment variable VETTED_STATE_MACHINE_ARN is not set"),
        "{stderr}"
    );
    let stderr = run(&[
        ("VETTED_BUCKET", "b"),
        ("VETTED_TABLE", "t"),
        ("VETTED_RESTAURANTS_TABLE", "r"),
        ("VETTED_EVENT_BUS", "e"),
        ("VETTED_STATE_MACHINE_ARN", "arn"),
    ]);
    assert!(
        stderr.contains("environment variable VETTED_INTAKE_QUEUE_URL is not set"),
        "{stderr}"
    );
    let stderr = run(&[
        ("VETTED_BUCKET", "b"),
        ("VETTED_TABLE", "t"),
        ("VETTED_RESTAURANTS_TABLE", "r"),
        ("VETTED_EVENT_BUS", "e"),
        ("VETTED_STATE_MACHINE_ARN", "arn"),
        ("VETTED_INTAKE_QUEUE_URL", "q"),
        ("VETTED_INTAKE_DEAD_LETTER_URL", "dlq"),
        ("VETTED_REVIEW_TIMEOUT_SECONDS", "a week"),
    ]);
    assert!(
        stderr.contains("VETTED_REVIEW_TIMEOUT_SECONDS=\"a week\" is not valid"),
        "{stderr}"
    );
}
