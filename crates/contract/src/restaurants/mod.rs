//! The `Restaurants` contract: restaurants and their members, and slots whose live image moves
//! only as [`SlotState::offer`], [`SlotState::rolled_back_to`] and
//! [`SlotState::removed_by`] say, also under races.
//!
//! Every check creates restaurants of its own, with ids no other run uses, and users of its
//! own, so the suite also runs on a shared table. Timestamps are fixed offsets from
//! [`BASE_MS`], never the clock: the store orders by what it is given. `restaurants_of` is the
//! one answer allowed to lag a write (a secondary index on DynamoDB).

mod directory;
mod races;
mod removals;
mod rollbacks;
mod slots;

pub use directory::{
    create_then_get_returns_the_restaurant, member_changes_of_an_unknown_restaurant_are_not_found,
    membership_is_none_for_strangers_and_unknown_restaurants, put_member_adds_and_changes_a_role,
    remove_member_says_whether_there_was_one,
    restaurants_of_lists_each_restaurant_with_its_role_in_id_order,
};
pub use races::{
    concurrent_offers_end_with_the_later_decision_live,
    concurrent_retries_of_one_offer_record_it_once, concurrent_roll_backs_have_exactly_one_winner,
};
pub use removals::{
    a_removal_on_another_revision_or_an_empty_slot_is_refused,
    delete_restaurant_removes_it_with_members_and_slots, forget_image_removes_one_history_entry,
    remove_empties_the_slot_and_keeps_the_history,
};
pub use rollbacks::{
    a_roll_back_on_another_revision_is_slot_moved,
    a_roll_back_to_an_image_the_slot_never_showed_is_not_in_history,
    roll_back_puts_a_history_image_back,
};
pub use slots::{
    a_later_decision_replaces_the_live_image,
    an_earlier_decision_is_superseded_but_kept_in_history, an_untouched_slot_is_empty,
    history_is_newest_decision_first_with_each_upload_once,
    slots_lists_every_set_slot_in_slot_order,
    the_first_offer_goes_live_and_a_retry_changes_nothing,
};

use vetted_core::ports::{Restaurants, RestaurantsError};
use vetted_core::restaurant::{OfferOutcome, Restaurant, SlotImage, SlotState};
use vetted_core::{
    ImageType, ModeratorId, ObjectKey, OwnerId, RestaurantId, Slot, SlotRef, Timestamp, UploadId,
};

use crate::support::unique;

/// Runs every check on `store`, which may be shared: every check makes its own restaurants.
pub async fn run_all(store: &dyn Restaurants) {
    create_then_get_returns_the_restaurant(store).await;
    put_member_adds_and_changes_a_role(store).await;
    remove_member_says_whether_there_was_one(store).await;
    membership_is_none_for_strangers_and_unknown_restaurants(store).await;
    restaurants_of_lists_each_restaurant_with_its_role_in_id_order(store).await;
    member_changes_of_an_unknown_restaurant_are_not_found(store).await;
    an_untouched_slot_is_empty(store).await;
    the_first_offer_goes_live_and_a_retry_changes_nothing(store).await;
    an_earlier_decision_is_superseded_but_kept_in_history(store).await;
    a_later_decision_replaces_the_live_image(store).await;
    slots_lists_every_set_slot_in_slot_order(store).await;
    history_is_newest_decision_first_with_each_upload_once(store).await;
    roll_back_puts_a_history_image_back(store).await;
    a_roll_back_on_another_revision_is_slot_moved(store).await;
    a_roll_back_to_an_image_the_slot_never_showed_is_not_in_history(store).await;
    remove_empties_the_slot_and_keeps_the_history(store).await;
    a_removal_on_another_revision_or_an_empty_slot_is_refused(store).await;
    forget_image_removes_one_history_entry(store).await;
    delete_restaurant_removes_it_with_members_and_slots(store).await;
    concurrent_offers_end_with_the_later_decision_live(store).await;
    concurrent_retries_of_one_offer_record_it_once(store).await;
    concurrent_roll_backs_have_exactly_one_winner(store).await;
}

/// Every timestamp of the suite is this plus a small offset.
pub const BASE_MS: i64 = 1_700_000_000_000;

pub(crate) fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(BASE_MS + offset_ms)
}

/// A restaurant id no other check, run or process uses (39 characters, so a check may append
/// a suffix of its own).
pub(crate) fn fresh_id() -> RestaurantId {
    RestaurantId::parse(&format!("ct-{}", UploadId::generate()))
        .unwrap_or_else(|e| panic!("a generated restaurant id is invalid: {e}"))
}

/// `id` with `-{suffix}` appended.
pub(crate) fn id_with_suffix(id: &RestaurantId, suffix: &str) -> RestaurantId {
    RestaurantId::parse(&format!("{id}-{suffix}"))
        .unwrap_or_else(|e| panic!("a test restaurant id is invalid: {e}"))
}

pub(crate) fn fresh_user() -> OwnerId {
    OwnerId::parse(&unique("user")).unwrap_or_else(|e| panic!("a generated user is invalid: {e}"))
}

pub(crate) fn moderator(n: usize) -> ModeratorId {
    ModeratorId::parse(&format!("contract-mod-{n}"))
        .unwrap_or_else(|e| panic!("a test moderator id is invalid: {e}"))
}

/// A restaurant that is stored nowhere yet, with a name a store might mangle.
pub(crate) fn restaurant(id: RestaurantId) -> Restaurant {
    Restaurant {
        id,
        name: "Trattoria \"Roma\" – caf\u{e9} & bar".to_owned(),
        created_at: at(1),
    }
}

/// Creates a restaurant with `id`; the check that needs it fails here if `create` does.
pub(crate) async fn create(check: &str, store: &dyn Restaurants, id: RestaurantId) -> Restaurant {
    let r = restaurant(id);
    store
        .create(&r)
        .await
        .unwrap_or_else(|e| panic!("{check}: create restaurant {} failed: {e}", r.id));
    r
}

/// A fresh restaurant, created, and one of its slots.
pub(crate) async fn fresh_slot(check: &str, store: &dyn Restaurants, slot: Slot) -> SlotRef {
    let r = create(check, store, fresh_id()).await;
    SlotRef::new(r.id, slot)
}

/// A published image of a fresh upload for `slot`, decided at `decided` (an offset). Sizes
/// and types differ by decision time, so a store that swaps two images' fields is caught.
pub(crate) fn image(slot: &SlotRef, decided: i64) -> SlotImage {
    let upload = UploadId::generate();
    let n = u32::try_from(decided.rem_euclid(1000)).unwrap_or(0);
    SlotImage {
        upload,
        key: ObjectKey::published(slot, &upload),
        image_type: ImageType::ALL[n as usize % ImageType::ALL.len()],
        width: 1200 + n,
        height: 800 + n,
        bytes: 5_000_000_000 + u64::from(n),
        decided_at: at(decided),
        published_at: at(decided + 7),
    }
}

/// The state an outcome leaves the slot in.
pub(crate) fn state_of(outcome: &OfferOutcome) -> &SlotState {
    match outcome {
        OfferOutcome::BecameLive(s)
        | OfferOutcome::AlreadyLive(s)
        | OfferOutcome::Superseded(s) => s,
    }
}

/// Offers `image` and checks the answer against `model.offer(image)` and the stored slot
/// against the state that answer carries; returns the new model.
pub(crate) async fn offer_as_model(
    check: &str,
    store: &dyn Restaurants,
    model: &SlotState,
    image: &SlotImage,
) -> SlotState {
    let expected = model.offer(image);
    let what = format!(
        "offer of upload {} decided at +{} ms",
        image.upload,
        image.decided_at.unix_millis() - BASE_MS
    );
    let answered = store
        .offer(&model.slot, image)
        .await
        .unwrap_or_else(|e| panic!("{check}: {what} failed: {e}"));
    assert_eq!(
        answered, expected,
        "{check}: {what} answered differently from SlotState::offer"
    );
    let stored = slot_state(check, store, &model.slot).await;
    assert_eq!(
        &stored,
        state_of(&expected),
        "{check}: after the {what}, the stored slot is not the state the answer carries"
    );
    stored
}

pub(crate) async fn slot_state(check: &str, store: &dyn Restaurants, slot: &SlotRef) -> SlotState {
    store
        .slot(slot)
        .await
        .unwrap_or_else(|e| panic!("{check}: slot({slot}) failed: {e}"))
}

pub(crate) async fn history(
    check: &str,
    store: &dyn Restaurants,
    slot: &SlotRef,
) -> Vec<SlotImage> {
    store
        .history(slot)
        .await
        .unwrap_or_else(|e| panic!("{check}: history({slot}) failed: {e}"))
}

/// `images` as `history` must list them: newest decision first (the suite never offers two
/// images of one slot decided at the same instant, so the order is total).
pub(crate) fn newest_first(images: &[&SlotImage]) -> Vec<SlotImage> {
    let mut sorted: Vec<SlotImage> = images.iter().map(|i| (*i).clone()).collect();
    sorted.sort_by_key(|i| std::cmp::Reverse(i.decided_at));
    sorted
}

/// Panics unless `result` is `NotFound` naming `id`.
pub(crate) fn expect_not_found<T: std::fmt::Debug>(
    check: &str,
    what: &str,
    result: Result<T, RestaurantsError>,
    id: &RestaurantId,
) {
    match result {
        Err(RestaurantsError::NotFound(got)) => {
            assert_eq!(
                &got, id,
                "{check}: {what}: NotFound names the wrong restaurant"
            )
        }
        other => {
            panic!("{check}: {what} of unknown restaurant {id} must be NotFound, got {other:?}")
        }
    }
}
