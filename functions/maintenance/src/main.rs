//! The maintenance Lambda function: reads its settings, wires the AWS adapters, and runs one
//! maintenance pass per scheduled invocation. Everything else lives in the library.

use std::sync::Arc;

use anyhow::Context;
use lambda_runtime::{LambdaEvent, service_fn};
use maintenance::{Config, Maintenance};
use serde_json::Value;
use vetted_aws::config::AwsContext;
use vetted_core::settings::Env;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    vetted_lambda::init_tracing();
    vetted_lambda::metrics::init();
    let config = Config::from_env(&Env::from_process()).context("maintenance settings")?;
    let ctx = AwsContext::load(None).await;
    let maintenance = Arc::new(Maintenance::new(&ctx, config));
    // The scheduled event's content does not matter: every invocation is one whole pass.
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        let maintenance = Arc::clone(&maintenance);
        async move {
            let report = maintenance.run().await;
            vetted_lambda::metrics::flush();
            let report = report?;
            Ok::<Value, lambda_runtime::Error>(serde_json::to_value(report)?)
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
