//! The upload-api Lambda: the same axum `Router` that `vetted serve` mounts, run behind API
//! Gateway through `lambda_http`, over the AWS adapters. API Gateway's JWT authorizer checks
//! tokens first; the router verifies them again (issuer, audience, signature via JWKS), so it
//! is safe however it is exposed.

use std::sync::Arc;

use anyhow::Context;
use vetted_api::accounts::{AccountsApi, AuthGuard, AuthLimits, ClientIp};
use vetted_api::auth::{JwksVerifier, OidcConfig};
use vetted_api::restaurants::invitations::InvitationAcceptor;
use vetted_api::settings::LAMBDA_PROXY_MAX_BYTES;
use vetted_api::{ApiParts, ApiSettings, ApiState, Authenticator, WebhookApi};
use vetted_aws::cognito::CognitoAccounts;
use vetted_aws::compose::PipelineConfig;
use vetted_aws::config::AwsContext;
use vetted_aws::dynamo::DynamoInvitations;
use vetted_aws::dynamo::{DynamoNotifications, DynamoWebhooks};
use vetted_aws::presign::S3Presigner;
use vetted_aws::s3_multipart::S3Multipart;
use vetted_aws::sfn::SfnTaskResponder;
use vetted_core::SystemClock;
use vetted_core::policy::SlotPolicies;
use vetted_core::ports::Invitations;
use vetted_core::presign::{BucketEndpoint, S3Target};
use vetted_core::review::Review;
use vetted_core::review::sanitize::DEFAULT_MAX_DECODE_ALLOC;
use vetted_core::review::sanitize::budget::MemoryBudget;
use vetted_core::settings::Env;

/// Everything this function reads from its environment, checked before the first request.
struct Config {
    common: PipelineConfig,
    accelerate: bool,
    oidc: OidcConfig,
    policies: SlotPolicies,
    api: ApiSettings,
    /// `VETTED_WEBHOOKS_TABLE`: webhook endpoints and deliveries, for `/api/webhooks`.
    webhooks_table: String,
    /// `VETTED_NOTIFICATIONS_TABLE`: owners' email preferences, for `/api/me/notifications`.
    notifications_table: String,
    /// `VETTED_COGNITO_USER_POOL_ID` and `VETTED_COGNITO_CLIENT_ID`: the user pool and app
    /// client `/auth/*` signs people up and in with. Without them `/auth/*` is not mounted.
    cognito: Option<(String, String)>,
}

impl Config {
    fn from_env(env: &Env) -> anyhow::Result<Self> {
        Ok(Self {
            common: PipelineConfig::from_env(env)?,
            accelerate: env.parsed_or("VETTED_TRANSFER_ACCELERATION", false)?,
            oidc: OidcConfig {
                jwks_url: env.required("VETTED_JWKS_URL")?,
                issuer: env.required("VETTED_JWT_ISSUER")?,
                audience: env.get("VETTED_JWT_AUDIENCE").map(str::to_owned),
            },
            policies: SlotPolicies::default().with_env(env)?,
            // Lambda's /tmp is the only writable place; proxy uploads spool there. A proxy
            // upload's base64 body must fit in one invocation: the cap is lowered to what does.
            api: ApiSettings {
                temp_dir: Some(std::env::temp_dir()),
                proxy_max_bytes: LAMBDA_PROXY_MAX_BYTES,
                ..ApiSettings::default()
            }
            .with_env(env)?
            .checked_for_lambda()?,
            webhooks_table: env.required("VETTED_WEBHOOKS_TABLE")?,
            notifications_table: env.required("VETTED_NOTIFICATIONS_TABLE")?,
            cognito: match (
                env.get("VETTED_COGNITO_USER_POOL_ID"),
                env.get("VETTED_COGNITO_CLIENT_ID"),
            ) {
                (Some(pool), Some(client)) => Some((pool.to_owned(), client.to_owned())),
                (None, None) => None,
                _ => anyhow::bail!(
                    "set both VETTED_COGNITO_USER_POOL_ID and VETTED_COGNITO_CLIENT_ID, or neither"
                ),
            },
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    vetted_lambda::init_tracing();
    vetted_lambda::metrics::init();
    // The request id wraps the API, and the metrics of one request (a decision's status
    // move) are written when its response is.
    let router = vetted_api::request_id::layer(vetted_api::router(state().await?))
        .layer(axum::middleware::map_request(client_ip_from_api_gateway))
        .layer(axum::middleware::map_response(
            |response: axum::response::Response| async {
                vetted_lambda::metrics::flush();
                response
            },
        ));
    lambda_http::run(router).await
}

/// The caller's address as API Gateway saw it, for the `/auth/*` rate per address. Behind
/// CloudFront that is an edge's address, shared by its viewers; the WAF's rate rule, which
/// sees the viewer, is the per-viewer limit there.
async fn client_ip_from_api_gateway(mut request: axum::extract::Request) -> axum::extract::Request {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    let ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .http
            .source_ip
            .as_deref()
            .and_then(|ip| ip.parse().ok()),
        _ => None,
    };
    if let Some(ip) = ip {
        request.extensions_mut().insert(ClientIp(ip));
    }
    request
}

async fn state() -> anyhow::Result<ApiState> {
    let config = Config::from_env(&Env::from_process()).context("upload-api settings")?;
    let ctx = AwsContext::load(None).await;
    let region = ctx
        .sdk_config()
        .region()
        .map_or("us-east-1".to_owned(), |r| r.to_string());
    let endpoint = BucketEndpoint::choose(config.accelerate, None)?;
    let signer = S3Presigner::new(
        ctx.sdk_config(),
        S3Target::new(&config.common.bucket, &region, endpoint)?,
    )?;
    let ports = config.common.ports(&ctx);
    // Decisions answer the waiting task; this function never starts a review.
    let review = Arc::new(Review {
        ports: ports.clone(),
        tasks: Arc::new(SfnTaskResponder::new(ctx.sfn())),
        policies: config.policies.clone(),
        max_decode_alloc: DEFAULT_MAX_DECODE_ALLOC,
        // Decisions only: this function never sanitizes nor scans.
        memory: MemoryBudget::default(),
        scanning: vetted_core::review::Scanning::without_scanner(false),
    });
    let verifier = JwksVerifier::new(config.oidc).context("JWKS client")?;
    // Invitations live in the restaurants table.
    let invitations: Arc<dyn Invitations> = Arc::new(DynamoInvitations::new(
        ctx.dynamodb(),
        &config.common.restaurants_table,
    ));
    let accounts = config.cognito.map(|(pool, client)| AccountsApi {
        accounts: Arc::new(CognitoAccounts::new(ctx.cognito(), pool, client)),
        guard: Arc::new(AuthGuard::new(AuthLimits::default(), Arc::new(SystemClock))),
        jwks: None,
        invitations: Some(Arc::new(InvitationAcceptor {
            invitations: invitations.clone(),
            restaurants: ports.restaurants.clone(),
            clock: ports.clock.clone(),
        })),
    });
    Ok(ApiState::new(ApiParts {
        ports,
        signer: Arc::new(signer),
        multipart: Arc::new(S3Multipart::new(ctx.s3(), &config.common.bucket)),
        policies: config.policies,
        auth: Authenticator::new(None, Some(verifier))?,
        settings: config.api,
        review,
        // Admins manage endpoints here; the webhooks function delivers. On AWS the address
        // guard is always on.
        webhooks: Some(WebhookApi {
            store: Arc::new(DynamoWebhooks::new(ctx.dynamodb(), &config.webhooks_table)),
            allow_private: false,
        }),
        // Owners opt in here; the notify function (when the stack has MailFrom) sends.
        notifications: Some(Arc::new(DynamoNotifications::new(
            ctx.dynamodb(),
            &config.notifications_table,
        ))),
        // No event feed: `GET /api/events/stream` answers 404 and the page polls.
        live: None,
        accounts,
        invitations: Some(invitations),
        // The function has neither the state machine nor the queues in its environment yet:
        // `/api/admin/*` answers 404 here; `vetted serve --backend aws` serves it.
        admin: None,
    })?)
}
