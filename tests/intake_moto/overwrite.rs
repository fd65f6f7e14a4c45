//! Issue 15's exact-version rule, as one scenario on moto and on the embedded adapters: the
//! key is written again after intake examined it and before sanitize reads it. What is
//! reviewed and published must be the first write's bytes, or the upload is refused with a
//! clear reason; never the second write's.
//!
//! The order is the race the recorded version guards against: intake claims the first write,
//! the second write lands, sanitize runs, and only then does intake see the second write's
//! notification (which must not disturb the review). A sanitize that read the key's latest
//! write instead of the recorded version would publish the second write; the test then fails
//! (checked by hand when this was written: see the commit).
//!
//! - On moto the bucket keeps versions, so sanitize reads the examined write: the upload goes
//!   to review and, approved, is published, and the published bytes are exactly what the
//!   sanitizer makes of the first write.
//! - On the embedded adapters the file store keeps only the latest write, so the examined
//!   bytes are gone: the upload is rejected as `object_replaced`, with no sanitized,
//!   quarantined or published copy.
//!
//! The two writes have the same type and sides and differ only in their pixels, so the
//! comparison is of content, not of a header an overwrite could happen to share.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vetted_core::intake::Intake;
use vetted_core::policy::SlotPolicies;
use vetted_core::ports::{ObjectStore, StoreError, WorkQueue};
use vetted_core::record::{FileName, UploadMethod};
use vetted_core::review::Review;
use vetted_core::review::sanitize::budget::MemoryBudget;
use vetted_core::review::sanitize::{DEFAULT_MAX_DECODE_ALLOC, sanitize};
use vetted_core::{
    Decision, ImageType, ModeratorId, ObjectKey, Policy, Ports, QueueService, ReasonCode, Status,
    UploadId, UploadRecord,
};
use vetted_samples::images::{PngKind, png_of};

use crate::support::{EmbeddedRig, PATIENCE, Pipeline, function_config};

/// One backend's services and queues.
struct Rig {
    intake: Intake,
    review: Review,
    intake_queue: Arc<dyn WorkQueue>,
    sanitize_queue: Arc<dyn WorkQueue>,
    tasks_queue: Arc<dyn WorkQueue>,
    /// The embedded store sends no notifications: the test queues the one each write makes.
    notify_by_hand: bool,
}

/// How the scenario ended: the only two acceptable ends.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Reviewed and published, from the first write's bytes.
    PublishedFirstWrite,
    /// Refused as `object_replaced`, with nothing of either write kept.
    RefusedAsReplaced,
}

/// Receives what is there and hands it to `service`: acked when handled, visible again at
/// once when not.
async fn work(queue: &dyn WorkQueue, service: &dyn QueueService) {
    for message in queue.receive(10, Duration::from_secs(1)).await.unwrap() {
        match service.handle(&message.body).await {
            Ok(()) => queue.ack(&message.receipt).await.unwrap(),
            Err(_) => queue
                .retry_after(&message.receipt, Duration::ZERO)
                .await
                .unwrap(),
        }
    }
}

/// The status of `upload`, once `step` (run again and again) has moved it out of `from`.
async fn work_until_not(
    rig: &Rig,
    upload: &UploadId,
    from: &[Status],
    step: impl AsyncFn(&Rig),
) -> Status {
    let deadline = Instant::now() + PATIENCE;
    loop {
        step(rig).await;
        let status = rig.intake.ports.uploads.get(upload).await.unwrap().status;
        if !from.contains(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "after {PATIENCE:?}: still {status}"
        );
    }
}

async fn write(rig: &Rig, intent: &UploadRecord, bytes: Vec<u8>) {
    rig.intake
        .ports
        .objects
        .put(&intent.key, bytes.into(), "image/png")
        .await
        .unwrap();
    if rig.notify_by_hand {
        let body = serde_json::json!({"Records": [{
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": rig.intake.bucket}, "object": {"key": intent.key.as_str()}}
        }]});
        rig.intake_queue.send(&body.to_string()).await.unwrap();
    }
}

fn absent(read: Result<bytes::Bytes, StoreError>) -> bool {
    matches!(read, Err(StoreError::NotFound(_)))
}

async fn scenario(rig: &Rig) -> Outcome {
    let ports = &rig.intake.ports;
    let objects: &dyn ObjectStore = ports.objects.as_ref();
    let first = png_of(PngKind::Rgb8, 320, 200);
    let second = png_of(PngKind::Gray8, 320, 200);
    let policy = Policy::default();
    let clean = |bytes: &[u8]| {
        sanitize(bytes, ImageType::Png, &policy, DEFAULT_MAX_DECODE_ALLOC)
            .unwrap()
            .bytes
    };
    let (first_clean, second_clean) = (clean(&first), clean(&second));
    assert_ne!(
        first_clean, second_clean,
        "the two writes must sanitize differently, or the test tells nothing"
    );

    let now = ports.clock.now();
    let intent = UploadRecord::new_intent(
        UploadId::generate(),
        crate::support::owner(),
        crate::support::slot(),
        FileName::parse("logo.png").unwrap(),
        ImageType::Png,
        first.len() as u64,
        UploadMethod::Post,
        now,
        now.saturating_add(Duration::from_secs(300)),
    );
    ports.uploads.create(&intent).await.unwrap();

    // Intake examines and claims the first write, and starts its review.
    write(rig, &intent, first).await;
    let status = work_until_not(rig, &intent.id, &[Status::AwaitingUpload], async |rig| {
        work(rig.intake_queue.as_ref(), &rig.intake).await;
    })
    .await;
    assert_eq!(status, Status::Received);
    let examined = ports.uploads.get(&intent.id).await.unwrap();
    assert!(
        examined.object_version.is_some(),
        "intake records the version it examined"
    );

    // The second write lands; sanitize runs before intake hears of it.
    write(rig, &intent, second).await;
    let status = work_until_not(rig, &intent.id, &[Status::Received], async |rig| {
        work(rig.sanitize_queue.as_ref(), &rig.review).await;
        work(rig.tasks_queue.as_ref(), &rig.review).await;
    })
    .await;
    let sanitized = ObjectKey::sanitized(&intent.id);
    let published = ObjectKey::published(&intent.target, &intent.id);
    let outcome = match status {
        Status::InReview => {
            let copy = objects.get(&sanitized).await.unwrap();
            assert!(
                copy != second_clean.as_slice(),
                "the copy in review is the second write's"
            );
            assert!(
                copy == first_clean.as_slice(),
                "the copy in review is not the first write's"
            );
            Outcome::PublishedFirstWrite
        }
        Status::Rejected => {
            let rejected = ports.uploads.get(&intent.id).await.unwrap();
            assert_eq!(rejected.reason, Some(ReasonCode::ObjectReplaced));
            Outcome::RefusedAsReplaced
        }
        other => panic!("after the second write the upload is {other}"),
    };

    // Now intake hears of the second write: it changes neither the status nor the copy.
    // (moto queues an S3 notification before it answers the put.)
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stats = rig.intake_queue.stats().await.unwrap();
        if stats.visible + stats.in_flight == 0 {
            break;
        }
        work(rig.intake_queue.as_ref(), &rig.intake).await;
        assert!(
            Instant::now() < deadline,
            "intake never took the notification"
        );
    }
    assert_eq!(ports.uploads.get(&intent.id).await.unwrap().status, status);
    // And it removed the second write from the key: what is left there, if anything, is the
    // write it examined.
    match objects.head(&intent.key).await {
        Ok(meta) => assert_eq!(
            meta.version, examined.object_version,
            "the second write is still at the key"
        ),
        Err(StoreError::NotFound(_)) => {}
        Err(e) => panic!("head {}: {e:?}", intent.key),
    }

    match outcome {
        Outcome::PublishedFirstWrite => {
            rig.review
                .decide(
                    intent.id,
                    ModeratorId::parse("mod-overwrite").unwrap(),
                    Decision::Approve,
                    None,
                )
                .await
                .unwrap();
            let status = work_until_not(
                rig,
                &intent.id,
                &[Status::Decided, Status::Approved],
                async |rig| {
                    work(rig.tasks_queue.as_ref(), &rig.review).await;
                },
            )
            .await;
            assert_eq!(status, Status::Published);
            let live = objects.get(&published).await.unwrap();
            assert!(
                live != second_clean.as_slice(),
                "the second write was published"
            );
            assert!(
                live == first_clean.as_slice(),
                "what was published is not the first write's"
            );
        }
        Outcome::RefusedAsReplaced => {
            for key in [
                &sanitized,
                &published,
                &ObjectKey::quarantine(&intent.target, &intent.id),
            ] {
                assert!(
                    absent(objects.get(key).await),
                    "{key} holds bytes nobody examined"
                );
            }
        }
    }
    outcome
}

fn review_over(ports: Ports, tasks: Arc<dyn vetted_core::ports::TaskResponder>) -> Review {
    Review {
        ports,
        tasks,
        policies: SlotPolicies::uniform(Policy::default()),
        max_decode_alloc: DEFAULT_MAX_DECODE_ALLOC,
        memory: MemoryBudget::new(256 * 1024 * 1024),
        // No scanner, and unscanned uploads proceed: these tests are about other steps.
        scanning: vetted_core::review::Scanning::without_scanner(true),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_after_the_examination_is_never_published_on_moto() {
    let Some(pipeline) = Pipeline::start("overwrite").await else {
        return;
    };
    let (ctx, resources) = (&pipeline.ctx, &pipeline.resources);
    let rig = Rig {
        intake: intake::intake(ctx, function_config(resources)),
        review: review_over(
            function_config(resources).common.ports(ctx),
            Arc::new(vetted_aws::sfn::SfnTaskResponder::new(ctx.sfn())),
        ),
        intake_queue: Arc::new(resources.queue(ctx, &resources.intake)),
        sanitize_queue: Arc::new(resources.queue(ctx, &resources.sanitize)),
        tasks_queue: Arc::new(resources.queue(ctx, &resources.review_tasks)),
        notify_by_hand: false,
    };
    // The bucket keeps every version, so the examined write can still be read.
    assert_eq!(scenario(&rig).await, Outcome::PublishedFirstWrite);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_after_the_examination_is_never_published_on_embedded_adapters() {
    let dir = tempfile::tempdir().unwrap();
    let embedded = EmbeddedRig::open(dir.path(), 5).await;
    let rig = Rig {
        intake: embedded.intake(Arc::new(embedded.engine.clone())),
        review: review_over(embedded.ports.clone(), Arc::new(embedded.engine.clone())),
        intake_queue: embedded.queue("intake"),
        sanitize_queue: embedded.sanitize_queue.clone(),
        tasks_queue: embedded.tasks_queue.clone(),
        notify_by_hand: true,
    };
    // The file store keeps only the latest write: the examined one is gone.
    assert_eq!(scenario(&rig).await, Outcome::RefusedAsReplaced);
}
