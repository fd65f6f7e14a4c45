//! Intake absorbing a throttled review start, on the embedded adapters (the real engine and a
//! real SQLite intake queue, the workflow wrapped by a starter that answers `Throttled`, as
//! Step Functions answers a `StartExecution` over its quota):
//! - of two records in one notification, the throttled one is re-sent alone, delayed, marked
//!   as its first deferral; the other starts; the throttled upload stays `RECEIVED`;
//! - the re-sent notification, delivered later, starts the review; a second throttle of it is
//!   the second deferral;
//! - if the re-send fails, or intake has no queue to defer to, the message fails as a
//!   retryable error (the queue retries it), and nothing is lost.

// Test code: a failed unwrap is a failed assertion.
#![allow(clippy::unwrap_used)]

mod wf_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use vetted_core::intake::s3_event::deferral_attempt;
use vetted_core::intake::{Deferral, Intake, Notification, Outcome, parse_notification};
use vetted_core::media::MediaUrls;
use vetted_core::policy::SlotPolicies;
use vetted_core::ports::{
    BackendError, QueueError, QueueMessage, QueueStats, Receipt, Retryable, ReviewStart,
    ReviewStarter, StartOutcome, WorkQueue, WorkflowError,
};
use vetted_core::record::{FileName, UploadMethod};
use vetted_core::{
    Clock, ExecutionName, ImageType, OwnerId, Policy, Ports, Status, StepError, SystemClock,
    UploadId, UploadRecord,
};
use vetted_embedded::fs_store::FsObjectStore;
use vetted_embedded::outbox::SqliteOutbox;
use vetted_embedded::sqlite_queue::SqliteWorkQueue;
use vetted_embedded::sqlite_restaurants::SqliteRestaurants;
use vetted_embedded::sqlite_uploads::SqliteUploads;
use wf_support::{Rig, queue_config, review_asl};

const BUCKET: &str = "vetted";

/// Throttles the next `throttle_next` starts, then passes starts to the engine.
struct Throttling {
    inner: Arc<dyn ReviewStarter>,
    throttle_next: AtomicU32,
}

#[async_trait]
impl ReviewStarter for Throttling {
    async fn start(
        &self,
        name: &ExecutionName,
        input: &ReviewStart,
    ) -> Result<StartOutcome, WorkflowError> {
        let left = self.throttle_next.load(Ordering::SeqCst);
        if left > 0 {
            self.throttle_next.store(left - 1, Ordering::SeqCst);
            return Err(WorkflowError::Throttled(BackendError::retryable(
                "states:StartExecution",
                "ThrottlingException: Rate exceeded",
            )));
        }
        self.inner.start(name, input).await
    }
}

/// The intake queue, whose sends can be made to fail.
struct Breakable {
    inner: SqliteWorkQueue,
    broken: AtomicBool,
}

#[async_trait]
impl WorkQueue for Breakable {
    async fn send(&self, body: &str) -> Result<(), QueueError> {
        self.inner.send(body).await
    }
    async fn send_delayed(&self, body: &str, delay: Duration) -> Result<(), QueueError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(BackendError::retryable("queue.send_delayed", "queue unavailable").into());
        }
        self.inner.send_delayed(body, delay).await
    }
    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<QueueMessage>, QueueError> {
        self.inner.receive(max, wait).await
    }
    async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError> {
        self.inner.ack(receipt).await
    }
    async fn retry_after(&self, receipt: &Receipt, delay: Duration) -> Result<(), QueueError> {
        self.inner.retry_after(receipt, delay).await
    }
    async fn redrive(&self, max: u32) -> Result<u32, QueueError> {
        self.inner.redrive(max).await
    }
    async fn stats(&self) -> Result<QueueStats, QueueError> {
        self.inner.stats().await
    }
}

struct World {
    _dir: tempfile::TempDir,
    _rig: Rig,
    intake: Intake,
    starter: Arc<Throttling>,
    queue: Arc<Breakable>,
}

async fn world(deferral: bool) -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let rig = Rig::open(&dir.path().join("vetted.db"), &review_asl(), clock.clone()).await;
    let queue = Arc::new(Breakable {
        inner: SqliteWorkQueue::new(rig.db.clone(), "intake", queue_config()),
        broken: AtomicBool::new(false),
    });
    let starter = Arc::new(Throttling {
        inner: Arc::new(rig.engine.clone()),
        throttle_next: AtomicU32::new(0),
    });
    let ports = Ports {
        uploads: Arc::new(SqliteUploads::new(rig.db.clone())),
        restaurants: Arc::new(SqliteRestaurants::new(rig.db.clone())),
        banned: Arc::new(vetted_embedded::sqlite_banned::SqliteBanned::new(
            rig.db.clone(),
        )),
        audit: Arc::new(vetted_embedded::sqlite_audit::SqliteAudit::new(
            rig.db.clone(),
        )),
        objects: Arc::new(FsObjectStore::new(dir.path().join("objects")).unwrap()),
        events: Arc::new(SqliteOutbox::new(rig.db.clone(), clock.clone())),
        clock,
        media: MediaUrls::Unserved,
    };
    let deferral = if deferral {
        // A first step of 4 s: the deferred message is certainly hidden when looked at at once.
        Deferral::via(queue.clone()).with_delays(Duration::from_secs(4), Duration::from_secs(8))
    } else {
        Deferral::none()
    };
    let intake = Intake {
        ports,
        reviews: starter.clone(),
        policies: SlotPolicies::uniform(Policy::default()),
        bucket: BUCKET.to_owned(),
        review_timeout: Duration::from_secs(600),
        escalation: vetted_core::review::EscalationShares::none(),
        deferral,
    };
    World {
        _dir: dir,
        _rig: rig,
        intake,
        starter,
        queue,
    }
}

/// An intent with its object stored, as after the browser's upload.
async fn uploaded(world: &World) -> UploadRecord {
    let png = vetted_samples::images::png(200, 100);
    let now = SystemClock.now();
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
    let ports = &world.intake.ports;
    ports.uploads.create(&intent).await.unwrap();
    ports
        .objects
        .put(&intent.key, png.into(), "image/png")
        .await
        .unwrap();
    intent
}

fn notification(records: &[&UploadRecord]) -> String {
    let records: Vec<_> = records
        .iter()
        .map(|r| {
            serde_json::json!({
                "eventName": "ObjectCreated:Post",
                "s3": {"bucket": {"name": BUCKET}, "object": {"key": r.key.as_str()}}
            })
        })
        .collect();
    serde_json::json!({ "Records": records }).to_string()
}

async fn status(world: &World, id: &UploadId) -> UploadRecord {
    world.intake.ports.uploads.get(id).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_start_is_deferred_through_the_queue_and_resumes_from_received() {
    let world = world(true).await;
    let (throttled, started) = (uploaded(&world).await, uploaded(&world).await);
    world.starter.throttle_next.store(1, Ordering::SeqCst);

    let outcomes = world
        .intake
        .handle_message(&notification(&[&throttled, &started]))
        .await
        .unwrap();
    assert!(
        matches!(outcomes.as_slice(), [
            Outcome::ReviewStarted { upload, .. },
            Outcome::Deferred { upload: deferred, attempt: 1, delay },
        ] if *upload == started.id && *deferred == throttled.id && *delay >= Duration::from_secs(2)),
        "{outcomes:?}"
    );
    let waiting = status(&world, &throttled.id).await;
    assert_eq!(waiting.status, Status::Received, "never FAILED");
    assert!(waiting.execution_name.is_some());

    // Hidden for its delay, then delivered: alone, marked as the first deferral.
    assert!(
        world
            .queue
            .receive(10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty(),
        "a deferred notification waits for its delay"
    );
    let again = world
        .queue
        .receive(10, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].receive_count, 1, "a new message: no receive spent");
    assert_eq!(deferral_attempt(&again[0].body), Ok(1));
    let Ok(Notification::Records(records)) = parse_notification(&again[0].body) else {
        panic!("{}", again[0].body)
    };
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].key, throttled.key.as_str());

    // Throttled once more: the second deferral, then the start goes through.
    world.starter.throttle_next.store(1, Ordering::SeqCst);
    let outcomes = world.intake.handle_message(&again[0].body).await.unwrap();
    assert!(
        matches!(outcomes.as_slice(), [Outcome::Deferred { attempt: 2, .. }]),
        "{outcomes:?}"
    );
    let outcomes = world.intake.handle_message(&again[0].body).await.unwrap();
    assert!(
        matches!(outcomes.as_slice(), [Outcome::ReviewStarted { upload, already_started: false, .. }] if *upload == throttled.id),
        "{outcomes:?}"
    );
    assert_eq!(
        status(&world, &throttled.id).await.status,
        Status::Received,
        "the review runs; the worker moves it on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_notification_cannot_be_deferred_the_message_fails_and_is_retried() {
    for (deferral, broken) in [(true, true), (false, false)] {
        let world = world(deferral).await;
        world.queue.broken.store(broken, Ordering::SeqCst);
        let upload = uploaded(&world).await;
        world.starter.throttle_next.store(1, Ordering::SeqCst);
        let body = notification(&[&upload]);
        let failed = world.intake.handle_message(&body).await;
        assert!(
            matches!(
                &failed,
                Err(StepError::Workflow {
                    source: WorkflowError::Throttled(_),
                    ..
                })
            ),
            "deferral {deferral}, queue broken {broken}: {failed:?}"
        );
        assert!(failed.unwrap_err().is_retryable());
        assert_eq!(status(&world, &upload.id).await.status, Status::Received);
        assert!(
            world
                .queue
                .receive(10, Duration::ZERO)
                .await
                .unwrap()
                .is_empty(),
            "nothing was re-sent"
        );
        // The queue's retry of the same message starts the review.
        let outcomes = world.intake.handle_message(&body).await.unwrap();
        assert!(
            matches!(outcomes.as_slice(), [Outcome::ReviewStarted { .. }]),
            "{outcomes:?}"
        );
    }
}
