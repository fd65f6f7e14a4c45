//! Unit tests of POST policy decoding and condition evaluation.

use serde_json::json;

use super::*;

fn encode(document: &Value) -> String {
    STANDARD.encode(document.to_string())
}

fn at(rfc3339: &str) -> Timestamp {
    Timestamp::parse_rfc3339(rfc3339).unwrap()
}

fn fields(pairs: &[(&str, &str)]) -> FormFields {
    let mut fields = FormFields::default();
    for (name, value) in pairs {
        fields.insert(name, (*value).to_owned()).unwrap();
    }
    fields
}

/// The shape boto3's `generate_presigned_post` produces.
fn boto_like_policy() -> Value {
    json!({
        "expiration": "2030-01-01T00:05:00Z",
        "conditions": [
            {"Content-Type": "image/png"},
            ["content-length-range", 1, 1000],
            {"bucket": "uploads"},
            {"key": "incoming/owner-1/u"},
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
            {"x-amz-credential": "AKID/20300101/us-east-1/s3/aws4_request"},
            {"x-amz-date": "20300101T000000Z"}
        ]
    })
}

fn boto_like_fields() -> FormFields {
    fields(&[
        ("Content-Type", "image/png"),
        ("key", "incoming/owner-1/u"),
        ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
        (
            "x-amz-credential",
            "AKID/20300101/us-east-1/s3/aws4_request",
        ),
        ("x-amz-date", "20300101T000000Z"),
        ("policy", "ignored"),
        ("x-amz-signature", "ignored"),
    ])
}

const NOW: &str = "2030-01-01T00:00:00Z";

#[test]
fn decodes_a_boto3_style_policy() {
    let policy = PostPolicy::decode(&encode(&boto_like_policy())).unwrap();
    assert_eq!(policy.expiration, at("2030-01-01T00:05:00Z"));
    assert_eq!(policy.conditions.len(), 7);
    assert_eq!(
        policy.conditions[0],
        Condition::Eq {
            field: "content-type".to_owned(),
            value: "image/png".to_owned()
        }
    );
    assert_eq!(
        policy.conditions[1],
        Condition::ContentLengthRange { min: 1, max: 1000 }
    );
    let range = policy
        .evaluate(&boto_like_fields(), "uploads", at(NOW))
        .unwrap();
    assert_eq!(
        range,
        SizeRange {
            min: 1,
            max: Some(1000)
        }
    );
}

#[test]
fn bad_documents_are_invalid_policy_documents() {
    let bad = [
        "not base64!".to_owned(),
        STANDARD.encode("not json"),
        STANDARD.encode([0xff, 0xfe]),
        encode(&json!(["a list"])),
        encode(&json!({"conditions": []})),
        encode(&json!({"expiration": "2030-01-01T00:00:00Z"})),
        encode(&json!({"expiration": "tomorrow", "conditions": []})),
        encode(&json!({"expiration": 12, "conditions": []})),
        encode(&json!({"expiration": "2030-01-01T00:00:00Z", "conditions": {}})),
        encode(&json!({"expiration": "2030-01-01T00:00:00Z", "conditions": [], "extra": 1})),
        encode(
            &json!({"expiration": "2030-01-01T00:00:00Z", "conditions": [["ends-with", "$key", "x"]]}),
        ),
        encode(&json!({"expiration": "2030-01-01T00:00:00Z", "conditions": [["eq", "key", "x"]]})),
        encode(&json!({"expiration": "2030-01-01T00:00:00Z", "conditions": [["eq", "$", "x"]]})),
        encode(&json!({"expiration": "2030-01-01T00:00:00Z", "conditions": [["eq", "$key"]]})),
        encode(&json!({"expiration": "2030-01-01T00:00:00Z", "conditions": [["eq", "$key", 5]]})),
        encode(&json!({"expiration": "2030-01-01T00:00:00Z", "conditions": [{"key": 5}]})),
        encode(&json!({"expiration": "2030-01-01T00:00:00Z", "conditions": ["key"]})),
        encode(&json!({"expiration": "2030-01-01T00:00:00Z", "conditions": [[]]})),
        encode(
            &json!({"expiration": "2030-01-01T00:00:00Z", "conditions": [["content-length-range", 10, 1]]}),
        ),
        encode(
            &json!({"expiration": "2030-01-01T00:00:00Z", "conditions": [["content-length-range", -1, 1]]}),
        ),
        encode(
            &json!({"expiration": "2030-01-01T00:00:00Z", "conditions": [["content-length-range", 1.5, 2]]}),
        ),
        encode(
            &json!({"expiration": "2030-01-01T00:00:00Z", "conditions": [["content-length-range", "1e3", 2]]}),
        ),
        encode(
            &json!({"expiration": "2030-01-01T00:00:00Z", "conditions": [["content-length-range", 1]]}),
        ),
    ];
    for encoded in bad {
        let error = PostPolicy::decode(&encoded).unwrap_err();
        assert_eq!(error.code, S3ErrorCode::InvalidPolicyDocument, "{encoded}");
    }
}

#[test]
fn lengths_may_be_digit_strings_and_ops_any_case() {
    let policy = PostPolicy::decode(&encode(&json!({
        "expiration": "2030-01-01T00:00:00.000Z",
        "conditions": [["Content-Length-Range", "5", "10"], ["EQ", "$Key", "k"]]
    })))
    .unwrap();
    assert_eq!(
        policy.conditions,
        vec![
            Condition::ContentLengthRange { min: 5, max: 10 },
            Condition::Eq {
                field: "key".to_owned(),
                value: "k".to_owned()
            }
        ]
    );
}

fn check(conditions: Value, form: &[(&str, &str)]) -> Result<SizeRange, S3Error> {
    let policy = PostPolicy::decode(&encode(&json!({
        "expiration": "2030-01-01T00:05:00Z",
        "conditions": conditions
    })))
    .unwrap();
    policy.evaluate(&fields(form), "uploads", at(NOW))
}

#[test]
fn every_condition_must_hold() {
    let error = check(
        json!([["eq", "$Content-Type", "image/png"]]),
        &[("content-type", "text/html")],
    )
    .unwrap_err();
    assert_eq!(error.code, S3ErrorCode::AccessDenied);
    assert!(error.message.contains("Policy Condition failed"));
    assert!(error.message.contains("$content-type"));
    // Values are compared exactly, names without regard to case.
    check(
        json!([["eq", "$CONTENT-TYPE", "image/png"]]),
        &[("Content-Type", "image/png")],
    )
    .unwrap();
    check(
        json!([["eq", "$content-type", "image/png"]]),
        &[("content-type", "IMAGE/PNG")],
    )
    .unwrap_err();
    // A condition on an absent field fails.
    check(json!([["eq", "$key", "k"]]), &[]).unwrap_err();
}

#[test]
fn starts_with_matches_prefixes_and_lists_of_types() {
    check(
        json!([["starts-with", "$key", "incoming/owner-1/"]]),
        &[("key", "incoming/owner-1/x")],
    )
    .unwrap();
    check(
        json!([["starts-with", "$key", "incoming/owner-1/"]]),
        &[("key", "incoming/owner-2/x")],
    )
    .unwrap_err();
    check(
        json!([["starts-with", "$x-amz-meta-tag", ""]]),
        &[("x-amz-meta-tag", "anything")],
    )
    .unwrap();
    check(json!([["starts-with", "$x-amz-meta-tag", ""]]), &[]).unwrap();
    check(
        json!([["starts-with", "$Content-Type", "image/"]]),
        &[("content-type", "image/png,image/jpeg")],
    )
    .unwrap();
    check(
        json!([["starts-with", "$Content-Type", "image/"]]),
        &[("content-type", "image/png,text/html")],
    )
    .unwrap_err();
}

#[test]
fn the_bucket_condition_is_checked_against_the_url_bucket() {
    check(json!([{"bucket": "uploads"}]), &[]).unwrap();
    let error = check(json!([{"bucket": "other"}]), &[]).unwrap_err();
    assert_eq!(error.code, S3ErrorCode::AccessDenied);
}

#[test]
fn every_field_but_the_exempt_ones_must_be_named() {
    let error = check(
        json!([{"key": "k"}]),
        &[
            ("key", "k"),
            ("Content-Type", "text/html"),
            ("acl", "public-read"),
        ],
    )
    .unwrap_err();
    assert_eq!(error.code, S3ErrorCode::AccessDenied);
    assert!(
        error
            .message
            .contains("Extra input fields: content-type, acl")
    );
    check(
        json!([{"key": "k"}]),
        &[
            ("key", "k"),
            ("policy", "p"),
            ("X-Amz-Signature", "s"),
            ("x-ignore-flash", "1"),
            ("X-Ignore-Other", "1"),
        ],
    )
    .unwrap();
    assert!(is_exempt("FILE"));
    assert!(!is_exempt("x-amz-credential"));
}

#[test]
fn an_expired_policy_is_refused() {
    let policy = PostPolicy::decode(&encode(&boto_like_policy())).unwrap();
    let error = policy
        .evaluate(&boto_like_fields(), "uploads", at("2030-01-01T00:05:01Z"))
        .unwrap_err();
    assert_eq!(error.code, S3ErrorCode::AccessDenied);
    assert!(error.message.contains("Policy expired"));
    policy
        .evaluate(&boto_like_fields(), "uploads", at("2030-01-01T00:05:00Z"))
        .unwrap();
}

#[test]
fn several_length_ranges_intersect() {
    let range = check(
        json!([
            ["content-length-range", 10, 100],
            ["content-length-range", 20, 200]
        ]),
        &[],
    )
    .unwrap();
    assert_eq!(
        range,
        SizeRange {
            min: 20,
            max: Some(100)
        }
    );
    assert_eq!(
        check(json!([]), &[]).unwrap(),
        SizeRange { min: 0, max: None }
    );
}
