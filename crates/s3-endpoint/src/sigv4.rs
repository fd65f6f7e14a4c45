//! SigV4 building blocks, written from the specification: URI encoding, the canonical request,
//! the string to sign, the signing key and signature, and the credential scope.
//!
//! Verification recomputes what the signer must have computed from the request as received,
//! so everything here works on what came over the wire, never on what a signer would produce.

use hmac::{Hmac, Mac};
use http::HeaderMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};
use time::PrimitiveDateTime;
use time::macros::format_description;
use vetted_core::Timestamp;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
pub const SERVICE: &str = "s3";
pub const TERMINATOR: &str = "aws4_request";

/// SigV4's unreserved characters: everything else is percent-encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

/// SigV4 `UriEncode`: unreserved characters stay, every other byte becomes `%XX` (uppercase);
/// `/` stays only in a path.
pub fn uri_encode(text: &str, keep_slash: bool) -> String {
    let set = if keep_slash {
        UNRESERVED_AND_SLASH
    } else {
        UNRESERVED
    };
    utf8_percent_encode(text, set).to_string()
}

/// Decodes `%XX` escapes; a `+` stays a `+` (SigV4 signers encode a space as `%20`).
pub fn percent_decode(text: &str) -> Result<String, std::str::Utf8Error> {
    percent_decode_str(text)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
}

/// The canonical URI of an S3 request: the path as received, decoded once and encoded once
/// (S3 neither normalises `.` segments nor double-encodes).
pub fn canonical_uri(raw_path: &str) -> Result<String, std::str::Utf8Error> {
    let decoded = percent_decode(raw_path)?;
    if decoded.is_empty() {
        return Ok("/".to_owned());
    }
    Ok(uri_encode(&decoded, true))
}

/// Splits a raw query string into decoded name/value pairs, in order.
pub fn parse_query(raw: Option<&str>) -> Result<Vec<(String, String)>, std::str::Utf8Error> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(name)?, percent_decode(value)?))
        })
        .collect()
}

/// The canonical query string: every parameter but `X-Amz-Signature`, each name and value
/// encoded, sorted by name and then value, joined by `&`.
pub fn canonical_query(pairs: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .filter(|(name, _)| name != "X-Amz-Signature")
        .map(|(name, value)| (uri_encode(name, false), uri_encode(value, false)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Trims a header value and collapses runs of spaces, as the canonical form requires.
fn canonical_header_value(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical headers block (each `name:value\n`) for the signed header names. A signed
/// header the request lacks is given an empty value, so its absence fails the signature.
pub fn canonical_headers(headers: &HeaderMap, signed: &[String]) -> String {
    let mut block = String::new();
    for name in signed {
        let values: Vec<String> = headers
            .get_all(name.as_str())
            .iter()
            .map(|value| canonical_header_value(value.as_bytes()))
            .collect();
        block.push_str(name);
        block.push(':');
        block.push_str(&values.join(","));
        block.push('\n');
    }
    block
}

/// The six-part canonical request, joined by newlines.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    canonical_headers: &str,
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    format!(
        "{method}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}"
    )
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub fn string_to_sign(amz_date: &str, scope: &CredentialScope, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{}\n{}",
        scope.scope(),
        sha256_hex(canonical_request.as_bytes())
    )
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length; the error case cannot happen for SHA-256.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0; 32],
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let date_key = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let region_key = hmac_sha256(&date_key, region.as_bytes());
    let service_key = hmac_sha256(&region_key, service.as_bytes());
    hmac_sha256(&service_key, TERMINATOR.as_bytes())
}

/// The hex signature of `string_to_sign` (a canonical request's, or a POST policy).
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(signing_key, string_to_sign.as_bytes()))
}

/// Compares two signatures without leaking, through timing, how much of a guess was right.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `AKID/YYYYMMDD/region/service/aws4_request`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("the credential must be AKID/date/region/service/aws4_request")]
    Shape,
    #[error("the date in the credential must be yyyyMMdd")]
    Date,
    #[error("the service in the credential is '{0}'; expecting 's3'")]
    Service(String),
    #[error("the credential must end with 'aws4_request', not '{0}'")]
    Terminator(String),
}

impl CredentialScope {
    pub fn parse(raw: &str) -> Result<Self, ScopeError> {
        let parts: Vec<&str> = raw.split('/').collect();
        let [access_key_id, date, region, service, terminator] = parts.as_slice() else {
            return Err(ScopeError::Shape);
        };
        if access_key_id.is_empty() || region.is_empty() {
            return Err(ScopeError::Shape);
        }
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ScopeError::Date);
        }
        if *service != SERVICE {
            return Err(ScopeError::Service((*service).to_owned()));
        }
        if *terminator != TERMINATOR {
            return Err(ScopeError::Terminator((*terminator).to_owned()));
        }
        Ok(Self {
            access_key_id: (*access_key_id).to_owned(),
            date: (*date).to_owned(),
            region: (*region).to_owned(),
            service: (*service).to_owned(),
        })
    }

    /// `date/region/service/aws4_request`: the scope line of the string to sign.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/{TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

/// Parses SigV4's `yyyyMMdd'T'HHmmss'Z'` timestamp.
pub fn parse_amz_date(raw: &str) -> Option<Timestamp> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    if raw.len() != 16 {
        return None;
    }
    PrimitiveDateTime::parse(raw, format)
        .ok()
        .map(|at| Timestamp::from_offset_date_time(at.assume_utc()))
}

#[cfg(test)]
#[path = "sigv4_tests.rs"]
mod tests;
