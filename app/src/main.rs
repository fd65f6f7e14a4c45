//! The `vetted` command: one binary for inspecting files, running the whole pipeline on one
//! machine, and operating it. Each subcommand's arguments and behaviour live in its own module;
//! this file only parses the command line and dispatches.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "vetted",
    version,
    about = "Safe user uploads: prove images are what they claim, review them, publish clean copies.",
    long_about = None,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match cli.command {}
}

/// Logs go to stderr, filtered by `VETTED_LOG` (e.g. `VETTED_LOG=debug`), so that stdout stays
/// clean for `--json` output.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VETTED_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
