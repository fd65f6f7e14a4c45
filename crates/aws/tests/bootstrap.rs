//! `bootstrap` against the emulator: it is idempotent, and what it creates works together:
//! an upload under `incoming/` reaches the intake queue, and the real review workflow sends
//! its tasks to the sanitize and review-task queues, moves on when they are answered, and
//! times a review out into `expire`.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};
use vetted_aws::bootstrap::{BootstrapOptions, Resources, bootstrap};
use vetted_aws::sqs::SqsWorkQueue;
use vetted_core::ports::{
    ObjectStore, ReviewStart, ReviewStarter, StartOutcome, TaskResponder, WorkQueue, WorkflowError,
};
use vetted_core::{ExecutionName, ObjectKey, SlotRef, TaskToken, UploadId};

const ASL: &str = include_str!("../../../statemachine/review.asl.json");
const WAIT: Duration = Duration::from_secs(20);

/// Receives from `queue` until `wanted` accepts a body; returns everything received up to and
/// including that body, in order, acking each.
async fn receive_until(
    queue: &SqsWorkQueue,
    what: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "{what}: not seen within {WAIT:?}; saw {seen:?}"
        );
        for message in queue
            .receive(10, Duration::from_secs(1))
            .await
            .expect("receive")
        {
            queue.ack(&message.receipt).await.expect("ack");
            let body: Value = serde_json::from_str(&message.body).expect("JSON body");
            let done = wanted(&body);
            seen.push(body);
            if done {
                return seen;
            }
        }
    }
}

/// The next task of `kind` for `upload` on `queue`, with its token.
async fn next_task(queue: &SqsWorkQueue, kind: &str, upload: UploadId) -> (Value, TaskToken) {
    let upload = upload.to_string();
    // moto runs no state machine unless told to before it is created; say so if nothing comes.
    let what = format!(
        "a {kind} task (if the workflow never sends one, is Step Functions execution enabled on \
         the emulator? scripts/test POSTs {{\"stepfunctions\":{{\"execute_state_machine\":true}}}} \
         to /moto-api/config before any state machine is created)"
    );
    let seen = receive_until(queue, &what, |body| {
        body["task"] == kind && body["upload_id"] == upload.as_str()
    })
    .await;
    let task = seen.last().cloned().expect("the task");
    let token = task["task_token"].as_str().expect("a task token");
    let token = TaskToken::parse(token).expect("a valid task token");
    (task, token)
}

fn is_test_event(body: &Value) -> bool {
    body["Event"] == "s3:TestEvent"
}

/// The object key of an S3 event record, which S3 sends form-URL-encoded.
fn object_key_of(body: &Value) -> Option<String> {
    let raw = body["Records"][0]["s3"]["object"]["key"]
        .as_str()?
        .replace('+', " ");
    let key = percent_encoding::percent_decode_str(&raw)
        .decode_utf8()
        .ok()?;
    Some(key.into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_twice_yields_the_same_resources_which_serialize() {
    let Some(ctx) = common::context().await else {
        return;
    };
    let prefix = common::unique("bs");
    let options = BootstrapOptions::new(&prefix, ASL);
    let first = bootstrap(&ctx, &options).await.expect("first bootstrap");
    let second = bootstrap(&ctx, &options).await.expect("second bootstrap");
    assert_eq!(
        first, second,
        "a second bootstrap must find the same resources"
    );
    assert_eq!(first.bucket, format!("{prefix}-uploads"));
    assert_eq!(first.restaurants_table, format!("{prefix}-restaurants"));
    assert_eq!(first.webhooks_table, Some(format!("{prefix}-webhooks")));
    assert_eq!(
        first.notifications_table,
        Some(format!("{prefix}-notifications"))
    );
    assert!(first.intake.url.ends_with(&format!("{prefix}-intake")));
    assert!(
        first
            .intake
            .dead_letter_url
            .ends_with(&format!("{prefix}-intake-dlq"))
    );
    assert!(
        first
            .state_machine_arn
            .ends_with(&format!(":{prefix}-review"))
    );
    let json = serde_json::to_string(&first).expect("serialize");
    let back: Resources = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_under_incoming_is_announced_on_the_intake_queue() {
    let Some(ctx) = common::context().await else {
        return;
    };
    let prefix = common::unique("up");
    let resources = bootstrap(&ctx, &BootstrapOptions::new(&prefix, ASL))
        .await
        .expect("bootstrap");
    let store = resources.object_store(&ctx);
    let intake = resources.queue(&ctx, &resources.intake);

    // Configuring the notification made S3 send its test event first.
    let seen = receive_until(&intake, "the s3:TestEvent", is_test_event).await;
    assert!(is_test_event(&seen[0]), "first message: {}", seen[0]);

    let upload = UploadId::generate();
    let elsewhere = ObjectKey::sanitized(&upload);
    store
        .put(
            &elsewhere,
            Bytes::from_static(b"not an upload"),
            "image/png",
        )
        .await
        .expect("put outside incoming/");
    let target: SlotRef = "r1/logo".parse().expect("slot");
    let key = ObjectKey::incoming(&target, &upload);
    let put = store
        .put(&key, Bytes::from_static(b"\x89PNG fake"), "image/png")
        .await
        .expect("put under incoming/");
    assert!(put.version.is_some(), "bootstrap turns versioning on");

    let seen = receive_until(&intake, "the upload's event", |body| {
        object_key_of(body).as_deref() == Some(key.as_str())
    })
    .await;
    let event = seen.last().expect("event");
    let record = &event["Records"][0];
    assert!(
        record["eventName"]
            .as_str()
            .is_some_and(|n| n.starts_with("ObjectCreated:")),
        "{event}"
    );
    assert_eq!(record["s3"]["bucket"]["name"], resources.bucket.as_str());
    for body in &seen {
        assert_ne!(
            object_key_of(body).as_deref(),
            Some(elsewhere.as_str()),
            "an object outside incoming/ must not notify intake"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_workflow_runs_on_the_bootstrapped_queues() {
    let Some(ctx) = common::context().await else {
        return;
    };
    let prefix = common::unique("wf");
    let resources = bootstrap(&ctx, &BootstrapOptions::new(&prefix, ASL))
        .await
        .expect("bootstrap");
    let workflow = resources.workflow(&ctx);
    let sanitize = resources.queue(&ctx, &resources.sanitize);
    let review_tasks = resources.queue(&ctx, &resources.review_tasks);

    let upload = UploadId::generate();
    let name = ExecutionName::parse(&format!("review-{upload}")).expect("name");
    let input = ReviewStart {
        upload_id: upload,
        review_timeout_seconds: 600,
        review_stages: vetted_core::ports::ReviewStages::without_escalation(600),
    };
    assert_eq!(
        workflow.start(&name, &input).await.expect("start"),
        StartOutcome::Started
    );
    assert_eq!(
        workflow.start(&name, &input).await.expect("start again"),
        StartOutcome::AlreadyStarted
    );
    let other_input = ReviewStart {
        review_timeout_seconds: 1,
        review_stages: vetted_core::ports::ReviewStages::without_escalation(1),
        ..input.clone()
    };
    assert_eq!(
        workflow
            .start(&name, &other_input)
            .await
            .expect("start with other input"),
        StartOutcome::AlreadyStarted
    );

    // The scan comes first, on the same queue; clean, it goes on to sanitize.
    let (_, scan_token) = next_task(&sanitize, "scan", upload).await;
    workflow
        .send_task_success(&scan_token, &json!({"verdict": "clean"}))
        .await
        .expect("answer the scan");
    let (task, sanitize_token) = next_task(&sanitize, "sanitize", upload).await;
    assert_eq!(task["execution"], name.as_str());
    workflow
        .send_task_success(&sanitize_token, &json!({"verdict": "clean"}))
        .await
        .expect("answer sanitize");

    let (_, decision_token) = next_task(&review_tasks, "await_decision", upload).await;
    let bogus = TaskToken::parse("not-a-token-step-functions-issued").expect("token");
    let result = workflow.send_task_success(&bogus, &json!({})).await;
    assert!(
        matches!(result, Err(WorkflowError::TaskGone)),
        "a token Step Functions never issued must be TaskGone, got {result:?}"
    );
    workflow
        .send_task_success(&decision_token, &json!({"decision": "approve"}))
        .await
        .expect("answer the decision");

    let (_, publish_token) = next_task(&review_tasks, "publish", upload).await;
    workflow
        .send_task_success(&publish_token, &json!({"published": true}))
        .await
        .expect("answer publish");

    let sfn = ctx.sfn();
    let arn = workflow.execution_arn(&name).expect("execution arn");
    let status = common::eventually(WAIT, "the execution to succeed", || {
        let (sfn, arn) = (&sfn, &arn);
        async move {
            let described = sfn
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .ok()?;
            let status = described.status.as_str().to_owned();
            (status != "RUNNING").then_some(status)
        }
    })
    .await;
    assert_eq!(status, "SUCCEEDED");
    // On AWS a token of an answered task, a timed-out task or an ended execution is TaskGone
    // as well. moto 5.2 accepts and ignores any answer to a token it once issued (it never
    // raises TaskTimedOut or TaskDoesNotExist), so only a token it never issued is checked.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_without_a_decision_times_out_into_expire() {
    let Some(ctx) = common::context().await else {
        return;
    };
    let prefix = common::unique("to");
    let resources = bootstrap(&ctx, &BootstrapOptions::new(&prefix, ASL))
        .await
        .expect("bootstrap");
    let workflow = resources.workflow(&ctx);
    let sanitize = resources.queue(&ctx, &resources.sanitize);
    let review_tasks = resources.queue(&ctx, &resources.review_tasks);
    let upload = UploadId::generate();
    let name = ExecutionName::parse(&format!("review-{upload}")).expect("name");
    let input = ReviewStart {
        upload_id: upload,
        review_timeout_seconds: 1,
        review_stages: vetted_core::ports::ReviewStages::without_escalation(1),
    };
    assert_eq!(
        workflow.start(&name, &input).await.expect("start"),
        StartOutcome::Started
    );
    // The scan comes first, on the same queue; clean, it goes on to sanitize.
    let (_, scan_token) = next_task(&sanitize, "scan", upload).await;
    workflow
        .send_task_success(&scan_token, &json!({"verdict": "clean"}))
        .await
        .expect("answer the scan");
    let (_, sanitize_token) = next_task(&sanitize, "sanitize", upload).await;
    workflow
        .send_task_success(&sanitize_token, &json!({"verdict": "clean"}))
        .await
        .expect("answer sanitize");
    next_task(&review_tasks, "await_decision", upload).await;
    // No moderator within `review_timeout_seconds`: the workflow catches States.Timeout and
    // asks the worker to expire the upload.
    let (task, expire_token) = next_task(&review_tasks, "expire", upload).await;
    assert_eq!(task["execution"], name.as_str());
    workflow
        .send_task_success(&expire_token, &json!({"expired": true}))
        .await
        .expect("answer expire");
}
