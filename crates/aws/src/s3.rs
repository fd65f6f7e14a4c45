//! `S3ObjectStore`: the object store port over S3.
//!
//! Ranged reads use an HTTP `Range` header, so the gate fetches only the prefix it inspects;
//! files are streamed from disk; copies replace the metadata so the published object carries
//! the content type we chose, never the uploader's.

use std::ops::Range;
use std::path::Path;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumMode, ChecksumType, MetadataDirective};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use vetted_core::ObjectKey;
use vetted_core::ports::{BackendError, ObjectMeta, ObjectStore, StoreError};

use crate::errors::{SdkError, backend_error, unusable_answer};

/// Characters a `CopySource` may carry unencoded: RFC 3986 unreserved, and `/` between the
/// bucket and the key's segments.
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Objects in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3ObjectStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3ObjectStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn head_version(
        &self,
        key: &ObjectKey,
        version: Option<String>,
    ) -> Result<ObjectMeta, StoreError> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_version_id(version)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|s| s.is_not_found()) {
                    StoreError::NotFound(key.clone())
                } else {
                    backend_error("s3:HeadObject", e).into()
                }
            })?;
        // A multipart object's SHA-256 is a checksum of its parts' checksums (S3 writes it
        // "...-3" and says `COMPOSITE`; moto writes it bare, measured), not the content's:
        // then the content's own is unknown. Its ETag ends in "-{parts}" on both.
        let etag = head.e_tag.unwrap_or_default();
        let composite =
            head.checksum_type == Some(ChecksumType::Composite) || is_multipart_etag(&etag);
        Ok(ObjectMeta {
            size: size_of("s3:HeadObject", head.content_length)?,
            version: head.version_id,
            content_type: head.content_type,
            sha256: head
                .checksum_sha256
                .filter(|_| !composite)
                .and_then(|checksum| checksum.parse().ok()),
            etag,
        })
    }
}

/// Whether an ETag is a multipart object's: `"{hex}-{parts}"`.
fn is_multipart_etag(etag: &str) -> bool {
    etag.trim_matches('"')
        .rsplit_once('-')
        .is_some_and(|(_, parts)| !parts.is_empty() && parts.bytes().all(|b| b.is_ascii_digit()))
}

fn size_of(operation: &'static str, length: Option<i64>) -> Result<u64, BackendError> {
    length
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| unusable_answer(operation, "no valid Content-Length"))
}

/// Maps the "no such key" answer of any S3 operation to `NotFound`.
fn object_error<E>(operation: &'static str, key: &ObjectKey, err: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if err.code() == Some("NoSuchKey") {
        StoreError::NotFound(key.clone())
    } else {
        backend_error(operation, err).into()
    }
}

async fn collect(operation: &'static str, body: ByteStream) -> Result<Bytes, StoreError> {
    let bytes = body
        .collect()
        .await
        .map_err(|e| BackendError::retryable(operation, e))?;
    Ok(bytes.into_bytes())
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    #[tracing::instrument(skip(self), fields(bucket = %self.bucket))]
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StoreError> {
        self.head_version(key, None).await
    }

    #[tracing::instrument(skip(self), fields(bucket = %self.bucket))]
    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<Bytes, StoreError> {
        self.read(key, None, Some(range)).await
    }

    #[tracing::instrument(skip(self), fields(bucket = %self.bucket))]
    async fn get(&self, key: &ObjectKey) -> Result<Bytes, StoreError> {
        self.read(key, None, None).await
    }

    #[tracing::instrument(skip(self), fields(bucket = %self.bucket))]
    async fn get_range_of_version(
        &self,
        key: &ObjectKey,
        version: &str,
        range: Range<u64>,
    ) -> Result<Bytes, StoreError> {
        self.read(key, Some(version), Some(range))
            .await
            .map_err(|e| e.for_version(key, version))
    }

    #[tracing::instrument(skip(self), fields(bucket = %self.bucket))]
    async fn get_version(&self, key: &ObjectKey, version: &str) -> Result<Bytes, StoreError> {
        self.read(key, Some(version), None)
            .await
            .map_err(|e| e.for_version(key, version))
    }

    #[tracing::instrument(skip(self, body), fields(bucket = %self.bucket, bytes = body.len()))]
    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        let size = body.len() as u64;
        let output = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| backend_error("s3:PutObject", e))?;
        Ok(ObjectMeta {
            size,
            etag: output.e_tag.unwrap_or_default(),
            version: output.version_id,
            content_type: Some(content_type.to_owned()),
            sha256: None,
        })
    }

    #[tracing::instrument(skip(self), fields(bucket = %self.bucket))]
    async fn put_file(
        &self,
        key: &ObjectKey,
        path: &Path,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| BackendError::permanent("s3:PutObject(read file)", e))?
            .len();
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| BackendError::permanent("s3:PutObject(read file)", e))?;
        let output = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .body(body)
            .send()
            .await
            .map_err(|e| backend_error("s3:PutObject", e))?;
        Ok(ObjectMeta {
            size,
            etag: output.e_tag.unwrap_or_default(),
            version: output.version_id,
            content_type: Some(content_type.to_owned()),
            sha256: None,
        })
    }

    #[tracing::instrument(skip(self), fields(bucket = %self.bucket))]
    async fn copy(
        &self,
        from: &ObjectKey,
        to: &ObjectKey,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        let source = format!("{}/{}", self.bucket, from.as_str());
        let output = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(to.as_str())
            .copy_source(utf8_percent_encode(&source, COPY_SOURCE).to_string())
            .metadata_directive(MetadataDirective::Replace)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| object_error("s3:CopyObject", from, e))?;
        // The copy's answer lacks the size; ask for exactly the version it wrote.
        self.head_version(to, output.version_id).await
    }

    #[tracing::instrument(skip(self), fields(bucket = %self.bucket))]
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|e| backend_error("s3:DeleteObject", e))?;
        Ok(())
    }

    #[tracing::instrument(skip(self), fields(bucket = %self.bucket))]
    async fn delete_version(&self, key: &ObjectKey, version: &str) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .version_id(version)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            // A version id the bucket never issued (or a bucket without versions): nothing of
            // that write is there to delete.
            Err(e) if is_unknown_version(e.code()) => Ok(()),
            Err(e) => Err(backend_error("s3:DeleteObject", e).into()),
        }
    }

    /// On a versioned bucket `DeleteObject` without a version only adds a delete marker, and
    /// every earlier write stays readable by its version id. This lists the key's versions
    /// and delete markers (`ListObjectVersions`, the key as prefix, only exact matches kept)
    /// and deletes each by its id, page after page.
    #[tracing::instrument(skip(self), fields(bucket = %self.bucket))]
    async fn delete_all_versions(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let mut markers: (Option<String>, Option<String>) = (None, None);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(key.as_str())
                .set_key_marker(markers.0.take())
                .set_version_id_marker(markers.1.take())
                .send()
                .await
                .map_err(|e| backend_error("s3:ListObjectVersions", e))?;
            let versions = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                )
                .filter(|(k, _)| *k == Some(key.as_str()))
                .filter_map(|(_, version)| version.map(str::to_owned))
                .collect::<Vec<_>>();
            for version in versions {
                self.delete_version(key, &version).await?;
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            markers = (
                page.next_key_marker().map(str::to_owned),
                page.next_version_id_marker().map(str::to_owned),
            );
        }
        // No plain `DeleteObject` after: on a versioned bucket it would add a delete marker,
        // a version of its own. A bucket without versioning lists its object as version
        // "null", deleted above by that id.
        Ok(())
    }
}

impl S3ObjectStore {
    /// `GetObject` of the whole object or a range of it, of the latest write or of `version`.
    async fn read(
        &self,
        key: &ObjectKey,
        version: Option<&str>,
        range: Option<Range<u64>>,
    ) -> Result<Bytes, StoreError> {
        let mut request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_version_id(version.map(str::to_owned));
        if let Some(range) = range {
            if range.start >= range.end {
                // Nothing to read, but a missing key or version must still say so.
                self.head_version(key, version.map(str::to_owned)).await?;
                return Ok(Bytes::new());
            }
            request = request.range(format!("bytes={}-{}", range.start, range.end - 1));
        }
        match request.send().await {
            Ok(output) => collect("s3:GetObject", output.body).await,
            // S3 refuses a range that starts at or past the end; the port clips it to nothing.
            Err(e) if e.code() == Some("InvalidRange") => Ok(Bytes::new()),
            Err(e) if version.is_some() && is_unknown_version(e.code()) => {
                Err(StoreError::NotFound(key.clone()))
            }
            Err(e) => Err(object_error("s3:GetObject", key, e)),
        }
    }
}

/// The codes S3 answers a version id with that names no write it holds: `NoSuchVersion`, and
/// `InvalidArgument` for a string that is not a version id at all (or a bucket that never had
/// versioning).
fn is_unknown_version(code: Option<&str>) -> bool {
    matches!(code, Some("NoSuchVersion" | "InvalidArgument"))
}

#[cfg(test)]
mod tests {
    use super::is_multipart_etag;

    #[test]
    fn multipart_etags_are_told_from_plain_ones() {
        assert!(is_multipart_etag("\"30dcfd3901d1c613b7fb532281748544-2\""));
        assert!(is_multipart_etag("30dcfd3901d1c613b7fb532281748544-10000"));
        assert!(!is_multipart_etag("\"79b281060d337b9b2b84ccf390adcf74\""));
        assert!(!is_multipart_etag("\"abc-\""));
        assert!(!is_multipart_etag(""));
    }
}
