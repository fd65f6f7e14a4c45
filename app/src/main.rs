//! The `vetted` command: one binary for inspecting and sanitizing files, running the whole
//! pipeline on one machine, and operating it. Each subcommand's arguments and behaviour live in the
//! `vetted_app` library; this file only parses the command line, sets up logging and
//! dispatches.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vetted_app::{
    admin, aws, bench, inspect, private_files, sanitize, serve, token, users, webhooks,
};

#[derive(Debug, Parser)]
#[command(
    name = "vetted",
    version,
    about = "Safe user uploads: prove images are what they claim, review them, publish clean copies.",
    long_about = None,
    propagate_version = true
)]
struct Cli {
    /// How log lines (stderr) are written: `text` for people, `json` for a log pipeline (one
    /// object a line, with the request's `request_id` and the upload's `correlation_id`).
    #[arg(
        long,
        global = true,
        env = "VETTED_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Operator recovery over a running server's admin API: `failed`, `redrive`, `expire`.
    Admin(admin::AdminArgs),
    /// Tools for the AWS backend: `vetted aws bootstrap` creates the pipeline on an emulator.
    #[cfg_attr(
        not(feature = "aws"),
        doc = "Not in this build: it needs the `aws` feature (cargo install --path app --features aws)."
    )]
    Aws(aws::AwsArgs),
    // Its help text lives with its arguments (a doc comment here would replace it).
    Inspect(inspect::InspectArgs),
    // Its help text lives with its arguments.
    Sanitize(sanitize::SanitizeArgs),
    // Its help text lives with its arguments.
    Bench(bench::BenchArgs),
    // Its help text lives with its arguments.
    Serve(serve::ServeArgs),
    /// Print a dev token (HS256, signed with the data directory's dev key) for `vetted serve`.
    Token(token::TokenArgs),
    /// Accounts of `vetted serve`'s user store: `vetted users grant EMAIL admin` makes the first
    /// admin.
    Users(users::UsersArgs),
    /// Tools for webhook receivers: `vetted webhook verify` checks a delivery's signature.
    Webhook(webhooks::verify::WebhookArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let result = match cli.command {
        Command::Admin(args) => admin::run(args),
        Command::Aws(args) => aws::run(args),
        // Its exit status says accepted (0), rejected (1) or usage error (2).
        Command::Inspect(args) => return inspect::run(args),
        // Its exit status says sanitized (0), refused (1) or usage error (2).
        Command::Sanitize(args) => return sanitize::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Serve(args) => {
            private_files::create_private_files_from_now_on();
            serve::run(args)
        }
        Command::Token(args) => {
            private_files::create_private_files_from_now_on();
            token::run(args)
        }
        Command::Users(args) => users::run(args),
        // Its exit status says verified (0), not verified (1) or malformed input (2).
        Command::Webhook(args) => return webhooks::verify::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, filtered by `VETTED_LOG` (e.g. `VETTED_LOG=debug`), so that stdout stays
/// clean for `--json` output. As JSON, each line carries the fields of the spans it was
/// written in (`spans`: the request's `request_id`, an upload's `upload_id` and
/// `correlation_id`), and no colours.
fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VETTED_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .with_ansi(false)
            .init(),
    }
}
