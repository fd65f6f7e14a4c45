//! One open event stream: where it starts, the loop that reads the feed and writes frames in
//! the `text/event-stream` format, and the checks of who may see each event.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream as FuturesStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use vetted_core::ports::{EventError, EventFeed, RecordedEvent, Restaurants, RestaurantsError};
use vetted_core::{OwnerId, RestaurantId};

/// Events read from the feed at a time.
const BATCH: u32 = 100;

/// Where a stream begins: after `cursor`, and whether the page must reload first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Start {
    pub cursor: u64,
    pub reset: bool,
}

/// Without `Last-Event-ID` a stream starts at the newest event (the page has just read its
/// list); with one, right after it, unless the feed no longer keeps all that came after it or
/// never got that far (another data directory), which is a reset.
pub(super) async fn start(feed: &dyn EventFeed, last_id: Option<u64>) -> Result<Start, EventError> {
    let page = feed.after(u64::MAX, 0).await?;
    Ok(match last_id {
        None => Start {
            cursor: page.latest,
            reset: false,
        },
        Some(id) if id < page.purged_through || id > page.latest => Start {
            cursor: page.latest,
            reset: true,
        },
        Some(id) => Start {
            cursor: id,
            reset: false,
        },
    })
}

pub(super) async fn member_restaurants(
    restaurants: &dyn Restaurants,
    owner: &OwnerId,
) -> Result<HashSet<RestaurantId>, RestaurantsError> {
    Ok(restaurants
        .restaurants_of(owner)
        .await?
        .into_iter()
        .map(|(restaurant, _)| restaurant.id)
        .collect())
}

/// The response body: frames as the stream task writes them; it ends when the task does.
pub(super) fn body(
    rx: mpsc::Receiver<Bytes>,
) -> impl FuturesStream<Item = Result<Bytes, Infallible>> + Send + 'static {
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|frame| (Ok(frame), rx))
    })
}

/// The task behind one response.
pub(super) struct Stream {
    pub feed: Arc<dyn EventFeed>,
    pub restaurants_port: Arc<dyn Restaurants>,
    pub owner: OwnerId,
    /// The caller's restaurants, as last read.
    pub restaurants: HashSet<RestaurantId>,
    pub keep_alive: Duration,
    pub shutdown: CancellationToken,
    pub tx: mpsc::Sender<Bytes>,
}

impl Stream {
    /// Writes frames until the page goes away, the server shuts down or the feed fails (the
    /// page then reconnects with `Last-Event-ID`).
    pub(super) async fn run(mut self, start: Start) {
        let mut cursor = start.cursor;
        let first = if start.reset {
            control("reset", cursor)
        } else {
            control("ready", cursor)
        };
        if !self.send(first).await {
            return;
        }
        let arrivals = self.feed.arrivals();
        let mut ticks = tokio::time::interval_at(Instant::now() + self.keep_alive, self.keep_alive);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            // Registered before the read, so that an event recorded meanwhile still wakes us.
            let arrival = arrivals.notified();
            tokio::pin!(arrival);
            arrival.as_mut().enable();
            let page = match self.feed.after(cursor, BATCH).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, "event stream: reading the feed failed; closing");
                    return;
                }
            };
            if page.purged_through > cursor {
                // Fell behind a purge while connected; only a reload shows the truth now.
                cursor = page.latest;
                if !self.send(control("reset", cursor)).await {
                    return;
                }
                continue;
            }
            let full = page.events.len() == BATCH as usize;
            for recorded in page.events {
                cursor = recorded.seq;
                if self.may_see(&recorded.event.restaurant).await
                    && !self.send(frame(&recorded)).await
                {
                    return;
                }
            }
            if full {
                continue;
            }
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = self.tx.closed() => return,
                () = &mut arrival => {}
                _ = ticks.tick() => {
                    if !self.send(Bytes::from_static(b": ping\n\n")).await {
                        return;
                    }
                    // New memberships are heard from here on; the feed is read again below,
                    // which also picks up events another process recorded.
                    match member_restaurants(self.restaurants_port.as_ref(), &self.owner).await {
                        Ok(restaurants) => self.restaurants = restaurants,
                        Err(error) => tracing::warn!(%error, "event stream: reading memberships failed"),
                    }
                }
            }
        }
    }

    /// Whether the caller is (still) a member of `restaurant`: known at connect time or the
    /// last keep-alive, and confirmed with the store for each event.
    async fn may_see(&mut self, restaurant: &RestaurantId) -> bool {
        if !self.restaurants.contains(restaurant) {
            return false;
        }
        match self
            .restaurants_port
            .membership(restaurant, &self.owner)
            .await
        {
            Ok(Some(_)) => true,
            Ok(None) => {
                self.restaurants.remove(restaurant);
                false
            }
            Err(error) => {
                tracing::warn!(%error, "event stream: checking a membership failed; event withheld");
                false
            }
        }
    }

    /// False when the page went away or the server is shutting down.
    async fn send(&self, frame: Bytes) -> bool {
        tokio::select! {
            sent = self.tx.send(frame) => sent.is_ok(),
            () = self.shutdown.cancelled() => false,
        }
    }
}

/// `event: ready` (or `reset`) with the `id` a reconnect should carry.
fn control(name: &str, cursor: u64) -> Bytes {
    Bytes::from(format!("id: {cursor}\nevent: {name}\ndata: {{}}\n\n"))
}

/// One status change: what the page needs to know which row moved. Details (reasons,
/// dimensions, URLs) it reads through the list, under that endpoint's own rules; the
/// moderator's id is not sent.
fn frame(recorded: &RecordedEvent) -> Bytes {
    let event = &recorded.event;
    let data = serde_json::json!({
        "id": event.id,
        "type": event.event_type,
        "upload_id": event.upload_id,
        "restaurant": event.restaurant,
        "slot": event.slot,
        "status": event.status,
        "time": event.time,
    });
    Bytes::from(format!(
        "id: {}\nevent: change\ndata: {data}\n\n",
        recorded.seq
    ))
}
