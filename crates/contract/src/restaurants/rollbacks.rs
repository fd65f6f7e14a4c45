//! Restaurants checks: putting an image from a slot's history back, conditionally.

use vetted_core::ports::{Restaurants, RestaurantsError, Rollback};
use vetted_core::restaurant::{SlotImage, SlotState};
use vetted_core::{Slot, SlotRef, Timestamp, UploadId};

use super::{at, fresh_slot, history, image, moderator, newest_first, offer_as_model, slot_state};
use crate::support::Check;

pub(crate) fn rollback(state: &SlotState, to: &SlotImage, n: usize, when: Timestamp) -> Rollback {
    Rollback {
        slot: state.slot.clone(),
        to: to.upload,
        expected_revision: state.revision,
        moderator: moderator(n),
        at: when,
    }
}

/// Rolls back and checks the answer and the stored slot against `rolled_back_to`.
async fn roll_back_as_model(
    check: &str,
    store: &dyn Restaurants,
    model: &SlotState,
    to: &SlotImage,
    when: Timestamp,
) -> SlotState {
    let expected = model.rolled_back_to(to, moderator(1), when);
    let answered = store
        .roll_back(&rollback(model, to, 1, when))
        .await
        .unwrap_or_else(|e| panic!("{check}: roll back to {} failed: {e}", to.upload));
    assert_eq!(
        answered, expected,
        "{check}: a roll back answered differently from SlotState::rolled_back_to \
         (revision + 1, previous, changed_at = at, cause RolledBack)"
    );
    assert_eq!(
        slot_state(check, store, &model.slot).await,
        expected,
        "{check}: after a roll back the stored slot differs from its answer"
    );
    expected
}

/// A slot with images decided at 100, 200 and 300 offered in order: live is the last.
pub(crate) async fn three_images(
    check: &str,
    store: &dyn Restaurants,
    slot: Slot,
) -> (SlotState, [SlotImage; 3]) {
    let slot = fresh_slot(check, store, slot).await;
    let images = [100, 200, 300].map(|decided| image(&slot, decided));
    let mut model = SlotState::empty(slot);
    for i in &images {
        model = offer_as_model(check, store, &model, i).await;
    }
    (model, images)
}

/// A roll back makes a history image live again as `rolled_back_to` says and adds nothing to
/// the history; afterwards offers are ordered against the rollback's time: one decided
/// before it is superseded, one decided after it goes live.
pub async fn roll_back_puts_a_history_image_back(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::roll_back_puts_a_history_image_back";
    let _check = Check::start(CHECK);
    let (mut model, [a, b, c]) = three_images(CHECK, store, Slot::Logo).await;
    model = roll_back_as_model(CHECK, store, &model, &a, at(1000)).await;
    assert_eq!(
        (model.revision, model.previous),
        (4, Some(c.upload)),
        "{CHECK}: a roll back at revision 3 must be revision 4, with the replaced image as previous"
    );
    assert_eq!(
        history(CHECK, store, &model.slot).await,
        newest_first(&[&a, &b, &c]),
        "{CHECK}: a roll back changed the history (each upload must stay listed once)"
    );
    let before_rollback = image(&model.slot, 900);
    model = offer_as_model(CHECK, store, &model, &before_rollback).await;
    assert_eq!(
        model.live.as_ref().map(|l| l.upload),
        Some(a.upload),
        "{CHECK}: an offer decided before the roll back replaced the rolled-back image"
    );
    let after_rollback = image(&model.slot, 1100);
    model = offer_as_model(CHECK, store, &model, &after_rollback).await;
    model = roll_back_as_model(CHECK, store, &model, &b, at(1200)).await;
    assert_eq!(
        model.revision, 6,
        "{CHECK}: revisions must count every change of the live image"
    );
}

/// A roll back that expects another revision than the slot's is `SlotMoved` with the slot as
/// it stands, and writes nothing.
pub async fn a_roll_back_on_another_revision_is_slot_moved(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::a_roll_back_on_another_revision_is_slot_moved";
    let _check = Check::start(CHECK);
    let (model, [a, _, _]) = three_images(CHECK, store, Slot::Cover).await;
    for expected_revision in [0, 2, 4] {
        let stale = Rollback {
            expected_revision,
            ..rollback(&model, &a, 2, at(1000))
        };
        match store.roll_back(&stale).await {
            Err(RestaurantsError::SlotMoved { expected, current }) => {
                assert_eq!(
                    expected, expected_revision,
                    "{CHECK}: SlotMoved must name the revision the roll back expected"
                );
                assert_eq!(
                    *current, model,
                    "{CHECK}: SlotMoved must carry the slot as it stands"
                );
            }
            other => panic!(
                "{CHECK}: a roll back expecting revision {expected_revision} of a slot at 3 \
                 must be SlotMoved, got {other:?}"
            ),
        }
    }
    assert_eq!(
        slot_state(CHECK, store, &model.slot).await,
        model,
        "{CHECK}: a refused roll back changed the slot"
    );
}

fn expect_not_in_history(
    check: &str,
    what: &str,
    result: Result<SlotState, RestaurantsError>,
    slot: &SlotRef,
    to: UploadId,
) {
    match result {
        Err(RestaurantsError::NotInHistory { slot: s, upload }) => {
            assert_eq!(
                (&s, upload),
                (slot, to),
                "{check}: {what}: NotInHistory names the wrong slot or upload"
            );
        }
        other => panic!("{check}: {what} must be NotInHistory, got {other:?}"),
    }
}

/// A roll back to an upload the slot never showed is `NotInHistory`, even when another slot
/// of the restaurant did show it, and writes nothing; so is any roll back of an empty slot.
pub async fn a_roll_back_to_an_image_the_slot_never_showed_is_not_in_history(
    store: &dyn Restaurants,
) {
    const CHECK: &str =
        "restaurants::a_roll_back_to_an_image_the_slot_never_showed_is_not_in_history";
    let _check = Check::start(CHECK);
    let (model, _) = three_images(CHECK, store, Slot::Gallery(4)).await;
    let stranger = image(&model.slot, 50);
    let result = store
        .roll_back(&rollback(&model, &stranger, 3, at(1000)))
        .await;
    expect_not_in_history(
        CHECK,
        "a roll back to an unknown upload",
        result,
        &model.slot,
        stranger.upload,
    );

    let sibling = SlotRef::new(model.slot.restaurant.clone(), Slot::Gallery(5));
    let theirs = image(&sibling, 150);
    offer_as_model(CHECK, store, &SlotState::empty(sibling.clone()), &theirs).await;
    let result = store
        .roll_back(&rollback(&model, &theirs, 3, at(1000)))
        .await;
    expect_not_in_history(
        CHECK,
        "a roll back to an image of another slot",
        result,
        &model.slot,
        theirs.upload,
    );
    assert_eq!(
        slot_state(CHECK, store, &model.slot).await,
        model,
        "{CHECK}: a refused roll back changed the slot"
    );

    let empty = SlotState::empty(SlotRef::new(
        model.slot.restaurant.clone(),
        Slot::Gallery(6),
    ));
    let result = store
        .roll_back(&rollback(&empty, &theirs, 3, at(1000)))
        .await;
    expect_not_in_history(
        CHECK,
        "a roll back of an empty slot",
        result,
        &empty.slot,
        theirs.upload,
    );
    assert_eq!(
        slot_state(CHECK, store, &empty.slot).await,
        empty,
        "{CHECK}: a refused roll back of an empty slot set it"
    );
}
