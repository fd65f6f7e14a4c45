//! `GET /api/events/stream`: who may open it, what it carries, replay with `Last-Event-ID`, and
//! its limits. Events are published straight into the app's outbox, as the pipeline would.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use vetted_api::LiveLimits;
use vetted_core::events::{EventType, UploadEvent};
use vetted_core::ports::{EventSink, Restaurants};
use vetted_core::{Clock, RestaurantId, UploadId};

use crate::app::{
    AppOptions, OWNER, RESTAURANT, TestApp, assert_error, read, spawn_app, spawn_with,
};

/// Not a timed assertion: only a guard, so that a missing frame fails the test instead of
/// hanging it.
const GUARD: Duration = Duration::from_secs(20);

/// One frame of the stream; comments (`: ping`) are skipped.
#[derive(Debug)]
struct Frame {
    id: Option<u64>,
    event: String,
    data: Value,
}

struct Sse {
    response: reqwest::Response,
    buffer: String,
}

impl Sse {
    async fn next(&mut self) -> Frame {
        tokio::time::timeout(GUARD, self.next_unguarded())
            .await
            .expect("a frame")
    }

    async fn next_unguarded(&mut self) -> Frame {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.parse().unwrap());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        v.clone_into(&mut event);
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                if event.is_empty() && data.is_empty() {
                    continue; // a comment
                }
                return Frame {
                    id,
                    event,
                    data: serde_json::from_str(&data).unwrap(),
                };
            }
            let chunk = self
                .response
                .chunk()
                .await
                .unwrap()
                .expect("the stream ended");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

async fn connect(app: &TestApp, token: &str, last_id: Option<&str>) -> reqwest::Response {
    let mut request = app
        .http
        .get(app.url("/api/events/stream"))
        .bearer_auth(token);
    if let Some(id) = last_id {
        request = request.header("last-event-id", id);
    }
    request.send().await.unwrap()
}

async fn open(app: &TestApp, token: &str, last_id: Option<&str>) -> Sse {
    let response = connect(app, token, last_id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    Sse {
        response,
        buffer: String::new(),
    }
}

/// Publishes an `upload.received` of a new upload in `restaurant`.
async fn publish(app: &TestApp, restaurant: &str) -> UploadEvent {
    let mut event =
        vetted_contract::events::sample_event(UploadId::generate(), EventType::UploadReceived);
    event.restaurant = RestaurantId::parse(restaurant).unwrap();
    app.outbox.publish(&event).await.unwrap();
    event
}

fn assert_change(frame: &Frame, event: &UploadEvent) {
    assert_eq!(frame.event, "change", "{frame:?}");
    assert_eq!(frame.data["id"], event.id, "{frame:?}");
    assert_eq!(frame.data["upload_id"], event.upload_id.to_string());
    assert_eq!(frame.data["restaurant"], event.restaurant.to_string());
    assert_eq!(frame.data["type"], "upload.received");
    assert_eq!(frame.data["status"], "RECEIVED");
    assert!(frame.data.get("moderator").is_none());
}

#[tokio::test]
async fn the_stream_needs_an_owner_token() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/api/events/stream"))
        .send()
        .await
        .unwrap();
    assert_error(
        &read(response).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let response = connect(&app, &app.moderator("mod-1"), None).await;
    assert_error(&read(response).await, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn a_member_hears_only_their_restaurants() {
    let app = spawn_app().await;
    app.restaurant("r2", "owner-2").await;
    let mut stream = open(&app, &app.owner(OWNER), None).await;
    let ready = stream.next().await;
    assert_eq!(ready.event, "ready");
    let other = publish(&app, "r2").await;
    let mine = publish(&app, RESTAURANT).await;
    // In publication order, so the other restaurant's event was passed over, not delayed.
    let frame = stream.next().await;
    assert_change(&frame, &mine);
    assert!(frame.id > ready.id);

    // The other owner hears theirs, and replaying from the start shows it was there.
    let mut theirs = open(&app, &app.owner("owner-2"), Some("0")).await;
    assert_eq!(theirs.next().await.event, "ready");
    assert_change(&theirs.next().await, &other);
}

#[tokio::test]
async fn a_member_removed_mid_stream_hears_no_more_of_that_restaurant() {
    let app = spawn_app().await;
    app.join("staff-1").await;
    app.restaurant("r2", "staff-1").await;
    let mut stream = open(&app, &app.owner("staff-1"), None).await;
    assert_eq!(stream.next().await.event, "ready");
    let before = publish(&app, RESTAURANT).await;
    assert_change(&stream.next().await, &before);

    let r1 = RestaurantId::parse(RESTAURANT).unwrap();
    let staff = vetted_core::OwnerId::parse("staff-1").unwrap();
    assert!(app.restaurants.remove_member(&r1, &staff).await.unwrap());
    publish(&app, RESTAURANT).await;
    let still = publish(&app, "r2").await;
    // In publication order: the r1 event was withheld, not delayed.
    assert_change(&stream.next().await, &still);
}

#[tokio::test]
async fn last_event_id_replays_what_was_missed() {
    let app = spawn_app().await;
    let first = publish(&app, RESTAURANT).await;
    let mut stream = open(&app, &app.owner(OWNER), Some("0")).await;
    assert_eq!(stream.next().await.event, "ready");
    let seen = stream.next().await;
    assert_change(&seen, &first);
    drop(stream);

    let missed = [
        publish(&app, RESTAURANT).await,
        publish(&app, RESTAURANT).await,
    ];
    let last = seen.id.unwrap().to_string();
    let mut stream = open(&app, &app.owner(OWNER), Some(&last)).await;
    assert_eq!(
        stream.next().await.id,
        seen.id,
        "ready names where it resumes"
    );
    for event in &missed {
        assert_change(&stream.next().await, event);
    }
}

#[tokio::test]
async fn a_replay_the_outbox_cannot_serve_is_a_reset() {
    let app = spawn_app().await;
    let events = [
        publish(&app, RESTAURANT).await,
        publish(&app, RESTAURANT).await,
    ];
    let pending = app.outbox.pending(10).await.unwrap();
    let seqs: Vec<i64> = pending.iter().map(|p| p.seq).collect();
    app.outbox.mark_delivered(&seqs).await.unwrap();
    app.clock.advance(Duration::from_secs(5));
    let purged = app
        .outbox
        .purge_delivered(app.clock.now().saturating_add(Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(purged, 1, "the newest event stays");

    let mut stream = open(&app, &app.owner(OWNER), Some("0")).await;
    let reset = stream.next().await;
    assert_eq!(reset.event, "reset");
    assert_eq!(reset.id, Some(u64::try_from(seqs[1]).unwrap()));
    // From there on, the stream goes on as usual.
    let next = publish(&app, RESTAURANT).await;
    let frame = stream.next().await;
    assert_change(&frame, &next);
    assert!(frame.id > reset.id, "a new event never reuses a purged seq");
    drop(events);

    // An id beyond anything recorded (another data directory) is a reset too.
    let mut stream = open(&app, &app.owner(OWNER), Some("999999")).await;
    assert_eq!(stream.next().await.event, "reset");
}

#[tokio::test]
async fn without_a_feed_the_stream_is_not_found() {
    let app = spawn_with(AppOptions {
        without_live: true,
        ..AppOptions::default()
    })
    .await;
    // The page takes this 404 as "poll instead".
    let response = connect(&app, &app.owner(OWNER), None).await;
    assert_error(&read(response).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn shutting_down_ends_the_stream() {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let app = spawn_with(AppOptions {
        shutdown: Some(shutdown.clone()),
        ..AppOptions::default()
    })
    .await;
    let mut stream = open(&app, &app.owner(OWNER), None).await;
    assert_eq!(stream.next().await.event, "ready");
    shutdown.cancel();
    let end = tokio::time::timeout(GUARD, stream.response.chunk())
        .await
        .expect("the stream to end");
    assert!(matches!(end, Ok(None)), "{end:?}");
}

#[tokio::test]
async fn a_malformed_last_event_id_is_refused() {
    let app = spawn_app().await;
    for bad in ["abc", "-3", "1.5", "123456789012345678901"] {
        let response = connect(&app, &app.owner(OWNER), Some(bad)).await;
        assert_error(
            &read(response).await,
            StatusCode::BAD_REQUEST,
            "invalid_last_event_id",
        );
    }
}

#[tokio::test]
async fn too_many_streams_are_refused_with_retry_after() {
    let app = spawn_with(AppOptions {
        live: LiveLimits {
            per_user: 1,
            total: 2,
            ..LiveLimits::default()
        },
        ..AppOptions::default()
    })
    .await;
    app.join("staff-1").await;
    let _one = open(&app, &app.owner(OWNER), None).await;
    let refused = connect(&app, &app.owner(OWNER), None).await;
    assert_eq!(refused.headers()["retry-after"], "10");
    assert_error(
        &read(refused).await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_streams",
    );
    let _two = open(&app, &app.owner("staff-1"), None).await;
    let refused = connect(&app, &app.owner("staff-2"), None).await;
    assert_error(
        &read(refused).await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_streams",
    );
}
