//! `SqliteOutbox`: the event sink of one machine, a durable outbox table in the shared database.
//!
//! `publish` is one insert, idempotent by event id (the id is derived from upload and status,
//! so a re-sent event is the same row). Delivery to whatever listens (webhooks, notifications)
//! is separate: [`SqliteOutbox::run_dispatcher`] hands pending events to an [`EventHandler`] in
//! the order they were published, marks each delivered, and retries a failed one with backoff.
//! A failure holds back only the later events of the same upload, so one bad endpoint or event
//! does not stop everyone's notifications, and no upload's events overtake each other.
//!
//! It is also the [`EventFeed`] of open pages (`GET /api/events/stream`): events by `seq`,
//! delivered or not. `seq` is the table's rowid, which SQLite would reuse after the newest
//! rows were deleted, so a purge always keeps the newest row and records in `outbox_horizon`
//! the highest `seq` it deleted: a page that last saw an older event is told to reload.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::params;
use tokio::sync::Notify;
use vetted_core::events::UploadEvent;
use vetted_core::ports::{BackendError, EventError, EventFeed, EventSink, FeedPage, RecordedEvent};
use vetted_core::{Clock, Timestamp, UploadId};

use crate::db::{Db, DbError, Migration};

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: "
        CREATE TABLE outbox_events (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            upload_id TEXT NOT NULL,
            event_type TEXT NOT NULL,
            body TEXT NOT NULL,
            published_at INTEGER NOT NULL,
            delivered_at INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER NOT NULL,
            last_error TEXT
        ) STRICT;
        CREATE INDEX outbox_events_pending ON outbox_events (seq) WHERE delivered_at IS NULL;
    ",
    },
    Migration {
        version: 2,
        sql: "
        CREATE TABLE outbox_horizon (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            purged_through INTEGER NOT NULL
        ) STRICT;
        INSERT INTO outbox_horizon (id, purged_through) VALUES (1, 0);
    ",
    },
];

/// How long the dispatcher waits when nothing wakes it, for events from other processes.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The first retry of a failed delivery waits this long, doubling up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
const BATCH: u32 = 100;

/// One event waiting for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingEvent {
    /// Publication order.
    pub seq: i64,
    pub event: UploadEvent,
    /// Failed deliveries so far.
    pub attempts: u32,
    /// Not before this instant (after a failure).
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
}

/// Where the dispatcher delivers events.
#[async_trait]
pub trait EventHandler: Send + Sync {
    /// Delivers one event; an error means "try again later".
    async fn deliver(
        &self,
        event: &UploadEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

#[derive(Clone)]
pub struct SqliteOutbox {
    db: Db,
    clock: Arc<dyn Clock>,
    arrivals: Arc<Notify>,
}

fn backend(operation: &'static str) -> impl FnOnce(DbError) -> EventError {
    move |e| EventError::Backend(e.into_backend(operation))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl SqliteOutbox {
    pub fn new(db: Db, clock: Arc<dyn Clock>) -> Self {
        let arrivals = db.signal("outbox");
        Self {
            db,
            clock,
            arrivals,
        }
    }

    /// Up to `limit` undelivered events, oldest first.
    pub async fn pending(&self, limit: u32) -> Result<Vec<PendingEvent>, EventError> {
        self.db
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT seq, body, attempts, next_attempt_at, last_error FROM outbox_events
                     WHERE delivered_at IS NULL ORDER BY seq LIMIT ?1",
                )?
                .query_map([limit], |r| {
                    let body: String = r.get(1)?;
                    let event = serde_json::from_str(&body).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            1,
                            rusqlite::types::Type::Text,
                            Box::new(e),
                        )
                    })?;
                    Ok(PendingEvent {
                        seq: r.get(0)?,
                        event,
                        attempts: r.get(2)?,
                        next_attempt_at: Timestamp::from_unix_millis(r.get(3)?),
                        last_error: r.get(4)?,
                    })
                })?
                .collect()
            })
            .await
            .map_err(backend("outbox.pending"))
    }

    /// Every event ever published for `upload`, delivered or not, in publication order.
    pub async fn events_for(&self, upload: &UploadId) -> Result<Vec<UploadEvent>, EventError> {
        let upload = upload.to_string();
        self.db
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT body FROM outbox_events WHERE upload_id = ?1 ORDER BY seq",
                )?
                .query_map([upload], |r| r.get::<_, String>(0))?
                .map(|body| {
                    body.and_then(|b| {
                        serde_json::from_str(&b).map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(
                                0,
                                rusqlite::types::Type::Text,
                                Box::new(e),
                            )
                        })
                    })
                })
                .collect()
            })
            .await
            .map_err(backend("outbox.events_for"))
    }

    pub async fn mark_delivered(&self, seqs: &[i64]) -> Result<(), EventError> {
        let (seqs, now) = (seqs.to_vec(), self.clock.now().unix_millis());
        self.db
            .call(move |conn| {
                let tx = crate::db::immediate(conn)?;
                for seq in seqs {
                    tx.prepare_cached("UPDATE outbox_events SET delivered_at = ?2 WHERE seq = ?1")?
                        .execute(params![seq, now])?;
                }
                tx.commit()
            })
            .await
            .map_err(backend("outbox.mark_delivered"))
    }

    /// Records a failed delivery; the event is tried again after an exponential backoff.
    pub async fn mark_failed(&self, seq: i64, error: &str) -> Result<(), EventError> {
        let (error, now) = (error.to_owned(), self.clock.now().unix_millis());
        let (first, max) = (millis(FIRST_BACKOFF), millis(MAX_BACKOFF));
        self.db
            .call(move |conn| {
                conn.prepare_cached(
                    "UPDATE outbox_events SET attempts = attempts + 1, last_error = ?2,
                         next_attempt_at = ?3 + MIN(?5, ?4 << MIN(attempts, 20))
                     WHERE seq = ?1",
                )?
                .execute(params![seq, error, now, first, max])
            })
            .await
            .map_err(backend("outbox.mark_failed"))?;
        Ok(())
    }

    /// Deletes delivered events older than `before`, except the newest event (whose `seq`
    /// keeps new ones from reusing a number a page has seen); returns how many went.
    pub async fn purge_delivered(&self, before: Timestamp) -> Result<usize, EventError> {
        self.db
            .call(move |conn| {
                let tx = crate::db::immediate(conn)?;
                let newest: Option<i64> =
                    tx.query_row("SELECT MAX(seq) FROM outbox_events", [], |r| r.get(0))?;
                let Some(newest) = newest else {
                    return Ok(0);
                };
                let before = before.unix_millis();
                let purged: Option<i64> = tx.query_row(
                    "SELECT MAX(seq) FROM outbox_events WHERE delivered_at < ?1 AND seq < ?2",
                    params![before, newest],
                    |r| r.get(0),
                )?;
                let deleted = tx
                    .prepare_cached(
                        "DELETE FROM outbox_events WHERE delivered_at < ?1 AND seq < ?2",
                    )?
                    .execute(params![before, newest])?;
                if let Some(purged) = purged {
                    tx.execute(
                        "UPDATE outbox_horizon SET purged_through = MAX(purged_through, ?1)",
                        [purged],
                    )?;
                }
                tx.commit()?;
                Ok(deleted)
            })
            .await
            .map_err(backend("outbox.purge_delivered"))
    }

    /// One delivery round: each due event in order, skipping the uploads whose earlier event
    /// is still waiting. Returns how many were delivered.
    pub async fn dispatch_once(&self, handler: &dyn EventHandler) -> Result<usize, EventError> {
        let now = self.clock.now();
        let mut held_back: HashSet<UploadId> = HashSet::new();
        let mut delivered = 0;
        for pending in self.pending(BATCH).await? {
            let upload = pending.event.upload_id;
            if held_back.contains(&upload) {
                continue;
            }
            if pending.next_attempt_at > now {
                held_back.insert(upload);
                continue;
            }
            match handler.deliver(&pending.event).await {
                Ok(()) => {
                    self.mark_delivered(&[pending.seq]).await?;
                    delivered += 1;
                }
                Err(error) => {
                    tracing::warn!(event_id = %pending.event.id, %error, "event delivery failed");
                    self.mark_failed(pending.seq, &error.to_string()).await?;
                    held_back.insert(upload);
                }
            }
        }
        Ok(delivered)
    }

    /// Delivers events to `handler` until `shutdown` completes: at once when one is published
    /// in this process, otherwise at least every [`POLL_INTERVAL`].
    pub async fn run_dispatcher(
        &self,
        handler: &dyn EventHandler,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            let arrival = self.arrivals.notified();
            tokio::pin!(arrival);
            arrival.as_mut().enable();
            let nap = match self.dispatch_once(handler).await {
                Ok(n) if n == BATCH as usize => Duration::ZERO,
                Ok(_) => POLL_INTERVAL,
                Err(error) => {
                    tracing::warn!(%error, "outbox dispatch failed; trying again");
                    POLL_INTERVAL
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = &mut arrival => {}
                () = tokio::time::sleep(nap) => {}
            }
        }
    }
}

#[async_trait]
impl EventFeed for SqliteOutbox {
    async fn after(&self, seq: u64, limit: u32) -> Result<FeedPage, EventError> {
        let after = i64::try_from(seq).unwrap_or(i64::MAX);
        self.db
            .read(move |conn| {
                // One snapshot, so that `latest` and the horizon agree with the events read.
                let tx = conn.unchecked_transaction()?;
                let events = tx
                    .prepare_cached(
                        "SELECT seq, body FROM outbox_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                    )?
                    .query_map(params![after, limit], |r| {
                        let body: String = r.get(1)?;
                        let event = serde_json::from_str(&body).map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(
                                1,
                                rusqlite::types::Type::Text,
                                Box::new(e),
                            )
                        })?;
                        Ok(RecordedEvent {
                            seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                            event,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let latest: Option<i64> =
                    tx.query_row("SELECT MAX(seq) FROM outbox_events", [], |r| r.get(0))?;
                let purged: i64 =
                    tx.query_row("SELECT purged_through FROM outbox_horizon", [], |r| {
                        r.get(0)
                    })?;
                Ok(FeedPage {
                    events,
                    latest: u64::try_from(latest.unwrap_or(0)).unwrap_or(0),
                    purged_through: u64::try_from(purged).unwrap_or(0),
                })
            })
            .await
            .map_err(backend("outbox.after"))
    }

    fn arrivals(&self) -> Arc<Notify> {
        self.arrivals.clone()
    }
}

#[async_trait]
impl EventSink for SqliteOutbox {
    #[tracing::instrument(skip(self, event), fields(upload_id = %event.upload_id, event_id = %event.id))]
    async fn publish(&self, event: &UploadEvent) -> Result<(), EventError> {
        let body = serde_json::to_string(event)
            .map_err(|e| EventError::Backend(BackendError::permanent("outbox.publish", e)))?;
        let (id, upload, event_type) = (
            event.id.clone(),
            event.upload_id.to_string(),
            event.event_type.as_str(),
        );
        let now = self.clock.now().unix_millis();
        self.db
            .call(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO outbox_events (id, upload_id, event_type, body, published_at, next_attempt_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (id) DO NOTHING",
                )?
                .execute(params![id, upload, event_type, body, now])
            })
            .await
            .map_err(backend("outbox.publish"))?;
        self.arrivals.notify_waiters();
        Ok(())
    }
}
