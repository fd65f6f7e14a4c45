//! The SHA-256 of an object's content, in the form S3 carries it: `x-amz-checksum-sha256`,
//! the base64 of the 32-byte digest.
//!
//! A client may pin it when it asks for an upload; the presigned PUT signs it as a header and
//! the POST policy pins it with an `eq` condition, so the store refuses any other body. Intake
//! records what the store reports for the object it examined.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// The header and form field S3 reads the pinned checksum from.
pub const CHECKSUM_SHA256_FIELD: &str = "x-amz-checksum-sha256";
/// The header and form field naming the algorithm.
pub const CHECKSUM_ALGORITHM_FIELD: &str = "x-amz-checksum-algorithm";
/// The algorithm's name in `x-amz-checksum-algorithm`.
pub const SHA256_ALGORITHM: &str = "SHA256";

/// A SHA-256 digest of an object's whole content.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentSha256([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("a SHA-256 checksum is the standard base64 of 32 bytes (44 characters ending in '='): {0}")]
pub struct ChecksumError(&'static str);

impl ContentSha256 {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    pub fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// Parses the lowercase or uppercase hex form (64 characters), as an ETag or `sha256sum`
    /// shows it.
    pub fn from_hex(hex_digest: &str) -> Result<Self, ChecksumError> {
        let mut digest = [0u8; 32];
        hex::decode_to_slice(hex_digest, &mut digest)
            .map_err(|_| ChecksumError("not 64 hex digits"))?;
        Ok(Self(digest))
    }

    /// The base64 form, as `x-amz-checksum-sha256` carries it.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for ContentSha256 {
    type Err = ChecksumError;

    /// Parses the base64 form. Only the canonical encoding is accepted, so that one digest has
    /// one spelling: S3 compares the header as a string after decoding, and so does the policy.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != 44 {
            return Err(ChecksumError("wrong length"));
        }
        let bytes = BASE64
            .decode(text)
            .map_err(|_| ChecksumError("not base64"))?;
        let digest: [u8; 32] = bytes
            .try_into()
            .map_err(|_| ChecksumError("not 32 bytes"))?;
        let parsed = Self(digest);
        if parsed.to_base64() != text {
            return Err(ChecksumError("not in canonical form"));
        }
        Ok(parsed)
    }
}

impl fmt::Display for ContentSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for ContentSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentSha256({})", self.to_base64())
    }
}

impl Serialize for ContentSha256 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for ContentSha256 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf hello | sha256sum`, and its base64 from `openssl dgst -sha256 -binary | base64`.
    const HELLO_HEX: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    const HELLO_BASE64: &str = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";

    #[test]
    fn the_three_spellings_agree() {
        let digest = ContentSha256::of(b"hello");
        assert_eq!(digest.to_hex(), HELLO_HEX);
        assert_eq!(digest.to_base64(), HELLO_BASE64);
        assert_eq!(ContentSha256::from_hex(HELLO_HEX), Ok(digest));
        assert_eq!(HELLO_BASE64.parse(), Ok(digest));
    }

    #[test]
    fn anything_but_the_canonical_base64_of_32_bytes_is_refused() {
        for bad in [
            "",
            "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ", // no padding
            "LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=", // URL-safe alphabet
            "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCR=", // non-zero padding bits
            "aGVsbG8=",                                    // 5 bytes
            "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ= ", // trailing space
            HELLO_HEX,
        ] {
            assert!(
                bad.parse::<ContentSha256>().is_err(),
                "{bad:?} was accepted"
            );
        }
    }
}
