//! Tests of `S3Presigner` that need no server: URL styles, signed headers, session tokens.
//! `vetted-api`'s `s3s_verifies_signatures` test proves the signatures against a real S3 server.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use vetted_core::ports::{UploadGrant, UploadSigner};
use vetted_core::presign::{BucketEndpoint, S3Target};
use vetted_core::{ImageType, ObjectKey, SlotRef, Timestamp, UploadId};

use super::*;

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-03-01T10:20:30Z").unwrap()
}

fn grant() -> UploadGrant {
    let upload_id = UploadId::generate();
    UploadGrant {
        upload_id,
        key: ObjectKey::incoming(&"r1/logo".parse::<SlotRef>().unwrap(), &upload_id),
        content_type: ImageType::Jpeg,
        length: 1..=5000,
        sha256: None,
        now: now(),
        expires_in: Duration::from_secs(300),
    }
}

fn presigner(endpoint: BucketEndpoint) -> S3Presigner {
    let target = S3Target::new("vetted-uploads", "eu-west-1", endpoint).unwrap();
    S3Presigner::with_static_credentials(target, "AKIDEXAMPLE", "secret")
}

fn query_param<'a>(url: &'a str, name: &str) -> &'a str {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} missing from {url}"))
}

#[tokio::test]
async fn put_signs_type_size_and_if_none_match() {
    let grant = grant();
    let put = presigner(BucketEndpoint::VirtualHosted)
        .presign_put(&grant)
        .await
        .unwrap();
    let expected_prefix = format!(
        "https://vetted-uploads.s3.eu-west-1.amazonaws.com/{}?",
        grant.key
    );
    assert!(put.url.starts_with(&expected_prefix), "{}", put.url);
    let signed = query_param(&put.url, "X-Amz-SignedHeaders");
    assert_eq!(
        signed,
        "content-length%3Bcontent-type%3Bhost%3Bif-none-match"
    );
    assert_eq!(query_param(&put.url, "X-Amz-Expires"), "300");
    assert_eq!(query_param(&put.url, "X-Amz-Date"), "20260301T102030Z");
    let mut headers = put.headers.clone();
    headers.sort();
    assert_eq!(
        headers,
        [
            ("content-length".to_owned(), "5000".to_owned()),
            ("content-type".to_owned(), "image/jpeg".to_owned()),
            ("if-none-match".to_owned(), "*".to_owned()),
        ]
    );
    assert_eq!(
        put.expires_at,
        now().saturating_add(Duration::from_secs(300))
    );
}

#[tokio::test]
async fn acceleration_uses_the_accelerate_host_for_post_and_put() {
    let signer = presigner(BucketEndpoint::Accelerated);
    let grant = grant();
    let put = signer.presign_put(&grant).await.unwrap();
    assert!(
        put.url
            .starts_with("https://vetted-uploads.s3-accelerate.amazonaws.com/incoming/"),
        "{}",
        put.url
    );
    let post = signer.presign_post(&grant).await.unwrap();
    assert_eq!(
        post.url,
        "https://vetted-uploads.s3-accelerate.amazonaws.com/"
    );
}

#[tokio::test]
async fn a_custom_endpoint_keeps_its_base_path_in_every_url() {
    let signer = presigner(BucketEndpoint::PathStyle {
        base_url: "http://127.0.0.1:8080/s3".into(),
    });
    let grant = grant();
    let put = signer.presign_put(&grant).await.unwrap();
    let expected = format!("http://127.0.0.1:8080/s3/vetted-uploads/{}?", grant.key);
    assert!(put.url.starts_with(&expected), "{}", put.url);
    let get = signer
        .presign_get(&grant.key, now(), Duration::from_secs(60))
        .await
        .unwrap();
    assert!(get.starts_with(&expected), "{get}");
    let post = signer.presign_post(&grant).await.unwrap();
    assert_eq!(post.url, "http://127.0.0.1:8080/s3/vetted-uploads");
}

#[tokio::test]
async fn temporary_credentials_put_the_session_token_in_the_form() {
    let target =
        S3Target::new("vetted-uploads", "eu-west-1", BucketEndpoint::VirtualHosted).unwrap();
    let keys = aws_credential_types::Credentials::new(
        "ASIAEXAMPLE",
        "secret",
        Some("session-token-value".into()),
        None,
        "test",
    );
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .credentials_provider(SharedCredentialsProvider::new(keys))
        .build();
    let signer = S3Presigner::new(&sdk, target).unwrap();
    let grant = grant();
    let post = signer.presign_post(&grant).await.unwrap();
    let token = post
        .fields
        .iter()
        .find(|(name, _)| name == "x-amz-security-token")
        .map(|(_, value)| value.as_str());
    assert_eq!(token, Some("session-token-value"));
    let put = signer.presign_put(&grant).await.unwrap();
    assert_eq!(
        query_param(&put.url, "X-Amz-Security-Token"),
        "session-token-value"
    );
}

#[test]
fn a_config_without_credentials_is_refused_at_start_up() {
    let target =
        S3Target::new("vetted-uploads", "eu-west-1", BucketEndpoint::VirtualHosted).unwrap();
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .build();
    assert!(matches!(
        S3Presigner::new(&sdk, target),
        Err(PresignerSetupError::NoCredentials)
    ));
}

#[tokio::test]
async fn out_of_range_expiries_are_refused_before_signing() {
    let mut grant = grant();
    grant.expires_in = Duration::from_secs(8 * 24 * 3600);
    let err = presigner(BucketEndpoint::VirtualHosted)
        .presign_put(&grant)
        .await
        .unwrap_err();
    assert!(matches!(err, SignerError::Invalid(_)), "{err:?}");
}
