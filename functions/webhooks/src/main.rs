//! The webhooks Lambda function: reads its settings, wires the DynamoDB store into the
//! delivery worker, and serves queue batches and scheduled rounds. Everything else lives in
//! the library.

use std::sync::Arc;

use anyhow::Context;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use vetted_aws::config::AwsContext;
use vetted_core::settings::Env;
use webhooks::{Config, WebhooksFunction};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    vetted_lambda::init_tracing();
    vetted_lambda::metrics::init();
    let config = Config::from_env(&Env::from_process()).context("webhooks settings")?;
    let ctx = AwsContext::load(None).await;
    let function = Arc::new(WebhooksFunction::new(&ctx, config)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let function = Arc::clone(&function);
        async move {
            let deadline = event.context.deadline();
            let answer = function.invoke(event.payload, deadline).await;
            vetted_lambda::metrics::flush();
            answer.map_err(lambda_runtime::Error::from)
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
