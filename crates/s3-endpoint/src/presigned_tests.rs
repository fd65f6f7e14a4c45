//! Unit tests of presigned-URL verification, with URLs signed by an independent signer (the
//! `aws-sigv4` crate), then tampered with.

use std::time::{Duration, UNIX_EPOCH};

use aws_sdk_s3::config::Credentials as SdkCredentials;
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4::SigningParams;

use super::*;

const AKID: &str = "AKIDVETTEDTEST";
const SECRET: &str = "vetted/test+secret";
const REGION: &str = "us-east-1";
const HOST: &str = "127.0.0.1:8080";
const PATH: &str = "/s3/uploads/incoming/owner-1/0190b0c4-7b1e-7000-8000-000000000001";
const SIGNED_AT: u64 = 1_800_000_000;

fn credentials() -> Credentials {
    Credentials {
        access_key_id: AKID.to_owned(),
        secret_access_key: SECRET.to_owned(),
    }
}

fn at(secs: u64) -> Timestamp {
    Timestamp::from_unix_millis(i64::try_from(secs).unwrap() * 1000)
}

/// Presigns with the `aws-sigv4` crate; returns the query string it produced.
fn presign(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    expires: u64,
    key: (&str, &str),
) -> String {
    let identity = SdkCredentials::new(key.0, key.1, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(expires));
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("s3")
        .time(UNIX_EPOCH + Duration::from_secs(SIGNED_AT))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = format!("http://{HOST}{path}");
    let request = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::UnsignedPayload,
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    instructions
        .params()
        .iter()
        .map(|(name, value)| {
            format!(
                "{}={}",
                sigv4::uri_encode(name, false),
                sigv4::uri_encode(value, false)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn header_map(headers: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    map
}

fn verify(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    now: u64,
) -> Result<VerifiedPresign, S3Error> {
    let headers = header_map(headers);
    verify_presigned(
        SignedRequest {
            method,
            raw_path: path,
            raw_query: Some(query),
            headers: &headers,
        },
        &credentials(),
        REGION,
        at(now),
    )
}

fn signed_put() -> (String, Vec<(&'static str, &'static str)>) {
    let headers = vec![("host", HOST), ("content-type", "image/png")];
    (presign("PUT", PATH, &headers, 300, (AKID, SECRET)), headers)
}

#[test]
fn accepts_an_independently_signed_put() {
    let (query, headers) = signed_put();
    let verified = verify("PUT", PATH, &query, &headers, SIGNED_AT + 10).unwrap();
    assert_eq!(verified.access_key_id, AKID);
    assert!(verified.is_signed("content-type"));
    assert!(verified.is_signed("host"));
    assert_eq!(verified.payload, PayloadCheck::Unsigned);
    assert_eq!(verified.expires_at, at(SIGNED_AT + 300));
    // The last second of validity still counts.
    verify("PUT", PATH, &query, &headers, SIGNED_AT + 300).unwrap();
}

#[test]
fn refuses_tampering_with_anything_signed() {
    let (query, headers) = signed_put();
    let code = |result: Result<VerifiedPresign, S3Error>| result.unwrap_err().code;
    let now = SIGNED_AT + 10;
    let other_path = PATH.replace("owner-1", "owner-2");
    assert_eq!(
        code(verify("PUT", &other_path, &query, &headers, now)),
        S3ErrorCode::SignatureDoesNotMatch
    );
    assert_eq!(
        code(verify("GET", PATH, &query, &headers, now)),
        S3ErrorCode::SignatureDoesNotMatch
    );
    let other_type = [("host", HOST), ("content-type", "text/html")];
    assert_eq!(
        code(verify("PUT", PATH, &query, &other_type, now)),
        S3ErrorCode::SignatureDoesNotMatch
    );
    let other_host = [("host", "evil.example"), ("content-type", "image/png")];
    assert_eq!(
        code(verify("PUT", PATH, &query, &other_host, now)),
        S3ErrorCode::SignatureDoesNotMatch
    );
    let longer = query.replace("X-Amz-Expires=300", "X-Amz-Expires=3000");
    assert_eq!(
        code(verify("PUT", PATH, &longer, &headers, now)),
        S3ErrorCode::SignatureDoesNotMatch
    );
    let extra = format!("{query}&x-id=PutObject");
    assert_eq!(
        code(verify("PUT", PATH, &extra, &headers, now)),
        S3ErrorCode::SignatureDoesNotMatch
    );
    let sig_at = query.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut flipped = query.clone().into_bytes();
    flipped[sig_at] = if flipped[sig_at] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    let error = verify("PUT", PATH, &flipped, &headers, now).unwrap_err();
    assert_eq!(error.code, S3ErrorCode::SignatureDoesNotMatch);
    assert!(
        error
            .detail("CanonicalRequest")
            .unwrap()
            .starts_with("PUT\n/s3/uploads/")
    );
    assert!(error.detail("StringToSign").is_some());
}

#[test]
fn refuses_a_wrong_secret_and_an_unknown_key() {
    let headers = [("host", HOST)];
    let wrong_secret = presign("GET", PATH, &headers, 300, (AKID, "not-the-secret"));
    assert_eq!(
        verify("GET", PATH, &wrong_secret, &headers, SIGNED_AT)
            .unwrap_err()
            .code,
        S3ErrorCode::SignatureDoesNotMatch
    );
    let wrong_key = presign("GET", PATH, &headers, 300, ("AKIDOTHER", SECRET));
    assert_eq!(
        verify("GET", PATH, &wrong_key, &headers, SIGNED_AT)
            .unwrap_err()
            .code,
        S3ErrorCode::InvalidAccessKeyId
    );
}

#[test]
fn refuses_expired_and_future_requests() {
    let (query, headers) = signed_put();
    let expired = verify("PUT", PATH, &query, &headers, SIGNED_AT + 301).unwrap_err();
    assert_eq!(expired.code, S3ErrorCode::AccessDenied);
    assert_eq!(expired.message, "Request has expired");
    let early = verify("PUT", PATH, &query, &headers, SIGNED_AT - 3600).unwrap_err();
    assert_eq!(early.code, S3ErrorCode::AccessDenied);
    // Within the allowed skew, a URL from a clock slightly ahead of ours is fine.
    verify("PUT", PATH, &query, &headers, SIGNED_AT - 60).unwrap();
}

#[test]
fn refuses_more_than_a_week_of_validity() {
    let headers = [("host", HOST)];
    let query = presign("GET", PATH, &headers, 604_801, (AKID, SECRET));
    let error = verify("GET", PATH, &query, &headers, SIGNED_AT).unwrap_err();
    assert_eq!(error.code, S3ErrorCode::AuthorizationQueryParametersError);
    let week = presign("GET", PATH, &headers, 604_800, (AKID, SECRET));
    verify("GET", PATH, &week, &headers, SIGNED_AT).unwrap();
}

#[test]
fn missing_and_partial_auth_are_refused_with_s3_codes() {
    let headers = [("host", HOST)];
    let anonymous = verify("GET", PATH, "", &headers, SIGNED_AT).unwrap_err();
    assert_eq!(anonymous.code, S3ErrorCode::AccessDenied);
    let query = presign("GET", PATH, &headers, 300, (AKID, SECRET));
    let partial: String = query
        .split('&')
        .filter(|pair| !pair.starts_with("X-Amz-Date="))
        .collect::<Vec<_>>()
        .join("&");
    assert_eq!(
        verify("GET", PATH, &partial, &headers, SIGNED_AT)
            .unwrap_err()
            .code,
        S3ErrorCode::AuthorizationQueryParametersError
    );
    let doubled = format!("{query}&X-Amz-Date=20300101T000000Z");
    assert_eq!(
        verify("GET", PATH, &doubled, &headers, SIGNED_AT)
            .unwrap_err()
            .code,
        S3ErrorCode::AuthorizationQueryParametersError
    );
    let wrong_algorithm = query.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1");
    assert_eq!(
        verify("GET", PATH, &wrong_algorithm, &headers, SIGNED_AT)
            .unwrap_err()
            .code,
        S3ErrorCode::AuthorizationQueryParametersError
    );
    let wrong_region = query.replace("us-east-1", "eu-west-1");
    assert_eq!(
        verify("GET", PATH, &wrong_region, &headers, SIGNED_AT)
            .unwrap_err()
            .code,
        S3ErrorCode::AuthorizationQueryParametersError
    );
    let with_header = [("host", HOST), ("authorization", "AWS4-HMAC-SHA256 x")];
    assert_eq!(
        verify("GET", PATH, "", &with_header, SIGNED_AT)
            .unwrap_err()
            .code,
        S3ErrorCode::NotImplemented
    );
}

#[test]
fn a_signed_header_missing_from_the_request_fails_the_signature() {
    let signed_with = [("host", HOST), ("if-none-match", "*")];
    let query = presign("PUT", PATH, &signed_with, 300, (AKID, SECRET));
    verify("PUT", PATH, &query, &signed_with, SIGNED_AT).unwrap();
    let without = [("host", HOST)];
    assert_eq!(
        verify("PUT", PATH, &query, &without, SIGNED_AT)
            .unwrap_err()
            .code,
        S3ErrorCode::SignatureDoesNotMatch
    );
}

#[test]
fn unsigned_amz_headers_are_refused() {
    let headers = [("host", HOST)];
    let query = presign("PUT", PATH, &headers, 300, (AKID, SECRET));
    let sneaky = [("host", HOST), ("x-amz-acl", "public-read")];
    let error = verify("PUT", PATH, &query, &sneaky, SIGNED_AT).unwrap_err();
    assert_eq!(error.code, S3ErrorCode::AccessDenied);
    assert_eq!(error.detail("HeadersNotSigned"), Some("x-amz-acl"));
}

#[test]
fn an_unknown_security_token_is_refused() {
    let identity_headers = [("host", HOST)];
    let query = presign("GET", PATH, &identity_headers, 300, (AKID, SECRET));
    // A token changes the canonical query, so a forged one fails the signature first.
    let with_token = format!("{query}&X-Amz-Security-Token=abc");
    assert_eq!(
        verify("GET", PATH, &with_token, &identity_headers, SIGNED_AT)
            .unwrap_err()
            .code,
        S3ErrorCode::SignatureDoesNotMatch
    );
}

#[test]
fn payload_hashes_are_understood() {
    assert_eq!(
        parse_payload_hash("UNSIGNED-PAYLOAD").unwrap(),
        PayloadCheck::Unsigned
    );
    let hash = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
    assert_eq!(
        parse_payload_hash(hash).unwrap(),
        PayloadCheck::Sha256(hash.to_ascii_lowercase())
    );
    assert_eq!(
        parse_payload_hash("STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
            .unwrap_err()
            .code,
        S3ErrorCode::NotImplemented
    );
    assert_eq!(
        parse_payload_hash("abc").unwrap_err().code,
        S3ErrorCode::InvalidArgument
    );
}

#[test]
fn encoded_keys_verify_against_the_path_as_sent() {
    let path = "/s3/uploads/previews/a%20b%2Bc.webp";
    let headers = [("host", HOST)];
    let query = presign("GET", path, &headers, 300, (AKID, SECRET));
    verify("GET", path, &query, &headers, SIGNED_AT).unwrap();
}
