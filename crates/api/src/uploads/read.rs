//! `GET /api/uploads/{id}` and `GET /api/uploads`: members read their restaurants' uploads.
//!
//! One upload is readable by every member (owner or staff) of its restaurant; the list is the
//! uploads the caller made.

use axum::Json;
use axum::extract::{Path, State};
use vetted_core::ports::{PageRequest, PageToken};
use vetted_core::restaurant::MemberRole;
use vetted_core::{OwnerId, UploadId, UploadRecord};

use super::views::{ListQuery, UploadList, UploadView};
use crate::ApiState;
use crate::auth::OwnerCaller;
use crate::body::QueryParams;
use crate::error::{ApiError, reasons};
use crate::settings::MAX_PAGE_SIZE;

/// An upload of one of the caller's restaurants, or 404 whether it does not exist or belongs
/// to a restaurant the caller is not a member of.
pub(super) async fn member_record(
    state: &ApiState,
    user: &OwnerId,
    raw_id: &str,
) -> Result<UploadRecord, ApiError> {
    member_record_and_role(state, user, raw_id)
        .await
        .map(|(record, _)| record)
}

/// [`member_record`], with the caller's role in the upload's restaurant.
pub(super) async fn member_record_and_role(
    state: &ApiState,
    user: &OwnerId,
    raw_id: &str,
) -> Result<(UploadRecord, MemberRole), ApiError> {
    let id = UploadId::parse(raw_id).map_err(|_| ApiError::upload_not_found())?;
    let record = state.uploads.get(&id).await?;
    let role = state
        .restaurants
        .membership(&record.target.restaurant, user)
        .await?
        .ok_or_else(ApiError::upload_not_found)?;
    Ok((record, role))
}

#[tracing::instrument(skip(state, owner), fields(upload_id = %id))]
pub(super) async fn get_upload(
    State(state): State<ApiState>,
    OwnerCaller(owner): OwnerCaller,
    Path(id): Path<String>,
) -> Result<Json<UploadView>, ApiError> {
    let record = member_record(&state, &owner, &id).await?;
    Ok(Json(UploadView::new(
        &record,
        &state.policies,
        &state.media,
    )))
}

#[tracing::instrument(skip_all, fields(owner = %owner))]
pub(super) async fn list_uploads(
    State(state): State<ApiState>,
    OwnerCaller(owner): OwnerCaller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<UploadList>, ApiError> {
    let limit = query.limit.unwrap_or(state.settings.default_page_size);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::bad_request(
            reasons::INVALID_QUERY,
            format!("limit must be 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    let page = PageRequest {
        limit,
        after: query.after.map(PageToken),
    };
    let page = state.uploads.list_by_owner(&owner, &page).await?;
    Ok(Json(UploadList {
        items: page
            .items
            .iter()
            .map(|record| UploadView::new(record, &state.policies, &state.media))
            .collect(),
        next: page.next.map(|token| token.0),
    }))
}
