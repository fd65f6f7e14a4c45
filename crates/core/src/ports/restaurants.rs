//! The restaurants port: restaurants, who belongs to them, and what each slot shows.

use async_trait::async_trait;
use thiserror::Error;

use super::{BackendError, Retryable};
use crate::ids::{ModeratorId, OwnerId, UploadId};
use crate::restaurant::{
    Member, MemberRole, OfferOutcome, Restaurant, RestaurantId, SlotImage, SlotRef, SlotState,
};
use crate::time::Timestamp;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RestaurantsError {
    #[error("restaurant {0} not found")]
    NotFound(RestaurantId),
    #[error("restaurant {0} already exists")]
    AlreadyExists(RestaurantId),
    /// A rollback named an image never published to the slot.
    #[error("upload {upload} was never published to {slot}")]
    NotInHistory { slot: SlotRef, upload: UploadId },
    /// A rollback expected another revision: someone changed the slot meanwhile. Nothing was
    /// written; `current` is the slot as it stands.
    #[error("{} is at revision {}, not {expected}", current.slot, current.revision)]
    SlotMoved {
        expected: u64,
        current: Box<SlotState>,
    },
    /// A removal found no live image to remove; nothing was written.
    #[error("{} shows no image", current.slot)]
    SlotEmpty { current: Box<SlotState> },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Retryable for RestaurantsError {
    fn is_retryable(&self) -> bool {
        match self {
            RestaurantsError::Backend(e) => e.retryable,
            _ => false,
        }
    }
}

/// A rollback: put an image the slot showed before back in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    pub slot: SlotRef,
    /// The image to restore; it must be in the slot's history.
    pub to: UploadId,
    /// The revision the moderator saw; any other and nothing is written.
    pub expected_revision: u64,
    pub moderator: ModeratorId,
    pub at: Timestamp,
}

/// A removal: take a gallery slot's live image down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub slot: SlotRef,
    /// The revision the owner saw; any other and nothing is written.
    pub expected_revision: u64,
    pub owner: OwnerId,
    pub at: Timestamp,
}

/// Restaurants, members and slots.
///
/// Contract:
/// - `create` stores a new restaurant; a second `create` with the same id is `AlreadyExists`
///   and changes nothing. `get` returns it or `NotFound`.
/// - `put_member` adds a member or changes their role; `remove_member` removes one and says
///   whether there was one. Both need the restaurant to exist (`NotFound`).
/// - `membership` is the caller's role in the restaurant, `None` for a non-member or a
///   restaurant that does not exist: callers answer both the same way (404).
/// - `restaurants_of` lists a user's restaurants with their role, ordered by restaurant id.
/// - `slot` returns the slot's state; a slot nothing was published to is
///   [`SlotState::empty`]. `slots` returns every slot of the restaurant that was ever set,
///   ordered by slot.
/// - `offer` records a published image in the slot's history (once per upload, whatever the
///   retries) and makes it live with one conditional write exactly as [`SlotState::offer`]
///   says: the later decision wins, and of any number of concurrent offers the outcome is
///   the one a serial order of them gives.
/// - `history` lists every image ever offered to the slot, newest `decided_at` first.
/// - `roll_back` makes an image from the slot's history live again, with one conditional
///   write on `expected_revision` (`SlotMoved` when it differs; `NotInHistory` for an image
///   the slot never showed). The new state has `revision + 1`, `changed_at = at` and cause
///   `RolledBack`.
/// - `remove` empties the slot as [`SlotState::removed_by`] says, with one conditional write on
///   `expected_revision` (`SlotMoved` when it differs, `SlotEmpty` when nothing is live). The
///   history keeps the removed image.
/// - `forget_image` removes one upload's entry from the slot's history and says whether it was
///   there (a second call is `false`). It does not change the slot's state: a caller that must
///   not leave the image live `remove`s it first. Afterwards a rollback to it is
///   `NotInHistory`.
/// - `delete_restaurant` removes the restaurant with its members, slots and slot history, the
///   restaurant itself last, so that a call interrupted part way leaves the restaurant there
///   and a second call finishes it. It says whether the restaurant was there; deleting one
///   that is not is `Ok(false)`. Afterwards `get` is `NotFound`, `members` and `slots` are
///   empty (or `NotFound`, as for any restaurant not there), `membership` is `None` and `restaurants_of` no longer lists it (on an index that
///   lags, after the lag). The audit trail is not this port's, and is kept.
#[async_trait]
pub trait Restaurants: Send + Sync {
    async fn create(&self, restaurant: &Restaurant) -> Result<(), RestaurantsError>;

    async fn get(&self, id: &RestaurantId) -> Result<Restaurant, RestaurantsError>;

    async fn put_member(
        &self,
        restaurant: &RestaurantId,
        member: &Member,
    ) -> Result<(), RestaurantsError>;

    async fn remove_member(
        &self,
        restaurant: &RestaurantId,
        user: &OwnerId,
    ) -> Result<bool, RestaurantsError>;

    async fn members(&self, restaurant: &RestaurantId) -> Result<Vec<Member>, RestaurantsError>;

    async fn membership(
        &self,
        restaurant: &RestaurantId,
        user: &OwnerId,
    ) -> Result<Option<MemberRole>, RestaurantsError>;

    async fn restaurants_of(
        &self,
        user: &OwnerId,
    ) -> Result<Vec<(Restaurant, MemberRole)>, RestaurantsError>;

    async fn slot(&self, slot: &SlotRef) -> Result<SlotState, RestaurantsError>;

    async fn slots(&self, restaurant: &RestaurantId) -> Result<Vec<SlotState>, RestaurantsError>;

    async fn offer(
        &self,
        slot: &SlotRef,
        image: &SlotImage,
    ) -> Result<OfferOutcome, RestaurantsError>;

    async fn history(&self, slot: &SlotRef) -> Result<Vec<SlotImage>, RestaurantsError>;

    async fn roll_back(&self, rollback: &Rollback) -> Result<SlotState, RestaurantsError>;

    async fn remove(&self, removal: &Removal) -> Result<SlotState, RestaurantsError>;

    async fn forget_image(
        &self,
        slot: &SlotRef,
        upload: &UploadId,
    ) -> Result<bool, RestaurantsError>;

    async fn delete_restaurant(&self, restaurant: &RestaurantId) -> Result<bool, RestaurantsError>;
}
