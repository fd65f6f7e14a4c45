//! Webhooks that follow Standard Webhooks 1.0, with endpoints kept as data.
//!
//! Everything here is pure: how a delivery is signed and checked ([`sign`]), which URLs and
//! addresses an endpoint may use ([`address`]), what an endpoint and a delivery are
//! ([`endpoint`]), and when a failed delivery is tried again ([`retry`]). The store is the
//! [`Webhooks`](crate::ports::Webhooks) port; the HTTP part lives in the delivery worker of
//! `vetted serve`.

pub mod address;
pub mod endpoint;
pub mod retry;
pub mod sign;

pub use endpoint::{
    Attempt, AttemptNext, BadId, Delivery, DeliveryId, DeliveryStatus, Endpoint, EndpointId,
    ROTATION_OVERLAP,
};
pub use sign::{SignedHeaders, WebhookSecret};
