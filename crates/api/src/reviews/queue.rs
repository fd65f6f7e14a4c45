//! `GET /api/reviews?status=pending`: the moderators' queue, oldest first.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use vetted_core::ObjectKey;
use vetted_core::Status;
use vetted_core::ports::{PageRequest, PageToken};

use super::views::{ReviewFilter, ReviewItem, ReviewList, ReviewQuery};
use crate::ApiState;
use crate::auth::ModeratorCaller;
use crate::body::QueryParams;
use crate::error::{ApiError, reasons};
use crate::settings::MAX_PAGE_SIZE;

/// How long a preview URL stays valid: long enough to look, short enough not to be shared.
const PREVIEW_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);

#[tracing::instrument(skip_all, fields(moderator = %moderator))]
pub(super) async fn pending(
    State(state): State<ApiState>,
    ModeratorCaller(moderator): ModeratorCaller,
    QueryParams(query): QueryParams<ReviewQuery>,
) -> Result<Json<ReviewList>, ApiError> {
    let limit = query.limit.unwrap_or(state.settings.default_page_size);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::bad_request(
            reasons::INVALID_QUERY,
            format!("limit must be 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    let status = match query.status {
        ReviewFilter::Pending => Status::InReview,
    };
    let page = PageRequest {
        limit,
        after: query.after.map(PageToken),
    };
    let page = state.uploads.list_by_status(status, &page).await?;
    let now = state.clock.now();
    let expires_at = now.saturating_add(PREVIEW_URL_LIFETIME);
    let mut items = Vec::with_capacity(page.items.len());
    for record in &page.items {
        let url = state
            .signer
            .presign_get(&ObjectKey::preview(&record.id), now, PREVIEW_URL_LIFETIME)
            .await
            .map_err(|e| ApiError::internal("signing a preview URL", &e))?;
        items.push(ReviewItem::new(record, url, expires_at));
    }
    Ok(Json(ReviewList {
        items,
        next: page.next.map(|token| token.0),
    }))
}
