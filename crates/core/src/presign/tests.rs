//! Tests of the POST signer, starting with AWS's own published example.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::*;

/// AWS's example credentials, used by the S3 API reference's worked examples.
const EXAMPLE_ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// "Example: Browser-Based Upload using HTTP POST (Using AWS Signature Version 4)", S3 API
/// reference: the policy as published, with the CRLF line ends the page says it must have.
const EXAMPLE_POLICY: &str = concat!(
    "{ \"expiration\": \"2015-12-30T12:00:00.000Z\",\r\n",
    "  \"conditions\": [\r\n",
    "    {\"bucket\": \"sigv4examplebucket\"},\r\n",
    "    [\"starts-with\", \"$key\", \"user/user1/\"],\r\n",
    "    {\"acl\": \"public-read\"},\r\n",
    "    {\"success_action_redirect\": \"http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html\"},\r\n",
    "    [\"starts-with\", \"$Content-Type\", \"image/\"],\r\n",
    "    {\"x-amz-meta-uuid\": \"14365123651274\"},\r\n",
    "    {\"x-amz-server-side-encryption\": \"AES256\"},\r\n",
    "    [\"starts-with\", \"$x-amz-meta-tag\", \"\"],\r\n",
    "\r\n",
    "    {\"x-amz-credential\": \"AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request\"},\r\n",
    "    {\"x-amz-algorithm\": \"AWS4-HMAC-SHA256\"},\r\n",
    "    {\"x-amz-date\": \"20151229T000000Z\" }\r\n",
    "  ]\r\n",
    "}"
);

/// The page's base64 of that policy: the StringToSign.
const EXAMPLE_POLICY_BASE64: &str = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";

/// The page's signature of that policy, with the example credentials, 20151229, us-east-1.
const EXAMPLE_SIGNATURE: &str = "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e";

#[test]
fn aws_published_post_example_signs_to_the_published_signature() {
    let policy_b64 = encode_policy(EXAMPLE_POLICY);
    assert_eq!(policy_b64, EXAMPLE_POLICY_BASE64);
    let at = Timestamp::parse_rfc3339("2015-12-29T00:00:00Z").unwrap();
    assert_eq!(sigv4::scope_date(at), "20151229");
    let signature = sigv4::post_policy_signature(
        EXAMPLE_SECRET,
        &sigv4::scope_date(at),
        "us-east-1",
        &policy_b64,
    );
    assert_eq!(signature, EXAMPLE_SIGNATURE);
    assert_eq!(
        sigv4::credential(EXAMPLE_ACCESS_KEY, "20151229", "us-east-1"),
        "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"
    );
}

fn target() -> S3Target {
    S3Target::new("vetted-uploads", "eu-west-1", BucketEndpoint::VirtualHosted).unwrap()
}

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-03-01T10:20:30.456Z").unwrap()
}

fn sign(credentials: &Credentials, upload: &UploadId) -> PresignedPost {
    let target = target();
    let key = ObjectKey::incoming(&"r1/gallery-1".parse().unwrap(), upload);
    presign_post(
        &PostPolicyRequest {
            target: &target,
            key: &key,
            content_type: ImageType::Png,
            length: 1..=4096,
            sha256: None,
            upload_id: upload,
            now: now(),
            expires_in: DEFAULT_EXPIRES_IN,
        },
        credentials,
    )
    .unwrap()
}

fn field<'a>(post: &'a PresignedPost, name: &str) -> &'a str {
    post.fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no field {name}"))
}

fn decoded_policy(post: &PresignedPost) -> Value {
    let bytes = BASE64.decode(field(post, "policy")).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn the_policy_pins_every_field_exactly() {
    let upload = UploadId::generate();
    let post = sign(&Credentials::new("AKIDEXAMPLE", "secret", None), &upload);
    let key = format!("incoming/r1/gallery-1/{upload}");
    assert_eq!(
        decoded_policy(&post),
        json!({
            "expiration": "2026-03-01T10:25:30.456Z",
            "conditions": [
                {"bucket": "vetted-uploads"},
                {"key": key},
                {"Content-Type": "image/png"},
                ["content-length-range", 1, 4096],
                {"success_action_status": "201"},
                {"x-amz-meta-upload-id": upload.to_string()},
                {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
                {"x-amz-credential": "AKIDEXAMPLE/20260301/eu-west-1/s3/aws4_request"},
                {"x-amz-date": "20260301T102030Z"},
            ]
        })
    );
    assert!(!field(&post, "policy").is_empty());
    assert_eq!(
        post.url,
        "https://vetted-uploads.s3.eu-west-1.amazonaws.com/"
    );
    assert_eq!(post.expires_at, now().saturating_add(DEFAULT_EXPIRES_IN));
}

#[test]
fn a_declared_checksum_is_pinned_by_the_policy_and_sent_as_fields() {
    let target = target();
    let upload = UploadId::generate();
    let key = ObjectKey::incoming(&"r1/logo".parse().unwrap(), &upload);
    let sha256 = ContentSha256::of(b"the file");
    let post = presign_post(
        &PostPolicyRequest {
            target: &target,
            key: &key,
            content_type: ImageType::Png,
            length: 1..=4096,
            sha256: Some(&sha256),
            upload_id: &upload,
            now: now(),
            expires_in: DEFAULT_EXPIRES_IN,
        },
        &Credentials::new("AKIDEXAMPLE", "secret", None),
    )
    .unwrap();
    assert_eq!(field(&post, "x-amz-checksum-algorithm"), "SHA256");
    assert_eq!(field(&post, "x-amz-checksum-sha256"), sha256.to_base64());
    let conditions = decoded_policy(&post)["conditions"].clone();
    let conditions = conditions.as_array().unwrap();
    assert!(conditions.contains(&json!({"x-amz-checksum-algorithm": "SHA256"})));
    assert!(conditions.contains(&json!({"x-amz-checksum-sha256": sha256.to_base64()})));
}

#[test]
fn fields_come_in_browser_order_with_policy_and_signature_last() {
    let upload = UploadId::generate();
    let post = sign(
        &Credentials::new("AKID", "secret", Some("tok/en+=".into())),
        &upload,
    );
    let names: Vec<&str> = post.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "key",
            "Content-Type",
            "success_action_status",
            "x-amz-meta-upload-id",
            "x-amz-algorithm",
            "x-amz-credential",
            "x-amz-date",
            "x-amz-security-token",
            "policy",
            "x-amz-signature",
        ]
    );
    assert!(
        !names.contains(&FILE_FIELD),
        "the file is the caller's last part"
    );
}

#[test]
fn every_field_but_policy_and_signature_is_a_condition() {
    let post = sign(
        &Credentials::new("AKID", "secret", Some("token".into())),
        &UploadId::generate(),
    );
    let policy = decoded_policy(&post);
    let conditions = policy["conditions"].as_array().unwrap();
    for (name, value) in &post.fields {
        if name == "policy" || name == "x-amz-signature" {
            continue;
        }
        let pinned = conditions
            .iter()
            .any(|c| c.get(name) == Some(&json!(value)));
        assert!(pinned, "{name} is not pinned to {value:?}");
    }
    let text = serde_json::to_string(&policy).unwrap();
    assert!(!text.contains("starts-with"), "{text}");
}

#[test]
fn temporary_credentials_send_and_sign_their_session_token() {
    let with = sign(
        &Credentials::new("ASIA1", "secret", Some("session/token==".into())),
        &UploadId::generate(),
    );
    assert_eq!(field(&with, "x-amz-security-token"), "session/token==");
    let conditions = decoded_policy(&with)["conditions"].clone();
    assert!(
        conditions
            .as_array()
            .unwrap()
            .contains(&json!({"x-amz-security-token": "session/token=="}))
    );
    let without = sign(
        &Credentials::new("AKIA1", "secret", None),
        &UploadId::generate(),
    );
    assert!(
        without
            .fields
            .iter()
            .all(|(n, _)| n != "x-amz-security-token")
    );
}

#[test]
fn the_signature_signs_the_policy_that_is_sent() {
    let post = sign(
        &Credentials::new("AKID", "secret", None),
        &UploadId::generate(),
    );
    let expected =
        sigv4::post_policy_signature("secret", "20260301", "eu-west-1", field(&post, "policy"));
    assert_eq!(field(&post, "x-amz-signature"), expected);
    let other_secret =
        sigv4::post_policy_signature("secreT", "20260301", "eu-west-1", field(&post, "policy"));
    assert_ne!(field(&post, "x-amz-signature"), other_secret);
}

#[test]
fn a_cached_signing_key_signs_exactly_as_a_fresh_one() {
    let target = target();
    let upload = UploadId::generate();
    let key = ObjectKey::incoming(&"r1/gallery-1".parse().unwrap(), &upload);
    let creds = Credentials::new("AKID", "secret", Some("tok".into()));
    let request = PostPolicyRequest {
        target: &target,
        key: &key,
        content_type: ImageType::Png,
        length: 1..=9,
        sha256: None,
        upload_id: &upload,
        now: now(),
        expires_in: DEFAULT_EXPIRES_IN,
    };
    let cache = sigv4::SigningKeyCache::new();
    let fresh = presign_post(&request, &creds).unwrap();
    assert_eq!(presign_post_with(&request, &creds, &cache).unwrap(), fresh);
    assert_eq!(presign_post_with(&request, &creds, &cache).unwrap(), fresh);
    let rotated = Credentials::new("AKID", "other-secret", Some("tok".into()));
    assert_eq!(
        presign_post_with(&request, &rotated, &cache).unwrap(),
        presign_post(&request, &rotated).unwrap()
    );
}

#[test]
fn bad_expiries_and_ranges_are_refused() {
    let target = target();
    let upload = UploadId::generate();
    let key = ObjectKey::incoming(&"r1/gallery-1".parse().unwrap(), &upload);
    let creds = Credentials::new("AKID", "secret", None);
    let request = |expires_in, length| PostPolicyRequest {
        target: &target,
        key: &key,
        content_type: ImageType::Jpeg,
        length,
        sha256: None,
        upload_id: &upload,
        now: now(),
        expires_in,
    };
    let zero = Duration::ZERO;
    assert_eq!(
        presign_post(&request(zero, 1..=2), &creds),
        Err(PresignError::Expiry(zero))
    );
    let long = MAX_EXPIRES_IN + Duration::from_secs(1);
    assert_eq!(
        presign_post(&request(long, 1..=2), &creds),
        Err(PresignError::Expiry(long))
    );
    assert_eq!(
        presign_post(&request(DEFAULT_EXPIRES_IN, 0..=2), &creds),
        Err(PresignError::LengthRange { min: 0, max: 2 })
    );
    #[allow(clippy::reversed_empty_ranges)]
    let empty = 3..=2;
    assert!(presign_post(&request(DEFAULT_EXPIRES_IN, empty), &creds).is_err());
}

#[test]
fn short_expiries_warn_about_clock_skew() {
    assert_eq!(check_expires_in(DEFAULT_EXPIRES_IN), Ok(None));
    assert_eq!(check_expires_in(Duration::from_secs(60)), Ok(None));
    let warning = check_expires_in(Duration::from_secs(59)).unwrap().unwrap();
    assert!(warning.contains("clock"), "{warning}");
}

#[test]
fn debug_never_shows_the_secret_or_the_token() {
    let creds = Credentials::new(
        "AKIDVISIBLE",
        "very-secret-key",
        Some("very-secret-token".into()),
    );
    let shown = format!("{creds:?}");
    assert!(shown.contains("AKIDVISIBLE"));
    assert!(!shown.contains("very-secret"), "{shown}");
}

#[test]
fn a_path_style_endpoint_keeps_its_base_path() {
    let target = S3Target::new(
        "vetted",
        "us-east-1",
        BucketEndpoint::PathStyle {
            base_url: "http://127.0.0.1:8080/s3".into(),
        },
    )
    .unwrap();
    let upload = UploadId::generate();
    let key = ObjectKey::incoming(&"r1/gallery-1".parse().unwrap(), &upload);
    let post = presign_post(
        &PostPolicyRequest {
            target: &target,
            key: &key,
            content_type: ImageType::Webp,
            length: 1..=10,
            sha256: None,
            upload_id: &upload,
            now: now(),
            expires_in: DEFAULT_EXPIRES_IN,
        },
        &Credentials::new("vetted-dev", "vetted-dev-secret", None),
    )
    .unwrap();
    assert_eq!(post.url, "http://127.0.0.1:8080/s3/vetted");
}
