//! The multipart port in process: `vetted serve`'s API begins, lists, completes and aborts
//! multipart uploads by calling the endpoint directly, with no signature and no HTTP, while
//! clients send the parts over HTTP through presigned URLs. A completion announces the object
//! as an HTTP one does (`ObjectCreated:CompleteMultipartUpload`).

use async_trait::async_trait;
use vetted_core::ports::{
    BackendError, MultipartError, MultipartUploadId, MultipartUploads, StoredPart,
};
use vetted_core::{ImageType, ObjectKey, UploadId};

use super::S3Endpoint;
use super::errors::{S3Error, S3ErrorCode};
use super::multipart::UploadId as EndpointUploadId;
use super::request::RequestContext;

fn port_error(operation: &'static str, error: S3Error) -> MultipartError {
    match error.code {
        S3ErrorCode::NoSuchUpload => MultipartError::NoSuchUpload,
        S3ErrorCode::InvalidPart
        | S3ErrorCode::InvalidPartOrder
        | S3ErrorCode::EntityTooSmall
        | S3ErrorCode::EntityTooLarge
        | S3ErrorCode::MalformedXML => {
            MultipartError::Refused(format!("{}: {}", error.code, error.message))
        }
        _ => BackendError::retryable(operation, std::io::Error::other(error.message)).into(),
    }
}

/// The endpoint's id for the port's: an id it did not issue names no upload.
fn endpoint_id(multipart: &MultipartUploadId) -> Result<EndpointUploadId, MultipartError> {
    EndpointUploadId::parse(multipart.as_str()).map_err(|_| MultipartError::NoSuchUpload)
}

#[async_trait]
impl MultipartUploads for S3Endpoint {
    async fn begin(
        &self,
        key: &ObjectKey,
        content_type: ImageType,
        _upload_id: &UploadId,
    ) -> Result<MultipartUploadId, MultipartError> {
        let upload = self
            .begin_upload(key, content_type.mime().to_owned())
            .await
            .map_err(|e| port_error("endpoint.begin_upload", e))?;
        MultipartUploadId::parse(&upload.0)
            .map_err(|e| BackendError::permanent("endpoint.begin_upload", e).into())
    }

    async fn list_parts(
        &self,
        key: &ObjectKey,
        multipart: &MultipartUploadId,
    ) -> Result<Vec<StoredPart>, MultipartError> {
        let parts = self
            .parts_of(&endpoint_id(multipart)?, key)
            .await
            .map_err(|e| port_error("endpoint.list_parts", e))?;
        Ok(parts
            .into_iter()
            .map(|part| StoredPart {
                number: part.number,
                size: part.size,
                etag: part.sha256.to_hex(),
                sha256: Some(part.sha256),
            })
            .collect())
    }

    async fn complete(
        &self,
        key: &ObjectKey,
        multipart: &MultipartUploadId,
        parts: &[StoredPart],
    ) -> Result<(), MultipartError> {
        let listed: Vec<(u32, String)> = parts
            .iter()
            .map(|part| (part.number, part.etag.clone()))
            .collect();
        let context = RequestContext::in_process(&self.config.bucket, key);
        self.complete_listed(&endpoint_id(multipart)?, key, &listed, &context)
            .await
            .map_err(|e| port_error("endpoint.complete", e))?;
        Ok(())
    }

    async fn abort(
        &self,
        key: &ObjectKey,
        multipart: &MultipartUploadId,
    ) -> Result<(), MultipartError> {
        let Ok(upload) = endpoint_id(multipart) else {
            return Ok(());
        };
        match self.abort_upload(&upload, key).await {
            Ok(()) => Ok(()),
            Err(error) if error.code == S3ErrorCode::NoSuchUpload => Ok(()),
            Err(error) => Err(port_error("endpoint.abort", error)),
        }
    }
}
