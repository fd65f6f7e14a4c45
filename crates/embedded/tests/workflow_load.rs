//! Loading definitions: the real review ASL loads; every construct the engine does not
//! implement is refused with the state and the field named, never ignored.

// Test code, helpers included: a failed unwrap is a failed assertion.
#![allow(clippy::unwrap_used)]

mod wf_support;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use vetted_core::SystemClock;
use vetted_core::ports::WorkQueue;
use vetted_embedded::db::Db;
use vetted_embedded::workflow::{
    Definition, DefinitionError, EmbeddedWorkflow, EngineError, substitute,
};
use wf_support::{REVIEW_ASL, REVIEW_TASKS_URL, SANITIZE_URL, review_asl};

fn known(url: &str) -> bool {
    url == SANITIZE_URL || url == REVIEW_TASKS_URL
}

fn task(extra: Value) -> Value {
    let mut state = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {
            "QueueUrl": SANITIZE_URL,
            "MessageBody": { "token.$": "$$.Task.Token" }
        },
        "End": true
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            state.as_object_mut().unwrap().remove(k);
        } else {
            state[k] = v.clone();
        }
    }
    state
}

fn machine(states: Value) -> String {
    json!({ "StartAt": "A", "States": states }).to_string()
}

fn refusal(text: &str) -> DefinitionError {
    Definition::parse(text, &known).expect_err("the definition should be refused")
}

#[track_caller]
fn assert_refused(text: &str, code: &str, state: Option<&str>, field: Option<&str>) {
    let err = refusal(text);
    assert_eq!(err.code(), code, "{err}");
    let shown = err.to_string();
    if let Some(state) = state {
        assert!(shown.contains(&format!("state {state:?}")), "{shown}");
    }
    if let Some(field) = field {
        assert!(shown.contains(&format!("field {field:?}")), "{shown}");
    }
}

#[test]
fn the_review_definition_loads_with_every_state() {
    let definition = Definition::parse(&review_asl(), &known).unwrap();
    assert_eq!(definition.start_at(), "Scan");
    let names: Vec<&str> = definition.state_names().collect();
    for expected in [
        "Scan",
        "ScanNoAnswer",
        "ScanVerdict",
        "Sanitize",
        "SanitizeVerdict",
        "AwaitDecision",
        "AfterStage0",
        "Escalate1",
        "AwaitDecisionLevel1",
        "AfterStage1",
        "Escalate2",
        "AwaitDecisionLevel2",
        "Decided",
        "Publish",
        "Decline",
        "Expire",
        "UnexpectedAnswer",
        "RecordFailure",
        "Rejected",
        "Published",
        "Declined",
        "Expired",
        "Failed",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
}

#[test]
fn placeholders_must_all_be_substituted() {
    let err = substitute(REVIEW_ASL, &[("SanitizeQueueUrl", SANITIZE_URL)]).unwrap_err();
    assert_eq!(
        err,
        DefinitionError::UnresolvedPlaceholder("ReviewTasksQueueUrl".to_owned())
    );
    // Loading the raw file names the queue placeholder as an unknown queue.
    assert_refused(
        REVIEW_ASL,
        "unknown_queue",
        None,
        Some("Parameters.QueueUrl"),
    );
}

#[test]
fn unsupported_state_types_are_refused() {
    for kind in ["Map", "Parallel", "Wait"] {
        let text = machine(json!({ "A": { "Type": kind, "End": true } }));
        assert_refused(&text, "unsupported", Some("A"), Some("Type"));
        assert!(refusal(&text).to_string().contains(kind));
    }
    let text = machine(json!({ "A": { "Type": "Bogus", "End": true } }));
    assert_refused(&text, "invalid_value", Some("A"), Some("Type"));
    let text = machine(json!({ "A": { "End": true } }));
    assert_refused(&text, "missing_field", Some("A"), Some("Type"));
}

#[test]
fn unknown_and_unsupported_fields_are_refused() {
    assert_refused(
        &machine(json!({ "A": task(json!({ "Foo": 1 })) })),
        "unknown_field",
        Some("A"),
        Some("Foo"),
    );
    assert_refused(
        &machine(json!({ "A": task(json!({ "Credentials": {} })) })),
        "unsupported",
        Some("A"),
        Some("Credentials"),
    );
    assert_refused(
        &machine(json!({ "A": task(json!({ "Assign": {} })) })),
        "unsupported",
        Some("A"),
        Some("Assign"),
    );
    let pass = json!({ "A": { "Type": "Pass", "End": true, "ItemsPath": "$" } });
    assert_refused(&machine(pass), "unsupported", Some("A"), Some("ItemsPath"));
    let retry = json!({ "Retry": [{ "ErrorEquals": ["States.ALL"], "Bogus": 1 }] });
    assert_refused(
        &machine(json!({ "A": task(retry) })),
        "unknown_field",
        Some("A"),
        Some("Retry[0].Bogus"),
    );
    let top =
        json!({ "StartAt": "A", "States": { "A": { "Type": "Succeed" } }, "TimeoutSeconds": 5 });
    assert_refused(
        &top.to_string(),
        "unsupported",
        None,
        Some("TimeoutSeconds"),
    );
    let jsonata = json!({ "QueryLanguage": "JSONata", "StartAt": "A", "States": { "A": { "Type": "Succeed" } } });
    assert_refused(
        &jsonata.to_string(),
        "unsupported",
        None,
        Some("QueryLanguage"),
    );
}

#[test]
fn transitions_must_be_complete_and_lead_somewhere() {
    let no_next = json!({ "A": { "Type": "Pass" } });
    assert_refused(&machine(no_next), "missing_field", Some("A"), Some("Next"));
    let both =
        json!({ "A": { "Type": "Pass", "Next": "B", "End": true }, "B": { "Type": "Succeed" } });
    assert_refused(&machine(both), "invalid_value", Some("A"), Some("End"));
    let dangling = json!({ "A": { "Type": "Pass", "Next": "Nowhere" } });
    assert_refused(&machine(dangling), "unknown_state", Some("A"), Some("Next"));
    let unreachable = json!({ "A": { "Type": "Succeed" }, "B": { "Type": "Succeed" } });
    assert_refused(&machine(unreachable), "unreachable_state", Some("B"), None);
    let bad_catch =
        json!({ "A": task(json!({ "Catch": [{ "ErrorEquals": ["States.ALL"], "Next": "Z" }] })) });
    assert_refused(
        &machine(bad_catch),
        "unknown_state",
        Some("A"),
        Some("Catch[0].Next"),
    );
    let bad_start = json!({ "StartAt": "Z", "States": { "A": { "Type": "Succeed" } } });
    assert_refused(
        &bad_start.to_string(),
        "unknown_state",
        None,
        Some("StartAt"),
    );
    let choice =
        json!({ "A": { "Type": "Choice", "Choices": [{ "Variable": "$.x", "IsNull": true }] } });
    assert_refused(
        &machine(choice),
        "missing_field",
        Some("A"),
        Some("Choices[0].Next"),
    );
}

#[test]
fn tasks_are_checked_against_what_the_engine_can_send() {
    let lambda = task(json!({ "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f" }));
    assert_refused(
        &machine(json!({ "A": lambda })),
        "unsupported",
        Some("A"),
        Some("Resource"),
    );
    let unknown_queue = task(
        json!({ "Parameters": { "QueueUrl": "embedded://queues/other",
        "MessageBody": { "t.$": "$$.Task.Token" } } }),
    );
    assert_refused(
        &machine(json!({ "A": unknown_queue })),
        "unknown_queue",
        Some("A"),
        Some("Parameters.QueueUrl"),
    );
    let delay = task(
        json!({ "Parameters": { "QueueUrl": SANITIZE_URL, "DelaySeconds": 5,
        "MessageBody": { "t.$": "$$.Task.Token" } } }),
    );
    assert_refused(
        &machine(json!({ "A": delay })),
        "unsupported",
        Some("A"),
        Some("Parameters.DelaySeconds"),
    );
    let no_token =
        task(json!({ "Parameters": { "QueueUrl": SANITIZE_URL, "MessageBody": { "a": 1 } } }));
    assert_refused(
        &machine(json!({ "A": no_token })),
        "missing_field",
        Some("A"),
        Some("Parameters"),
    );
    let intrinsic = task(json!({ "Parameters": { "QueueUrl": SANITIZE_URL,
        "MessageBody": { "t.$": "$$.Task.Token", "s.$": "States.Format('{}', $.a)" } } }));
    assert_refused(
        &machine(json!({ "A": intrinsic })),
        "invalid_value",
        Some("A"),
        Some("Parameters.MessageBody.s.$"),
    );
    let both_timeouts = task(json!({ "TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t" }));
    assert_refused(
        &machine(json!({ "A": both_timeouts })),
        "invalid_value",
        Some("A"),
        Some("TimeoutSecondsPath"),
    );
    let heartbeat = task(json!({ "TimeoutSeconds": 5, "HeartbeatSeconds": 5 }));
    assert_refused(
        &machine(json!({ "A": heartbeat })),
        "invalid_value",
        Some("A"),
        Some("HeartbeatSeconds"),
    );
    let all_first =
        task(json!({ "Retry": [{ "ErrorEquals": ["States.ALL"] }, { "ErrorEquals": ["X"] }] }));
    assert_refused(
        &machine(json!({ "A": all_first })),
        "invalid_value",
        Some("A"),
        Some("Retry[0].ErrorEquals"),
    );
    let typo = task(json!({ "Retry": [{ "ErrorEquals": ["States.Timout"] }] }));
    assert_refused(
        &machine(json!({ "A": typo })),
        "invalid_value",
        Some("A"),
        Some("Retry[0].ErrorEquals"),
    );
    let bad_path = task(json!({ "ResultPath": "$.a[*]" }));
    assert_refused(
        &machine(json!({ "A": bad_path })),
        "invalid_value",
        Some("A"),
        Some("ResultPath"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_the_engine_with_a_refused_definition_fails() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("vetted.db")).await.unwrap();
    let text = machine(json!({ "A": { "Type": "Map", "End": true } }));
    let queues: HashMap<String, Arc<dyn WorkQueue>> = HashMap::new();
    match EmbeddedWorkflow::open(db, &text, queues, Arc::new(SystemClock)).await {
        Err(EngineError::Definition(e)) => assert_eq!(e.code(), "unsupported"),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a Map state was accepted"),
    }
}
