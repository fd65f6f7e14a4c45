//! The sweep over intents still awaiting their upload, as one scenario run on moto and on the
//! embedded adapters: an upload whose notification is never handled is recovered, an intent
//! past its deadline with nothing uploaded expires, and one within its deadline is left alone;
//! then the sweep over uploads claimed but not finished: a lost review start is made, and an
//! upload whose object was replaced before its verdict becomes FAILED.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use vetted_core::intake::{Intake, SweepReport, execution_name};
use vetted_core::policy::SlotPolicies;
use vetted_core::record::{FileName, RecordChanges, Transition, UploadMethod};
use vetted_core::{
    Clock, ExecutionName, ImageType, Policy, Ports, ReasonCode, Status, SystemClock, Timestamp,
    UploadId, UploadRecord,
};
use vetted_embedded::db::Db;
use vetted_embedded::fs_store::FsObjectStore;
use vetted_embedded::outbox::SqliteOutbox;
use vetted_embedded::sqlite_queue::{QueueConfig, SqliteWorkQueue};
use vetted_embedded::sqlite_restaurants::SqliteRestaurants;
use vetted_embedded::sqlite_uploads::SqliteUploads;
use vetted_embedded::workflow::EmbeddedWorkflow;

use crate::support::{ASL, Pipeline, owner, slot};

/// Whether the backend's workflow engine has an execution of this name.
#[async_trait]
trait Executions: Send + Sync {
    async fn exists(&self, name: &ExecutionName) -> bool;
}

async fn scenario(intake: &Intake, executions: &dyn Executions) {
    let now = intake.ports.clock.now();
    let minutes_ago = |m: i64| Timestamp::from_unix_millis(now.unix_millis() - m * 60_000);
    let in_five_minutes = now.saturating_add(Duration::from_secs(300));
    let png = vetted_samples::images::png(200, 100);
    let intent = |created, expires| {
        UploadRecord::new_intent(
            UploadId::generate(),
            owner(),
            slot(),
            FileName::parse("logo.png").unwrap(),
            ImageType::Png,
            png.len() as u64,
            UploadMethod::Post,
            created,
            expires,
        )
    };
    // Uploaded a minute ago; its notification was lost (on moto it sits unread on the queue).
    let lost = intent(minutes_ago(1), in_five_minutes);
    // Issued ten minutes ago, expired five minutes ago, never used.
    let stale = intent(minutes_ago(10), minutes_ago(5));
    // Issued a minute ago, not used yet.
    let waiting = intent(minutes_ago(1), in_five_minutes);
    for record in [&lost, &stale, &waiting] {
        intake.ports.uploads.create(record).await.unwrap();
    }
    intake
        .ports
        .objects
        .put(&lost.key, png.clone().into(), "image/png")
        .await
        .unwrap();

    // Notifications arrive within seconds: inside the grace period nothing is touched.
    let report = intake
        .sweep_awaiting(Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(report, SweepReport::default());
    assert_eq!(
        intake.ports.uploads.get(&lost.id).await.unwrap().status,
        Status::AwaitingUpload
    );

    let report = intake.sweep_awaiting(Duration::ZERO).await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            examined: 3,
            recovered: 1,
            expired: 1,
            ..SweepReport::default()
        }
    );
    let recovered = intake.ports.uploads.get(&lost.id).await.unwrap();
    assert_eq!(recovered.status, Status::Received);
    assert_eq!((recovered.width, recovered.height), (Some(200), Some(100)));
    let execution = recovered.execution_name.expect("its review started");
    assert!(executions.exists(&execution).await, "{execution} exists");
    let expired = intake.ports.uploads.get(&stale.id).await.unwrap();
    assert_eq!(expired.status, Status::Expired);
    assert_eq!(expired.reason, Some(ReasonCode::IntentExpired));
    assert_eq!(
        intake.ports.uploads.get(&waiting.id).await.unwrap().status,
        Status::AwaitingUpload
    );

    // Sweeping again finds only the intent still waiting, and leaves it.
    let report = intake.sweep_awaiting(Duration::ZERO).await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            examined: 1,
            ..SweepReport::default()
        }
    );

    received_scenario(intake, executions, &png, recovered.id).await;
}

/// Uploads intake claimed but did not finish: a review whose start was lost is started, and
/// one whose object was replaced before its verdict becomes FAILED. `in_review` is the upload
/// the first part recovered, RECEIVED with its review started (no workers run here).
async fn received_scenario(
    intake: &Intake,
    executions: &dyn Executions,
    png: &[u8],
    in_review: UploadId,
) {
    let now = intake.ports.clock.now();
    let claimed = |record: &UploadRecord, version: &str, execution: Option<ExecutionName>| {
        let transition = Transition::new(Status::AwaitingUpload, Status::Received, now)
            .unwrap()
            .with(RecordChanges {
                bytes: Some(png.len() as u64),
                object_version: Some(version.to_owned()),
                detected_type: Some(ImageType::Png),
                width: Some(200),
                height: Some(100),
                execution_name: execution,
                ..Default::default()
            });
        (record.id, transition)
    };
    let new_intent = || {
        UploadRecord::new_intent(
            UploadId::generate(),
            owner(),
            slot(),
            FileName::parse("logo.png").unwrap(),
            ImageType::Png,
            png.len() as u64,
            UploadMethod::Post,
            now,
            now.saturating_add(Duration::from_secs(300)),
        )
    };

    // Claimed and accepted, then intake died before starting the review.
    let lost_start = new_intent();
    intake.ports.uploads.create(&lost_start).await.unwrap();
    let meta = intake
        .ports
        .objects
        .put(&lost_start.key, png.to_vec().into(), "image/png")
        .await
        .unwrap();
    let version = meta
        .version
        .clone()
        .unwrap_or_else(|| meta.etag.trim_matches('"').to_owned());
    let name = execution_name(&lost_start.id, &version);
    let (id, transition) = claimed(&lost_start, &version, Some(name.clone()));
    intake
        .ports
        .uploads
        .transition(&id, &transition)
        .await
        .unwrap();
    assert!(!executions.exists(&name).await, "no review yet");

    // Claimed with no verdict recorded, and the object replaced since.
    let replaced = new_intent();
    intake.ports.uploads.create(&replaced).await.unwrap();
    intake
        .ports
        .objects
        .put(&replaced.key, png.to_vec().into(), "image/png")
        .await
        .unwrap();
    let (id, transition) = claimed(&replaced, "a-version-no-longer-stored", None);
    intake
        .ports
        .uploads
        .transition(&id, &transition)
        .await
        .unwrap();

    let report = intake.sweep_received(Duration::ZERO).await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            examined: 3,
            recovered: 1,
            failed: 1,
            ..SweepReport::default()
        }
    );
    assert!(
        executions.exists(&name).await,
        "the lost review was started"
    );
    let failed = intake.ports.uploads.get(&replaced.id).await.unwrap();
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(failed.reason, Some(ReasonCode::ProcessingFailed));
    assert!(
        failed
            .failure
            .unwrap()
            .contains("not the one intake examined")
    );
    assert_eq!(
        intake.ports.uploads.get(&in_review).await.unwrap().status,
        Status::Received,
        "an upload whose review runs is left to it"
    );
}

struct StepFunctions(Arc<Pipeline>);

#[async_trait]
impl Executions for StepFunctions {
    async fn exists(&self, name: &ExecutionName) -> bool {
        let arn = self.0.resources.workflow(&self.0.ctx).execution_arn(name);
        self.0
            .sfn
            .describe_execution()
            .execution_arn(arn.unwrap())
            .send()
            .await
            .is_ok()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_recovers_and_expires_on_moto() {
    let Some(pipeline) = Pipeline::start("sweep").await else {
        return;
    };
    let pipeline = Arc::new(pipeline);
    scenario(&pipeline.intake, &StepFunctions(pipeline.clone())).await;
}

struct Embedded(EmbeddedWorkflow);

#[async_trait]
impl Executions for Embedded {
    async fn exists(&self, name: &ExecutionName) -> bool {
        self.0.describe(name.as_str()).await.unwrap().is_some()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_recovers_and_expires_on_embedded_adapters() {
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
    let intake = Intake {
        ports: Ports {
            uploads: Arc::new(SqliteUploads::new(db.clone())),
            restaurants: Arc::new(SqliteRestaurants::new(db.clone())),
            banned: Arc::new(vetted_embedded::sqlite_banned::SqliteBanned::new(
                db.clone(),
            )),
            audit: Arc::new(vetted_embedded::sqlite_audit::SqliteAudit::new(db.clone())),
            objects: Arc::new(FsObjectStore::new(dir.path().join("objects")).unwrap()),
            events: Arc::new(SqliteOutbox::new(db, clock.clone())),
            clock,
            media: Default::default(),
        },
        reviews: Arc::new(engine.clone()),
        policies: SlotPolicies::uniform(Policy::default()),
        bucket: "vetted".to_owned(),
        review_timeout: Duration::from_secs(600),
        escalation: vetted_core::review::EscalationShares::none(),
        deferral: vetted_core::intake::Deferral::none(),
    };
    scenario(&intake, &Embedded(engine)).await;
}
