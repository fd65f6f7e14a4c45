//! Streaming `multipart/form-data` parsing for POST uploads: the fields first, kept in memory
//! under a hard cap, then the file, streamed to a sink under the policy's size cap.
//!
//! S3's rules: field names are case-insensitive, the file is the field named `file` and must
//! come last; anything after it is ignored. We also refuse duplicate fields (which value would
//! the policy check?) and any form whose fields exceed the cap, before the signature is even
//! looked at, so an unauthenticated client cannot make us hold more than the cap in memory.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::errors::{S3Error, S3ErrorCode};

/// Limits on what a form may make us buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormLimits {
    /// Total bytes of field names and values before the file.
    pub max_field_bytes: usize,
    /// Number of fields before the file.
    pub max_fields: usize,
    /// Bytes read off the wire before the file starts (fields, part headers, preamble, and
    /// whatever the first read of the file brings along). Bounds the parser's own buffering.
    pub max_wire_bytes_before_file: u64,
}

impl Default for FormLimits {
    fn default() -> Self {
        Self {
            max_field_bytes: 64 * 1024,
            max_fields: 100,
            // Fields, plus room for one maximal read from the connection.
            max_wire_bytes_before_file: 64 * 1024 + 1024 * 1024,
        }
    }
}

/// The fields that preceded the file, names lowercased, each present once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormFields {
    fields: Vec<(String, String)>,
}

impl FormFields {
    /// Looks a field up by name, ignoring case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every field name, lowercase, in form order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(name, _)| name.as_str())
    }

    /// Adds a field; refuses a second field of the same name.
    pub fn insert(&mut self, name: &str, value: String) -> Result<(), S3Error> {
        let name = name.to_ascii_lowercase();
        if self.get(&name).is_some() {
            return Err(S3Error::invalid_argument(format!(
                "The form field '{name}' appears more than once."
            )));
        }
        self.fields.push((name, value));
        Ok(())
    }
}

/// Why the wire stream was cut short: our own limit, or the client's connection.
#[derive(Debug, thiserror::Error)]
enum WireError {
    #[error("more than {0} bytes before the file")]
    TooMuchBeforeFile(u64),
    #[error("reading the request body failed: {0}")]
    Body(Box<dyn std::error::Error + Send + Sync>),
}

/// Counts the bytes read off the wire and stops the stream once too many arrived before the
/// file; multer buffers a part's headers, and the preamble, without a bound of its own.
struct GatedStream<S> {
    inner: S,
    seen: u64,
    limit: u64,
    file_started: Arc<AtomicBool>,
}

impl<S, E> Stream for GatedStream<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Item = Result<Bytes, WireError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.seen = self.seen.saturating_add(chunk.len() as u64);
                if !self.file_started.load(Ordering::Relaxed) && self.seen > self.limit {
                    return Poll::Ready(Some(Err(WireError::TooMuchBeforeFile(self.limit))));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(WireError::Body(error.into())))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn malformed() -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedPOSTRequest,
        "The body of your POST request is not well-formed multipart/form-data.",
    )
}

fn too_much_before_file() -> S3Error {
    S3Error::new(
        S3ErrorCode::MaxPostPreDataLengthExceeded,
        "Your POST request fields preceding the upload file were too large.",
    )
}

fn incomplete() -> S3Error {
    S3Error::new(
        S3ErrorCode::IncompleteBody,
        "The request body ended or failed before it was complete.",
    )
}

/// Maps a parser error to S3's: our limit, a body cut short, or a malformed body.
fn from_multer(error: multer::Error) -> S3Error {
    match &error {
        multer::Error::StreamReadFailed(source) => match source.downcast_ref::<WireError>() {
            Some(WireError::TooMuchBeforeFile(_)) => too_much_before_file(),
            _ => incomplete(),
        },
        multer::Error::IncompleteFieldData { .. } => incomplete(),
        _ => malformed(),
    }
}

/// The file part, positioned at its first byte.
pub struct FilePart {
    field: multer::Field<'static>,
    /// The filename the browser sent; metadata only.
    pub filename: Option<String>,
    /// The part's own `Content-Type` header (S3 takes the stored type from the form field).
    pub content_type: Option<String>,
}

impl std::fmt::Debug for FilePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilePart")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// Reads a POST body up to the file: returns the fields and the file part, unread.
///
/// `content_type` is the request's header. A body that is not `multipart/form-data` is S3's
/// `PreconditionFailed`; one that ends without a `file` field is `InvalidArgument`.
pub async fn read_until_file<S, E>(
    body: S,
    content_type: Option<&str>,
    limits: FormLimits,
) -> Result<(FormFields, FilePart), S3Error>
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    let boundary = content_type
        .filter(|value| {
            value
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
        .and_then(|value| multer::parse_boundary(value).ok())
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            )
            .with(
                "Condition",
                "Bucket POST must be of the enclosure-type multipart/form-data",
            )
        })?;
    let file_started = Arc::new(AtomicBool::new(false));
    let gated = GatedStream {
        inner: body,
        seen: 0,
        limit: limits.max_wire_bytes_before_file,
        file_started: Arc::clone(&file_started),
    };
    let mut multipart = multer::Multipart::new(gated, boundary);
    let mut fields = FormFields::default();
    let mut field_bytes = 0usize;
    let mut count = 0usize;
    loop {
        let Some(mut field) = multipart.next_field().await.map_err(from_multer)? else {
            return Err(S3Error::invalid_argument(
                "POST requires exactly one file upload per request.",
            ));
        };
        let name = field
            .name()
            .ok_or_else(|| S3Error::invalid_argument("Every form part must have a name."))?
            .to_owned();
        if name.eq_ignore_ascii_case("file") {
            file_started.store(true, Ordering::Relaxed);
            let filename = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(ToString::to_string);
            return Ok((
                fields,
                FilePart {
                    field,
                    filename,
                    content_type,
                },
            ));
        }
        count += 1;
        if count > limits.max_fields {
            return Err(too_much_before_file());
        }
        field_bytes = field_bytes.saturating_add(name.len());
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(from_multer)? {
            field_bytes = field_bytes.saturating_add(chunk.len());
            if field_bytes > limits.max_field_bytes {
                return Err(too_much_before_file());
            }
            value.extend_from_slice(&chunk);
        }
        if field_bytes > limits.max_field_bytes {
            return Err(too_much_before_file());
        }
        let value = String::from_utf8(value).map_err(|_| {
            S3Error::invalid_argument(format!("The form field '{name}' is not valid UTF-8."))
        })?;
        fields.insert(&name, value)?;
    }
}

/// What was written of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub size: u64,
}

impl FilePart {
    /// The file's next chunk, `None` at its end. Parts after the file are not read.
    pub async fn next_chunk(&mut self) -> Result<Option<bytes::Bytes>, S3Error> {
        self.field.chunk().await.map_err(from_multer)
    }

    /// Streams the file into `sink`, refusing with `EntityTooLarge` as soon as it exceeds
    /// `max_size`; nothing past the cap is written. Parts after the file are not read.
    pub async fn copy_to<W>(mut self, sink: &mut W, max_size: u64) -> Result<Copied, S3Error>
    where
        W: AsyncWrite + Unpin,
    {
        let mut size = 0u64;
        while let Some(chunk) = self.next_chunk().await? {
            size = size.saturating_add(chunk.len() as u64);
            if size > max_size {
                return Err(too_large(max_size));
            }
            sink.write_all(&chunk)
                .await
                .map_err(|e| S3Error::internal(&e))?;
        }
        sink.flush().await.map_err(|e| S3Error::internal(&e))?;
        Ok(Copied { size })
    }
}

/// S3's `EntityTooLarge`, naming the allowed maximum.
pub fn too_large(max_size: u64) -> S3Error {
    S3Error::new(
        S3ErrorCode::EntityTooLarge,
        "Your proposed upload exceeds the maximum allowed size",
    )
    .with("MaxSizeAllowed", max_size.to_string())
}

#[cfg(test)]
#[path = "form_tests.rs"]
mod tests;
