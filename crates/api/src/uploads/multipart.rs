//! Resumable uploads: the parts of a `multipart` intent.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/uploads/{id}/parts` | the parts the store holds, to resume after a reload |
//! | `POST /api/uploads/{id}/parts` | presigned `UploadPart` URLs, each pinned to its part's length and SHA-256 |
//! | `POST /api/uploads/{id}/complete` | checks every part is there at its size, then completes |
//!
//! Only the member who asked for the upload may use these, as for the proxy upload; anyone
//! else gets 404. The file is cut as [`PartPlan`] says, from the declared size and the part
//! size, so the signed lengths add up to exactly the declared size: the completed object can
//! be neither larger nor smaller. The store's multipart upload id never leaves the server.
//! Completing is idempotent: a client that lost the answer may ask again. The record moves
//! when the store announces the object, exactly as for any other upload.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use vetted_core::ports::{
    MAX_PART_NUMBER, MultipartError, MultipartUploadId, PartGrant, PartPlan, Retryable, StoredPart,
};
use vetted_core::record::UploadMethod;
use vetted_core::{ContentSha256, ObjectKey, OwnerId, UploadRecord};

use super::proxy::check_intent;
use super::read::member_record;
use super::views::{
    PartList, PartPlanView, PartView, SignPartsRequest, SignedPart, SignedParts, UploadView,
};
use crate::ApiState;
use crate::auth::OwnerCaller;
use crate::body::JsonBody;
use crate::error::{ApiError, reasons};

/// The most parts one `POST /api/uploads/{id}/parts` signs.
pub const MAX_PARTS_PER_REQUEST: usize = 100;

/// How a file of `size` bytes is cut under the current settings.
pub(super) fn plan(state: &ApiState, size: u64) -> Result<PartPlanView, ApiError> {
    let plan = part_plan(state, size)?;
    Ok(PartPlanView {
        part_size: plan.part_size,
        part_count: plan.part_count(),
    })
}

fn part_plan(state: &ApiState, size: u64) -> Result<PartPlan, ApiError> {
    PartPlan::new(size, state.settings.multipart_part_bytes).ok_or_else(|| {
        ApiError::refused(
            vetted_core::ReasonCode::Empty,
            "size is 0: the file is empty",
        )
    })
}

/// The API's answer to a store's refusal or failure.
pub(super) fn store_error(error: MultipartError) -> ApiError {
    match error {
        MultipartError::NoSuchUpload => ApiError::new(
            StatusCode::GONE,
            reasons::INTENT_EXPIRED,
            "the multipart upload is gone (it expired and was aborted); ask for a new upload",
        ),
        MultipartError::Refused(detail) => ApiError::new(
            StatusCode::CONFLICT,
            reasons::PARTS_MISSING,
            format!("the store refused to complete the upload: {detail}"),
        ),
        other => {
            let retryable = other.is_retryable();
            ApiError::backend("multipart upload", &other, retryable)
        }
    }
}

/// Aborts a multipart upload no intent will use, logging a failure: the bucket's lifecycle
/// rule (AWS) or the maintenance pass (`vetted serve`) removes it later anyway.
pub(super) async fn abort_quietly(
    state: &ApiState,
    key: &ObjectKey,
    multipart: &MultipartUploadId,
) {
    if let Err(error) = state.multipart.abort(key, multipart).await {
        tracing::warn!(%key, %error, "aborting a multipart upload failed; the store's clean-up will remove it");
    }
}

/// The caller's own multipart intent, still awaiting its file, with its store id and plan.
async fn own_multipart_intent(
    state: &ApiState,
    owner: &OwnerId,
    raw_id: &str,
) -> Result<(UploadRecord, MultipartUploadId, PartPlan), ApiError> {
    let record = Some(member_record(state, owner, raw_id).await?)
        .filter(|record| record.owner == *owner)
        .ok_or_else(ApiError::upload_not_found)?;
    let multipart = record
        .multipart_upload_id
        .clone()
        .filter(|_| record.method == UploadMethod::Multipart)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                reasons::NOT_MULTIPART,
                "this upload was not asked for as a multipart upload; it has no parts",
            )
        })?;
    check_intent(state, &record)?;
    let plan = part_plan(state, record.declared_size)?;
    Ok((record, multipart, plan))
}

#[tracing::instrument(skip(state, owner), fields(upload_id = %id))]
pub(super) async fn list_parts(
    State(state): State<ApiState>,
    OwnerCaller(owner): OwnerCaller,
    Path(id): Path<String>,
) -> Result<Json<PartList>, ApiError> {
    let (record, multipart, plan) = own_multipart_intent(&state, &owner, &id).await?;
    let parts = state
        .multipart
        .list_parts(&record.key, &multipart)
        .await
        .map_err(store_error)?;
    Ok(Json(PartList {
        plan: PartPlanView {
            part_size: plan.part_size,
            part_count: plan.part_count(),
        },
        expires_at: record.expires_at,
        parts: parts
            .into_iter()
            .map(|part| PartView {
                number: part.number,
                size: part.size,
                sha256: part.sha256,
            })
            .collect(),
    }))
}

#[tracing::instrument(skip(state, owner, request), fields(upload_id = %id, parts = request.parts.len()))]
pub(super) async fn sign_parts(
    State(state): State<ApiState>,
    OwnerCaller(owner): OwnerCaller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<SignPartsRequest>,
) -> Result<Json<SignedParts>, ApiError> {
    let (record, multipart, plan) = own_multipart_intent(&state, &owner, &id).await?;
    if request.parts.is_empty() || request.parts.len() > MAX_PARTS_PER_REQUEST {
        return Err(ApiError::bad_request(
            reasons::INVALID_REQUEST,
            format!("parts must list 1 to {MAX_PARTS_PER_REQUEST} parts"),
        ));
    }
    let now = state.clock.now();
    let expires_in = state.settings.presign_expires_in;
    let mut signed = Vec::with_capacity(request.parts.len());
    for part in &request.parts {
        let length = plan.part_bytes(part.number).ok_or_else(|| {
            ApiError::bad_request(
                reasons::INVALID_PART_NUMBER,
                format!(
                    "part {} is not one of this upload's parts, 1 to {}",
                    part.number,
                    plan.part_count()
                ),
            )
        })?;
        let sha256 = part.sha256.parse::<ContentSha256>().map_err(|e| {
            ApiError::bad_request(
                reasons::INVALID_SHA256,
                format!("part {}: {e}", part.number),
            )
        })?;
        if signed
            .iter()
            .any(|done: &SignedPart| done.number == part.number)
        {
            return Err(ApiError::bad_request(
                reasons::INVALID_PART_NUMBER,
                format!("part {} is listed twice", part.number),
            ));
        }
        let put = state
            .signer
            .presign_part(&PartGrant {
                key: &record.key,
                multipart: &multipart,
                number: part.number,
                length,
                sha256,
                now,
                expires_in,
            })
            .await?;
        signed.push(SignedPart {
            number: part.number,
            size: length,
            url: put.url,
            headers: put.headers.into_iter().collect(),
        });
    }
    Ok(Json(SignedParts {
        expires_at: now.saturating_add(expires_in),
        parts: signed,
    }))
}

/// The parts to complete with: exactly `1..=part_count`, each at its planned size.
fn complete_set(plan: &PartPlan, stored: &[StoredPart]) -> Result<Vec<StoredPart>, ApiError> {
    let mut chosen = Vec::with_capacity(plan.part_count() as usize);
    let mut missing = Vec::new();
    for number in 1..=plan.part_count().min(MAX_PART_NUMBER) {
        let expected = plan.part_bytes(number);
        match stored.iter().find(|part| part.number == number) {
            Some(part) if Some(part.size) == expected => chosen.push(part.clone()),
            _ => missing.push(number.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            reasons::PARTS_MISSING,
            format!(
                "parts {} of {} are missing or not their expected size; send them, then complete",
                missing.join(", "),
                plan.part_count()
            ),
        ));
    }
    Ok(chosen)
}

#[tracing::instrument(skip(state, owner), fields(upload_id = %id))]
pub(super) async fn complete_upload(
    State(state): State<ApiState>,
    OwnerCaller(owner): OwnerCaller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<UploadView>), ApiError> {
    let (record, multipart, plan) = own_multipart_intent(&state, &owner, &id).await?;
    let outcome = match state.multipart.list_parts(&record.key, &multipart).await {
        Ok(stored) => {
            let parts = complete_set(&plan, &stored)?;
            state
                .multipart
                .complete(&record.key, &multipart, &parts)
                .await
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok(()) => tracing::info!(parts = plan.part_count(), "multipart upload completed"),
        // Completed already, by an earlier request whose answer was lost: the object is there.
        Err(MultipartError::NoSuchUpload) if state.objects.head(&record.key).await.is_ok() => {
            tracing::info!("multipart upload was already completed");
        }
        Err(error) => return Err(store_error(error)),
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(UploadView::new(&record, &state.policies, &state.media)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(number: u32, size: u64) -> StoredPart {
        StoredPart {
            number,
            size,
            etag: format!("etag-{number}"),
            sha256: None,
        }
    }

    #[test]
    fn completion_needs_every_planned_part_at_its_size() {
        let plan = PartPlan::new(20, 8).unwrap();
        let all = [stored(1, 8), stored(2, 8), stored(3, 4)];
        assert_eq!(complete_set(&plan, &all).unwrap(), all.to_vec());
        let err = complete_set(&plan, &[stored(1, 8), stored(3, 4)]).unwrap_err();
        assert_eq!(err.reason, reasons::PARTS_MISSING);
        let short = complete_set(&plan, &[stored(1, 8), stored(2, 7), stored(3, 4)]).unwrap_err();
        assert!(short.message.contains("parts 2 of 3"), "{}", short.message);
        // A part past the plan is left out, not completed.
        let extra = [stored(1, 8), stored(2, 8), stored(3, 4), stored(4, 1)];
        assert_eq!(complete_set(&plan, &extra).unwrap().len(), 3);
    }
}
