//! `GET /api/events/stream`: an owner's status changes as server-sent events, for the owner
//! page, on the backend that keeps an event feed (the outbox of `vetted serve`).
//!
//! Authentication is the usual `Authorization: Bearer` header. The page reads the stream with
//! `fetch()` and a body reader rather than `EventSource`, which cannot send a header; the
//! long-lived token therefore never goes into a URL (and so into logs), and no ticket store is
//! needed. Only callers with the `owners` role may connect (moderators and admins get 403:
//! their console does not use the stream). The stream carries the events of the restaurants
//! the caller is a member of, read when it connects and again at every keep-alive; before each
//! event is sent, the membership in its restaurant is checked once more, so a member removed
//! mid-stream hears nothing further about that restaurant.
//!
//! Each event's `seq` in the feed is its SSE `id:`. A reconnect with `Last-Event-ID` replays
//! what came after it; if the feed no longer keeps everything after that id (a purge), or the
//! id is ahead of the feed, the stream says `event: reset` so that the page reloads its list.
//! Streams are bounded per user and in all ([`LiveLimits`]; beyond that 429 with
//! `Retry-After`), send `: ping` every [`LiveLimits::keep_alive`], and end when the server shuts
//! down, so that they never hold a graceful shutdown. On a backend without a feed (AWS) the
//! route is not mounted and answers 404; the page then polls with backoff.

mod stream;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use vetted_core::OwnerId;
use vetted_core::ports::EventFeed;

use crate::ApiState;
use crate::auth::OwnerCaller;
use crate::error::{ApiError, reasons};

/// How many streams may be open, and how often they say they are alive.
#[derive(Debug, Clone, Copy)]
pub struct LiveLimits {
    /// Open streams of one user (a few tabs).
    pub per_user: usize,
    /// Open streams in all.
    pub total: usize,
    /// How often a stream sends `: ping` (and re-reads the caller's restaurants and the feed).
    pub keep_alive: Duration,
    /// The `Retry-After` of a refused stream.
    pub retry_after: Duration,
}

impl Default for LiveLimits {
    fn default() -> Self {
        Self {
            per_user: 4,
            total: 256,
            keep_alive: Duration::from_secs(15),
            retry_after: Duration::from_secs(10),
        }
    }
}

/// The live stream's parts, on a backend with an event feed; its route is not mounted otherwise.
#[derive(Clone)]
pub struct LiveApi {
    feed: Arc<dyn EventFeed>,
    limits: LiveLimits,
    shutdown: CancellationToken,
    open: Arc<OpenStreams>,
}

impl LiveApi {
    /// Streams end when `shutdown` is cancelled.
    pub fn new(feed: Arc<dyn EventFeed>, limits: LiveLimits, shutdown: CancellationToken) -> Self {
        Self {
            feed,
            limits,
            shutdown,
            open: Arc::new(OpenStreams::default()),
        }
    }
}

pub fn routes() -> Router<ApiState> {
    Router::new().route("/api/events/stream", get(open_stream))
}

async fn open_stream(
    State(state): State<ApiState>,
    OwnerCaller(owner): OwnerCaller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(live) = state.live.clone() else {
        return Err(error_not_mounted());
    };
    let last_id = last_event_id(&headers)?;
    let Some(slot) = live.open.acquire(&owner, live.limits) else {
        return Ok(too_many(live.limits.retry_after));
    };
    // Refused here rather than in the stream, so that a failing store is an error answer.
    let restaurants = stream::member_restaurants(state.restaurants.as_ref(), &owner).await?;
    let start = stream::start(live.feed.as_ref(), last_id)
        .await
        .map_err(|e| ApiError::unavailable("reading the event feed", &e))?;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let task = stream::Stream {
        feed: live.feed.clone(),
        restaurants_port: state.restaurants.clone(),
        owner,
        restaurants,
        keep_alive: live.limits.keep_alive,
        shutdown: live.shutdown.clone(),
        tx,
    };
    tokio::spawn(async move {
        task.run(start).await;
        drop(slot);
    });
    let body = Body::from_stream(stream::body(rx));
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Tells a buffering proxy in front (nginx) to pass each event on at once.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

fn error_not_mounted() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        reasons::NOT_FOUND,
        "this server has no event stream; poll GET /api/uploads",
    )
}

/// `Last-Event-ID`: absent, or the decimal `seq` of the last event the page saw.
fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::bad_request(
            reasons::INVALID_LAST_EVENT_ID,
            "Last-Event-ID must be the id of an event this stream sent (a decimal number)",
        )
    };
    let text = value.to_str().map_err(|_| invalid())?.trim();
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    text.parse().map(Some).map_err(|_| invalid())
}

fn too_many(retry_after: Duration) -> Response {
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        reasons::TOO_MANY_STREAMS,
        "too many open event streams; close another tab or try again later",
    )
    .into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after.as_secs().max(1)),
    );
    response
}

/// Counts open streams, per user and in all.
#[derive(Default)]
struct OpenStreams {
    counts: Mutex<(usize, HashMap<OwnerId, usize>)>,
}

impl OpenStreams {
    fn acquire(self: &Arc<Self>, owner: &OwnerId, limits: LiveLimits) -> Option<OpenSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per_user) = &mut *counts;
        let mine = per_user.entry(owner.clone()).or_default();
        if *total >= limits.total || *mine >= limits.per_user {
            if *mine == 0 {
                per_user.remove(owner);
            }
            return None;
        }
        *mine += 1;
        *total += 1;
        Some(OpenSlot {
            streams: self.clone(),
            owner: owner.clone(),
        })
    }
}

/// One open stream; dropping it frees its place.
struct OpenSlot {
    streams: Arc<OpenStreams>,
    owner: OwnerId,
}

impl Drop for OpenSlot {
    fn drop(&mut self) {
        let mut counts = self
            .streams
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let (total, per_user) = &mut *counts;
        *total = total.saturating_sub(1);
        if let Some(mine) = per_user.get_mut(&self.owner) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                per_user.remove(&self.owner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_event_id_is_a_decimal_seq() {
        let mut headers = HeaderMap::new();
        assert_eq!(last_event_id(&headers).unwrap(), None);
        headers.insert("last-event-id", HeaderValue::from_static("42"));
        assert_eq!(last_event_id(&headers).unwrap(), Some(42));
        for bad in ["", "-1", "4a", "1e3", "99999999999999999999999"] {
            headers.insert("last-event-id", HeaderValue::from_static(bad));
            let error = last_event_id(&headers).unwrap_err();
            assert_eq!(error.reason, reasons::INVALID_LAST_EVENT_ID, "{bad:?}");
        }
    }

    #[test]
    fn streams_are_counted_per_user_and_in_all() {
        let open = Arc::new(OpenStreams::default());
        let limits = LiveLimits {
            per_user: 2,
            total: 3,
            ..LiveLimits::default()
        };
        let (a, b) = (OwnerId::parse("a").unwrap(), OwnerId::parse("b").unwrap());
        let a1 = open.acquire(&a, limits).unwrap();
        let _a2 = open.acquire(&a, limits).unwrap();
        assert!(open.acquire(&a, limits).is_none(), "per user");
        let _b1 = open.acquire(&b, limits).unwrap();
        assert!(open.acquire(&b, limits).is_none(), "in all");
        drop(a1);
        assert!(
            open.acquire(&b, limits).is_some(),
            "a closed stream frees its place"
        );
    }
}
