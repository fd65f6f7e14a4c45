//! Building SDK clients: region, credentials, endpoint override and one rustls HTTP client.
//!
//! Every adapter gets its client from one [`AwsContext`], so that an endpoint override (an
//! emulator such as moto) applies to all services at once, and S3 switches to path-style
//! addressing whenever one is set: emulators do not serve `bucket.host` virtual hosts.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_smithy_http_client::Builder as HttpClientBuilder;
use aws_smithy_http_client::tls::Provider;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;

/// The region used when neither the environment nor a profile names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// A dropped or unreachable endpoint should fail fast and be retried by the worker, not hang.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Shared SDK configuration, and the clients built from it.
#[derive(Debug, Clone)]
pub struct AwsContext {
    sdk: SdkConfig,
}

impl AwsContext {
    /// Loads the configuration from the environment (`AWS_REGION`, `AWS_ENDPOINT_URL`,
    /// credentials, profiles), with `endpoint_url` taking precedence over `AWS_ENDPOINT_URL`.
    pub async fn load(endpoint_url: Option<&str>) -> Self {
        let mut builder = Self::builder();
        if let Some(url) = endpoint_url {
            builder = builder.endpoint_url(url);
        }
        builder.load().await
    }

    pub fn builder() -> AwsContextBuilder {
        AwsContextBuilder::default()
    }

    /// Wraps a configuration built elsewhere (a Lambda's, say) as it is.
    pub fn from_sdk_config(sdk: SdkConfig) -> Self {
        Self { sdk }
    }

    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The endpoint override in force, if any.
    pub fn endpoint_url(&self) -> Option<&str> {
        self.sdk.endpoint_url()
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(self.endpoint_url().is_some())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.sdk)
    }

    pub fn eventbridge(&self) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.sdk)
    }

    pub fn sesv2(&self) -> aws_sdk_sesv2::Client {
        aws_sdk_sesv2::Client::new(&self.sdk)
    }

    pub fn cognito(&self) -> aws_sdk_cognitoidentityprovider::Client {
        aws_sdk_cognitoidentityprovider::Client::new(&self.sdk)
    }
}

/// Overrides for [`AwsContext`]; anything not set comes from the environment.
#[derive(Debug, Default)]
pub struct AwsContextBuilder {
    endpoint_url: Option<String>,
    region: Option<String>,
    credentials: Option<Credentials>,
}

impl AwsContextBuilder {
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Fixed credentials, for emulators and tests; production uses the default chain.
    pub fn static_credentials(mut self, access_key_id: &str, secret_access_key: &str) -> Self {
        self.credentials = Some(Credentials::new(
            access_key_id,
            secret_access_key,
            None,
            None,
            "vetted-static",
        ));
        self
    }

    pub async fn load(self) -> AwsContext {
        let http_client = HttpClientBuilder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .build(),
            );
        if let Some(region) = self.region {
            loader = loader.region(Region::new(region));
        }
        if let Some(url) = self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(credentials) = self.credentials {
            loader = loader.credentials_provider(credentials);
        }
        let mut sdk = loader.load().await;
        // The loader's own chain (environment, profile, instance metadata) found nothing.
        if sdk.region().is_none() {
            sdk = sdk
                .to_builder()
                .region(Region::from_static(DEFAULT_REGION))
                .build();
        }
        AwsContext { sdk }
    }
}
