//! Restaurants checks: offers and roll backs racing on one slot end as some serial order of
//! them would.

use futures_util::future::join_all;
use vetted_core::ports::{Restaurants, RestaurantsError};
use vetted_core::restaurant::{OfferOutcome, SlotImage, SlotState};
use vetted_core::{Slot, SlotRef};

use super::rollbacks::{rollback, three_images};
use super::{
    at, create, fresh_id, history, image, moderator, newest_first, offer_as_model, slot_state,
    state_of,
};
use crate::support::Check;

/// What offering `first` then `second` to `start` answers, in that order.
fn serially(
    start: &SlotState,
    first: &SlotImage,
    second: &SlotImage,
) -> (OfferOutcome, OfferOutcome) {
    let one = start.offer(first);
    let two = state_of(&one).offer(second);
    (one, two)
}

/// Two offers of different uploads to one slot, started together, many times over: the one
/// decided later is live at the end, both are in the history once, and the two answers are
/// what one of the two serial orders gives. Rounds vary which offer starts first, which
/// upload was created first, and whether the slot already shows an older image.
pub async fn concurrent_offers_end_with_the_later_decision_live(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::concurrent_offers_end_with_the_later_decision_live";
    let _check = Check::start(CHECK);
    const ROUNDS: u8 = 20;
    let r = create(CHECK, store, fresh_id()).await;
    for round in 0..ROUNDS {
        let slot = SlotRef::new(r.id.clone(), Slot::Gallery(round + 1));
        let mut start = SlotState::empty(slot.clone());
        let mut offered = Vec::new();
        if round % 4 >= 2 {
            let older = image(&slot, 50);
            start = offer_as_model(CHECK, store, &start, &older).await;
            offered.push(older);
        }
        let (early, late) = if round % 8 >= 4 {
            let late = image(&slot, 200);
            (image(&slot, 100), late)
        } else {
            let early = image(&slot, 100);
            (early, image(&slot, 200))
        };
        let (x, y) = if round % 2 == 0 {
            (&early, &late)
        } else {
            (&late, &early)
        };
        let (rx, ry) = tokio::join!(store.offer(&slot, x), store.offer(&slot, y));
        let rx =
            rx.unwrap_or_else(|e| panic!("{CHECK}: round {round}: a racing offer failed: {e}"));
        let ry =
            ry.unwrap_or_else(|e| panic!("{CHECK}: round {round}: a racing offer failed: {e}"));
        let (x_first, then_y) = serially(&start, x, y);
        let (y_first, then_x) = serially(&start, y, x);
        let end = if (&rx, &ry) == (&x_first, &then_y) {
            state_of(&then_y).clone()
        } else if (&rx, &ry) == (&then_x, &y_first) {
            state_of(&then_x).clone()
        } else {
            panic!(
                "{CHECK}: round {round}: the answers of two racing offers match no serial \
                 order of them: {rx:?} and {ry:?}"
            )
        };
        let stored = slot_state(CHECK, store, &slot).await;
        assert_eq!(
            stored.live.as_ref().map(|l| l.upload),
            Some(late.upload),
            "{CHECK}: round {round}: after two racing offers the earlier decision is live"
        );
        assert_eq!(
            stored, end,
            "{CHECK}: round {round}: the stored slot is not what the serial order of the answers leaves"
        );
        offered.extend([early, late]);
        let all: Vec<&SlotImage> = offered.iter().collect();
        assert_eq!(
            history(CHECK, store, &slot).await,
            newest_first(&all),
            "{CHECK}: round {round}: both racing images must be in the history, once each"
        );
    }
}

/// Many concurrent retries of one offer record it once: of a later decision exactly one
/// answer is `BecameLive` and the rest `AlreadyLive` with the same state; of an earlier one
/// every answer is `Superseded`; the history lists each upload once.
pub async fn concurrent_retries_of_one_offer_record_it_once(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::concurrent_retries_of_one_offer_record_it_once";
    let _check = Check::start(CHECK);
    const RETRIES: usize = 8;
    let r = create(CHECK, store, fresh_id()).await;
    let slot = SlotRef::new(r.id, Slot::Logo);
    let first = image(&slot, 100);
    let live = offer_as_model(CHECK, store, &SlotState::empty(slot.clone()), &first).await;

    let later = image(&slot, 200);
    let answers = join_all((0..RETRIES).map(|_| store.offer(&slot, &later))).await;
    let OfferOutcome::BecameLive(expected) = live.offer(&later) else {
        panic!("{CHECK}: the reference says a later decision goes live")
    };
    let mut became_live = 0;
    for answer in answers {
        match answer {
            Ok(OfferOutcome::BecameLive(state)) => {
                became_live += 1;
                assert_eq!(
                    state, expected,
                    "{CHECK}: the winning retry's state differs from SlotState::offer"
                );
            }
            Ok(OfferOutcome::AlreadyLive(state)) => assert_eq!(
                state, expected,
                "{CHECK}: an AlreadyLive retry must carry the state the winner wrote"
            ),
            other => panic!("{CHECK}: a concurrent retry of a later offer answered {other:?}"),
        }
    }
    assert_eq!(
        became_live, 1,
        "{CHECK}: {became_live} of {RETRIES} concurrent retries of one offer made it live"
    );

    let earlier = image(&slot, 50);
    let answers = join_all((0..RETRIES).map(|_| store.offer(&slot, &earlier))).await;
    for answer in answers {
        assert_eq!(
            answer.ok(),
            Some(OfferOutcome::Superseded(expected.clone())),
            "{CHECK}: a concurrent retry of an earlier decision must be Superseded, slot unchanged"
        );
    }
    assert_eq!(
        slot_state(CHECK, store, &slot).await,
        expected,
        "{CHECK}: the slot after the concurrent retries"
    );
    assert_eq!(
        history(CHECK, store, &slot).await,
        newest_first(&[&first, &later, &earlier]),
        "{CHECK}: concurrent retries must leave each upload in the history exactly once"
    );
}

/// Ten roll backs of one slot with the same expected revision, started together: exactly
/// one succeeds, as `rolled_back_to` says; every other one is `SlotMoved` carrying the
/// winner's state, and the slot is the winner's. Three rounds, each on the last winner.
pub async fn concurrent_roll_backs_have_exactly_one_winner(store: &dyn Restaurants) {
    const CHECK: &str = "restaurants::concurrent_roll_backs_have_exactly_one_winner";
    let _check = Check::start(CHECK);
    const RACERS: usize = 10;
    const ROUNDS: i64 = 3;
    let (mut model, images) = three_images(CHECK, store, Slot::Gallery(9)).await;
    for round in 0..ROUNDS {
        let attempts: Vec<_> = (0..RACERS)
            .map(|i| {
                let to = &images[i % images.len()];
                let when = at(1000 * (round + 1) + i as i64);
                (rollback(&model, to, i, when), to, i, when)
            })
            .collect();
        let answers = join_all(attempts.iter().map(|(rb, ..)| store.roll_back(rb))).await;
        let mut winners = Vec::new();
        let mut losers_saw = Vec::new();
        for ((_, to, i, when), answer) in attempts.iter().zip(answers) {
            match answer {
                Ok(state) => winners.push((model.rolled_back_to(to, moderator(*i), *when), state)),
                Err(RestaurantsError::SlotMoved { expected, current }) => {
                    assert_eq!(
                        expected, model.revision,
                        "{CHECK}: round {round}: SlotMoved must name the expected revision"
                    );
                    losers_saw.push(*current);
                }
                Err(other) => panic!("{CHECK}: round {round}: a racing roll back failed: {other}"),
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "{CHECK}: round {round}: {} of {RACERS} roll backs expecting revision {} succeeded",
            winners.len(),
            model.revision
        );
        let (reference, answered) = winners.remove(0);
        assert_eq!(
            answered, reference,
            "{CHECK}: round {round}: the winning roll back differs from SlotState::rolled_back_to"
        );
        for seen in &losers_saw {
            assert_eq!(
                seen, &answered,
                "{CHECK}: round {round}: a losing roll back's SlotMoved must carry the winner's state"
            );
        }
        assert_eq!(
            slot_state(CHECK, store, &model.slot).await,
            answered,
            "{CHECK}: round {round}: the stored slot is not the winner's"
        );
        model = answered;
    }
    let all: Vec<&SlotImage> = images.iter().collect();
    assert_eq!(
        history(CHECK, store, &model.slot).await,
        newest_first(&all),
        "{CHECK}: roll backs changed the history"
    );
}
