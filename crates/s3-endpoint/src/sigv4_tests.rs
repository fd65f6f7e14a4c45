//! Unit tests of the SigV4 building blocks: AWS's documented example and edge cases of
//! encoding.

use super::*;

const AWS_EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn example_scope() -> CredentialScope {
    CredentialScope::parse("AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request").unwrap()
}

/// The presigned GET of `examplebucket/test.txt` in "Authenticating Requests: Using Query
/// Parameters (AWS Signature Version 4)", step by step.
#[test]
fn reproduces_the_documented_presigned_get_example() {
    let query = parse_query(Some(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=ignored",
    ))
    .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("host", "examplebucket.s3.amazonaws.com".parse().unwrap());
    let signed = vec!["host".to_owned()];
    let canonical = canonical_request(
        "GET",
        &canonical_uri("/test.txt").unwrap(),
        &canonical_query(&query),
        &canonical_headers(&headers, &signed),
        "host",
        UNSIGNED_PAYLOAD,
    );
    assert_eq!(
        canonical,
        "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\nhost:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD"
    );
    assert_eq!(
        sha256_hex(canonical.as_bytes()),
        "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"
    );
    let scope = example_scope();
    let to_sign = string_to_sign("20130524T000000Z", &scope, &canonical);
    let key = signing_key(AWS_EXAMPLE_SECRET, "20130524", "us-east-1", "s3");
    assert_eq!(
        signature(&key, &to_sign),
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );
}

#[test]
fn signing_key_and_signature_agree_with_aws_sigv4() {
    use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
    use std::time::{Duration, UNIX_EPOCH};
    let at = UNIX_EPOCH + Duration::from_secs(1_369_353_600); // 2013-05-24T00:00:00Z
    let theirs = generate_signing_key("s3cr3t/+=", at, "eu-west-3", "s3");
    let ours = signing_key("s3cr3t/+=", "20130524", "eu-west-3", "s3");
    assert_eq!(theirs.as_ref(), ours.as_slice());
    let policy = "eyJleHBpcmF0aW9uIjoiMjAzMC0wMS0wMVQwMDowMDowMFoifQ==";
    assert_eq!(
        calculate_signature(theirs, policy.as_bytes()),
        signature(&ours, policy)
    );
}

#[test]
fn uri_encoding_follows_sigv4() {
    assert_eq!(uri_encode("a b+c/d~e_f-g.h", true), "a%20b%2Bc/d~e_f-g.h");
    assert_eq!(uri_encode("a b+c/d", false), "a%20b%2Bc%2Fd");
    assert_eq!(uri_encode("é*", false), "%C3%A9%2A");
    assert_eq!(uri_encode("", false), "");
}

#[test]
fn canonical_uri_decodes_once_and_encodes_once() {
    assert_eq!(canonical_uri("/s3/b/a%20b").unwrap(), "/s3/b/a%20b");
    assert_eq!(canonical_uri("/s3/b/a b").unwrap(), "/s3/b/a%20b");
    // An encoded percent sign stays one level encoded: no double decoding.
    assert_eq!(canonical_uri("/s3/b/100%25").unwrap(), "/s3/b/100%25");
    // A literal '+' in a path is a plus, not a space.
    assert_eq!(canonical_uri("/s3/b/a+b").unwrap(), "/s3/b/a%2Bb");
    // Dot segments are not normalised for S3.
    assert_eq!(canonical_uri("/s3/b/./x").unwrap(), "/s3/b/./x");
    assert_eq!(canonical_uri("").unwrap(), "/");
    assert!(canonical_uri("/%FF").is_err());
}

#[test]
fn canonical_query_sorts_encodes_and_drops_the_signature() {
    let pairs = parse_query(Some(
        "b=2&a=x%20y&X-Amz-Signature=s&a=1&empty&c=%2F&plus=a+b",
    ))
    .unwrap();
    assert_eq!(
        canonical_query(&pairs),
        "a=1&a=x%20y&b=2&c=%2F&empty=&plus=a%2Bb"
    );
    assert_eq!(canonical_query(&[]), "");
    assert!(parse_query(Some("a=%C3%28")).is_err());
    assert_eq!(parse_query(None).unwrap(), vec![]);
    assert_eq!(parse_query(Some("&&")).unwrap(), vec![]);
}

#[test]
fn canonical_headers_trim_collapse_join_and_mark_missing() {
    let mut headers = HeaderMap::new();
    headers.insert("host", "example.com:8080".parse().unwrap());
    headers.append("x-amz-meta-a", "  one   two  ".parse().unwrap());
    headers.append("x-amz-meta-a", "three".parse().unwrap());
    let signed = vec![
        "host".to_owned(),
        "if-none-match".to_owned(),
        "x-amz-meta-a".to_owned(),
    ];
    assert_eq!(
        canonical_headers(&headers, &signed),
        "host:example.com:8080\nif-none-match:\nx-amz-meta-a:one two,three\n"
    );
}

#[test]
fn credential_scope_is_parsed_strictly() {
    let scope = example_scope();
    assert_eq!(scope.scope(), "20130524/us-east-1/s3/aws4_request");
    assert_eq!(scope.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    for bad in [
        "",
        "AKID/20130524/us-east-1/s3",
        "AKID/20130524/us-east-1/s3/aws4_request/extra",
        "/20130524/us-east-1/s3/aws4_request",
        "AKID/2013-05-24/us-east-1/s3/aws4_request",
        "AKID/20130524//s3/aws4_request",
    ] {
        assert!(CredentialScope::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        CredentialScope::parse("AKID/20130524/us-east-1/sqs/aws4_request"),
        Err(ScopeError::Service("sqs".to_owned()))
    );
    assert_eq!(
        CredentialScope::parse("AKID/20130524/us-east-1/s3/aws5_request"),
        Err(ScopeError::Terminator("aws5_request".to_owned()))
    );
}

#[test]
fn amz_dates_are_the_long_basic_format_only() {
    let at = parse_amz_date("20130524T000000Z").unwrap();
    assert_eq!(at.to_rfc3339(), "2013-05-24T00:00:00.000Z");
    for bad in [
        "",
        "2013-05-24T00:00:00Z",
        "20130524T000000",
        "20130524T250000Z",
        "20131324T000000Z",
        "20130524T000000Z ",
    ] {
        assert!(parse_amz_date(bad).is_none(), "{bad:?}");
    }
}

#[test]
fn constant_time_eq_compares_whole_strings() {
    assert!(constant_time_eq("abc", "abc"));
    assert!(!constant_time_eq("abc", "abd"));
    assert!(!constant_time_eq("abc", "ab"));
    assert!(constant_time_eq("", ""));
}
