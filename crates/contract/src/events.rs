//! The `EventSink` contract: a published event reaches the consumer side intact, publishing the
//! same event again is accepted, and every event type gets through.
//!
//! A sink cannot be read through its port, so the adapter's test says how to read what was
//! published ([`PublishedEvents`]): the embedded outbox reads its table; the EventBridge test
//! reads an SQS queue that a rule on the bus targets. Checks use fresh upload ids and ignore
//! events of other uploads, so a shared bus or queue is fine.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use vetted_core::events::{EVENT_VERSION, EventType, UploadEvent};
use vetted_core::ports::EventSink;
use vetted_core::{
    CorrelationId, ImageType, ModeratorId, OwnerId, ReasonCode, RestaurantId, Slot, Status,
    Timestamp, UploadId,
};

use crate::support::Check;

/// The consumer side of a sink, for the suite to see what arrived.
#[async_trait]
pub trait PublishedEvents: Send + Sync {
    /// Events that arrived since the previous call (a reader that cannot tell may return
    /// earlier ones again). Duplicates of one event are allowed.
    async fn read_published(&self) -> Result<Vec<UploadEvent>, String>;
}

/// How long an event may take to arrive (EventBridge → SQS on the emulator takes a moment).
const ARRIVAL_LIMIT: Duration = Duration::from_secs(20);

/// Runs every check on `sink`, reading arrivals with `published`.
pub async fn run_all(sink: &dyn EventSink, published: &dyn PublishedEvents) {
    a_published_event_arrives_intact(sink, published).await;
    publishing_the_same_event_twice_is_accepted(sink, published).await;
    every_event_type_arrives(sink, published).await;
}

/// A fully populated event of `event_type` for `upload`, as the domain would build it: a
/// slot event has a revision and the previous image but no owner, and `slot.cleared` names
/// the removed image as both and has no image fields. Its restaurant is
/// derived from `upload`, so events of different calls never share an id.
pub fn sample_event(upload: UploadId, event_type: EventType) -> UploadEvent {
    let slot_changed = matches!(event_type, EventType::SlotChanged | EventType::SlotCleared);
    let cleared = event_type == EventType::SlotCleared;
    let escalated = event_type == EventType::ReviewEscalated;
    let status = Status::ALL
        .into_iter()
        .find(|s| EventType::for_status(*s) == Some(event_type))
        .unwrap_or(if escalated {
            Status::InReview
        } else {
            Status::Published
        });
    let restaurant = RestaurantId::parse(&format!("contract-{upload}"))
        .unwrap_or_else(|e| panic!("a restaurant id made of an upload id: {e}"));
    let slot = Slot::Gallery(7);
    let revision = 3;
    let id = if slot_changed {
        format!("{restaurant}.{slot}.{revision}.{}", event_type.as_str())
    } else if escalated {
        format!("{upload}.{}.1", event_type.as_str())
    } else {
        format!("{upload}.{}", event_type.as_str())
    };
    let previous =
        UploadId::parse("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b").unwrap_or_else(|e| panic!("{e}"));
    let url = |of: UploadId| format!("https://media.example/{restaurant}/{slot}/{of}.png");
    UploadEvent {
        id,
        event_type,
        version: EVENT_VERSION,
        time: Timestamp::from_unix_millis(1_700_000_000_123),
        upload_id: upload,
        owner: (!slot_changed)
            .then(|| OwnerId::parse("contract-owner").unwrap_or_else(|e| panic!("{e}"))),
        status,
        url: (status == Status::Published && !cleared).then(|| url(upload)),
        previous_upload_id: slot_changed.then_some(if cleared { upload } else { previous }),
        previous_url: slot_changed.then(|| url(if cleared { upload } else { previous })),
        revision: slot_changed.then_some(revision),
        reason: (event_type == EventType::UploadRejected).then_some(ReasonCode::TypeMismatch),
        detected_type: (!cleared).then_some(ImageType::Png),
        width: (!cleared).then_some(640),
        height: (!cleared).then_some(480),
        bytes: (!cleared).then_some(12_345),
        decline_reason: None,
        moderator: event_type
            .is_decision()
            .then(|| ModeratorId::parse("contract-moderator").unwrap_or_else(|e| panic!("{e}"))),
        first_approver: None,
        correlation_id: (!slot_changed).then(|| CorrelationId::of_upload(&upload)),
        escalation_level: escalated.then_some(1),
        restaurant,
        slot,
    }
}

async fn publish(check: &str, sink: &dyn EventSink, event: &UploadEvent) {
    sink.publish(event)
        .await
        .unwrap_or_else(|e| panic!("{check}: publish {} failed: {e}", event.id));
}

/// Reads until every id in `expected` has arrived; returns every arrival of this upload.
async fn arrivals(
    check: &str,
    published: &dyn PublishedEvents,
    upload: UploadId,
    expected: &[&UploadEvent],
) -> Vec<UploadEvent> {
    let deadline = Instant::now() + ARRIVAL_LIMIT;
    let mut seen: Vec<UploadEvent> = Vec::new();
    loop {
        let batch = published
            .read_published()
            .await
            .unwrap_or_else(|e| panic!("{check}: reading published events failed: {e}"));
        seen.extend(batch.into_iter().filter(|e| e.upload_id == upload));
        let missing: Vec<&str> = expected
            .iter()
            .filter(|e| !seen.iter().any(|s| s.id == e.id))
            .map(|e| e.id.as_str())
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{check}: {missing:?} did not arrive within {ARRIVAL_LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

pub async fn a_published_event_arrives_intact(
    sink: &dyn EventSink,
    published: &dyn PublishedEvents,
) {
    const CHECK: &str = "a published event arrives intact";
    let _check = Check::start(CHECK);
    let event = sample_event(UploadId::generate(), EventType::UploadRejected);
    publish(CHECK, sink, &event).await;
    for arrived in arrivals(CHECK, published, event.upload_id, &[&event]).await {
        assert_eq!(arrived, event, "{CHECK}: the event changed on the way");
    }
}

pub async fn publishing_the_same_event_twice_is_accepted(
    sink: &dyn EventSink,
    published: &dyn PublishedEvents,
) {
    const CHECK: &str = "publishing the same event twice is accepted";
    let _check = Check::start(CHECK);
    let event = sample_event(UploadId::generate(), EventType::UploadPublished);
    publish(CHECK, sink, &event).await;
    publish(CHECK, sink, &event).await;
    let arrived = arrivals(CHECK, published, event.upload_id, &[&event]).await;
    assert!(
        arrived.iter().all(|a| *a == event),
        "{CHECK}: every copy must be the same event, with the same id: {arrived:?}"
    );
}

pub async fn every_event_type_arrives(sink: &dyn EventSink, published: &dyn PublishedEvents) {
    const CHECK: &str = "every event type arrives";
    let _check = Check::start(CHECK);
    let upload = UploadId::generate();
    let events: Vec<UploadEvent> = EventType::ALL
        .into_iter()
        .map(|t| sample_event(upload, t))
        .collect();
    for event in &events {
        publish(CHECK, sink, event).await;
    }
    let expected: Vec<&UploadEvent> = events.iter().collect();
    let arrived = arrivals(CHECK, published, upload, &expected).await;
    let by_id: HashMap<&str, &UploadEvent> = arrived.iter().map(|e| (e.id.as_str(), e)).collect();
    for event in &events {
        assert_eq!(
            by_id.get(event.id.as_str()),
            Some(&event),
            "{CHECK}: {} changed",
            event.id
        );
    }
}
