//! What every AWS adapter test needs: the emulator's address, clients for it, unique names.
//!
//! The tests run against a real moto server (`scripts/test` starts one and exports
//! `VETTED_TEST_AWS_ENDPOINT`). Without it [`endpoint`] and [`context`] answer `None` and the
//! test returns, skipped with a line saying why, so that `cargo test` passes on a machine
//! with no emulator. `scripts/test` also sets `VETTED_TEST_REQUIRE_AWS=1`, under which a
//! missing endpoint panics instead: the full run can never pass with these tests skipped.

#![allow(dead_code)]

use std::io::Write;
use std::time::{Duration, Instant};

use vetted_aws::config::AwsContext;
use vetted_core::UploadId;

pub const ENDPOINT_VARIABLE: &str = "VETTED_TEST_AWS_ENDPOINT";
pub const REQUIRE_VARIABLE: &str = "VETTED_TEST_REQUIRE_AWS";

/// The emulator's URL, or `None` (after a line on stderr saying the test is skipped) when it
/// is not set; a panic instead when `VETTED_TEST_REQUIRE_AWS=1`. Use as
/// `let Some(endpoint) = common::endpoint() else { return };`.
pub fn endpoint() -> Option<String> {
    let env = |name| std::env::var(name).ok();
    match decide(env(ENDPOINT_VARIABLE), env(REQUIRE_VARIABLE)) {
        Ok(Some(url)) => Some(url),
        Ok(None) => {
            // Straight to stderr: the test harness would capture (and hide) an eprintln!.
            let _ = writeln!(
                std::io::stderr(),
                "skipped: {ENDPOINT_VARIABLE} is not set (./scripts/test starts moto and sets it)"
            );
            None
        }
        Err(why) => panic!("{why}"),
    }
}

/// `Ok(Some(url))`: run; `Ok(None)`: skip; `Err`: fail, saying how to get an emulator.
fn decide(endpoint: Option<String>, require: Option<String>) -> Result<Option<String>, String> {
    if let Some(url) = endpoint.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        return Ok(Some(url.to_owned()));
    }
    if require.as_deref().map(str::trim) == Some("1") {
        return Err(format!(
            "{ENDPOINT_VARIABLE} is not set, and {REQUIRE_VARIABLE}=1 says this test must run: \
             use ./scripts/test, or set {ENDPOINT_VARIABLE} to a running moto_server"
        ));
    }
    Ok(None)
}

#[test]
fn an_endpoint_runs_a_missing_one_skips_unless_required() {
    let url = || Some("http://127.0.0.1:5000".to_owned());
    assert_eq!(decide(url(), None), Ok(url()));
    assert_eq!(decide(url(), Some("1".to_owned())), Ok(url()));
    assert_eq!(decide(None, None), Ok(None));
    assert_eq!(decide(Some(" ".to_owned()), Some("0".to_owned())), Ok(None));
    assert!(decide(None, Some("1".to_owned())).is_err());
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
