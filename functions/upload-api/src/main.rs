//! The upload-api Lambda: the same axum `Router` that `vetted serve` mounts, run behind API
//! Gateway through `lambda_http`, over the AWS adapters. API Gateway's JWT authorizer checks
//! tokens first; the router verifies them again (issuer, audience, signature via JWKS), so it
//! is safe however it is exposed.

use std::sync::Arc;

use anyhow::Context;
use vetted_api::auth::{JwksVerifier, OidcConfig};
use vetted_api::{ApiParts, ApiSettings, ApiState, Authenticator};
use vetted_aws::config::AwsContext;
use vetted_aws::dynamo::DynamoUploads;
use vetted_aws::eventbridge::EventBridgeEventSink;
use vetted_aws::presign::S3Presigner;
use vetted_aws::s3::S3ObjectStore;
use vetted_aws::sfn::SfnReviewWorkflow;
use vetted_core::presign::{BucketEndpoint, S3Target};
use vetted_core::review::Review;
use vetted_core::review::sanitize::DEFAULT_MAX_DECODE_ALLOC;
use vetted_core::{Policy, SystemClock};
use vetted_lambda::env::{EnvError, parsed_or, policy, required};

/// Everything this function reads from its environment, checked before the first request.
struct Config {
    bucket: String,
    table: String,
    state_machine_arn: String,
    event_bus: String,
    accelerate: bool,
    oidc: OidcConfig,
    policy: Policy,
}

impl Config {
    fn from_env() -> Result<Self, EnvError> {
        Ok(Self {
            bucket: required("VETTED_BUCKET")?,
            table: required("VETTED_TABLE")?,
            state_machine_arn: required("VETTED_STATE_MACHINE_ARN")?,
            event_bus: required("VETTED_EVENT_BUS")?,
            accelerate: parsed_or("VETTED_TRANSFER_ACCELERATION", false)?,
            oidc: OidcConfig {
                jwks_url: required("VETTED_JWKS_URL")?,
                issuer: required("VETTED_JWT_ISSUER")?,
                audience: std::env::var("VETTED_JWT_AUDIENCE")
                    .ok()
                    .filter(|a| !a.is_empty()),
            },
            policy: policy()?,
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    vetted_lambda::init_tracing();
    let router = vetted_api::router(state().await?);
    lambda_http::run(router).await
}

async fn state() -> anyhow::Result<ApiState> {
    let config = Config::from_env().context("upload-api settings")?;
    let ctx = AwsContext::load(None).await;
    let region = ctx
        .sdk_config()
        .region()
        .map_or("us-east-1".to_owned(), |r| r.to_string());
    let endpoint = BucketEndpoint::choose(config.accelerate, None)?;
    let signer = S3Presigner::new(
        ctx.sdk_config(),
        S3Target::new(&config.bucket, &region, endpoint)?,
    )?;
    let uploads = Arc::new(DynamoUploads::new(ctx.dynamodb(), &config.table));
    let objects = Arc::new(S3ObjectStore::new(ctx.s3(), &config.bucket));
    let clock = Arc::new(SystemClock);
    let review = Arc::new(Review {
        uploads: uploads.clone(),
        objects: objects.clone(),
        workflow: Arc::new(SfnReviewWorkflow::new(ctx.sfn(), &config.state_machine_arn)),
        events: Arc::new(EventBridgeEventSink::new(
            ctx.eventbridge(),
            &config.event_bus,
        )),
        clock: clock.clone(),
        policy: config.policy.clone(),
        max_decode_alloc: DEFAULT_MAX_DECODE_ALLOC,
    });
    let verifier = JwksVerifier::new(config.oidc).context("JWKS client")?;
    let settings = ApiSettings::default()
        .with_env(std::env::vars())
        .context("API settings")?;
    // Lambda's /tmp is the only writable place; proxy uploads spool there.
    let settings = ApiSettings {
        temp_dir: Some(std::env::temp_dir()),
        ..settings
    };
    Ok(ApiState::new(ApiParts {
        uploads,
        objects,
        signer: Arc::new(signer),
        clock,
        policy: config.policy,
        auth: Authenticator::new(None, Some(verifier))?,
        settings,
        review,
    })?)
}
