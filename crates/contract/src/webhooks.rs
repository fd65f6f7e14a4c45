//! The `Webhooks` contract: endpoints stored and replaced whole, one delivery per (endpoint,
//! event) however often it is enqueued, claims that exclude each other until their lease
//! ends, and attempts recorded as the port says.
//!
//! Every check makes endpoints of its own and looks only at their deliveries, so the suite
//! also runs on a shared table. Times are fixed instants, never the clock: each check works
//! later than the one before, so that a check's deliveries are never due for an earlier one.

use std::time::Duration;

use vetted_core::events::EventType;
use vetted_core::ports::{Webhooks, WebhooksError};
use vetted_core::webhooks::{
    Attempt, AttemptNext, Delivery, DeliveryStatus, Endpoint, EndpointId, WebhookSecret,
};
use vetted_core::{RestaurantId, Timestamp, UploadId};

use crate::events::sample_event;
use crate::support::Check;

/// Runs every check on `store`, which may be shared.
pub async fn run_all(store: &dyn Webhooks) {
    endpoints_are_created_read_replaced_and_deleted(store).await;
    enqueueing_an_event_twice_makes_one_delivery(store).await;
    a_claim_holds_a_delivery_until_its_lease_ends(store).await;
    attempts_are_recorded_and_retries_wait_for_their_time(store).await;
    an_admin_retry_makes_a_finished_delivery_pending_again(store).await;
    deleting_an_endpoint_deletes_its_deliveries(store).await;
}

const LEASE: Duration = Duration::from_secs(60);

fn at(check: i64, offset_ms: i64) -> Timestamp {
    // Checks are a day apart; offsets stay well inside one.
    Timestamp::from_unix_millis(1_800_000_000_000 + check * 86_400_000 + offset_ms)
}

fn endpoint(seed: u8, created: Timestamp) -> Endpoint {
    Endpoint {
        id: EndpointId::generate(),
        url: format!("https://hooks.example/{seed}?q=\"x\""),
        event_types: vec![EventType::UploadPublished, EventType::SlotCleared],
        restaurant: Some(
            RestaurantId::parse(&format!("r-{seed}")).unwrap_or_else(|e| panic!("{e}")),
        ),
        secret: WebhookSecret::from_key(&[seed; 32]).unwrap_or_else(|e| panic!("{e}")),
        previous_secret: None,
        previous_until: None,
        enabled: true,
        disabled_reason: None,
        created_at: created,
        updated_at: created,
    }
}

async fn created(check: &str, store: &dyn Webhooks, seed: u8, at: Timestamp) -> Endpoint {
    let e = endpoint(seed, at);
    store
        .create(&e)
        .await
        .unwrap_or_else(|err| panic!("{check}: create failed: {err}"));
    e
}

fn delivery(endpoint: &Endpoint, now: Timestamp) -> Delivery {
    let event = sample_event(UploadId::generate(), EventType::UploadPublished);
    let body = format!("{{\"id\":\"{}\",\"note\":\"caf\u{e9}\"}}", event.id);
    Delivery::new(endpoint.id, &event, body, now)
}

async fn enqueued(check: &str, store: &dyn Webhooks, d: &Delivery) {
    let stored = store
        .enqueue(d)
        .await
        .unwrap_or_else(|e| panic!("{check}: enqueue failed: {e}"));
    assert!(stored, "{check}: a new delivery is stored");
}

/// Claims at `now` and keeps only the deliveries of `mine`.
async fn claim(
    check: &str,
    store: &dyn Webhooks,
    now: Timestamp,
    mine: &[&Delivery],
) -> Vec<Delivery> {
    let mut claimed: Vec<Delivery> = store
        .claim_due(now, LEASE, 1000)
        .await
        .unwrap_or_else(|e| panic!("{check}: claim_due failed: {e}"))
        .into_iter()
        .filter(|d| mine.iter().any(|m| m.id == d.id))
        .collect();
    claimed.sort_by_key(|d| d.id);
    claimed
}

pub async fn endpoints_are_created_read_replaced_and_deleted(store: &dyn Webhooks) {
    const CHECK: &str = "endpoints_are_created_read_replaced_and_deleted";
    let _check = Check::start(CHECK);
    let first = created(CHECK, store, 1, at(0, 0)).await;
    let second = created(CHECK, store, 2, at(0, 5)).await;
    assert_eq!(
        store
            .get(&first.id)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: {e}")),
        first,
        "{CHECK}: get"
    );
    assert!(
        matches!(store.create(&first).await, Err(WebhooksError::AlreadyExists(id)) if id == first.id),
        "{CHECK}: a second create is AlreadyExists"
    );
    let listed: Vec<EndpointId> = store
        .list()
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: {e}"))
        .into_iter()
        .map(|e| e.id)
        .collect();
    let (p1, p2) = (
        listed.iter().position(|id| *id == first.id),
        listed.iter().position(|id| *id == second.id),
    );
    assert!(
        matches!((p1, p2), (Some(a), Some(b)) if a < b),
        "{CHECK}: list, oldest first"
    );

    let mut changed = first.clone();
    changed.url = "https://other.example/hook".to_owned();
    changed.event_types.clear();
    changed.restaurant = None;
    changed.rotate(
        WebhookSecret::from_key(&[9; 40]).unwrap_or_else(|e| panic!("{CHECK}: {e}")),
        at(0, 10),
        LEASE,
    );
    changed.disable("gone", at(0, 11));
    store
        .update(&changed)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: {e}"));
    assert_eq!(
        store
            .get(&first.id)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: {e}")),
        changed,
        "{CHECK}: replaced whole"
    );
    assert_eq!(
        store
            .get(&second.id)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: {e}")),
        second,
        "{CHECK}: others untouched"
    );

    let stranger = endpoint(3, at(0, 0));
    assert!(matches!(
        store.update(&stranger).await,
        Err(WebhooksError::NotFound(_))
    ));
    assert!(matches!(
        store.get(&stranger.id).await,
        Err(WebhooksError::NotFound(_))
    ));
    assert!(
        store
            .delete(&first.id)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: {e}")),
        "{CHECK}: delete says there was one"
    );
    assert!(
        !store
            .delete(&first.id)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: {e}")),
        "{CHECK}: and then there is none"
    );
    assert!(matches!(
        store.get(&first.id).await,
        Err(WebhooksError::NotFound(_))
    ));
}

pub async fn enqueueing_an_event_twice_makes_one_delivery(store: &dyn Webhooks) {
    const CHECK: &str = "enqueueing_an_event_twice_makes_one_delivery";
    let _check = Check::start(CHECK);
    let (a, b) = (
        created(CHECK, store, 4, at(1, 0)).await,
        created(CHECK, store, 5, at(1, 0)).await,
    );
    let d = delivery(&a, at(1, 1));
    enqueued(CHECK, store, &d).await;
    let mut again = d.clone();
    again.id = vetted_core::webhooks::DeliveryId::generate();
    assert!(
        !store
            .enqueue(&again)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: {e}")),
        "{CHECK}: same endpoint and event"
    );
    // The same event to another endpoint is another delivery.
    let mut other = again.clone();
    other.endpoint = b.id;
    enqueued(CHECK, store, &other).await;
    let listed = store
        .deliveries(&a.id, 10)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: {e}"));
    assert_eq!(
        listed,
        vec![d.clone()],
        "{CHECK}: one delivery, as enqueued"
    );
    assert_eq!(
        store
            .delivery(&a.id, &d.id)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: {e}")),
        d
    );
    assert!(
        matches!(
            store.delivery(&b.id, &d.id).await,
            Err(WebhooksError::DeliveryNotFound(_))
        ),
        "{CHECK}: a delivery is found only under its own endpoint"
    );
    assert!(matches!(
        store.deliveries(&EndpointId::generate(), 10).await,
        Err(WebhooksError::NotFound(_))
    ));
}

pub async fn a_claim_holds_a_delivery_until_its_lease_ends(store: &dyn Webhooks) {
    const CHECK: &str = "a_claim_holds_a_delivery_until_its_lease_ends";
    let _check = Check::start(CHECK);
    let e = created(CHECK, store, 6, at(2, 0)).await;
    let now = delivery(&e, at(2, 100));
    let later = delivery(&e, at(2, 5_000));
    enqueued(CHECK, store, &now).await;
    enqueued(CHECK, store, &later).await;
    let mine = [&now, &later];
    let claimed = claim(CHECK, store, at(2, 200), &mine).await;
    assert_eq!(claimed, vec![now.clone()], "{CHECK}: only what is due");
    assert!(
        claim(CHECK, store, at(2, 300), &mine).await.is_empty(),
        "{CHECK}: a claimed delivery is not claimed again during its lease"
    );
    // The claimer died without recording: once the lease ends, it is claimed again.
    let lease_end = at(2, 200).saturating_add(LEASE);
    let mut both = claim(CHECK, store, lease_end, &mine).await;
    both.sort_by_key(|d| d.next_attempt_at);
    assert_eq!(
        both,
        vec![now, later],
        "{CHECK}: after the lease, both are due"
    );
}

pub async fn attempts_are_recorded_and_retries_wait_for_their_time(store: &dyn Webhooks) {
    const CHECK: &str = "attempts_are_recorded_and_retries_wait_for_their_time";
    let _check = Check::start(CHECK);
    let e = created(CHECK, store, 7, at(3, 0)).await;
    let (d, ok, bad) = (
        delivery(&e, at(3, 1)),
        delivery(&e, at(3, 2)),
        delivery(&e, at(3, 3)),
    );
    for x in [&d, &ok, &bad] {
        enqueued(CHECK, store, x).await;
    }
    let mine = [&d, &ok, &bad];
    assert_eq!(claim(CHECK, store, at(3, 10), &mine).await.len(), 3);
    let retry_at = at(3, 60_000);
    let attempt = |next, response, error: Option<&str>| Attempt {
        at: at(3, 20),
        response,
        error: error.map(str::to_owned),
        next,
    };
    store
        .record(
            &d.id,
            &attempt(AttemptNext::RetryAt(retry_at), Some(503), Some("busy")),
        )
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: {e}"));
    store
        .record(&ok.id, &attempt(AttemptNext::Delivered, Some(204), None))
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: {e}"));
    store
        .record(
            &bad.id,
            &attempt(AttemptNext::Failed, None, Some("connection refused")),
        )
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: {e}"));
    let stored = store
        .delivery(&e.id, &d.id)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: {e}"));
    assert_eq!(
        (
            stored.status,
            stored.attempts,
            stored.last_response,
            stored.last_error.as_deref()
        ),
        (DeliveryStatus::Pending, 1, Some(503), Some("busy")),
        "{CHECK}: a retry is pending"
    );
    assert_eq!(
        (stored.next_attempt_at, stored.updated_at),
        (Some(retry_at), at(3, 20))
    );
    let ok_now = store
        .delivery(&e.id, &ok.id)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: {e}"));
    assert_eq!(
        (ok_now.status, ok_now.attempts, ok_now.next_attempt_at),
        (DeliveryStatus::Delivered, 1, None)
    );
    let bad_now = store
        .delivery(&e.id, &bad.id)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: {e}"));
    assert_eq!(
        (bad_now.status, bad_now.last_response),
        (DeliveryStatus::Failed, None)
    );
    // Recording ended the claim, but the retry is not due before its time.
    assert!(
        claim(CHECK, store, at(3, 59_999), &mine).await.is_empty(),
        "{CHECK}: not yet due"
    );
    let again = claim(CHECK, store, retry_at, &mine).await;
    assert_eq!(
        again.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![d.id],
        "{CHECK}: due"
    );
    store
        .record(
            &d.id,
            &Attempt {
                at: at(3, 70_000),
                response: Some(200),
                error: None,
                next: AttemptNext::Delivered,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: {e}"));
    let done = store
        .delivery(&e.id, &d.id)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: {e}"));
    assert_eq!(
        (done.status, done.attempts, done.last_error),
        (DeliveryStatus::Delivered, 2, None)
    );
    let listed: Vec<_> = store
        .deliveries(&e.id, 10)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: {e}"))
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(listed, vec![bad.id, ok.id, d.id], "{CHECK}: newest first");
    assert_eq!(
        store
            .deliveries(&e.id, 1)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: {e}"))
            .len(),
        1,
        "{CHECK}: limit"
    );
    assert!(matches!(
        store
            .record(
                &vetted_core::webhooks::DeliveryId::generate(),
                &attempt(AttemptNext::Failed, None, None)
            )
            .await,
        Err(WebhooksError::DeliveryNotFound(_))
    ));
}

pub async fn an_admin_retry_makes_a_finished_delivery_pending_again(store: &dyn Webhooks) {
    const CHECK: &str = "an_admin_retry_makes_a_finished_delivery_pending_again";
    let _check = Check::start(CHECK);
    let e = created(CHECK, store, 8, at(4, 0)).await;
    let d = delivery(&e, at(4, 1));
    enqueued(CHECK, store, &d).await;
    claim(CHECK, store, at(4, 2), &[&d]).await;
    let failed = Attempt {
        at: at(4, 3),
        response: Some(500),
        error: None,
        next: AttemptNext::Failed,
    };
    store
        .record(&d.id, &failed)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: {e}"));
    let retried = store
        .retry(&e.id, &d.id, at(4, 10))
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: {e}"));
    assert_eq!(
        (retried.status, retried.attempts, retried.next_attempt_at),
        (DeliveryStatus::Pending, 1, Some(at(4, 10))),
        "{CHECK}: pending, due now, attempts kept"
    );
    assert_eq!(
        claim(CHECK, store, at(4, 10), &[&d]).await.len(),
        1,
        "{CHECK}: claimable"
    );
    let other = created(CHECK, store, 9, at(4, 0)).await;
    assert!(matches!(
        store.retry(&other.id, &d.id, at(4, 11)).await,
        Err(WebhooksError::DeliveryNotFound(_))
    ));
}

pub async fn deleting_an_endpoint_deletes_its_deliveries(store: &dyn Webhooks) {
    const CHECK: &str = "deleting_an_endpoint_deletes_its_deliveries";
    let _check = Check::start(CHECK);
    let e = created(CHECK, store, 10, at(5, 0)).await;
    let d = delivery(&e, at(5, 1));
    enqueued(CHECK, store, &d).await;
    assert!(
        store
            .delete(&e.id)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: {e}"))
    );
    assert!(
        claim(CHECK, store, at(5, 100), &[&d]).await.is_empty(),
        "{CHECK}: nothing left to deliver"
    );
    assert!(matches!(
        store.delivery(&e.id, &d.id).await,
        Err(WebhooksError::DeliveryNotFound(_))
    ));
}
