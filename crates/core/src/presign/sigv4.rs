//! The SigV4 pieces a POST policy needs: the signing-key chain, the hex signature, and the
//! date formats that appear in the credential scope and the policy.
//!
//! A browser POST is signed differently from a request: the string to sign is the base64
//! policy itself, not a canonical request. Only the key derivation is shared with SigV4.

use std::fmt::Write as _;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::time::Timestamp;

type HmacSha256 = Hmac<Sha256>;

/// The algorithm name that goes into `x-amz-algorithm`.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The service name in the credential scope of every S3 signature.
pub const S3_SERVICE: &str = "s3";

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC is defined for keys of every length (long keys are hashed first), so this
    // constructor cannot fail; the `Result` only exists for fixed-length MACs.
    #[allow(clippy::expect_used)]
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
/// `date` is the `YYYYMMDD` of the request, in UTC.
pub fn signing_key(secret_access_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut seed = Vec::with_capacity(4 + secret_access_key.len());
    seed.extend_from_slice(b"AWS4");
    seed.extend_from_slice(secret_access_key.as_bytes());
    let k_date = hmac_sha256(&seed, date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// The lowercase hex HMAC-SHA256 of `string_to_sign` under a derived signing key.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(signing_key, string_to_sign.as_bytes()))
}

/// The `x-amz-signature` of a browser POST: the base64 policy is the string to sign.
pub fn post_policy_signature(
    secret_access_key: &str,
    date: &str,
    region: &str,
    base64_policy: &str,
) -> String {
    let key = signing_key(secret_access_key, date, region, S3_SERVICE);
    signature(&key, base64_policy)
}

/// The last signing key derived, reused while the access key, secret, day and region stay the
/// same: the four-HMAC derivation is close to half the cost of a POST signature.
#[derive(Default)]
pub struct SigningKeyCache {
    last: Mutex<Option<CachedKey>>,
}

struct CachedKey {
    access_key_id: String,
    secret_access_key: String,
    date: String,
    region: String,
    key: [u8; 32],
}

impl SigningKeyCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The S3 signing key for these credentials, day and region.
    pub fn get(
        &self,
        access_key_id: &str,
        secret_access_key: &str,
        date: &str,
        region: &str,
    ) -> [u8; 32] {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(cached) = last.as_ref()
            && cached.access_key_id == access_key_id
            && cached.secret_access_key == secret_access_key
            && cached.date == date
            && cached.region == region
        {
            return cached.key;
        }
        let key = signing_key(secret_access_key, date, region, S3_SERVICE);
        *last = Some(CachedKey {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            key,
        });
        key
    }
}

impl std::fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKeyCache(<redacted>)")
    }
}

/// `YYYYMMDD`, the date part of the credential scope.
pub fn scope_date(at: Timestamp) -> String {
    let t = at.to_offset_date_time();
    let mut out = String::with_capacity(8);
    let _ = write!(
        out,
        "{:04}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day()
    );
    out
}

/// `YYYYMMDDTHHMMSSZ`, the form of `x-amz-date`.
pub fn amz_date(at: Timestamp) -> String {
    let t = at.to_offset_date_time();
    let mut out = String::with_capacity(16);
    let _ = write!(
        out,
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    out
}

/// `{access key}/{YYYYMMDD}/{region}/s3/aws4_request`, the value of `x-amz-credential`.
pub fn credential(access_key_id: &str, date: &str, region: &str) -> String {
    format!("{access_key_id}/{date}/{region}/{S3_SERVICE}/aws4_request")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_formatted_in_utc() {
        // 2015-12-29T00:00:00Z, the date of AWS's published POST example.
        let at = Timestamp::from_unix_millis(1_451_347_200_000);
        assert_eq!(scope_date(at), "20151229");
        assert_eq!(amz_date(at), "20151229T000000Z");
        let later = Timestamp::from_unix_millis(1_451_347_200_000 + 86_399_999);
        assert_eq!(amz_date(later), "20151229T235959Z");
    }

    #[test]
    fn the_cache_derives_again_when_anything_in_the_scope_changes() {
        let cache = SigningKeyCache::new();
        let direct = |secret, date, region| signing_key(secret, date, region, S3_SERVICE);
        assert_eq!(
            cache.get("A", "s1", "20260301", "eu-west-1"),
            direct("s1", "20260301", "eu-west-1")
        );
        assert_eq!(
            cache.get("A", "s1", "20260301", "eu-west-1"),
            direct("s1", "20260301", "eu-west-1")
        );
        assert_eq!(
            cache.get("A", "s1", "20260302", "eu-west-1"),
            direct("s1", "20260302", "eu-west-1")
        );
        assert_eq!(
            cache.get("A", "s1", "20260302", "us-east-1"),
            direct("s1", "20260302", "us-east-1")
        );
        assert_eq!(
            cache.get("A", "s2", "20260302", "us-east-1"),
            direct("s2", "20260302", "us-east-1")
        );
        assert_eq!(
            cache.get("B", "s3", "20260302", "us-east-1"),
            direct("s3", "20260302", "us-east-1")
        );
    }

    #[test]
    fn the_credential_names_the_scope() {
        assert_eq!(
            credential("AKIAIOSFODNN7EXAMPLE", "20151229", "us-east-1"),
            "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"
        );
    }

    /// The signing key of the SigV4 documentation's worked example ("Examples of how to
    /// derive a signing key for Signature Version 4"): secret
    /// `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`, 20120215, us-east-1, iam.
    #[test]
    fn the_key_chain_matches_the_documented_derivation() {
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }
}
