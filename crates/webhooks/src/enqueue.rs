//! From an event to deliveries: one per enabled endpoint that wants it.

use vetted_core::Timestamp;
use vetted_core::events::UploadEvent;
use vetted_core::ports::{Webhooks, WebhooksError};
use vetted_core::webhooks::Delivery;

/// Enqueues `event` for every enabled endpoint whose event types and restaurant filter match,
/// and answers how many deliveries are new. Idempotent: the store keeps one delivery per
/// (endpoint, event id), so handing the same event over again adds nothing.
pub async fn enqueue_event(
    store: &dyn Webhooks,
    event: &UploadEvent,
    now: Timestamp,
) -> Result<usize, WebhooksError> {
    let body = serde_json::to_string(event).map_err(|e| {
        WebhooksError::Backend(vetted_core::ports::BackendError::permanent(
            "webhooks.enqueue_event",
            e,
        ))
    })?;
    let mut new = 0;
    for endpoint in store.list().await? {
        if endpoint.enabled && endpoint.wants(event) {
            let delivery = Delivery::new(endpoint.id, event, body.clone(), now);
            if store.enqueue(&delivery).await? {
                new += 1;
            }
        }
    }
    Ok(new)
}
