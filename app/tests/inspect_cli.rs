//! `vetted inspect` as a user runs it: the real binary on generated files in a temporary
//! directory, its output (JSON and sentences) and its exit statuses.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use vetted_core::ReasonCode;
use vetted_samples::{Expect, Sample, catalogue, hostile, images, sample};

fn vetted() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vetted"));
    // A developer's own overrides must not change what these tests see.
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

fn status(output: &Output) -> i32 {
    output.status.code().expect("exited, not killed")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("UTF-8 output")
}

fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect()
}

fn check_json(s: &Sample, path: &Path, line: &Value) {
    assert_eq!(line["file"], path.display().to_string(), "{}", s.name);
    let fields: Vec<&str> = line
        .as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields.len(),
        7,
        "{}: exactly file, verdict, reason, type, width, height, bytes_read: {fields:?}",
        s.name
    );
    match s.expect {
        Expect::Accept {
            image_type,
            width,
            height,
        } => {
            assert_eq!(line["verdict"], "accept", "{}", s.name);
            assert_eq!(line["reason"], Value::Null, "{}", s.name);
            assert_eq!(line["type"], image_type.mime(), "{}", s.name);
            assert_eq!(
                (line["width"].as_u64(), line["height"].as_u64()),
                (Some(width.into()), Some(height.into()))
            );
        }
        Expect::Reject(reason) => {
            assert_eq!(line["verdict"], "reject", "{}", s.name);
            assert_eq!(line["reason"], reason.as_str(), "{}", s.name);
            // A measured size accompanies a refusal for size, and only that.
            let measured = matches!(
                reason,
                ReasonCode::TooLargeDimensions | ReasonCode::TooSmallDimensions
            );
            assert_eq!(line["width"].is_u64(), measured, "{}", s.name);
            assert_eq!(line["height"].is_u64(), measured, "{}", s.name);
        }
    }
    let size_only =
        matches!(s.expect, Expect::Reject(r) if ["empty", "too_large"].contains(&r.as_str()));
    let read = line["bytes_read"].as_u64().expect("bytes_read is a number");
    let want = if size_only {
        0
    } else {
        (s.bytes.len() as u64).min(64 * 1024)
    };
    assert_eq!(read, want, "{}", s.name);
}

#[test]
fn every_catalogue_case_gives_its_verdict_as_json_and_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    for s in catalogue() {
        let path = write(dir.path(), &format!("{}-{}", s.name, s.file_name), &s.bytes);
        let output = vetted()
            .args(["inspect", "--json", "--declared-type", s.declared_type])
            .arg(&path)
            .output()
            .unwrap();
        let want_status = if s.is_accepted() { 0 } else { 1 };
        assert_eq!(
            status(&output),
            want_status,
            "{}: {}",
            s.name,
            stderr(&output)
        );
        let lines = json_lines(&output);
        assert_eq!(lines.len(), 1, "{}", s.name);
        check_json(&s, &path, &lines[0]);
    }
}

#[test]
fn rejects_name_what_the_content_is() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = write(dir.path(), "menu.jpg", &hostile::pdf());
    let jpeg_as_png = write(dir.path(), "photo.png", &images::jpeg(320, 240));
    let output = vetted()
        .args(["inspect", "--json"])
        .arg(&pdf)
        .arg(&jpeg_as_png)
        .output()
        .unwrap();
    assert_eq!(status(&output), 1);
    let lines = json_lines(&output);
    assert_eq!(lines[0]["type"], "application/pdf");
    assert_eq!(lines[1]["reason"], "type_mismatch");
    assert_eq!(lines[1]["type"], "image/jpeg");
}

#[test]
fn the_declared_type_is_guessed_from_the_extension_and_sentences_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        write(dir.path(), "logo.png", &images::png(320, 240)),
        write(dir.path(), "photo.JPEG", &images::jpeg(320, 240)),
        write(dir.path(), "photo.png", &images::jpeg(320, 240)),
        write(dir.path(), "upload.bin", &images::png(320, 240)),
        write(dir.path(), "page.bin", &hostile::html()),
    ];
    let output = vetted().arg("inspect").args(&files).output().unwrap();
    assert_eq!(status(&output), 1, "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    let png_len = images::png(320, 240).len();
    let name = |i: usize| files[i].display().to_string();
    assert_eq!(
        lines[0],
        format!(
            "{}: accept image/png 320x240 (read {png_len} bytes)",
            name(0)
        )
    );
    assert!(
        lines[1].starts_with(&format!("{}: accept image/jpeg 320x240 (read ", name(1))),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with(&format!(
            "{}: reject type_mismatch: The file's content does not match its declared type. \
             (declared image/png; content: image/jpeg; read ",
            name(2)
        )),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].contains("reject type_mismatch")
            && lines[3].contains("declared application/octet-stream"),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].starts_with(&format!(
            "{}: reject type_not_allowed: The file is not a JPEG, PNG or WebP image. (content: text/html; read ",
            name(4)
        )),
        "{}",
        lines[4]
    );

    let accepted = vetted().arg("inspect").args(&files[..2]).output().unwrap();
    assert_eq!(status(&accepted), 0);
}

#[test]
fn declared_type_overrides_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let png_named_jpg = write(dir.path(), "logo.jpg", &images::png(320, 240));
    let run = |declared: &str| {
        vetted()
            .args(["inspect", "--declared-type", declared])
            .arg(&png_named_jpg)
            .output()
            .unwrap()
    };
    assert_eq!(status(&run("image/png")), 0);
    let output = run("image/jpeg");
    assert_eq!(status(&output), 1);
    assert!(stdout(&output).contains("type_mismatch"));
}

#[test]
fn a_policy_file_and_the_environment_change_the_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let png = write(dir.path(), "logo.png", &images::png(320, 240));
    let jpeg = write(dir.path(), "photo.jpg", &images::jpeg(320, 240));
    let policy = write(
        dir.path(),
        "policy.toml",
        b"max_side = 256\nallowed_types = [\"image/png\", \"image/webp\"]\n",
    );

    let output = vetted()
        .args(["inspect", "--json", "--policy"])
        .arg(&policy)
        .arg(&png)
        .arg(&jpeg)
        .output()
        .unwrap();
    assert_eq!(status(&output), 1, "{}", stderr(&output));
    let lines = json_lines(&output);
    assert_eq!(lines[0]["reason"], "too_large_dimensions");
    assert_eq!(lines[1]["reason"], "type_not_allowed");

    let output = vetted()
        .env("VETTED_POLICY_MAX_SIDE", "4096")
        .args(["inspect", "--json", "--policy"])
        .arg(&policy)
        .arg(&png)
        .output()
        .unwrap();
    assert_eq!(
        status(&output),
        0,
        "the variable overrides the file: {}",
        stdout(&output)
    );

    let output = vetted()
        .env("VETTED_POLICY_MIN_SIDE", "400")
        .arg("inspect")
        .arg(&png)
        .output()
        .unwrap();
    assert_eq!(status(&output), 1);
    assert!(
        stdout(&output).contains(
            "reject too_small_dimensions: The image is narrower or shorter than allowed. \
             (content: image/png; 320x240; read "
        ),
        "{}",
        stdout(&output)
    );
}

#[test]
fn usage_errors_exit_2_with_a_message_and_no_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let png = write(dir.path(), "logo.png", &sample("png_rgb").bytes);
    let missing = dir.path().join("missing.png");
    let typo = write(dir.path(), "typo.toml", b"max_sides = 100\n");
    let contradiction = write(dir.path(), "bad.toml", b"min_side = 500\nmax_side = 100\n");

    // Arguments after `inspect`, environment, and what stderr must mention.
    type Case<'a> = (Vec<OsString>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![png.clone().into(), missing.clone().into()],
            vec![],
            "missing.png",
        ),
        (vec![dir.path().into()], vec![], "not a regular file"),
        (
            vec!["--policy".into(), typo.clone().into(), png.clone().into()],
            vec![],
            "typo.toml",
        ),
        (
            vec!["--policy".into(), contradiction.into(), png.clone().into()],
            vec![],
            "min_side",
        ),
        (
            vec![
                "--policy".into(),
                missing.clone().into(),
                png.clone().into(),
            ],
            vec![],
            "cannot read the policy file",
        ),
        (
            vec![png.clone().into()],
            vec![("VETTED_POLICY_MAX_SIDE", "huge")],
            "VETTED_POLICY_MAX_SIDE",
        ),
        (vec![], vec![], "FILE"),
        (
            vec!["--no-such-flag".into(), png.clone().into()],
            vec![],
            "--no-such-flag",
        ),
    ];
    for (args, env, mentions) in cases {
        let output = vetted()
            .arg("inspect")
            .args(&args)
            .envs(env.clone())
            .output()
            .unwrap();
        assert_eq!(status(&output), 2, "{args:?} {env:?}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(mentions),
            "{args:?}: {}",
            stderr(&output)
        );
        assert_eq!(stdout(&output), "", "{args:?}");
    }
}

#[test]
fn help_explains_the_checks_the_exit_statuses_and_gives_examples() {
    let output = vetted().args(["inspect", "--help"]).output().unwrap();
    assert_eq!(status(&output), 0);
    let help = stdout(&output);
    for needle in [
        "type_not_allowed",
        "header_too_deep",
        "Exit status",
        "application/octet-stream",
        "Examples",
        "--declared-type",
        "--policy",
        "--json",
    ] {
        assert!(help.contains(needle), "help lacks {needle:?}:\n{help}");
    }
}
