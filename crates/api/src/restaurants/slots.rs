//! What each slot of a restaurant shows, what it showed, and a moderator's rollback.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use vetted_core::ports::{PageRequest, Rollback};
use vetted_core::{RestaurantId, Slot, SlotKind, SlotRef};

use super::standing;
use super::views::{
    PendingRequest, RollbackRequest, SlotHistory, SlotImageView, SlotList, SlotView,
};
use crate::ApiState;
use crate::auth::{AnyCaller, ModeratorCaller};
use crate::body::JsonBody;
use crate::error::{ApiError, reasons};
use crate::policy::PolicyView;

/// A slot this deployment's restaurants have, or 404.
fn slot_of(state: &ApiState, restaurant: RestaurantId, raw: &str) -> Result<SlotRef, ApiError> {
    let slot = Slot::parse(raw)
        .ok()
        .filter(|slot| state.policies.has_slot(*slot))
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                reasons::NOT_FOUND,
                "no such slot",
            )
        })?;
    Ok(SlotRef::new(restaurant, slot))
}

pub(super) async fn list_slots(
    State(state): State<ApiState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
) -> Result<Json<SlotList>, ApiError> {
    let (id, _) = standing(&state, &caller, &id).await?;
    let mut stored: BTreeMap<Slot, _> = state
        .restaurants
        .slots(&id)
        .await?
        .into_iter()
        .map(|slot_state| (slot_state.slot.slot, slot_state))
        .collect();
    let mut pending = pending_by_slot(&state, &id).await?;
    let items = state
        .policies
        .all_slots()
        .into_iter()
        .map(|slot| {
            let slot_state = stored.remove(&slot).unwrap_or_else(|| {
                vetted_core::restaurant::SlotState::empty(SlotRef::new(id.clone(), slot))
            });
            let mut view = SlotView::new(&slot_state, &state.media);
            view.pending = Some(pending.remove(&slot).unwrap_or_default());
            view
        })
        .collect();
    let policies = SlotKind::ALL
        .into_iter()
        .map(|kind| (kind, PolicyView::from(state.policies.for_kind(kind))))
        .collect();
    Ok(Json(SlotList {
        restaurant: id,
        items,
        policies,
    }))
}

/// The restaurant's requests in progress, newest first, by slot. At most
/// [`MAX_PENDING_LISTED`]: far more than a restaurant has in flight, and a bound on the work
/// of one request whatever happens.
async fn pending_by_slot(
    state: &ApiState,
    restaurant: &RestaurantId,
) -> Result<BTreeMap<Slot, Vec<PendingRequest>>, ApiError> {
    let mut by_slot: BTreeMap<Slot, Vec<PendingRequest>> = BTreeMap::new();
    let mut page = PageRequest::first(100);
    let mut listed = 0;
    loop {
        let batch = state.uploads.list_in_progress(restaurant, &page).await?;
        listed += batch.items.len();
        for record in &batch.items {
            by_slot
                .entry(record.target.slot)
                .or_default()
                .push(PendingRequest::new(record));
        }
        match batch.next {
            Some(next) if listed < MAX_PENDING_LISTED => page.after = Some(next),
            _ => return Ok(by_slot),
        }
    }
}

/// The most requests in progress one slots listing reads.
const MAX_PENDING_LISTED: usize = 500;

pub(super) async fn history(
    State(state): State<ApiState>,
    AnyCaller(caller): AnyCaller,
    Path((id, slot)): Path<(String, String)>,
) -> Result<Json<SlotHistory>, ApiError> {
    let (id, _) = standing(&state, &caller, &id).await?;
    let slot = slot_of(&state, id, &slot)?;
    let items = state
        .restaurants
        .history(&slot)
        .await?
        .iter()
        .map(|image| SlotImageView::new(image, &state.media))
        .collect();
    Ok(Json(SlotHistory { items }))
}

#[tracing::instrument(skip_all, fields(moderator = %moderator, slot))]
pub(super) async fn roll_back(
    State(state): State<ApiState>,
    ModeratorCaller(moderator): ModeratorCaller,
    Path((id, slot)): Path<(String, String)>,
    JsonBody(request): JsonBody<RollbackRequest>,
) -> Result<Json<SlotView>, ApiError> {
    // Moderators may act on any restaurant that exists.
    let id = RestaurantId::parse(&id).map_err(|_| ApiError::restaurant_not_found())?;
    state.restaurants.get(&id).await?;
    let slot = slot_of(&state, id, &slot)?;
    tracing::Span::current().record("slot", tracing::field::display(&slot));
    let rollback = Rollback {
        slot,
        to: request.upload_id,
        expected_revision: request.expected_revision,
        moderator,
        at: state.clock.now(),
    };
    let rolled_back = state.restaurants.roll_back(&rollback).await?;
    tracing::info!(
        to = %rollback.to,
        revision = rolled_back.revision,
        "slot rolled back"
    );
    state
        .review
        .ports
        .lifecycle()
        .announce_slot(&rolled_back)
        .await
        .map_err(|e| ApiError::backend("announcing a rollback", &e, true))?;
    Ok(Json(SlotView::new(&rolled_back, &state.media)))
}
