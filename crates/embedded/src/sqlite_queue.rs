//! `SqliteWorkQueue`: a durable work queue in SQLite with visibility timeouts and a dead-letter table.
//!
//! Semantics follow SQS, so that workers behave the same on both: a received message is hidden
//! until `visible_at`; each receive bumps `receive_count` and hands out a new receipt (the old
//! one goes stale); a due message that has already been received `max_receives` times is moved
//! to `queue_dead_letters` by the receive that finds it, instead of being delivered. Redrive
//! moves dead letters back with a fresh count. Many named queues share the two tables.
//!
//! Long polling: a receive that finds nothing waits on a [`Notify`] shared, through [`Db`], by
//! every `SqliteWorkQueue` of that name in the process, so a send wakes it at once. It also
//! wakes when the next hidden message is due, and at least every [`POLL_INTERVAL`], for
//! messages sent by another process (an operator's redrive) on the same file.

mod receive;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::params;
use tokio::sync::Notify;
use uuid::Uuid;
use vetted_core::ports::{
    MAX_SEND_DELAY, QueueError, QueueMessage, QueueStats, Receipt, WorkQueue,
};
use vetted_core::{Clock, SystemClock};

use crate::db::{Db, DbError, Migration, immediate};
use receive::receive_batch;

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    sql: "
        CREATE TABLE queue_messages (
            seq INTEGER PRIMARY KEY,
            queue TEXT NOT NULL,
            id TEXT NOT NULL,
            body TEXT NOT NULL,
            sent_at INTEGER NOT NULL,
            visible_at INTEGER NOT NULL,
            receive_count INTEGER NOT NULL DEFAULT 0,
            receipt TEXT
        ) STRICT;
        CREATE INDEX queue_messages_due ON queue_messages (queue, visible_at, seq);
        CREATE TABLE queue_dead_letters (
            seq INTEGER PRIMARY KEY,
            queue TEXT NOT NULL,
            id TEXT NOT NULL,
            body TEXT NOT NULL,
            sent_at INTEGER NOT NULL,
            receive_count INTEGER NOT NULL,
            died_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX queue_dead_letters_by_queue ON queue_dead_letters (queue, seq);
    ",
}];

/// How often a waiting receive looks again when nothing in this process tells it to.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How a queue treats its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// How long a received message stays hidden before it is delivered again.
    pub visibility_timeout: Duration,
    /// Deliveries without an ack before a message becomes a dead letter (at least 1).
    pub max_receives: u32,
}

/// One named queue in the database.
#[derive(Debug, Clone)]
pub struct SqliteWorkQueue {
    db: Db,
    name: Arc<str>,
    config: QueueConfig,
    arrivals: Arc<Notify>,
}

impl SqliteWorkQueue {
    pub fn new(db: Db, name: &str, config: QueueConfig) -> Self {
        let arrivals = db.signal(&format!("queue:{name}"));
        let config = QueueConfig {
            max_receives: config.max_receives.max(1),
            ..config
        };
        Self {
            db,
            name: name.into(),
            config,
            arrivals,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes every message received and not yet acknowledged visible again now, and voids its
    /// receipt; returns how many. For the one process that consumes the queue, at start-up:
    /// what an earlier process received died with it, and would otherwise wait out the whole
    /// visibility timeout (minutes, for sanitize) before anyone handled it again.
    pub async fn release_unacknowledged(&self) -> Result<usize, QueueError> {
        let queue = self.name.to_string();
        let released = self
            .db
            .call(move |conn| {
                conn.prepare_cached(
                    "UPDATE queue_messages SET visible_at = ?2, receipt = NULL
                     WHERE queue = ?1 AND receipt IS NOT NULL AND visible_at > ?2",
                )?
                .execute(params![queue, now_ms()])
            })
            .await
            .map_err(Self::backend("queue.release_unacknowledged"))?;
        if released > 0 {
            self.arrivals.notify_waiters();
        }
        Ok(released)
    }

    /// Stores a new message, visible `delay` from now; a receiver waiting wakes and, if it is
    /// not due yet, naps until it is.
    async fn insert(
        &self,
        body: &str,
        delay: Duration,
        operation: &'static str,
    ) -> Result<(), QueueError> {
        let (queue, body) = (self.name.to_string(), body.to_owned());
        self.db
            .call(move |conn| {
                let now = now_ms();
                conn.prepare_cached(
                    "INSERT INTO queue_messages (queue, id, body, sent_at, visible_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    queue,
                    Uuid::now_v7().to_string(),
                    body,
                    now,
                    now.saturating_add(millis(delay))
                ])
            })
            .await
            .map_err(Self::backend(operation))?;
        self.arrivals.notify_waiters();
        Ok(())
    }

    fn backend(operation: &'static str) -> impl FnOnce(DbError) -> QueueError {
        move |e| QueueError::Backend(e.into_backend(operation))
    }
}

fn now_ms() -> i64 {
    SystemClock.now().unix_millis()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A receipt names the row and the receive it came from; the nonce makes it unguessable and
/// unique, so that any receive invalidates the receipts before it.
fn new_receipt(seq: i64) -> String {
    format!("{seq}.{}", Uuid::new_v4().simple())
}

fn receipt_seq(receipt: &Receipt) -> Option<i64> {
    receipt.0.split_once('.')?.0.parse().ok()
}

#[async_trait]
impl WorkQueue for SqliteWorkQueue {
    #[tracing::instrument(skip(self, body), fields(queue = %self.name))]
    async fn send(&self, body: &str) -> Result<(), QueueError> {
        self.insert(body, Duration::ZERO, "queue.send").await
    }

    #[tracing::instrument(skip(self, body), fields(queue = %self.name))]
    async fn send_delayed(&self, body: &str, delay: Duration) -> Result<(), QueueError> {
        self.insert(body, delay.min(MAX_SEND_DELAY), "queue.send_delayed")
            .await
    }

    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<QueueMessage>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Registered before looking, so a send that commits after the look still wakes us.
            let arrival = self.arrivals.notified();
            tokio::pin!(arrival);
            arrival.as_mut().enable();
            let (queue, config) = (self.name.to_string(), self.config);
            let batch = self
                .db
                .call(move |conn| receive_batch(conn, &queue, max, config))
                .await
                .map_err(Self::backend("queue.receive"))?;
            let now = tokio::time::Instant::now();
            if !batch.delivered.is_empty() || now >= deadline {
                return Ok(batch.delivered);
            }
            let mut nap = POLL_INTERVAL.min(deadline - now);
            if let Some(due) = batch.next_due {
                let until_due = Duration::from_millis(u64::try_from(due - now_ms()).unwrap_or(0));
                nap = nap.min(until_due.max(Duration::from_millis(1)));
            }
            tokio::select! {
                () = &mut arrival => {}
                () = tokio::time::sleep(nap) => {}
            }
        }
    }

    async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError> {
        let Some(seq) = receipt_seq(receipt) else {
            return Err(QueueError::StaleReceipt);
        };
        let (queue, receipt) = (self.name.to_string(), receipt.0.clone());
        let deleted = self
            .db
            .call(move |conn| {
                conn.prepare_cached(
                    "DELETE FROM queue_messages WHERE seq = ?1 AND queue = ?2 AND receipt = ?3",
                )?
                .execute(params![seq, queue, receipt])
            })
            .await
            .map_err(Self::backend("queue.ack"))?;
        if deleted == 0 {
            return Err(QueueError::StaleReceipt);
        }
        Ok(())
    }

    async fn retry_after(&self, receipt: &Receipt, delay: Duration) -> Result<(), QueueError> {
        let Some(seq) = receipt_seq(receipt) else {
            return Err(QueueError::StaleReceipt);
        };
        let (queue, receipt) = (self.name.to_string(), receipt.0.clone());
        let visible_at = now_ms().saturating_add(millis(delay));
        let changed = self
            .db
            .call(move |conn| {
                conn.prepare_cached(
                    "UPDATE queue_messages SET visible_at = ?4
                     WHERE seq = ?1 AND queue = ?2 AND receipt = ?3",
                )?
                .execute(params![seq, queue, receipt, visible_at])
            })
            .await
            .map_err(Self::backend("queue.retry_after"))?;
        if changed == 0 {
            return Err(QueueError::StaleReceipt);
        }
        if delay.is_zero() {
            self.arrivals.notify_waiters();
        }
        Ok(())
    }

    #[tracing::instrument(skip(self), fields(queue = %self.name))]
    async fn redrive(&self, max: u32) -> Result<u32, QueueError> {
        let queue = self.name.to_string();
        let moved = self
            .db
            .call(move |conn| {
                let tx = immediate(conn)?;
                let now = now_ms();
                // New rows at the end of the queue, with a fresh count: a redriven message gets
                // every attempt again, and keeps its id so it can be traced.
                let moved = tx.execute(
                    "INSERT INTO queue_messages (queue, id, body, sent_at, visible_at)
                     SELECT queue, id, body, sent_at, ?2 FROM queue_dead_letters
                     WHERE queue = ?1 ORDER BY seq LIMIT ?3",
                    params![queue, now, max],
                )?;
                tx.execute(
                    "DELETE FROM queue_dead_letters WHERE seq IN (
                        SELECT seq FROM queue_dead_letters WHERE queue = ?1 ORDER BY seq LIMIT ?2)",
                    params![queue, max],
                )?;
                tx.commit()?;
                Ok(moved)
            })
            .await
            .map_err(Self::backend("queue.redrive"))?;
        if moved > 0 {
            self.arrivals.notify_waiters();
        }
        Ok(u32::try_from(moved).unwrap_or(u32::MAX))
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let queue = self.name.to_string();
        self.db
            .read(move |conn| {
                let now = now_ms();
                let (visible, in_flight): (i64, i64) = conn
                    .prepare_cached(
                        "SELECT COALESCE(SUM(visible_at <= ?2), 0), COALESCE(SUM(visible_at > ?2), 0)
                         FROM queue_messages WHERE queue = ?1",
                    )?
                    .query_row(params![queue, now], |r| Ok((r.get(0)?, r.get(1)?)))?;
                let dead: i64 = conn
                    .prepare_cached("SELECT COUNT(*) FROM queue_dead_letters WHERE queue = ?1")?
                    .query_row([&queue], |r| r.get(0))?;
                let count = |n: i64| u64::try_from(n).unwrap_or(0);
                Ok(QueueStats {
                    visible: count(visible),
                    in_flight: count(in_flight),
                    dead: count(dead),
                })
            })
            .await
            .map_err(Self::backend("queue.stats"))
    }
}
