//! The review workflow file against the template: substitutions, task queues, permissions.

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
