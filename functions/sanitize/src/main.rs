//! The sanitize Lambda function: the review workflow's sanitize tasks (a full decode under
//! limits, a re-encode without metadata, a preview). It runs the same task workers as
//! `review-tasks` (that crate's library); it is a function of its own only because decoding
//! whole images needs far more memory than the other tasks.

use std::sync::Arc;

use anyhow::Context;
use vetted_aws::config::AwsContext;
use vetted_core::settings::Env;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    vetted_lambda::init_tracing();
    vetted_lambda::metrics::init();
    let config =
        review_tasks::Config::from_env(&Env::from_process()).context("sanitize settings")?;
    let ctx = AwsContext::load(None).await;
    vetted_lambda::run_sqs(Arc::new(review_tasks::review(&ctx, config)))
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
