//! The delivery worker: claims due deliveries, POSTs each signed as Standard Webhooks 1.0
//! says, and records what came of it.
//!
//! - 2xx: delivered. 410 Gone: the endpoint is disabled (the reason recorded) and the
//!   delivery failed; the endpoint's other deliveries fail when their turn comes.
//! - Anything else, a 3xx included (redirects are never followed), or no answer: tried again
//!   after the [`RetrySchedule`]'s next wait (with jitter), or later if a 429 or 503 says
//!   `Retry-After` (capped); after the last attempt the delivery has failed.
//! - A URL or address the guard refuses fails the delivery at once.
//!
//! One endpoint's deliveries of a round are sent one after another, oldest first, so a
//! receiver that answers 2xx sees events in the order they happened. A retried delivery does
//! not hold back later ones (unlike the outbox, which holds an upload's later events): after
//! a failure a receiver may see events out of order, and orders them by the event's `time`.
//!
//! Each delivery is claimed with a lease, so a delivery in flight when the process dies is
//! claimed again once the lease ends: a receiver may see an event twice, never zero times,
//! and the `webhook-id` tells it the two are one.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use vetted_core::Clock;
use vetted_core::error_chain::DisplayChain;
use vetted_core::ports::{Webhooks, WebhooksError};
use vetted_core::webhooks::address::check_url;
use vetted_core::webhooks::retry::{RetrySchedule, Verdict, judge};
use vetted_core::webhooks::{Attempt, AttemptNext, Delivery, SignedHeaders};

use crate::guard::GuardedResolver;

/// How the worker runs; [`DeliverySettings::default`] is what `vetted serve` uses.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub schedule: RetrySchedule,
    /// How long a claimed delivery is held before another claim may take it.
    pub lease: Duration,
    /// Deliveries claimed (and attempted at once) per round.
    pub batch: u32,
    /// The longest wait between rounds when nothing wakes the worker.
    pub poll: Duration,
    /// One attempt's limit, connection to last byte.
    pub timeout: Duration,
    /// Development only: deliver to http, loopback and private addresses.
    pub allow_private: bool,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            schedule: RetrySchedule::default(),
            lease: Duration::from_secs(60),
            batch: 16,
            poll: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            allow_private: false,
        }
    }
}

pub struct DeliveryWorker {
    store: Arc<dyn Webhooks>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    settings: DeliverySettings,
    wake: Arc<Notify>,
}

/// What one attempt came to, before it is recorded.
struct Outcome {
    response: Option<u16>,
    error: Option<String>,
    verdict: Verdict,
}

impl DeliveryWorker {
    pub fn new(
        store: Arc<dyn Webhooks>,
        clock: Arc<dyn Clock>,
        settings: DeliverySettings,
    ) -> anyhow::Result<Self> {
        crate::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(settings.timeout)
            .user_agent(concat!("Vetted-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !settings.allow_private {
            builder = builder.dns_resolver(Arc::new(GuardedResolver));
        }
        Ok(Self {
            store,
            clock,
            http: builder.build()?,
            settings,
            wake: Arc::new(Notify::new()),
        })
    }

    /// Notify this to make the worker look for due deliveries now (a new one was enqueued).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Rounds until `stop`: deliver what is due, then wait for a wake-up or the poll time.
    pub async fn run(&self, stop: CancellationToken) {
        loop {
            let busy = match self.deliver_due().await {
                Ok(n) => n > 0,
                Err(error) => {
                    tracing::warn!(%error, "webhook deliveries: claiming failed");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.settings.poll) => {}
            }
        }
    }

    /// One round: claims what is due, attempts it all at once, records each outcome.
    /// Answers how many deliveries were attempted.
    pub async fn deliver_due(&self) -> Result<usize, WebhooksError> {
        let due = self
            .store
            .claim_due(self.clock.now(), self.settings.lease, self.settings.batch)
            .await?;
        let count = due.len();
        // One endpoint's deliveries go one after another, in the order they became due, so
        // a healthy receiver sees events in the order they happened; endpoints go at once.
        let mut by_endpoint: Vec<Vec<Delivery>> = Vec::new();
        for delivery in due {
            match by_endpoint
                .iter_mut()
                .find(|group| group[0].endpoint == delivery.endpoint)
            {
                Some(group) => group.push(delivery),
                None => by_endpoint.push(vec![delivery]),
            }
        }
        join_all(by_endpoint.into_iter().map(|group| async move {
            for delivery in group {
                if let Err(error) = self.attempt(delivery).await {
                    // The claim expires and the delivery is attempted again.
                    tracing::warn!(%error, "webhook delivery: recording the attempt failed");
                }
            }
        }))
        .await;
        Ok(count)
    }

    #[tracing::instrument(skip_all, fields(delivery = %delivery.id, endpoint = %delivery.endpoint, event_id = %delivery.event_id))]
    async fn attempt(&self, delivery: Delivery) -> Result<(), WebhooksError> {
        let mut endpoint = match self.store.get(&delivery.endpoint).await {
            Ok(endpoint) => endpoint,
            // Deleted meanwhile, with its deliveries: nothing to record.
            Err(WebhooksError::NotFound(_)) => return Ok(()),
            Err(other) => return Err(other),
        };
        let now = self.clock.now();
        let failed = |error: String| Attempt {
            at: now,
            response: None,
            error: Some(error),
            next: AttemptNext::Failed,
        };
        if !endpoint.enabled {
            let reason = endpoint
                .disabled_reason
                .as_deref()
                .unwrap_or("no reason given");
            let attempt = failed(format!("endpoint disabled: {reason}"));
            vetted_core::metrics::webhook_delivery("disabled");
            return self.store.record(&delivery.id, &attempt).await;
        }
        let url = match check_url(&endpoint.url, self.settings.allow_private) {
            Ok(url) => url,
            Err(refused) => {
                tracing::warn!(%refused, "webhook delivery refused by the address guard");
                vetted_core::metrics::webhook_delivery("refused");
                return self
                    .store
                    .record(&delivery.id, &failed(refused.to_string()))
                    .await;
            }
        };
        let headers = SignedHeaders::new(
            &delivery.event_id,
            now.unix_seconds(),
            delivery.body.as_bytes(),
            &endpoint.signing_secrets(now),
        );
        let outcome = self.send(url, &headers, &delivery).await;
        let attempts = delivery.attempts.saturating_add(1);
        let next = match outcome.verdict {
            Verdict::Delivered => AttemptNext::Delivered,
            Verdict::Gone => {
                endpoint.disable(format!("the receiver answered 410 Gone at {now}"), now);
                self.store.update(&endpoint).await?;
                tracing::warn!("webhook endpoint disabled: the receiver answered 410 Gone");
                AttemptNext::Failed
            }
            Verdict::Retry { not_before } => {
                match self.settings.schedule.delay_after(attempts, unit_random()) {
                    Some(wait) => AttemptNext::RetryAt(
                        now.saturating_add(wait.max(not_before.unwrap_or_default())),
                    ),
                    None => AttemptNext::Failed,
                }
            }
        };
        tracing::info!(attempts, response = ?outcome.response, error = ?outcome.error, next = ?next, "webhook delivery attempted");
        vetted_core::metrics::webhook_delivery(match next {
            AttemptNext::Delivered => "delivered",
            AttemptNext::RetryAt(_) => "retry",
            AttemptNext::Failed => "failed",
        });
        let attempt = Attempt {
            at: now,
            response: outcome.response,
            error: outcome.error,
            next,
        };
        self.store.record(&delivery.id, &attempt).await
    }

    async fn send(
        &self,
        url: reqwest::Url,
        headers: &SignedHeaders,
        delivery: &Delivery,
    ) -> Outcome {
        let mut request = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(delivery.body.clone());
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let verdict = judge(
                    status,
                    retry_after.as_deref(),
                    self.clock.now(),
                    self.settings.schedule.max_retry_after,
                );
                let error = (!matches!(verdict, Verdict::Delivered))
                    .then(|| format!("the receiver answered {status}"));
                Outcome {
                    response: Some(status),
                    error,
                    verdict,
                }
            }
            // Without the URL: its query may hold a token of the receiver's.
            Err(error) => Outcome {
                response: None,
                error: Some(DisplayChain(&error.without_url()).to_string()),
                verdict: Verdict::Retry { not_before: None },
            },
        }
    }
}

/// A number in `[0, 1)` for the jitter; 0.5 (no jitter) if the system has no randomness.
fn unit_random() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}
