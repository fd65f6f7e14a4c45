//! The review-tasks Lambda function: reads its settings, wires the AWS adapters into the
//! review service, and serves SQS batches. Everything else lives in the library.

use std::sync::Arc;

use anyhow::Context;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use review_tasks::{Config, TaskHandler};
use vetted_aws::config::AwsContext;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    vetted_lambda::init_tracing();
    let config = Config::from_env().context("review-tasks settings")?;
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
