//! The site function: a CloudFormation custom resource (`SiteContent` in the SAM template)
//! that puts the pages of `web/`, built into this binary by `vetted_web`, into the private
//! site bucket the front door serves, so that one `sam deploy` ships the pages with the
//! stack. Create and Update put every file and remove what `web/` no longer has; Delete
//! empties the bucket so that CloudFormation can delete it.
//!
//! Every request is answered at its pre-signed `ResponseURL`, failures included: a custom
//! resource that never answers holds the stack operation for an hour.

pub mod bucket;
pub mod custom_resource;
pub mod objects;

use anyhow::Context;
use custom_resource::{Action, Request, Response};

/// Carries out `request` on the bucket, then answers CloudFormation. Returns the answer it
/// sent; an error means the answer could not be delivered (Lambda then logs it, and
/// CloudFormation times out).
pub async fn handle(
    s3: &aws_sdk_s3::Client,
    http: &reqwest::Client,
    request: &Request,
    log_stream: &str,
) -> anyhow::Result<Response> {
    let outcome = carry_out(s3, request)
        .await
        .map_err(|e| format!("{e:#} (log stream {log_stream})"));
    match &outcome {
        Ok(summary) => tracing::info!(request_type = ?request.request_type, "{summary}"),
        Err(why) => tracing::error!(request_type = ?request.request_type, "{why}"),
    }
    let response = request.response(&outcome);
    answer(http, &request.response_url, &response).await?;
    Ok(response)
}

async fn carry_out(s3: &aws_sdk_s3::Client, request: &Request) -> anyhow::Result<String> {
    match request.action().map_err(anyhow::Error::msg)? {
        Action::Publish { bucket } => {
            let changes = bucket::publish(s3, &bucket, &objects::site_objects()).await?;
            Ok(format!(
                "put {} objects into {bucket}, removed {} others",
                changes.put, changes.removed
            ))
        }
        Action::Empty { bucket } => {
            let changes = bucket::empty(s3, &bucket).await?;
            Ok(format!("removed {} objects from {bucket}", changes.removed))
        }
        Action::Nothing => Ok("no bucket was named, so nothing to remove".to_owned()),
    }
}

/// PUTs the answer to the pre-signed URL. It signs no Content-Type, so none is sent.
async fn answer(http: &reqwest::Client, url: &str, response: &Response) -> anyhow::Result<()> {
    let body = serde_json::to_vec(response).context("encode the answer")?;
    http.put(url)
        .body(body)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .context("PUT the answer to CloudFormation's response URL")?;
    Ok(())
}

/// The HTTP client for answers. rustls has no process-wide crypto provider in this build
/// (ring, as the AWS SDK uses it), so one is installed first.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .context("build the HTTP client")
}
