//! Every status change a service makes, and every change of a slot's live image, emits exactly
//! one event id, also when its step is repeated after a crash.
//!
//! Intake, the review workers and the decisions run on the embedded adapters with the real
//! ASL. Two things stand in for a crash:
//! - the event sink refuses the first publish of every event id (as if the process died
//!   between the conditional write and the event), so every step fails once after its write
//!   and is delivered again;
//! - every message is delivered once more after it succeeded (at-least-once queues).
//!
//! The record store records the moves that succeeded; the test then checks that the event ids
//! published are exactly `{upload}.{type}` for those moves plus one `slot.changed` for the
//! publish (whose slot the restaurants store shows at revision 1), that each move happened once,
//! and that each event id's first publish did fail, so the resume path really ran. The
//! sweep's expiry of an abandoned intent is checked too, without a crash (see below).
//!
//! The same rig checks that a withdrawal racing the pipeline (its read stale by one move)
//! still withdraws.

// Test code: a failed unwrap is a failed assertion.
#![allow(clippy::unwrap_used)]

mod wf_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use vetted_core::events::{EventType, UploadEvent};
use vetted_core::intake::Intake;
use vetted_core::media::MediaUrls;
use vetted_core::policy::SlotPolicies;
use vetted_core::ports::{
    BackendError, EventError, EventSink, ObjectStore, Page, PageRequest, Restaurants, Retryable,
    StoreError, Uploads, UploadsError, WorkQueue,
};
use vetted_core::record::{FileName, UploadMethod};
use vetted_core::restaurant::Restaurant;
use vetted_core::review::Review;
use vetted_core::review::sanitize::DEFAULT_MAX_DECODE_ALLOC;
use vetted_core::{
    Clock, Decision, ImageType, ModeratorId, ObjectKey, OwnerId, Policy, Ports, QueueService,
    ReasonCode, SlotRef, Status, SystemClock, Transition, UploadId, UploadRecord,
};
use vetted_embedded::fs_store::FsObjectStore;
use vetted_embedded::outbox::SqliteOutbox;
use vetted_embedded::sqlite_restaurants::SqliteRestaurants;
use vetted_embedded::sqlite_uploads::SqliteUploads;
use wf_support::{Rig, review_asl};

const BUCKET: &str = "vetted";

/// The slot every upload of the test asks to change.
fn target() -> SlotRef {
    "r1/gallery-1".parse().unwrap()
}

/// The SQLite record store, noting every transition that succeeded. A record put in
/// `stale_next_get` is what the next `get` answers, as a read just before another process
/// moved the record on would.
struct RecordingUploads {
    inner: SqliteUploads,
    moves: Mutex<Vec<(UploadId, Status)>>,
    stale_next_get: Mutex<Option<UploadRecord>>,
}

#[async_trait]
impl Uploads for RecordingUploads {
    async fn create(&self, record: &UploadRecord) -> Result<(), UploadsError> {
        self.inner.create(record).await
    }

    async fn get(&self, id: &UploadId) -> Result<UploadRecord, UploadsError> {
        let stale = self.stale_next_get.lock().unwrap().take();
        match stale {
            Some(record) if record.id == *id => Ok(record),
            _ => self.inner.get(id).await,
        }
    }

    async fn transition(
        &self,
        id: &UploadId,
        transition: &Transition,
    ) -> Result<UploadRecord, UploadsError> {
        let moved = self.inner.transition(id, transition).await?;
        self.moves.lock().unwrap().push((*id, moved.status));
        Ok(moved)
    }

    async fn set_review_stage(
        &self,
        id: &UploadId,
        level: u8,
        task_token: Option<&vetted_core::TaskToken>,
    ) -> Result<UploadRecord, UploadsError> {
        self.inner.set_review_stage(id, level, task_token).await
    }

    async fn record_sha256(
        &self,
        id: &UploadId,
        sha256: &vetted_core::ContentSha256,
    ) -> Result<UploadRecord, UploadsError> {
        self.inner.record_sha256(id, sha256).await
    }

    async fn list_by_sha256(
        &self,
        sha256: &vetted_core::ContentSha256,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.inner.list_by_sha256(sha256, page).await
    }

    async fn list_by_owner(
        &self,
        owner: &OwnerId,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.inner.list_by_owner(owner, page).await
    }

    async fn list_by_status(
        &self,
        status: Status,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.inner.list_by_status(status, page).await
    }

    async fn list_in_progress(
        &self,
        restaurant: &vetted_core::restaurant::RestaurantId,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.inner.list_in_progress(restaurant, page).await
    }

    async fn list_by_restaurant(
        &self,
        restaurant: &vetted_core::restaurant::RestaurantId,
        page: &PageRequest,
    ) -> Result<Page<UploadRecord>, UploadsError> {
        self.inner.list_by_restaurant(restaurant, page).await
    }

    async fn delete(&self, id: &UploadId) -> Result<bool, UploadsError> {
        self.inner.delete(id).await
    }
}

/// The SQLite outbox, refusing the first publish of every event id while `crashing`.
struct CrashingOnceEvents {
    inner: SqliteOutbox,
    crashing: AtomicBool,
    refused: Mutex<BTreeSet<String>>,
    published: Mutex<Vec<String>>,
}

#[async_trait]
impl EventSink for CrashingOnceEvents {
    async fn publish(&self, event: &UploadEvent) -> Result<(), EventError> {
        if self.crashing.load(Ordering::SeqCst)
            && self.refused.lock().unwrap().insert(event.id.clone())
        {
            return Err(BackendError::retryable("test.crash", "died before the event").into());
        }
        self.inner.publish(event).await?;
        self.published.lock().unwrap().push(event.id.clone());
        Ok(())
    }
}

struct World {
    _dir: tempfile::TempDir,
    rig: Rig,
    uploads: Arc<RecordingUploads>,
    restaurants: Arc<SqliteRestaurants>,
    events: Arc<CrashingOnceEvents>,
    objects: Arc<FsObjectStore>,
    intake: Intake,
    review: Review,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let rig = Rig::open(&dir.path().join("vetted.db"), &review_asl(), clock.clone()).await;
    let uploads = Arc::new(RecordingUploads {
        inner: SqliteUploads::new(rig.db.clone()),
        moves: Mutex::default(),
        stale_next_get: Mutex::default(),
    });
    let events = Arc::new(CrashingOnceEvents {
        inner: SqliteOutbox::new(rig.db.clone(), clock.clone()),
        crashing: AtomicBool::new(true),
        refused: Mutex::default(),
        published: Mutex::default(),
    });
    let objects = Arc::new(FsObjectStore::new(dir.path().join("objects")).unwrap());
    let restaurants = Arc::new(SqliteRestaurants::new(rig.db.clone()));
    restaurants
        .create(&Restaurant {
            id: target().restaurant,
            name: "Trattoria Roma".to_owned(),
            created_at: SystemClock.now(),
        })
        .await
        .unwrap();
    let ports = Ports {
        uploads: uploads.clone(),
        restaurants: restaurants.clone(),
        banned: Arc::new(vetted_embedded::sqlite_banned::SqliteBanned::new(
            rig.db.clone(),
        )),
        audit: Arc::new(vetted_embedded::sqlite_audit::SqliteAudit::new(
            rig.db.clone(),
        )),
        objects: objects.clone(),
        events: events.clone(),
        clock,
        media: MediaUrls::Unserved,
    };
    let intake = Intake {
        ports: ports.clone(),
        reviews: Arc::new(rig.engine.clone()),
        policies: SlotPolicies::uniform(Policy::default()),
        bucket: BUCKET.to_owned(),
        review_timeout: Duration::from_secs(600),
        escalation: vetted_core::review::EscalationShares::none(),
        deferral: vetted_core::intake::Deferral::none(),
    };
    let review = Review {
        ports,
        tasks: Arc::new(rig.engine.clone()),
        policies: SlotPolicies::uniform(Policy::default()),
        max_decode_alloc: DEFAULT_MAX_DECODE_ALLOC,
        memory: vetted_core::review::sanitize::budget::MemoryBudget::default(),
        // No scanner, and unscanned uploads proceed: these tests are about other steps.
        scanning: vetted_core::review::Scanning::without_scanner(true),
    };
    World {
        _dir: dir,
        rig,
        uploads,
        restaurants,
        events,
        objects,
        intake,
        review,
    }
}

/// Delivers `body` until it succeeds (a retryable failure is a crash; anything else fails the
/// test), then once more, as an at-least-once queue may.
async fn deliver(service: &dyn QueueService, body: &str) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match service.handle(body).await {
            Ok(()) => break,
            Err(error) if error.is_retryable() && attempts < 10 => {}
            Err(error) => panic!("{} could not handle {body}: {error}", service.name()),
        }
    }
    service
        .handle(body)
        .await
        .unwrap_or_else(|e| panic!("a redelivery of a handled message failed: {e}"));
}

impl World {
    /// An intent, and (when `bytes` is given) its object with the notification delivered.
    async fn upload(&self, bytes: Option<Vec<u8>>, expires_in: Duration) -> UploadId {
        let intent = self
            .intent(bytes.as_ref().map_or(100, |b| b.len() as u64), expires_in)
            .await;
        if let Some(bytes) = bytes {
            self.arrive(&intent, bytes).await;
        }
        intent.id
    }

    /// An intent for a file of `size` bytes.
    async fn intent(&self, size: u64, expires_in: Duration) -> UploadRecord {
        let id = UploadId::generate();
        let now = SystemClock.now();
        let intent = UploadRecord::new_intent(
            id,
            OwnerId::parse("owner-1").unwrap(),
            target(),
            FileName::parse("logo.png").unwrap(),
            ImageType::Png,
            size,
            UploadMethod::Post,
            now,
            now.saturating_add(expires_in),
        );
        self.uploads.create(&intent).await.unwrap();
        intent
    }

    /// The intent's object arrives, and intake is told.
    async fn arrive(&self, intent: &UploadRecord, bytes: Vec<u8>) {
        self.objects
            .put(&intent.key, bytes.into(), "image/png")
            .await
            .unwrap();
        let notification = serde_json::json!({ "Records": [{
            "eventName": "ObjectCreated:Post",
            "s3": { "bucket": { "name": BUCKET }, "object": { "key": intent.key.as_str() } }
        }]});
        deliver(&self.intake, &notification.to_string()).await;
    }

    /// Works the review queues until `id` is in `status` (bounded).
    async fn work_until(&self, id: &UploadId, status: Status) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.uploads.get(id).await.unwrap().status == status {
                return;
            }
            assert!(Instant::now() < deadline, "{id} never reached {status}");
            for queue in [&self.rig.sanitize, &self.rig.review_tasks] {
                let messages = queue.receive(10, Duration::from_millis(50)).await.unwrap();
                for message in messages {
                    deliver(&self.review, &message.body).await;
                    queue.ack(&message.receipt).await.unwrap();
                }
            }
        }
    }

    async fn decide(&self, id: UploadId, decision: Decision) {
        let moderator = ModeratorId::parse("mod-1").unwrap();
        self.review
            .decide(id, moderator, decision, None)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_change_emits_exactly_one_event_id_even_when_steps_repeat() {
    let world = world().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let engine = world.rig.engine.clone();
    let runner = tokio::spawn(async move {
        engine
            .run(async {
                let _ = stopped.await;
            })
            .await;
    });
    let png = || Some(vetted_samples::images::png(320, 200));
    let hour = Duration::from_secs(3600);

    let approved = world.upload(png(), hour).await;
    world.work_until(&approved, Status::InReview).await;
    world.decide(approved, Decision::Approve).await;
    world.work_until(&approved, Status::Published).await;

    let declined = world.upload(png(), hour).await;
    world.work_until(&declined, Status::InReview).await;
    world.decide(declined, Decision::Decline).await;
    world.work_until(&declined, Status::Declined).await;

    let spoofed = world
        .upload(
            Some(b"<html><script>alert(1)</script></html>".to_vec()),
            hour,
        )
        .await;
    assert_eq!(
        world.uploads.get(&spoofed).await.unwrap().status,
        Status::Rejected
    );

    // The sweep's own moves are not driven by a queue: if the process died between its write
    // and the event, nothing would come back to announce it (a known gap, in ARCHITECTURE's
    // list). So the sweep runs without crashes here, and must still announce exactly once.
    world.events.crashing.store(false, Ordering::SeqCst);
    let abandoned = world.upload(None, Duration::ZERO).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let report = world.intake.sweep_awaiting(Duration::ZERO).await.unwrap();
    assert_eq!(report.expired, 1, "{report:?}");
    let again = world.intake.sweep_awaiting(Duration::ZERO).await.unwrap();
    assert_eq!(again.expired, 0, "{again:?}");
    let _ = stop.send(());
    runner.await.unwrap();

    let moves = world.uploads.moves.lock().unwrap().clone();
    let mut moves_per_change: BTreeMap<(UploadId, Status), usize> = BTreeMap::new();
    for change in &moves {
        *moves_per_change.entry(*change).or_default() += 1;
    }
    for (change, count) in &moves_per_change {
        assert_eq!(*count, 1, "{change:?} was written {count} times");
    }
    let slot = world.restaurants.slot(&target()).await.unwrap();
    assert_eq!(
        (slot.live.map(|live| live.upload), slot.revision),
        (Some(approved), 1),
        "the published upload is live, and a repeated publish did not change the slot again"
    );
    let slot_changed = format!("r1.gallery-1.1.{}", EventType::SlotChanged.as_str());
    let expected: BTreeSet<String> = moves
        .iter()
        .filter_map(|(id, status)| {
            EventType::for_status(*status).map(|t| format!("{id}.{}", t.as_str()))
        })
        .chain([slot_changed])
        .collect();
    let published: BTreeSet<String> = world
        .events
        .published
        .lock()
        .unwrap()
        .iter()
        .cloned()
        .collect();
    assert_eq!(
        published, expected,
        "the event ids published are exactly one per status change and one per slot change"
    );
    let refused = world.events.refused.lock().unwrap().clone();
    let queue_driven: BTreeSet<String> = expected
        .iter()
        .filter(|id| !id.starts_with(&abandoned.to_string()))
        .cloned()
        .collect();
    assert_eq!(
        refused, queue_driven,
        "every queue-driven event's first publish failed, so every step resumed after its write"
    );

    let statuses = |id: UploadId| -> Vec<Status> {
        moves
            .iter()
            .filter(|(m, _)| *m == id)
            .map(|(_, s)| *s)
            .collect()
    };
    use Status::*;
    assert_eq!(
        statuses(approved),
        [Received, InReview, Decided, Approved, Published]
    );
    assert_eq!(statuses(declined), [Received, InReview, Decided, Declined]);
    assert_eq!(statuses(spoofed), [Received, Rejected]);
    assert_eq!(statuses(abandoned), [Expired]);
}

/// A withdrawal reads the record, and the pipeline moves it on before the withdrawal's write
/// (here: the file arrived, so `AWAITING_UPLOAD` became `RECEIVED`). The conditional write
/// finds the record elsewhere; since `RECEIVED` is still withdrawable, the withdrawal tries
/// again from there instead of refusing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_that_raced_the_pipeline_tries_again_from_where_the_record_is() {
    let world = world().await;
    world.events.crashing.store(false, Ordering::SeqCst);
    let png = vetted_samples::images::png(320, 200);
    let intent = world
        .intent(png.len() as u64, Duration::from_secs(3600))
        .await;
    world.arrive(&intent, png).await;
    assert_eq!(
        world.uploads.get(&intent.id).await.unwrap().status,
        Status::Received
    );
    *world.uploads.stale_next_get.lock().unwrap() = Some(intent.clone());

    let withdrawn = world
        .review
        .withdraw(intent.id)
        .await
        .expect("a withdrawal raced by the file's arrival must still withdraw");
    assert_eq!(withdrawn.status, Status::Withdrawn);
    assert!(
        world.uploads.stale_next_get.lock().unwrap().is_none(),
        "the withdrawal never read the stale record, so nothing raced"
    );
    assert_eq!(
        world.uploads.get(&intent.id).await.unwrap().status,
        Status::Withdrawn
    );
    assert!(
        matches!(
            world.objects.head(&intent.key).await,
            Err(StoreError::NotFound(_))
        ),
        "the file of a withdrawn upload is still there"
    );
}

/// The file is written again after intake examined it and before sanitize reads it. The store
/// on one machine keeps only the latest write, so the examined bytes are gone: the upload is
/// rejected as `object_replaced`, and the second write is neither reviewed nor published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_after_the_examination_is_never_published() {
    let world = world().await;
    world.events.crashing.store(false, Ordering::SeqCst);
    let examined = vetted_samples::images::png(320, 200);
    let intent = world
        .intent(examined.len() as u64, Duration::from_secs(3600))
        .await;
    world.arrive(&intent, examined).await;
    let received = world.uploads.get(&intent.id).await.unwrap();
    assert_eq!(received.status, Status::Received);
    assert!(
        received.object_version.is_some(),
        "intake records the version"
    );
    world
        .objects
        .put(
            &intent.key,
            vetted_samples::images::png(640, 400).into(),
            "image/png",
        )
        .await
        .unwrap();

    world.work_until(&intent.id, Status::Rejected).await;
    let rejected = world.uploads.get(&intent.id).await.unwrap();
    assert_eq!(rejected.reason, Some(ReasonCode::ObjectReplaced));
    assert_eq!((rejected.width, rejected.height), (Some(320), Some(200)));
    for key in [
        ObjectKey::sanitized(&intent.id),
        ObjectKey::quarantine(&intent.target, &intent.id),
        intent.key.clone(),
    ] {
        assert!(
            matches!(world.objects.head(&key).await, Err(StoreError::NotFound(_))),
            "{key} holds bytes nobody examined"
        );
    }
}

/// A presigned POST replayed after the upload reached a final status: for a rejected upload
/// the replay is deleted and the quarantined evidence keeps the examined bytes; for a
/// published one the replay is deleted too, so nothing unexamined stays under `incoming/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_upload_after_the_verdict_is_deleted_and_changes_nothing() {
    let world = world().await;
    world.events.crashing.store(false, Ordering::SeqCst);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let engine = world.rig.engine.clone();
    let runner = tokio::spawn(async move {
        engine
            .run(async {
                let _ = stopped.await;
            })
            .await;
    });
    let hour = Duration::from_secs(3600);
    let replay = b"<html>a later write, never examined</html>".to_vec();

    let spoofed = b"<html><script>alert(1)</script></html>".to_vec();
    let rejected = world.upload(Some(spoofed.clone()), hour).await;
    let rejected = world.uploads.get(&rejected).await.unwrap();
    assert_eq!(rejected.status, Status::Rejected);
    let evidence = ObjectKey::quarantine(&rejected.target, &rejected.id);
    assert_eq!(world.objects.get(&evidence).await.unwrap(), spoofed);
    world.arrive(&rejected, replay.clone()).await;
    assert_eq!(
        world.objects.get(&evidence).await.unwrap(),
        spoofed,
        "a replay overwrote the quarantined evidence"
    );
    assert!(
        matches!(
            world.objects.head(&rejected.key).await,
            Err(StoreError::NotFound(_))
        ),
        "a replay after the rejection is left under incoming/"
    );

    let published = world
        .upload(Some(vetted_samples::images::png(320, 200)), hour)
        .await;
    world.work_until(&published, Status::InReview).await;
    world.decide(published, Decision::Approve).await;
    world.work_until(&published, Status::Published).await;
    let published = world.uploads.get(&published).await.unwrap();
    world.arrive(&published, replay).await;
    assert!(
        matches!(
            world.objects.head(&published.key).await,
            Err(StoreError::NotFound(_))
        ),
        "a replay after the publish is left under incoming/"
    );
    assert_eq!(
        world.uploads.get(&published.id).await.unwrap().status,
        Status::Published
    );
    let _ = stop.send(());
    runner.await.unwrap();
}

/// The workflow's `ScanNoAnswer` (the scan task timed out on every attempt) reaches
/// `record_failure` as `Vetted.ScanNoAnswer`: the upload is FAILED as `scan_failed`, never
/// passed on; any other caught error stays `processing_failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_that_never_answered_is_recorded_as_scan_failed() {
    let world = world().await;
    world.events.crashing.store(false, Ordering::SeqCst);
    for (error, reason) in [
        (vetted_core::review::SCAN_NO_ANSWER, ReasonCode::ScanFailed),
        ("States.Timeout", ReasonCode::ProcessingFailed),
    ] {
        let png = vetted_samples::images::png(320, 200);
        let intent = world
            .intent(png.len() as u64, Duration::from_secs(3600))
            .await;
        world.arrive(&intent, png).await;
        assert_eq!(
            world.uploads.get(&intent.id).await.unwrap().status,
            Status::Received
        );
        let message = serde_json::json!({
            "task": "record_failure",
            "upload_id": intent.id.to_string(),
            "execution": "scan-no-answer",
            // A token the engine never issued: the answer finds nobody waiting, as when the
            // execution was already told; the record is what matters here.
            "task_token": "never-issued-token",
            "error": { "Error": error, "Cause": "no answer" },
        });
        deliver(&world.review, &message.to_string()).await;
        let failed = world.uploads.get(&intent.id).await.unwrap();
        assert_eq!(failed.status, Status::Failed, "{error}");
        assert_eq!(failed.reason, Some(reason), "{error}");
    }
}
