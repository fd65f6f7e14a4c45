//! Webhooks on AWS: the rule that sends every Vetted event to the webhooks queue, the one
//! function that reads it (and runs on a schedule for retries), its dead-letter queue and
//! alarms, and a role that reaches the webhooks table and nothing else of the pipeline.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use vetted_core::events::EventType;

use crate::template::{Template, arn_of, get_att, one_or_many, ref_target};
use crate::workflow::consumers_of;

const FUNCTION: &str = "WebhooksFunction";
const QUEUE: &str = "WebhooksQueue";
const DEAD_LETTER_QUEUE: &str = "WebhooksDeadLetterQueue";
const RULE: &str = "WebhooksRule";
const ROLE: &str = "WebhooksRole";
const TABLE: &str = "WebhooksTable";
const STORE_POLICY: &str = "WebhooksStorePolicy";

#[test]
fn every_event_on_the_bus_reaches_the_webhooks_function_through_its_queue() {
    let template = Template::load();
    let rule = template.resource(RULE).expect("WebhooksRule");
    let props = &rule["Properties"];
    assert_eq!(props["EventBusName"], json!({"Ref": "EventBus"}));
    assert_eq!(props["EventPattern"]["source"], json!(["vetted"]));
    let matched: BTreeSet<&str> = props["EventPattern"]["detail-type"]
        .as_array()
        .expect("detail-type list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let emitted: BTreeSet<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(
        matched, emitted,
        "endpoints may ask for any event type, so the rule must match every one"
    );
    let targets: Vec<Option<&str>> = props["Targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| arn_of(&t["Arn"]))
        .collect();
    assert_eq!(targets, [Some(QUEUE)], "the rule's one target is the queue");

    only_the_rule_sends(&template, QUEUE, RULE);

    assert_eq!(consumers_of(&template, QUEUE), [FUNCTION]);
    let function = template.resource(FUNCTION).expect("WebhooksFunction");
    let schedules: Vec<&Value> = function
        .pointer("/Properties/Events")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|events| events.values())
        .filter(|e| e["Type"] == "Schedule")
        .collect();
    assert_eq!(
        schedules.len(),
        1,
        "a schedule sends retries when no event comes"
    );
    assert_eq!(schedules[0]["Properties"]["Schedule"], "rate(1 minute)");
}

/// Checks that `queue`'s policy lets EventBridge send to it for `rule`, and for nothing else.
pub(crate) fn only_the_rule_sends(template: &Template, queue: &str, rule: &str) {
    let policies = template.resources_of_type("AWS::SQS::QueuePolicy");
    let (policy_id, policy) = policies
        .iter()
        .find(|(_, p)| {
            one_or_many(p.pointer("/Properties/Queues"))
                .iter()
                .any(|q| ref_target(q) == Some(queue))
        })
        .unwrap_or_else(|| panic!("a queue policy for {queue}"));
    let sends: Vec<&Value> = policy
        .pointer("/Properties/PolicyDocument/Statement")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|s| s["Effect"] == "Allow")
        .collect();
    assert_eq!(sends.len(), 1, "{policy_id}: one Allow statement");
    let send = sends[0];
    assert_eq!(
        send["Principal"],
        json!({"Service": "events.amazonaws.com"})
    );
    assert_eq!(send["Action"], "sqs:SendMessage");
    assert_eq!(arn_of(&send["Resource"]), Some(queue));
    assert_eq!(
        arn_of(&send["Condition"]["ArnEquals"]["aws:SourceArn"]),
        Some(rule),
        "{policy_id}: only {rule} may send"
    );
}

/// An alarm of the template on `metric` of the queue `queue`.
pub(crate) fn queue_alarm<'a>(
    template: &'a Template,
    metric: &str,
    queue: &str,
) -> Option<&'a Value> {
    template
        .resources_of_type("AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(_, alarm)| &alarm["Properties"])
        .find(|p| {
            p["Namespace"] == "AWS/SQS"
                && p["MetricName"] == metric
                && one_or_many(p.get("Dimensions")).iter().any(|d| {
                    d["Name"] == "QueueName" && get_att(&d["Value"]) == Some((queue, "QueueName"))
                })
        })
}

#[test]
fn the_webhooks_queue_has_a_dead_letter_queue_and_alarms_that_notify() {
    let template = Template::load();
    let queue = template.resource(QUEUE).expect("WebhooksQueue");
    assert_eq!(
        arn_of(&queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]),
        Some(DEAD_LETTER_QUEUE)
    );
    for (metric, watched) in [
        ("ApproximateNumberOfMessagesVisible", DEAD_LETTER_QUEUE),
        ("ApproximateAgeOfOldestMessage", QUEUE),
    ] {
        let alarm = queue_alarm(&template, metric, watched)
            .unwrap_or_else(|| panic!("no {metric} alarm on {watched}"));
        assert_eq!(
            alarm["AlarmActions"],
            json!([{"Ref": "AlarmTopic"}]),
            "the {metric} alarm on {watched} notifies the alarm topic"
        );
    }
}

#[test]
fn the_webhooks_function_reaches_the_webhooks_table_and_nothing_else_of_the_pipeline() {
    let template = Template::load();
    let function = template.resource(FUNCTION).expect("WebhooksFunction");
    assert_eq!(arn_of(&function["Properties"]["Role"]), Some(ROLE));
    let variables = function["Properties"]["Environment"]["Variables"]
        .as_object()
        .expect("environment");
    let named: BTreeSet<&str> = variables.keys().map(String::as_str).collect();
    assert_eq!(
        named,
        BTreeSet::from([
            "VETTED_LOG",
            "VETTED_METRICS_NAMESPACE",
            "VETTED_WEBHOOKS_TABLE"
        ]),
        "the function is told of the webhooks table only"
    );
    assert_eq!(variables["VETTED_WEBHOOKS_TABLE"], json!({"Ref": TABLE}));

    let role = template.resource(ROLE).expect("WebhooksRole");
    assert_eq!(
        role["Properties"]["ManagedPolicyArns"],
        json!([{"Ref": STORE_POLICY}]),
        "the table comes through WebhooksStorePolicy"
    );
    // Its own statements: logs, tracing and its queue; no data service at all.
    for statement in template.role_statements(ROLE) {
        for action in one_or_many(statement.get("Action")) {
            let action = action.as_str().unwrap_or_default();
            let service = action.split(':').next().unwrap_or_default();
            assert!(
                ["logs", "xray", "sqs"].contains(&service),
                "{ROLE} allows {action}"
            );
            if service == "sqs" {
                assert_eq!(arn_of(&statement["Resource"]), Some(QUEUE), "{action}");
            }
        }
    }
    // The store policy names the table and its index only (the storage tie test checks the
    // index name), and only the two roles that use it hold it.
    let policy = template
        .resource(STORE_POLICY)
        .expect("WebhooksStorePolicy");
    for statement in policy
        .pointer("/Properties/PolicyDocument/Statement")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for resource in one_or_many(statement.get("Resource")) {
            let on_table = arn_of(&resource) == Some(TABLE)
                || resource
                    .get("Fn::Sub")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.starts_with("${WebhooksTable.Arn}/index/"));
            assert!(on_table, "{STORE_POLICY} grants {resource}");
        }
    }
    let holders: BTreeSet<&str> = template
        .resources_of_type("AWS::IAM::Role")
        .into_iter()
        .filter(|(_, r)| {
            one_or_many(r.pointer("/Properties/ManagedPolicyArns"))
                .iter()
                .any(|p| ref_target(p) == Some(STORE_POLICY))
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        holders,
        BTreeSet::from(["UploadApiRole", ROLE]),
        "who may read the endpoints' signing secrets"
    );
    // And no inline statement anywhere grants the table past the policy.
    for (id, _) in template.resources_of_type("AWS::IAM::Role") {
        for statement in template.role_statements(id) {
            for resource in one_or_many(statement.get("Resource")) {
                assert!(
                    !resource.to_string().contains(TABLE),
                    "{id} grants {resource} inline"
                );
            }
        }
    }
}
