//! Standard Webhooks 1.0 deliveries, the same on one machine and on AWS: [`enqueue_event`]
//! turns an event into one delivery per endpoint that wants it, the [`DeliveryWorker`] sends
//! what is due, and its [`guard`] keeps it off inside addresses.
//!
//! Everything here works on the [`Webhooks`](vetted_core::ports::Webhooks) port: `vetted
//! serve` runs it over SQLite (its notifier enqueues each event leaving the outbox, the worker
//! runs beside it), and the `webhooks` Lambda over DynamoDB (an EventBridge rule feeds it the
//! events through a queue; a schedule sends retries when they fall due).

pub mod deliver;
pub mod enqueue;
pub mod guard;

pub use deliver::{DeliverySettings, DeliveryWorker};
pub use enqueue::enqueue_event;

/// Makes ring rustls's process-wide crypto provider, once; later calls do nothing.
///
/// reqwest is built without a provider of its own (the workspace keeps one TLS stack, ring,
/// as the AWS SDK uses it), so one must be installed before a `reqwest::Client` is built.
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
