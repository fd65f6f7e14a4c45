//! The delivery checks, one `pub async fn` each, run on every store by `main.rs`: the same
//! assertions against the same real receiver, whatever keeps the endpoints and deliveries.

use std::sync::Arc;
use std::time::Duration;

use vetted_contract::events::sample_event;
use vetted_core::events::EventType;
use vetted_core::ports::Webhooks;
use vetted_core::time::ManualClock;
use vetted_core::webhooks::retry::RetrySchedule;
use vetted_core::webhooks::{
    Delivery, DeliveryId, DeliveryStatus, Endpoint, EndpointId, ROTATION_OVERLAP, WebhookSecret,
};
use vetted_core::{Clock, RestaurantId, SystemClock, Timestamp, UploadId};
use vetted_webhooks::{DeliverySettings, DeliveryWorker, enqueue_event};

use crate::receiver::{Answer, Receiver, answer, header, verify_with};
use crate::stores::Place;

struct Setup {
    store: Arc<dyn Webhooks>,
    clock: Arc<ManualClock>,
}

async fn setup(place: &dyn Place) -> Setup {
    Setup {
        store: place.open().await,
        clock: Arc::new(ManualClock::new(SystemClock.now())),
    }
}

fn zero_waits(attempts: usize) -> RetrySchedule {
    RetrySchedule {
        delays: vec![Duration::ZERO; attempts - 1],
        jitter: 0.0,
        ..RetrySchedule::default()
    }
}

impl Setup {
    fn worker(&self, schedule: RetrySchedule, allow_private: bool) -> DeliveryWorker {
        let settings = DeliverySettings {
            schedule,
            allow_private,
            ..DeliverySettings::default()
        };
        DeliveryWorker::new(self.store.clone(), self.clock.clone(), settings).unwrap()
    }

    async fn endpoint(&self, url: &str, key: u8) -> Endpoint {
        let now = self.clock.now();
        let endpoint = Endpoint {
            id: EndpointId::generate(),
            url: url.to_owned(),
            event_types: Vec::new(),
            restaurant: None,
            secret: WebhookSecret::from_key(&[key; 32]).unwrap(),
            previous_secret: None,
            previous_until: None,
            enabled: true,
            disabled_reason: None,
            created_at: now,
            updated_at: now,
        };
        self.store.create(&endpoint).await.unwrap();
        endpoint
    }

    /// An event, enqueued for every endpoint that wants it; answers its id.
    async fn event(&self) -> String {
        let event = sample_event(UploadId::generate(), EventType::UploadPublished);
        enqueue_event(self.store.as_ref(), &event, self.clock.now())
            .await
            .unwrap();
        event.id
    }

    async fn only_delivery(&self, endpoint: &Endpoint) -> Delivery {
        let mut all = self.store.deliveries(&endpoint.id, 10).await.unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }
}

/// Rounds until one finds nothing due (at most `limit`).
async fn drain(worker: &DeliveryWorker, limit: usize) {
    for _ in 0..limit {
        if worker.deliver_due().await.unwrap() == 0 {
            return;
        }
    }
    panic!("still delivering after {limit} rounds");
}

pub async fn a_receiver_that_fails_three_times_gets_the_event_once_delivered_with_one_id(
    place: Box<dyn Place>,
) {
    let setup = setup(place.as_ref()).await;
    let receiver = Receiver::start(vec![answer(500), answer(502), answer(503)]).await;
    let endpoint = setup.endpoint(&receiver.url(), 1).await;
    let event_id = setup.event().await;
    let worker = setup.worker(zero_waits(10), true);
    drain(&worker, 10).await;

    let requests = receiver.requests();
    assert_eq!(requests.len(), 4, "three failures and a success");
    for request in &requests {
        assert_eq!(
            header(request, "webhook-id"),
            event_id,
            "the same id every time"
        );
        assert_eq!(header(request, "content-type"), "application/json");
        verify_with(&endpoint.secret, request).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["id"], event_id.as_str());
    }
    let delivery = setup.only_delivery(&endpoint).await;
    assert_eq!(
        (
            delivery.status,
            delivery.attempts,
            delivery.last_response,
            delivery.next_attempt_at
        ),
        (DeliveryStatus::Delivered, 4, Some(204), None)
    );
    // Delivered is final: more rounds send nothing, and the same event enqueued again
    // (the outbox or the queue handing it over twice) makes no second delivery.
    setup
        .store
        .enqueue(&Delivery {
            id: DeliveryId::generate(),
            ..delivery.clone()
        })
        .await
        .unwrap();
    drain(&worker, 3).await;
    assert_eq!(receiver.requests().len(), 4);
    assert_eq!(setup.only_delivery(&endpoint).await.attempts, 4);
}

pub async fn attempts_run_out_and_the_delivery_has_failed(place: Box<dyn Place>) {
    let setup = setup(place.as_ref()).await;
    let receiver = Receiver::start(vec![answer(500); 5]).await;
    let endpoint = setup.endpoint(&receiver.url(), 1).await;
    setup.event().await;
    drain(&setup.worker(zero_waits(3), true), 10).await;
    assert_eq!(receiver.requests().len(), 3);
    let delivery = setup.only_delivery(&endpoint).await;
    assert_eq!(
        (delivery.status, delivery.attempts, delivery.last_response),
        (DeliveryStatus::Failed, 3, Some(500))
    );
}

pub async fn gone_disables_the_endpoint_and_stops_its_deliveries(place: Box<dyn Place>) {
    let setup = setup(place.as_ref()).await;
    let receiver = Receiver::start(vec![answer(410)]).await;
    let endpoint = setup.endpoint(&receiver.url(), 1).await;
    setup.event().await;
    let worker = setup.worker(zero_waits(10), true);
    worker.deliver_due().await.unwrap();
    let stored = setup.store.get(&endpoint.id).await.unwrap();
    assert!(!stored.enabled);
    assert!(
        stored.disabled_reason.as_deref().unwrap().contains("410"),
        "{stored:?}"
    );
    let gone = setup.only_delivery(&endpoint).await;
    assert_eq!(
        (gone.status, gone.last_response),
        (DeliveryStatus::Failed, Some(410))
    );

    // A delivery enqueued before the 410 was seen fails without a request; new events make
    // none at all.
    let late = sample_event(UploadId::generate(), EventType::SlotChanged);
    let body = serde_json::to_string(&late).unwrap();
    let queued = Delivery::new(endpoint.id, &late, body, setup.clock.now());
    setup.store.enqueue(&queued).await.unwrap();
    setup.event().await;
    drain(&worker, 5).await;
    assert_eq!(receiver.requests().len(), 1, "nothing sent after the 410");
    let queued = setup
        .store
        .delivery(&endpoint.id, &queued.id)
        .await
        .unwrap();
    assert_eq!(queued.status, DeliveryStatus::Failed);
    assert!(queued.last_error.unwrap().contains("disabled"));
    assert_eq!(
        setup
            .store
            .deliveries(&endpoint.id, 10)
            .await
            .unwrap()
            .len(),
        2
    );
}

pub async fn with_the_guard_on_a_loopback_url_is_refused_and_nothing_is_sent(
    place: Box<dyn Place>,
) {
    let setup = setup(place.as_ref()).await;
    let receiver = Receiver::start(Vec::new()).await;
    let port = receiver.base.rsplit(':').next().unwrap().to_owned();
    // Stored straight in the store, as the API would refuse them: the worker checks again.
    let https = setup
        .endpoint(&format!("https://127.0.0.1:{port}/hook"), 1)
        .await;
    let http = setup.endpoint(&receiver.url(), 2).await;
    setup.event().await;
    drain(&setup.worker(zero_waits(10), false), 5).await;
    assert!(
        receiver.requests().is_empty(),
        "the receiver was never reached"
    );
    let refused = setup.only_delivery(&https).await;
    assert_eq!(
        refused.status,
        DeliveryStatus::Failed,
        "refused for good, not retried"
    );
    assert!(refused.last_error.unwrap().contains("loopback"));
    let plain = setup.only_delivery(&http).await;
    assert_eq!(plain.status, DeliveryStatus::Failed);
    assert!(plain.last_error.unwrap().contains("https"));
}

pub async fn during_a_rotation_both_secrets_sign_and_after_the_overlap_only_the_new_one(
    place: Box<dyn Place>,
) {
    let setup = setup(place.as_ref()).await;
    let receiver = Receiver::start(Vec::new()).await;
    let mut endpoint = setup.endpoint(&receiver.url(), 1).await;
    let old = endpoint.secret.clone();
    let new = WebhookSecret::from_key(&[2; 48]).unwrap();
    endpoint.rotate(new.clone(), setup.clock.now(), ROTATION_OVERLAP);
    setup.store.update(&endpoint).await.unwrap();
    let worker = setup.worker(zero_waits(10), true);
    setup.event().await;
    drain(&worker, 3).await;
    let during = receiver.requests().remove(0);
    assert_eq!(header(&during, "webhook-signature").split(' ').count(), 2);
    verify_with(&old, &during).unwrap();
    verify_with(&new, &during).unwrap();

    // The overlap ended a minute ago.
    endpoint.previous_until = Some(Timestamp::from_unix_millis(
        setup.clock.now().unix_millis() - 60_000,
    ));
    setup.store.update(&endpoint).await.unwrap();
    setup.event().await;
    drain(&worker, 3).await;
    let after = receiver.requests().remove(1);
    assert_eq!(header(&after, "webhook-signature").split(' ').count(), 1);
    verify_with(&new, &after).unwrap();
    assert!(
        verify_with(&old, &after).is_err(),
        "the old secret no longer signs"
    );
}

pub async fn a_redirect_is_not_followed_and_counts_as_a_failed_attempt(place: Box<dyn Place>) {
    let setup = setup(place.as_ref()).await;
    let receiver = Receiver::start(Vec::new()).await;
    receiver.script.lock().unwrap().push_back(Answer {
        status: 307,
        headers: vec![("location", format!("{}/elsewhere", receiver.base))],
    });
    let endpoint = setup.endpoint(&receiver.url(), 1).await;
    setup.event().await;
    // Waits long enough that the retry is not due within the test.
    let schedule = RetrySchedule {
        delays: vec![Duration::from_secs(3600)],
        jitter: 0.0,
        ..RetrySchedule::default()
    };
    drain(&setup.worker(schedule, true), 3).await;
    let paths: Vec<String> = receiver.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, vec!["/hook"], "/elsewhere never requested");
    let delivery = setup.only_delivery(&endpoint).await;
    assert_eq!(
        (delivery.status, delivery.attempts, delivery.last_response),
        (DeliveryStatus::Pending, 1, Some(307))
    );
}

pub async fn retry_after_on_a_503_is_respected_up_to_its_cap(place: Box<dyn Place>) {
    let setup = setup(place.as_ref()).await;
    let receiver = Receiver::start(vec![
        Answer {
            status: 503,
            headers: vec![("retry-after", "120".to_owned())],
        },
        Answer {
            status: 429,
            headers: vec![("retry-after", "999999".to_owned())],
        },
    ])
    .await;
    let endpoint = setup.endpoint(&receiver.url(), 1).await;
    setup.event().await;
    let schedule = RetrySchedule {
        delays: vec![Duration::from_secs(1); 5],
        jitter: 0.0,
        max_retry_after: Duration::from_secs(600),
    };
    let worker = setup.worker(schedule, true);
    let start = setup.clock.now();
    drain(&worker, 3).await;
    let first = setup.only_delivery(&endpoint).await;
    assert_eq!(
        first.next_attempt_at,
        Some(start.saturating_add(Duration::from_secs(120))),
        "not the 1 s backoff"
    );
    setup.clock.advance(Duration::from_secs(120));
    drain(&worker, 3).await;
    let second = setup.only_delivery(&endpoint).await;
    assert_eq!(second.attempts, 2);
    assert_eq!(
        second.next_attempt_at,
        Some(setup.clock.now().saturating_add(Duration::from_secs(600))),
        "capped"
    );
    assert_eq!(receiver.requests().len(), 2);
}

pub async fn a_delivery_claimed_by_a_process_that_died_is_sent_after_a_restart(
    place: Box<dyn Place>,
) {
    let receiver = Receiver::start(Vec::new()).await;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let settings = DeliverySettings {
        schedule: zero_waits(10),
        allow_private: true,
        lease: Duration::from_secs(60),
        ..DeliverySettings::default()
    };
    let endpoint;
    {
        // The first process: enqueues, claims, and dies before sending.
        let store = place.open().await;
        let setup = Setup {
            store: store.clone(),
            clock: clock.clone(),
        };
        endpoint = setup.endpoint(&receiver.url(), 1).await;
        setup.event().await;
        assert_eq!(
            store
                .claim_due(clock.now(), settings.lease, 10)
                .await
                .unwrap()
                .len(),
            1
        );
    }
    let store = place.open().await;
    let worker = DeliveryWorker::new(store.clone(), clock.clone(), settings).unwrap();
    assert_eq!(
        worker.deliver_due().await.unwrap(),
        0,
        "held by the dead process's claim"
    );
    clock.advance(Duration::from_secs(61));
    drain(&worker, 3).await;
    assert_eq!(receiver.requests().len(), 1);
    verify_with(&endpoint.secret, &receiver.requests()[0]).unwrap();
    let delivered = store.deliveries(&endpoint.id, 10).await.unwrap();
    assert_eq!(delivered[0].status, DeliveryStatus::Delivered);
}

pub async fn events_reach_only_enabled_endpoints_that_want_them(place: Box<dyn Place>) {
    let setup = setup(place.as_ref()).await;
    let all = setup.endpoint("https://all.example/", 1).await;
    let mut typed = setup.endpoint("https://typed.example/", 2).await;
    typed.event_types = vec![EventType::SlotChanged];
    setup.store.update(&typed).await.unwrap();
    let mut elsewhere = setup.endpoint("https://elsewhere.example/", 3).await;
    elsewhere.restaurant = Some(RestaurantId::parse("somewhere-else").unwrap());
    setup.store.update(&elsewhere).await.unwrap();
    let mut off = setup.endpoint("https://off.example/", 4).await;
    off.disable("testing", setup.clock.now());
    setup.store.update(&off).await.unwrap();

    let event = sample_event(UploadId::generate(), EventType::UploadPublished);
    let now = setup.clock.now();
    assert_eq!(
        enqueue_event(setup.store.as_ref(), &event, now)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        enqueue_event(setup.store.as_ref(), &event, now)
            .await
            .unwrap(),
        0,
        "idempotent"
    );
    let counts = |e: &Endpoint| {
        let store = setup.store.clone();
        let id = e.id;
        async move { store.deliveries(&id, 10).await.unwrap().len() }
    };
    assert_eq!(
        (
            counts(&all).await,
            counts(&typed).await,
            counts(&elsewhere).await,
            counts(&off).await
        ),
        (1, 0, 0, 0)
    );
    let mut here = elsewhere.clone();
    here.restaurant = Some(event.restaurant.clone());
    setup.store.update(&here).await.unwrap();
    assert_eq!(
        enqueue_event(setup.store.as_ref(), &event, now)
            .await
            .unwrap(),
        1,
        "its restaurant now"
    );
}
