//! The queues workers read: dead-letter queues, receive counts, visibility timeouts,
//! batch failure reporting, permissions, and the S3 notification that feeds intake.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::template::{Template, arn_of, ref_target};
use crate::workflow::consumers_of;

const FUNCTION: &str = "AWS::Serverless::Function";
const QUEUE: &str = "AWS::SQS::Queue";
/// The number a property holds: a literal, or the `MinValue` of the parameter it refers to
/// (the least a deployment can choose).
fn least_value(template: &Template, value: &Value) -> Option<f64> {
    match ref_target(value) {
        Some(param) => template.parameter(param).get("MinValue").and_then(number),
        None => number(value),
    }
}

pub fn number(value: &Value) -> Option<f64> {
    value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

/// Problems with `queue`'s visibility timeout relative to its consumer's function timeout.
fn visibility_problems(
    template: &Template,
    queue: &str,
    function: &str,
    timeout: &Value,
) -> Vec<String> {
    let visibility = template
        .resource(queue)
        .and_then(|q| q.pointer("/Properties/VisibilityTimeout"));
    let Some(visibility) = visibility else {
        return vec![format!(
            "{queue} has no VisibilityTimeout (must be 6 x {function}'s timeout)"
        )];
    };
    if let (Some(v), Some(t)) = (number(visibility), number(timeout)) {
        return if v == 6.0 * t {
            vec![]
        } else {
            vec![format!(
                "{queue} visibility {v} is not 6 x {function} timeout {t}"
            )]
        };
    }
    let lookup = visibility.get("Fn::FindInMap").and_then(Value::as_array);
    let Some([Value::String(map), key, Value::String(field)]) = lookup.map(Vec::as_slice) else {
        return vec![format!(
            "{queue}.VisibilityTimeout must be a number or !FindInMap [map, !Ref <timeout>, field]"
        )];
    };
    let (Some(key_param), Some(timeout_param)) = (ref_target(key), ref_target(timeout)) else {
        return vec![format!(
            "{queue} and {function} must take their timeouts from one parameter"
        )];
    };
    if key_param != timeout_param {
        return vec![format!(
            "{queue} visibility follows {key_param} but {function} times out after {timeout_param}"
        )];
    }
    let allowed = template
        .parameter(timeout_param)
        .get("AllowedValues")
        .and_then(Value::as_array);
    let Some(allowed) = allowed else {
        return vec![format!(
            "{timeout_param} needs AllowedValues so that every choice has a visibility in {map}"
        )];
    };
    allowed
        .iter()
        .filter_map(|seconds| {
            let seconds = number(seconds)?;
            let key = format!("{seconds}");
            let mapped = template.section("Mappings").get(map)?.get(&key).and_then(|e| e.get(field)).and_then(number);
            (mapped != Some(6.0 * seconds)).then(|| {
                format!("{map}[{key}].{field} is {mapped:?}; a {seconds} s timeout needs a {} s visibility", 6.0 * seconds)
            })
        })
        .collect()
}

#[test]
fn worker_queues_exist_with_dead_letter_queues_and_batch_failures() {
    let template = Template::load();
    let mut problems = Vec::new();
    let mut read_or_dead_letter = BTreeSet::new();
    for (id, body) in template.resources_of_type(FUNCTION) {
        let events = body
            .pointer("/Properties/Events")
            .and_then(Value::as_object)
            .into_iter()
            .flatten();
        for (event, source) in
            events.filter(|(_, e)| e.get("Type").and_then(Value::as_str) == Some("SQS"))
        {
            let Some(queue) = source.pointer("/Properties/Queue").and_then(arn_of) else {
                problems.push(format!(
                    "{id}.Events.{event}.Queue must be !GetAtt <queue>.Arn"
                ));
                continue;
            };
            if !template.is_type(queue, QUEUE) {
                problems.push(format!(
                    "{id} reads {queue}, which is not an {QUEUE} of the template"
                ));
                continue;
            }
            read_or_dead_letter.insert(queue.to_owned());
            let batch_failures = source
                .pointer("/Properties/FunctionResponseTypes")
                .and_then(Value::as_array);
            if !batch_failures.is_some_and(|t| t.iter().any(|t| t == "ReportBatchItemFailures")) {
                problems.push(format!(
                    "{id}.Events.{event} must report batch item failures"
                ));
            }
            let redrive = template
                .resource(queue)
                .and_then(|q| q.pointer("/Properties/RedrivePolicy"));
            match redrive
                .and_then(|r| r.get("deadLetterTargetArn"))
                .and_then(arn_of)
            {
                Some(dlq) if template.is_type(dlq, QUEUE) => {
                    read_or_dead_letter.insert(dlq.to_owned());
                }
                _ => problems.push(format!(
                    "{queue} (read by {id}) has no dead-letter queue of the template"
                )),
            }
            let receives = redrive
                .and_then(|r| r.get("maxReceiveCount"))
                .and_then(|v| least_value(&template, v));
            if !receives.is_some_and(|n| n >= 5.0) {
                problems.push(format!(
                    "{queue} allows maxReceiveCount {receives:?}; it must be at least 5"
                ));
            }
            let timeout = body
                .pointer("/Properties/Timeout")
                .cloned()
                .unwrap_or(Value::from(3));
            problems.extend(visibility_problems(&template, queue, id, &timeout));
            let role = body
                .pointer("/Properties/Role")
                .and_then(arn_of)
                .unwrap_or_default();
            for action in [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
            ] {
                let granted = template.allowed_resources(role, action);
                if !granted.iter().any(|r| arn_of(r) == Some(queue)) {
                    problems.push(format!("{id}'s role {role:?} lacks {action} on {queue}"));
                }
            }
        }
    }
    for (queue, _) in template.resources_of_type(QUEUE) {
        if !read_or_dead_letter.contains(queue) {
            problems.push(format!(
                "{queue} is neither read by a function nor a dead-letter queue"
            ));
        }
    }
    // Two queues can share a timeout parameter value; say each mapping problem once.
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "worker queues are not wired:\n- {}",
        problems.join("\n- ")
    );
}

#[test]
fn uploads_under_incoming_notify_a_queue_that_a_worker_reads() {
    let template = Template::load();
    let buckets = template.resources_of_type("AWS::S3::Bucket");
    let targets: Vec<(&str, String)> = buckets
        .iter()
        .flat_map(|(_, b)| {
            b.pointer("/Properties/NotificationConfiguration/QueueConfigurations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|c| {
            let queue = c.get("Queue").and_then(arn_of)?;
            let prefix = c
                .pointer("/Filter/S3Key/Rules")
                .and_then(Value::as_array)?
                .iter()
                .find(|r| r.get("Name").and_then(Value::as_str) == Some("prefix"))?
                .get("Value")?
                .as_str()?
                .to_owned();
            Some((queue, prefix))
        })
        .collect();
    let incoming: Vec<&str> = targets
        .iter()
        .filter(|(_, p)| p == "incoming/")
        .map(|(q, _)| *q)
        .collect();
    assert_eq!(
        incoming.len(),
        1,
        "exactly one bucket notification must send incoming/ events to a queue: {targets:?}"
    );
    let consumers = consumers_of(&template, incoming[0]);
    assert_eq!(
        consumers,
        ["IntakeFunction"],
        "the incoming/ events queue {} must be read by IntakeFunction",
        incoming[0]
    );
}
