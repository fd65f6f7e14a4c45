//! Object store checks: what is written reads back, whole, by range and by head.

use bytes::Bytes;
use vetted_core::ports::{ObjectStore, StoreError};

use super::{assert_meta, fresh_key, pattern};
use crate::support::Check;

/// `put` returns the metadata `head` then reports, and `get` returns the bytes that were put.
pub async fn put_head_get_round_trip(store: &dyn ObjectStore) {
    const CHECK: &str = "objects::put_head_get_round_trip";
    let _check = Check::start(CHECK);
    let key = fresh_key();
    let body = pattern(4096 + 17, 3);
    let put = store
        .put(&key, body.clone(), "image/png")
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: put failed: {e}"));
    assert_meta(CHECK, &put, body.len(), "image/png");
    let head = store
        .head(&key)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: head after put failed: {e}"));
    assert_eq!(head, put, "{CHECK}: head must report what put returned");
    let got = store
        .get(&key)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: get after put failed: {e}"));
    assert!(got == body, "{CHECK}: get returned different bytes");
    store.delete(&key).await.expect("delete");
}

/// A zero-byte object exists, has size 0, and every read of it is empty.
pub async fn empty_objects_have_no_bytes(store: &dyn ObjectStore) {
    const CHECK: &str = "objects::empty_objects_have_no_bytes";
    let _check = Check::start(CHECK);
    let key = fresh_key();
    let put = store
        .put(&key, Bytes::new(), "image/jpeg")
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: put of an empty body failed: {e}"));
    assert_meta(CHECK, &put, 0, "image/jpeg");
    let head = store.head(&key).await.expect("head of an empty object");
    assert_eq!(head.size, 0, "{CHECK}: head size");
    assert!(
        store.get(&key).await.expect("get").is_empty(),
        "{CHECK}: get"
    );
    for range in [0..1, 0..64 * 1024, 5..10] {
        let got = store
            .get_range(&key, range.clone())
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: get_range({range:?}) of an empty object: {e}"));
        assert!(
            got.is_empty(),
            "{CHECK}: get_range({range:?}) returned bytes"
        );
    }
    store.delete(&key).await.expect("delete");
}

/// `get_range(a..b)` returns exactly bytes `a..b`, clipped at the end; past the end, or for
/// an empty range, it returns nothing (and no error).
pub async fn ranged_reads_are_clipped_to_the_object(store: &dyn ObjectStore) {
    const CHECK: &str = "objects::ranged_reads_are_clipped_to_the_object";
    let _check = Check::start(CHECK);
    let key = fresh_key();
    let body = pattern(1000, 9);
    store
        .put(&key, body.clone(), "image/webp")
        .await
        .expect("put");
    #[allow(clippy::reversed_empty_ranges)]
    let cases: [(std::ops::Range<u64>, std::ops::Range<usize>); 12] = [
        (0..1000, 0..1000),
        (0..1, 0..1),
        (10..20, 10..20),
        (999..1000, 999..1000),
        (0..64 * 1024, 0..1000),
        (990..2000, 990..1000),
        (0..u64::MAX, 0..1000),
        (1000..1010, 0..0),
        (5000..6000, 0..0),
        (500..500, 0..0),
        (0..0, 0..0),
        (20..10, 0..0),
    ];
    for (asked, expected) in cases {
        let got = store
            .get_range(&key, asked.clone())
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: get_range({asked:?}) failed: {e}"));
        assert_eq!(
            got.len(),
            expected.len(),
            "{CHECK}: get_range({asked:?}) of a 1000-byte object returned {} bytes, expected {}",
            got.len(),
            expected.len()
        );
        assert!(
            got[..] == body[expected.clone()],
            "{CHECK}: get_range({asked:?}) returned the wrong bytes"
        );
    }
    store.delete(&key).await.expect("delete");
}

/// `head`, `get`, `get_range` and `copy` of a missing key are `NotFound` naming that key, and
/// a failed copy creates nothing.
pub async fn missing_keys_are_not_found(store: &dyn ObjectStore) {
    const CHECK: &str = "objects::missing_keys_are_not_found";
    let _check = Check::start(CHECK);
    let missing = fresh_key();
    let target = fresh_key();
    let expect_not_found = |op: &str, result: Result<(), StoreError>| match result {
        Err(StoreError::NotFound(key)) => assert_eq!(
            key, missing,
            "{CHECK}: {op} NotFound must name the missing key"
        ),
        Err(other) => panic!("{CHECK}: {op} of a missing key must be NotFound, got {other:?}"),
        Ok(()) => panic!("{CHECK}: {op} of a missing key succeeded"),
    };
    expect_not_found("head", store.head(&missing).await.map(drop));
    expect_not_found("get", store.get(&missing).await.map(drop));
    expect_not_found(
        "get_range",
        store.get_range(&missing, 0..10).await.map(drop),
    );
    expect_not_found(
        "copy",
        store.copy(&missing, &target, "image/png").await.map(drop),
    );
    match store.head(&target).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("{CHECK}: a copy from a missing key created its target: {other:?}"),
    }
}
