//! Presigned POST policies for browser uploads, signed with SigV4: pure, with the clock and
//! credentials passed in.
//!
//! The AWS SDK for Rust cannot create presigned POSTs, so Vetted signs them here. A policy pins
//! everything the browser may send: the bucket, the exact server-built key, the exact
//! `Content-Type` (never a `starts-with image/`, which would admit SVG), the size range, the
//! upload id, `success_action_status` and the signing fields. The result lists the form fields
//! in the order a browser must send them; the file goes last, after all of them.

mod policy_json;
pub mod sigv4;
mod target;

use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use thiserror::Error;

use crate::checksum::{
    CHECKSUM_ALGORITHM_FIELD, CHECKSUM_SHA256_FIELD, ContentSha256, SHA256_ALGORITHM,
};
use crate::ids::{ObjectKey, UploadId};
use crate::image_type::ImageType;
use crate::time::Timestamp;

pub use target::{BucketEndpoint, S3Target, TargetError, TargetWarning};

/// How long a presigned POST or PUT stays valid unless configured otherwise.
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(300);
/// Below this, a client whose clock is a little off may find its URL already expired.
pub const CLOCK_SKEW_MARGIN: Duration = Duration::from_secs(60);
/// SigV4 presigned URLs are valid for at most seven days; POST policies are held to the same.
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(7 * 24 * 3600);

/// The name of the form field that carries the file; it must be the last part of the form.
pub const FILE_FIELD: &str = "file";

/// Signing credentials. `Debug` shows the access key id only: the secret and the session token
/// never reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl Credentials {
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token,
        }
    }

    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret itself, for signing only.
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// Present for temporary credentials (always, on Lambda); it must then be sent and signed.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What one presigned POST allows.
#[derive(Debug, Clone)]
pub struct PostPolicyRequest<'a> {
    pub target: &'a S3Target,
    /// The server-built key; nothing a user typed is part of it.
    pub key: &'a ObjectKey,
    pub content_type: ImageType,
    /// The `content-length-range`: from the policy's minimum (at least 1) up to the declared size.
    pub length: RangeInclusive<u64>,
    /// Pinned with `eq` conditions when the client declared it.
    pub sha256: Option<&'a ContentSha256>,
    pub upload_id: &'a UploadId,
    pub now: Timestamp,
    pub expires_in: Duration,
}

impl<'a> PostPolicyRequest<'a> {
    /// The POST policy that signs `grant` for `target`: every signer's request.
    pub fn for_grant(target: &'a S3Target, grant: &'a crate::ports::UploadGrant) -> Self {
        Self {
            target,
            key: &grant.key,
            content_type: grant.content_type,
            length: grant.length.clone(),
            sha256: grant.sha256.as_ref(),
            upload_id: &grant.upload_id,
            now: grant.now,
            expires_in: grant.expires_in,
        }
    }
}

/// A browser form: POST `fields` in this order to `url` as `multipart/form-data`, then the file
/// as the last part, named [`FILE_FIELD`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPost {
    pub url: String,
    pub fields: Vec<(String, String)>,
    pub expires_at: Timestamp,
}

/// A presigned PUT: send exactly these headers (they are signed) to `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPut {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub expires_at: Timestamp,
}

/// Why nothing was signed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PresignError {
    #[error(
        "expiry of {0:?} is out of range: a presigned upload must be valid for 1 second to 7 days"
    )]
    Expiry(Duration),
    #[error("content-length range {min}..={max} is empty or starts at 0")]
    LengthRange { min: u64, max: u64 },
}

/// Checks a configured expiry at start-up. `Ok(Some(warning))` means it works but is risky.
pub fn check_expires_in(expires_in: Duration) -> Result<Option<String>, PresignError> {
    if expires_in < Duration::from_secs(1) || expires_in > MAX_EXPIRES_IN {
        return Err(PresignError::Expiry(expires_in));
    }
    if expires_in < CLOCK_SKEW_MARGIN {
        return Ok(Some(format!(
            "presigned uploads expire after {}s, under {}s: a client whose clock is slightly off \
             may receive URLs that are already expired",
            expires_in.as_secs(),
            CLOCK_SKEW_MARGIN.as_secs()
        )));
    }
    Ok(None)
}

/// The base64 of a policy document: the string a POST signature signs.
pub fn encode_policy(policy_json: &str) -> String {
    BASE64.encode(policy_json.as_bytes())
}

/// Builds and signs a POST policy, deriving the signing key afresh.
pub fn presign_post(
    request: &PostPolicyRequest<'_>,
    credentials: &Credentials,
) -> Result<PresignedPost, PresignError> {
    presign_post_with(request, credentials, &sigv4::SigningKeyCache::new())
}

/// Builds and signs a POST policy, reusing the signing key in `keys` when it still applies.
pub fn presign_post_with(
    request: &PostPolicyRequest<'_>,
    credentials: &Credentials,
    keys: &sigv4::SigningKeyCache,
) -> Result<PresignedPost, PresignError> {
    check_expires_in(request.expires_in)?;
    let (min, max) = (*request.length.start(), *request.length.end());
    if min == 0 || min > max {
        return Err(PresignError::LengthRange { min, max });
    }
    let target = request.target;
    let amz_date = sigv4::amz_date(request.now);
    // The scope's date is the day of `x-amz-date`: its first eight characters.
    let date = amz_date[..8].to_owned();
    let credential = sigv4::credential(credentials.access_key_id(), &date, target.region());
    let expires_at = request.now.saturating_add(request.expires_in);
    let upload_id = request.upload_id.to_string();

    // Form fields in the order the browser sends them; the policy lists the same conditions.
    let mut fields: Vec<(String, String)> = Vec::with_capacity(12);
    let mut push = |name: &str, value: &str| fields.push((name.to_owned(), value.to_owned()));
    push("key", request.key.as_str());
    push("Content-Type", request.content_type.mime());
    push("success_action_status", "201");
    push("x-amz-meta-upload-id", &upload_id);
    if let Some(sha256) = request.sha256 {
        push(CHECKSUM_ALGORITHM_FIELD, SHA256_ALGORITHM);
        push(CHECKSUM_SHA256_FIELD, &sha256.to_base64());
    }
    push("x-amz-algorithm", sigv4::ALGORITHM);
    push("x-amz-credential", &credential);
    push("x-amz-date", &amz_date);
    if let Some(token) = credentials.session_token() {
        push("x-amz-security-token", token);
    }

    let policy = policy_json::document(&expires_at, target.bucket(), &fields, min, max);
    let policy_b64 = encode_policy(&policy);
    let key = keys.get(
        credentials.access_key_id(),
        credentials.secret_access_key(),
        &date,
        target.region(),
    );
    let signature = sigv4::signature(&key, &policy_b64);
    fields.push(("policy".to_owned(), policy_b64));
    fields.push(("x-amz-signature".to_owned(), signature));
    Ok(PresignedPost {
        url: target.post_url(),
        fields,
        expires_at,
    })
}

#[cfg(test)]
mod tests;
