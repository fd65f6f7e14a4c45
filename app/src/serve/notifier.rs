//! Where the embedded backend's events go once they leave the outbox: the log, and every
//! configured webhook.
//!
//! A webhook delivery is a `POST` of the event's JSON with `X-Vetted-Event-Id`,
//! `X-Vetted-Event-Type` and `X-Vetted-Signature: sha256=<hex HMAC-SHA256 of the body with
//! the webhook's secret>`; a receiver recomputes the HMAC to know the event is ours, and
//! uses the id to drop a re-sent duplicate. Any answer but 2xx is retried by the outbox,
//! with backoff, and later events of the same upload wait for it, so each receiver sees an
//! upload's events in order.

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use vetted_core::events::UploadEvent;
use vetted_embedded::outbox::EventHandler;

use super::config::Webhook;

pub struct Notifier {
    http: reqwest::Client,
    webhooks: Vec<Webhook>,
}

impl Notifier {
    pub fn new(webhooks: Vec<Webhook>) -> anyhow::Result<Self> {
        vetted_api::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self { http, webhooks })
    }
}

/// `sha256=<hex>` of the body, keyed with the webhook's secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
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
        let body = serde_json::to_vec(event)?;
        for hook in &self.webhooks {
            let response = self
                .http
                .post(&hook.url)
                .header("content-type", "application/json")
                .header("x-vetted-event-id", &event.id)
                .header("x-vetted-event-type", event.event_type.as_str())
                .header("x-vetted-signature", signature(&hook.secret, &body))
                .body(body.clone())
                .send()
                .await?;
            if !response.status().is_success() {
                return Err(format!("{} answered {}", hook.url, response.status()).into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
