//! Object store checks: overwrites, copies, deletes and file uploads.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use vetted_core::ports::{ObjectStore, StoreError};

use super::{assert_meta, fresh_key, pattern};
use crate::support::Check;

/// A second `put` replaces the bytes and the content type, and returns a different etag.
pub async fn overwrite_returns_the_new_etag(store: &dyn ObjectStore) {
    const CHECK: &str = "objects::overwrite_returns_the_new_etag";
    let _check = Check::start(CHECK);
    let key = fresh_key();
    let first = store
        .put(&key, pattern(300, 1), "image/png")
        .await
        .expect("first put");
    let second_body = pattern(200, 2);
    let second = store
        .put(&key, second_body.clone(), "image/jpeg")
        .await
        .expect("second put");
    assert_meta(CHECK, &second, 200, "image/jpeg");
    assert_ne!(
        first.etag, second.etag,
        "{CHECK}: new content must have a new etag"
    );
    assert_eq!(
        store.head(&key).await.expect("head"),
        second,
        "{CHECK}: head"
    );
    assert!(
        store.get(&key).await.expect("get") == second_body,
        "{CHECK}: get must return the second body"
    );
    store.delete(&key).await.expect("delete");
}

/// While one task overwrites an object again and again, readers see either the old bytes or
/// the new ones, whole: never a mix, a prefix, or a missing object.
pub async fn overwrite_is_atomic_for_readers(store: &dyn ObjectStore) {
    const CHECK: &str = "objects::overwrite_is_atomic_for_readers";
    let _check = Check::start(CHECK);
    const WRITES: usize = 12;
    const MAX_READS: usize = 400;
    let key = fresh_key();
    let a = Bytes::from(vec![0xAA; 192 * 1024]);
    let b = Bytes::from(vec![0xBB; 320 * 1024]);
    store.put(&key, a.clone(), "image/png").await.expect("put");
    let writing = AtomicBool::new(true);
    let writer = async {
        for i in 0..WRITES {
            let body = if i % 2 == 0 { b.clone() } else { a.clone() };
            store
                .put(&key, body, "image/png")
                .await
                .unwrap_or_else(|e| panic!("{CHECK}: overwrite {i} failed: {e}"));
            tokio::task::yield_now().await;
        }
        writing.store(false, Ordering::SeqCst);
    };
    let reader = async {
        let mut reads = 0;
        while writing.load(Ordering::SeqCst) && reads < MAX_READS {
            reads += 1;
            let got = store
                .get(&key)
                .await
                .unwrap_or_else(|e| panic!("{CHECK}: get during overwrites failed: {e}"));
            assert!(
                got == a || got == b,
                "{CHECK}: a reader saw {} bytes that are neither the old object nor the new one",
                got.len()
            );
            let head = store
                .head(&key)
                .await
                .unwrap_or_else(|e| panic!("{CHECK}: head during overwrites failed: {e}"));
            assert!(
                head.size == a.len() as u64 || head.size == b.len() as u64,
                "{CHECK}: head reported a size ({}) of neither version",
                head.size
            );
        }
    };
    tokio::join!(writer, reader);
    store.delete(&key).await.expect("delete");
}

/// `copy` keeps the bytes, sets the given content type on the copy and leaves the source as it was.
pub async fn copy_keeps_bytes_and_sets_content_type(store: &dyn ObjectStore) {
    const CHECK: &str = "objects::copy_keeps_bytes_and_sets_content_type";
    let _check = Check::start(CHECK);
    let (from, to) = (fresh_key(), fresh_key());
    let body = pattern(70_000, 5);
    let source = store
        .put(&from, body.clone(), "application/octet-stream")
        .await
        .expect("put source");
    let copied = store
        .copy(&from, &to, "image/webp")
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: copy failed: {e}"));
    assert_meta(CHECK, &copied, body.len(), "image/webp");
    assert_eq!(store.head(&to).await.expect("head copy"), copied, "{CHECK}");
    assert!(
        store.get(&to).await.expect("get copy") == body,
        "{CHECK}: the copy has different bytes"
    );
    assert_eq!(
        store.head(&from).await.expect("head source"),
        source,
        "{CHECK}: copying changed the source"
    );
    for key in [&from, &to] {
        store.delete(key).await.expect("delete");
    }
}

/// Copying onto an existing key replaces that object.
pub async fn copy_replaces_an_existing_object(store: &dyn ObjectStore) {
    const CHECK: &str = "objects::copy_replaces_an_existing_object";
    let _check = Check::start(CHECK);
    let (from, to) = (fresh_key(), fresh_key());
    let body = pattern(1234, 6);
    store
        .put(&from, body.clone(), "image/png")
        .await
        .expect("put source");
    store
        .put(&to, pattern(99_999, 7), "image/jpeg")
        .await
        .expect("put target");
    let copied = store
        .copy(&from, &to, "image/png")
        .await
        .expect("copy onto an existing key");
    assert_meta(CHECK, &copied, body.len(), "image/png");
    assert!(
        store.get(&to).await.expect("get") == body,
        "{CHECK}: the target still has its old bytes"
    );
    for key in [&from, &to] {
        store.delete(key).await.expect("delete");
    }
}

/// After `delete` the object is gone; deleting it again, or a key that never existed, succeeds.
pub async fn delete_is_idempotent(store: &dyn ObjectStore) {
    const CHECK: &str = "objects::delete_is_idempotent";
    let _check = Check::start(CHECK);
    let key = fresh_key();
    store
        .put(&key, pattern(10, 0), "image/png")
        .await
        .expect("put");
    store
        .delete(&key)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: delete failed: {e}"));
    for (op, result) in [
        ("head", store.head(&key).await.map(drop)),
        ("get", store.get(&key).await.map(drop)),
    ] {
        assert!(
            matches!(result, Err(StoreError::NotFound(_))),
            "{CHECK}: {op} after delete must be NotFound, got {result:?}"
        );
    }
    store
        .delete(&key)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: a second delete must succeed: {e}"));
    store
        .delete(&fresh_key())
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: deleting a key never written must succeed: {e}"));
}

/// `put_file` stores a local file's bytes (several MiB, so a store that reads it whole still
/// passes, but one that truncates does not).
pub async fn put_file_streams_a_file(store: &dyn ObjectStore) {
    const CHECK: &str = "objects::put_file_streams_a_file";
    let _check = Check::start(CHECK);
    let body = pattern(3 * 1024 * 1024 + 321, 11);
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&body).expect("write temp file");
    file.flush().expect("flush temp file");
    let key = fresh_key();
    let put = store
        .put_file(&key, file.path(), "image/jpeg")
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: put_file failed: {e}"));
    assert_meta(CHECK, &put, body.len(), "image/jpeg");
    assert_eq!(store.head(&key).await.expect("head"), put, "{CHECK}: head");
    let middle = 2 * 1024 * 1024..2 * 1024 * 1024 + 4096;
    let got = store
        .get_range(&key, middle.start as u64..middle.end as u64)
        .await
        .expect("get_range");
    assert!(
        got[..] == body[middle],
        "{CHECK}: a range of the file differs"
    );
    assert!(
        store.get(&key).await.expect("get") == body,
        "{CHECK}: the stored object differs from the file"
    );
    store.delete(&key).await.expect("delete");
}

/// `adopt_file` stores a file the caller gives up: the object holds exactly its bytes, with a
/// fresh version per write, whether the store took the file or copied it. A missing file is an
/// error that leaves the key absent.
pub async fn adopt_file_stores_the_file(store: &dyn ObjectStore) {
    const CHECK: &str = "objects::adopt_file_stores_the_file";
    let _check = Check::start(CHECK);
    let dir = tempfile::tempdir().expect("temp dir");
    let key = fresh_key();
    let mut versions = Vec::new();
    for (round, len) in [(1u8, 1024 * 1024 + 77), (2, 4096)] {
        let body = pattern(len, 40 + round);
        let path = dir.path().join(format!("spooled-{round}"));
        std::fs::write(&path, &body).expect("write the file to adopt");
        let adopted = store
            .adopt_file(&key, &path, "image/png")
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: adopt_file failed: {e}"));
        assert_meta(CHECK, &adopted, body.len(), "image/png");
        assert_eq!(
            store.head(&key).await.expect("head"),
            adopted,
            "{CHECK}: head"
        );
        assert!(
            store.get(&key).await.expect("get") == body,
            "{CHECK}: the stored object differs from the file (round {round})"
        );
        versions.push(adopted.version);
    }
    assert_ne!(
        versions[0], versions[1],
        "{CHECK}: two writes must have two versions"
    );
    let absent = fresh_key();
    let result = store
        .adopt_file(&absent, &dir.path().join("absent.png"), "image/png")
        .await;
    assert!(
        result.is_err(),
        "{CHECK}: adopt_file of a missing file returned {result:?}"
    );
    assert!(
        matches!(store.head(&absent).await, Err(StoreError::NotFound(_))),
        "{CHECK}: a failed adopt_file left an object behind"
    );
    store.delete(&key).await.expect("delete");
}

/// `put_file` of a path that does not exist is an error, and the key stays absent.
pub async fn put_file_of_a_missing_file_fails_and_creates_nothing(store: &dyn ObjectStore) {
    const CHECK: &str = "objects::put_file_of_a_missing_file_fails_and_creates_nothing";
    let _check = Check::start(CHECK);
    let dir = tempfile::tempdir().expect("temp dir");
    let key = fresh_key();
    let result = store
        .put_file(&key, &dir.path().join("absent.png"), "image/png")
        .await;
    assert!(
        result.is_err(),
        "{CHECK}: put_file of a missing file returned {result:?}"
    );
    assert!(
        matches!(store.head(&key).await, Err(StoreError::NotFound(_))),
        "{CHECK}: a failed put_file left an object behind"
    );
}
