//! S3's error responses: the code, HTTP status and XML body S3 sends for each refusal.
//!
//! Browsers and SDKs read the `<Code>` element, so the codes are S3's own; the code is also
//! the stable reason for a refusal in logs.

use std::fmt;

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};

/// The S3 error codes this endpoint can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3ErrorCode {
    AccessDenied,
    AuthorizationQueryParametersError,
    BadDigest,
    BadRequest,
    EntityTooLarge,
    EntityTooSmall,
    IncompleteBody,
    InternalError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    InvalidPolicyDocument,
    InvalidRange,
    InvalidToken,
    MalformedPOSTRequest,
    MalformedXML,
    MaxPostPreDataLengthExceeded,
    MethodNotAllowed,
    MissingContentLength,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    NotImplemented,
    PreconditionFailed,
    SignatureDoesNotMatch,
    XAmzContentSHA256Mismatch,
}

impl S3ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "AccessDenied",
            Self::AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            Self::BadDigest => "BadDigest",
            Self::BadRequest => "BadRequest",
            Self::EntityTooLarge => "EntityTooLarge",
            Self::EntityTooSmall => "EntityTooSmall",
            Self::IncompleteBody => "IncompleteBody",
            Self::InternalError => "InternalError",
            Self::InvalidAccessKeyId => "InvalidAccessKeyId",
            Self::InvalidArgument => "InvalidArgument",
            Self::InvalidPart => "InvalidPart",
            Self::InvalidPartOrder => "InvalidPartOrder",
            Self::InvalidPolicyDocument => "InvalidPolicyDocument",
            Self::InvalidRange => "InvalidRange",
            Self::InvalidToken => "InvalidToken",
            Self::MalformedPOSTRequest => "MalformedPOSTRequest",
            Self::MalformedXML => "MalformedXML",
            Self::MaxPostPreDataLengthExceeded => "MaxPostPreDataLengthExceededError",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::MissingContentLength => "MissingContentLength",
            Self::NoSuchBucket => "NoSuchBucket",
            Self::NoSuchKey => "NoSuchKey",
            Self::NoSuchUpload => "NoSuchUpload",
            Self::NotImplemented => "NotImplemented",
            Self::PreconditionFailed => "PreconditionFailed",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::AccessDenied
            | Self::InvalidAccessKeyId
            | Self::SignatureDoesNotMatch
            | Self::InvalidToken => StatusCode::FORBIDDEN,
            Self::NoSuchBucket | Self::NoSuchKey | Self::NoSuchUpload => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::MissingContentLength => StatusCode::LENGTH_REQUIRED,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::InvalidRange => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            Self::AuthorizationQueryParametersError
            | Self::BadDigest
            | Self::BadRequest
            | Self::EntityTooLarge
            | Self::EntityTooSmall
            | Self::IncompleteBody
            | Self::InvalidArgument
            | Self::InvalidPart
            | Self::InvalidPartOrder
            | Self::MalformedXML
            | Self::InvalidPolicyDocument
            | Self::MalformedPOSTRequest
            | Self::MaxPostPreDataLengthExceeded
            | Self::XAmzContentSHA256Mismatch => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for S3ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal, as S3 would word it: a code, a message and the extra elements S3 adds for that
/// code (`StringToSign` for a signature mismatch, `MaxSizeAllowed` for a large body, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct S3Error {
    pub code: S3ErrorCode,
    pub message: String,
    pub details: Vec<(&'static str, String)>,
}

impl S3Error {
    pub fn new(code: S3ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// Adds an element to the XML body after `<Message>`.
    pub fn with(mut self, element: &'static str, value: impl Into<String>) -> Self {
        self.details.push((element, value.into()));
        self
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(S3ErrorCode::AccessDenied, message)
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(S3ErrorCode::InvalidArgument, message)
    }

    /// A failure of ours, not the client's. The cause is logged here, because the client only
    /// ever sees S3's generic message.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause, "upload endpoint failed");
        Self::new(
            S3ErrorCode::InternalError,
            "We encountered an internal error. Please try again.",
        )
    }

    pub fn detail(&self, element: &str) -> Option<&str> {
        self.details
            .iter()
            .find(|(name, _)| *name == element)
            .map(|(_, value)| value.as_str())
    }

    /// The XML document S3 sends as the body of an error.
    pub fn to_xml(&self, resource: &str, request_id: &str, host_id: &str) -> String {
        let mut xml = String::with_capacity(256);
        xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
        push_element(&mut xml, "Code", self.code.as_str());
        push_element(&mut xml, "Message", &self.message);
        for (element, value) in &self.details {
            push_element(&mut xml, element, value);
        }
        push_element(&mut xml, "Resource", resource);
        push_element(&mut xml, "RequestId", request_id);
        push_element(&mut xml, "HostId", host_id);
        xml.push_str("</Error>");
        xml
    }

    /// The full response; a HEAD response carries the status and headers only, as S3's does.
    pub fn to_response(&self, resource: &str, request_id: &str, host_id: &str) -> Response {
        let xml = self.to_xml(resource, request_id, host_id);
        let mut response = Response::new(Body::from(xml.clone()));
        *response.status_mut() = self.code.status();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            http::HeaderValue::from_static("application/xml"),
        );
        headers.insert(CONTENT_LENGTH, http::HeaderValue::from(xml.len()));
        response
    }
}

/// Appends `<name>value</name>` with the value escaped.
pub(crate) fn push_element(xml: &mut String, name: &str, value: &str) {
    xml.push('<');
    xml.push_str(name);
    xml.push('>');
    xml.push_str(&xml_escape(value));
    xml.push_str("</");
    xml.push_str(name);
    xml.push('>');
}

pub(crate) fn xml_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0 text at all.
            c if c.is_control() && c != '\n' && c != '\t' => {
                out.push_str(&format!("&#x{:X};", u32::from(c)))
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_xml_has_s3_shape_and_escapes_values() {
        let error = S3Error::new(S3ErrorCode::SignatureDoesNotMatch, "bad <sig> & \"more\"")
            .with("StringToSign", "AWS4-HMAC-SHA256\n20130524T000000Z");
        let xml = error.to_xml("/s3/b/k", "REQ1", "HOST1");
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>"));
        assert!(xml.contains("<Code>SignatureDoesNotMatch</Code>"));
        assert!(xml.contains("<Message>bad &lt;sig&gt; &amp; &quot;more&quot;</Message>"));
        assert!(xml.contains("<StringToSign>AWS4-HMAC-SHA256\n20130524T000000Z</StringToSign>"));
        assert!(xml.contains("<Resource>/s3/b/k</Resource><RequestId>REQ1</RequestId>"));
        assert!(xml.ends_with("</Error>"));
    }

    #[test]
    fn codes_map_to_s3_statuses() {
        assert_eq!(S3ErrorCode::AccessDenied.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            S3ErrorCode::SignatureDoesNotMatch.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            S3ErrorCode::EntityTooLarge.status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            S3ErrorCode::EntityTooSmall.status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            S3ErrorCode::PreconditionFailed.status(),
            StatusCode::PRECONDITION_FAILED
        );
        assert_eq!(
            S3ErrorCode::InvalidPolicyDocument.status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            S3ErrorCode::MaxPostPreDataLengthExceeded.as_str(),
            "MaxPostPreDataLengthExceededError"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(xml_escape("a\u{1}b"), "a&#x1;b");
    }
}
