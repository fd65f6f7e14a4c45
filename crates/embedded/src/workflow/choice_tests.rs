//! Unit tests of Choice rules: parsing, evaluation, wildcard matching.
use serde_json::json;

use super::*;
use crate::workflow::choice_eval::glob;
use crate::workflow::paths::PathError;

fn rule(value: Value) -> Rule {
    parse_rule("C", "Choices[0].", &value, true).unwrap()
}

fn eval(value: Value, input: Value) -> Result<bool, PathError> {
    rule(value).evaluate(&input, &json!({}))
}

#[test]
fn comparisons_follow_their_types() {
    let input = json!({"s": "b", "n": 5, "t": "2024-01-02T00:00:00Z", "b": true, "z": null});
    let yes = |r: Value| assert!(eval(r.clone(), input.clone()).unwrap(), "{r}");
    let no = |r: Value| assert!(!eval(r.clone(), input.clone()).unwrap(), "{r}");
    yes(json!({"Variable": "$.s", "StringEquals": "b", "Next": "X"}));
    yes(json!({"Variable": "$.s", "StringGreaterThan": "a", "Next": "X"}));
    no(json!({"Variable": "$.n", "StringEquals": "5", "Next": "X"}));
    yes(json!({"Variable": "$.n", "NumericLessThanEquals": 5, "Next": "X"}));
    yes(json!({"Variable": "$.n", "NumericEqualsPath": "$.n", "Next": "X"}));
    no(json!({"Variable": "$.n", "NumericGreaterThanPath": "$.n", "Next": "X"}));
    yes(json!({"Variable": "$.b", "BooleanEquals": true, "Next": "X"}));
    yes(json!({"Variable": "$.t", "TimestampLessThan": "2024-01-03T00:00:00Z", "Next": "X"}));
    yes(json!({"Variable": "$.z", "IsNull": true, "Next": "X"}));
    yes(json!({"Variable": "$.missing", "IsPresent": false, "Next": "X"}));
    yes(json!({"Variable": "$.s", "StringMatches": "*b", "Next": "X"}));
    yes(json!({"And": [{"Variable": "$.n", "NumericEquals": 5},
                       {"Not": {"Variable": "$.s", "StringEquals": "c"}}], "Next": "X"}));
    no(json!({"Or": [{"Variable": "$.n", "NumericEquals": 6},
                     {"Variable": "$.s", "StringEquals": "c"}], "Next": "X"}));
}

#[test]
fn a_missing_variable_is_an_error() {
    let r = json!({"Variable": "$.missing", "StringEquals": "x", "Next": "X"});
    assert!(eval(r, json!({})).is_err());
}

#[test]
fn malformed_rules_are_refused_with_their_field() {
    for (bad, field) in [
        (json!({"Variable": "$.a", "Next": "X"}), "Choices[0]"),
        (
            json!({"Variable": "$.a", "StringEquals": 1, "Next": "X"}),
            "Choices[0].StringEquals",
        ),
        (
            json!({"Variable": "$.a[*]", "StringEquals": "x", "Next": "X"}),
            "Choices[0].Variable",
        ),
        (
            json!({"Variable": "$.a", "StringEquals": "x", "Bogus": 1, "Next": "X"}),
            "Choices[0].Bogus",
        ),
        (
            json!({"And": [{"Variable": "$.a", "StringEquals": "x", "Next": "Y"}], "Next": "X"}),
            "Choices[0].And[0].Next",
        ),
        (
            json!({"Variable": "$.a", "TimestampEquals": "yesterday", "Next": "X"}),
            "Choices[0].TimestampEquals",
        ),
    ] {
        let err = parse_rule("C", "Choices[0].", &bad, true).unwrap_err();
        assert!(
            err.to_string().contains(&format!("field \"{field}\"")),
            "{err}"
        );
    }
}

#[test]
fn glob_patterns() {
    assert!(glob("*.log", "a.log"));
    assert!(glob("a*b*c", "aXbYc"));
    assert!(!glob("a*b", "ac"));
    assert!(glob("a\\*", "a*"));
    assert!(!glob("a\\*", "ab"));
    assert!(glob("*", ""));
}
