//! Data flow through states as Step Functions does it: InputPath, Parameters with `.$` fields
//! and the context object, ResultSelector, ResultPath (incl. null), OutputPath, Pass `Result`,
//! Choice, Fail with paths, and `States.Runtime` for a path that selects nothing.

// Test code, helpers included: a failed unwrap is a failed assertion.
#![allow(clippy::unwrap_used)]

mod wf_support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use vetted_core::SystemClock;
use vetted_core::ports::TaskResponder;
use vetted_embedded::workflow::ExecutionStatus;
use wf_support::{Rig, SANITIZE_URL, body, name, take, take_maybe, token};

const WAIT: &str = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";
const SEND: &str = "arn:aws:states:::sqs:sendMessage";

async fn rig(dir: &tempfile::TempDir, states: Value, start_at: &str) -> Rig {
    let text = json!({ "Comment": "test", "StartAt": start_at, "States": states }).to_string();
    Rig::open(&dir.path().join("vetted.db"), &text, Arc::new(SystemClock)).await
}

fn ask(next: Value) -> Value {
    let mut state = json!({
        "Type": "Task",
        "Resource": WAIT,
        "InputPath": "$.shaped",
        "Parameters": {
            "QueueUrl": SANITIZE_URL,
            "MessageBody": {
                "id.$": "$.id",
                "execution.$": "$$.Execution.Name",
                "state.$": "$$.State.Name",
                "retries.$": "$$.State.RetryCount",
                "task_token.$": "$$.Task.Token"
            }
        },
        "ResultSelector": { "answer.$": "$.value", "fixed": "yes" },
        "ResultPath": "$.result",
    });
    for (k, v) in next.as_object().unwrap() {
        state[k] = v.clone();
    }
    state
}

fn shape() -> Value {
    json!({
        "Type": "Pass",
        "InputPath": "$.payload",
        "Parameters": { "id.$": "$.id", "exec.$": "$$.Execution.Name", "fixed": 1, "tags.$": "$.tags[*].name" },
        "ResultPath": "$.shaped",
        "Next": "Ask"
    })
}

fn input() -> Value {
    json!({ "payload": { "id": 7, "tags": [{ "name": "a" }, { "name": "b" }] }, "other": true })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_field_shapes_the_data_as_step_functions_does() {
    let dir = tempfile::tempdir().unwrap();
    let states = json!({
        "Shape": shape(),
        "Ask": ask(json!({ "OutputPath": "$.result", "Next": "Done" })),
        "Done": { "Type": "Succeed" }
    });
    let rig = rig(&dir, states, "Shape").await;
    rig.engine
        .start_execution(&name("paths-1"), input())
        .await
        .unwrap();

    let message = take(&rig.sanitize, Duration::from_secs(5)).await;
    let sent = body(&message);
    let token = token(&message);
    assert_eq!(token.expose().len(), 64, "256 random bits, hex");
    assert!(token.expose().bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        sent,
        json!({ "id": 7, "execution": "paths-1", "state": "Ask", "retries": 0,
                "task_token": token.expose() })
    );
    // The raw input of Ask is Pass's output: the input with the shaped payload added.
    let history = rig.engine.history("paths-1").await.unwrap();
    let entered_ask = history
        .iter()
        .find(|e| e.event_type == "TaskStateEntered")
        .unwrap();
    assert_eq!(
        entered_ask.detail["input"],
        json!({ "payload": input()["payload"], "other": true,
                "shaped": { "id": 7, "exec": "paths-1", "fixed": 1, "tags": ["a", "b"] } })
    );
    assert!(
        !serde_json::to_string(&history)
            .unwrap()
            .contains(token.expose()),
        "the history never shows a task token"
    );

    rig.engine
        .send_task_success(&token, &json!({ "value": 42, "noise": [1, 2] }))
        .await
        .unwrap();
    let done = rig.finished("paths-1").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output, Some(json!({ "answer": 42, "fixed": "yes" })));
    assert_eq!(rig.entered("paths-1").await, ["Shape", "Ask", "Done"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_paths_discard_and_plain_sends_do_not_wait() {
    let dir = tempfile::tempdir().unwrap();
    let states = json!({
        "Note": {
            "Type": "Task",
            "Resource": SEND,
            "Parameters": { "QueueUrl": SANITIZE_URL, "MessageBody.$": "$.text" },
            "ResultPath": "$.sent",
            "Next": "Keep"
        },
        "Keep": { "Type": "Pass", "Result": { "x": 1 }, "ResultPath": null, "Next": "Empty" },
        "Empty": { "Type": "Pass", "InputPath": null, "ResultPath": "$.fromNothing", "OutputPath": "$", "Next": "End" },
        "End": { "Type": "Succeed", "OutputPath": "$.fromNothing" }
    });
    let rig = rig(&dir, states, "Note").await;
    rig.engine
        .start_execution(&name("paths-2"), json!({ "text": "plain words" }))
        .await
        .unwrap();
    let message = take(&rig.sanitize, Duration::from_secs(5)).await;
    assert_eq!(
        message.body, "plain words",
        "a string MessageBody is sent as it is"
    );
    let done = rig.finished("paths-2").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    // InputPath null gives Pass {} as its input and so {} as its result.
    assert_eq!(done.output, Some(json!({})));
    let history = rig.engine.history("paths-2").await.unwrap();
    let keep_exit = history
        .iter()
        .find(|e| e.event_type == "PassStateExited" && e.state.as_deref() == Some("Keep"))
        .unwrap();
    let sent = &keep_exit.detail["output"]["sent"];
    assert!(sent["MessageId"].is_string(), "{sent}");
    assert_eq!(
        keep_exit.detail["output"]["text"], "plain words",
        "ResultPath null kept the input"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_selects_nothing_fails_the_execution_past_any_catch() {
    let dir = tempfile::tempdir().unwrap();
    let mut asking = ask(json!({ "Next": "Done" }));
    asking["InputPath"] = json!("$");
    asking["Catch"] = json!([{ "ErrorEquals": ["States.ALL"], "Next": "Done" }]);
    let states = json!({ "Ask": asking, "Done": { "Type": "Succeed" } });
    let rig = rig(&dir, states, "Ask").await;
    rig.engine
        .start_execution(&name("paths-3"), json!({ "no_id": true }))
        .await
        .unwrap();
    let done = rig.finished("paths-3").await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    let cause = done.cause.unwrap();
    assert!(
        cause.contains("$.id") && cause.contains("\"Ask\""),
        "{cause}"
    );
    assert!(
        take_maybe(&rig.sanitize, Duration::from_millis(200))
            .await
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choices_route_and_fail_states_read_their_error_from_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let states = json!({
        "Route": {
            "Type": "Choice",
            "Choices": [
                { "And": [{ "Variable": "$.n", "NumericGreaterThan": 10 },
                          { "Variable": "$.kind", "StringMatches": "big*" }], "Next": "Big" },
                { "Variable": "$.n", "IsNumeric": true, "Next": "Small" }
            ]
        },
        "Big": { "Type": "Succeed" },
        "Small": { "Type": "Fail", "ErrorPath": "$.err", "Cause": "too small" }
    });
    let rig = rig(&dir, states, "Route").await;
    let runs = [
        ("c-big", json!({ "n": 11, "kind": "bigger", "err": "E" })),
        (
            "c-small",
            json!({ "n": 3, "kind": "bigger", "err": "Small.Error" }),
        ),
        ("c-none", json!({ "n": "three", "kind": "x", "err": "E" })),
        ("c-missing", json!({ "kind": "x" })),
    ];
    for (run, input) in &runs {
        rig.engine
            .start_execution(&name(run), input.clone())
            .await
            .unwrap();
    }
    let big = rig.finished("c-big").await;
    assert_eq!(
        (big.status, big.output),
        (ExecutionStatus::Succeeded, Some(runs[0].1.clone()))
    );
    let small = rig.finished("c-small").await;
    assert_eq!(small.status, ExecutionStatus::Failed);
    assert_eq!(
        (small.error.as_deref(), small.cause.as_deref()),
        (Some("Small.Error"), Some("too small"))
    );
    let none = rig.finished("c-none").await;
    assert_eq!(none.error.as_deref(), Some("States.NoChoiceMatched"));
    // `$.n` is missing: Step Functions fails the execution rather than treating it as false.
    let missing = rig.finished("c-missing").await;
    assert_eq!(missing.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execution_names_are_unique_and_answered_tokens_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let states = json!({ "Shape": shape(), "Ask": ask(json!({ "End": true })) });
    let rig = rig(&dir, states, "Shape").await;
    let first = rig
        .engine
        .start_execution(&name("once"), input())
        .await
        .unwrap();
    let again = rig
        .engine
        .start_execution(&name("once"), json!({}))
        .await
        .unwrap();
    assert_eq!(format!("{first:?} {again:?}"), "Started AlreadyStarted");
    let message = take(&rig.sanitize, Duration::from_secs(5)).await;
    assert!(
        take_maybe(&rig.sanitize, Duration::from_millis(200))
            .await
            .is_none(),
        "one execution"
    );
    let token = token(&message);
    rig.engine
        .send_task_failure(&token, "Custom.Error", "why")
        .await
        .unwrap();
    let done = rig.finished("once").await;
    assert_eq!(
        (done.error.as_deref(), done.cause.as_deref()),
        (Some("Custom.Error"), Some("why"))
    );
    let gone = rig
        .engine
        .send_task_success(&token, &json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(gone, vetted_core::ports::WorkflowError::TaskGone),
        "{gone:?}"
    );
    let bogus = vetted_core::TaskToken::parse(&"0".repeat(64)).unwrap();
    let gone = rig
        .engine
        .send_task_failure(&bogus, "E", "c")
        .await
        .unwrap_err();
    assert!(
        matches!(gone, vetted_core::ports::WorkflowError::TaskGone),
        "{gone:?}"
    );
}
