//! An SQS batch in, an `SqsBatchResponse` out (the event source mapping needs
//! `ReportBatchItemFailures`): only messages whose handler failed are delivered again.
//! [`run_sqs`] is the whole `main` of a queue-consuming function once its service is built.
//!
//! Messages of one batch are handled concurrently. A message without an id or a body cannot
//! be reported or handled; it is logged and left to be acknowledged with the batch, since
//! retrying it could never succeed.

use std::fmt;
use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use lambda_runtime::{LambdaEvent, service_fn};
use tracing::{error, warn};
use vetted_core::QueueService;
use vetted_core::ports::Retryable;

/// Serves `service` to the Lambda runtime until the function is shut down: every invocation
/// is one SQS batch, answered with the messages that failed.
pub async fn run_sqs(service: Arc<dyn QueueService>) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let service = Arc::clone(&service);
        async move {
            let response = handle_sqs_batch(service.as_ref(), event.payload).await;
            crate::metrics::flush();
            Ok::<SqsBatchResponse, lambda_runtime::Error>(response)
        }
    }))
    .await
}

/// Runs `service` on every message of one batch; the response names only the messages that
/// failed, each logged with whether a retry can help.
#[tracing::instrument(skip_all, fields(service = service.name(), messages = event.records.len()))]
pub async fn handle_sqs_batch(service: &dyn QueueService, event: SqsEvent) -> SqsBatchResponse {
    handle_batch(event, |body| async move {
        service.handle(&body).await.map_err(Failure)
    })
    .await
}

/// An SQS batch of `(message id, body)` pairs, as the event source mapping delivers it: for
/// tests, and for driving a function by hand.
pub fn sqs_event(messages: &[(&str, &str)]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|(id, body)| {
            let mut message = SqsMessage::default();
            message.message_id = Some((*id).to_owned());
            message.body = Some((*body).to_owned());
            message
        })
        .collect();
    event
}

/// A handler's error as it is logged: with whether delivering the message again can help.
///
/// Both kinds fail the message. A retryable one (throttling, a timeout) may succeed next time;
/// a permanent one (a body that is not what the queue carries) keeps failing until SQS moves
/// the message to the dead-letter queue after the queue's `maxReceiveCount`, where an operator
/// can see it. Acknowledging it instead would lose it without a trace.
#[derive(Debug)]
pub struct Failure<E>(pub E);

impl<E: fmt::Display + Retryable> fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_retryable() {
            write!(f, "{} (retryable)", self.0)
        } else {
            write!(
                f,
                "{} (permanent: fails until the queue dead-letters it)",
                self.0
            )
        }
    }
}

/// Runs `handle` on every message body; a message whose handler returns `Err` is reported as
/// failed (with the error logged), all others are acknowledged.
pub async fn handle_batch<F, Fut, E>(event: SqsEvent, handle: F) -> SqsBatchResponse
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let runs = event.records.into_iter().map(|message| {
        let id = message.message_id;
        let body = message.body;
        let handled = body.map(&handle);
        async move {
            let (Some(id), Some(handled)) = (id.clone(), handled) else {
                warn!(message = ?id, "SQS message without an id or a body; nothing to do");
                return None;
            };
            match handled.await {
                Ok(()) => None,
                Err(error) => {
                    error!(message = %id, %error, "message failed; SQS will deliver it again");
                    Some(id)
                }
            }
        }
    });
    let failed: Vec<String> = join_all(runs).await.into_iter().flatten().collect();
    let mut response = SqsBatchResponse::default();
    response.set_failures(failed);
    response
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::event::sqs::SqsMessage;

    use super::*;

    fn message(id: &str, body: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.to_owned());
        message.body = Some(body.to_owned());
        message
    }

    #[tokio::test]
    async fn only_failed_messages_are_reported() {
        let mut event = SqsEvent::default();
        event.records = vec![message("a", "ok"), message("b", "bad"), message("c", "ok")];
        let response = handle_batch(event, |body| async move {
            if body == "ok" { Ok(()) } else { Err("refused") }
        })
        .await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["b"]);
    }

    struct Flaky(bool);

    impl fmt::Display for Flaky {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("boom")
        }
    }

    impl Retryable for Flaky {
        fn is_retryable(&self) -> bool {
            self.0
        }
    }

    #[test]
    fn failures_say_whether_a_retry_can_help() {
        assert_eq!(Failure(Flaky(true)).to_string(), "boom (retryable)");
        assert!(Failure(Flaky(false)).to_string().contains("permanent"));
    }
}
