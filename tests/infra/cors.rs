//! The upload bucket's CORS rule against what a browser sends with a presigned PUT: every
//! header the signer makes the browser send must be allowed, or the preflight fails and the
//! upload never starts.

use serde_json::Value;
use vetted_aws::presign::S3Presigner;
use vetted_core::ports::{UploadGrant, UploadSigner};
use vetted_core::presign::{BucketEndpoint, S3Target};
use vetted_core::{ImageType, ObjectKey, SystemClock, UploadId};

use crate::template::Template;

/// Headers a page's script cannot set: the browser sends them itself, outside the preflight.
const FORBIDDEN_REQUEST_HEADERS: [&str; 2] = ["content-length", "host"];

fn allowed_headers(template: &Template) -> Vec<String> {
    let buckets = template.resources_of_type("AWS::S3::Bucket");
    let rules: Vec<&Value> = buckets
        .iter()
        .filter_map(|(_, bucket)| bucket.pointer("/Properties/CorsConfiguration/CorsRules"))
        .flat_map(|rules| rules.as_array().into_iter().flatten())
        .filter(|rule| {
            rule["AllowedMethods"]
                .as_array()
                .is_some_and(|methods| methods.iter().any(|m| m == "PUT"))
        })
        .collect();
    assert_eq!(rules.len(), 1, "expected one CORS rule allowing PUT");
    rules[0]["AllowedHeaders"]
        .as_array()
        .expect("the PUT rule lists its AllowedHeaders")
        .iter()
        .map(|h| h.as_str().expect("a header name").to_ascii_lowercase())
        .collect()
}

/// S3 matches `AllowedHeaders` case-insensitively, with at most one `*` wildcard.
fn allows(pattern: &str, header: &str) -> bool {
    match pattern.split_once('*') {
        Some((head, tail)) => {
            header.len() >= head.len() + tail.len()
                && header.starts_with(head)
                && header.ends_with(tail)
        }
        None => pattern == header,
    }
}

#[tokio::test]
async fn the_cors_rule_allows_every_header_a_presigned_put_makes_the_browser_send() {
    let template = Template::load();
    let allowed = allowed_headers(&template);
    let target = S3Target::new(
        "vetted-uploads",
        "eu-west-1",
        BucketEndpoint::choose(false, None).unwrap(),
    )
    .unwrap();
    let signer = S3Presigner::with_static_credentials(target, "AKIDEXAMPLE", "secret");
    let upload_id = UploadId::generate();
    let grant = UploadGrant {
        upload_id,
        key: ObjectKey::incoming(&"r1/logo".parse().unwrap(), &upload_id),
        content_type: ImageType::Png,
        length: 1..=1024,
        sha256: None,
        now: vetted_core::Clock::now(&SystemClock),
        expires_in: std::time::Duration::from_secs(300),
    };
    let put = signer.presign_put(&grant).await.unwrap();
    let sent: Vec<String> = put
        .headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .filter(|name| !FORBIDDEN_REQUEST_HEADERS.contains(&name.as_str()))
        .collect();
    assert!(
        sent.iter().any(|h| h == "if-none-match"),
        "the presigned PUT is expected to sign If-None-Match: {sent:?}"
    );
    for header in &sent {
        assert!(
            allowed.iter().any(|pattern| allows(pattern, header)),
            "the bucket's CORS AllowedHeaders {allowed:?} refuse {header}, which a presigned \
             PUT makes the browser send: the preflight would fail"
        );
    }
}

#[test]
fn wildcards_match_as_s3_matches_them() {
    assert!(allows("x-amz-*", "x-amz-checksum-sha256"));
    assert!(!allows("x-amz-*", "if-none-match"));
    assert!(allows("if-none-match", "if-none-match"));
    assert!(allows("*", "anything"));
}
