//! `vetted webhook verify`: checks a delivery as a receiver would, for people debugging one.
//!
//! Reads `{"headers": {"webhook-id": …, "webhook-timestamp": …, "webhook-signature": …},
//! "body": "<the raw body, as a string>"}` from stdin; exits 0 if the signature verifies with
//! the secret and the timestamp is within the tolerance of this machine's clock, 1 if not,
//! 2 if the input or the secret is malformed.

use std::collections::HashMap;
use std::io::Read;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use serde::Deserialize;
use vetted_core::webhooks::WebhookSecret;
use vetted_core::webhooks::sign::{DEFAULT_TOLERANCE_SECONDS, Received, verify};

/// Tools for webhook receivers.
#[derive(Debug, Args)]
pub struct WebhookArgs {
    #[command(subcommand)]
    pub command: WebhookCommand,
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Check a delivery's Standard Webhooks signature: reads {"headers": {...}, "body": "..."}
    /// from stdin; exit status 0 if it verifies, 1 if not, 2 for malformed input.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The endpoint's secret, `whsec_…`.
    #[arg(long, env = "VETTED_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: String,
    /// How far, in seconds, the delivery's timestamp may be from now.
    #[arg(long, default_value_t = DEFAULT_TOLERANCE_SECONDS)]
    pub tolerance: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    headers: HashMap<String, String>,
    body: String,
}

pub fn run(args: WebhookArgs) -> ExitCode {
    match args.command {
        WebhookCommand::Verify(args) => verify_stdin(&args),
    }
}

fn verify_stdin(args: &VerifyArgs) -> ExitCode {
    let mut text = String::new();
    if let Err(error) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("error: reading stdin: {error}");
        return ExitCode::from(2);
    }
    match check(args, &text, now()) {
        Ok(()) => {
            println!("verified");
            ExitCode::SUCCESS
        }
        Err(Failure::NotVerified(why)) => {
            println!("not verified: {why}");
            ExitCode::FAILURE
        }
        Err(Failure::Malformed(why)) => {
            eprintln!("error: {why}");
            ExitCode::from(2)
        }
    }
}

enum Failure {
    NotVerified(String),
    Malformed(String),
}

fn check(args: &VerifyArgs, text: &str, now: i64) -> Result<(), Failure> {
    let secret =
        WebhookSecret::parse(args.secret.trim()).map_err(|e| Failure::Malformed(e.to_string()))?;
    let input: Input = serde_json::from_str(text).map_err(|e| {
        Failure::Malformed(format!(
            "stdin is not {{\"headers\": {{...}}, \"body\": \"...\"}}: {e}"
        ))
    })?;
    let headers: HashMap<String, String> = input
        .headers
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect();
    let received = Received::from_lookup(|name| headers.get(name).map(String::as_str));
    verify(
        &secret,
        &received,
        input.body.as_bytes(),
        now,
        args.tolerance,
    )
    .map_err(|e| Failure::NotVerified(e.to_string()))
}

fn now() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}
