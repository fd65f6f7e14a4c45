//! A burst on moto with Step Functions throttling: `VETTED_BURST_UPLOADS` uploads (200 by
//! default; the 2,000 on request, see [`DEFAULT_UPLOADS`]) are written into the
//! bucket at once, and intake starts their reviews through a starter that answers
//! `Throttled` for `VETTED_BURST_THROTTLE_PERCENT` % of calls (30 by default), as Step
//! Functions answers a `StartExecution` beyond its token bucket. Intake
//! defers those starts through its own queue; every upload must still reach `IN_REVIEW`, none
//! may be `FAILED` or left `RECEIVED`, and no queue may hold a dead letter.
//!
//! The throttling starter is a decorator around the real Step Functions adapter, not a mock
//! of an AWS API: moto never throttles, so the test injects the error the service returns,
//! at the port, and everything else is the real path: objects put into moto's S3, its
//! notifications on moto's intake queue, the intake function's handler as Lambda drives it,
//! executions started in moto, and the sanitize and review-task workers answering them.
//!
//! It prints how long the burst took and what happened (the figure in BENCHMARKS.md). It
//! asserts nothing about time: the one deadline only keeps a broken run from hanging.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use vetted_aws::sfn::SfnReviewWorkflow;
use vetted_core::intake::{Deferral, Intake};
use vetted_core::policy::SlotPolicies;
use vetted_core::ports::{
    BackendError, PageRequest, ReviewStart, ReviewStarter, StartOutcome, Uploads, WorkQueue,
    WorkflowError,
};
use vetted_core::review::Review;
use vetted_core::review::sanitize::DEFAULT_MAX_DECODE_ALLOC;
use vetted_core::review::sanitize::budget::MemoryBudget;
use vetted_core::{Clock, ExecutionName, ImageType, Policy, QueueService, Status, UploadId};
use vetted_lambda::sqs::handle_sqs_batch;

use crate::support::{Pipeline, delete, function_config, receive, sqs_event};

/// How many uploads by default. The Done-when number is 2,000 (run it with
/// `VETTED_BURST_UPLOADS=2000`), which takes many minutes on moto on a shared 2-core
/// machine, far past what CI can spend on one test: moto is one Python process, and what
/// grows with the burst is its SQS receive, which walks every message of the queue on each
/// call (measured with py-spy; `scripts/moto_server.py` removes the worst of it, and moto's
/// re-parse of the workflow for every execution). 200 take about 90 s. See BENCHMARKS.md.
const DEFAULT_UPLOADS: usize = 200;
const DEFAULT_THROTTLE_PERCENT: u64 = 30;
/// Only a guard against a hang: the run is measured, never judged by its time.
const GIVE_UP_AFTER: Duration = Duration::from_secs(90 * 60);
/// Longer than the run can last, so that no review expires before the test has seen it.
const REVIEW_TIMEOUT: Duration = Duration::from_secs(2 * 60 * 60);
/// Intake workers, sanitize workers and review-task workers; each handles a batch of up to
/// ten messages at once, as one Lambda invocation does.
const WORKERS: usize = 3;
/// Puts and intents written at once.
const WRITERS: usize = 16;

/// Answers `Throttled` for `percent` % of calls, chosen by a seeded counter (so the sequence
/// of answers is the same every run), and passes the others to the real adapter.
struct ThrottlingStarter {
    inner: SfnReviewWorkflow,
    percent: u64,
    calls: AtomicU64,
    throttled: AtomicU64,
}

/// SplitMix64: a fixed, well-spread sequence from a counter.
fn splitmix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ThrottlingException (HTTP 400): Rate exceeded (injected by the burst test)")
    }
}

impl std::error::Error for Refused {}

#[async_trait]
impl ReviewStarter for ThrottlingStarter {
    async fn start(
        &self,
        name: &ExecutionName,
        input: &ReviewStart,
    ) -> Result<StartOutcome, WorkflowError> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        if splitmix(call) % 100 < self.percent {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            return Err(WorkflowError::Throttled(BackendError::retryable(
                "states:StartExecution",
                Refused,
            )));
        }
        self.inner.start(name, input).await
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
        Err(_) => default,
    }
}

/// Takes batches off `url` and hands them to `service` as the event source mapping hands them
/// to a function: the messages it does not report as failed are deleted, the failed ones are
/// left for the visibility timeout (and count toward the dead-letter queue).
async fn lambda_like(
    sqs: aws_sdk_sqs::Client,
    url: String,
    service: Arc<dyn QueueService>,
    stop: Arc<AtomicBool>,
    failures: Arc<AtomicU64>,
) {
    while !stop.load(Ordering::Relaxed) {
        let messages = receive(&sqs, &url, 10).await;
        if messages.is_empty() {
            continue;
        }
        let response = handle_sqs_batch(service.as_ref(), sqs_event(&messages)).await;
        let failed: HashSet<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        failures.fetch_add(failed.len() as u64, Ordering::Relaxed);
        for message in &messages {
            if !failed.contains(message.message_id().unwrap_or_default()) {
                delete(&sqs, &url, message).await;
            }
        }
    }
}

/// The ids of every record in `status`.
async fn ids_in(uploads: &dyn Uploads, status: Status) -> HashSet<UploadId> {
    let mut ids = HashSet::new();
    let mut page = PageRequest::first(100);
    loop {
        let batch = uploads.list_by_status(status, &page).await.unwrap();
        ids.extend(batch.items.iter().map(|r| r.id));
        match batch.next {
            Some(next) => page.after = Some(next),
            None => return ids,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_burst_of_uploads_all_reach_review_and_nothing_is_dead_lettered() {
    // The default options: five receives before the dead-letter queue, as the template's
    // minimum `MaxReceiveCount`. (With two, a run of 2,000 on a loaded moto dead-lettered one
    // notification whose batch outlasted the 60 s visibility timeout twice: receives that
    // were not throttles, but count the same.)
    let Some(pipeline) = Pipeline::start("burst").await else {
        return;
    };
    let uploads_wanted =
        usize::try_from(env_number("VETTED_BURST_UPLOADS", DEFAULT_UPLOADS as u64))
            .unwrap()
            .max(1);
    let percent = env_number("VETTED_BURST_THROTTLE_PERCENT", DEFAULT_THROTTLE_PERCENT).min(90);
    let pipeline = Arc::new(pipeline);
    let (ctx, resources) = (&pipeline.ctx, &pipeline.resources);
    // Reviews must outlast the run: with the other moto tests' ten minutes, a 2,000-upload
    // run saw its first reviews expire before the last ones started (measured). A long
    // timeout costs moto nothing: a waiting task is one thread blocked on an event with a
    // timeout, and its first task (Sanitize, 900 s of its own) is sent the same way whatever
    // the review timeout (measured with 6 h; an earlier run that saw no sanitize task with
    // 6 h did not recur).
    let mut config = function_config(resources);
    config.review_timeout = REVIEW_TIMEOUT;
    let intake_queue: Arc<dyn WorkQueue> = Arc::new(resources.queue(ctx, &resources.intake));
    let starter = Arc::new(ThrottlingStarter {
        inner: resources.workflow(ctx),
        percent,
        calls: AtomicU64::new(0),
        throttled: AtomicU64::new(0),
    });
    // Production starts at about a second and stops at SQS's 15 minutes; the cap here keeps
    // an unlucky upload, throttled many times over, from waiting minutes in a test.
    let intake: Arc<dyn QueueService> = Arc::new(Intake {
        reviews: starter.clone(),
        deferral: Deferral::via(intake_queue.clone())
            .with_delays(Duration::from_secs(1), Duration::from_secs(8)),
        ..intake::intake(ctx, config.clone())
    });
    let review: Arc<dyn QueueService> = Arc::new(Review {
        ports: config.common.ports(ctx),
        tasks: Arc::new(vetted_aws::sfn::SfnTaskResponder::new(ctx.sfn())),
        policies: SlotPolicies::uniform(Policy::default()),
        max_decode_alloc: DEFAULT_MAX_DECODE_ALLOC,
        memory: MemoryBudget::new(256 * 1024 * 1024),
        // No scanner, and unscanned uploads proceed: these tests are about other steps.
        scanning: vetted_core::review::Scanning::without_scanner(true),
    });

    // The intents first (upload-api records them before any upload can arrive).
    let png = vetted_samples::images::png(96, 64);
    let mut ids = Vec::with_capacity(uploads_wanted);
    let writers = Arc::new(Semaphore::new(WRITERS));
    let mut writing = JoinSet::new();
    for _ in 0..uploads_wanted {
        let (pipeline, writers) = (pipeline.clone(), writers.clone());
        let size = png.len() as u64;
        writing.spawn(async move {
            let _slot = writers.acquire_owned().await.unwrap();
            // Valid for an hour: the burst is handled well after the usual five minutes.
            let now = vetted_core::SystemClock.now();
            let expires = now.saturating_add(Duration::from_secs(3600));
            pipeline.intent_at(ImageType::Png, size, now, expires).await
        });
    }
    let mut intents = Vec::with_capacity(uploads_wanted);
    while let Some(intent) = writing.join_next().await {
        let intent = intent.unwrap();
        ids.push(intent.id);
        intents.push(intent);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let mut workers = JoinSet::new();
    for (url, service) in [
        (&resources.intake.url, &intake),
        (&resources.sanitize.url, &review),
        (&resources.review_tasks.url, &review),
    ] {
        for _ in 0..WORKERS {
            workers.spawn(lambda_like(
                pipeline.sqs.clone(),
                url.clone(),
                service.clone(),
                stop.clone(),
                failures.clone(),
            ));
        }
    }

    // The burst: every object written as fast as moto takes them; S3 notifies the queue.
    let started = Instant::now();
    for intent in intents {
        let (pipeline, writers, png) = (pipeline.clone(), writers.clone(), png.clone());
        writing.spawn(async move {
            let _slot = writers.acquire_owned().await.unwrap();
            pipeline.put(intent.key.as_str(), png, "image/png").await;
            intent
        });
    }
    while let Some(written) = writing.join_next().await {
        written.unwrap();
    }
    let written_after = started.elapsed();

    let uploads = pipeline.uploads.as_ref();
    let wanted: HashSet<UploadId> = ids.iter().copied().collect();
    // Until no upload is still AWAITING_UPLOAD or RECEIVED: one-item pages, because moto
    // answers every page of a GSI query by scanning the whole table.
    let mut last_report = Instant::now();
    loop {
        let mut waiting = 0;
        for status in [Status::AwaitingUpload, Status::Received] {
            let page = uploads
                .list_by_status(status, &PageRequest::first(1))
                .await
                .unwrap();
            waiting += page.items.len();
        }
        if waiting == 0 {
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(30) {
            eprintln!(
                "burst: {:.0?} in, {} starts so far, {} throttled",
                started.elapsed(),
                starter.calls.load(Ordering::Relaxed),
                starter.throttled.load(Ordering::Relaxed)
            );
            last_report = Instant::now();
        }
        assert!(
            started.elapsed() < GIVE_UP_AFTER,
            "uploads still waiting after {GIVE_UP_AFTER:?}: awaiting upload {}, received {}",
            ids_in(uploads, Status::AwaitingUpload).await.len(),
            ids_in(uploads, Status::Received).await.len()
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    // IN_REVIEW is written by the review-tasks worker once the execution reaches
    // AwaitDecision; wait for the last of those.
    let in_review = loop {
        let in_review = ids_in(uploads, Status::InReview).await;
        if in_review.len() >= wanted.len() || started.elapsed() >= GIVE_UP_AFTER {
            break in_review;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    };
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    while workers.join_next().await.is_some() {}

    assert_eq!(
        in_review, wanted,
        "every upload of the burst, and only them"
    );
    assert!(
        ids_in(uploads, Status::Failed).await.is_empty(),
        "none FAILED"
    );
    assert!(
        ids_in(uploads, Status::Received).await.is_empty(),
        "none left RECEIVED"
    );
    for (name, urls) in [
        ("intake", &resources.intake),
        ("sanitize", &resources.sanitize),
        ("review-tasks", &resources.review_tasks),
    ] {
        let stats = resources.queue(&pipeline.ctx, urls).stats().await.unwrap();
        assert_eq!(stats.dead, 0, "{name}: no dead letters");
    }
    let (calls, throttled) = (
        starter.calls.load(Ordering::Relaxed),
        starter.throttled.load(Ordering::Relaxed),
    );
    assert!(throttled > 0, "the starter throttled some starts");
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "no message failed: a throttled start is deferred, not failed"
    );
    let report = serde_json::json!({
        "uploads": wanted.len(),
        "throttle_percent": percent,
        "start_calls": calls,
        "starts_throttled_and_deferred": throttled,
        "seconds_writing_objects": written_after.as_secs_f64(),
        "seconds_until_all_in_review": took.as_secs_f64(),
        "uploads_per_second": wanted.len() as f64 / took.as_secs_f64(),
    });
    println!("burst: {report}");
    eprintln!("burst: {report}");
}
