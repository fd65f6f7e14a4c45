//! The webhooks port: endpoints as data, and one durable delivery per (endpoint, event).

use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;

use super::{BackendError, Retryable};
use crate::time::Timestamp;
use crate::webhooks::{Attempt, Delivery, DeliveryId, Endpoint, EndpointId};

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WebhooksError {
    #[error("webhook endpoint {0} not found")]
    NotFound(EndpointId),
    #[error("webhook endpoint {0} already exists")]
    AlreadyExists(EndpointId),
    #[error("delivery {0} not found")]
    DeliveryNotFound(DeliveryId),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Retryable for WebhooksError {
    fn is_retryable(&self) -> bool {
        match self {
            WebhooksError::Backend(e) => e.retryable,
            _ => false,
        }
    }
}

/// Webhook endpoints and their deliveries.
///
/// Contract:
/// - `create` stores a new endpoint (`AlreadyExists` for a known id, nothing changed); `get`
///   returns it or `NotFound`; `list` returns every endpoint, oldest first.
/// - `update` replaces a stored endpoint whole (`NotFound` if there is none), secrets
///   included, and writes nothing else.
/// - `delete` removes an endpoint and its deliveries and says whether there was one.
/// - `enqueue` stores a delivery unless one of the same endpoint and event id exists, and
///   says whether it stored it: enqueueing the same event twice makes one delivery.
/// - `claim_due` returns up to `limit` pending deliveries whose `next_attempt_at` is at or
///   before `now` and that no unexpired claim holds, oldest due first, and holds each for
///   `lease`: until `now + lease` no other claim returns it. A claim that is never
///   recorded (the process died) expires, and the delivery is claimed again.
/// - `record` stores an attempt's outcome: `attempts + 1`, the answer and error, the new
///   status (`Delivered`, `Failed`, or `Pending` due at the retry time) and `updated_at`;
///   it ends the claim. Unknown ids are `DeliveryNotFound`.
/// - `deliveries` lists an endpoint's deliveries, newest first, at most `limit`
///   (`NotFound` for an unknown endpoint); `delivery` returns one of them, or
///   `DeliveryNotFound` when it does not belong to that endpoint.
/// - `retry` makes a delivery pending again, due at `now`, whatever its status, keeping its
///   attempts, and returns it.
///
/// Nothing here is SQL-shaped: an endpoint is one item, a delivery one item keyed by its id
/// with a unique (endpoint, event) key, and `claim_due` is a query on (status, due time)
/// followed by a conditional write per delivery.
#[async_trait]
pub trait Webhooks: Send + Sync {
    async fn create(&self, endpoint: &Endpoint) -> Result<(), WebhooksError>;

    async fn get(&self, id: &EndpointId) -> Result<Endpoint, WebhooksError>;

    async fn list(&self) -> Result<Vec<Endpoint>, WebhooksError>;

    async fn update(&self, endpoint: &Endpoint) -> Result<(), WebhooksError>;

    async fn delete(&self, id: &EndpointId) -> Result<bool, WebhooksError>;

    async fn enqueue(&self, delivery: &Delivery) -> Result<bool, WebhooksError>;

    async fn claim_due(
        &self,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Delivery>, WebhooksError>;

    async fn record(&self, id: &DeliveryId, attempt: &Attempt) -> Result<(), WebhooksError>;

    async fn deliveries(
        &self,
        endpoint: &EndpointId,
        limit: u32,
    ) -> Result<Vec<Delivery>, WebhooksError>;

    async fn delivery(
        &self,
        endpoint: &EndpointId,
        id: &DeliveryId,
    ) -> Result<Delivery, WebhooksError>;

    async fn retry(
        &self,
        endpoint: &EndpointId,
        id: &DeliveryId,
        now: Timestamp,
    ) -> Result<Delivery, WebhooksError>;
}
