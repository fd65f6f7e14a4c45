//! The intake Lambda function: reads its settings, wires the AWS adapters into the intake
//! service, and serves SQS batches. Everything else lives in the library.

use std::sync::Arc;

use anyhow::Context;
use vetted_aws::config::AwsContext;
use vetted_core::settings::Env;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    vetted_lambda::init_tracing();
    vetted_lambda::metrics::init();
    let config = intake::Config::from_env(&Env::from_process()).context("intake settings")?;
    let ctx = AwsContext::load(None).await;
    vetted_lambda::run_sqs(Arc::new(intake::intake(&ctx, config)))
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
