//! `GET /api/reviews?status=pending`: the moderators' queue, oldest first.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use vetted_core::ports::{PageRequest, PageToken};
use vetted_core::{ObjectKey, Status, Timestamp, UploadRecord};

use super::views::{LiveImage, ReviewFilter, ReviewItem, ReviewList, ReviewQuery, SlotContext};
use crate::ApiState;
use crate::auth::ModeratorCaller;
use crate::body::QueryParams;
use crate::error::{ApiError, reasons};
use crate::policy::PolicyView;
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
        ReviewFilter::Second => Status::AwaitingSecond,
    };
    let page = PageRequest {
        limit,
        after: query.after.map(PageToken),
    };
    let page = state.uploads.list_by_status(status, &page).await?;
    let now = state.clock.now();
    let expires_at = now.saturating_add(PREVIEW_URL_LIFETIME);
    let mut items = Vec::with_capacity(page.items.len());
    let wanted = |record: &&UploadRecord| query.kind.is_none_or(|k| record.target.slot.kind() == k);
    for record in page.items.iter().filter(wanted) {
        let url = presign(&state, &ObjectKey::preview(&record.id), now).await?;
        let context = slot_context(&state, record, now).await?;
        items.push(ReviewItem::new(record, context, url, expires_at));
    }
    Ok(Json(ReviewList {
        items,
        next: page.next.map(|token| token.0),
    }))
}

async fn presign(state: &ApiState, key: &ObjectKey, now: Timestamp) -> Result<String, ApiError> {
    state
        .signer
        .presign_get(key, now, PREVIEW_URL_LIFETIME)
        .await
        .map_err(|e| ApiError::internal("signing a preview URL", &e))
}

/// The restaurant's name, the slot's policy and what the slot shows now.
async fn slot_context(
    state: &ApiState,
    record: &UploadRecord,
    now: Timestamp,
) -> Result<SlotContext, ApiError> {
    let restaurant = state.restaurants.get(&record.target.restaurant).await?;
    let slot = state.restaurants.slot(&record.target).await?;
    let live = match slot.live {
        Some(image) => Some(LiveImage {
            upload_id: image.upload,
            width: image.width,
            height: image.height,
            url: presign(state, &image.key, now).await?,
        }),
        None => None,
    };
    Ok(SlotContext {
        restaurant_name: restaurant.name,
        policy: PolicyView::from(state.policies.for_kind(record.target.slot.kind())),
        live,
    })
}
