//! What each queue's worker does with a message: the same core services the Lambda
//! functions run, mapped onto the worker loop's outcomes.

use std::sync::Arc;

use async_trait::async_trait;
use vetted_core::intake::Intake;
use vetted_core::ports::Retryable;
use vetted_core::review::Review;

use super::worker::{Handled, MessageHandler};

/// S3 notifications from the intake queue.
pub struct IntakeMessages(pub Arc<Intake>);

#[async_trait]
impl MessageHandler for IntakeMessages {
    async fn handle(&self, body: &str) -> Handled {
        settle(self.0.handle_message(body).await)
    }
}

/// Task messages from the workflow's queues (sanitize, and the review tasks).
pub struct TaskMessages(pub Arc<Review>);

#[async_trait]
impl MessageHandler for TaskMessages {
    async fn handle(&self, body: &str) -> Handled {
        settle(self.0.handle_message(body).await)
    }
}

fn settle<T, E: Retryable + std::fmt::Display>(result: Result<T, E>) -> Handled {
    match result {
        Ok(_) => Handled::Done,
        Err(error) if error.is_retryable() => Handled::Retry(error.to_string()),
        Err(error) => Handled::GiveUp(error.to_string()),
    }
}
