//! `S3Multipart`: the multipart port over S3 (CreateMultipartUpload, ListParts,
//! CompleteMultipartUpload, AbortMultipartUpload). The parts themselves go from the client to
//! S3 through URLs that [`crate::presign::S3Presigner`] signs.
//!
//! Uploads are begun with the SHA256 checksum algorithm, so S3 checks every part against the
//! checksum its URL pins, and the completion names each part's checksum as ListParts gave it.
//! Uploads abandoned half-way are removed by the bucket's lifecycle rule
//! (`AbortIncompleteMultipartUpload`).

use async_trait::async_trait;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use vetted_core::ports::{MultipartError, MultipartUploadId, MultipartUploads, StoredPart};
use vetted_core::{ContentSha256, ImageType, ObjectKey, UploadId};

use crate::errors::{SdkError, backend_error, unusable_answer};

/// Multipart uploads to one bucket.
#[derive(Debug, Clone)]
pub struct S3Multipart {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Multipart {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

/// `NoSuchUpload` as the port's error; anything else as a backend failure, or, for the
/// completion's refusals (`InvalidPart`, `InvalidPartOrder`, `EntityTooSmall`), `Refused`.
fn multipart_error<E>(operation: &'static str, err: SdkError<E>) -> MultipartError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err.code() {
        Some("NoSuchUpload") => MultipartError::NoSuchUpload,
        Some(code @ ("InvalidPart" | "InvalidPartOrder" | "EntityTooSmall")) => {
            MultipartError::Refused(format!("{code}: {}", err.message().unwrap_or_default()))
        }
        _ => backend_error(operation, err).into(),
    }
}

#[async_trait]
impl MultipartUploads for S3Multipart {
    #[tracing::instrument(skip(self), fields(key = %key))]
    async fn begin(
        &self,
        key: &ObjectKey,
        content_type: ImageType,
        upload_id: &UploadId,
    ) -> Result<MultipartUploadId, MultipartError> {
        const OPERATION: &str = "s3.CreateMultipartUpload";
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type.mime())
            .metadata("upload-id", upload_id.to_string())
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .send()
            .await
            .map_err(|e| multipart_error(OPERATION, e))?;
        created
            .upload_id()
            .and_then(|id| MultipartUploadId::parse(id).ok())
            .ok_or_else(|| unusable_answer(OPERATION, "no valid UploadId").into())
    }

    async fn list_parts(
        &self,
        key: &ObjectKey,
        multipart: &MultipartUploadId,
    ) -> Result<Vec<StoredPart>, MultipartError> {
        const OPERATION: &str = "s3.ListParts";
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(key.as_str())
                .upload_id(multipart.as_str())
                .set_part_number_marker(marker.take())
                .send()
                .await
                .map_err(|e| multipart_error(OPERATION, e))?;
            for part in page.parts() {
                let (Some(number), Some(size), Some(etag)) =
                    (part.part_number(), part.size(), part.e_tag())
                else {
                    return Err(
                        unusable_answer(OPERATION, "a part without number, size or ETag").into(),
                    );
                };
                let (Ok(number), Ok(size)) = (u32::try_from(number), u64::try_from(size)) else {
                    return Err(unusable_answer(OPERATION, "a negative part number or size").into());
                };
                parts.push(StoredPart {
                    number,
                    size,
                    etag: etag.to_owned(),
                    sha256: part
                        .checksum_sha256()
                        .and_then(|raw| raw.parse::<ContentSha256>().ok()),
                });
            }
            match page.next_part_number_marker() {
                Some(next) if page.is_truncated() == Some(true) => marker = Some(next.to_owned()),
                _ => break,
            }
        }
        parts.sort_by_key(|part| part.number);
        Ok(parts)
    }

    #[tracing::instrument(skip(self, multipart, parts), fields(key = %key, parts = parts.len()))]
    async fn complete(
        &self,
        key: &ObjectKey,
        multipart: &MultipartUploadId,
        parts: &[StoredPart],
    ) -> Result<(), MultipartError> {
        let completed = parts
            .iter()
            .map(|part| {
                CompletedPart::builder()
                    .part_number(i32::try_from(part.number).unwrap_or(i32::MAX))
                    .e_tag(&part.etag)
                    .set_checksum_sha256(part.sha256.map(|sha256| sha256.to_base64()))
                    .build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(multipart.as_str())
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| multipart_error("s3.CompleteMultipartUpload", e))?;
        Ok(())
    }

    #[tracing::instrument(skip(self, multipart), fields(key = %key))]
    async fn abort(
        &self,
        key: &ObjectKey,
        multipart: &MultipartUploadId,
    ) -> Result<(), MultipartError> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(multipart.as_str())
            .send()
            .await
            .map_err(|e| multipart_error("s3.AbortMultipartUpload", e))
        {
            Ok(_) | Err(MultipartError::NoSuchUpload) => Ok(()),
            Err(other) => Err(other),
        }
    }
}
