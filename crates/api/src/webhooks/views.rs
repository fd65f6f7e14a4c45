//! Request and response bodies of the webhook routes, as `schemas/api/webhook*.json` describe
//! them. Only [`CreatedEndpoint`] carries a secret: the answers to create and rotate.

use serde::{Deserialize, Deserializer, Serialize};
use vetted_core::events::EventType;
use vetted_core::webhooks::{Delivery, DeliveryId, DeliveryStatus, Endpoint, EndpointId};
use vetted_core::{RestaurantId, Timestamp};

/// `POST /api/webhooks`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    pub url: String,
    /// Empty or absent: every event type.
    #[serde(default)]
    pub event_types: Vec<EventType>,
    #[serde(default)]
    pub restaurant: Option<String>,
}

/// `PATCH /api/webhooks/{id}`: absent fields stay as they are; `"restaurant": null` clears
/// the filter.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchWebhookRequest {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub event_types: Option<Vec<EventType>>,
    #[serde(default, deserialize_with = "present")]
    pub restaurant: Option<Option<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A field that may be present as `null`: `Some(None)`, unlike an absent one (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Serialize)]
pub struct WebhookView {
    pub id: EndpointId,
    pub url: String,
    /// Empty: every event type.
    pub event_types: Vec<EventType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restaurant: Option<RestaurantId>,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Until then the previous secret signs too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_until: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl WebhookView {
    pub fn new(endpoint: &Endpoint, now: Timestamp) -> Self {
        Self {
            id: endpoint.id,
            url: endpoint.url.clone(),
            event_types: endpoint.event_types.clone(),
            restaurant: endpoint.restaurant.clone(),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            previous_secret_until: endpoint
                .previous_until
                .filter(|until| endpoint.previous_secret.is_some() && *until > now),
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

/// The answer to create and rotate: the endpoint and, this once, its secret.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: WebhookView,
    /// `whsec_…`: shown here and never again.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    pub id: DeliveryId,
    /// The `webhook-id` of every attempt.
    pub event_id: String,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_response_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            last_response_code: d.last_response,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryList {
    pub items: Vec<DeliveryView>,
}

/// `GET /api/webhooks/{id}/deliveries?limit=N`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    #[serde(default)]
    pub limit: Option<u32>,
}
