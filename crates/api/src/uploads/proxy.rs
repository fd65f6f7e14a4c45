//! `PUT /api/uploads/{id}/content`: the proxy upload, for clients that cannot reach the bucket.
//!
//! The body is streamed to a temporary file with the cap enforced while it arrives (the
//! smaller of the declared size and the proxy maximum): past the cap the answer is 413 and
//! nothing reaches the store, `too_large_for_proxy` when the proxy maximum was the cap (the
//! client should upload presigned instead), `payload_too_large` when the declared size was. A
//! `Content-Length` past the cap is refused before the body is read. Only then is the file
//! handed to the store at the intent's key (`adopt_file`: the file store renames it into place
//! when the spool is on its filesystem), unless the client pinned a SHA-256 the body does not
//! have (`checksum_mismatch`, as S3 refuses such a body). The record is not moved here: the
//! store's notification does that, exactly as for a direct upload.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use vetted_core::{ContentSha256, ReasonCode, Status, UploadRecord};

use super::read::member_record;
use super::views::ContentReceived;
use crate::ApiState;
use crate::auth::OwnerCaller;
use crate::error::{ApiError, reasons};

#[tracing::instrument(skip(state, owner, headers, body), fields(upload_id = %id))]
pub(super) async fn put_content(
    State(state): State<ApiState>,
    OwnerCaller(owner): OwnerCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ContentReceived>), ApiError> {
    // Only the member who asked for the upload sends its bytes.
    let record = Some(member_record(&state, &owner, &id).await?)
        .filter(|record| record.owner == owner)
        .ok_or_else(ApiError::upload_not_found)?;
    check_intent(&state, &record)?;
    check_content_type(&headers, &record)?;
    let cap = BodyCap::of(&record, state.settings.proxy_max_bytes);
    if let Some(length) = content_length(&headers).filter(|length| *length > cap.bytes) {
        return Err(cap.refusal(&format!("Content-Length {length}")));
    }
    let (spool, bytes, sha256) = spool(&state, body, &cap).await?;
    if bytes == 0 {
        return Err(ApiError::refused(ReasonCode::Empty, "the body is empty"));
    }
    if let Some(pinned) = record.sha256.filter(|pinned| *pinned != sha256) {
        return Err(ApiError::bad_request(
            reasons::CHECKSUM_MISMATCH,
            format!(
                "the body's SHA-256 is {sha256}, not the {pinned} declared; nothing was stored"
            ),
        ));
    }
    state
        .objects
        .adopt_file(&record.key, &spool, record.declared_type.mime())
        .await
        .map_err(|e| {
            use vetted_core::ports::Retryable;
            let retryable = e.is_retryable();
            ApiError::backend("proxy upload: storing the object failed", &e, retryable)
        })?;
    tracing::info!(bytes, "proxy upload stored");
    Ok((
        StatusCode::CREATED,
        Json(ContentReceived {
            upload_id: record.id,
            bytes,
            status: record.status,
        }),
    ))
}

pub(super) fn check_intent(state: &ApiState, record: &UploadRecord) -> Result<(), ApiError> {
    if record.status != Status::AwaitingUpload {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            reasons::NOT_AWAITING_UPLOAD,
            format!("upload is {}, not awaiting its file", record.status),
        ));
    }
    if state.clock.now() > record.expires_at {
        return Err(ApiError::new(
            StatusCode::GONE,
            reasons::INTENT_EXPIRED,
            "the permission to upload has expired; ask for a new one",
        ));
    }
    Ok(())
}

fn check_content_type(headers: &HeaderMap, record: &UploadRecord) -> Result<(), ApiError> {
    let sent = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !sent
        .trim()
        .eq_ignore_ascii_case(record.declared_type.mime())
    {
        return Err(ApiError::refused(
            ReasonCode::TypeMismatch,
            format!(
                "Content-Type {sent:?} is not the declared {}",
                record.declared_type.mime()
            ),
        ));
    }
    Ok(())
}

/// The most bytes a proxy body may have, and which limit that is.
struct BodyCap {
    bytes: u64,
    /// The proxy maximum, not the declared size, is the smaller limit.
    proxy: bool,
}

impl BodyCap {
    fn of(record: &UploadRecord, proxy_max_bytes: u64) -> Self {
        Self {
            bytes: record.declared_size.min(proxy_max_bytes),
            proxy: proxy_max_bytes < record.declared_size,
        }
    }

    /// The 413 for a body past the cap; `what` names how its size is known.
    fn refusal(&self, what: &str) -> ApiError {
        if self.proxy {
            ApiError::too_large_for_proxy(what, self.bytes)
        } else {
            ApiError::payload_too_large(self.bytes)
        }
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Writes the body to a temporary file, refusing it as soon as it passes the cap; returns the
/// file, its size and its SHA-256.
async fn spool(
    state: &ApiState,
    body: Body,
    cap: &BodyCap,
) -> Result<(tempfile::TempPath, u64, ContentSha256), ApiError> {
    let temp = match &state.settings.temp_dir {
        Some(dir) => tempfile::NamedTempFile::new_in(dir),
        None => tempfile::NamedTempFile::new(),
    }
    .map_err(|e| ApiError::internal("proxy upload: no temporary file", &e))?;
    let (file, path) = temp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut received: u64 = 0;
    let mut hasher = Sha256::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(
                reasons::INVALID_BODY,
                format!("the body could not be read: {e}"),
            )
        })?;
        received = received.saturating_add(chunk.len() as u64);
        if received > cap.bytes {
            return Err(cap.refusal("the body"));
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::internal("proxy upload: spooling failed", &e))?;
    }
    file.flush()
        .await
        .map_err(|e| ApiError::internal("proxy upload: spooling failed", &e))?;
    Ok((
        path,
        received,
        ContentSha256::from_digest(hasher.finalize().into()),
    ))
}
