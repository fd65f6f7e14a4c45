//! Owner emails on AWS: with `MailFrom` set, a rule sends the outcomes an owner is told about
//! to the notify queue, one function reads it, with a dead-letter queue and alarms, and a
//! role that may read members, use the notifications table and send as `MailIdentity` only.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use vetted_contract::events::sample_event;
use vetted_core::UploadId;
use vetted_core::events::EventType;
use vetted_core::notify::Notice;

use crate::template::{Template, arn_of, one_or_many, ref_target};
use crate::webhooks::{only_the_rule_sends, queue_alarm};
use crate::workflow::consumers_of;

const FUNCTION: &str = "NotifyFunction";
const QUEUE: &str = "NotifyQueue";
const DEAD_LETTER_QUEUE: &str = "NotifyDeadLetterQueue";
const RULE: &str = "NotifyRule";
const ROLE: &str = "NotifyRole";
const STORE_POLICY: &str = "NotificationsStorePolicy";

#[test]
fn the_outcomes_an_owner_is_emailed_about_reach_the_notify_function_through_its_queue() {
    let template = Template::load();
    let rule = template.resource(RULE).expect("NotifyRule");
    let props = &rule["Properties"];
    assert_eq!(props["EventBusName"], json!({"Ref": "EventBus"}));
    assert_eq!(props["EventPattern"]["source"], json!(["vetted"]));
    let matched: BTreeSet<&str> = props["EventPattern"]["detail-type"]
        .as_array()
        .expect("detail-type list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // Exactly the types the core's notifier emails about (`Notice::for_event`): no event it
    // would ignore is paid for, and none it emails about is missed.
    let emailed: BTreeSet<&str> = EventType::ALL
        .into_iter()
        .filter(|t| Notice::for_event(&sample_event(UploadId::generate(), *t)).is_some())
        .map(|t| t.as_str())
        .collect();
    assert_eq!(matched, emailed);
    let targets: Vec<Option<&str>> = props["Targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| arn_of(&t["Arn"]))
        .collect();
    assert_eq!(targets, [Some(QUEUE)], "the rule's one target is the queue");
    only_the_rule_sends(&template, QUEUE, RULE);
    assert_eq!(consumers_of(&template, QUEUE), [FUNCTION]);

    let queue = template.resource(QUEUE).expect("NotifyQueue");
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
        assert_eq!(alarm["AlarmActions"], json!([{"Ref": "AlarmTopic"}]));
    }
}

#[test]
fn without_a_sender_the_stack_has_no_email_parts() {
    let template = Template::load();
    let email_parts: Vec<&str> = template
        .resource_ids()
        .into_iter()
        .filter(|id| id.starts_with("Notify"))
        .collect();
    assert!(email_parts.len() >= 8, "{email_parts:?}");
    for id in email_parts {
        let condition = template.resource(id).and_then(|r| r["Condition"].as_str());
        assert!(
            matches!(condition, Some("SendsEmail" | "SendsEmailWithKms")),
            "{id} is made without MailFrom ({condition:?})"
        );
    }
}

#[test]
fn the_notify_function_reads_members_uses_its_table_and_sends_as_the_identity_only() {
    let template = Template::load();
    let function = template.resource(FUNCTION).expect("NotifyFunction");
    assert_eq!(arn_of(&function["Properties"]["Role"]), Some(ROLE));
    let variables = function["Properties"]["Environment"]["Variables"]
        .as_object()
        .expect("environment");
    let named: BTreeSet<&str> = variables.keys().map(String::as_str).collect();
    // What functions/notify's Config::from_env requires, the log level and the metrics'
    // namespace.
    assert_eq!(
        named,
        BTreeSet::from([
            "VETTED_LOG",
            "VETTED_METRICS_NAMESPACE",
            "VETTED_RESTAURANTS_TABLE",
            "VETTED_NOTIFICATIONS_TABLE",
            "VETTED_MAIL_FROM",
            "VETTED_OWNER_PAGE_URL",
        ])
    );
    assert_eq!(variables["VETTED_MAIL_FROM"], json!({"Ref": "MailFrom"}));
    let role = template.resource(ROLE).expect("NotifyRole");
    assert_eq!(
        role["Properties"]["ManagedPolicyArns"],
        json!([{"Ref": STORE_POLICY}])
    );
    for statement in template.role_statements(ROLE) {
        for action in one_or_many(statement.get("Action")) {
            let action = action.as_str().unwrap_or_default();
            match action.split(':').next().unwrap_or_default() {
                "logs" | "xray" => {}
                "sqs" => assert_eq!(arn_of(&statement["Resource"]), Some(QUEUE), "{action}"),
                "dynamodb" => {
                    assert!(
                        ["dynamodb:Query", "dynamodb:GetItem"].contains(&action),
                        "{ROLE} may only read members: {action}"
                    );
                    assert_eq!(arn_of(&statement["Resource"]), Some("RestaurantsTable"));
                }
                "ses" => {
                    assert_eq!(action, "ses:SendEmail");
                    assert_eq!(
                        statement["Resource"],
                        json!({"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${MailIdentity}"}),
                        "sends as MailIdentity and no other identity"
                    );
                }
                other => panic!("{ROLE} allows {action} ({other})"),
            }
        }
    }
    // Owners opt in through the upload API, which holds the same store policy.
    let api = template.resource("UploadApiFunction").expect("upload API");
    assert_eq!(
        api["Properties"]["Environment"]["Variables"]["VETTED_NOTIFICATIONS_TABLE"],
        json!({"Ref": "NotificationsTable"})
    );
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
        "who may read owners' email addresses"
    );
}
