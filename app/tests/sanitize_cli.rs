//! `vetted sanitize` as a user runs it: the real binary on generated files, writing exactly
//! what the worker's sanitizer returns, with its exit statuses.

// Test code, helpers included: a failed unwrap is a failed assertion.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use vetted_core::ImageType;
use vetted_core::policy::Policy;
use vetted_core::review::sanitize::{DEFAULT_MAX_DECODE_ALLOC, sanitize};
use vetted_samples::{hostile, photo};

fn vetted() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vetted"));
    for (var, _) in std::env::vars().filter(|(v, _)| v.starts_with("VETTED_POLICY_")) {
        command.env_remove(var);
    }
    command
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("written");
    path
}

fn json(output: &Output) -> Value {
    let text = String::from_utf8(output.stdout.clone()).expect("UTF-8 output");
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn a_photo_is_written_as_the_worker_would_publish_it() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = photo::jpeg(640, 480, 80, 21);
    let input = write(dir.path(), "photo.jpg", &bytes);
    let (output, preview) = (dir.path().join("clean.jpg"), dir.path().join("p.webp"));
    let run = vetted()
        .arg("sanitize")
        .arg("--json")
        .arg("--preview")
        .arg(&preview)
        .arg(&input)
        .arg(&output)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let report = json(&run);
    assert_eq!(report["verdict"], "clean");
    assert_eq!(report["type"], "image/jpeg");
    assert_eq!(
        (report["width"].as_u64(), report["height"].as_u64()),
        (Some(640), Some(480))
    );
    assert_eq!(report["quality"], 80);
    assert_eq!(report["profile"], "absent");
    let worker = sanitize(
        &bytes,
        ImageType::Jpeg,
        &Policy::default(),
        DEFAULT_MAX_DECODE_ALLOC,
    )
    .unwrap();
    assert_eq!(
        std::fs::read(&output).unwrap(),
        worker.bytes,
        "not the worker's output"
    );
    assert_eq!(std::fs::read(&preview).unwrap(), worker.preview);
    assert_eq!(report["output_bytes"], worker.bytes.len());
}

#[test]
fn a_sentence_without_json() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "photo.webp",
        &photo::webp_lossy(320, 240, 75.0, 2),
    );
    let output = dir.path().join("clean.webp");
    let run = vetted()
        .arg("sanitize")
        .arg(&input)
        .arg(&output)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let line = String::from_utf8(run.stdout).unwrap();
    assert!(
        line.contains(": clean image/webp 320x240, quality "),
        "{line}"
    );
    assert!(output.exists());
}

#[test]
fn a_refusal_writes_nothing_and_exits_1_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "evil.png", &hostile::html());
    let output = dir.path().join("clean.png");
    let run = vetted()
        .args(["sanitize", "--json"])
        .arg(&input)
        .arg(&output)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert_eq!(json(&run)["reason"], "type_not_allowed");
    assert!(!output.exists(), "a refused image was written");
}

#[test]
fn a_missing_input_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = vetted()
        .arg("sanitize")
        .arg(dir.path().join("nothing.jpg"))
        .arg(dir.path().join("out.jpg"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    assert!(
        String::from_utf8(run.stderr)
            .unwrap()
            .contains("cannot read")
    );
}
