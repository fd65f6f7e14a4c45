//! `S3Presigner`: presigned POST forms, PUT and GET URLs for the upload bucket.
//!
//! POST forms go through the pure signer in `vetted-core` (the SDK cannot make them), with
//! credentials from the SDK's provider, so that the session token of temporary credentials is
//! sent and signed. PUT and GET use the SDK's own presigning. The same presigner serves real
//! S3 (virtual-hosted or Transfer Acceleration URLs) and an S3-compatible endpoint at a custom
//! base URL with path-style addressing, base path included.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::config::{BehaviorVersion, Region, RequestChecksumCalculation};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use thiserror::Error;
use vetted_core::ObjectKey;
use vetted_core::Timestamp;
use vetted_core::ports::{BackendError, PartGrant, SignerError, UploadGrant, UploadSigner};
use vetted_core::presign::sigv4::SigningKeyCache;
use vetted_core::presign::{
    self, BucketEndpoint, Credentials, PostPolicyRequest, PresignedPost, PresignedPut, S3Target,
};

/// Presigns against one bucket. Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct S3Presigner {
    client: aws_sdk_s3::Client,
    credentials: SharedCredentialsProvider,
    target: S3Target,
    keys: Arc<SigningKeyCache>,
}

#[derive(Debug, Error)]
pub enum PresignerSetupError {
    #[error(
        "no AWS credentials provider is configured: presigning needs credentials (the default \
         chain reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, or the Lambda role)"
    )]
    NoCredentials,
}

impl S3Presigner {
    /// Uses the shared SDK configuration's credentials provider. The target decides the
    /// region and the URL style; an endpoint override in `sdk` is replaced by the target's.
    pub fn new(sdk: &SdkConfig, target: S3Target) -> Result<Self, PresignerSetupError> {
        let credentials = sdk
            .credentials_provider()
            .ok_or(PresignerSetupError::NoCredentials)?;
        let builder = aws_sdk_s3::config::Builder::from(sdk);
        Ok(Self::build(builder, credentials, target))
    }

    /// Fixed credentials, for an S3-compatible endpoint with static keys (`vetted serve`'s
    /// embedded endpoint, test servers).
    pub fn with_static_credentials(
        target: S3Target,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> Self {
        let keys = aws_credential_types::Credentials::new(
            access_key_id,
            secret_access_key,
            None,
            None,
            "vetted-static",
        );
        let credentials = SharedCredentialsProvider::new(keys);
        let builder = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .credentials_provider(credentials.clone());
        Self::build(builder, credentials, target)
    }

    fn build(
        builder: aws_sdk_s3::config::Builder,
        credentials: SharedCredentialsProvider,
        target: S3Target,
    ) -> Self {
        let mut builder = builder
            .region(Region::new(target.region().to_owned()))
            // A presigned request has no body to checksum; a checksum header would have to be
            // computed by the browser, which cannot know it.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired);
        builder = match target.endpoint() {
            BucketEndpoint::VirtualHosted | BucketEndpoint::Accelerated => {
                builder.set_endpoint_url(None);
                builder
                    .force_path_style(false)
                    .accelerate(*target.endpoint() == BucketEndpoint::Accelerated)
            }
            // The SDK's endpoint rules append the bucket to the URL's path as it is; without
            // the trailing slash a base path would run into it (`/s3vetted/...`).
            BucketEndpoint::PathStyle { base_url } => builder
                .endpoint_url(format!("{base_url}/"))
                .force_path_style(true)
                .accelerate(false),
        };
        for warning in target.warnings() {
            tracing::warn!(bucket = target.bucket(), "{warning}");
        }
        Self {
            client: aws_sdk_s3::Client::from_conf(builder.build()),
            credentials,
            target,
            keys: Arc::new(SigningKeyCache::new()),
        }
    }

    pub fn target(&self) -> &S3Target {
        &self.target
    }

    async fn current_credentials(&self) -> Result<Credentials, SignerError> {
        let creds = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| BackendError::retryable("load credentials", e))?;
        Ok(Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            creds.session_token().map(str::to_owned),
        ))
    }
}

fn system_time(at: Timestamp) -> SystemTime {
    let millis = at.unix_millis();
    if millis >= 0 {
        UNIX_EPOCH + Duration::from_millis(millis.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_millis(millis.unsigned_abs())
    }
}

fn presigning_config(
    now: Timestamp,
    expires_in: Duration,
) -> Result<PresigningConfig, SignerError> {
    presign::check_expires_in(expires_in)?;
    PresigningConfig::builder()
        .start_time(system_time(now))
        .expires_in(expires_in)
        .build()
        .map_err(|e| BackendError::permanent("presigning config", e).into())
}

fn headers_of(request: &PresignedRequest) -> Vec<(String, String)> {
    request
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

#[async_trait]
impl UploadSigner for S3Presigner {
    #[tracing::instrument(skip(self, grant), fields(upload_id = %grant.upload_id))]
    async fn presign_post(&self, grant: &UploadGrant) -> Result<PresignedPost, SignerError> {
        let credentials = self.current_credentials().await?;
        let request = PostPolicyRequest::for_grant(&self.target, grant);
        Ok(presign::presign_post_with(
            &request,
            &credentials,
            &self.keys,
        )?)
    }

    #[tracing::instrument(skip(self, grant), fields(upload_id = %grant.upload_id))]
    async fn presign_put(&self, grant: &UploadGrant) -> Result<PresignedPut, SignerError> {
        let config = presigning_config(grant.now, grant.expires_in)?;
        let length = i64::try_from(*grant.length.end()).unwrap_or(i64::MAX);
        let presigned = self
            .client
            .put_object()
            .bucket(self.target.bucket())
            .key(grant.key.as_str())
            .content_type(grant.content_type.mime())
            .content_length(length)
            .if_none_match("*")
            .set_checksum_sha256(grant.sha256.map(|sha256| sha256.to_base64()))
            .presigned(config)
            .await
            .map_err(|e| BackendError::permanent("presign PutObject", e))?;
        Ok(PresignedPut {
            url: presigned.uri().to_owned(),
            headers: headers_of(&presigned),
            expires_at: grant.now.saturating_add(grant.expires_in),
        })
    }

    #[tracing::instrument(skip(self, grant), fields(key = %grant.key, part = grant.number))]
    async fn presign_part(&self, grant: &PartGrant<'_>) -> Result<PresignedPut, SignerError> {
        let config = presigning_config(grant.now, grant.expires_in)?;
        let length = i64::try_from(grant.length).unwrap_or(i64::MAX);
        let number = i32::try_from(grant.number).unwrap_or(i32::MAX);
        let presigned = self
            .client
            .upload_part()
            .bucket(self.target.bucket())
            .key(grant.key.as_str())
            .upload_id(grant.multipart.as_str())
            .part_number(number)
            .content_length(length)
            .checksum_sha256(grant.sha256.to_base64())
            .presigned(config)
            .await
            .map_err(|e| BackendError::permanent("presign UploadPart", e))?;
        Ok(PresignedPut {
            url: presigned.uri().to_owned(),
            headers: headers_of(&presigned),
            expires_at: grant.now.saturating_add(grant.expires_in),
        })
    }

    async fn presign_get(
        &self,
        key: &ObjectKey,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<String, SignerError> {
        let config = presigning_config(now, expires_in)?;
        let presigned = self
            .client
            .get_object()
            .bucket(self.target.bucket())
            .key(key.as_str())
            .presigned(config)
            .await
            .map_err(|e| BackendError::permanent("presign GetObject", e))?;
        Ok(presigned.uri().to_owned())
    }
}

#[cfg(test)]
mod tests;
