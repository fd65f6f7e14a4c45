//! The site Lambda function: builds the S3 and HTTP clients and answers each CloudFormation
//! request for `SiteContent`. Everything else lives in the library.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use site::custom_resource::Request;
use vetted_aws::config::AwsContext;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    vetted_lambda::init_tracing();
    let ctx = AwsContext::load(None).await;
    let clients = Arc::new((ctx.s3(), site::http_client()?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Request>| {
        let clients = Arc::clone(&clients);
        async move {
            let (s3, http) = &*clients;
            let log_stream = event.context.env_config.log_stream.clone();
            site::handle(s3, http, &event.payload, &log_stream)
                .await
                .map(|_| ())
                .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
