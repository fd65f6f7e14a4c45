//! Restaurants checks: what a slot shows, what offers do to it, and its history.

use vetted_core::ports::Restaurants;
use vetted_core::restaurant::{OfferOutcome, SlotState};
use vetted_core::{Slot, SlotRef};

use super::{
    create, fresh_id, fresh_slot, history, id_with_suffix, image, newest_first, offer_as_model,
    slot_state,
};
use crate::support::Check;

/// A slot nothing was offered to is `SlotState::empty`, with an empty history, and a new
/// restaurant has no slots.
pub async fn an_untouched_slot_is_empty(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::an_untouched_slot_is_empty";
    let _check = Check::start(CHECK);
    let r = create(CHECK, store, fresh_id()).await;
    for slot in [Slot::Logo, Slot::Cover, Slot::Gallery(1), Slot::Gallery(50)] {
        let slot = SlotRef::new(r.id.clone(), slot);
        assert_eq!(
            slot_state(CHECK, store, &slot).await,
            SlotState::empty(slot.clone()),
            "{CHECK}: an untouched slot is not SlotState::empty"
        );
        assert_eq!(
            history(CHECK, store, &slot).await,
            vec![],
            "{CHECK}: an untouched slot {slot} has a history"
        );
    }
    let slots = store.slots(&r.id).await.expect("slots");
    assert_eq!(slots, vec![], "{CHECK}: a new restaurant lists slots");
}

/// The first offer makes the image live at revision 1; offering the same upload again (a
/// retried publish) is `AlreadyLive`, bumps nothing and adds nothing to the history.
pub async fn the_first_offer_goes_live_and_a_retry_changes_nothing(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::the_first_offer_goes_live_and_a_retry_changes_nothing";
    let _check = Check::start(CHECK);
    let slot = fresh_slot(CHECK, store, Slot::Logo).await;
    let first = image(&slot, 100);
    let empty = SlotState::empty(slot.clone());
    let live = offer_as_model(CHECK, store, &empty, &first).await;
    assert_eq!(
        live.revision, 1,
        "{CHECK}: the first image is not revision 1"
    );
    for retry in 1..=2 {
        let again = store.offer(&slot, &first).await.expect("offer");
        assert_eq!(
            again,
            OfferOutcome::AlreadyLive(live.clone()),
            "{CHECK}: retry {retry} of the live image's offer is not AlreadyLive with the state unchanged"
        );
    }
    assert_eq!(
        slot_state(CHECK, store, &slot).await,
        live,
        "{CHECK}: a retried offer changed the slot (revision must stay 1)"
    );
    assert_eq!(
        history(CHECK, store, &slot).await,
        vec![first],
        "{CHECK}: a retried offer must leave the history as the first offer wrote it: the image, once"
    );
}

/// An offer decided before the live image's change is `Superseded`: the slot stays as it
/// is, and the image is in the history all the same, once however often it is offered.
pub async fn an_earlier_decision_is_superseded_but_kept_in_history(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::an_earlier_decision_is_superseded_but_kept_in_history";
    let _check = Check::start(CHECK);
    let slot = fresh_slot(CHECK, store, Slot::Cover).await;
    let late = image(&slot, 200);
    let early = image(&slot, 100);
    let live = offer_as_model(CHECK, store, &SlotState::empty(slot.clone()), &late).await;
    for attempt in 1..=2 {
        let after = offer_as_model(CHECK, store, &live, &early).await;
        assert_eq!(
            after, live,
            "{CHECK}: attempt {attempt}: an offer decided earlier than the live image changed the slot"
        );
    }
    assert_eq!(
        history(CHECK, store, &slot).await,
        newest_first(&[&late, &early]),
        "{CHECK}: a superseded image must be in the history, once, after the later one"
    );
}

/// An offer decided later replaces the live image: revision + 1, `previous` names the image
/// it replaced. One decided at the very instant of the live change replaces it too (only a
/// strictly later change supersedes an offer).
pub async fn a_later_decision_replaces_the_live_image(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::a_later_decision_replaces_the_live_image";
    let _check = Check::start(CHECK);
    let slot = fresh_slot(CHECK, store, Slot::Gallery(3)).await;
    let (a, b, c) = (image(&slot, 100), image(&slot, 200), image(&slot, 200));
    let mut model = SlotState::empty(slot.clone());
    model = offer_as_model(CHECK, store, &model, &a).await;
    model = offer_as_model(CHECK, store, &model, &b).await;
    assert_eq!(
        (model.revision, model.previous),
        (2, Some(a.upload)),
        "{CHECK}: a later decision must be revision 2 with the first image as previous"
    );
    model = offer_as_model(CHECK, store, &model, &c).await;
    assert_eq!(
        (model.live.as_ref().map(|l| l.upload), model.previous),
        (Some(c.upload), Some(b.upload)),
        "{CHECK}: an offer decided at the same instant as the live change must replace it"
    );
}

/// `slots` lists every slot of the restaurant that was ever set, each as `slot` returns it,
/// ordered by slot (logo, cover, then gallery positions in number order, not text order),
/// and nothing of another restaurant, even one whose id starts with this one's.
pub async fn slots_lists_every_set_slot_in_slot_order(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::slots_lists_every_set_slot_in_slot_order";
    let _check = Check::start(CHECK);
    let r = create(CHECK, store, fresh_id()).await;
    let longer = create(CHECK, store, id_with_suffix(&r.id, "x")).await;
    let set = [Slot::Gallery(10), Slot::Logo, Slot::Gallery(2), Slot::Cover];
    for (i, slot) in set.into_iter().enumerate() {
        let slot = SlotRef::new(r.id.clone(), slot);
        let state = SlotState::empty(slot.clone());
        offer_as_model(CHECK, store, &state, &image(&slot, 100 + i as i64)).await;
    }
    let neighbour = SlotRef::new(longer.id.clone(), Slot::Gallery(1));
    offer_as_model(
        CHECK,
        store,
        &SlotState::empty(neighbour.clone()),
        &image(&neighbour, 100),
    )
    .await;

    let listed = store.slots(&r.id).await.expect("slots");
    let order: Vec<Slot> = listed.iter().map(|s| s.slot.slot).collect();
    assert_eq!(
        order,
        vec![Slot::Logo, Slot::Cover, Slot::Gallery(2), Slot::Gallery(10)],
        "{CHECK}: slots must list exactly the set slots, ordered by slot"
    );
    for state in &listed {
        assert_eq!(
            state,
            &slot_state(CHECK, store, &state.slot).await,
            "{CHECK}: slots lists {} differently from slot()",
            state.slot
        );
    }
    let theirs = store.slots(&longer.id).await.expect("slots");
    assert_eq!(
        theirs.iter().map(|s| &s.slot).collect::<Vec<_>>(),
        vec![&neighbour],
        "{CHECK}: slots of a restaurant whose id extends another's must list only its own"
    );
}

/// `history` lists every image offered to the slot, newest decision first whatever order
/// the offers came in, each upload once however often it was offered, and only this slot's.
pub async fn history_is_newest_decision_first_with_each_upload_once(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::history_is_newest_decision_first_with_each_upload_once";
    let _check = Check::start(CHECK);
    let slot = fresh_slot(CHECK, store, Slot::Gallery(7)).await;
    let other_slot = SlotRef::new(slot.restaurant.clone(), Slot::Gallery(8));
    // Upload ids sort by creation, so creation order differs from decision order too.
    let images = [300, 100, 400, 200, 50].map(|decided| image(&slot, decided));
    let mut model = SlotState::empty(slot.clone());
    for i in [1, 0, 3, 1, 2, 4, 0, 2] {
        model = offer_as_model(CHECK, store, &model, &images[i]).await;
    }
    let elsewhere = image(&other_slot, 350);
    offer_as_model(
        CHECK,
        store,
        &SlotState::empty(other_slot.clone()),
        &elsewhere,
    )
    .await;
    let all: Vec<_> = images.iter().collect();
    assert_eq!(
        history(CHECK, store, &slot).await,
        newest_first(&all),
        "{CHECK}: history must be every offered image once, newest decided_at first"
    );
    assert_eq!(
        history(CHECK, store, &other_slot).await,
        vec![elsewhere],
        "{CHECK}: another slot's history must hold only its own images"
    );
}
