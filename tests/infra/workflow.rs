//! The review workflow file against the template and the code: substitutions, task queues,
//! permissions, and the error names workers send.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::template::{Template, arn_of, infra_dir, placeholders, ref_target};

const STATE_MACHINE: &str = "AWS::Serverless::StateMachine";

/// Each state machine of the template with the text and JSON of its definition file.
fn state_machines(template: &Template) -> Vec<(&str, &Value, String, Value)> {
    let machines = template.resources_of_type(STATE_MACHINE);
    assert!(
        !machines.is_empty(),
        "the template defines no {STATE_MACHINE}"
    );
    machines
        .into_iter()
        .map(|(id, body)| {
            let uri = body
                .pointer("/Properties/DefinitionUri")
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{id} has no local DefinitionUri"));
            let path = infra_dir().join(uri);
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{id}.DefinitionUri {uri} ({}) cannot be read: {e}",
                    path.display()
                )
            });
            let asl: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{uri} is not JSON: {e}"));
            (id, body, text, asl)
        })
        .collect()
}

fn substitutions(id: &str, body: &Value) -> serde_json::Map<String, Value> {
    body.pointer("/Properties/DefinitionSubstitutions")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_else(|| panic!("{id} has no DefinitionSubstitutions"))
}

/// Every Task state, with its name, wherever it is nested (Parallel branches, Map iterators).
fn task_states(asl: &Value) -> Vec<(String, &Value)> {
    let mut found = Vec::new();
    let mut pending = vec![asl];
    while let Some(node) = pending.pop() {
        if let Some(states) = node.get("States").and_then(Value::as_object) {
            for (name, state) in states {
                if state.get("Type").and_then(Value::as_str) == Some("Task") {
                    found.push((name.clone(), state));
                }
                pending.extend(
                    state
                        .get("Branches")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten(),
                );
                pending.extend(state.get("Iterator"));
                pending.extend(state.get("ItemProcessor"));
            }
        }
    }
    found
}

#[test]
fn asl_placeholders_match_definition_substitutions() {
    let template = Template::load();
    let mut problems = Vec::new();
    for (id, body, text, _) in state_machines(&template) {
        let used = placeholders(&text);
        let defined: BTreeSet<String> = substitutions(id, body).keys().cloned().collect();
        for missing in used.difference(&defined) {
            problems.push(format!(
                "${{{missing}}} is used by the definition of {id} but not defined in its DefinitionSubstitutions"
            ));
        }
        for stale in defined.difference(&used) {
            problems.push(format!(
                "{id}.DefinitionSubstitutions defines {stale}, which its definition never uses"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "ASL and template disagree:\n- {}",
        problems.join("\n- ")
    );
}

#[test]
fn asl_task_queues_are_template_queues_with_a_worker_and_send_permission() {
    let template = Template::load();
    let mut problems = Vec::new();
    for (id, body, _, asl) in state_machines(&template) {
        let subs = substitutions(id, body);
        let mut task_queues = BTreeSet::new();
        for (state, task) in task_states(&asl) {
            let resource = task
                .get("Resource")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !resource.contains(":sqs:sendMessage") {
                continue;
            }
            let url = task
                .pointer("/Parameters/QueueUrl")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let Some(name) = url.strip_prefix("${").and_then(|u| u.strip_suffix('}')) else {
                problems.push(format!(
                    "state {state} sends to {url:?}; a queue URL must be a ${{Placeholder}} filled by the template"
                ));
                continue;
            };
            match subs.get(name).and_then(ref_target) {
                Some(queue) if template.is_type(queue, "AWS::SQS::Queue") => {
                    task_queues.insert(queue.to_owned());
                }
                Some(other) => problems.push(format!(
                    "state {state} sends to ${{{name}}} = !Ref {other}, which is not an AWS::SQS::Queue of the template"
                )),
                None => problems.push(format!(
                    "state {state} sends to ${{{name}}}, which {id} does not substitute with !Ref <queue>"
                )),
            }
        }

        for queue in &task_queues {
            let consumers = consumers_of(&template, queue);
            if consumers.len() != 1 {
                problems.push(format!(
                    "queue {queue} receives tasks from {id} and must have exactly one worker function reading it, not {consumers:?}"
                ));
            }
        }

        let role = body
            .pointer("/Properties/Role")
            .and_then(arn_of)
            .unwrap_or_else(|| panic!("{id}.Role must be !GetAtt <role>.Arn"));
        let may_send: BTreeSet<String> = template
            .allowed_resources(role, "sqs:SendMessage")
            .iter()
            .map(|r| {
                arn_of(r)
                    .map(str::to_owned)
                    .unwrap_or_else(|| r.to_string())
            })
            .collect();
        for queue in task_queues.difference(&may_send) {
            problems.push(format!(
                "{role} lacks sqs:SendMessage on {queue}, which {id} sends tasks to"
            ));
        }
        for extra in may_send.difference(&task_queues) {
            problems.push(format!(
                "{role} may send to {extra}, but no state of {id} does: least privilege says remove it"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "workflow queues are not wired:\n- {}",
        problems.join("\n- ")
    );
}

/// Functions whose SQS event source reads `queue`.
pub fn consumers_of(template: &Template, queue: &str) -> Vec<String> {
    template
        .resources_of_type("AWS::Serverless::Function")
        .into_iter()
        .filter(|(_, body)| {
            body.pointer("/Properties/Events")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|events| events.values())
                .filter(|e| e.get("Type").and_then(Value::as_str) == Some("SQS"))
                .any(|e| e.pointer("/Properties/Queue").and_then(arn_of) == Some(queue))
        })
        .map(|(id, _)| id.to_owned())
        .collect()
}

/// The `ErrorEquals` names of a state's `Retry` or `Catch` (`field`) blocks.
fn error_names<'a>(state: &'a Value, field: &str) -> Vec<&'a str> {
    state
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|block| block.get("ErrorEquals").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// Names that catch any error a worker sends with `SendTaskFailure`.
const CATCH_ALL: [&str; 2] = ["States.ALL", "States.TaskFailed"];

/// Problems between one workflow definition and the error names workers send: a `Retry` or
/// `Catch` naming a worker error no worker sends (dead, or a typo), and a callback task that
/// does not catch an error a worker may send it (the execution would fail with the record
/// stranded, never reaching `RecordFailure`).
fn error_name_problems(id: &str, asl: &Value, sent: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    for (state, task) in task_states(asl) {
        for field in ["Retry", "Catch"] {
            for name in error_names(task, field) {
                if !name.starts_with("States.") && !sent.contains(&name) {
                    problems.push(format!(
                        "{id}: {state}.{field} names {name}, which no worker sends (workers send {sent:?}: vetted_core::review::WORKER_ERRORS)"
                    ));
                }
            }
        }
        let answered_by_a_worker = task
            .get("Resource")
            .and_then(Value::as_str)
            .is_some_and(|r| r.ends_with(".waitForTaskToken"));
        if !answered_by_a_worker {
            continue;
        }
        let caught = error_names(task, "Catch");
        for name in sent {
            if !caught.iter().any(|c| c == name || CATCH_ALL.contains(c)) {
                problems.push(format!(
                    "{id}: {state} neither catches {name}, which workers send, nor has a Catch on {CATCH_ALL:?}"
                ));
            }
        }
    }
    problems
}

#[test]
fn asl_retry_and_catch_name_the_errors_workers_send() {
    let sent = vetted_core::review::WORKER_ERRORS;
    assert!(!sent.is_empty(), "WORKER_ERRORS is empty");
    let template = Template::load();
    let mut problems = Vec::new();
    for (id, _, _, asl) in state_machines(&template) {
        problems.extend(error_name_problems(id, &asl, sent));
    }
    assert!(
        problems.is_empty(),
        "workflow and workers disagree on error names:\n- {}",
        problems.join("\n- ")
    );
}

#[test]
fn the_error_name_check_sees_a_dead_retry_and_an_uncaught_worker_error() {
    let asl = serde_json::json!({
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Retry": [{ "ErrorEquals": ["Vetted.Retryable", "States.Timeout"] }],
                "Catch": [{ "ErrorEquals": ["States.Timeout"], "Next": "Done" }],
                "Next": "Done"
            },
            "Done": { "Type": "Succeed" }
        }
    });
    let problems = error_name_problems("Test", &asl, &["Vetted.Permanent"]);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].contains("Work.Retry names Vetted.Retryable"),
        "{problems:#?}"
    );
    assert!(
        problems[1].contains("Work neither catches Vetted.Permanent"),
        "{problems:#?}"
    );
}
