//! Restaurants checks: an owner taking a gallery image down, conditionally, with the image
//! kept in the history so that a rollback can bring it back.

use vetted_core::ports::{Removal, Restaurants, RestaurantsError};
use vetted_core::restaurant::SlotState;
use vetted_core::{Slot, Timestamp};

use super::rollbacks::{rollback, three_images};
use super::{at, fresh_slot, fresh_user, history, image, newest_first, offer_as_model, slot_state};
use crate::support::Check;

fn removal(state: &SlotState, when: Timestamp) -> Removal {
    Removal {
        slot: state.slot.clone(),
        expected_revision: state.revision,
        owner: fresh_user(),
        at: when,
    }
}

/// A removal empties the slot as `removed_by` says and keeps the history; afterwards an offer
/// decided before the removal stays out, one decided after it goes live, and a rollback can
/// put the removed image back.
pub async fn remove_empties_the_slot_and_keeps_the_history(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::remove_empties_the_slot_and_keeps_the_history";
    let _check = Check::start(CHECK);
    let (model, [a, b, c]) = three_images(CHECK, store, Slot::Gallery(7)).await;
    let request = removal(&model, at(1000));
    let expected = model.removed_by(request.owner.clone(), request.at);
    let answered = store
        .remove(&request)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: removing the live image failed: {e}"));
    assert_eq!(
        answered, expected,
        "{CHECK}: a removal answered differently from SlotState::removed_by \
         (no live image, previous = the removed one, revision + 1, cause Removed)"
    );
    let mut model = slot_state(CHECK, store, &model.slot).await;
    assert_eq!(
        model, expected,
        "{CHECK}: after a removal the stored slot differs from its answer"
    );
    assert_eq!(
        history(CHECK, store, &model.slot).await,
        newest_first(&[&a, &b, &c]),
        "{CHECK}: a removal changed the history (the removed image must stay listed)"
    );
    let listed = store
        .slots(&model.slot.restaurant)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: slots failed: {e}"));
    assert!(
        listed.contains(&model),
        "{CHECK}: slots must list a removed slot as it stands, got {listed:?}"
    );

    let before_removal = image(&model.slot, 900);
    model = offer_as_model(CHECK, store, &model, &before_removal).await;
    assert_eq!(
        model.live, None,
        "{CHECK}: an offer decided before the removal put an image back"
    );
    let restored = store
        .roll_back(&rollback(&model, &c, 1, at(1100)))
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: rolling a removed slot back failed: {e}"));
    assert_eq!(
        (restored.live.as_ref().map(|l| l.upload), restored.previous),
        (Some(c.upload), None),
        "{CHECK}: a rollback of a removed slot must show the image again, with nothing as \
         previous (nothing was live)"
    );
    model = slot_state(CHECK, store, &model.slot).await;
    assert_eq!(model, restored, "{CHECK}: the stored slot differs");

    let second = removal(&model, at(1200));
    model = store
        .remove(&second)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: the second removal failed: {e}"));
    let after_removal = image(&model.slot, 1300);
    model = offer_as_model(CHECK, store, &model, &after_removal).await;
    assert_eq!(
        (
            model.live.as_ref().map(|l| l.upload),
            model.previous,
            model.revision
        ),
        (Some(after_removal.upload), None, 7),
        "{CHECK}: an offer decided after a removal must go live on the empty slot, as \
         revision 7 of 3 offers, a removal, a rollback, a removal and this offer"
    );
}

/// A removal on another revision is `SlotMoved`, and one of a slot that shows nothing is
/// `SlotEmpty`; neither writes anything.
pub async fn a_removal_on_another_revision_or_an_empty_slot_is_refused(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::a_removal_on_another_revision_or_an_empty_slot_is_refused";
    let _check = Check::start(CHECK);
    let (model, _) = three_images(CHECK, store, Slot::Gallery(8)).await;
    for expected_revision in [0, 2, 4] {
        let stale = Removal {
            expected_revision,
            ..removal(&model, at(1000))
        };
        match store.remove(&stale).await {
            Err(RestaurantsError::SlotMoved { expected, current }) => {
                assert_eq!(
                    (expected, &*current),
                    (expected_revision, &model),
                    "{CHECK}: SlotMoved must name the expected revision and carry the slot"
                );
            }
            other => panic!(
                "{CHECK}: a removal expecting revision {expected_revision} of a slot at 3 must \
                 be SlotMoved, got {other:?}"
            ),
        }
    }
    assert_eq!(
        slot_state(CHECK, store, &model.slot).await,
        model,
        "{CHECK}: a refused removal changed the slot"
    );

    let removed = store
        .remove(&removal(&model, at(1000)))
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: removal failed: {e}"));
    let never_set = SlotState::empty(fresh_slot(CHECK, store, Slot::Gallery(9)).await);
    for (what, state) in [
        ("a removed slot", &removed),
        ("a slot never set", &never_set),
    ] {
        match store.remove(&removal(state, at(2000))).await {
            Err(RestaurantsError::SlotEmpty { current }) => assert_eq!(
                &*current, state,
                "{CHECK}: SlotEmpty must carry {what} as it stands"
            ),
            other => panic!("{CHECK}: removing from {what} must be SlotEmpty, got {other:?}"),
        }
        assert_eq!(
            &slot_state(CHECK, store, &state.slot).await,
            state,
            "{CHECK}: a refused removal of {what} changed it"
        );
    }
}
