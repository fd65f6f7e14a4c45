//! Metrics on AWS: every function that records writes EMF into one namespace per stack, the
//! review-age alarm watches the metric the maintenance pass reports under the core's name for
//! it, every dead-letter queue has exactly one alarm, and the dashboard shows the core's
//! metrics and every work and dead-letter queue, with placeholders that resolve and a body
//! that is JSON.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use vetted_core::metrics::{
    GATE_SECONDS, REVIEW_OLDEST_AGE, REVIEW_STARTS_DEFERRED, SANITIZE_SECONDS, UPLOAD_TRANSITIONS,
    WEBHOOK_DELIVERIES,
};

use crate::template::{Template, placeholders, ref_target};

const NAMESPACE: &str = "Vetted/${NamePrefix}";

fn sub_text(value: &Value) -> Option<&str> {
    value.get("Fn::Sub").and_then(Value::as_str)
}

#[test]
fn every_function_that_records_writes_into_the_stacks_namespace() {
    let template = Template::load();
    let mut problems = Vec::new();
    for (id, function) in template.resources_of_type("AWS::Serverless::Function") {
        let namespace =
            function.pointer("/Properties/Environment/Variables/VETTED_METRICS_NAMESPACE");
        match (id, namespace) {
            // The site function only copies the pages; it records nothing.
            ("SiteFunction", None) => {}
            ("SiteFunction", Some(_)) => problems.push("SiteFunction records nothing".to_owned()),
            (_, Some(value)) if sub_text(value) == Some(NAMESPACE) => {}
            (_, other) => problems.push(format!(
                "{id}: VETTED_METRICS_NAMESPACE is {other:?}, expected !Sub {NAMESPACE:?}"
            )),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_review_age_alarm_watches_what_the_maintenance_pass_reports() {
    let template = Template::load();
    let alarm = &template.resource("ReviewAgeAlarm").expect("ReviewAgeAlarm")["Properties"];
    assert_eq!(sub_text(&alarm["Namespace"]), Some(NAMESPACE));
    assert_eq!(alarm["MetricName"], json!(REVIEW_OLDEST_AGE));
    // The gauge has no labels, so its EMF document has no dimensions.
    assert!(alarm.get("Dimensions").is_none());
    assert_eq!(alarm["Statistic"], json!("Maximum"));
    assert_eq!(
        ref_target(&alarm["Threshold"]),
        Some("ReviewAgeAlarmSeconds")
    );
    assert_eq!(alarm["ComparisonOperator"], json!("GreaterThanThreshold"));
    assert_eq!(alarm["AlarmActions"], json!([{"Ref": "AlarmTopic"}]));
    // The pass reports at least this often, so one period always holds a report.
    let interval = template.parameter("MaintenanceIntervalMinutes");
    let most_minutes = interval["MaxValue"].as_u64().expect("a MaxValue");
    let period = alarm["Period"].as_u64().expect("a Period");
    assert!(
        period >= most_minutes * 60,
        "a period of {period} s may hold no report of a pass every {most_minutes} min"
    );
}

#[test]
fn every_dead_letter_queue_has_exactly_one_alarm() {
    let template = Template::load();
    let mut alarms: BTreeMap<&str, Vec<&str>> = template
        .resources_of_type("AWS::SQS::Queue")
        .into_iter()
        .filter(|(id, _)| id.ends_with("DeadLetterQueue"))
        .map(|(id, _)| (id, Vec::new()))
        .collect();
    assert_eq!(
        alarms.len(),
        5,
        "intake, sanitize, review tasks, webhooks, notify"
    );
    for (id, alarm) in template.resources_of_type("AWS::CloudWatch::Alarm") {
        let dimensions = alarm["Properties"]["Dimensions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for dimension in dimensions {
            if let Some(watched) = dimension["Value"]
                .get("Fn::GetAtt")
                .and_then(|parts| parts[0].as_str())
                && let Some(found) = alarms.get_mut(watched)
            {
                found.push(id);
            }
        }
    }
    for (queue, watching) in &alarms {
        assert_eq!(watching.len(), 1, "{queue} is watched by {watching:?}");
    }
}

#[test]
fn the_dashboard_shows_the_cores_metrics_and_every_queue() {
    let template = Template::load();
    let dashboard = template
        .resource("OperationsDashboard")
        .expect("OperationsDashboard");
    assert_eq!(
        sub_text(&dashboard["Properties"]["DashboardName"]),
        Some("${NamePrefix}-operations")
    );
    // `!Sub [body, variables]`: the notify queues' lines are variables, since those queues
    // exist only when the stack sends email.
    let sub = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_array()
        .expect("!Sub [body, variables]");
    let body = sub[0].as_str().expect("the body");
    let variables = sub[1].as_object().expect("the variables");
    for metric in [
        UPLOAD_TRANSITIONS,
        GATE_SECONDS,
        SANITIZE_SECONDS,
        WEBHOOK_DELIVERIES,
        REVIEW_OLDEST_AGE,
        REVIEW_STARTS_DEFERRED,
    ] {
        assert!(
            body.contains(metric),
            "the dashboard does not show {metric}"
        );
    }
    let parameters = template.section("Parameters");
    let mut substituted = body.to_owned();
    for placeholder in placeholders(body) {
        let resolves = match placeholder.split_once('.') {
            Some((resource, "QueueName")) => template.is_type(resource, "AWS::SQS::Queue"),
            Some(_) => false,
            None => {
                placeholder.starts_with("AWS::")
                    || parameters.contains_key(placeholder.as_str())
                    || variables.contains_key(&placeholder)
            }
        };
        assert!(
            resolves,
            "${{{placeholder}}} names nothing the template has"
        );
        // A variable is a JSON fragment or nothing (nothing here); a number stands where a
        // number parameter does; anything else is inside a string.
        let stand_in = if variables.contains_key(&placeholder) {
            ""
        } else {
            "1"
        };
        substituted = substituted.replace(&format!("${{{placeholder}}}"), stand_in);
    }
    let parsed: Value = serde_json::from_str(&substituted)
        .unwrap_or_else(|e| panic!("the dashboard body is not JSON: {e}"));
    assert!(parsed["widgets"].as_array().is_some_and(|w| !w.is_empty()));
    // With the variables' lines in, the body is JSON too, and shows every queue.
    let mut all_text = body.to_owned();
    for (name, value) in variables {
        let condition = value["Fn::If"]
            .as_array()
            .expect("!If [condition, line, \"\"]");
        assert_eq!(condition[0], json!("SendsEmail"), "{name}");
        assert_eq!(condition[2], json!(""), "{name}");
        let line = sub_text(&condition[1]).expect("a !Sub line");
        all_text.push_str(line);
        let line = line
            .replace("${NotifyQueue.QueueName}", "q")
            .replace("${NotifyDeadLetterQueue.QueueName}", "q");
        let marker = format!("${{{name}}}");
        let at = body.find(&marker).expect("the variable is used");
        // Rebuild from the body with this line in place, then the rest as stand-ins.
        let mut text = body.to_owned();
        text.replace_range(at..at + marker.len(), &line);
        for placeholder in placeholders(&text) {
            let stand_in = if variables.contains_key(&placeholder) {
                ""
            } else {
                "1"
            };
            text = text.replace(&format!("${{{placeholder}}}"), stand_in);
        }
        serde_json::from_str::<Value>(&text)
            .unwrap_or_else(|e| panic!("the dashboard body with {name} is not JSON: {e}"));
    }
    for (queue, _) in template.resources_of_type("AWS::SQS::Queue") {
        assert!(
            all_text.contains(&format!("${{{queue}.QueueName}}")),
            "the dashboard does not show {queue}"
        );
    }
}
