//! Webhook endpoints and their deliveries, as data: what an admin registers, and one row per
//! (endpoint, event) that the delivery worker works through.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use super::sign::WebhookSecret;
use crate::events::{EventType, UploadEvent};
use crate::restaurant::RestaurantId;
use crate::time::Timestamp;

/// How long the previous secret keeps signing after a rotation, by default.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{kind} id {raw:?} is not a lowercase hyphenated UUID")]
pub struct BadId {
    kind: &'static str,
    raw: String,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh id; v7, so ids sort by creation time.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn parse(raw: &str) -> Result<Self, BadId> {
                let bad = || BadId { kind: $kind, raw: raw.to_owned() };
                let uuid = Uuid::try_parse(raw).map_err(|_| bad())?;
                if uuid.hyphenated().to_string() != raw {
                    return Err(bad());
                }
                Ok(Self(uuid))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl TryFrom<String> for $name {
            type Error = BadId;
            fn try_from(raw: String) -> Result<Self, BadId> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }
    };
}

uuid_id!(
    /// One registered webhook endpoint.
    EndpointId,
    "endpoint"
);
uuid_id!(
    /// One delivery: an event, to an endpoint, however many attempts it takes.
    DeliveryId,
    "delivery"
);

/// A webhook endpoint. `Debug` never shows its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: EndpointId,
    /// Checked with [`super::address::check_url`] before it is stored.
    pub url: String,
    /// The event types sent; empty means every type.
    pub event_types: Vec<EventType>,
    /// Only this restaurant's events, when set.
    pub restaurant: Option<RestaurantId>,
    pub secret: WebhookSecret,
    /// The secret before the last rotation; it signs too until `previous_until`.
    pub previous_secret: Option<WebhookSecret>,
    pub previous_until: Option<Timestamp>,
    pub enabled: bool,
    /// Why it is disabled: an admin's choice, or the receiver answering 410 Gone.
    pub disabled_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Endpoint {
    /// Whether this endpoint wants `event` (enabled or not).
    pub fn wants(&self, event: &UploadEvent) -> bool {
        (self.event_types.is_empty() || self.event_types.contains(&event.event_type))
            && self
                .restaurant
                .as_ref()
                .is_none_or(|restaurant| *restaurant == event.restaurant)
    }

    /// The secrets that sign a delivery made at `now`: the current one, and the previous one
    /// until its overlap ends.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<&WebhookSecret> {
        let mut secrets = vec![&self.secret];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_until)
            && now < until
        {
            secrets.push(previous);
        }
        secrets
    }

    /// Replaces the secret; the old one keeps signing for `overlap`.
    pub fn rotate(&mut self, new: WebhookSecret, now: Timestamp, overlap: Duration) {
        let old = std::mem::replace(&mut self.secret, new);
        self.previous_secret = Some(old);
        self.previous_until = Some(now.saturating_add(overlap));
        self.updated_at = now;
    }

    /// Turns deliveries off, saying why.
    pub fn disable(&mut self, reason: impl Into<String>, now: Timestamp) {
        self.enabled = false;
        self.disabled_reason = Some(reason.into());
        self.updated_at = now;
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (the first, or a retry).
    Pending,
    /// A 2xx answered; done.
    Delivered,
    /// Attempts exhausted, or the endpoint gone or disabled; an admin may retry it.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// One event to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub endpoint: EndpointId,
    /// The event's id: the `webhook-id` of every attempt, and what makes enqueueing
    /// idempotent (one delivery per endpoint and event).
    pub event_id: String,
    pub event_type: EventType,
    /// The JSON body sent, exactly as signed.
    pub body: String,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// The HTTP status of the last attempt, if it got an answer.
    pub last_response: Option<u16>,
    /// What went wrong last, in words (never a secret).
    pub last_error: Option<String>,
    /// When the next attempt is due; `None` once delivered or failed.
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Delivery {
    /// A pending delivery of `event` to `endpoint`, due at once.
    pub fn new(endpoint: EndpointId, event: &UploadEvent, body: String, now: Timestamp) -> Self {
        Self {
            id: DeliveryId::generate(),
            endpoint,
            event_id: event.id.clone(),
            event_type: event.event_type,
            body,
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_response: None,
            last_error: None,
            next_attempt_at: Some(now),
            created_at: now,
            updated_at: now,
        }
    }
}

/// What one attempt came to, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub at: Timestamp,
    /// The receiver's HTTP status, if it answered.
    pub response: Option<u16>,
    pub error: Option<String>,
    pub next: AttemptNext,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptNext {
    Delivered,
    RetryAt(Timestamp),
    Failed,
}
