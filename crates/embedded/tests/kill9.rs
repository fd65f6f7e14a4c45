//! `kill -9` in the middle of writes loses nothing that was acknowledged: the test runs itself
//! as a child process that writes records, queue messages and objects (each upload's adopted
//! from a spool file, as the upload endpoint stores it) as fast as it can and
//! prints each id once all three writes have returned; the parent SIGKILLs it mid-stream,
//! reopens the same files and checks every acknowledged write, and that an object overwritten
//! in a loop is whole and matches its ETag. Three rounds, on the same data each time.
//!
//! A custom harness (`harness = false`), so that the same binary can be the child.

// clippy.toml allows unwrap in `#[test]` functions; this binary is all test, with no `#[test]`.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use vetted_core::ports::{ObjectStore, Uploads, WorkQueue};
use vetted_core::record::{FileName, UploadMethod};
use vetted_core::{ImageType, ObjectKey, OwnerId, SlotRef, Timestamp, UploadId, UploadRecord};
use vetted_embedded::db::Db;
use vetted_embedded::fs_store::FsObjectStore;
use vetted_embedded::sqlite_queue::{QueueConfig, SqliteWorkQueue};
use vetted_embedded::sqlite_uploads::SqliteUploads;

const CONFIG: QueueConfig = QueueConfig {
    visibility_timeout: Duration::from_secs(30),
    max_receives: 5,
};

fn owner() -> OwnerId {
    OwnerId::parse("kill-test").unwrap()
}

/// The object every iteration overwrites, with a body that differs in content and size.
fn hot_key() -> ObjectKey {
    ObjectKey::published(
        &target(),
        &UploadId::parse("00000000-0000-7000-8000-000000000000").unwrap(),
    )
}

fn target() -> SlotRef {
    "kill-test/gallery-1".parse().unwrap()
}

fn body_of(id: &UploadId) -> Bytes {
    Bytes::from(id.to_string().repeat(50))
}

struct Adapters {
    uploads: SqliteUploads,
    queue: SqliteWorkQueue,
    store: FsObjectStore,
}

async fn open(dir: &Path) -> Adapters {
    let db = Db::open(dir.join("vetted.db")).await.unwrap();
    Adapters {
        uploads: SqliteUploads::new(db.clone()),
        queue: SqliteWorkQueue::new(db, "intake", CONFIG),
        store: FsObjectStore::new(dir.join("objects")).unwrap(),
    }
}

async fn child(dir: &Path) {
    let a = open(dir).await;
    let spool = dir.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        let now = Timestamp::from_unix_millis(1_700_000_000_000 + i as i64);
        let record = UploadRecord::new_intent(
            UploadId::generate(),
            owner(),
            target(),
            FileName::parse("x.png").unwrap(),
            ImageType::Png,
            10,
            UploadMethod::Post,
            now,
            now,
        );
        let body = body_of(&record.id);
        a.uploads.create(&record).await.unwrap();
        a.queue.send(&record.id.to_string()).await.unwrap();
        // Each upload's object is adopted from a spool file, as the upload endpoint stores it.
        let spooled = spool.join(record.id.to_string());
        std::fs::write(&spooled, &body).unwrap();
        a.store
            .adopt_file(&record.key, &spooled, "image/png")
            .await
            .unwrap();
        let hot = Bytes::from(body.repeat(1 + (i % 3) as usize));
        a.store.put(&hot_key(), hot, "image/png").await.unwrap();
        writeln!(out, "{}", record.id).unwrap();
        out.flush().unwrap();
    }
}

/// Runs the child until it has acknowledged `acks` iterations, kills it, returns their ids.
fn run_and_kill(dir: &Path, acks: usize) -> Vec<UploadId> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("child")
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    while acked.len() < acks {
        let line = lines
            .next()
            .expect("the child stopped before it was killed")
            .unwrap();
        acked.push(UploadId::parse(&line).unwrap());
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    acked
}

async fn verify(dir: &Path, acked: &[UploadId]) -> usize {
    let a = open(dir).await;
    let db = Db::open(dir.join("vetted.db")).await.unwrap();
    let check: String = db
        .read(|conn| conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)))
        .await
        .unwrap();
    assert_eq!(check, "ok");
    for id in acked {
        let record = a.uploads.get(id).await.unwrap_or_else(|e| {
            panic!("acknowledged record {id} lost after kill -9: {e}");
        });
        let stored = a.store.get(&record.key).await.unwrap_or_else(|e| {
            panic!("acknowledged object {} lost after kill -9: {e}", record.key);
        });
        assert_eq!(stored, body_of(id), "object of {id}");
    }
    let hot = a.store.get(&hot_key()).await.unwrap();
    let meta = a.store.head(&hot_key()).await.unwrap();
    let etag = format!("\"{}\"", hex::encode(Sha256::digest(&hot)));
    assert_eq!(
        meta.etag, etag,
        "the overwritten object disagrees with its metadata"
    );
    assert_eq!(meta.size, hot.len() as u64);
    let stats = a.queue.stats().await.unwrap();
    stats.visible as usize
}

/// The one test this binary holds, as test runners (cargo test, nextest) name it.
const TEST_NAME: &str = "kill_9_loses_nothing_acknowledged";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Test runners list a binary's tests before running them (`--list`, `--list --ignored`),
    // in libtest's terse format; answer that instead of running the test.
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            println!("{TEST_NAME}: test");
        }
        return;
    }
    // A filter naming another test (or `--ignored`, which selects none here) runs nothing.
    let filters: Vec<&String> = args
        .iter()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let selected = filters.is_empty() || filters.iter().any(|f| TEST_NAME.contains(f.as_str()));
    if args.iter().any(|a| a == "--ignored")
        || (!selected && args.get(1).map(String::as_str) != Some("child"))
    {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if args.get(1).map(String::as_str) == Some("child") {
        runtime.block_on(child(Path::new(&args[2])));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data: PathBuf = dir.path().join("data");
    let mut all_acked = Vec::new();
    for (round, acks) in [150, 40, 250].into_iter().enumerate() {
        let acked = run_and_kill(&data, acks);
        all_acked.extend(acked);
        let queued = runtime.block_on(verify(&data, &all_acked));
        // Every acknowledged send is queued; at most one more per round was committed but
        // not yet acknowledged when the kill came.
        assert!(
            queued >= all_acked.len() && queued <= all_acked.len() + round + 1,
            "round {round}: {queued} messages queued for {} acknowledged sends",
            all_acked.len()
        );
        println!(
            "kill -9 round {round}: {} acknowledged writes all present after the kill",
            all_acked.len()
        );
    }
    println!("{TEST_NAME}: 1 passed, 0 failed");
}
