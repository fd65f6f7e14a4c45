//! `vetted inspect`: the inspection gate on local files, read exactly as the intake worker
//! reads an uploaded object (through `run_gate`), with a verdict per file.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use serde::Serialize;
use vetted_core::inspect::{GateOutcome, Verdict, inspect, run_gate, sniff};
use vetted_core::{Policy, ReasonCode};

const ABOUT: &str = "Check image files with the same gate uploads go through";

const LONG_ABOUT: &str = "\
Check image files with the same gate uploads go through.

Each FILE is read as the intake worker reads an upload: its first 64 KiB (the policy's
gate_first_read_bytes), and more, up to gate_max_bytes, only if the image header lies further
in. Pixels are never decoded. The checks, in order, with the reason code each one gives:

  size          empty, too_small, too_large
  magic bytes   type_not_allowed (not JPEG, PNG or WebP, whatever the name says),
                truncated (the file ends inside a signature)
  declared type type_mismatch (the content is not the declared type)
  header        corrupt, truncated (the file ends before the header does),
                header_too_deep (the dimensions lie beyond gate_max_bytes)
  dimensions    too_large_dimensions (a side above max_side, or more than max_pixels),
                too_small_dimensions (a side below min_side)

The declared type is --declared-type, or else guessed from each file's extension (.png,
.jpg/.jpeg, .webp). A file whose extension says nothing declares application/octet-stream,
so a real image is refused as type_mismatch and anything else as type_not_allowed.";

const SHORT_AFTER_HELP: &str = "\
Exit status: 0 every file accepted, 1 any rejected, 2 usage error.
See --help for the checks, the reason codes, the output and examples.";

const AFTER_HELP: &str = "\
Output:
  One line per file, e.g.
    logo.png: accept image/png 512x512 (read 5321 bytes)
    evil.png: reject type_not_allowed: The file is not a JPEG, PNG or WebP image. (content: text/html; read 149 bytes)
  With --json, one object per line:
    {\"file\":\"logo.png\",\"verdict\":\"accept\",\"reason\":null,\"type\":\"image/png\",\"width\":512,\"height\":512,\"bytes_read\":5321}
  \"type\" is what the content was recognised as (null if nothing recognised it), also on a
  reject; \"width\" and \"height\" are set when the header was measured, which includes a
  reject for too_large_dimensions or too_small_dimensions.

Exit status:
  0  every file was accepted
  1  at least one file was rejected
  2  usage error: bad arguments, a missing or unreadable file, a bad policy file or
     VETTED_POLICY_* variable (the message is on stderr, nothing is judged)

Examples:
  vetted inspect logo.png menu-photo.jpg
  vetted inspect --json --declared-type image/jpeg upload.bin
  vetted inspect --policy policy.toml *.webp
  VETTED_POLICY_MAX_SIDE=4096 vetted inspect banner.png";

#[derive(Debug, Args)]
#[command(
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = SHORT_AFTER_HELP,
    after_long_help = AFTER_HELP
)]
pub struct InspectArgs {
    /// Print one JSON object per line instead of a sentence per file.
    #[arg(long)]
    json: bool,

    /// The MIME type every FILE is declared as (image/jpeg, image/png or image/webp).
    /// Without it, each file's type is guessed from its extension.
    #[arg(long, value_name = "MIME")]
    declared_type: Option<String>,

    /// A TOML policy (any of allowed_types, min_bytes, max_bytes, min_side, max_side,
    /// max_pixels, require_type_match, gate_max_bytes, gate_first_read_bytes); unnamed settings
    /// keep their defaults. VETTED_POLICY_* environment variables override it.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,

    /// The files to check.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

/// One file's result, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Report {
    file: String,
    verdict: &'static str,
    reason: Option<ReasonCode>,
    #[serde(rename = "type")]
    content_type: Option<&'static str>,
    width: Option<u32>,
    height: Option<u32>,
    bytes_read: u64,
}

pub fn run(args: InspectArgs) -> ExitCode {
    match inspect_all(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("vetted inspect: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Judges every file; `Ok(true)` when all were accepted. Everything is checked before the
/// first verdict is printed, so a usage error prints no verdicts.
fn inspect_all(args: &InspectArgs) -> anyhow::Result<bool> {
    let policy = load_policy(args.policy.as_deref())?;
    let files = args
        .files
        .iter()
        .map(|path| Ok((path, file_len(path)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .context("starting the async runtime")?;

    let mut all_accepted = true;
    for (path, total_len) in files {
        let declared = match &args.declared_type {
            Some(mime) => mime.clone(),
            None => declared_from_extension(path),
        };
        let (outcome, last_prefix) = runtime
            .block_on(gate_file(path, total_len, &declared, &policy))
            .with_context(|| format!("{}: read failed", path.display()))?;
        all_accepted &= outcome.verdict.is_accept();
        let report = report(path, &outcome, &last_prefix, total_len, &declared, &policy);
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            println!("{}", sentence(&report, &declared));
        }
    }
    Ok(all_accepted)
}

/// Defaults, then the TOML file if given, then `VETTED_POLICY_*` variables.
pub(crate) fn load_policy(path: Option<&Path>) -> anyhow::Result<Policy> {
    let policy = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the policy file {}", path.display()))?;
            Policy::from_toml(&text).with_context(|| format!("{}", path.display()))?
        }
        None => Policy::default(),
    };
    Ok(policy.with_env(&vetted_core::settings::Env::from_process())?)
}

fn file_len(path: &Path) -> anyhow::Result<u64> {
    let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
    if !meta.is_file() {
        bail!("{}: not a regular file", path.display());
    }
    Ok(meta.len())
}

/// What mime_guess says the extension means, or `application/octet-stream`.
fn declared_from_extension(path: &Path) -> String {
    mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_owned()
}

/// Runs the gate on a file; also returns the last prefix read, to name what a rejected file is.
async fn gate_file(
    path: &Path,
    total_len: u64,
    declared: &str,
    policy: &Policy,
) -> io::Result<(GateOutcome, Bytes)> {
    let mut last = Bytes::new();
    let outcome = run_gate(total_len, declared, policy, |n| {
        let prefix = read_prefix(path, n);
        if let Ok(bytes) = &prefix {
            last = bytes.clone();
        }
        std::future::ready(prefix)
    })
    .await?;
    Ok((outcome, last))
}

fn read_prefix(path: &Path, n: u64) -> io::Result<Bytes> {
    let mut prefix = Vec::new();
    File::open(path)?.take(n).read_to_end(&mut prefix)?;
    Ok(Bytes::from(prefix))
}

fn report(
    path: &Path,
    outcome: &GateOutcome,
    last_prefix: &[u8],
    total_len: u64,
    declared: &str,
    policy: &Policy,
) -> Report {
    let mut report = Report {
        file: path.display().to_string(),
        verdict: "reject",
        reason: None,
        content_type: None,
        width: None,
        height: None,
        bytes_read: outcome.bytes_read,
    };
    match outcome.verdict {
        Verdict::Accept {
            image_type,
            width,
            height,
        } => {
            report.verdict = "accept";
            report.content_type = Some(image_type.mime());
            (report.width, report.height) = (Some(width), Some(height));
        }
        Verdict::Reject { reason } => {
            report.reason = Some(reason);
            report.content_type = (!last_prefix.is_empty())
                .then(|| sniff(last_prefix).mime())
                .flatten();
            if matches!(
                reason,
                ReasonCode::TooLargeDimensions | ReasonCode::TooSmallDimensions
            ) {
                (report.width, report.height) =
                    measured_size(last_prefix, total_len, declared, policy);
            }
        }
        // run_gate never returns NeedMore; were it to, the honest answer is "not reached".
        Verdict::NeedMore { .. } => report.reason = Some(ReasonCode::HeaderTooDeep),
    }
    report
}

/// The size the header gives, for a file refused for it: the same gate, without size limits.
fn measured_size(
    prefix: &[u8],
    total_len: u64,
    declared: &str,
    policy: &Policy,
) -> (Option<u32>, Option<u32>) {
    let unlimited = Policy {
        min_side: 1,
        max_side: u32::MAX,
        max_pixels: u64::MAX,
        ..policy.clone()
    };
    match inspect(prefix, total_len, declared, &unlimited) {
        Verdict::Accept { width, height, .. } => (Some(width), Some(height)),
        _ => (None, None),
    }
}

fn sentence(report: &Report, declared: &str) -> String {
    let read = format!("read {} bytes", report.bytes_read);
    let Some(reason) = report.reason else {
        return format!(
            "{}: accept {} {}x{} ({read})",
            report.file,
            report.content_type.unwrap_or_default(),
            report.width.unwrap_or_default(),
            report.height.unwrap_or_default(),
        );
    };
    let mut details = Vec::new();
    if reason == ReasonCode::TypeMismatch {
        details.push(format!("declared {declared}"));
    }
    if let Some(content) = report.content_type {
        details.push(format!("content: {content}"));
    }
    if let (Some(width), Some(height)) = (report.width, report.height) {
        details.push(format!("{width}x{height}"));
    }
    details.push(read);
    format!(
        "{}: reject {reason}: {} ({})",
        report.file,
        reason.describe(),
        details.join("; ")
    )
}
