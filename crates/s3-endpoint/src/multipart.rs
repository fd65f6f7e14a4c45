//! Multipart uploads through presigned URLs: CreateMultipartUpload, UploadPart, ListParts,
//! CompleteMultipartUpload and AbortMultipartUpload, each verified as a presigned PUT is and
//! each limited to the keys uploads may write.
//!
//! An upload in progress is a directory under the spool directory's `multipart/`, named by its
//! id (32 hex digits, checked before it is used as a path): `upload.json` holds the key, the
//! content type and when it began; each part is a file named by its number and the SHA-256 of
//! its bytes (`part-00001-<hex>`), spooled under the cap like a PUT's body and renamed in, so a
//! part is whole or absent, and its name is its ETag. A part sent again replaces the earlier
//! one. The directory outlives the process, so an interrupted upload resumes with ListParts.
//!
//! Completing takes the directory for itself first (a rename), so two completions cannot both
//! store the object; then the listed parts are checked (each named by the ETag the client was
//! given, in ascending order, every one but the last at least 5 MiB, the total under the
//! ceiling), hashed again as they are copied into one spool file (a part damaged on disk is
//! `InvalidPart`, never stored), and committed as a PUT is: stored, then announced as
//! `ObjectCreated:CompleteMultipartUpload`. A pinned `x-amz-checksum-sha256` is per part, as
//! on S3.
//!
//! Differences from S3, on purpose: ETags are the part's SHA-256 in hex, not its MD5; ListParts
//! always reports each part's `ChecksumSHA256`; there is no ListMultipartUploads, UploadPartCopy
//! or checksum of the whole object. Stale uploads are removed by [`S3Endpoint::abort_stale_uploads`].

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::response::Response;
use futures_util::StreamExt;
use http::header::{CONTENT_TYPE, ETAG};
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode};
use quick_xml::Reader;
use quick_xml::events::Event;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use vetted_core::checksum::CHECKSUM_SHA256_FIELD;
use vetted_core::{ContentSha256, ObjectKey, Timestamp};

use super::S3Endpoint;
use super::checksum;
use super::commit::{Commit, quoted_etag};
use super::errors::{S3Error, S3ErrorCode, push_element};
use super::events::CreatedBy;
use super::form::too_large;
use super::presigned::PayloadCheck;
use super::put::{content_length, content_type_of};
use super::request::{RequestContext, writable_key};
use super::sigv4;
use super::spool::{Spool, check_sha256};

/// S3's smallest part, for every part but the last.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// S3's highest part number.
pub const MAX_PART_NUMBER: u32 = 10_000;
/// The most of a CompleteMultipartUpload body read: 10,000 parts fit with room to spare.
pub const MAX_COMPLETE_BODY: u64 = 2 * 1024 * 1024;
/// ListParts answers at most this many parts a page, as S3 does.
const MAX_LIST_PARTS: u32 = 1000;
/// The subdirectory of the spool directory that holds uploads in progress.
const UPLOADS_DIR: &str = "multipart";
const MANIFEST: &str = "upload.json";
/// Suffix of an upload directory taken by a completion.
const COMPLETING: &str = ".completing";

/// The multipart operation a request names by its query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Operation {
    Create,
    UploadPart { upload: String, part: u32 },
    ListParts { upload: String },
    Complete { upload: String },
    Abort { upload: String },
}

/// An upload id this endpoint issued: 32 lowercase hex digits, safe as a directory name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UploadId(pub(crate) String);

impl UploadId {
    fn new() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    pub(crate) fn parse(raw: &str) -> Result<Self, S3Error> {
        let valid = raw.len() == 32 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(no_such_upload(raw))
        }
    }
}

/// The query parameters of the multipart operations; anything else but `x-amz-*` and `x-id`
/// is refused by [`Operation::of`] as it is for a plain PUT.
const MULTIPART_PARAMETERS: [&str; 5] = [
    "uploads",
    "uploadId",
    "partNumber",
    "max-parts",
    "part-number-marker",
];

impl Operation {
    /// The multipart operation `method` and the query name, `None` for a plain object request
    /// (one without `uploads` or `uploadId`).
    pub(crate) fn of(method: &Method, context: &RequestContext) -> Result<Option<Self>, S3Error> {
        let pairs = sigv4::parse_query(context.query.as_deref())
            .map_err(|_| S3Error::invalid_argument("The query string is not valid UTF-8."))?;
        let value = |name: &str| {
            pairs
                .iter()
                .find(|(candidate, _)| candidate == name)
                .map(|(_, value)| value.as_str())
        };
        let (uploads, upload_id) = (value("uploads"), value("uploadId"));
        if uploads.is_none() && upload_id.is_none() {
            return Ok(None);
        }
        for (name, _) in &pairs {
            let lower = name.to_ascii_lowercase();
            let known = lower.starts_with("x-amz-")
                || lower == "x-id"
                || MULTIPART_PARAMETERS.contains(&name.as_str());
            if !known {
                return Err(S3Error::new(
                    S3ErrorCode::NotImplemented,
                    format!("The query parameter '{name}' is not supported by this endpoint."),
                ));
            }
        }
        let not_allowed = || {
            S3Error::new(
                S3ErrorCode::MethodNotAllowed,
                "The specified method is not allowed against this resource.",
            )
            .with("Method", method.as_str())
        };
        if uploads.is_some() {
            return if *method == Method::POST && upload_id.is_none() {
                Ok(Some(Self::Create))
            } else {
                Err(not_allowed())
            };
        }
        // Checked once the signature is: an unauthenticated caller learns nothing of ids.
        let upload = upload_id.unwrap_or_default().to_owned();
        if let Some(raw) = value("partNumber") {
            let part = raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
                .ok_or_else(|| {
                    S3Error::invalid_argument(
                        "Part number must be an integer between 1 and 10000, inclusive",
                    )
                    .with("ArgumentName", "partNumber")
                    .with("ArgumentValue", raw)
                })?;
            return if *method == Method::PUT {
                Ok(Some(Self::UploadPart { upload, part }))
            } else {
                Err(not_allowed())
            };
        }
        match *method {
            Method::GET => Ok(Some(Self::ListParts { upload })),
            Method::POST => Ok(Some(Self::Complete { upload })),
            Method::DELETE => Ok(Some(Self::Abort { upload })),
            _ => Err(not_allowed()),
        }
    }
}

/// What `upload.json` records about an upload in progress.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    key: String,
    content_type: String,
    initiated_unix_millis: i64,
}

/// A stored part, as its file name records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredPart {
    pub(crate) number: u32,
    pub(crate) sha256: ContentSha256,
    pub(crate) size: u64,
    modified: Option<std::time::SystemTime>,
    path: PathBuf,
}

fn no_such_upload(id: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
    .with("UploadId", id)
}

fn io_error(error: &std::io::Error) -> S3Error {
    S3Error::internal(error)
}

fn part_name(number: u32, sha256: &ContentSha256) -> String {
    format!("part-{number:05}-{}", sha256.to_hex())
}

/// A part's number and hash from its file name; `None` for any other file.
fn parse_part_name(name: &str) -> Option<(u32, ContentSha256)> {
    let rest = name.strip_prefix("part-")?;
    let (number, hex_digest) = rest.split_once('-')?;
    if number.len() != 5 {
        return None;
    }
    Some((
        number.parse().ok()?,
        ContentSha256::from_hex(hex_digest).ok()?,
    ))
}

fn xml_response(status: StatusCode, xml: String) -> Response {
    let mut response = Response::new(Body::from(xml));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    response
}

const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
const XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

impl S3Endpoint {
    fn uploads_dir(&self) -> PathBuf {
        self.config.spool_dir.join(UPLOADS_DIR)
    }

    fn upload_dir(&self, upload: &UploadId) -> PathBuf {
        self.uploads_dir().join(&upload.0)
    }

    /// Runs a multipart operation on `raw_key`.
    pub(crate) async fn multipart(
        &self,
        operation: Operation,
        context: &RequestContext,
        parts: &Parts,
        raw_key: &str,
        body: Body,
    ) -> Result<Response, S3Error> {
        let verified = self.verify(context, parts)?;
        let key = writable_key(raw_key)?;
        match operation {
            Operation::Create => self.create_upload(&key, parts).await,
            Operation::UploadPart { upload, part } => {
                let dir = self.open_upload(&UploadId::parse(&upload)?, &key).await?;
                self.upload_part(&dir, part, &verified.payload, context, parts, body)
                    .await
            }
            Operation::ListParts { upload } => {
                let upload = UploadId::parse(&upload)?;
                let dir = self.open_upload(&upload, &key).await?;
                self.list_parts(&dir, &upload, &key, context).await
            }
            Operation::Complete { upload } => {
                let upload = UploadId::parse(&upload)?;
                self.complete(&upload, &key, context, body).await
            }
            Operation::Abort { upload } => {
                self.abort_upload(&UploadId::parse(&upload)?, &key).await?;
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::NO_CONTENT;
                Ok(response)
            }
        }
    }

    async fn create_upload(&self, key: &ObjectKey, parts: &Parts) -> Result<Response, S3Error> {
        // The whole object's checksum is not kept; only parts' pinned checksums are checked.
        if let Some(algorithm) = parts.headers.get("x-amz-checksum-algorithm")
            && !algorithm.as_bytes().eq_ignore_ascii_case(b"SHA256")
        {
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                "Only the SHA256 checksum algorithm is supported by this endpoint.",
            ));
        }
        let upload = self
            .begin_upload(key, content_type_of(&parts.headers))
            .await?;
        let mut xml = String::from(XML_HEAD);
        xml.push_str(&format!(
            "<InitiateMultipartUploadResult xmlns=\"{XMLNS}\">"
        ));
        push_element(&mut xml, "Bucket", &self.config.bucket);
        push_element(&mut xml, "Key", key.as_str());
        push_element(&mut xml, "UploadId", &upload.0);
        xml.push_str("</InitiateMultipartUploadResult>");
        Ok(xml_response(StatusCode::OK, xml))
    }

    /// Starts an upload of `key`: its directory and manifest.
    pub(crate) async fn begin_upload(
        &self,
        key: &ObjectKey,
        content_type: String,
    ) -> Result<UploadId, S3Error> {
        let upload = UploadId::new();
        let manifest = Manifest {
            key: key.as_str().to_owned(),
            content_type,
            initiated_unix_millis: self.now().unix_millis(),
        };
        let dir = self.upload_dir(&upload);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| io_error(&e))?;
        let json = serde_json::to_vec(&manifest).map_err(|e| S3Error::internal(&e))?;
        tokio::fs::write(dir.join(MANIFEST), json)
            .await
            .map_err(|e| io_error(&e))?;
        tracing::info!(key = %key, upload = %upload.0, "multipart upload created");
        Ok(upload)
    }

    /// Every part of `key`'s upload, one per number, in order.
    pub(crate) async fn parts_of(
        &self,
        upload: &UploadId,
        key: &ObjectKey,
    ) -> Result<Vec<StoredPart>, S3Error> {
        let dir = self.open_upload(upload, key).await?;
        Ok(latest_parts(stored_parts(&dir).await?))
    }

    /// Removes `key`'s upload and its parts.
    pub(crate) async fn abort_upload(
        &self,
        upload: &UploadId,
        key: &ObjectKey,
    ) -> Result<(), S3Error> {
        let dir = self.open_upload(upload, key).await?;
        tokio::fs::remove_dir_all(&dir)
            .await
            .map_err(|e| io_error(&e))?;
        tracing::info!(key = %key, upload = %upload.0, "multipart upload aborted");
        Ok(())
    }

    /// The upload's directory, if it exists and is for `key`.
    async fn open_upload(&self, upload: &UploadId, key: &ObjectKey) -> Result<PathBuf, S3Error> {
        let dir = self.upload_dir(upload);
        let manifest = read_manifest(&dir)
            .await?
            .ok_or_else(|| no_such_upload(&upload.0))?;
        if manifest.key != key.as_str() {
            return Err(no_such_upload(&upload.0));
        }
        Ok(dir)
    }

    async fn upload_part(
        &self,
        dir: &Path,
        number: u32,
        payload: &PayloadCheck,
        context: &RequestContext,
        parts: &Parts,
        body: Body,
    ) -> Result<Response, S3Error> {
        let query = sigv4::parse_query(context.query.as_deref()).unwrap_or_default();
        let pinned = checksum::pinned_in_put(&parts.headers, query)?;
        let length = content_length(&parts.headers)?;
        let cap = self.config.max_object_bytes;
        if length > cap {
            return Err(too_large(cap));
        }
        let mut spool = Spool::create(&self.config.spool_dir, length, true).await?;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            spool.write(&chunk.map_err(|_| incomplete_body())?).await?;
        }
        let spooled = spool.finish().await?;
        if spooled.size != length {
            return Err(incomplete_body());
        }
        if let PayloadCheck::Sha256(expected) = payload {
            check_sha256(&spooled, expected)?;
        }
        if let Some(pinned) = &pinned {
            checksum::check_pinned(&spooled, pinned)?;
        }
        let sha256 = spooled
            .sha256
            .as_deref()
            .and_then(|hex_digest| ContentSha256::from_hex(hex_digest).ok())
            .ok_or_else(|| S3Error::internal(&std::io::Error::other("part was not hashed")))?;
        let name = part_name(number, &sha256);
        spooled
            .persist(&dir.join(&name))
            .map_err(|e| io_error(&e))?;
        // An earlier part with this number is replaced, as on S3.
        for stored in stored_parts(dir).await? {
            if stored.number == number && stored.sha256 != sha256 {
                let _ = tokio::fs::remove_file(&stored.path).await;
            }
        }
        let mut response = Response::new(Body::empty());
        if let Ok(value) = HeaderValue::from_str(&quoted_etag(&sha256.to_hex())) {
            response.headers_mut().insert(ETAG, value);
        }
        if let Ok(value) = HeaderValue::from_str(&sha256.to_base64()) {
            response.headers_mut().insert(CHECKSUM_SHA256_FIELD, value);
        }
        Ok(response)
    }

    async fn list_parts(
        &self,
        dir: &Path,
        upload: &UploadId,
        key: &ObjectKey,
        context: &RequestContext,
    ) -> Result<Response, S3Error> {
        let query = sigv4::parse_query(context.query.as_deref()).unwrap_or_default();
        let number = |name: &str, default: u32| -> Result<u32, S3Error> {
            match query.iter().find(|(candidate, _)| candidate == name) {
                None => Ok(default),
                Some((_, raw)) => raw.parse().map_err(|_| {
                    S3Error::invalid_argument(format!("{name} must be a whole number."))
                        .with("ArgumentName", name)
                        .with("ArgumentValue", raw.as_str())
                }),
            }
        };
        let max_parts = number("max-parts", MAX_LIST_PARTS)?.min(MAX_LIST_PARTS);
        let marker = number("part-number-marker", 0)?;
        let all = latest_parts(stored_parts(dir).await?);
        let after: Vec<&StoredPart> = all.iter().filter(|part| part.number > marker).collect();
        let page = &after[..after.len().min(max_parts as usize)];
        let truncated = page.len() < after.len();

        let mut xml = String::from(XML_HEAD);
        xml.push_str(&format!("<ListPartsResult xmlns=\"{XMLNS}\">"));
        push_element(&mut xml, "Bucket", &self.config.bucket);
        push_element(&mut xml, "Key", key.as_str());
        push_element(&mut xml, "UploadId", &upload.0);
        push_element(&mut xml, "PartNumberMarker", &marker.to_string());
        if let Some(last) = page.last() {
            push_element(&mut xml, "NextPartNumberMarker", &last.number.to_string());
        }
        push_element(&mut xml, "MaxParts", &max_parts.to_string());
        push_element(
            &mut xml,
            "IsTruncated",
            if truncated { "true" } else { "false" },
        );
        push_element(&mut xml, "StorageClass", "STANDARD");
        for part in page {
            xml.push_str("<Part>");
            push_element(&mut xml, "PartNumber", &part.number.to_string());
            if let Some(modified) = part.modified {
                let at = Timestamp::from_offset_date_time(modified.into());
                push_element(&mut xml, "LastModified", &at.to_rfc3339());
            }
            push_element(&mut xml, "ETag", &quoted_etag(&part.sha256.to_hex()));
            push_element(&mut xml, "Size", &part.size.to_string());
            push_element(&mut xml, "ChecksumSHA256", &part.sha256.to_base64());
            xml.push_str("</Part>");
        }
        xml.push_str("</ListPartsResult>");
        Ok(xml_response(StatusCode::OK, xml))
    }

    async fn complete(
        &self,
        upload: &UploadId,
        key: &ObjectKey,
        context: &RequestContext,
        body: Body,
    ) -> Result<Response, S3Error> {
        let listed = read_complete_body(body).await?;
        let etag = self.complete_listed(upload, key, &listed, context).await?;
        let mut xml = String::from(XML_HEAD);
        xml.push_str(&format!(
            "<CompleteMultipartUploadResult xmlns=\"{XMLNS}\">"
        ));
        push_element(
            &mut xml,
            "Location",
            &format!(
                "{}{}/{}/{}",
                self.config.public_origin,
                self.config.mount_path,
                self.config.bucket,
                key.as_str()
            ),
        );
        push_element(&mut xml, "Bucket", &self.config.bucket);
        push_element(&mut xml, "Key", key.as_str());
        push_element(&mut xml, "ETag", &quoted_etag(&etag));
        xml.push_str("</CompleteMultipartUploadResult>");
        Ok(xml_response(StatusCode::OK, xml))
    }

    /// Completes `key`'s upload from the (number, ETag) pairs listed; the object's ETag.
    pub(crate) async fn complete_listed(
        &self,
        upload: &UploadId,
        key: &ObjectKey,
        listed: &[(u32, String)],
        context: &RequestContext,
    ) -> Result<String, S3Error> {
        self.open_upload(upload, key).await?;
        // Take the upload for this completion alone: a second one finds no upload.
        let dir = self.upload_dir(upload);
        let taken = dir.with_extension(&COMPLETING[1..]);
        tokio::fs::rename(&dir, &taken)
            .await
            .map_err(|_| no_such_upload(&upload.0))?;
        let outcome = self.assemble_and_commit(&taken, listed, key, context).await;
        match &outcome {
            Ok(_) => {
                if let Err(error) = tokio::fs::remove_dir_all(&taken).await {
                    tracing::warn!(upload = %upload.0, %error, "removing a completed upload's parts failed");
                }
            }
            // Refused or failed: the parts stay, so the client can correct the list and retry.
            Err(_) => {
                if let Err(error) = tokio::fs::rename(&taken, &dir).await {
                    tracing::error!(upload = %upload.0, %error, "returning an upload after a failed completion failed");
                }
            }
        }
        outcome
    }

    /// Checks the listed parts, copies them into one spool file, and commits it; the object's
    /// ETag.
    async fn assemble_and_commit(
        &self,
        dir: &Path,
        listed: &[(u32, String)],
        key: &ObjectKey,
        context: &RequestContext,
    ) -> Result<String, S3Error> {
        let manifest = read_manifest(dir)
            .await?
            .ok_or_else(|| S3Error::internal(&std::io::Error::other("manifest vanished")))?;
        let stored = stored_parts(dir).await?;
        let mut chosen = Vec::with_capacity(listed.len());
        let mut previous = 0;
        for (number, etag) in listed {
            if *number <= previous {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidPartOrder,
                    "The list of parts was not in ascending order. Parts must be ordered by part number.",
                ));
            }
            previous = *number;
            let wanted = ContentSha256::from_hex(etag.trim_matches('"')).ok();
            let part = stored
                .iter()
                .find(|part| part.number == *number && Some(part.sha256) == wanted)
                .ok_or_else(|| invalid_part(*number, etag))?;
            chosen.push(part);
        }
        let Some((_, all_but_last)) = chosen.split_last() else {
            return Err(malformed_xml("The XML names no part."));
        };
        if let Some(small) = all_but_last.iter().find(|part| part.size < MIN_PART_BYTES) {
            return Err(S3Error::new(
                S3ErrorCode::EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed object size.",
            )
            .with("PartNumber", small.number.to_string())
            .with("ProposedSize", small.size.to_string())
            .with("MinSizeAllowed", MIN_PART_BYTES.to_string()));
        }
        let total = chosen.iter().map(|part| part.size).sum::<u64>();
        let cap = self.config.max_object_bytes;
        if total > cap {
            return Err(too_large(cap));
        }
        let mut spool = Spool::create(&self.config.spool_dir, total, true).await?;
        let mut buffer = vec![0u8; 256 * 1024];
        for part in &chosen {
            let mut file = tokio::fs::File::open(&part.path)
                .await
                .map_err(|e| io_error(&e))?;
            let mut hasher = Sha256::new();
            let mut copied = 0u64;
            loop {
                let n = file.read(&mut buffer).await.map_err(|e| io_error(&e))?;
                if n == 0 {
                    break;
                }
                let chunk = buffer.get(..n).unwrap_or_default();
                hasher.update(chunk);
                spool.write(chunk).await?;
                copied += n as u64;
            }
            let digest = ContentSha256::from_digest(hasher.finalize().into());
            if digest != part.sha256 || copied != part.size {
                tracing::error!(part = part.number, path = %part.path.display(), "a stored part does not have the hash its name records");
                return Err(invalid_part(part.number, &part.sha256.to_hex()));
            }
        }
        let spooled = spool.finish().await?;
        let meta = self
            .commit(
                Commit {
                    key,
                    content_type: &manifest.content_type,
                    only_if_absent: false,
                    created_by: CreatedBy::CompleteMultipartUpload,
                },
                spooled,
                context,
            )
            .await?;
        Ok(meta.etag)
    }

    /// Removes every multipart upload begun before `before`, and what is left of completions
    /// a killed process was running; the number removed. Run by the maintenance pass.
    pub async fn abort_stale_uploads(&self, before: Timestamp) -> std::io::Result<usize> {
        let root = self.uploads_dir();
        let mut entries = match tokio::fs::read_dir(&root).await {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(error),
        };
        let mut removed = 0;
        while let Some(entry) = entries.next_entry().await? {
            let path = entry.path();
            let stale = match read_manifest(&path).await {
                Ok(Some(manifest)) => manifest.initiated_unix_millis < before.unix_millis(),
                // No readable manifest: a create that died half-way, or garbage.
                Ok(None) | Err(_) => {
                    let modified = entry.metadata().await?.modified()?;
                    Timestamp::from_offset_date_time(modified.into()) < before
                }
            };
            if stale {
                tokio::fs::remove_dir_all(&path).await?;
                tracing::info!(upload = %entry.file_name().to_string_lossy(), "stale multipart upload aborted");
                removed += 1;
            }
        }
        Ok(removed)
    }
}

fn incomplete_body() -> S3Error {
    S3Error::new(
        S3ErrorCode::IncompleteBody,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    )
}

fn invalid_part(number: u32, etag: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidPart,
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    )
    .with("PartNumber", number.to_string())
    .with("ETag", etag)
}

fn malformed_xml(detail: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedXML,
        format!(
            "The XML you provided was not well-formed or did not validate against our published schema. {detail}"
        ),
    )
}

async fn read_manifest(dir: &Path) -> Result<Option<Manifest>, S3Error> {
    match tokio::fs::read(dir.join(MANIFEST)).await {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| S3Error::internal(&e)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io_error(&error)),
    }
}

async fn stored_parts(dir: &Path) -> Result<Vec<StoredPart>, S3Error> {
    let mut entries = tokio::fs::read_dir(dir).await.map_err(|e| io_error(&e))?;
    let mut parts = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(|e| io_error(&e))? {
        let Some((number, sha256)) = parse_part_name(&entry.file_name().to_string_lossy()) else {
            continue;
        };
        let metadata = entry.metadata().await.map_err(|e| io_error(&e))?;
        parts.push(StoredPart {
            number,
            sha256,
            size: metadata.len(),
            modified: metadata.modified().ok(),
            path: entry.path(),
        });
    }
    Ok(parts)
}

/// One part per number, in order: the latest written where a replaced one was left behind
/// (a process killed between renaming a new part in and removing the old).
fn latest_parts(mut parts: Vec<StoredPart>) -> Vec<StoredPart> {
    parts.sort_by(|a, b| a.number.cmp(&b.number).then(b.modified.cmp(&a.modified)));
    parts.dedup_by_key(|part| part.number);
    parts
}

/// The (part number, ETag) pairs of a CompleteMultipartUpload body, as listed.
async fn read_complete_body(body: Body) -> Result<Vec<(u32, String)>, S3Error> {
    let mut bytes = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| incomplete_body())?;
        if (bytes.len() + chunk.len()) as u64 > MAX_COMPLETE_BODY {
            return Err(malformed_xml("The body is too large."));
        }
        bytes.extend_from_slice(&chunk);
    }
    parse_complete(&bytes)
}

/// Parses `<CompleteMultipartUpload><Part><PartNumber>N</PartNumber><ETag>E</ETag></Part>...`.
/// Other elements of a part (its checksums) are accepted and ignored: the stored part is
/// identified by its ETag, which is its SHA-256.
pub fn parse_complete(xml: &[u8]) -> Result<Vec<(u32, String)>, S3Error> {
    let bad = |detail: &str| malformed_xml(detail);
    let mut reader = Reader::from_reader(xml);
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut listed = Vec::new();
    let (mut number, mut etag): (Option<u32>, Option<String>) = (None, None);
    // The text of the element at depth 3, which entity references split into pieces.
    let mut text = String::new();
    loop {
        match reader.read_event().map_err(|_| bad("It does not parse."))? {
            Event::Start(start) => {
                path.push(start.local_name().as_ref().to_vec());
                let name = start.local_name();
                let allowed = match path.len() {
                    1 => name.as_ref() == b"CompleteMultipartUpload",
                    2 => name.as_ref() == b"Part",
                    // A part's PartNumber, ETag and checksums.
                    3 => true,
                    _ => false,
                };
                if !allowed {
                    return Err(bad("Unexpected element."));
                }
                text.clear();
            }
            Event::End(_) => {
                match path.len() {
                    3 => match path[2].as_slice() {
                        b"PartNumber" => {
                            number = Some(text.trim().parse().map_err(|_| bad("Bad PartNumber."))?);
                        }
                        b"ETag" => etag = Some(text.trim().to_owned()),
                        _ => {}
                    },
                    2 => {
                        let part = number
                            .take()
                            .ok_or_else(|| bad("A Part has no PartNumber."))?;
                        let tag = etag.take().ok_or_else(|| bad("A Part has no ETag."))?;
                        if listed.len() >= MAX_PART_NUMBER as usize {
                            return Err(bad("Too many parts."));
                        }
                        listed.push((part, tag));
                    }
                    _ => {}
                }
                path.pop();
            }
            Event::Text(piece) if path.len() == 3 => {
                text.push_str(&piece.decode().map_err(|_| bad("Text is not UTF-8."))?);
            }
            Event::GeneralRef(reference) if path.len() == 3 => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match &*reference {
                        b"quot" => '"',
                        b"amp" => '&',
                        b"apos" => '\'',
                        b"lt" => '<',
                        b"gt" => '>',
                        _ => return Err(bad("Unknown entity.")),
                    },
                    Err(_) => return Err(bad("Bad character reference.")),
                };
                text.push(resolved);
            }
            Event::Empty(_) if path.len() < 2 => return Err(bad("Unexpected element.")),
            Event::Eof => break,
            _ => {}
        }
    }
    if !path.is_empty() {
        return Err(bad("An element is not closed."));
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_complete_body_lists_parts_in_the_order_given() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
            <CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Part><ETag>&quot;aa&quot;</ETag><PartNumber>1</PartNumber><ChecksumSHA256>x</ChecksumSHA256></Part>
              <Part><PartNumber>3</PartNumber><ETag>"bb"</ETag></Part>
            </CompleteMultipartUpload>"#;
        assert_eq!(
            parse_complete(xml).unwrap(),
            vec![(1, "\"aa\"".to_owned()), (3, "\"bb\"".to_owned())]
        );
    }

    #[test]
    fn malformed_complete_bodies_are_refused() {
        for xml in [
            &b""[..],
            b"<CompleteMultipartUpload>",
            b"<Other><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Other>",
            b"<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber><Deep>1</Deep></PartNumber></Part></CompleteMultipartUpload>",
        ] {
            let outcome = parse_complete(xml);
            // An empty document parses to no parts; completing then refuses it as naming none.
            if xml.is_empty() {
                assert_eq!(outcome.unwrap(), vec![]);
                continue;
            }
            assert_eq!(
                outcome.unwrap_err().code,
                S3ErrorCode::MalformedXML,
                "{}",
                String::from_utf8_lossy(xml)
            );
        }
    }

    #[test]
    fn upload_ids_are_only_what_the_endpoint_issues() {
        assert!(UploadId::parse(&UploadId::new().0).is_ok());
        for raw in [
            "",
            "../../etc",
            &"A".repeat(32),
            &"a".repeat(31),
            &"0".repeat(33),
        ] {
            assert_eq!(
                UploadId::parse(raw).unwrap_err().code,
                S3ErrorCode::NoSuchUpload
            );
        }
    }

    #[test]
    fn part_names_round_trip_and_others_are_ignored() {
        let sha = ContentSha256::of(b"part");
        assert_eq!(parse_part_name(&part_name(42, &sha)), Some((42, sha)));
        for other in ["upload.json", "part-1-abc", "part-00001-zz", "part-00001"] {
            assert_eq!(parse_part_name(other), None, "{other}");
        }
    }
}
