//! `vetted sanitize`: the review workflow's sanitizer on a local file, through exactly the
//! function the worker calls (`vetted_core::review::sanitize::sanitize`), writing the copy
//! that would be published.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use serde::Serialize;
use vetted_core::ReasonCode;
use vetted_core::inspect::sniff;
use vetted_core::review::sanitize::{DEFAULT_MAX_DECODE_ALLOC, ProfileFate, sanitize};

use crate::inspect::load_policy;

const ABOUT: &str = "Re-encode an image as the review workflow does, and write the clean copy";

const LONG_ABOUT: &str = "\
Re-encode an image as the review workflow does, and write the clean copy.

IN is read whole and handed to the same function the sanitize worker runs: the gate again on
the whole file, a full decode under the policy's limits, the EXIF orientation applied, and a
re-encode from pixels in the same format. Metadata (EXIF, GPS, comments) and anything
appended to the image do not survive; the colour profile does, parsed and written again (one
that is oversized or does not parse is dropped, and the image still published). A JPEG or a
lossy WebP is written at the quality it was made with, at most 90; PNG and lossless WebP stay
lossless. The copy is never larger than the policy's max_bytes: a lossy one is tried at lower
qualities first, then refused as reencoded_too_large (the worker records that upload as
FAILED). The type is the one sniffed from IN's bytes, as intake records it.";

const SHORT_AFTER_HELP: &str = "\
Exit status: 0 sanitized, 1 refused (with a reason code), 2 usage error.
See --help for the output and examples.";

const AFTER_HELP: &str = "\
Output:
  One line, e.g.
    photo.jpg -> clean.jpg: clean image/jpeg 4000x3000, quality 75, profile kept, 2514033 -> 2466120 bytes, preview 41234 bytes, 98.1 ms
    evil.png: refused corrupt: The image is malformed.
  With --json, one object:
    {\"input\":\"photo.jpg\",\"output\":\"clean.jpg\",\"verdict\":\"clean\",\"reason\":null,
     \"type\":\"image/jpeg\",\"width\":4000,\"height\":3000,\"quality\":75,\"profile\":\"kept\",
     \"input_bytes\":2514033,\"output_bytes\":2466120,\"preview_bytes\":41234,\"elapsed_ms\":98.1}
  \"profile\" is absent, kept or dropped; \"quality\" is null for lossless output;
  \"elapsed_ms\" is the sanitize call alone (no file reading or writing).
  OUT is written only when the image is clean.

Exit status:
  0  sanitized; OUT written
  1  refused: the reason code says why, nothing is written
  2  usage error: bad arguments, an unreadable IN, an unwritable OUT, a bad policy file or
     VETTED_POLICY_* variable

Examples:
  vetted sanitize photo.jpg clean.jpg
  vetted sanitize --json --preview preview.webp upload.webp clean.webp
  vetted sanitize --policy policy.toml logo.png clean.png";

#[derive(Debug, Args)]
#[command(
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = SHORT_AFTER_HELP,
    after_long_help = AFTER_HELP
)]
pub struct SanitizeArgs {
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,

    /// A TOML policy, as for `vetted inspect`; VETTED_POLICY_* environment variables
    /// override it.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,

    /// Also write the moderator's preview (a lossless WebP, at most 256 px a side) here.
    #[arg(long, value_name = "FILE")]
    preview: Option<PathBuf>,

    /// The most memory the decoded image may take, in bytes; the workers use the default.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_DECODE_ALLOC)]
    max_decode_alloc: u64,

    /// The image to sanitize.
    #[arg(value_name = "IN")]
    input: PathBuf,

    /// Where to write the clean copy.
    #[arg(value_name = "OUT")]
    output: PathBuf,
}

/// What `--json` prints.
#[derive(Debug, Serialize)]
struct Report {
    input: String,
    output: Option<String>,
    verdict: &'static str,
    reason: Option<ReasonCode>,
    #[serde(rename = "type")]
    content_type: Option<&'static str>,
    width: Option<u32>,
    height: Option<u32>,
    quality: Option<u8>,
    profile: Option<ProfileFate>,
    input_bytes: u64,
    output_bytes: Option<u64>,
    preview_bytes: Option<u64>,
    elapsed_ms: f64,
}

pub fn run(args: SanitizeArgs) -> ExitCode {
    match sanitize_file(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("vetted sanitize: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// `Ok(true)` when the image was clean and written.
fn sanitize_file(args: &SanitizeArgs) -> anyhow::Result<bool> {
    let policy = load_policy(args.policy.as_deref())?;
    let bytes = std::fs::read(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let mut report = Report {
        input: args.input.display().to_string(),
        output: None,
        verdict: "refused",
        reason: None,
        content_type: None,
        width: None,
        height: None,
        quality: None,
        profile: None,
        input_bytes: bytes.len() as u64,
        output_bytes: None,
        preview_bytes: None,
        elapsed_ms: 0.0,
    };
    let started = Instant::now();
    let result = match sniff(&bytes).image_type() {
        Some(image_type) => sanitize(&bytes, image_type, &policy, args.max_decode_alloc),
        None if bytes.is_empty() => Err(ReasonCode::Empty),
        None => Err(ReasonCode::TypeNotAllowed),
    };
    report.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let clean = match result {
        Ok(clean) => clean,
        Err(reason) => {
            report.reason = Some(reason);
            print(&report, args.json)?;
            return Ok(false);
        }
    };
    write(&args.output, &clean.bytes)?;
    if let Some(preview) = &args.preview {
        write(preview, &clean.preview)?;
    }
    report.verdict = "clean";
    report.output = Some(args.output.display().to_string());
    report.content_type = Some(clean.image_type.mime());
    (report.width, report.height) = (Some(clean.width), Some(clean.height));
    report.quality = clean.quality;
    report.profile = Some(clean.profile);
    report.output_bytes = Some(clean.bytes.len() as u64);
    report.preview_bytes = Some(clean.preview.len() as u64);
    print(&report, args.json)?;
    Ok(true)
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn print(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
        return Ok(());
    }
    let Some(content_type) = report.content_type else {
        let reason = report.reason.unwrap_or(ReasonCode::Corrupt);
        println!("{}: refused {reason}: {}", report.input, reason.describe());
        return Ok(());
    };
    let quality = match report.quality {
        Some(q) => format!("quality {q}"),
        None => "lossless".to_owned(),
    };
    let profile = match report.profile {
        Some(ProfileFate::Kept) => "profile kept",
        Some(ProfileFate::Dropped) => "profile dropped",
        _ => "no profile",
    };
    println!(
        "{} -> {}: clean {content_type} {}x{}, {quality}, {profile}, {} -> {} bytes, preview {} bytes, {:.1} ms",
        report.input,
        report.output.as_deref().unwrap_or_default(),
        report.width.unwrap_or_default(),
        report.height.unwrap_or_default(),
        report.input_bytes,
        report.output_bytes.unwrap_or_default(),
        report.preview_bytes.unwrap_or_default(),
        report.elapsed_ms,
    );
    Ok(())
}
