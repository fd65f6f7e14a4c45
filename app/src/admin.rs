//! `vetted admin`: operator recovery over the admin API of a running Vetted, whichever backend
//! it runs on (`vetted serve`, embedded or `--backend aws`).
//!
//! - `failed`: `FAILED` uploads with their cause, and each queue's dead letters;
//! - `redrive --upload ID` / `redrive --queue NAME`: a `FAILED` upload back through the
//!   pipeline under a new review execution, or a queue's dead letters back to the queue;
//! - `expire`: intents past their deadline expire now.
//!
//! Each takes `--dry-run` (report, write nothing), is idempotent and prints what it did
//! (`--json` for the API's answer as is). It calls the API rather than the stores, so that
//! the running server stays its queues' only consumer. With no `--token`, it signs a
//! five-minute admin dev token with the dev key of `--data`, which a `vetted serve` on that
//! data directory accepts; on AWS pass an admin's token.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::Value;
use vetted_api::auth::{DevKey, Role};
use vetted_core::{Clock, SystemClock, UploadId};

use crate::token::DEFAULT_DATA_DIR;

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
    /// The running server's URL.
    #[arg(
        long,
        env = "VETTED_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// An admin's bearer token; without it, a dev token signed with `--data`'s dev key.
    #[arg(long, env = "VETTED_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// The data directory of the `vetted serve` to sign a dev token for.
    #[arg(long, env = "VETTED_DATA", default_value = DEFAULT_DATA_DIR, global = true)]
    data: PathBuf,
    /// Print the API's JSON answer instead of a summary.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// List FAILED uploads with their cause, and each queue's dead letters.
    Failed,
    /// Send a FAILED upload back through the pipeline, or a queue's dead letters back to it.
    Redrive(RedriveArgs),
    /// Expire intents past their deadline now (an upload found stored is handled instead).
    Expire(DryRunArg),
}

#[derive(Debug, Args)]
struct DryRunArg {
    /// Show what would be done; change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "what")]
struct RedriveArgs {
    /// The FAILED upload's id.
    #[arg(long, group = "what")]
    upload: Option<String>,
    /// A queue whose dead letters go back to it: intake, sanitize, review-tasks or notify.
    #[arg(long, group = "what")]
    queue: Option<String>,
    #[command(flatten)]
    dry_run: DryRunArg,
}

/// The user a dev token names, in the logs of the server.
const CLI_ADMIN: &str = "vetted-admin-cli";

pub fn run(args: AdminArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let client = AdminClient::new(&args)?;
        let (path, method) = request(&args.command)?;
        let answer = client.call(method, &path).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&answer)?);
        } else {
            println!("{}", summary(&args.command, &answer));
        }
        Ok(())
    })
}

/// The route and method for a command.
fn request(command: &AdminCommand) -> anyhow::Result<(String, reqwest::Method)> {
    let query = |dry: &DryRunArg| if dry.dry_run { "?dry_run=true" } else { "" };
    Ok(match command {
        AdminCommand::Failed => ("/api/admin/failed".to_owned(), reqwest::Method::GET),
        AdminCommand::Expire(dry) => (
            format!("/api/admin/expire{}", query(dry)),
            reqwest::Method::POST,
        ),
        AdminCommand::Redrive(args) => {
            let path = match (&args.upload, &args.queue) {
                (Some(upload), _) => {
                    let id = UploadId::parse(upload)
                        .with_context(|| format!("--upload {upload:?} is not an upload id"))?;
                    format!("/api/admin/uploads/{id}/redrive")
                }
                (None, Some(queue)) => {
                    if !["intake", "sanitize", "review-tasks", "notify"].contains(&queue.as_str()) {
                        bail!("--queue {queue:?}: one of intake, sanitize, review-tasks, notify");
                    }
                    format!("/api/admin/queues/{queue}/redrive")
                }
                (None, None) => bail!("say what to redrive: --upload ID or --queue NAME"),
            };
            (
                format!("{path}{}", query(&args.dry_run)),
                reqwest::Method::POST,
            )
        }
    })
}

/// One line per thing found or done.
fn summary(command: &AdminCommand, answer: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    match command {
        AdminCommand::Failed => {
            let mut lines = Vec::new();
            for upload in answer["uploads"].as_array().into_iter().flatten() {
                lines.push(format!(
                    "FAILED {} {} since {}: {} ({})",
                    text(&upload["upload_id"]),
                    text(&upload["slot"]),
                    text(&upload["failed_at"]),
                    text(&upload["reason"]),
                    text(&upload["failure"]),
                ));
            }
            if lines.is_empty() {
                lines.push("no FAILED uploads".to_owned());
            }
            if answer["truncated"] == true {
                lines.push("(more FAILED uploads than listed)".to_owned());
            }
            for queue in answer["dead_letters"].as_array().into_iter().flatten() {
                lines.push(format!(
                    "queue {}: {} dead letters",
                    text(&queue["queue"]),
                    queue["dead"]
                ));
            }
            lines.join("\n")
        }
        AdminCommand::Redrive(_) if answer.get("queue").is_some() => {
            let verb = if answer["dry_run"] == true {
                "would move"
            } else {
                "moved"
            };
            format!(
                "queue {}: {verb} {} dead letters back",
                text(&answer["queue"]),
                answer["moved"]
            )
        }
        AdminCommand::Redrive(_) => match answer["outcome"].as_str() {
            Some("redriven") => format!(
                "upload {}: redriven, now {} (execution {})",
                text(&answer["upload"]),
                text(&answer["status"]),
                text(&answer["execution"])
            ),
            Some("would_redrive") => format!(
                "upload {}: FAILED; would be redriven (execution {})",
                text(&answer["upload"]),
                text(&answer["execution"])
            ),
            _ => format!(
                "upload {}: not FAILED ({}); nothing done",
                text(&answer["upload"]),
                text(&answer["status"])
            ),
        },
        AdminCommand::Expire(dry) => {
            let stale = answer["stale"].as_array().map_or(0, Vec::len);
            if dry.dry_run {
                format!("{stale} intents past their deadline would expire")
            } else {
                format!(
                    "{stale} intents past their deadline; expired {}, recovered {}, errors {}",
                    answer["swept"]["expired"],
                    answer["swept"]["recovered"],
                    answer["swept"]["errors"]
                )
            }
        }
    }
}

struct AdminClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl AdminClient {
    fn new(args: &AdminArgs) -> anyhow::Result<Self> {
        vetted_api::install_crypto_provider();
        let token = match &args.token {
            Some(token) => token.clone(),
            None => {
                // A key made here would sign tokens no server accepts.
                if !args.data.join("dev-jwt.key").exists() {
                    bail!(
                        "no --token, and no dev key in {}: pass the --data of the running \
                         `vetted serve`, or an admin's --token",
                        args.data.display()
                    );
                }
                let key = DevKey::load_or_create(&args.data)
                    .with_context(|| format!("dev key in {}", args.data.display()))?;
                key.issue_roles(
                    CLI_ADMIN,
                    &[Role::Moderator, Role::Admin],
                    Duration::from_secs(300),
                    SystemClock.now(),
                )?
            }
        };
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(300))
                .build()?,
            base: args.url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .request(method, &url)
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("calling {url}"))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .with_context(|| format!("{url}: the answer is not JSON"))?;
        if !status.is_success() {
            bail!(
                "{url}: {status} {}: {}",
                answer["reason"].as_str().unwrap_or("?"),
                answer["error"].as_str().unwrap_or("")
            );
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        admin: AdminArgs,
    }

    fn parse(args: &[&str]) -> anyhow::Result<AdminArgs> {
        let all = std::iter::once("vetted-admin").chain(args.iter().copied());
        Ok(Cli::try_parse_from(all)?.admin)
    }

    #[test]
    fn each_command_calls_its_route_and_dry_run_is_a_query() {
        let id = "0b0e7a5e-6d4f-4a55-9a1c-9c1d2a3b4c5d";
        for (args, path, method) in [
            (vec!["failed"], "/api/admin/failed".to_owned(), "GET"),
            (
                vec!["expire", "--dry-run"],
                "/api/admin/expire?dry_run=true".to_owned(),
                "POST",
            ),
            (
                vec!["redrive", "--upload", id],
                format!("/api/admin/uploads/{id}/redrive"),
                "POST",
            ),
            (
                vec!["redrive", "--queue", "intake", "--dry-run"],
                "/api/admin/queues/intake/redrive?dry_run=true".to_owned(),
                "POST",
            ),
        ] {
            let parsed = parse(&args).unwrap();
            let (got, verb) = request(&parsed.command).unwrap();
            assert_eq!(
                (got.as_str(), verb.as_str()),
                (path.as_str(), method),
                "{args:?}"
            );
        }
    }

    #[test]
    fn bad_arguments_are_refused_before_any_call() {
        assert!(parse(&["redrive"]).is_err(), "nothing named");
        assert!(parse(&["redrive", "--upload", "x", "--queue", "intake"]).is_err());
        let bad_id = parse(&["redrive", "--upload", "../etc"]).unwrap();
        assert!(request(&bad_id.command).is_err());
        let bad_queue = parse(&["redrive", "--queue", "outbox"]).unwrap();
        assert!(request(&bad_queue.command).is_err());
    }

    #[test]
    fn summaries_say_what_was_found_and_done() {
        let failed = parse(&["failed"]).unwrap().command;
        let answer = json!({"uploads": [{"upload_id": "u1", "slot": "r1/logo",
            "failed_at": "2026-01-01T00:00:00Z", "reason": "processing_failed",
            "failure": "boom"}], "truncated": false,
            "dead_letters": [{"queue": "intake", "dead": 2}]});
        assert_eq!(
            summary(&failed, &answer),
            "FAILED u1 r1/logo since 2026-01-01T00:00:00Z: processing_failed (boom)\n\
             queue intake: 2 dead letters"
        );
        let redrive = parse(&["redrive", "--upload", "u"]).unwrap().command;
        let answer = json!({"outcome": "not_failed", "upload": "u1", "status": "IN_REVIEW"});
        assert_eq!(
            summary(&redrive, &answer),
            "upload u1: not FAILED (IN_REVIEW); nothing done"
        );
    }
}
