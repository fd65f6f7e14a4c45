//! The webhooks function's work, kept out of `main.rs` so that tests build exactly what Lambda
//! runs. Two things invoke it:
//!
//! - the webhooks queue, which an EventBridge rule fills with every Vetted event on the bus:
//!   each message becomes one delivery per endpoint that wants the event
//!   ([`enqueue_event`], idempotent per (endpoint, event id), so a message SQS hands over
//!   twice adds nothing). A message fails (and is reported in the batch response) only if it
//!   is not a Vetted event, which then ends in the dead-letter queue, or if the store could
//!   not take it, which a retry may cure. Then the due deliveries are sent.
//! - a schedule, every minute: the due deliveries are sent, which is how retries (30 s to
//!   about a day later) happen without new events.
//!
//! Sending is the same [`DeliveryWorker`] `vetted serve` runs, with the address guard always
//! on: [`Config`] reads no setting that could turn it off. Rounds start only while the
//! invocation has time for a whole one left, and every claim's lease outlasts the function's
//! timeout, so a delivery in flight is never claimed twice by running invocations; one left
//! by an invocation that was cut short is sent once its lease ends.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;
use vetted_aws::config::AwsContext;
use vetted_aws::dynamo::DynamoWebhooks;
use vetted_core::events::UploadEvent;
use vetted_core::ports::{Retryable, Webhooks, WebhooksError};
use vetted_core::settings::{Env, SettingError};
use vetted_core::{Clock, SystemClock};
use vetted_lambda::sqs::{Failure, handle_batch};
use vetted_webhooks::{DeliverySettings, DeliveryWorker, enqueue_event};

/// The `source` the rule matches; anything else on the queue is not ours.
const VETTED_SOURCE: &str = "vetted";

/// What the function is told by its environment (see `WebhooksFunction` in the SAM
/// template), and how it sends.
#[derive(Debug, Clone)]
pub struct Config {
    /// `VETTED_WEBHOOKS_TABLE`: endpoints and deliveries.
    pub table: String,
    pub delivery: DeliverySettings,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, SettingError> {
        Ok(Self {
            table: env.required("VETTED_WEBHOOKS_TABLE")?,
            delivery: lambda_settings(),
        })
    }
}

/// The delivery settings on Lambda: a claim's lease (3 min) outlasts the function's timeout
/// (2 min in the template), and the guard is on (`allow_private` is false).
pub fn lambda_settings() -> DeliverySettings {
    DeliverySettings {
        lease: Duration::from_secs(180),
        batch: 8,
        timeout: Duration::from_secs(10),
        allow_private: false,
        ..DeliverySettings::default()
    }
}

/// The longest a round can take: one endpoint's whole batch, one attempt after another, each
/// to its timeout, and a margin for the store.
fn worst_round(settings: &DeliverySettings) -> Duration {
    settings.timeout * settings.batch + Duration::from_secs(5)
}

/// The envelope EventBridge wraps an event in, as the queue carries it.
#[derive(Debug, Deserialize)]
struct Envelope {
    source: String,
    detail: UploadEvent,
}

#[derive(Debug, Error)]
pub enum MessageError {
    #[error("the message is not a Vetted event from EventBridge: {0}")]
    NotAnEvent(String),
    #[error("enqueueing the event's deliveries: {0}")]
    Store(#[from] WebhooksError),
}

impl Retryable for MessageError {
    fn is_retryable(&self) -> bool {
        match self {
            MessageError::NotAnEvent(_) => false,
            MessageError::Store(e) => e.is_retryable(),
        }
    }
}

/// Reads a queue message: the EventBridge envelope of one Vetted event.
pub fn event_of(body: &str) -> Result<UploadEvent, MessageError> {
    let envelope: Envelope =
        serde_json::from_str(body).map_err(|e| MessageError::NotAnEvent(e.to_string()))?;
    if envelope.source != VETTED_SOURCE {
        return Err(MessageError::NotAnEvent(format!(
            "source {:?}",
            envelope.source
        )));
    }
    Ok(envelope.detail)
}

/// The function: the store, the clock and the worker over them.
pub struct WebhooksFunction {
    store: Arc<dyn Webhooks>,
    clock: Arc<dyn Clock>,
    worker: DeliveryWorker,
    worst_round: Duration,
}

impl WebhooksFunction {
    /// Over the DynamoDB table the configuration names, with the system clock.
    pub fn new(ctx: &AwsContext, config: Config) -> anyhow::Result<Self> {
        let store = Arc::new(DynamoWebhooks::new(ctx.dynamodb(), &config.table));
        Self::over(store, Arc::new(SystemClock), config.delivery)
    }

    /// Over any store and clock: for tests.
    pub fn over(
        store: Arc<dyn Webhooks>,
        clock: Arc<dyn Clock>,
        settings: DeliverySettings,
    ) -> anyhow::Result<Self> {
        let worst_round = worst_round(&settings);
        let worker = DeliveryWorker::new(store.clone(), clock.clone(), settings)?;
        Ok(Self {
            store,
            clock,
            worker,
            worst_round,
        })
    }

    /// One invocation: an SQS batch (answered with its failed messages) or anything else (the
    /// schedule, answered with how many deliveries were attempted). `deadline` is when the
    /// invocation is cut short.
    pub async fn invoke(&self, payload: Value, deadline: SystemTime) -> anyhow::Result<Value> {
        if payload.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(payload)?;
            let response = self.batch(batch, deadline).await;
            Ok(serde_json::to_value(response)?)
        } else {
            let attempted = self.deliver_until(deadline).await?;
            Ok(serde_json::json!({ "attempted": attempted }))
        }
    }

    /// Enqueues every message's event, then sends what is due. A failure to send does not
    /// fail the messages: their deliveries are stored, and the schedule sends them.
    pub async fn batch(&self, batch: SqsEvent, deadline: SystemTime) -> SqsBatchResponse {
        let response = handle_batch(batch, |body| async move {
            self.enqueue(&body).await.map(drop).map_err(Failure)
        })
        .await;
        if let Err(error) = self.deliver_until(deadline).await {
            tracing::warn!(%error, "webhook deliveries: claiming failed; the schedule retries");
        }
        response
    }

    /// One message: its event's deliveries, one per endpoint that wants it.
    pub async fn enqueue(&self, body: &str) -> Result<usize, MessageError> {
        let event = event_of(body)?;
        let new = enqueue_event(self.store.as_ref(), &event, self.clock.now()).await?;
        tracing::info!(event_id = %event.id, event_type = event.event_type.as_str(), new, "webhook deliveries enqueued");
        Ok(new)
    }

    /// Rounds of due deliveries while a whole round still fits before `deadline`; answers how
    /// many were attempted.
    pub async fn deliver_until(&self, deadline: SystemTime) -> Result<usize, WebhooksError> {
        let mut attempted = 0;
        while deadline
            .duration_since(SystemTime::now())
            .is_ok_and(|left| left > self.worst_round)
        {
            let round = self.worker.deliver_due().await?;
            if round == 0 {
                break;
            }
            attempted += round;
        }
        Ok(attempted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_always_fits_in_the_function_timeout_and_the_lease_outlasts_it() {
        let settings = lambda_settings();
        // The template's Timeout for WebhooksFunction.
        let function_timeout = Duration::from_secs(120);
        assert!(worst_round(&settings) < function_timeout);
        assert!(settings.lease > function_timeout);
        assert!(!settings.allow_private, "the guard is always on on AWS");
    }

    #[test]
    fn only_vetted_events_are_read() {
        assert!(matches!(event_of("{}"), Err(MessageError::NotAnEvent(_))));
        let scheduled = r#"{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","detail":{}}"#;
        let refused = event_of(scheduled).unwrap_err();
        assert!(!refused.is_retryable());
    }
}
