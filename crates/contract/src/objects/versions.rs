//! Object store checks: every write has its own version, and reads and deletes of one version
//! never reach another write, which is what lets the pipeline examine and publish exactly the
//! bytes intake saw even when the key is written again.

use bytes::Bytes;
use vetted_core::ObjectKey;
use vetted_core::ports::{ObjectStore, StoreError};

use super::{fresh_key, pattern};
use crate::support::Check;

fn expect_version_gone(check: &str, what: &str, result: Result<Bytes, StoreError>) {
    match result {
        Err(StoreError::VersionGone { .. }) => {}
        Ok(got) => panic!(
            "{check}: {what} returned {} bytes, not VersionGone",
            got.len()
        ),
        Err(other) => panic!("{check}: {what} must be VersionGone, got {other}"),
    }
}

async fn version_of(check: &str, store: &dyn ObjectStore, key: &ObjectKey, seed: u8) -> String {
    let put = store
        .put(key, pattern(3000, seed), "image/png")
        .await
        .unwrap_or_else(|e| panic!("{check}: put failed: {e}"));
    put.version
        .clone()
        .unwrap_or_else(|| panic!("{check}: a write must have a version: {put:?}"))
}

/// Two writes of one key have different versions, also with the same bytes. A read of the first
/// version after the second write returns the first write's bytes (a store that keeps old
/// versions) or `VersionGone` (one that keeps only the latest); never the second's. A read of
/// the latest version returns it, whole and by range. A version never issued, or of a key never
/// written, is `VersionGone`.
pub async fn reads_of_a_version_never_return_another_write(store: &dyn ObjectStore) {
    const CHECK: &str = "objects::reads_of_a_version_never_return_another_write";
    let _check = Check::start(CHECK);
    let key = fresh_key();
    let first = version_of(CHECK, store, &key, 1).await;
    let head = store
        .head(&key)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: head failed: {e}"));
    assert_eq!(
        head.version.as_deref(),
        Some(first.as_str()),
        "{CHECK}: head's version"
    );
    let same_bytes = version_of(CHECK, store, &key, 1).await;
    assert_ne!(
        first, same_bytes,
        "{CHECK}: a second write of the same bytes must have a version of its own"
    );
    let second = version_of(CHECK, store, &key, 2).await;

    let latest = store
        .get_version(&key, &second)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: get_version of the latest write failed: {e}"));
    assert!(
        latest == pattern(3000, 2),
        "{CHECK}: the latest version's bytes differ"
    );
    let range = store
        .get_range_of_version(&key, &second, 10..20)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: get_range_of_version of the latest failed: {e}"));
    assert!(
        range == pattern(3000, 2).slice(10..20),
        "{CHECK}: the range differs"
    );

    match store.get_version(&key, &first).await {
        Ok(bytes) => assert!(
            bytes == pattern(3000, 1),
            "{CHECK}: a read of the first version returned bytes that are not the first write's"
        ),
        Err(StoreError::VersionGone { key: gone, version }) => {
            assert_eq!(
                (gone, version),
                (key.clone(), first.clone()),
                "{CHECK}: VersionGone names"
            );
        }
        Err(other) => panic!("{CHECK}: get_version of an overwritten write failed: {other}"),
    }
    match store.get_range_of_version(&key, &first, 0..5).await {
        Ok(bytes) => assert!(
            bytes == pattern(3000, 1).slice(0..5),
            "{CHECK}: a ranged read of the first version returned another write's bytes"
        ),
        Err(StoreError::VersionGone { .. }) => {}
        Err(other) => panic!("{CHECK}: get_range_of_version of an overwritten write: {other}"),
    }
    expect_version_gone(
        CHECK,
        "get_version of a version the store never issued",
        store.get_version(&key, "no-such-version").await,
    );
    // After a delete, a store that keeps versions may still serve that write by its id.
    store.delete(&key).await.expect("delete");
    match store.get_version(&key, &second).await {
        Ok(bytes) => assert!(
            bytes == pattern(3000, 2),
            "{CHECK}: after a delete, get_version returned bytes that are not that write's"
        ),
        Err(StoreError::VersionGone { .. }) => {}
        Err(other) => panic!("{CHECK}: get_version after a delete failed: {other}"),
    }
    expect_version_gone(
        CHECK,
        "get_range_of_version of a key never written",
        store
            .get_range_of_version(&fresh_key(), &second, 0..5)
            .await,
    );
}

/// `delete_version` of an older write leaves the latest one; of the latest, removes it; of a
/// version that is not there, succeeds and changes nothing.
pub async fn delete_version_removes_only_that_write(store: &dyn ObjectStore) {
    const CHECK: &str = "objects::delete_version_removes_only_that_write";
    let _check = Check::start(CHECK);
    let key = fresh_key();
    let first = version_of(CHECK, store, &key, 5).await;
    let second = version_of(CHECK, store, &key, 6).await;
    store
        .delete_version(&key, &first)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: delete_version of the older write failed: {e}"));
    let still = store
        .get(&key)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: deleting an older write removed the latest: {e}"));
    assert!(
        still == pattern(3000, 6),
        "{CHECK}: the latest write changed"
    );
    store
        .delete_version(&key, "no-such-version")
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: delete_version of an unknown version: {e}"));
    store
        .delete_version(&key, &second)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: delete_version of the latest failed: {e}"));
    match store.get(&key).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("{CHECK}: after deleting the only remaining write, get: {other:?}"),
    }
    store
        .delete_version(&key, &second)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: deleting a deleted version again: {e}"));
}

/// `delete_all_versions` leaves nothing of the key: no latest write, and no earlier write read
/// by its version (a store that keeps old versions must delete those too, not hide them
/// behind a delete marker). A second call, and a call on a key never written, succeed.
pub async fn delete_all_versions_leaves_no_write_readable(store: &dyn ObjectStore) {
    const CHECK: &str = "objects::delete_all_versions_leaves_no_write_readable";
    let _check = Check::start(CHECK);
    let key = fresh_key();
    let first = version_of(CHECK, store, &key, 1).await;
    let second = version_of(CHECK, store, &key, 2).await;
    let other = fresh_key();
    version_of(CHECK, store, &other, 3).await;
    store
        .delete_all_versions(&key)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: delete_all_versions failed: {e}"));
    match store.head(&key).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("{CHECK}: head after delete_all_versions must be NotFound, got {other:?}"),
    }
    for (what, version) in [("the first write", &first), ("the second write", &second)] {
        let read = store.get_version(&key, version).await;
        assert!(
            matches!(
                read,
                Err(StoreError::VersionGone { .. } | StoreError::NotFound(_))
            ),
            "{CHECK}: {what} is still readable by its version: {:?}",
            read.map(|b| b.len())
        );
    }
    store
        .delete_all_versions(&key)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: a second delete_all_versions failed: {e}"));
    store
        .delete_all_versions(&fresh_key())
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: delete_all_versions of a missing key failed: {e}"));
    store
        .head(&other)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: another key was deleted with it: {e}"));
    store.delete_all_versions(&other).await.ok();
}
