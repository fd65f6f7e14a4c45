//! Where the embedded backend's events go once they leave the outbox: the log, and one
//! durable webhook delivery per enabled endpoint that wants the event.
//!
//! Enqueueing is idempotent on (endpoint, event id), so an event the outbox hands over again
//! (after a crash, or a failed enqueue) makes no second delivery. The HTTP side is the
//! delivery worker's ([`vetted_webhooks::deliver`]): it signs each attempt as Standard
//! Webhooks 1.0 says (`webhook-id`, `webhook-timestamp`, `webhook-signature`), and retries.
//! The old `X-Vetted-Signature: sha256=…` scheme is gone; see `docs/ARCHITECTURE.md`.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Notify;
use vetted_core::Clock;
use vetted_core::events::UploadEvent;
use vetted_core::ports::Webhooks;
use vetted_embedded::outbox::EventHandler;

use vetted_webhooks::enqueue_event;

pub struct Notifier {
    pub webhooks: Arc<dyn Webhooks>,
    pub clock: Arc<dyn Clock>,
    /// Wakes the delivery worker when something was enqueued.
    pub wake: Arc<Notify>,
}

#[async_trait]
impl EventHandler for Notifier {
    async fn deliver(
        &self,
        event: &UploadEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        tracing::info!(
            event = event.event_type.as_str(),
            upload_id = %event.upload_id,
            restaurant = %event.restaurant,
            slot = %event.slot,
            owner = ?event.owner,
            reason = ?event.reason,
            "event"
        );
        let enqueued = enqueue_event(self.webhooks.as_ref(), event, self.clock.now()).await?;
        if enqueued > 0 {
            self.wake.notify_one();
        }
        Ok(())
    }
}
