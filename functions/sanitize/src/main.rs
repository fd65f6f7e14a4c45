//! The sanitize Lambda function: the review workflow's sanitize tasks (a full decode under
//! limits, a re-encode without metadata, a preview). It runs the same task workers as
//! `review-tasks` (that crate's library); it is a function of its own only because decoding
//! whole images needs far more memory than the other tasks.

use std::sync::Arc;

use anyhow::Context;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use review_tasks::{Config, TaskHandler};
use vetted_aws::config::AwsContext;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    vetted_lambda::init_tracing();
    let config = Config::from_env().context("sanitize settings")?;
    let ctx = AwsContext::load(None).await;
    let handler = TaskHandler::new(Arc::new(review_tasks::review(&ctx, config)));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let handler = handler.clone();
        async move {
            let response: SqsBatchResponse = handler.handle(event.payload).await;
            Ok::<_, lambda_runtime::Error>(response)
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
