//! What every AWS adapter test needs: the emulator's address, clients for it, unique names.
//!
//! The tests run against a real moto server (`scripts/test` starts one and exports
//! `VETTED_TEST_AWS_ENDPOINT`). Without it [`endpoint`] and [`context`] answer `None` and the
//! test returns, skipped with a line saying why, so that `cargo test` passes on a machine
//! with no emulator. `scripts/test` also sets `VETTED_TEST_REQUIRE_AWS=1`, under which a
//! missing endpoint panics instead: the full run can never pass with these tests skipped.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use vetted_aws::config::AwsContext;
use vetted_core::UploadId;

/// The emulator's URL, or `None` (the test is skipped, with a line saying why), or a panic
/// under `VETTED_TEST_REQUIRE_AWS=1`: see [`vetted_contract::emulator`].
pub fn endpoint() -> Option<String> {
    vetted_contract::emulator::aws_endpoint()
}

/// Clients for the emulator, with the dummy credentials and region it accepts; `None` when
/// the test is to be skipped (see [`endpoint`]).
pub async fn context() -> Option<AwsContext> {
    let endpoint = endpoint()?;
    Some(
        AwsContext::builder()
            .endpoint_url(endpoint)
            .region("us-east-1")
            .static_credentials("test", "test")
            .load()
            .await,
    )
}

/// A name no other test or run uses, valid for buckets, queues and tables (lowercase,
/// letters, digits and '-').
pub fn unique(prefix: &str) -> String {
    let id = UploadId::generate().to_string().replace('-', "");
    format!("{prefix}-{id}")
}

/// Calls `attempt` until it returns `Some`, or panics naming `what` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
