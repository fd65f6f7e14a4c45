//! What every Vetted Lambda function shares, so that each `functions/<name>/src/main.rs` is
//! only the composition of adapters and a handler.
//!
//! - [`env`]: typed settings read once at start-up; a missing or malformed variable stops the
//!   function with a message naming it, before the first event.
//! - [`sqs`]: an SQS batch in, an `SqsBatchResponse` naming only the failed messages out.

pub mod env;
pub mod sqs;

/// Structured logs for CloudWatch, filtered by `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}
