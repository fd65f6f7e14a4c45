//! Mapping SDK errors to retryable or permanent backend errors.
//!
//! One rule for every service, so that a worker's decision to retry does not depend on which
//! adapter failed: throttling, server-side faults, timeouts and failures to reach the endpoint
//! may pass if tried again; a request that could not be built, or that the service refused as
//! invalid or forbidden, never will. The SDK error is kept as the source.

use std::error::Error as StdError;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use thiserror::Error;
use vetted_core::ports::BackendError;

/// The SDK's error for a call. Every `aws-sdk-*` crate re-exports this same type, with the
/// same HTTP response type, so one alias serves all services.
pub(crate) type SdkError<E> = aws_sdk_s3::error::SdkError<E>;

/// Service error codes that mean "slow down" or "try again", across S3, SQS, DynamoDB, Step
/// Functions and EventBridge.
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
    "TransactionInProgressException",
    "TransactionConflictException",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "KMSThrottlingException",
];

/// Service error codes that mean "this request rate is over your quota", a subset of
/// [`RETRYABLE_CODES`]: the caller should slow down rather than count a failure.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
];

/// Whether a service error code names a transient condition.
pub fn is_retryable_code(code: &str) -> bool {
    RETRYABLE_CODES.contains(&code)
}

/// Whether the service refused the call for its request rate: a throttling code, or HTTP 429
/// whatever the code. (Step Functions answers a `StartExecution` over its token bucket with
/// `ThrottlingException`, HTTP 400.) What the SDK's own retries could not absorb.
pub(crate) fn is_throttling<E>(err: &SdkError<E>) -> bool
where
    E: ProvideErrorMetadata,
{
    let SdkError::ServiceError(service) = err else {
        return false;
    };
    err.code()
        .is_some_and(|code| THROTTLING_CODES.contains(&code))
        || service.raw().status().as_u16() == 429
}

/// One AWS call that failed: a one-line summary, and the SDK's error as the source.
#[derive(Debug, Error)]
#[error("{summary}")]
pub struct AwsCallError {
    summary: String,
    #[source]
    source: Box<dyn StdError + Send + Sync>,
}

impl AwsCallError {
    /// The service's code and message, or the chain of causes when it did not answer.
    pub fn summary(&self) -> &str {
        &self.summary
    }
}

/// Translates an SDK error into a [`BackendError`] for `operation`.
pub(crate) fn backend_error<E>(operation: &'static str, err: SdkError<E>) -> BackendError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let retryable = is_retryable(&err);
    let error = AwsCallError {
        summary: summarize(&err),
        source: Box::new(err),
    };
    BackendError {
        operation,
        retryable,
        source: Box::new(error),
    }
}

/// A permanent failure that is not an SDK error: an answer the adapter cannot use.
pub(crate) fn unusable_answer(operation: &'static str, what: impl Into<String>) -> BackendError {
    BackendError::permanent(operation, UnusableAnswer(what.into()))
}

#[derive(Debug, Error)]
#[error("unusable answer from AWS: {0}")]
pub(crate) struct UnusableAnswer(pub(crate) String);

fn is_retryable<E>(err: &SdkError<E>) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ConstructionFailure(_) => false,
        SdkError::TimeoutError(_) => true,
        // A bad endpoint URL is the caller's mistake; everything else on the way there
        // (refused, reset, DNS, TLS) may clear up.
        SdkError::DispatchFailure(failure) => !failure.is_user(),
        // A response that could not be read was most likely cut short.
        SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            let status = service.raw().status();
            if err.code().is_some_and(is_retryable_code) {
                return true;
            }
            status.is_server_error() || status.as_u16() == 429
        }
        _ => false,
    }
}

fn summarize<E>(err: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    if let SdkError::ServiceError(service) = err {
        let status = service.raw().status().as_u16();
        let code = err.code().unwrap_or("no error code");
        return match err.message() {
            Some(message) => format!("{code} (HTTP {status}): {message}"),
            None => format!("{code} (HTTP {status})"),
        };
    }
    // The SDK's own Display says only "dispatch failure"; the innermost cause says why.
    let mut innermost: Option<&(dyn StdError + 'static)> = None;
    let mut next = err.source();
    while let Some(cause) = next {
        innermost = Some(cause);
        next = cause.source();
    }
    match innermost {
        Some(cause) => format!("{err}: {cause}"),
        None => err.to_string(),
    }
}

#[cfg(test)]
pub(crate) fn service_error<E>(err: E, status: u16) -> SdkError<E> {
    use aws_sdk_s3::config::http::HttpResponse;
    use aws_smithy_types::body::SdkBody;
    let status = status.try_into().expect("a valid HTTP status");
    SdkError::service_error(err, HttpResponse::new(status, SdkBody::empty()))
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::operation::get_object::GetObjectError;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn answered(status: u16, code: &str) -> BackendError {
        let metadata = ErrorMetadata::builder()
            .code(code)
            .message("what the service said")
            .build();
        backend_error(
            "s3:GetObject",
            service_error(GetObjectError::generic(metadata), status),
        )
    }

    #[test]
    fn throttling_and_server_faults_are_retryable_codes() {
        for code in ["ThrottlingException", "SlowDown", "InternalError"] {
            assert!(is_retryable_code(code), "{code}");
        }
        for code in ["AccessDenied", "ValidationException", "NoSuchBucket"] {
            assert!(!is_retryable_code(code), "{code}");
        }
    }

    #[test]
    fn service_errors_are_retryable_when_throttled_or_the_service_failed() {
        for (status, code) in [
            (503, "ServiceUnavailable"),
            (500, "SomethingNew"),
            (400, "ThrottlingException"),
            (400, "ProvisionedThroughputExceededException"),
            (429, "TooManyRequests"),
        ] {
            assert!(answered(status, code).retryable, "{status} {code}");
        }
        for (status, code) in [
            (403, "AccessDenied"),
            (404, "NoSuchBucket"),
            (400, "ValidationException"),
        ] {
            assert!(!answered(status, code).retryable, "{status} {code}");
        }
    }

    fn throttled(status: u16, code: &str) -> bool {
        let metadata = ErrorMetadata::builder().code(code).build();
        is_throttling(&service_error(GetObjectError::generic(metadata), status))
    }

    #[test]
    fn throttling_is_told_apart_from_other_retryable_errors() {
        for (status, code) in [
            (400, "ThrottlingException"),
            (400, "Throttling"),
            (400, "TooManyRequestsException"),
            (503, "SlowDown"),
            (429, "SomethingNew"),
        ] {
            assert!(throttled(status, code), "{status} {code}");
        }
        for (status, code) in [
            (500, "InternalError"),
            (503, "ServiceUnavailable"),
            (400, "ProvisionedThroughputExceededException"),
            (400, "ExecutionAlreadyExists"),
            (403, "AccessDenied"),
        ] {
            assert!(!throttled(status, code), "{status} {code}");
        }
        let timed_out: SdkError<GetObjectError> = SdkError::timeout_error("too slow");
        assert!(!is_throttling(&timed_out));
        for code in THROTTLING_CODES {
            assert!(is_retryable_code(code), "{code} is retryable too");
        }
    }

    #[test]
    fn the_summary_names_the_code_status_and_message_and_keeps_the_sdk_error() {
        let e = answered(404, "NoSuchBucket");
        assert_eq!(e.operation, "s3:GetObject");
        assert_eq!(
            e.source.to_string(),
            "NoSuchBucket (HTTP 404): what the service said"
        );
        let sdk = e.source.source().expect("the SDK error is the source");
        assert!(sdk.downcast_ref::<SdkError<GetObjectError>>().is_some());
    }

    #[test]
    fn unbuildable_requests_are_permanent_and_timeouts_retryable() {
        let built: SdkError<GetObjectError> = SdkError::construction_failure("bad input");
        assert!(!backend_error("s3:GetObject", built).retryable);
        let timed_out: SdkError<GetObjectError> = SdkError::timeout_error("too slow");
        assert!(backend_error("s3:GetObject", timed_out).retryable);
    }
}
