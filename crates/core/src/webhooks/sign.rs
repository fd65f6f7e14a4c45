//! Standard Webhooks 1.0 signatures: the three headers a delivery carries, and their check.
//!
//! A delivery is signed as `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` with the
//! key that the endpoint's `whsec_<base64>` secret encodes. While a secret is being rotated,
//! the new and the previous secret both sign, and `webhook-signature` carries both entries,
//! separated by a space; a receiver accepts the delivery if any entry matches its secret.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// How far a delivery's timestamp may be from the receiver's clock, by default.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 5 * 60;

const PREFIX: &str = "whsec_";
/// A fresh secret's key length; the spec allows 24 to 64 bytes.
pub const KEY_BYTES: usize = 32;
const MIN_KEY: usize = 24;
const MAX_KEY: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SecretError {
    #[error("a webhook secret must start with whsec_")]
    Prefix,
    #[error("a webhook secret must be whsec_ and standard base64")]
    Base64,
    #[error("a webhook secret's key must be 24 to 64 bytes, not {0}")]
    Length(usize),
}

/// An endpoint's signing secret, `whsec_<base64 of 24..=64 bytes>`.
///
/// Its `Debug` shows no part of it, so that a secret in a struct never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    text: String,
    key: Vec<u8>,
}

impl WebhookSecret {
    /// The secret for `key`, which must be 24 to 64 bytes (random, from the caller: the core
    /// has no source of randomness of its own).
    pub fn from_key(key: &[u8]) -> Result<Self, SecretError> {
        if !(MIN_KEY..=MAX_KEY).contains(&key.len()) {
            return Err(SecretError::Length(key.len()));
        }
        Ok(Self {
            text: format!("{PREFIX}{}", STANDARD.encode(key)),
            key: key.to_vec(),
        })
    }

    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.strip_prefix(PREFIX).ok_or(SecretError::Prefix)?;
        let key = STANDARD.decode(encoded).map_err(|_| SecretError::Base64)?;
        let secret = Self::from_key(&key)?;
        if secret.text != text {
            // Non-canonical base64 (stray padding bits): one secret, one spelling.
            return Err(SecretError::Base64);
        }
        Ok(secret)
    }

    /// The `whsec_…` text: only for the one answer that shows it, and for the store.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// The three headers of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub id: String,
    pub timestamp: i64,
    /// One `v1,…` entry per secret, space-separated.
    pub signature: String,
}

impl SignedHeaders {
    /// Signs `body` for message `id` at `timestamp` (unix seconds) with every secret given
    /// (the current one first; the previous one too during a rotation).
    pub fn new(id: &str, timestamp: i64, body: &[u8], secrets: &[&WebhookSecret]) -> Self {
        let signature = secrets
            .iter()
            .map(|secret| secret.sign(id, timestamp, body))
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            id: id.to_owned(),
            timestamp,
            signature,
        }
    }

    /// `(name, value)` pairs, ready for an HTTP request.
    pub fn pairs(&self) -> [(&'static str, String); 3] {
        [
            (HEADER_ID, self.id.clone()),
            (HEADER_TIMESTAMP, self.timestamp.to_string()),
            (HEADER_SIGNATURE, self.signature.clone()),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("webhook-timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is {0} s away from now, more than the {1} s allowed")]
    OutOfTolerance(i64, i64),
    #[error("no v1 signature in webhook-signature matches the secret")]
    NoMatch,
}

/// The three headers as a receiver got them; any may be missing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

impl<'a> Received<'a> {
    /// Looks the headers up by their lowercase names.
    pub fn from_lookup(header: impl Fn(&str) -> Option<&'a str>) -> Self {
        Self {
            id: header(HEADER_ID),
            timestamp: header(HEADER_TIMESTAMP),
            signature: header(HEADER_SIGNATURE),
        }
    }
}

/// Checks a received delivery as a receiver would; `now` is the receiver's clock in unix
/// seconds.
pub fn verify(
    secret: &WebhookSecret,
    received: &Received<'_>,
    body: &[u8],
    now: i64,
    tolerance_seconds: i64,
) -> Result<(), VerifyError> {
    let id = received.id.ok_or(VerifyError::Missing(HEADER_ID))?;
    let timestamp = received
        .timestamp
        .ok_or(VerifyError::Missing(HEADER_TIMESTAMP))?;
    let signatures = received
        .signature
        .ok_or(VerifyError::Missing(HEADER_SIGNATURE))?;
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let skew = now.saturating_sub(timestamp);
    if skew.saturating_abs() > tolerance_seconds {
        return Err(VerifyError::OutOfTolerance(skew, tolerance_seconds));
    }
    let expected = secret.mac(id, timestamp, body);
    let matches = signatures
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, sig)| STANDARD.decode(sig).ok())
        .any(|sig| constant_time_eq(&sig, &expected));
    if matches {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[path = "sign_tests.rs"]
mod tests;
