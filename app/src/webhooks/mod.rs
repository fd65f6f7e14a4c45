//! Standard Webhooks deliveries on one machine: the delivery worker ([`deliver`]), its DNS
//! guard ([`guard`]), and `vetted webhook verify` for receivers ([`verify`]).
//!
//! Endpoints live in the [`Webhooks`](vetted_core::ports::Webhooks) store; `vetted serve`'s
//! notifier enqueues one delivery per matching endpoint for each event leaving the outbox,
//! and the worker sends them.

pub mod deliver;
pub mod enqueue;
pub mod guard;
pub mod verify;

pub use deliver::{DeliverySettings, DeliveryWorker};
pub use enqueue::enqueue_event;
