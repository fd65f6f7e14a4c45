//! Pinned content checksums: `x-amz-checksum-sha256`, as S3 verifies it.
//!
//! A client that sends `x-amz-checksum-sha256` (a PUT header, or a query parameter of a
//! presigned URL as boto3 writes it; a POST form field) asks the store to refuse any body with
//! another SHA-256, and S3 does: `400 BadDigest`, nothing stored. So does this endpoint.
//! `x-amz-checksum-algorithm` (or the SDKs' `x-amz-sdk-checksum-algorithm`), when sent, must
//! name `SHA256`. Every other checksum (`Content-MD5`, CRC32, CRC64NVME, SHA-1) is refused as
//! not implemented rather than ignored: a check the client asked for is never skipped.

use http::HeaderMap;
use vetted_core::ContentSha256;
use vetted_core::checksum::{CHECKSUM_ALGORITHM_FIELD, CHECKSUM_SHA256_FIELD, SHA256_ALGORITHM};

use super::errors::{S3Error, S3ErrorCode};
use super::form::FormFields;
use super::spool::Spooled;

/// The SDKs' name for the algorithm header on a PUT.
const SDK_ALGORITHM_HEADER: &str = "x-amz-sdk-checksum-algorithm";

/// The SHA-256 a PUT pins, from its headers and query parameters (names lowercase).
pub fn pinned_in_put(
    headers: &HeaderMap,
    query: impl IntoIterator<Item = (String, String)>,
) -> Result<Option<ContentSha256>, S3Error> {
    let mut named: Vec<(String, String)> = query
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect();
    for (name, value) in headers {
        let name = name.as_str();
        if is_checksum_name(name) {
            let value = value.to_str().map_err(|_| invalid(name))?;
            named.push((name.to_owned(), value.to_owned()));
        }
    }
    pinned(named.iter().map(|(n, v)| (n.as_str(), v.as_str())))
}

/// The SHA-256 a POST form pins.
pub fn pinned_in_form(fields: &FormFields) -> Result<Option<ContentSha256>, S3Error> {
    pinned(
        fields
            .names()
            .map(|name| (name, fields.get(name).unwrap_or_default())),
    )
}

/// `BadDigest` unless the spooled body has the pinned SHA-256. The spool must have hashed it.
pub fn check_pinned(spooled: &Spooled, pinned: &ContentSha256) -> Result<(), S3Error> {
    let actual = spooled
        .sha256
        .as_deref()
        .and_then(|hex| ContentSha256::from_hex(hex).ok());
    if actual.as_ref() == Some(pinned) {
        return Ok(());
    }
    Err(S3Error::new(
        S3ErrorCode::BadDigest,
        "The SHA256 you specified did not match the calculated checksum.",
    ))
}

fn pinned<'a>(
    named: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<Option<ContentSha256>, S3Error> {
    let mut sha256 = None;
    for (name, value) in named {
        match name {
            CHECKSUM_SHA256_FIELD => {
                let parsed = value
                    .parse::<ContentSha256>()
                    .map_err(|_| invalid(CHECKSUM_SHA256_FIELD))?;
                if sha256.is_some_and(|seen| seen != parsed) {
                    return Err(invalid(CHECKSUM_SHA256_FIELD));
                }
                sha256 = Some(parsed);
            }
            CHECKSUM_ALGORITHM_FIELD | SDK_ALGORITHM_HEADER
                if !value.eq_ignore_ascii_case(SHA256_ALGORITHM) =>
            {
                return Err(not_implemented());
            }
            CHECKSUM_ALGORITHM_FIELD | SDK_ALGORITHM_HEADER => {}
            "content-md5" => return Err(not_implemented()),
            other if other.starts_with("x-amz-checksum-") => return Err(not_implemented()),
            _ => {}
        }
    }
    Ok(sha256)
}

fn is_checksum_name(name: &str) -> bool {
    name == "content-md5" || name == SDK_ALGORITHM_HEADER || name.starts_with("x-amz-checksum-")
}

fn invalid(name: &str) -> S3Error {
    S3Error::invalid_argument(format!("Value for {name} header is invalid."))
}

fn not_implemented() -> S3Error {
    S3Error::new(
        S3ErrorCode::NotImplemented,
        "Only x-amz-checksum-sha256 is verified by this endpoint; Content-MD5 and other \
         x-amz-checksum-* algorithms are not.",
    )
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_sha256_header_or_query_parameter_is_pinned() {
        let sha = ContentSha256::of(b"body");
        let header = headers(&[("x-amz-checksum-sha256", &sha.to_base64())]);
        assert_eq!(pinned_in_put(&header, []).unwrap(), Some(sha));
        let query = [("X-Amz-Checksum-Sha256".to_owned(), sha.to_base64())];
        assert_eq!(pinned_in_put(&HeaderMap::new(), query).unwrap(), Some(sha));
        assert_eq!(pinned_in_put(&HeaderMap::new(), []).unwrap(), None);
    }

    #[test]
    fn other_algorithms_and_bad_values_are_refused_not_ignored() {
        let sha = ContentSha256::of(b"body").to_base64();
        for refused in [
            headers(&[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")]),
            headers(&[("x-amz-checksum-crc32", "AAAAAA==")]),
            headers(&[("x-amz-sdk-checksum-algorithm", "CRC32")]),
            headers(&[("x-amz-checksum-sha256", "not base64")]),
            headers(&[
                ("x-amz-checksum-sha256", &sha),
                ("x-amz-checksum-algorithm", "SHA1"),
            ]),
        ] {
            assert!(pinned_in_put(&refused, []).is_err(), "{refused:?} accepted");
        }
        let two = [("x-amz-checksum-sha256".to_owned(), sha.clone())];
        let other = headers(&[(
            "x-amz-checksum-sha256",
            &ContentSha256::of(b"other").to_base64(),
        )]);
        assert!(
            pinned_in_put(&other, two).is_err(),
            "two different pins accepted"
        );
    }
}
