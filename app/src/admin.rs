//! `vetted admin`: operator recovery over the admin API of a running Vetted, whichever backend
//! it runs on (`vetted serve`, embedded or `--backend aws`).
//!
//! - `failed`: `FAILED` uploads with their cause, and each queue's dead letters;
//! - `redrive --upload ID` / `redrive --queue NAME`: a `FAILED` upload back through the
//!   pipeline under a new review execution, or a queue's dead letters back to the queue;
//! - `expire`: intents past their deadline expire now;
//! - `rescan --upload ID` / `rescan --kind KIND --since DATE`: the gate again under today's
//!   policy, page by page, with a progress line on stderr and a checkpoint file after every
//!   page, so that an interrupted rescan (Ctrl-C, `--max-pages`) resumes where it stopped;
//! - `purge --restaurant ID | --user ID`: delete every object and record of a restaurant or a
//!   user, keeping one audit entry that says so. Irreversible, so without `--dry-run` it
//!   refuses to run unless given `--yes`; an interrupted purge is finished by running it again.
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
use vetted_core::{Clock, OwnerId, RestaurantId, SystemClock, UploadId};

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
    /// Run the gate again under today's policy: one upload, or a slot kind's since a date.
    Rescan(RescanArgs),
    /// Delete every object and record of a restaurant or a user, for good.
    ///
    /// A restaurant: every upload to its slots (records, originals, quarantined, sanitized,
    /// previews and published images, every version), its slots and their history, members,
    /// invitations, and the restaurant. A user: every upload they asked for, their images in
    /// slots (a slot showing one is emptied and `slot.cleared` sent), their memberships and
    /// their email preference. Uploads still in review are withdrawn first. One audit entry
    /// records the purge; the audit trail is kept. Not deleted: the user's account (on AWS:
    /// `aws cognito-idp admin-delete-user`), events already sent, CDN caches.
    ///
    /// Irreversible: run it with --dry-run first to see what it would delete, then with --yes.
    /// Safe to run again: an interrupted purge is finished by the next, and a purge of
    /// something already gone deletes nothing.
    Purge(PurgeArgs),
}

#[derive(Debug, Args)]
#[group(id = "purged", required = true, multiple = false)]
struct PurgeArgs {
    /// The restaurant's id.
    #[arg(long, group = "purged")]
    restaurant: Option<String>,
    /// The user's id (the `sub` of their tokens).
    #[arg(long, group = "purged")]
    user: Option<String>,
    #[command(flatten)]
    dry_run: DryRunArg,
    /// Confirm an irreversible purge; required unless --dry-run.
    #[arg(long)]
    yes: bool,
}

#[derive(Debug, Args)]
#[group(id = "rescanned", required = true, multiple = true)]
struct RescanArgs {
    /// One upload's id.
    #[arg(long, group = "rescanned", conflicts_with_all = ["kind", "since"])]
    upload: Option<String>,
    /// Every upload for slots of this kind (logo, cover, gallery)...
    #[arg(long, group = "rescanned", requires = "since")]
    kind: Option<String>,
    /// ...created at or after this RFC 3339 date-time (e.g. 2026-01-01T00:00:00Z).
    #[arg(long, requires = "kind")]
    since: Option<String>,
    /// Where progress is kept; an existing one for the same kind and date is resumed.
    /// Default: rescan-KIND-SINCE.json in the current directory.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Records looked at per page (1 to 100).
    #[arg(long, default_value_t = 25)]
    page: u32,
    /// Stop after this many pages, keeping the checkpoint (to rescan in slices).
    #[arg(long)]
    max_pages: Option<u64>,
    #[command(flatten)]
    dry_run: DryRunArg,
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
        if let AdminCommand::Rescan(rescan) = &args.command {
            return run_rescan(&client, rescan, args.json).await;
        }
        if let AdminCommand::Purge(purge) = &args.command {
            let body = purge_request(purge)?;
            let answer = client
                .call_with(reqwest::Method::POST, "/api/admin/purge", Some(&body))
                .await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                println!("{}", purge_summary(&answer));
            }
            return Ok(());
        }
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
        AdminCommand::Rescan(_) => ("/api/admin/rescan".to_owned(), reqwest::Method::POST),
        AdminCommand::Purge(_) => ("/api/admin/purge".to_owned(), reqwest::Method::POST),
    })
}

/// The body of a purge, once its ids parse and, unless it is a dry run, it is confirmed.
fn purge_request(args: &PurgeArgs) -> anyhow::Result<Value> {
    let dry_run = args.dry_run.dry_run;
    let mut body = match (&args.restaurant, &args.user) {
        (Some(id), None) => {
            let id = RestaurantId::parse(id)
                .with_context(|| format!("--restaurant {id:?} is not a restaurant id"))?;
            serde_json::json!({"restaurant": id.as_str()})
        }
        (None, Some(id)) => {
            let id =
                OwnerId::parse(id).with_context(|| format!("--user {id:?} is not a user id"))?;
            serde_json::json!({"user": id.as_str()})
        }
        _ => bail!("say what to purge: --restaurant ID or --user ID"),
    };
    if !dry_run && !args.yes {
        bail!(
            "a purge deletes for good and cannot be undone: run it with --dry-run to see what it \
             would delete, then with --yes"
        );
    }
    body["dry_run"] = Value::Bool(dry_run);
    Ok(body)
}

/// One line per upload, then what else went (or would go).
fn purge_summary(answer: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let dry = answer["dry_run"] == true;
    let verb = if dry { "would delete" } else { "deleted" };
    let target = match (
        answer["target"]["restaurant"].as_str(),
        answer["target"]["user"].as_str(),
    ) {
        (Some(id), _) => format!("restaurant {id}"),
        (_, Some(id)) => format!("user {id}"),
        _ => "?".to_owned(),
    };
    let mut lines = Vec::new();
    let uploads = answer["uploads"].as_array().map_or(&[][..], Vec::as_slice);
    for upload in uploads {
        lines.push(format!(
            "{verb} upload {} ({} {}{}): {} keys",
            text(&upload["upload_id"]),
            text(&upload["status"]),
            text(&upload["slot"]),
            if upload["withdrawn"] == true {
                ", withdrawn first"
            } else {
                ""
            },
            upload["keys"].as_array().map_or(0, Vec::len)
        ));
    }
    for slot in answer["slots_cleared"].as_array().into_iter().flatten() {
        lines.push(format!(
            "{} slot {}",
            if dry { "would clear" } else { "cleared" },
            text(slot)
        ));
    }
    lines.push(format!(
        "{target}: {verb} {} uploads, {} slot history entries, {} memberships, {} invitations{}{}",
        uploads.len(),
        answer["history_entries"],
        answer["memberships"],
        answer["invitations"],
        if answer["notification_preference"] == true {
            ", the email preference"
        } else {
            ""
        },
        if answer["restaurant"] == true {
            ", the restaurant"
        } else {
            ""
        },
    ));
    match answer["audit_entry"].as_str() {
        Some(entry) => lines.push(format!("recorded as audit entry {entry}")),
        None if dry => lines.push("dry run: nothing was deleted".to_owned()),
        None => {}
    }
    lines.join("\n")
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
        AdminCommand::Rescan(_) => rescan_lines(answer).join("\n"),
        AdminCommand::Purge(_) => purge_summary(answer),
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
        self.call_with(method, path, None).await
    }

    async fn call_with(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
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

/// One line per upload of a rescan page that does not pass (or, on a dry run, would be read).
fn rescan_lines(page: &Value) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    page["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["verdict"] != "passes")
        .map(|r| {
            format!(
                "{} {} {}: {}{}",
                text(&r["upload_id"]),
                text(&r["status"]),
                text(&r["key"]),
                text(&r["verdict"]),
                r["reason"]
                    .as_str()
                    .map(|reason| format!(" ({reason})"))
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// What a rescan of a slot kind has done so far, kept in the checkpoint file after each page.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct RescanProgress {
    kind: String,
    since: String,
    /// The API's cursor for the next page; `None` before the first.
    cursor: Option<Value>,
    pages: u64,
    scanned: u64,
    not_passing: u64,
}

/// How a rescan run ended.
#[derive(Debug, PartialEq, Eq)]
enum RescanEnd {
    Complete(RescanProgress),
    /// Stopped by `--max-pages`; the checkpoint holds where to go on.
    Paused(RescanProgress),
}

async fn run_rescan(client: &AdminClient, args: &RescanArgs, json: bool) -> anyhow::Result<()> {
    let dry_run = args.dry_run.dry_run;
    if let Some(upload) = &args.upload {
        let id = UploadId::parse(upload)
            .with_context(|| format!("--upload {upload:?} is not an upload id"))?;
        let body = serde_json::json!({"upload": id.to_string(), "dry_run": dry_run});
        let page = client
            .call_with(reqwest::Method::POST, "/api/admin/rescan", Some(&body))
            .await?;
        if json {
            println!("{}", serde_json::to_string_pretty(&page)?);
        } else {
            for result in page["results"].as_array().into_iter().flatten() {
                println!(
                    "{} {}: {}{}",
                    result["upload_id"].as_str().unwrap_or("-"),
                    result["status"].as_str().unwrap_or("-"),
                    result["verdict"].as_str().unwrap_or("-"),
                    result["reason"]
                        .as_str()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
            }
        }
        return Ok(());
    }
    let (Some(kind), Some(since)) = (&args.kind, &args.since) else {
        bail!("say what to rescan: --upload ID, or --kind KIND --since DATE");
    };
    if !(1..=100).contains(&args.page) {
        bail!("--page: 1 to 100");
    }
    let checkpoint = args.checkpoint.clone().unwrap_or_else(|| {
        let stamp: String = since.chars().filter(char::is_ascii_alphanumeric).collect();
        PathBuf::from(format!("rescan-{kind}-{stamp}.json"))
    });
    let fetch = |cursor: Option<Value>| {
        let mut body = serde_json::json!({
            "slot_kind": kind, "since": since, "limit": args.page, "dry_run": dry_run,
        });
        if let Some(cursor) = cursor {
            body["cursor"] = cursor;
        }
        async move {
            client
                .call_with(reqwest::Method::POST, "/api/admin/rescan", Some(&body))
                .await
        }
    };
    let end = rescan_pages(fetch, &checkpoint, kind, since, args.max_pages, |page| {
        if json {
            println!("{page}");
        } else {
            for line in rescan_lines(page) {
                println!("{line}");
            }
        }
    })
    .await?;
    match end {
        RescanEnd::Complete(done) => eprintln!(
            "rescan complete: {} uploads in {} pages, {} not passing{}",
            done.scanned,
            done.pages,
            done.not_passing,
            if dry_run {
                " (dry run: nothing read)"
            } else {
                ""
            }
        ),
        RescanEnd::Paused(done) => eprintln!(
            "paused after {} pages ({} uploads, {} not passing); run the same command again to \
             go on from {}",
            done.pages,
            done.scanned,
            done.not_passing,
            checkpoint.display()
        ),
    }
    Ok(())
}

/// Fetches pages from the checkpoint's cursor (or the start), writing the checkpoint after
/// each page, until the API says the rescan is complete (then the checkpoint is removed) or
/// `max_pages` pages were fetched in this run. A run killed at any moment resumes from the
/// last checkpoint written: at worst one page is read twice.
async fn rescan_pages<F, Fut>(
    mut fetch: F,
    checkpoint: &std::path::Path,
    kind: &str,
    since: &str,
    max_pages: Option<u64>,
    mut on_page: impl FnMut(&Value),
) -> anyhow::Result<RescanEnd>
where
    F: FnMut(Option<Value>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Value>>,
{
    let mut progress = match std::fs::read(checkpoint) {
        Ok(bytes) => {
            let saved: RescanProgress = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a rescan checkpoint", checkpoint.display()))?;
            if saved.kind != kind || saved.since != since {
                bail!(
                    "{} is the checkpoint of a rescan of {} since {}; pass another --checkpoint",
                    checkpoint.display(),
                    saved.kind,
                    saved.since
                );
            }
            eprintln!(
                "resuming from {} (page {}, {} uploads so far)",
                checkpoint.display(),
                saved.pages,
                saved.scanned
            );
            saved
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => RescanProgress {
            kind: kind.to_owned(),
            since: since.to_owned(),
            ..Default::default()
        },
        Err(e) => return Err(e).with_context(|| format!("reading {}", checkpoint.display())),
    };
    let mut this_run = 0u64;
    loop {
        if max_pages.is_some_and(|max| this_run >= max) {
            eprintln!();
            return Ok(RescanEnd::Paused(progress));
        }
        let page = fetch(progress.cursor.clone()).await?;
        on_page(&page);
        let results = page["results"].as_array().map_or(&[][..], Vec::as_slice);
        progress.pages += 1;
        progress.scanned += results.len() as u64;
        progress.not_passing += results.iter().filter(|r| r["verdict"] != "passes").count() as u64;
        this_run += 1;
        eprint!(
            "\rrescanned {} uploads, {} not passing, page {}",
            progress.scanned, progress.not_passing, progress.pages
        );
        if page["next"].is_null() {
            eprintln!();
            match std::fs::remove_file(checkpoint) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("removing {}", checkpoint.display()));
                }
            }
            return Ok(RescanEnd::Complete(progress));
        }
        progress.cursor = Some(page["next"].clone());
        // Written whole, then renamed: a kill leaves the old checkpoint or the new one.
        let temporary = checkpoint.with_extension("json.tmp");
        std::fs::write(&temporary, serde_json::to_vec(&progress)?)
            .with_context(|| format!("writing {}", temporary.display()))?;
        std::fs::rename(&temporary, checkpoint)
            .with_context(|| format!("writing {}", checkpoint.display()))?;
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

    /// A rescan of three pages, fetched from a canned answer per cursor.
    fn page(n: u64) -> Value {
        let next = if n < 3 {
            json!({"status": 0, "after": format!("p{}", n + 1)})
        } else {
            Value::Null
        };
        json!({"results": [{"upload_id": format!("u{n}"), "status": "PUBLISHED", "key": "k",
            "verdict": if n == 2 { "fails" } else { "passes" }, "reason": "too_large"}],
            "examined": 1, "next": next})
    }

    fn number_of(cursor: Option<&Value>) -> u64 {
        cursor.map_or(1, |c| c["after"].as_str().unwrap()[1..].parse().unwrap())
    }

    #[tokio::test]
    async fn an_interrupted_rescan_resumes_from_its_checkpoint_and_reads_each_page_once() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = dir.path().join("rescan.json");
        let fetched = std::sync::Mutex::new(Vec::new());
        let fetch = |cursor: Option<Value>| {
            let n = number_of(cursor.as_ref());
            fetched.lock().unwrap().push(n);
            async move { Ok(page(n)) }
        };
        let since = "2026-01-01T00:00:00Z";
        let end = rescan_pages(fetch, &checkpoint, "logo", since, Some(1), |_| {})
            .await
            .unwrap();
        assert!(
            matches!(end, RescanEnd::Paused(ref p) if p.pages == 1),
            "{end:?}"
        );
        assert!(checkpoint.exists(), "kept for the next run");

        let other = rescan_pages(fetch, &checkpoint, "cover", since, None, |_| {}).await;
        assert!(
            other
                .unwrap_err()
                .to_string()
                .contains("checkpoint of a rescan of logo")
        );

        let end = rescan_pages(fetch, &checkpoint, "logo", since, None, |_| {})
            .await
            .unwrap();
        let RescanEnd::Complete(done) = end else {
            panic!("{end:?}")
        };
        assert_eq!((done.pages, done.scanned, done.not_passing), (3, 3, 1));
        assert_eq!(
            *fetched.lock().unwrap(),
            [1, 2, 3],
            "each page once; the refused run fetched nothing"
        );
        assert!(!checkpoint.exists(), "removed once complete");
    }

    #[test]
    fn a_purge_needs_one_valid_id_and_yes_unless_it_is_a_dry_run() {
        let body = |args: &[&str]| {
            let parsed = parse(args)?;
            let AdminCommand::Purge(purge) = parsed.command else {
                panic!("{args:?}")
            };
            purge_request(&purge)
        };
        assert_eq!(
            body(&["purge", "--restaurant", "r1", "--dry-run"]).unwrap(),
            json!({"restaurant": "r1", "dry_run": true})
        );
        assert_eq!(
            body(&["purge", "--user", "owner-1", "--yes"]).unwrap(),
            json!({"user": "owner-1", "dry_run": false})
        );
        let unconfirmed = body(&["purge", "--user", "owner-1"]).unwrap_err();
        assert!(unconfirmed.to_string().contains("--yes"), "{unconfirmed}");
        assert!(body(&["purge", "--restaurant", "Roma/..", "--yes"]).is_err());
        assert!(body(&["purge", "--user", "a b", "--yes"]).is_err());
        assert!(parse(&["purge", "--yes"]).is_err(), "nothing named");
        assert!(parse(&["purge", "--user", "u", "--restaurant", "r1"]).is_err());
    }

    #[test]
    fn a_purge_summary_says_what_went() {
        let answer = json!({"target": {"restaurant": "r1"}, "dry_run": false,
            "uploads": [{"upload_id": "u1", "status": "PUBLISHED", "slot": "r1/logo",
                "withdrawn": false, "keys": ["a", "b", "c", "d", "e"]}],
            "slots_cleared": [], "history_entries": 0, "memberships": 2, "invitations": 1,
            "notification_preference": false, "restaurant": true, "audit_entry": "purge.x"});
        assert_eq!(
            purge_summary(&answer),
            "deleted upload u1 (PUBLISHED r1/logo): 5 keys\n\
             restaurant r1: deleted 1 uploads, 0 slot history entries, 2 memberships, 1 \
             invitations, the restaurant\n\
             recorded as audit entry purge.x"
        );
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
