//! Verifying a presigned URL (SigV4 query-string authentication) for PUT, GET and HEAD.
//!
//! The checks and their codes follow S3: missing or malformed `X-Amz-*` parameters are
//! `AuthorizationQueryParametersError`, an unknown key is `InvalidAccessKeyId`, a wrong
//! signature is `SignatureDoesNotMatch` (with the canonical request and string to sign, as S3
//! sends them), an expired URL or an unsigned `x-amz-*` header is `AccessDenied`.

use http::HeaderMap;
use vetted_core::Timestamp;

use super::Credentials;
use super::errors::{S3Error, S3ErrorCode};
use super::sigv4::{self, ALGORITHM, CredentialScope, UNSIGNED_PAYLOAD};

/// The longest validity S3 accepts for a presigned URL: seven days.
pub const MAX_EXPIRES_SECS: i64 = 604_800;
/// How far in the future `X-Amz-Date` may lie, to allow for clock skew between signer and us.
pub const ALLOWED_SKEW_SECS: i64 = 900;

/// The request as received, with its raw (still encoded) path and query.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
    pub headers: &'a HeaderMap,
}

/// What the payload's signed hash promises about the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadCheck {
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    Unsigned,
    /// The body's SHA-256 must be this (lowercase hex).
    Sha256(String),
}

/// A presigned request whose signature, scope and validity have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPresign {
    pub access_key_id: String,
    /// Lowercase header names covered by the signature.
    pub signed_headers: Vec<String>,
    pub payload: PayloadCheck,
    pub expires_at: Timestamp,
}

impl VerifiedPresign {
    pub fn is_signed(&self, header: &str) -> bool {
        self.signed_headers.iter().any(|name| name == header)
    }
}

fn query_error(message: impl Into<String>) -> S3Error {
    S3Error::new(S3ErrorCode::AuthorizationQueryParametersError, message)
}

fn param<'p>(pairs: &'p [(String, String)], name: &str) -> Option<&'p str> {
    pairs
        .iter()
        .find(|(candidate, _)| candidate == name)
        .map(|(_, value)| value.as_str())
}

const REQUIRED: [&str; 6] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
];

/// Verifies SigV4 query authentication against the one configured credential.
pub fn verify_presigned(
    request: SignedRequest<'_>,
    credentials: &Credentials,
    region: &str,
    now: Timestamp,
) -> Result<VerifiedPresign, S3Error> {
    let pairs = sigv4::parse_query(request.raw_query)
        .map_err(|_| S3Error::invalid_argument("The query string is not valid UTF-8."))?;
    let has_query_auth = pairs
        .iter()
        .any(|(name, _)| REQUIRED.contains(&name.as_str()));
    if request.headers.contains_key(http::header::AUTHORIZATION) {
        if has_query_auth {
            return Err(S3Error::invalid_argument(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
            ));
        }
        return Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "Authorization-header signatures are not supported by this endpoint; use a presigned URL.",
        ));
    }
    if !has_query_auth {
        return Err(S3Error::access_denied(
            "Anonymous access is not allowed; the request must carry a presigned URL's query parameters.",
        ));
    }
    for required in REQUIRED {
        if pairs.iter().filter(|(name, _)| name == required).count() != 1 {
            return Err(query_error(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters, each exactly once.",
            ));
        }
    }
    let get = |name: &str| param(&pairs, name).unwrap_or_default();

    if get("X-Amz-Algorithm") != ALGORITHM {
        return Err(query_error(
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
        ));
    }
    let scope = CredentialScope::parse(get("X-Amz-Credential"))
        .map_err(|e| query_error(format!("Error parsing the X-Amz-Credential parameter; {e}")))?;
    if scope.region != region {
        return Err(query_error(format!(
            "Error parsing the X-Amz-Credential parameter; the region '{}' is wrong; expecting '{region}'",
            scope.region
        ))
        .with("Region", region));
    }
    let amz_date = get("X-Amz-Date");
    let signed_at = sigv4::parse_amz_date(amz_date).ok_or_else(|| {
        query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    })?;
    if !amz_date.starts_with(&scope.date) {
        return Err(query_error(
            "Error parsing the X-Amz-Credential parameter; the date in the credential does not match X-Amz-Date",
        ));
    }
    let expires: i64 = get("X-Amz-Expires")
        .parse()
        .ok()
        .filter(|secs| *secs >= 0)
        .ok_or_else(|| query_error("X-Amz-Expires should be a non-negative number"))?;
    if expires > MAX_EXPIRES_SECS {
        return Err(query_error(
            "X-Amz-Expires must be less than a week (in seconds) that is; 604800",
        ));
    }
    let signed_headers_raw = get("X-Amz-SignedHeaders");
    let signed_headers: Vec<String> = signed_headers_raw.split(';').map(str::to_owned).collect();
    let well_formed = signed_headers.iter().all(|name| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if !well_formed || !signed_headers.iter().any(|name| name == "host") {
        return Err(query_error(
            "X-Amz-SignedHeaders must be lowercase header names separated by ';' and include host",
        ));
    }
    if scope.access_key_id != credentials.access_key_id {
        return Err(S3Error::new(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        )
        .with("AWSAccessKeyId", scope.access_key_id.clone()));
    }

    let payload_hash = param(&pairs, "X-Amz-Content-Sha256")
        .map(str::to_owned)
        .or_else(|| {
            signed_headers
                .iter()
                .any(|name| name == "x-amz-content-sha256")
                .then(|| request.headers.get("x-amz-content-sha256"))
                .flatten()
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        })
        .unwrap_or_else(|| UNSIGNED_PAYLOAD.to_owned());
    let payload = parse_payload_hash(&payload_hash)?;

    let canonical_uri = sigv4::canonical_uri(request.raw_path)
        .map_err(|_| S3Error::invalid_argument("The request path is not valid UTF-8."))?;
    let canonical_request = sigv4::canonical_request(
        request.method,
        &canonical_uri,
        &sigv4::canonical_query(&pairs),
        &sigv4::canonical_headers(request.headers, &signed_headers),
        signed_headers_raw,
        &payload_hash,
    );
    let string_to_sign = sigv4::string_to_sign(amz_date, &scope, &canonical_request);
    let key = sigv4::signing_key(
        &credentials.secret_access_key,
        &scope.date,
        &scope.region,
        &scope.service,
    );
    let expected = sigv4::signature(&key, &string_to_sign);
    let provided = get("X-Amz-Signature");
    if !sigv4::constant_time_eq(&expected, provided) {
        return Err(S3Error::new(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
        .with("AWSAccessKeyId", scope.access_key_id.clone())
        .with("StringToSign", string_to_sign)
        .with("SignatureProvided", provided)
        .with("CanonicalRequest", canonical_request));
    }

    // Only a correctly signed request learns about time: a forger gets no clock oracle.
    let expires_at = Timestamp::from_unix_millis((signed_at.unix_seconds() + expires) * 1000);
    if now.unix_seconds() > expires_at.unix_seconds() {
        return Err(S3Error::access_denied("Request has expired")
            .with("X-Amz-Expires", expires.to_string())
            .with("Expires", expires_at.to_rfc3339())
            .with("ServerTime", now.to_rfc3339()));
    }
    if signed_at.unix_seconds() > now.unix_seconds() + ALLOWED_SKEW_SECS {
        return Err(S3Error::access_denied("Request is not yet valid")
            .with("X-Amz-Date", amz_date)
            .with("ServerTime", now.to_rfc3339()));
    }
    if get_param_token(&pairs).is_some() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidToken,
            "The provided token is malformed or otherwise invalid: this endpoint has no session credentials.",
        ));
    }
    let unsigned: Vec<&str> = request
        .headers
        .keys()
        .map(http::HeaderName::as_str)
        .filter(|name| name.starts_with("x-amz-") && !signed_headers.iter().any(|s| s == name))
        .collect();
    if !unsigned.is_empty() {
        return Err(S3Error::access_denied(
            "There were headers present in the request which were not signed",
        )
        .with("HeadersNotSigned", unsigned.join(", ")));
    }

    Ok(VerifiedPresign {
        access_key_id: scope.access_key_id,
        signed_headers,
        payload,
        expires_at,
    })
}

fn get_param_token(pairs: &[(String, String)]) -> Option<&str> {
    param(pairs, "X-Amz-Security-Token")
}

fn parse_payload_hash(raw: &str) -> Result<PayloadCheck, S3Error> {
    if raw == UNSIGNED_PAYLOAD {
        return Ok(PayloadCheck::Unsigned);
    }
    if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(PayloadCheck::Sha256(raw.to_ascii_lowercase()));
    }
    if raw.starts_with("STREAMING-") {
        return Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "Chunked (streaming) payload signatures are not supported by this endpoint.",
        ));
    }
    Err(S3Error::invalid_argument(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a hex SHA-256",
    ))
}

#[cfg(test)]
#[path = "presigned_tests.rs"]
mod tests;
