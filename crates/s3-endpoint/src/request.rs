//! Per-request plumbing: request ids, the client's address, which bucket and key a path
//! names, which query parameters are allowed, and presigned-URL verification against the
//! path exactly as the client sent it.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, OriginalUri};
use axum::response::Response;
use http::HeaderValue;
use http::request::Parts;
use vetted_core::ids::KeyKind;
use vetted_core::{ObjectKey, Timestamp};

use super::errors::{S3Error, S3ErrorCode};
use super::presigned::{SignedRequest, VerifiedPresign, verify_presigned};
use super::sigv4;
use super::{S3Config, S3Endpoint};

/// What every response and event about one request shares.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub host_id: String,
    pub source_ip: String,
    /// The raw path as the client sent it (the signature covers it).
    pub path: String,
    pub query: Option<String>,
    /// The path, for `<Resource>` in errors.
    pub resource: String,
}

impl RequestContext {
    pub fn new(parts: &Parts) -> Self {
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or(&parts.uri, |original| &original.0);
        let id = uuid::Uuid::new_v4();
        let bytes = id.as_bytes();
        let source_ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "0.0.0.0".to_owned(), |info| info.0.ip().to_string());
        Self {
            request_id: hex::encode_upper(&bytes[..8]),
            host_id: hex::encode(bytes),
            source_ip,
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            resource: uri.path().to_owned(),
        }
    }

    /// The context of a call the server makes in its own process (the multipart port), for
    /// the event it may announce: from the loopback address, on `key`'s path.
    pub fn in_process(bucket: &str, key: &ObjectKey) -> Self {
        let id = uuid::Uuid::new_v4();
        let bytes = id.as_bytes();
        let path = format!("/{bucket}/{}", key.as_str());
        Self {
            request_id: hex::encode_upper(&bytes[..8]),
            host_id: hex::encode(bytes),
            source_ip: "127.0.0.1".to_owned(),
            path: path.clone(),
            query: None,
            resource: path,
        }
    }

    /// Adds S3's request-id headers.
    pub fn stamp(&self, response: &mut Response) {
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            headers.insert("x-amz-request-id", value);
        }
        if let Ok(value) = HeaderValue::from_str(&self.host_id) {
            headers.insert("x-amz-id-2", value);
        }
    }
}

/// What a path under the mount names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Bucket,
    /// The decoded key.
    Object(String),
}

impl Target {
    pub fn parse(path: &str, config: &S3Config) -> Result<Self, S3Error> {
        let rest = path
            .strip_prefix(config.mount_path.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or("");
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let bad_path = || S3Error::invalid_argument("The request path is not valid UTF-8.");
        let bucket = sigv4::percent_decode(bucket).map_err(|_| bad_path())?;
        if bucket.is_empty() {
            return Err(S3Error::new(
                S3ErrorCode::MethodNotAllowed,
                "Service-level requests (listing buckets) are not supported.",
            ));
        }
        if bucket != config.bucket {
            return Err(S3Error::new(
                S3ErrorCode::NoSuchBucket,
                "The specified bucket does not exist",
            )
            .with("BucketName", bucket));
        }
        let key = sigv4::percent_decode(key).map_err(|_| bad_path())?;
        Ok(if key.is_empty() {
            Self::Bucket
        } else {
            Self::Object(key)
        })
    }
}

/// Refuses sub-resources and other query parameters this endpoint does not implement, so
/// that, say, a multipart-upload part is never mistaken for a whole object.
pub fn check_query(
    context: &RequestContext,
    allow_response_overrides: bool,
) -> Result<(), S3Error> {
    let pairs = sigv4::parse_query(context.query.as_deref())
        .map_err(|_| S3Error::invalid_argument("The query string is not valid UTF-8."))?;
    for (name, _) in &pairs {
        let lower = name.to_ascii_lowercase();
        let allowed = lower.starts_with("x-amz-")
            || lower == "x-id"
            || (allow_response_overrides && lower.starts_with("response-"));
        if !allowed {
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                format!("The query parameter '{name}' is not supported by this endpoint."),
            ));
        }
    }
    Ok(())
}

impl S3Endpoint {
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Verifies the request's presigned-URL signature for `method`.
    pub(crate) fn verify(
        &self,
        context: &RequestContext,
        parts: &Parts,
    ) -> Result<VerifiedPresign, S3Error> {
        verify_presigned(
            SignedRequest {
                method: parts.method.as_str(),
                raw_path: &context.path,
                raw_query: context.query.as_deref(),
                headers: &parts.headers,
            },
            &self.config.credentials,
            &self.config.region,
            self.now(),
        )
    }
}

/// Uploads may only create `incoming/{owner}/{upload_id}` keys: the keys the upload API
/// issues. Anything else, including a stray key under `incoming/`, is refused.
pub fn writable_key(raw: &str) -> Result<ObjectKey, S3Error> {
    let key = ObjectKey::parse(raw)
        .map_err(|_| S3Error::access_denied(format!("Uploads may not write the key '{raw}'.")))?;
    match key.kind() {
        KeyKind::Incoming { .. } => Ok(key),
        _ => Err(S3Error::access_denied(format!(
            "Uploads may not write the key '{raw}'."
        ))),
    }
}

/// Downloads may read only what Vetted produced itself: previews (for moderators), sanitized
/// copies (re-encoded, metadata stripped) and published images. Never `incoming/` or
/// `quarantine/`: those hold the uploader's raw bytes, which must not be served back to a
/// browser before they are vetted (a polyglot file would run in our origin).
pub fn readable_key(raw: &str) -> Result<ObjectKey, S3Error> {
    let refused = || S3Error::access_denied(format!("The key '{raw}' may not be read."));
    let key = ObjectKey::parse(raw).map_err(|_| refused())?;
    match key.kind() {
        KeyKind::Preview(_) | KeyKind::Sanitized(_) | KeyKind::Published { .. } => Ok(key),
        _ => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Credentials;

    fn config() -> S3Config {
        S3Config::new(
            "uploads",
            "us-east-1",
            Credentials {
                access_key_id: "a".to_owned(),
                secret_access_key: "b".to_owned(),
            },
            "/tmp/spool",
            "http://localhost:8080",
        )
    }

    #[test]
    fn paths_name_the_bucket_and_the_decoded_key() {
        let config = config();
        assert_eq!(
            Target::parse("/s3/uploads", &config).unwrap(),
            Target::Bucket
        );
        assert_eq!(
            Target::parse("/s3/uploads/", &config).unwrap(),
            Target::Bucket
        );
        assert_eq!(
            Target::parse("/s3/uploads/incoming/a%20b/c", &config).unwrap(),
            Target::Object("incoming/a b/c".to_owned())
        );
        assert_eq!(
            Target::parse("/s3/other/x", &config).unwrap_err().code,
            S3ErrorCode::NoSuchBucket
        );
        assert_eq!(
            Target::parse("/s3/", &config).unwrap_err().code,
            S3ErrorCode::MethodNotAllowed
        );
    }

    #[test]
    fn only_issued_keys_are_writable_and_only_vetted_outputs_readable() {
        let upload = "0190b0c4-7b1e-7000-8000-000000000001";
        assert!(writable_key(&format!("incoming/r1/logo/{upload}")).is_ok());
        for bad in [
            format!("incoming/r1/logo/{upload}/x"),
            format!("incoming/owner-1/{upload}"),
            format!("incoming/../{upload}"),
            "incoming/r1/logo/${filename}".to_owned(),
            format!("quarantine/r1/logo/{upload}"),
            format!("published/r1/logo/{upload}"),
            "elsewhere".to_owned(),
        ] {
            assert_eq!(
                writable_key(&bad).unwrap_err().code,
                S3ErrorCode::AccessDenied,
                "{bad}"
            );
        }
        for good in [
            format!("previews/{upload}.webp"),
            format!("sanitized/{upload}"),
            format!("published/r1/gallery-2/{upload}"),
        ] {
            assert!(readable_key(&good).is_ok(), "{good}");
        }
        for bad in [
            format!("incoming/r1/logo/{upload}"),
            format!("quarantine/r1/logo/{upload}"),
            format!("published/{upload}"),
            "previews/x.webp".to_owned(),
        ] {
            assert_eq!(
                readable_key(&bad).unwrap_err().code,
                S3ErrorCode::AccessDenied
            );
        }
    }
}
