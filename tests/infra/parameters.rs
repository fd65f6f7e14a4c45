//! Template parameters and rules: bad values must fail at deploy time with a reason.

use regex::Regex;
use serde_json::Value;

use crate::queues::number;
use crate::template::{Template, ref_target};

/// CloudFormation matches `AllowedPattern` against the whole value.
fn whole_match(pattern: &str) -> Regex {
    Regex::new(&format!("^(?:{pattern})$"))
        .unwrap_or_else(|e| panic!("AllowedPattern {pattern:?} does not compile: {e}"))
}

fn accepts(param: &Value, value: &str) -> bool {
    let pattern = param.get("AllowedPattern").and_then(Value::as_str);
    let allowed = param.get("AllowedValues").and_then(Value::as_array);
    let within = |bound: &str, keep: fn(f64, f64) -> bool| match (
        param.get(bound).and_then(number),
        value.parse::<f64>(),
    ) {
        (Some(limit), Ok(v)) => keep(v, limit),
        (Some(_), Err(_)) => false,
        (None, _) => true,
    };
    pattern.is_none_or(|p| whole_match(p).is_match(value))
        && allowed.is_none_or(|values| values.iter().any(|a| same_value(a, value)))
        && within("MinValue", |v, min| v >= min)
        && within("MaxValue", |v, max| v <= max)
}

fn same_value(allowed: &Value, value: &str) -> bool {
    match allowed {
        Value::String(s) => s == value,
        other => number(other).is_some_and(|a| value.parse::<f64>() == Ok(a)),
    }
}

fn default_text(default: &Value) -> String {
    match default {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn every_parameter_constrains_its_values_and_says_why() {
    let template = Template::load();
    let mut problems = Vec::new();
    for (name, param) in template.section("Parameters") {
        let kind = param
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let has = |key: &str| param.get(key).is_some();
        let constrained = match kind {
            "Number" => has("AllowedValues") || (has("MinValue") && has("MaxValue")),
            "String" | "CommaDelimitedList" => has("AllowedValues") || has("AllowedPattern"),
            other => {
                problems.push(format!(
                    "{name} has type {other:?}; expected String, Number or CommaDelimitedList"
                ));
                continue;
            }
        };
        if !constrained {
            problems.push(format!("{name} accepts any value: give it AllowedValues, AllowedPattern or MinValue and MaxValue"));
        }
        let free_form = has("AllowedPattern") || has("MinValue") || has("MaxValue");
        if free_form && !has("ConstraintDescription") {
            problems.push(format!(
                "{name} has constraints but no ConstraintDescription saying why"
            ));
        }
        if !has("Description") {
            problems.push(format!(
                "{name} has no Description for `sam deploy --guided`"
            ));
        }
        if let Some(default) = param.get("Default") {
            let text = default_text(default);
            let items: Vec<&str> = if kind == "CommaDelimitedList" {
                text.split(',').collect()
            } else {
                vec![text.as_str()]
            };
            for item in items.into_iter().filter(|item| !accepts(param, item)) {
                problems.push(format!(
                    "{name}'s Default {item:?} breaks its own constraints"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "parameters let bad input through:\n- {}",
        problems.join("\n- ")
    );
}

#[test]
fn bad_inputs_from_the_issue_fail_at_deploy_time() {
    let template = Template::load();

    let bucket = template.parameter("BucketName");
    for bad in [
        "assets.example.com",
        "my.bucket",
        "Uppercase",
        "ab",
        "-leading-hyphen",
        "trailing-",
    ] {
        assert!(!accepts(bucket, bad), "BucketName must refuse {bad:?}");
    }
    for good in ["", "vetted-uploads", "vetted-123456789012-eu-west-1"] {
        assert!(accepts(bucket, good), "BucketName must accept {good:?}");
    }
    let why = bucket
        .get("ConstraintDescription")
        .and_then(Value::as_str)
        .unwrap_or_default();
    assert!(
        why.contains("Transfer Acceleration") && why.contains("dots"),
        "BucketName's ConstraintDescription must say that Transfer Acceleration refuses dots: {why:?}"
    );

    // Retention periods: a negative or zero number of days never reaches S3.
    for name in [
        "IncomingRetentionDays",
        "QuarantineRetentionDays",
        "NoncurrentVersionRetentionDays",
        "AbortMultipartDays",
    ] {
        let param = template.parameter(name);
        for bad in ["-1", "0", "seven"] {
            assert!(!accepts(param, bad), "{name} must refuse {bad:?}");
        }
    }
    let receives = template.parameter("MaxReceiveCount");
    assert!(
        !accepts(receives, "4"),
        "MaxReceiveCount must refuse fewer than 5 receives"
    );

    // The retention parameters must be the ones the lifecycle rules use, on the right prefixes.
    let lifecycle = template
        .resource("UploadBucket")
        .and_then(|b| b.pointer("/Properties/LifecycleConfiguration/Rules"))
        .and_then(Value::as_array)
        .expect("UploadBucket has lifecycle rules");
    for (prefix, param) in [
        ("incoming/", "IncomingRetentionDays"),
        ("quarantine/", "QuarantineRetentionDays"),
    ] {
        let expires = lifecycle.iter().any(|rule| {
            rule.get("Prefix").and_then(Value::as_str) == Some(prefix)
                && rule.get("ExpirationInDays").and_then(ref_target) == Some(param)
        });
        assert!(
            expires,
            "no lifecycle rule expires {prefix} after {param} days"
        );
    }
    let aborts = lifecycle
        .iter()
        .any(|r| r.get("AbortIncompleteMultipartUpload").is_some());
    assert!(
        aborts,
        "no lifecycle rule aborts incomplete multipart uploads"
    );
}

#[test]
fn every_rule_assertion_says_why() {
    let template = Template::load();
    let rules = template.section("Rules");
    let mut problems = Vec::new();
    for (name, rule) in rules {
        let assertions = rule.get("Assertions").and_then(Value::as_array);
        let Some(assertions) = assertions.filter(|a| !a.is_empty()) else {
            problems.push(format!("rule {name} has no Assertions"));
            continue;
        };
        for (i, assertion) in assertions.iter().enumerate() {
            let why = assertion
                .get("AssertDescription")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if why.trim().len() < 20 {
                problems.push(format!("rule {name}, assertion {i}: AssertDescription {why:?} does not explain the failure"));
            }
        }
    }
    let guards_domain = rules
        .values()
        .any(|r| r.to_string().contains("CdnDomainName"));
    if !guards_domain {
        problems
            .push("no rule ties CdnDomainName to a certificate and the distribution".to_owned());
    }
    assert!(problems.is_empty(), "rules:\n- {}", problems.join("\n- "));
}

#[test]
fn globally_visible_names_come_from_parameters() {
    let template = Template::load();
    let name_keys = [
        "BucketName",
        "TableName",
        "QueueName",
        "FunctionName",
        "Name",
        "LogGroupName",
        "UserPoolName",
        "TopicName",
        "AlarmName",
    ];
    let mut problems = Vec::new();
    for (id, body) in template.section("Resources") {
        for key in name_keys {
            if let Some(Value::String(literal)) = body.pointer(&format!("/Properties/{key}")) {
                problems.push(format!(
                    "{id}.{key} is the literal {literal:?}; derive it from NamePrefix"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "names that would clash between stacks:\n- {}",
        problems.join("\n- ")
    );
}
