//! `POST /api/uploads`: check the request, sign the upload, write the intent, answer 201.
//!
//! The caller must be a member (owner or staff) of the restaurant named; anyone else gets the
//! same 404 as for a restaurant that does not exist. The request is held to its slot's policy:
//! the declared type, the filename's extension (one of that type's), and the size.
//! Nothing is written unless every check passes and the signature was made; the intent is
//! written before the answer, so no URL is ever handed out for an upload without a record.
//! Each user's rate of asking and number of open intents are capped ([`super::quota`]).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use vetted_core::policy::{explain_extension_refusal, explain_refusal};
use vetted_core::ports::{MultipartUploadId, UploadGrant};
use vetted_core::record::{FileName, UploadMethod};
use vetted_core::{
    ContentSha256, CorrelationId, ImageType, ObjectKey, OwnerId, Policy, ReasonCode, Slot, SlotRef,
    UploadId, UploadRecord,
};

use super::content_path;
use super::views::{CreateUploadRequest, CreateUploadResponse, FormField};
use crate::auth::OwnerCaller;
use crate::body::JsonBody;
use crate::error::{ApiError, reasons};
use crate::restaurants::member_role;
use crate::{ApiSettings, ApiState};

/// The checked parts of a create request.
struct Checked {
    target: SlotRef,
    filename: FileName,
    content_type: ImageType,
    size: u64,
    method: UploadMethod,
    correlation_id: Option<CorrelationId>,
    sha256: Option<ContentSha256>,
}

fn check(
    request: CreateUploadRequest,
    target: SlotRef,
    policy: &Policy,
    settings: &ApiSettings,
) -> Result<Checked, ApiError> {
    let kind = target.slot.kind();
    let filename = FileName::parse(&request.filename)
        .map_err(|e| ApiError::bad_request(reasons::INVALID_FILENAME, e.to_string()))?;
    let correlation_id = request
        .correlation_id
        .as_deref()
        .map(CorrelationId::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(reasons::INVALID_CORRELATION_ID, e.to_string()))?;
    let sha256 = request
        .sha256
        .as_deref()
        .map(str::parse::<ContentSha256>)
        .transpose()
        .map_err(|e| ApiError::bad_request(reasons::INVALID_SHA256, e.to_string()))?;
    let refuse = |code: ReasonCode, detail: String| {
        ApiError::refused(
            code,
            format!("{detail}: {}", explain_refusal(kind, code, policy)),
        )
    };
    let content_type = ImageType::from_mime(&request.content_type)
        .ok()
        .filter(|t| policy.allows(*t))
        .ok_or_else(|| {
            refuse(
                ReasonCode::TypeNotAllowed,
                format!("{:?} is not allowed", request.content_type),
            )
        })?;
    if !policy.extension_allows(&filename, content_type) {
        return Err(ApiError::bad_request(
            reasons::EXTENSION_NOT_ALLOWED,
            explain_extension_refusal(kind, policy, &filename, content_type),
        ));
    }
    let size = request.size;
    if size == 0 {
        return Err(ApiError::refused(
            ReasonCode::Empty,
            "size is 0: the file is empty",
        ));
    }
    if size < policy.min_bytes {
        return Err(refuse(
            ReasonCode::TooSmall,
            format!("size {size} is too small"),
        ));
    }
    if size > policy.max_bytes {
        return Err(refuse(
            ReasonCode::TooLarge,
            format!("size {size} is too large"),
        ));
    }
    let method = request.method.unwrap_or_default();
    if method == UploadMethod::Multipart && sha256.is_some() {
        return Err(ApiError::bad_request(
            reasons::INVALID_SHA256,
            "a multipart upload pins each part's SHA-256 when the part is signed; leave sha256 out",
        ));
    }
    // Refused here, before any byte is sent, rather than when the body arrives: on Lambda a
    // body past the cap may not reach the API at all (see `LAMBDA_PROXY_MAX_BYTES`).
    if method == UploadMethod::Proxy && size > settings.proxy_max_bytes {
        return Err(ApiError::too_large_for_proxy(
            &format!("size {size}"),
            settings.proxy_max_bytes,
        ));
    }
    Ok(Checked {
        target,
        filename,
        content_type,
        size,
        method,
        correlation_id,
        sha256,
    })
}

#[tracing::instrument(skip_all, fields(owner = %owner, upload_id, correlation_id))]
pub(super) async fn create_upload(
    State(state): State<ApiState>,
    OwnerCaller(owner): OwnerCaller,
    JsonBody(request): JsonBody<CreateUploadRequest>,
) -> Result<Response, ApiError> {
    state.upload_rate.check(&owner)?;
    let target = requested_slot(&state, &owner, &request).await?;
    super::quota::check_open_intents(&state, &owner).await?;
    let policy = state.policies.for_kind(target.slot.kind());
    let checked = check(request, target, policy, &state.settings)?;
    let upload_id = UploadId::generate();
    tracing::Span::current().record("upload_id", tracing::field::display(&upload_id));
    let grant = UploadGrant {
        upload_id,
        key: ObjectKey::incoming(&checked.target, &upload_id),
        content_type: checked.content_type,
        length: policy.min_bytes.max(1)..=checked.size,
        sha256: checked.sha256,
        now: state.clock.now(),
        expires_in: match checked.method {
            UploadMethod::Multipart => state.settings.multipart_expires_in,
            _ => state.settings.presign_expires_in,
        },
    };
    let correlation_id = checked
        .correlation_id
        .clone()
        .unwrap_or_else(|| CorrelationId::of_upload(&upload_id));
    tracing::Span::current().record("correlation_id", tracing::field::display(&correlation_id));
    let (answer, multipart) = sign(&state, &grant, checked.method, correlation_id).await?;
    let record =
        intent(&state, &owner, &grant, checked, &answer).with_multipart_upload_id(multipart);
    if let Err(error) = state.uploads.create(&record).await {
        if let Some(multipart) = &record.multipart_upload_id {
            super::multipart::abort_quietly(&state, &record.key, multipart).await;
        }
        return Err(error.into());
    }
    tracing::info!(
        method = ?record.method,
        size = record.declared_size,
        slot = %record.target,
        "upload intent created"
    );

    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/uploads/{upload_id}")) {
        headers.insert(header::LOCATION, location);
    }
    // Presigned URLs are credentials for a few minutes; keep them out of caches.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((StatusCode::CREATED, headers, Json(answer)).into_response())
}

/// The slot asked for, if the caller is a member of its restaurant and restaurants have it.
async fn requested_slot(
    state: &ApiState,
    owner: &OwnerId,
    request: &CreateUploadRequest,
) -> Result<SlotRef, ApiError> {
    let slot = Slot::parse(&request.slot)
        .ok()
        .filter(|slot| state.policies.has_slot(*slot))
        .ok_or_else(|| {
            ApiError::bad_request(
                reasons::INVALID_SLOT,
                format!(
                    "slot {:?} is not one of logo, cover or gallery-1 to gallery-{}",
                    request.slot, state.policies.gallery_positions
                ),
            )
        })?;
    let restaurant = vetted_core::RestaurantId::parse(&request.restaurant)
        .map_err(|_| ApiError::restaurant_not_found())?;
    member_role(state, &restaurant, owner).await?;
    Ok(SlotRef::new(restaurant, slot))
}

/// The answer for `method`, and for a multipart upload the store's id of the upload begun.
async fn sign(
    state: &ApiState,
    grant: &UploadGrant,
    method: UploadMethod,
    correlation_id: CorrelationId,
) -> Result<(CreateUploadResponse, Option<MultipartUploadId>), ApiError> {
    let base = |url: String, expires_at| CreateUploadResponse {
        upload_id: grant.upload_id,
        method,
        url,
        fields: None,
        headers: None,
        expires_at,
        correlation_id: correlation_id.clone(),
        multipart: None,
    };
    let mut begun = None;
    let answer = match method {
        UploadMethod::Post => {
            let post = state.signer.presign_post(grant).await?;
            let fields = post
                .fields
                .into_iter()
                .map(|(name, value)| FormField { name, value })
                .collect();
            CreateUploadResponse {
                fields: Some(fields),
                ..base(post.url, post.expires_at)
            }
        }
        UploadMethod::Put => {
            let put = state.signer.presign_put(grant).await?;
            let headers = put.headers.into_iter().collect::<BTreeMap<_, _>>();
            CreateUploadResponse {
                headers: Some(headers),
                ..base(put.url, put.expires_at)
            }
        }
        UploadMethod::Proxy => {
            let headers = BTreeMap::from([(
                "content-type".to_owned(),
                grant.content_type.mime().to_owned(),
            )]);
            let expires_at = grant.now.saturating_add(grant.expires_in);
            CreateUploadResponse {
                headers: Some(headers),
                ..base(content_path(&grant.upload_id), expires_at)
            }
        }
        UploadMethod::Multipart => {
            let plan = super::multipart::plan(state, *grant.length.end())?;
            let multipart = state
                .multipart
                .begin(&grant.key, grant.content_type, &grant.upload_id)
                .await
                .map_err(super::multipart::store_error)?;
            begun = Some(multipart);
            CreateUploadResponse {
                multipart: Some(plan),
                ..base(
                    super::parts_path(&grant.upload_id),
                    grant.now.saturating_add(grant.expires_in),
                )
            }
        }
    };
    Ok((answer, begun))
}

fn intent(
    state: &ApiState,
    owner: &OwnerId,
    grant: &UploadGrant,
    checked: Checked,
    answer: &CreateUploadResponse,
) -> UploadRecord {
    let correlation_id = checked.correlation_id.clone();
    UploadRecord::new_intent(
        grant.upload_id,
        owner.clone(),
        checked.target,
        checked.filename,
        checked.content_type,
        checked.size,
        checked.method,
        grant.now,
        answer
            .expires_at
            .saturating_add(state.settings.intent_grace),
    )
    .with_correlation_id(correlation_id)
    .with_sha256(grant.sha256)
}
