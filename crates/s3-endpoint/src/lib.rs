//! The S3-compatible upload endpoint that `vetted serve` embeds, for browser and SDK uploads,
//! served under `{mount_path}/{bucket}/{key}` (path style), with signatures verified for real.
//!
//! It is its own crate, depending only on `vetted-core`'s ports, because it is a security
//! boundary: it parses what unauthenticated clients send, so it has a fuzz target
//! (`fuzz/fuzz_targets/post_form.rs`), and neither that nor its tests should link the
//! SQLite and workflow code of `vetted-embedded`.
//!
//! What it serves: presigned PUT (SigV4 query auth), POST object (a signed policy and a
//! multipart form), presigned GET and HEAD with `Range` (previews, sanitized and published
//! images only), CORS preflights. Errors are S3's XML. An accepted upload is spooled to a
//! temporary file under its size cap, handed to the [`ObjectStore`] port, and announced on
//! the [`WorkQueue`] port with the S3 event JSON that S3 would send to SQS.
//!
//! Mounting: [`S3Endpoint::router`] routes the full path, prefix included, so **merge** it
//! into the server's router (`app.merge(endpoint.router())`), do not `nest` it. Signatures
//! cover the path as the client sent it, which is the request URI (or axum's `OriginalUri`
//! when present). Serve with `into_make_service_with_connect_info::<SocketAddr>()` so events
//! carry the client's address. Signers: boto3 takes `endpoint_url="http://HOST/s3"`; the Rust
//! SDK needs the trailing slash, `http://HOST/s3/`, or it joins the prefix and the bucket.
//!
//! A pinned `x-amz-checksum-sha256` (a PUT header or query parameter, a POST form field) is
//! verified as S3 verifies it: a body with another SHA-256 is refused with `BadDigest` and
//! nothing is stored ([`checksum`]).
//!
//! Multipart uploads (create, upload a part, list parts, complete, abort), all through
//! presigned URLs, are in [`multipart`].
//!
//! Knowingly not implemented (refused with S3's code, never silently accepted):
//! Authorization-header signatures and chunked `STREAMING-*` payloads, session tokens,
//! SigV2, sub-resources other than multipart uploads, `Content-MD5` and every
//! `x-amz-checksum-*` but SHA-256, `If-Match`, conditional GETs,
//! `${filename}` substitution, listing. Accepted but not applied: `response-*` overrides on
//! GET (the stored type is always served), and POST fields such as `acl`, `Cache-Control` or
//! `x-amz-meta-*` (checked against the policy, not stored; only the content type is).

pub mod checksum;
mod commit;
pub mod cors;
pub mod errors;
pub mod events;
pub mod form;
mod get;
pub mod multipart;
mod multipart_port;
mod post;
mod post_auth;
pub mod post_policy;
pub mod presigned;
mod put;
mod request;
pub mod sigv4;
pub mod spool;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;
use http::Method;
use vetted_core::Clock;
use vetted_core::ports::{ObjectStore, WorkQueue};

use self::cors::CorsRules;
use self::errors::{S3Error, S3ErrorCode};
use self::events::Sequencer;
use self::form::FormLimits;
use self::request::{RequestContext, Target};

/// The access key pair that presigned URLs and POST policies are signed with.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// Everything the endpoint is told rather than decides.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// Path prefix without a trailing slash, e.g. `/s3`.
    pub mount_path: String,
    pub bucket: String,
    pub region: String,
    pub credentials: Credentials,
    /// Where bodies are spooled until the object store has taken them.
    pub spool_dir: PathBuf,
    /// The hard ceiling for any upload, PUT or POST, whatever a signature or policy allows.
    pub max_object_bytes: u64,
    pub form_limits: FormLimits,
    /// `scheme://host[:port]` of the server, for `Location` in POST responses.
    pub public_origin: String,
    pub cors: CorsRules,
    /// `userIdentity.principalId` in events.
    pub principal_id: String,
    /// `s3.bucket.ownerIdentity.principalId` in events.
    pub bucket_owner_id: String,
    /// `s3.configurationId` in events: the name of the notification configuration.
    pub notification_id: String,
}

impl S3Config {
    /// A configuration with the defaults: mounted at `/s3`, 20 MiB per object, 64 KiB of form
    /// fields, CORS for the server's own origin only.
    pub fn new(
        bucket: impl Into<String>,
        region: impl Into<String>,
        credentials: Credentials,
        spool_dir: impl Into<PathBuf>,
        public_origin: impl Into<String>,
    ) -> Self {
        let public_origin = public_origin.into();
        let principal_id = format!("AWS:{}", credentials.access_key_id);
        Self {
            mount_path: "/s3".to_owned(),
            bucket: bucket.into(),
            region: region.into(),
            credentials,
            spool_dir: spool_dir.into(),
            max_object_bytes: 20 * 1024 * 1024,
            form_limits: FormLimits::default(),
            cors: CorsRules {
                allowed_origins: vec![public_origin.clone()],
                max_age_secs: 3000,
            },
            public_origin,
            principal_id,
            bucket_owner_id: "vetted".to_owned(),
            notification_id: "vetted-intake".to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum S3SetupError {
    #[error("mount path {0:?} must start with '/' and not end with '/'")]
    MountPath(String),
    #[error("bucket name {0:?} must be 3 to 63 characters of a-z, 0-9, '.' or '-'")]
    Bucket(String),
    #[error("spool directory {path}: {source}")]
    SpoolDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The endpoint: configuration plus the ports it writes through.
pub struct S3Endpoint {
    config: S3Config,
    store: Arc<dyn ObjectStore>,
    queue: Arc<dyn WorkQueue>,
    clock: Arc<dyn Clock>,
    sequencer: Sequencer,
    /// Serialises "check absent, then put" so that `If-None-Match: *` holds under races.
    commit_lock: tokio::sync::Mutex<()>,
}

impl fmt::Debug for S3Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Endpoint")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl S3Endpoint {
    /// Checks the configuration, creates the spool directory and removes spool files a
    /// killed process left there.
    pub fn new(
        config: S3Config,
        store: Arc<dyn ObjectStore>,
        queue: Arc<dyn WorkQueue>,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, S3SetupError> {
        let mount = &config.mount_path;
        if !mount.starts_with('/') || mount.ends_with('/') {
            return Err(S3SetupError::MountPath(mount.clone()));
        }
        let bucket_ok = (3..=63).contains(&config.bucket.len())
            && config
                .bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !bucket_ok {
            return Err(S3SetupError::Bucket(config.bucket.clone()));
        }
        let spool_error = |source| S3SetupError::SpoolDir {
            path: config.spool_dir.clone(),
            source,
        };
        std::fs::create_dir_all(&config.spool_dir).map_err(spool_error)?;
        let swept = spool::sweep(&config.spool_dir).map_err(spool_error)?;
        if swept > 0 {
            tracing::warn!(swept, "removed spool files left by an earlier run");
        }
        Ok(Arc::new(Self {
            config,
            store,
            queue,
            clock,
            sequencer: Sequencer::new(),
            commit_lock: tokio::sync::Mutex::new(()),
        }))
    }

    pub fn config(&self) -> &S3Config {
        &self.config
    }

    /// The routes under the mount path, to be merged into the server's router.
    pub fn router(self: &Arc<Self>) -> Router {
        let mount = &self.config.mount_path;
        Router::new()
            .route(mount, any(handle))
            .route(&format!("{mount}/"), any(handle))
            .route(&format!("{mount}/{{*rest}}"), any(handle))
            .with_state(Arc::clone(self))
    }
}

#[tracing::instrument(
    name = "s3",
    skip_all,
    fields(method = %request.method(), key, code)
)]
async fn handle(State(endpoint): State<Arc<S3Endpoint>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let context = RequestContext::new(&parts);
    let result = dispatch(&endpoint, &context, &parts, body).await;
    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            tracing::Span::current().record("code", error.code.as_str());
            if error.code == S3ErrorCode::InternalError {
                tracing::error!(reason = %error.message, "refused");
            } else {
                tracing::info!(reason = %error.message, "refused");
            }
            error.to_response(&context.resource, &context.request_id, &context.host_id)
        }
    };
    context.stamp(&mut response);
    // A preflight carries its own CORS headers, and a refused one must carry none.
    if parts.method != Method::OPTIONS {
        endpoint.config.cors.decorate(&parts.headers, &mut response);
    }
    response
}

async fn dispatch(
    endpoint: &S3Endpoint,
    context: &RequestContext,
    parts: &http::request::Parts,
    body: axum::body::Body,
) -> Result<Response, S3Error> {
    if parts.method == Method::OPTIONS {
        return endpoint.config.cors.preflight(&parts.headers);
    }
    let target = Target::parse(&context.path, &endpoint.config)?;
    if let Target::Object(key) = &target {
        tracing::Span::current().record("key", key.as_str());
    }
    if let Target::Object(key) = &target
        && let Some(operation) = multipart::Operation::of(&parts.method, context)?
    {
        return endpoint
            .multipart(operation, context, parts, key, body)
            .await;
    }
    match (&parts.method, target) {
        (&Method::PUT, Target::Object(key)) => {
            put::put_object(endpoint, context, parts, &key, body).await
        }
        (&Method::POST, Target::Bucket) => post::post_object(endpoint, context, parts, body).await,
        (&Method::GET, Target::Object(key)) => {
            get::get_object(endpoint, context, parts, &key, false).await
        }
        (&Method::HEAD, Target::Object(key)) => {
            get::get_object(endpoint, context, parts, &key, true).await
        }
        (&Method::GET | &Method::HEAD, Target::Bucket) => Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "Bucket-level GET and HEAD (listing) are not supported by this endpoint.",
        )),
        _ => Err(S3Error::new(
            S3ErrorCode::MethodNotAllowed,
            "The specified method is not allowed against this resource.",
        )
        .with("Method", parts.method.as_str())),
    }
}
