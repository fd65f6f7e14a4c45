//! Whether a test that needs the AWS emulator runs, is skipped, or fails: decided in one place
//! for every test crate that runs a contract suite (or anything else) against moto.
//!
//! `scripts/test` starts moto and sets `VETTED_TEST_AWS_ENDPOINT`. Without it a test is
//! skipped, with a line on stderr saying why, so that `cargo test` passes on a machine with
//! no emulator. `scripts/test` also sets `VETTED_TEST_REQUIRE_AWS=1`, under which a missing
//! endpoint fails the test instead: the full run can never pass with these tests skipped.

use std::io::Write;

/// The emulator's URL; `scripts/test` starts moto and sets it.
pub const ENDPOINT_VARIABLE: &str = "VETTED_TEST_AWS_ENDPOINT";
/// Set to `1` (as `scripts/test` does), a missing endpoint fails the test instead of skipping it.
pub const REQUIRE_VARIABLE: &str = "VETTED_TEST_REQUIRE_AWS";

/// The emulator's URL (without a trailing `/`), or `None` after a line on stderr saying the
/// test is skipped; a panic instead when `VETTED_TEST_REQUIRE_AWS=1`. Use as
/// `let Some(endpoint) = aws_endpoint() else { return };`.
pub fn aws_endpoint() -> Option<String> {
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

/// The emulator's URL or a panic, for a tool that has nothing to do without one (the intake
/// benchmark), whatever `VETTED_TEST_REQUIRE_AWS` says.
pub fn aws_endpoint_required() -> String {
    let env = |name| std::env::var(name).ok();
    match decide(env(ENDPOINT_VARIABLE), Some("1".to_owned())) {
        Ok(Some(url)) => url,
        Ok(None) => unreachable!("a required endpoint is never skipped"),
        Err(why) => panic!("{why}"),
    }
}

/// `Ok(Some(url))`: run; `Ok(None)`: skip; `Err`: fail, saying how to get an emulator.
fn decide(endpoint: Option<String>, require: Option<String>) -> Result<Option<String>, String> {
    if let Some(url) = endpoint.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        return Ok(Some(url.trim_end_matches('/').to_owned()));
    }
    if require.as_deref().map(str::trim) == Some("1") {
        return Err(format!(
            "{ENDPOINT_VARIABLE} is not set, and {REQUIRE_VARIABLE}=1 says this test must run: \
             use ./scripts/test, or start `.venv/bin/python scripts/moto_server.py -H 127.0.0.1 \
             -p PORT` (with Step Functions execution enabled) and set \
             {ENDPOINT_VARIABLE}=http://127.0.0.1:PORT"
        ));
    }
    Ok(None)
}

/// Every message moto's SES has accepted, from every test sharing the emulator: moto keeps
/// them in its model dump, `GET /moto-api/data.json` under `ses` → `Message` (measured on moto
/// 5.2). Its whole dump walks every model of every service and reads every S3 body while other
/// tests change them: it failed while another test deleted a bucket (seen in CI:
/// `MissingBucket` from a key's `status`), and late in a CI run it failed ten times running
/// ("error decoding response body"). So this asks `scripts/moto_server.py` for SES's models
/// alone (`?service=ses`, which that wrapper adds), and still asks again, a few times, before
/// the test fails.
pub async fn moto_ses_messages(endpoint: &str) -> Vec<serde_json::Value> {
    let mut last_error = String::new();
    for _ in 0..10 {
        match moto_ses_messages_once(endpoint).await {
            Ok(messages) => return messages,
            Err(error) => last_error = error,
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    panic!("moto's SES dump failed ten times; the last: {last_error}");
}

/// One request of [`moto_ses_messages`], for a caller that retries on its own terms.
pub async fn moto_ses_messages_once(endpoint: &str) -> Result<Vec<serde_json::Value>, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = format!("{endpoint}/moto-api/data.json?service=ses");
    let data = reqwest::get(&url)
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .json::<serde_json::Value>()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::decide;

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn an_endpoint_runs_a_missing_one_skips_unless_required() {
        let url = "http://127.0.0.1:5000";
        assert_eq!(decide(some("http://127.0.0.1:5000/"), None), Ok(some(url)));
        assert_eq!(decide(some(url), some("1")), Ok(some(url)));
        assert_eq!(decide(None, None), Ok(None));
        assert_eq!(decide(some("  "), some("0")), Ok(None));
        let refused = decide(None, some("1")).unwrap_err();
        assert!(
            refused.contains("VETTED_TEST_AWS_ENDPOINT is not set"),
            "{refused}"
        );
        assert!(decide(some(""), some("1")).is_err());
    }
}
