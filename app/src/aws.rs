//! `vetted aws`: tools for the AWS backend. `vetted aws bootstrap` creates everything the
//! pipeline needs on an AWS emulator (moto, say) and prints what it created as JSON, which
//! `vetted serve --backend aws` can load from a file. On AWS itself the SAM template does this.
//!
//! It needs the `aws` feature; without it the command is still listed, and says how to get it.

use std::path::PathBuf;

#[cfg(feature = "aws")]
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
#[cfg(feature = "aws")]
use vetted_aws::bootstrap::{BootstrapOptions, bootstrap};
#[cfg(feature = "aws")]
use vetted_aws::config::AwsContext;

/// The review workflow this binary was built with.
#[cfg(feature = "aws")]
const REVIEW_ASL: &str = include_str!("../../statemachine/review.asl.json");

#[derive(Debug, Args)]
pub struct AwsArgs {
    #[command(subcommand)]
    command: AwsCommand,
}

#[derive(Debug, Subcommand)]
enum AwsCommand {
    /// Create (or bring up to date) the bucket, queues, table, event bus and state machine on
    /// an emulator, and print them as JSON. Running it again is safe.
    Bootstrap(BootstrapArgs),
}

#[derive(Debug, Args)]
struct BootstrapArgs {
    /// The emulator's URL, e.g. http://127.0.0.1:5000.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: String,
    /// Every resource's name starts with this: 1 to 40 of a-z, 0-9 and '-'.
    #[arg(long, default_value = "vetted")]
    prefix: String,
    /// Also write the JSON to this file.
    #[arg(long, value_name = "FILE")]
    write: Option<PathBuf>,
    /// The review workflow (ASL) to deploy instead of the one built into this binary.
    #[arg(long, value_name = "FILE")]
    asl: Option<PathBuf>,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Receives without an ack before a message moves to its dead-letter queue.
    #[arg(long, default_value_t = 5)]
    max_receives: u32,
}

#[cfg(not(feature = "aws"))]
pub fn run(args: AwsArgs) -> anyhow::Result<()> {
    let AwsCommand::Bootstrap(_) = args.command;
    anyhow::bail!(crate::AWS_NOT_BUILT)
}

#[cfg(feature = "aws")]
pub fn run(args: AwsArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match args.command {
        AwsCommand::Bootstrap(args) => runtime.block_on(run_bootstrap(args)),
    }
}

#[cfg(feature = "aws")]
async fn run_bootstrap(args: BootstrapArgs) -> anyhow::Result<()> {
    if !(args.endpoint_url.starts_with("http://") || args.endpoint_url.starts_with("https://")) {
        bail!(
            "--endpoint-url {:?} is not an http:// or https:// URL",
            args.endpoint_url
        );
    }
    if args.max_receives == 0 {
        bail!("--max-receives must be at least 1");
    }
    let asl = match &args.asl {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the workflow {}", path.display()))?,
        None => REVIEW_ASL.to_owned(),
    };
    let mut builder = AwsContext::builder()
        .endpoint_url(&args.endpoint_url)
        .region(&args.region);
    // Emulators accept any key; without one in the environment, the SDK would go looking for
    // instance credentials that do not exist here.
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        builder = builder.static_credentials("test", "test");
    }
    let ctx = builder.load().await;

    let mut options = BootstrapOptions::new(&args.prefix, &asl);
    options.max_receives = args.max_receives;
    let resources = bootstrap(&ctx, &options)
        .await
        .with_context(|| format!("bootstrapping on {}", args.endpoint_url))?;

    let json = serde_json::to_string_pretty(&resources)?;
    if let Some(path) = &args.write {
        std::fs::write(path, format!("{json}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
        tracing::info!(file = %path.display(), "wrote the resources");
    }
    println!("{json}");
    Ok(())
}
