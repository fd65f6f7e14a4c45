//! Queue workers: feed messages from a work queue to a [`QueueService`], as a Lambda SQS event
//! source would, but in-process.
//!
//! A message is acknowledged only after its service handled it. A retryable failure makes it
//! visible again after a backoff that grows with its receive count; a permanent one is left
//! for the queue's visibility timeout, so the queue's redrive policy dead-letters it after
//! its maximum receives, where an operator can look at it and redrive it. Either way nothing
//! is lost, and nothing retries forever.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};
use vetted_core::QueueService;
use vetted_core::ports::{QueueMessage, Retryable, WorkQueue};

/// Settings for one worker.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub name: &'static str,
    /// Messages handled at once.
    pub concurrency: usize,
    /// How long one receive waits for a message.
    pub poll_wait: Duration,
}

/// Runs until `shutdown` is cancelled, then lets the messages in hand finish.
pub async fn run_worker(
    settings: WorkerSettings,
    queue: Arc<dyn WorkQueue>,
    service: Arc<dyn QueueService>,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let mut in_flight = JoinSet::new();
    info!(
        worker = settings.name,
        concurrency = settings.concurrency,
        "worker started"
    );
    loop {
        // Receive only as many as there are free slots, so messages never wait in memory
        // while their visibility timeout runs.
        let free = slots.available_permits().max(1);
        let received = tokio::select! {
            () = shutdown.cancelled() => break,
            received = queue.receive(u32::try_from(free).unwrap_or(10).min(10), settings.poll_wait) => received,
        };
        let messages = match received {
            Ok(messages) => messages,
            Err(error) => {
                warn!(worker = settings.name, %error, "receive failed; backing off");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        for message in messages {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let (queue, service, name) = (queue.clone(), service.clone(), settings.name);
            in_flight.spawn(async move {
                handle_one(name, queue.as_ref(), service.as_ref(), message).await;
                drop(permit);
            });
        }
        while in_flight.try_join_next().is_some() {}
    }
    info!(
        worker = settings.name,
        in_flight = in_flight.len(),
        "worker stopping"
    );
    while in_flight.join_next().await.is_some() {}
}

/// Acknowledges a handled message. A retryable failure makes it visible again after a
/// backoff; a permanent one is left for the visibility timeout, so that the queue
/// dead-letters it after its maximum receives.
async fn handle_one(
    worker: &'static str,
    queue: &dyn WorkQueue,
    service: &dyn QueueService,
    message: QueueMessage,
) {
    let result = match service.handle(&message.body).await {
        Ok(()) => queue.ack(&message.receipt).await,
        Err(why) if why.is_retryable() => {
            let delay = backoff(message.receive_count);
            warn!(worker, message = %message.id, receives = message.receive_count, ?delay, %why, "will retry");
            queue.retry_after(&message.receipt, delay).await
        }
        Err(why) => {
            error!(worker, message = %message.id, receives = message.receive_count, %why,
                "cannot be handled; left for the dead-letter queue");
            Ok(())
        }
    };
    match result {
        Ok(()) => debug!(worker, message = %message.id, "settled"),
        // The message comes back after its visibility timeout and is handled again; every
        // service is idempotent, so that costs time, not correctness.
        Err(error) => warn!(worker, message = %message.id, %error, "could not settle the message"),
    }
}

/// 1 s, 2 s, 4 s ... up to 5 minutes.
fn backoff(receive_count: u32) -> Duration {
    let exponent = receive_count.saturating_sub(1).min(9);
    Duration::from_secs(1u64 << exponent).min(Duration::from_secs(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(100), Duration::from_secs(300));
        assert_eq!(backoff(0), Duration::from_secs(1));
    }
}
