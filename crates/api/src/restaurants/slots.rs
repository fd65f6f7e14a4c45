//! What each slot of a restaurant shows, what it showed, a moderator's rollback, and an
//! owner's removal of a gallery image.

use std::collections::BTreeMap;
use vetted_core::audit::{AuditAction, AuditEntry};

use axum::Json;
use axum::extract::{Path, State};
use vetted_core::ports::{PageRequest, Removal, RestaurantsError, Rollback};
use vetted_core::restaurant::{MemberRole, SlotChangeCause};
use vetted_core::{OwnerId, RestaurantId, Slot, SlotKind, SlotRef};

use super::views::{
    PendingRequest, RemovalRequest, RollbackRequest, SlotHistory, SlotImageView, SlotList, SlotView,
};
use super::{Standing, standing};
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
    let mut entry = AuditEntry::operation(
        rollback.moderator.as_str(),
        AuditAction::Rollback,
        rollback.at,
    );
    entry.upload = Some(rollback.to);
    entry.restaurant = Some(rollback.slot.restaurant.clone());
    entry.slot = Some(rollback.slot.slot);
    vetted_core::audit::record(state.review.ports.audit.as_ref(), &entry).await;
    state
        .review
        .ports
        .lifecycle()
        .announce_slot(&rolled_back)
        .await
        .map_err(|e| ApiError::backend("announcing a rollback", &e, true))?;
    Ok(Json(SlotView::new(&rolled_back, &state.media)))
}

/// An owner takes a gallery image down. It takes effect at once, without review: removing an
/// image cannot put anything unsafe in front of the public. The image stays in the slot's
/// history, so a moderator can roll it back, and the change is announced as `slot.cleared`.
/// A logo or a cover is changed by a new upload, never emptied.
#[tracing::instrument(skip_all, fields(owner = %caller.subject, slot))]
pub(super) async fn remove(
    State(state): State<ApiState>,
    AnyCaller(caller): AnyCaller,
    Path((id, slot)): Path<(String, String)>,
    JsonBody(request): JsonBody<RemovalRequest>,
) -> Result<Json<SlotView>, ApiError> {
    let (id, standing) = standing(&state, &caller, &id).await?;
    if standing != Standing::Member(MemberRole::Owner) {
        return Err(ApiError::forbidden(
            "only an owner of the restaurant can remove its images",
        ));
    }
    let owner = OwnerId::parse(&caller.subject).map_err(|_| ApiError::restaurant_not_found())?;
    let slot = slot_of(&state, id, &slot)?;
    tracing::Span::current().record("slot", tracing::field::display(&slot));
    if slot.slot.kind() != SlotKind::Gallery {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            reasons::NOT_REMOVABLE,
            format!(
                "only gallery images can be removed; the {} changes when a new one is approved",
                slot.slot.kind()
            ),
        ));
    }
    let removal = Removal {
        slot,
        expected_revision: request.expected_revision,
        owner,
        at: state.clock.now(),
    };
    let removed = match state.restaurants.remove(&removal).await {
        Ok(removed) => removed,
        // A retry of a removal whose answer was lost: the slot is exactly one change on, and
        // that change is this owner's removal. Announce again (the event id is the same).
        Err(RestaurantsError::SlotMoved { current, .. })
            if current.revision == removal.expected_revision + 1
                && current.live.is_none()
                && current.cause
                    == Some(SlotChangeCause::Removed {
                        owner: removal.owner.clone(),
                    }) =>
        {
            *current
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(
        removed = ?removed.previous,
        revision = removed.revision,
        "gallery image removed"
    );
    state
        .review
        .ports
        .lifecycle()
        .announce_slot(&removed)
        .await
        .map_err(|e| ApiError::backend("announcing a removal", &e, true))?;
    Ok(Json(SlotView::new(&removed, &state.media)))
}
