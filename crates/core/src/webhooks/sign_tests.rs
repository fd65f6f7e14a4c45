//! Our signatures against the published test vector and the independent `standardwebhooks`
//! crate, in both directions.

use std::time::{SystemTime, UNIX_EPOCH};

use super::*;

const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const VECTOR_TS: i64 = 1_614_265_330;
const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn now() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since.as_secs()).unwrap()
}

fn header_map(headers: &SignedHeaders) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in headers.pairs() {
        map.insert(name, value.parse().unwrap());
    }
    map
}

fn received<'a>(headers: &'a SignedHeaders, timestamp: &'a str) -> Received<'a> {
    Received {
        id: Some(&headers.id),
        timestamp: Some(timestamp),
        signature: Some(&headers.signature),
    }
}

#[test]
fn the_specs_test_vector_signs_as_published() {
    let secret = WebhookSecret::parse(VECTOR_SECRET).unwrap();
    assert_eq!(
        secret.sign(VECTOR_ID, VECTOR_TS, VECTOR_BODY),
        VECTOR_SIGNATURE
    );
    let ts = VECTOR_TS.to_string();
    let got = Received {
        id: Some(VECTOR_ID),
        timestamp: Some(&ts),
        signature: Some(VECTOR_SIGNATURE),
    };
    assert_eq!(
        verify(&secret, &got, VECTOR_BODY, VECTOR_TS + 10, 300),
        Ok(())
    );
}

#[test]
fn the_standardwebhooks_crate_verifies_what_we_sign() {
    let secret = WebhookSecret::from_key(&[7; KEY_BYTES]).unwrap();
    let body = br#"{"id":"e1","type":"upload.published"}"#;
    let headers = SignedHeaders::new("e1", now(), body, &[&secret]);
    let theirs = standardwebhooks::Webhook::new(secret.expose()).unwrap();
    theirs.verify(body, &header_map(&headers)).unwrap();
    // A changed body, id or secret does not verify.
    assert!(theirs.verify(b"{}", &header_map(&headers)).is_err());
    let other = SignedHeaders::new("e2", now(), body, &[&secret]);
    let mut forged = header_map(&headers);
    forged.insert(HEADER_ID, "e2".parse().unwrap());
    assert!(theirs.verify(body, &forged).is_err());
    assert_ne!(other.signature, headers.signature);
    let stranger = WebhookSecret::from_key(&[8; KEY_BYTES]).unwrap();
    let theirs = standardwebhooks::Webhook::new(stranger.expose()).unwrap();
    assert!(theirs.verify(body, &header_map(&headers)).is_err());
}

#[test]
fn we_verify_what_the_standardwebhooks_crate_signs() {
    let secret = WebhookSecret::parse(VECTOR_SECRET).unwrap();
    let theirs = standardwebhooks::Webhook::new(VECTOR_SECRET).unwrap();
    let ts = now();
    let signature = theirs.sign("msg_1", ts, b"hello").unwrap();
    let ts_text = ts.to_string();
    let got = Received {
        id: Some("msg_1"),
        timestamp: Some(&ts_text),
        signature: Some(&signature),
    };
    assert_eq!(verify(&secret, &got, b"hello", ts, 300), Ok(()));
    assert_eq!(
        verify(&secret, &got, b"hellO", ts, 300),
        Err(VerifyError::NoMatch)
    );
}

#[test]
fn during_a_rotation_both_secrets_sign_and_each_verifies_alone() {
    let new = WebhookSecret::from_key(&[1; 24]).unwrap();
    let old = WebhookSecret::from_key(&[2; 64]).unwrap();
    let body = b"{}";
    let headers = SignedHeaders::new("e1", now(), body, &[&new, &old]);
    assert_eq!(headers.signature.split(' ').count(), 2);
    assert!(headers.signature.split(' ').all(|s| s.starts_with("v1,")));
    for secret in [&new, &old] {
        standardwebhooks::Webhook::new(secret.expose())
            .unwrap()
            .verify(body, &header_map(&headers))
            .unwrap();
    }
}

#[test]
fn timestamps_more_than_the_tolerance_away_are_refused() {
    let secret = WebhookSecret::from_key(&[3; 32]).unwrap();
    let at = 1_700_000_000;
    let headers = SignedHeaders::new("e1", at, b"x", &[&secret]);
    let ts = at.to_string();
    let got = received(&headers, &ts);
    assert_eq!(verify(&secret, &got, b"x", at + 300, 300), Ok(()));
    assert_eq!(verify(&secret, &got, b"x", at - 300, 300), Ok(()));
    assert_eq!(
        verify(&secret, &got, b"x", at + 301, 300),
        Err(VerifyError::OutOfTolerance(301, 300))
    );
    assert!(verify(&secret, &got, b"x", at - 301, 300).is_err());
    let missing = Received {
        timestamp: None,
        ..got
    };
    assert_eq!(
        verify(&secret, &missing, b"x", at, 300),
        Err(VerifyError::Missing(HEADER_TIMESTAMP))
    );
    let garbled = Received {
        timestamp: Some("soon"),
        ..got
    };
    assert_eq!(
        verify(&secret, &garbled, b"x", at, 300),
        Err(VerifyError::BadTimestamp)
    );
}

#[test]
fn secrets_are_whsec_base64_of_24_to_64_bytes_and_never_shown_by_debug() {
    assert_eq!(
        WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        Err(SecretError::Prefix)
    );
    assert_eq!(WebhookSecret::parse("whsec_!!!"), Err(SecretError::Base64));
    let short = format!("whsec_{}", STANDARD.encode([0u8; 23]));
    assert_eq!(WebhookSecret::parse(&short), Err(SecretError::Length(23)));
    let long = format!("whsec_{}", STANDARD.encode([0u8; 65]));
    assert_eq!(WebhookSecret::parse(&long), Err(SecretError::Length(65)));
    let ok = WebhookSecret::from_key(&[9; 64]).unwrap();
    assert_eq!(WebhookSecret::parse(ok.expose()).unwrap(), ok);
    let shown = format!("{ok:?} {:?}", SignedHeaders::new("e", 1, b"", &[&ok]));
    assert!(!shown.contains(&ok.expose()[6..]), "{shown}");
}
