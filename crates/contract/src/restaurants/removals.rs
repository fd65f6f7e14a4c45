//! Restaurants checks: an owner taking a gallery image down, conditionally, with the image
//! kept in the history so that a rollback can bring it back.

use std::time::Duration;

use vetted_core::ports::{Removal, Restaurants, RestaurantsError};
use vetted_core::restaurant::{Member, MemberRole, SlotState};
use vetted_core::{Slot, Timestamp};

use super::rollbacks::{rollback, three_images};
use super::{
    at, fresh_id, fresh_slot, fresh_user, history, image, newest_first, offer_as_model, slot_state,
};
use crate::support::{Check, eventually};

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

/// `forget_image` removes one image from the slot's history and nothing else (the slot's state
/// stays as it was); a rollback to it is then `NotInHistory`, and a second call is `false`.
pub async fn forget_image_removes_one_history_entry(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::forget_image_removes_one_history_entry";
    let _check = Check::start(CHECK);
    let (model, [a, b, c]) = three_images(CHECK, store, Slot::Gallery(8)).await;
    let forgot = store
        .forget_image(&model.slot, &b.upload)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: forget_image failed: {e}"));
    assert!(
        forgot,
        "{CHECK}: forget_image of a history image must say it was there"
    );
    assert_eq!(
        history(CHECK, store, &model.slot).await,
        newest_first(&[&a, &c]),
        "{CHECK}: the history must lose exactly the forgotten image"
    );
    assert_eq!(
        slot_state(CHECK, store, &model.slot).await,
        model,
        "{CHECK}: forget_image must not change the slot's state"
    );
    let back = rollback(&model, &b, 1, at(2000));
    match store.roll_back(&back).await {
        Err(RestaurantsError::NotInHistory { .. }) => {}
        other => panic!("{CHECK}: a rollback to a forgotten image must be NotInHistory: {other:?}"),
    }
    let again = store
        .forget_image(&model.slot, &b.upload)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: a second forget_image failed: {e}"));
    assert!(!again, "{CHECK}: a second forget_image must be false");
}

/// `delete_restaurant` removes the restaurant, its members, slots and history, and no other
/// restaurant's; a second call (and one for an id never created) is `Ok(false)`.
pub async fn delete_restaurant_removes_it_with_members_and_slots(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::delete_restaurant_removes_it_with_members_and_slots";
    let _check = Check::start(CHECK);
    let (model, _) = three_images(CHECK, store, Slot::Logo).await;
    let id = model.slot.restaurant.clone();
    let (kept_model, kept_images) = three_images(CHECK, store, Slot::Logo).await;
    let user = fresh_user();
    let member = Member {
        user: user.clone(),
        role: MemberRole::Owner,
        added_at: at(1),
    };
    for restaurant in [&id, &kept_model.slot.restaurant] {
        store
            .put_member(restaurant, &member)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: put_member failed: {e}"));
    }
    let deleted = store
        .delete_restaurant(&id)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: delete_restaurant failed: {e}"));
    assert!(
        deleted,
        "{CHECK}: deleting a stored restaurant must say it was there"
    );
    match store.get(&id).await {
        Err(RestaurantsError::NotFound(_)) => {}
        other => panic!("{CHECK}: get after delete must be NotFound: {other:?}"),
    }
    match store.members(&id).await {
        Ok(members) => assert!(members.is_empty(), "{CHECK}: members left: {members:?}"),
        Err(RestaurantsError::NotFound(_)) => {}
        Err(e) => panic!("{CHECK}: members failed: {e}"),
    }
    assert_eq!(
        store.membership(&id, &user).await.ok().flatten(),
        None,
        "{CHECK}: a membership is left"
    );
    match store.slots(&id).await {
        Ok(slots) => assert!(slots.is_empty(), "{CHECK}: slots left: {slots:?}"),
        Err(RestaurantsError::NotFound(_)) => {}
        Err(e) => panic!("{CHECK}: slots failed: {e}"),
    }
    assert_eq!(
        slot_state(CHECK, store, &model.slot).await,
        SlotState::empty(model.slot.clone()),
        "{CHECK}: the slot must read as never set"
    );
    assert!(
        history(CHECK, store, &model.slot).await.is_empty(),
        "{CHECK}: history left"
    );
    // The other restaurant is untouched.
    assert_eq!(slot_state(CHECK, store, &kept_model.slot).await, kept_model);
    let [a, b, c] = &kept_images;
    assert_eq!(
        history(CHECK, store, &kept_model.slot).await,
        newest_first(&[a, b, c])
    );
    assert_eq!(
        store
            .membership(&kept_model.slot.restaurant, &user)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: membership failed: {e}")),
        Some(MemberRole::Owner),
        "{CHECK}: another restaurant's member was deleted"
    );
    eventually(
        Duration::from_secs(5),
        &format!("{CHECK}: restaurants_of forgets it"),
        || async {
            let of = store
                .restaurants_of(&user)
                .await
                .map_err(|e| e.to_string())?;
            let listed: Vec<_> = of.iter().map(|(r, _)| r.id.clone()).collect();
            if listed == vec![kept_model.slot.restaurant.clone()] {
                Ok(())
            } else {
                Err(format!("{listed:?}"))
            }
        },
    )
    .await;
    for gone in [id.clone(), fresh_id()] {
        let again = store
            .delete_restaurant(&gone)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: a second delete_restaurant failed: {e}"));
        assert!(
            !again,
            "{CHECK}: deleting a missing restaurant must be Ok(false)"
        );
    }
}
