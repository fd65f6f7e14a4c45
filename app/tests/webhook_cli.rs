//! `vetted webhook verify` as a receiver's developer runs it: the real binary, a delivery on
//! stdin, and its exit status.

// Test code may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn verify(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vetted"))
        .args(["webhook", "verify"])
        .args(args)
        .env_remove("VETTED_WEBHOOK_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn delivery(timestamp: i64, body: &str) -> String {
    // Signed by the independent implementation.
    let signature = standardwebhooks::Webhook::new(SECRET)
        .unwrap()
        .sign("msg_1", timestamp, body.as_bytes())
        .unwrap();
    json!({
        "headers": {"Webhook-Id": "msg_1", "webhook-timestamp": timestamp.to_string(), "webhook-signature": signature},
        "body": body,
    })
    .to_string()
}

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap()
}

#[test]
fn a_good_delivery_verifies_and_a_tampered_or_stale_one_does_not() {
    let body = r#"{"id":"e1","type":"upload.published"}"#;
    let ok = verify(&["--secret", SECRET], &delivery(now(), body));
    assert_eq!(code(&ok), 0, "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "verified");

    let tampered = delivery(now(), body).replace("upload.published", "upload.rejected");
    let out = verify(&["--secret", SECRET], &tampered);
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no v1 signature"));

    let stale = delivery(now() - 600, body);
    let out = verify(&["--secret", SECRET], &stale);
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("away from now"));
    assert_eq!(
        code(&verify(&["--secret", SECRET, "--tolerance", "900"], &stale)),
        0
    );

    let other = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    assert_eq!(
        code(&verify(&["--secret", other], &delivery(now(), body))),
        1
    );
}

#[test]
fn malformed_input_or_secret_is_a_usage_error() {
    assert_eq!(code(&verify(&["--secret", SECRET], "not json")), 2);
    assert_eq!(
        code(&verify(&["--secret", "hunter2"], &delivery(now(), "{}"))),
        2
    );
    let missing = json!({"headers": {}, "body": "{}"}).to_string();
    assert_eq!(code(&verify(&["--secret", SECRET], &missing)), 1);
}
