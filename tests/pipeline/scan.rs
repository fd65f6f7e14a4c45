//! The malware scan on one machine, end to end through `vetted serve` with a real clamd
//! (Debian's `clamav-daemon`, started by the test with a test-written signature for
//! [`TEST_MARKER`]): valid PNGs that carry the marker in a text chunk or after IEND are
//! REJECTED `infected`, a clean PNG goes on to review; a scanner that never answers leaves
//! the upload FAILED `scan_failed`; with no scanner, production settings fail closed
//! (`scan_skipped`).

use std::path::Path;

use tokio::net::UnixListener;
use vetted_clamd::test_daemon::{TEST_MARKER, TEST_SIGNATURE, TestClamd};
use vetted_samples::images;

use crate::support::client::Api;
use crate::support::server::{ServeSettings, Server};
use crate::support::{db, wait_for_status};

const OWNER: &str = "owner-scan";
const RESTAURANT: &str = "bistro-scan";

/// A valid PNG with a `tEXt` chunk (keyword `Comment`) holding `text`, before IEND.
fn png_with_text(width: u32, height: u32, text: &[u8]) -> Vec<u8> {
    let png = images::png(width, height);
    // IEND is the last 12 bytes: length (0), type, CRC.
    let (body, iend) = png.split_at(png.len() - 12);
    assert_eq!(&iend[4..8], b"IEND");
    let mut data = b"Comment\0".to_vec();
    data.extend_from_slice(text);
    let mut chunk = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    let mut typed = b"tEXt".to_vec();
    typed.extend_from_slice(&data);
    chunk.extend_from_slice(&typed);
    chunk.extend_from_slice(&crc32(&typed).to_be_bytes());
    [body, &chunk, iend].concat()
}

/// PNG's CRC-32 (ISO 3309), over a chunk's type and data.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

async fn serve_with(dir: &Path, scan_toml: &str, allow_unscanned: bool) -> Server {
    let config = dir.join("serve.toml");
    std::fs::write(&config, scan_toml).unwrap();
    Server::start(ServeSettings {
        config: Some(config),
        allow_unscanned,
        ..ServeSettings::new(dir.join("data"))
    })
    .await
}

async fn upload_png(server: &Server, owner: &str, slot: &str, name: &str, png: Vec<u8>) -> String {
    Api::new()
        .upload_file(
            &server.base,
            owner,
            &format!("{RESTAURANT}/{slot}"),
            name,
            "image/png",
            png,
            "post",
        )
        .await
}

fn failure_of(data: &Path, id: &str) -> Option<String> {
    db::open(data)
        .query_row("SELECT failure FROM uploads WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_clamd_refuses_marked_pngs_as_infected_and_passes_a_clean_one_to_review() {
    let clamd = TestClamd::start().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!("[scan]\nclamd = \"{}\"\n", clamd.address());
    // allow_unscanned is off: with a scanner configured it must not matter anyway.
    let server = serve_with(dir.path(), &toml, false).await;
    server.restaurant(RESTAURANT, &[OWNER]).await;
    let owner = server.token(OWNER, "owner");

    let in_text = png_with_text(200, 120, TEST_MARKER);
    // Valid: the image crate decodes it, so only the scanner can refuse it.
    image::load_from_memory(&in_text).expect("the marked PNG is a valid PNG");
    let mut after_iend = images::png(200, 120);
    after_iend.extend_from_slice(TEST_MARKER);
    let text_id = upload_png(&server, &owner, "gallery-1", "text.png", in_text).await;
    let tail_id = upload_png(&server, &owner, "gallery-2", "tail.png", after_iend).await;
    let clean_id = upload_png(
        &server,
        &owner,
        "gallery-3",
        "clean.png",
        png_with_text(200, 120, b"a harmless comment"),
    )
    .await;

    let api = Api::new();
    for id in [&text_id, &tail_id] {
        let upload = wait_for_status(&api, &server.base, &owner, id, "REJECTED").await;
        assert_eq!(upload["reason"], "infected", "{upload}");
        let failure = failure_of(&dir.path().join("data"), id).unwrap_or_default();
        assert!(
            failure.contains(TEST_SIGNATURE),
            "the record names the signature: {failure:?}"
        );
    }
    let clean = wait_for_status(&api, &server.base, &owner, &clean_id, "IN_REVIEW").await;
    assert!(clean["reason"].is_null(), "{clean}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanner_that_never_answers_leaves_the_upload_failed_not_in_review() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("silent.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    // Accepts every connection and never answers, as a hung clamd would.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let toml = format!(
        "[scan]\nclamd = \"unix:{}\"\ntimeout_seconds = 1\n",
        socket.display()
    );
    let server = serve_with(dir.path(), &toml, true).await;
    server.restaurant(RESTAURANT, &[OWNER]).await;
    let owner = server.token(OWNER, "owner");
    let id = upload_png(&server, &owner, "gallery-1", "a.png", images::png(200, 120)).await;
    let upload = wait_for_status(&Api::new(), &server.base, &owner, &id, "FAILED").await;
    assert_eq!(upload["reason"], "scan_failed", "{upload}");
    let failure = failure_of(&dir.path().join("data"), &id).unwrap_or_default();
    assert!(failure.contains("did not answer"), "{failure:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_scanner_production_settings_fail_closed_as_scan_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with(dir.path(), "", false).await;
    server.restaurant(RESTAURANT, &[OWNER]).await;
    let owner = server.token(OWNER, "owner");
    let id = upload_png(&server, &owner, "gallery-1", "a.png", images::png(200, 120)).await;
    let upload = wait_for_status(&Api::new(), &server.base, &owner, &id, "FAILED").await;
    assert_eq!(upload["reason"], "scan_skipped", "{upload}");
    server.stop().await;
}
