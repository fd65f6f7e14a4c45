//! Operator recovery, as one scenario on moto and on the embedded adapters:
//! - an upload's notification keeps failing (its review cannot start: on moto the state
//!   machine named does not exist, on the embedded adapters the engine refuses) until the
//!   intake queue dead-letters it; `admin::failed` shows the dead letter, a dry-run redrive
//!   moves nothing, the redrive moves it back, and with the fault gone the upload goes on
//!   through sanitize to `IN_REVIEW`;
//! - that upload then fails (as the workflow's `RecordFailure` would record it); a dry run
//!   leaves it `FAILED`, the redrive starts a new review execution with a name of its own, and
//!   it reaches `IN_REVIEW` again; a second redrive does nothing;
//! - a rescan of the slot kind, one record a page, is interrupted after its first page and
//!   resumed from the cursor it had kept: it finds the upload once, passing under the policy it
//!   was accepted by and failing under a stricter one;
//! - `admin::expire` lists a stale intent on a dry run and expires it for real;
//! - the upload in review is approved and published to its slot; then a purge of its owner
//!   (with another intent still awaiting its file) is run dry (nothing deleted), interrupted
//!   (half of it deleted by hand, as a purge stopped part way would leave it) and run again:
//!   every object (every version) and record is gone, the slot is empty with `slot.cleared`
//!   and no history of the image, the audit entry is there, and a second purge is a no-op.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use vetted_core::admin::rescan::{RescanCursor, RescanSelection, RescanVerdict, rescan_page};
use vetted_core::admin::{self, DeadLetterRedrive, NamedQueue};
use vetted_core::intake::{Intake, RedriveOutcome};
use vetted_core::policy::SlotPolicies;
use vetted_core::ports::{
    BackendError, ReviewStart, ReviewStarter, StartOutcome, WorkQueue, WorkflowError,
};
use vetted_core::record::{RecordChanges, Transition};
use vetted_core::review::Review;
use vetted_core::review::sanitize::DEFAULT_MAX_DECODE_ALLOC;
use vetted_core::review::sanitize::budget::MemoryBudget;
use vetted_core::{
    ExecutionName, ImageType, Policy, Ports, QueueService, ReasonCode, Status, UploadId,
};

use crate::support::{EmbeddedRig, PATIENCE, Pipeline, function_config};

const MAX_RECEIVES: u32 = 2;

/// One backend's services and queues.
struct Rig {
    /// Intake as configured: its reviews start.
    intake: Intake,
    /// Intake whose reviews cannot start: the fault that makes its notification a poison.
    broken: Intake,
    review: Review,
    intake_queue: NamedQueue,
    sanitize_queue: Arc<dyn WorkQueue>,
    tasks_queue: Arc<dyn WorkQueue>,
    /// The embedded store sends no notifications: the test queues the one S3 would.
    notify_by_hand: bool,
}

/// Receives what is there and hands it to `service`, as a worker does: acked when handled,
/// visible again at once when not (the queue dead-letters it after its receives).
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

/// Works every queue until the upload reaches `IN_REVIEW`.
async fn until_in_review(rig: &Rig, upload: &UploadId) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        work(rig.intake_queue.queue.as_ref(), &rig.intake).await;
        work(rig.sanitize_queue.as_ref(), &rig.review).await;
        work(rig.tasks_queue.as_ref(), &rig.review).await;
        let status = rig.intake.ports.uploads.get(upload).await.unwrap().status;
        if status == Status::InReview {
            return;
        }
        assert!(Instant::now() < deadline, "after {PATIENCE:?}: {status}");
    }
}

async fn scenario(rig: &Rig) {
    let ports = &rig.intake.ports;
    let png = vetted_samples::images::png(200, 100);
    let now = ports.clock.now();
    let intent = vetted_core::UploadRecord::new_intent(
        UploadId::generate(),
        crate::support::owner(),
        crate::support::slot(),
        vetted_core::record::FileName::parse("logo.png").unwrap(),
        ImageType::Png,
        png.len() as u64,
        vetted_core::record::UploadMethod::Post,
        now,
        now.saturating_add(Duration::from_secs(300)),
    );
    ports.uploads.create(&intent).await.unwrap();
    ports
        .objects
        .put(&intent.key, png.into(), "image/png")
        .await
        .unwrap();
    if rig.notify_by_hand {
        let body = serde_json::json!({"Records": [{
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": rig.intake.bucket}, "object": {"key": intent.key.as_str()}}
        }]});
        rig.intake_queue
            .queue
            .send(&body.to_string())
            .await
            .unwrap();
    }

    // The notification fails on every receive until the queue dead-letters it.
    let queues = [rig.intake_queue.clone()];
    let deadline = Instant::now() + PATIENCE;
    while admin::failed(ports.uploads.as_ref(), &queues)
        .await
        .unwrap()
        .dead_letters[0]
        .dead
        == 0
    {
        work(rig.intake_queue.queue.as_ref(), &rig.broken).await;
        assert!(Instant::now() < deadline, "never dead-lettered");
    }
    let claimed = ports.uploads.get(&intent.id).await.unwrap();
    assert_eq!(
        claimed.status,
        Status::Received,
        "claimed; no review started"
    );

    let dry = admin::redrive_dead_letters(&rig.intake_queue, true)
        .await
        .unwrap();
    assert_eq!(
        dry,
        DeadLetterRedrive {
            queue: "intake",
            moved: 1,
            dry_run: true
        }
    );
    let moved = admin::redrive_dead_letters(&rig.intake_queue, false)
        .await
        .unwrap();
    assert_eq!(moved.moved, 1);
    let again = admin::redrive_dead_letters(&rig.intake_queue, false)
        .await
        .unwrap();
    assert_eq!(again.moved, 0, "nothing is left to redrive");
    until_in_review(rig, &intent.id).await;
    let first = ports.uploads.get(&intent.id).await.unwrap();
    let first_execution = first.execution_name.clone().unwrap();

    // The review fails, as the workflow's RecordFailure records it.
    let failure = Transition::new(Status::InReview, Status::Failed, ports.clock.now())
        .unwrap()
        .with(RecordChanges {
            reason: Some(ReasonCode::ProcessingFailed),
            failure: Some("States.Timeout in Sanitize".to_owned()),
            ..Default::default()
        });
    ports
        .uploads
        .transition(&intent.id, &failure)
        .await
        .unwrap();
    let listed = admin::failed(ports.uploads.as_ref(), &queues)
        .await
        .unwrap();
    let ours = listed
        .uploads
        .iter()
        .find(|f| f.upload_id == intent.id)
        .expect("listed as FAILED");
    assert_eq!(ours.failure.as_deref(), Some("States.Timeout in Sanitize"));
    assert_eq!(listed.dead_letters[0].dead, 0);

    let would = rig.intake.redrive_failed(&intent.id, true).await.unwrap();
    let RedriveOutcome::WouldRedrive {
        execution: Some(planned),
        ..
    } = would
    else {
        panic!("{would:?}")
    };
    assert_eq!(
        ports.uploads.get(&intent.id).await.unwrap().status,
        Status::Failed,
        "a dry run writes nothing"
    );
    let redriven = rig.intake.redrive_failed(&intent.id, false).await.unwrap();
    let RedriveOutcome::Redriven {
        execution: Some(second),
        status: Status::Received,
        ..
    } = redriven.clone()
    else {
        panic!("{redriven:?}")
    };
    assert_eq!(second, planned);
    assert_ne!(
        second, first_execution,
        "a new execution, not the failed one"
    );
    until_in_review(rig, &intent.id).await;
    let reviewed = ports.uploads.get(&intent.id).await.unwrap();
    assert_eq!(reviewed.execution_name, Some(second));
    assert_eq!(
        rig.intake.redrive_failed(&intent.id, false).await.unwrap(),
        RedriveOutcome::NotFailed {
            upload: intent.id,
            status: Status::InReview
        }
    );

    rescan_scenario(rig, &intent).await;
    expire_scenario(rig).await;
    purge_scenario(rig, &intent).await;
}

/// Works every queue until the upload reaches `status`.
async fn until(rig: &Rig, upload: &UploadId, status: Status) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        work(rig.sanitize_queue.as_ref(), &rig.review).await;
        work(rig.tasks_queue.as_ref(), &rig.review).await;
        let now = rig.intake.ports.uploads.get(upload).await.unwrap().status;
        if now == status {
            return;
        }
        assert!(Instant::now() < deadline, "after {PATIENCE:?}: {now}");
    }
}

/// Whether any version of `key` can still be read: the latest, or the version intake examined.
async fn readable(ports: &Ports, key: &vetted_core::ObjectKey, version: Option<&str>) -> bool {
    let latest = ports.objects.head(key).await.is_ok();
    let examined = match version {
        Some(version) => ports.objects.get_version(key, version).await.is_ok(),
        None => false,
    };
    latest || examined
}

async fn purge_scenario(rig: &Rig, in_review: &vetted_core::UploadRecord) {
    use vetted_core::admin::purge::{PurgeStores, PurgeTarget, keys_of, purge};
    let ports = &rig.intake.ports;
    let moderator = vetted_core::ModeratorId::parse("mod-purge").unwrap();
    rig.review
        .decide(
            in_review.id,
            moderator,
            vetted_core::Decision::Approve,
            None,
        )
        .await
        .unwrap();
    until(rig, &in_review.id, Status::Published).await;
    let published = ports.uploads.get(&in_review.id).await.unwrap();
    let slot = ports.restaurants.slot(&published.target).await.unwrap();
    assert_eq!(slot.live.as_ref().map(|l| l.upload), Some(published.id));
    let waiting = vetted_core::UploadRecord::new_intent(
        UploadId::generate(),
        crate::support::owner(),
        crate::support::slot(),
        vetted_core::record::FileName::parse("logo.png").unwrap(),
        ImageType::Png,
        100,
        vetted_core::record::UploadMethod::Post,
        ports.clock.now(),
        ports.clock.now().saturating_add(Duration::from_secs(300)),
    );
    ports.uploads.create(&waiting).await.unwrap();
    let target = PurgeTarget::User(crate::support::owner());
    let stores = PurgeStores::default();
    let version = published.object_version.clone();
    let present: Vec<_> = {
        let mut present = Vec::new();
        for key in keys_of(&published) {
            if readable(ports, &key, version.as_deref()).await {
                present.push(key);
            }
        }
        present
    };
    assert!(
        present.len() >= 3,
        "the original, the sanitized copy, the preview and the published copy: {present:?}"
    );

    let dry = purge(&rig.review, stores, &target, "admin-1", true)
        .await
        .unwrap();
    let ids: Vec<_> = dry.uploads.iter().map(|u| u.upload_id).collect();
    assert!(
        ids.contains(&published.id) && ids.contains(&waiting.id),
        "{dry:?}"
    );
    assert_eq!(dry.slots_cleared, vec![published.target.to_string()]);
    assert_eq!(dry.audit_entry, None);
    assert_eq!(
        ports.uploads.get(&published.id).await.unwrap().status,
        Status::Published,
        "a dry run deletes nothing"
    );
    for key in &present {
        assert!(
            readable(ports, key, version.as_deref()).await,
            "{key}: a dry run deleted it"
        );
    }

    // A purge that stopped part way: the published copy (every version) and the intent's
    // record are gone, the rest is not.
    ports
        .objects
        .delete_all_versions(&vetted_core::ObjectKey::published(
            &published.target,
            &published.id,
        ))
        .await
        .unwrap();
    ports.uploads.delete(&waiting.id).await.unwrap();

    let done = purge(&rig.review, stores, &target, "admin-1", false)
        .await
        .unwrap();
    assert!(
        done.uploads.iter().any(|u| u.upload_id == published.id),
        "{done:?}"
    );
    assert!(
        !done.uploads.iter().any(|u| u.upload_id == waiting.id),
        "{done:?}"
    );
    for key in keys_of(&published) {
        assert!(
            !readable(ports, &key, version.as_deref()).await,
            "{key} is left"
        );
    }
    for id in [published.id, waiting.id, in_review.id] {
        assert!(
            matches!(
                ports.uploads.get(&id).await,
                Err(vetted_core::ports::UploadsError::NotFound(_))
            ),
            "{id}: the record is left"
        );
    }
    let slot = ports.restaurants.slot(&published.target).await.unwrap();
    assert_eq!(slot.live, None, "the slot still shows a purged image");
    assert_eq!(slot.previous, Some(published.id));
    assert!(
        !ports
            .restaurants
            .history(&published.target)
            .await
            .unwrap()
            .iter()
            .any(|image| image.upload == published.id),
        "the purged image is still in the slot's history"
    );
    let entry_id = done.audit_entry.clone().expect("an audit entry");
    let since =
        vetted_core::Timestamp::from_unix_millis(ports.clock.now().unix_millis() - 3_600_000);
    let entries = ports
        .audit
        .since(since, &vetted_core::ports::PageRequest::first(100))
        .await
        .unwrap();
    let entry = entries
        .items
        .iter()
        .find(|e| e.id == entry_id)
        .expect("the purge is in the audit trail");
    assert_eq!(entry.action, vetted_core::audit::AuditAction::Purge);
    assert_eq!(entry.actor, "admin-1");

    let again = purge(&rig.review, stores, &target, "admin-1", false)
        .await
        .unwrap();
    assert!(again.uploads.is_empty(), "{again:?}");
    assert!(again.slots_cleared.is_empty() && again.history_entries == 0);
}

/// Every result of a rescan of the upload's slot kind under `policies`, one record a page,
/// "interrupted" after the first page and resumed from the cursor kept as JSON.
async fn rescan_all(
    rig: &Rig,
    policies: &SlotPolicies,
    since: vetted_core::Timestamp,
) -> Vec<vetted_core::admin::rescan::RescanResult> {
    let ports = &rig.intake.ports;
    let selection = RescanSelection::SlotKind {
        kind: crate::support::slot().slot.kind(),
        since,
    };
    let first = rescan_page(
        ports,
        policies,
        &selection,
        &RescanCursor::default(),
        1,
        false,
    )
    .await
    .unwrap();
    let mut results = first.results;
    // The checkpoint a CLI writes, read back by the next run.
    let mut checkpoint = first.next.map(|c| serde_json::to_string(&c).unwrap());
    let mut pages = 1;
    while let Some(saved) = checkpoint {
        let cursor: RescanCursor = serde_json::from_str(&saved).unwrap();
        let page = rescan_page(ports, policies, &selection, &cursor, 1, false)
            .await
            .unwrap();
        results.extend(page.results);
        checkpoint = page.next.map(|c| serde_json::to_string(&c).unwrap());
        pages += 1;
        assert!(pages < 100, "the rescan ends");
    }
    results
}

async fn rescan_scenario(rig: &Rig, intent: &vetted_core::UploadRecord) {
    let ports = &rig.intake.ports;
    let dry = rescan_page(
        ports,
        &rig.intake.policies,
        &RescanSelection::One(intent.id),
        &RescanCursor::default(),
        1,
        true,
    )
    .await
    .unwrap();
    assert_eq!(dry.results[0].verdict, RescanVerdict::WouldScan);
    assert_eq!(dry.next, None);

    let today = rescan_all(rig, &rig.intake.policies, intent.created_at).await;
    let ours: Vec<_> = today.iter().filter(|r| r.upload_id == intent.id).collect();
    assert_eq!(ours.len(), 1, "found once: {today:?}");
    assert_eq!(ours[0].verdict, RescanVerdict::Passes);
    assert_eq!(ours[0].status, Status::InReview);

    let stricter = SlotPolicies::uniform(Policy {
        max_side: 150,
        ..Policy::default()
    });
    let tomorrow = rescan_all(rig, &stricter, intent.created_at).await;
    let ours: Vec<_> = tomorrow
        .iter()
        .filter(|r| r.upload_id == intent.id)
        .collect();
    assert_eq!(ours.len(), 1);
    assert!(
        matches!(ours[0].verdict, RescanVerdict::Fails { .. }),
        "{:?}",
        ours[0]
    );
    assert_eq!(
        ports.uploads.get(&intent.id).await.unwrap().status,
        Status::InReview,
        "a rescan moves nothing"
    );
    let later = ports.clock.now().saturating_add(Duration::from_secs(3600));
    assert!(
        rescan_all(rig, &stricter, later).await.is_empty(),
        "nothing since then"
    );
}

async fn expire_scenario(rig: &Rig) {
    let ports = &rig.intake.ports;
    let now = ports.clock.now();
    let stale = vetted_core::UploadRecord::new_intent(
        UploadId::generate(),
        crate::support::owner(),
        crate::support::slot(),
        vetted_core::record::FileName::parse("logo.png").unwrap(),
        ImageType::Png,
        100,
        vetted_core::record::UploadMethod::Post,
        vetted_core::Timestamp::from_unix_millis(now.unix_millis() - 600_000),
        vetted_core::Timestamp::from_unix_millis(now.unix_millis() - 300_000),
    );
    ports.uploads.create(&stale).await.unwrap();
    let dry = admin::expire(&rig.intake, true).await.unwrap();
    assert_eq!(dry.stale, vec![stale.id]);
    assert_eq!(dry.swept, None);
    assert_eq!(
        ports.uploads.get(&stale.id).await.unwrap().status,
        Status::AwaitingUpload
    );
    let done = admin::expire(&rig.intake, false).await.unwrap();
    assert_eq!(done.swept.unwrap().expired, 1);
    assert_eq!(
        ports.uploads.get(&stale.id).await.unwrap().status,
        Status::Expired
    );
    assert!(
        admin::expire(&rig.intake, false)
            .await
            .unwrap()
            .stale
            .is_empty()
    );
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
async fn a_dead_letter_and_a_failed_upload_are_redriven_to_review_on_moto() {
    let Some(pipeline) = Pipeline::start_with("redrive", |options| {
        options.intake_visibility = Duration::from_secs(1);
        options.max_receives = MAX_RECEIVES;
    })
    .await
    else {
        return;
    };
    let (ctx, resources) = (&pipeline.ctx, &pipeline.resources);
    let mut broken_config = function_config(resources);
    // A state machine that does not exist: StartExecution fails on every try.
    broken_config.state_machine_arn = format!("{}-missing", resources.state_machine_arn);
    let rig = Rig {
        intake: intake::intake(ctx, function_config(resources)),
        broken: intake::intake(ctx, broken_config),
        review: review_over(
            function_config(resources).common.ports(ctx),
            Arc::new(vetted_aws::sfn::SfnTaskResponder::new(ctx.sfn())),
        ),
        intake_queue: NamedQueue {
            name: "intake",
            queue: Arc::new(resources.queue(ctx, &resources.intake)),
        },
        sanitize_queue: Arc::new(resources.queue(ctx, &resources.sanitize)),
        tasks_queue: Arc::new(resources.queue(ctx, &resources.review_tasks)),
        notify_by_hand: false,
    };
    scenario(&rig).await;
}

/// The embedded engine's stand-in for a workflow that cannot be reached: every start fails.
struct Unreachable;

#[async_trait]
impl ReviewStarter for Unreachable {
    async fn start(
        &self,
        _: &ExecutionName,
        _: &ReviewStart,
    ) -> Result<StartOutcome, WorkflowError> {
        Err(BackendError::retryable("workflow:start", "the engine is unreachable").into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_and_a_failed_upload_are_redriven_to_review_on_embedded_adapters() {
    let dir = tempfile::tempdir().unwrap();
    let embedded = EmbeddedRig::open(dir.path(), MAX_RECEIVES).await;
    let rig = Rig {
        intake: embedded.intake(Arc::new(embedded.engine.clone())),
        broken: embedded.intake(Arc::new(Unreachable)),
        review: review_over(embedded.ports.clone(), Arc::new(embedded.engine.clone())),
        intake_queue: NamedQueue {
            name: "intake",
            queue: embedded.queue("intake"),
        },
        sanitize_queue: embedded.sanitize_queue.clone(),
        tasks_queue: embedded.tasks_queue.clone(),
        notify_by_hand: true,
    };
    scenario(&rig).await;
}
