//! `SqliteWebhooks`: the webhooks port over SQLite — endpoints, and one delivery row per
//! (endpoint, event) in the shared database.
//!
//! A delivery is claimed by setting `leased_until` inside one `IMMEDIATE` transaction, so two
//! workers (or a worker and a restarted one) never hold the same delivery, and a claim that
//! is never recorded expires with its lease. Secrets are stored as their `whsec_` text, in
//! the same file as everything else: whoever can read the data directory can read them.

mod rows;

use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use vetted_core::Timestamp;
use vetted_core::ports::{Webhooks, WebhooksError};
use vetted_core::webhooks::{Attempt, AttemptNext, Delivery, DeliveryId, Endpoint, EndpointId};

use crate::db::{Db, DbError, Migration, immediate};
use rows::{DELIVERY, ENDPOINT};

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    sql: "
        CREATE TABLE webhook_endpoints (
            id TEXT PRIMARY KEY NOT NULL,
            url TEXT NOT NULL,
            event_types TEXT NOT NULL,
            restaurant TEXT,
            secret TEXT NOT NULL,
            previous_secret TEXT,
            previous_until INTEGER,
            enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
            disabled_reason TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE webhook_deliveries (
            id TEXT PRIMARY KEY NOT NULL,
            endpoint TEXT NOT NULL,
            event_id TEXT NOT NULL,
            event_type TEXT NOT NULL,
            body TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
            attempts INTEGER NOT NULL,
            last_response INTEGER,
            last_error TEXT,
            next_attempt_at INTEGER CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL)),
            leased_until INTEGER,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            UNIQUE (endpoint, event_id)
        ) STRICT;
        CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
            WHERE status = 'pending';
        CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint, id);
    ",
}];

/// Webhook endpoints and deliveries in the shared database.
#[derive(Debug, Clone)]
pub struct SqliteWebhooks {
    db: Db,
}

impl SqliteWebhooks {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn backend(operation: &'static str) -> impl FnOnce(DbError) -> WebhooksError {
    move |e| WebhooksError::Backend(e.into_backend(operation))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn endpoint_params(e: &Endpoint) -> [rusqlite::types::Value; 11] {
    use rusqlite::types::Value;
    let text = |s: &str| Value::Text(s.to_owned());
    let opt_text = |s: Option<&str>| s.map_or(Value::Null, text);
    let opt_at = |t: Option<Timestamp>| t.map_or(Value::Null, |t| Value::Integer(t.unix_millis()));
    [
        text(&e.id.to_string()),
        text(&e.url),
        Value::Text(rows::event_types_json(&e.event_types)),
        opt_text(e.restaurant.as_ref().map(|r| r.as_str())),
        text(e.secret.expose()),
        opt_text(e.previous_secret.as_ref().map(|s| s.expose())),
        opt_at(e.previous_until),
        Value::Integer(i64::from(e.enabled)),
        opt_text(e.disabled_reason.as_deref()),
        Value::Integer(e.created_at.unix_millis()),
        Value::Integer(e.updated_at.unix_millis()),
    ]
}

#[async_trait]
impl Webhooks for SqliteWebhooks {
    #[tracing::instrument(skip_all, fields(endpoint = %endpoint.id))]
    async fn create(&self, endpoint: &Endpoint) -> Result<(), WebhooksError> {
        let values = endpoint_params(endpoint);
        let inserted = self
            .db
            .call(move |conn| {
                conn.prepare_cached(&format!(
                    "INSERT INTO webhook_endpoints ({ENDPOINT})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                     ON CONFLICT (id) DO NOTHING"
                ))?
                .execute(rusqlite::params_from_iter(values))
            })
            .await
            .map_err(backend("webhooks.create"))?;
        if inserted == 0 {
            return Err(WebhooksError::AlreadyExists(endpoint.id));
        }
        Ok(())
    }

    async fn get(&self, id: &EndpointId) -> Result<Endpoint, WebhooksError> {
        let key = id.to_string();
        self.db
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {ENDPOINT} FROM webhook_endpoints WHERE id = ?1"
                ))?
                .query_row([key], rows::endpoint)
                .optional()
            })
            .await
            .map_err(backend("webhooks.get"))?
            .ok_or(WebhooksError::NotFound(*id))
    }

    async fn list(&self) -> Result<Vec<Endpoint>, WebhooksError> {
        self.db
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {ENDPOINT} FROM webhook_endpoints ORDER BY created_at, id"
                ))?
                .query_map([], rows::endpoint)?
                .collect()
            })
            .await
            .map_err(backend("webhooks.list"))
    }

    #[tracing::instrument(skip_all, fields(endpoint = %endpoint.id))]
    async fn update(&self, endpoint: &Endpoint) -> Result<(), WebhooksError> {
        let values = endpoint_params(endpoint);
        let updated = self
            .db
            .call(move |conn| {
                conn.prepare_cached(
                    "UPDATE webhook_endpoints SET url = ?2, event_types = ?3, restaurant = ?4,
                         secret = ?5, previous_secret = ?6, previous_until = ?7, enabled = ?8,
                         disabled_reason = ?9, created_at = ?10, updated_at = ?11
                     WHERE id = ?1",
                )?
                .execute(rusqlite::params_from_iter(values))
            })
            .await
            .map_err(backend("webhooks.update"))?;
        if updated == 0 {
            return Err(WebhooksError::NotFound(endpoint.id));
        }
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    async fn delete(&self, id: &EndpointId) -> Result<bool, WebhooksError> {
        let key = id.to_string();
        self.db
            .call(move |conn| {
                let tx = immediate(conn)?;
                tx.prepare_cached("DELETE FROM webhook_deliveries WHERE endpoint = ?1")?
                    .execute([&key])?;
                let removed = tx
                    .prepare_cached("DELETE FROM webhook_endpoints WHERE id = ?1")?
                    .execute([&key])?;
                tx.commit()?;
                Ok(removed > 0)
            })
            .await
            .map_err(backend("webhooks.delete"))
    }

    #[tracing::instrument(skip_all, fields(endpoint = %delivery.endpoint, event_id = %delivery.event_id))]
    async fn enqueue(&self, delivery: &Delivery) -> Result<bool, WebhooksError> {
        let d = delivery.clone();
        self.db
            .call(move |conn| {
                let inserted = conn
                    .prepare_cached(&format!(
                        "INSERT INTO webhook_deliveries ({DELIVERY})
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                         ON CONFLICT (endpoint, event_id) DO NOTHING"
                    ))?
                    .execute(params![
                        d.id.to_string(),
                        d.endpoint.to_string(),
                        d.event_id,
                        d.event_type.as_str(),
                        d.body,
                        d.status.as_str(),
                        d.attempts,
                        d.last_response,
                        d.last_error,
                        d.next_attempt_at.map(Timestamp::unix_millis),
                        d.created_at.unix_millis(),
                        d.updated_at.unix_millis(),
                    ])?;
                Ok(inserted > 0)
            })
            .await
            .map_err(backend("webhooks.enqueue"))
    }

    async fn claim_due(
        &self,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Delivery>, WebhooksError> {
        let (now, until) = (
            now.unix_millis(),
            now.unix_millis().saturating_add(millis(lease)),
        );
        self.db
            .call(move |conn| {
                let tx = immediate(conn)?;
                let due: Vec<Delivery> = tx
                    .prepare_cached(&format!(
                        "SELECT {DELIVERY} FROM webhook_deliveries
                         WHERE status = 'pending' AND next_attempt_at <= ?1
                           AND (leased_until IS NULL OR leased_until <= ?1)
                         ORDER BY next_attempt_at, id LIMIT ?2"
                    ))?
                    .query_map(params![now, limit], rows::delivery)?
                    .collect::<Result<_, _>>()?;
                for d in &due {
                    tx.prepare_cached(
                        "UPDATE webhook_deliveries SET leased_until = ?2 WHERE id = ?1",
                    )?
                    .execute(params![d.id.to_string(), until])?;
                }
                tx.commit()?;
                Ok(due)
            })
            .await
            .map_err(backend("webhooks.claim_due"))
    }

    #[tracing::instrument(skip(self, attempt))]
    async fn record(&self, id: &DeliveryId, attempt: &Attempt) -> Result<(), WebhooksError> {
        let (key, a) = (id.to_string(), attempt.clone());
        let (status, next) = match a.next {
            AttemptNext::Delivered => ("delivered", None),
            AttemptNext::Failed => ("failed", None),
            AttemptNext::RetryAt(at) => ("pending", Some(at.unix_millis())),
        };
        let updated = self
            .db
            .call(move |conn| {
                conn.prepare_cached(
                    "UPDATE webhook_deliveries SET attempts = attempts + 1, status = ?2,
                         last_response = ?3, last_error = ?4, next_attempt_at = ?5,
                         leased_until = NULL, updated_at = ?6
                     WHERE id = ?1",
                )?
                .execute(params![
                    key,
                    status,
                    a.response,
                    a.error,
                    next,
                    a.at.unix_millis()
                ])
            })
            .await
            .map_err(backend("webhooks.record"))?;
        if updated == 0 {
            return Err(WebhooksError::DeliveryNotFound(*id));
        }
        Ok(())
    }

    async fn deliveries(
        &self,
        endpoint: &EndpointId,
        limit: u32,
    ) -> Result<Vec<Delivery>, WebhooksError> {
        self.get(endpoint).await?;
        let key = endpoint.to_string();
        self.db
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {DELIVERY} FROM webhook_deliveries WHERE endpoint = ?1
                     ORDER BY id DESC LIMIT ?2"
                ))?
                .query_map(params![key, limit], rows::delivery)?
                .collect()
            })
            .await
            .map_err(backend("webhooks.deliveries"))
    }

    async fn delivery(
        &self,
        endpoint: &EndpointId,
        id: &DeliveryId,
    ) -> Result<Delivery, WebhooksError> {
        let (endpoint, key) = (endpoint.to_string(), id.to_string());
        self.db
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {DELIVERY} FROM webhook_deliveries WHERE id = ?1 AND endpoint = ?2"
                ))?
                .query_row([key, endpoint], rows::delivery)
                .optional()
            })
            .await
            .map_err(backend("webhooks.delivery"))?
            .ok_or(WebhooksError::DeliveryNotFound(*id))
    }

    #[tracing::instrument(skip(self))]
    async fn retry(
        &self,
        endpoint: &EndpointId,
        id: &DeliveryId,
        now: Timestamp,
    ) -> Result<Delivery, WebhooksError> {
        let (endpoint_key, key, at) = (endpoint.to_string(), id.to_string(), now.unix_millis());
        let updated = self
            .db
            .call(move |conn| {
                conn.prepare_cached(
                    "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?3,
                         leased_until = NULL, updated_at = ?3
                     WHERE id = ?1 AND endpoint = ?2",
                )?
                .execute(params![key, endpoint_key, at])
            })
            .await
            .map_err(backend("webhooks.retry"))?;
        if updated == 0 {
            return Err(WebhooksError::DeliveryNotFound(*id));
        }
        self.delivery(endpoint, id).await
    }
}
