//! The `ReviewWorkflow` contract, on the real `statemachine/review.asl.json`: a start sends the
//! sanitize task (a second start of the same name does not), an answer moves the review to its
//! next task, a permanent failure goes to `RecordFailure`, and a token that no longer waits
//! (answered, or never issued) is `TaskGone`.
//!
//! The adapter under test must run the review definition with its two queues; the suite plays
//! the workers by reading the queues. Execution names and upload ids are fresh per check, and
//! messages of other executions are acked and ignored, so shared queues are fine.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vetted_core::ports::{ReviewStart, ReviewWorkflow, StartOutcome, WorkQueue, WorkflowError};
use vetted_core::{ExecutionName, TaskToken, UploadId};

use crate::support::{Check, unique};

/// The workflow and the queues its definition sends to.
#[derive(Clone, Copy)]
pub struct WorkflowUnderTest<'a> {
    pub workflow: &'a dyn ReviewWorkflow,
    pub sanitize: &'a dyn WorkQueue,
    pub review_tasks: &'a dyn WorkQueue,
    /// Whether answering a token that was already answered is `TaskGone`, as on Step
    /// Functions and the embedded engine. `false` only for the moto emulator, which keeps every
    /// token and silently accepts (and ignores) a second answer; there the suite checks that
    /// such an answer is at least not an error.
    pub rejects_answered_tokens: bool,
}

/// How long a task message may take to arrive (the emulator runs executions in a thread).
const ARRIVAL_LIMIT: Duration = Duration::from_secs(20);

pub async fn run_all(w: WorkflowUnderTest<'_>) {
    start_sends_the_scan_task_once(w).await;
    an_answer_moves_to_the_next_task_and_its_token_is_gone(w).await;
    a_permanent_failure_goes_to_record_failure(w).await;
    a_token_never_issued_is_task_gone(w).await;
}

fn fresh_name() -> ExecutionName {
    ExecutionName::parse(&unique("wf")).unwrap_or_else(|e| panic!("{e}"))
}

async fn start(check: &str, w: WorkflowUnderTest<'_>, name: &ExecutionName, upload: UploadId) {
    let input = ReviewStart {
        upload_id: upload,
        review_timeout_seconds: 300,
        review_stages: vetted_core::ports::ReviewStages::without_escalation(300),
    };
    let outcome = w
        .workflow
        .start(name, &input)
        .await
        .unwrap_or_else(|e| panic!("{check}: start failed: {e}"));
    assert_eq!(outcome, StartOutcome::Started, "{check}: a new name starts");
}

/// Starts `name` and answers its first task, the scan, `clean`: the review goes on to sanitize.
async fn start_past_scan(
    check: &str,
    w: WorkflowUnderTest<'_>,
    name: &ExecutionName,
    upload: UploadId,
) {
    start(check, w, name, upload).await;
    let (body, token) = next_task(check, w.sanitize, name).await;
    assert_task(check, &body, "scan", upload);
    w.workflow
        .send_task_success(&token, &json!({ "verdict": "clean", "scan": "clean" }))
        .await
        .unwrap_or_else(|e| panic!("{check}: answering the scan failed: {e}"));
}

/// The next task message of execution `name` on `queue`: its body and its token.
async fn next_task(check: &str, queue: &dyn WorkQueue, name: &ExecutionName) -> (Value, TaskToken) {
    let deadline = Instant::now() + ARRIVAL_LIMIT;
    loop {
        assert!(
            Instant::now() < deadline,
            "{check}: no task message for {name} within {ARRIVAL_LIMIT:?}"
        );
        let batch = queue
            .receive(10, Duration::from_secs(1))
            .await
            .unwrap_or_else(|e| panic!("{check}: receive failed: {e}"));
        let mut found = None;
        for message in batch {
            queue
                .ack(&message.receipt)
                .await
                .unwrap_or_else(|e| panic!("{check}: ack failed: {e}"));
            let body: Value = serde_json::from_str(&message.body).unwrap_or_else(|e| {
                panic!(
                    "{check}: a task message is not JSON ({e}): {}",
                    message.body
                )
            });
            if body["execution"] == name.as_str() && found.is_none() {
                found = Some(body);
            }
        }
        if let Some(body) = found {
            let token = body["task_token"]
                .as_str()
                .and_then(|t| TaskToken::parse(t).ok())
                .unwrap_or_else(|| panic!("{check}: the message has no task token: {body}"));
            return (body, token);
        }
    }
}

fn assert_task(check: &str, body: &Value, task: &str, upload: UploadId) {
    assert_eq!(
        body["task"], task,
        "{check}: expected a {task} task: {body}"
    );
    assert_eq!(
        body["upload_id"],
        upload.to_string(),
        "{check}: wrong upload: {body}"
    );
}

/// A token that was answered: `TaskGone`, or on the emulator at least no error.
async fn assert_answered_is_gone(
    check: &str,
    w: WorkflowUnderTest<'_>,
    token: &TaskToken,
    what: &str,
) {
    if w.rejects_answered_tokens {
        return assert_gone(check, w, token, what).await;
    }
    let again = w
        .workflow
        .send_task_success(token, &json!({ "verdict": "clean" }))
        .await;
    assert!(
        matches!(again, Ok(()) | Err(WorkflowError::TaskGone)),
        "{check}: answering {what} again must be harmless, got {again:?}"
    );
}

async fn assert_gone(check: &str, w: WorkflowUnderTest<'_>, token: &TaskToken, what: &str) {
    let success = w
        .workflow
        .send_task_success(token, &json!({ "verdict": "clean" }))
        .await;
    assert!(
        matches!(success, Err(WorkflowError::TaskGone)),
        "{check}: send_task_success on {what} must be TaskGone, got {success:?}"
    );
    let failure = w
        .workflow
        .send_task_failure(token, "Vetted.Permanent", "contract")
        .await;
    assert!(
        matches!(failure, Err(WorkflowError::TaskGone)),
        "{check}: send_task_failure on {what} must be TaskGone, got {failure:?}"
    );
}

pub async fn start_sends_the_scan_task_once(w: WorkflowUnderTest<'_>) {
    const CHECK: &str = "start sends the scan task once";
    let _check = Check::start(CHECK);
    let (name, upload) = (fresh_name(), UploadId::generate());
    start(CHECK, w, &name, upload).await;
    let again = ReviewStart {
        upload_id: upload,
        review_timeout_seconds: 300,
        review_stages: vetted_core::ports::ReviewStages::without_escalation(300),
    };
    let outcome = w
        .workflow
        .start(&name, &again)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: the second start failed: {e}"));
    assert_eq!(
        outcome,
        StartOutcome::AlreadyStarted,
        "{CHECK}: the same name again"
    );
    let (body, token) = next_task(CHECK, w.sanitize, &name).await;
    assert_task(CHECK, &body, "scan", upload);
    // Ends the execution so it leaves nothing waiting behind.
    w.workflow
        .send_task_success(
            &token,
            &json!({ "verdict": "rejected", "reason": "truncated" }),
        )
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: answering the scan failed: {e}"));
}

pub async fn an_answer_moves_to_the_next_task_and_its_token_is_gone(w: WorkflowUnderTest<'_>) {
    const CHECK: &str = "an answer moves to the next task and its token is gone";
    let _check = Check::start(CHECK);
    let (name, upload) = (fresh_name(), UploadId::generate());
    start_past_scan(CHECK, w, &name, upload).await;
    let (_, sanitize) = next_task(CHECK, w.sanitize, &name).await;
    w.workflow
        .send_task_success(&sanitize, &json!({ "verdict": "clean" }))
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: answering sanitize failed: {e}"));
    let (body, decision) = next_task(CHECK, w.review_tasks, &name).await;
    assert_task(CHECK, &body, "await_decision", upload);
    assert_ne!(decision, sanitize, "{CHECK}: each task has its own token");
    assert_answered_is_gone(CHECK, w, &sanitize, "an answered token").await;
    w.workflow
        .send_task_success(&decision, &json!({ "decision": "approve" }))
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: answering the decision failed: {e}"));
    let (body, publish) = next_task(CHECK, w.review_tasks, &name).await;
    assert_task(CHECK, &body, "publish", upload);
    w.workflow
        .send_task_success(&publish, &json!({ "status": "PUBLISHED" }))
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: answering publish failed: {e}"));
    assert_answered_is_gone(CHECK, w, &publish, "the token of a finished execution").await;
}

pub async fn a_permanent_failure_goes_to_record_failure(w: WorkflowUnderTest<'_>) {
    const CHECK: &str = "a permanent failure goes to RecordFailure";
    let _check = Check::start(CHECK);
    let (name, upload) = (fresh_name(), UploadId::generate());
    start_past_scan(CHECK, w, &name, upload).await;
    let (_, sanitize) = next_task(CHECK, w.sanitize, &name).await;
    w.workflow
        .send_task_failure(&sanitize, "Vetted.Permanent", "the object is gone")
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: failing sanitize failed: {e}"));
    let (body, record) = next_task(CHECK, w.review_tasks, &name).await;
    assert_task(CHECK, &body, "record_failure", upload);
    assert_eq!(
        body["error"]["Error"], "Vetted.Permanent",
        "{CHECK}: the caught error is passed on: {body}"
    );
    assert_answered_is_gone(CHECK, w, &sanitize, "a failed token").await;
    w.workflow
        .send_task_success(&record, &json!({ "status": "FAILED" }))
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: answering record_failure failed: {e}"));
}

pub async fn a_token_never_issued_is_task_gone(w: WorkflowUnderTest<'_>) {
    const CHECK: &str = "a token never issued is TaskGone";
    let _check = Check::start(CHECK);
    let bogus = TaskToken::parse(&unique("not-a-token")).unwrap_or_else(|e| panic!("{e}"));
    assert_gone(CHECK, w, &bogus, "a bogus token").await;
}
