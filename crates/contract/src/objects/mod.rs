//! The `ObjectStore` contract: reads, ranged reads, atomic writes (from bytes, from a file, and
//! of a file the caller gives up), copies, deletes, versions, and keys that never escape the
//! store.
//!
//! Every check writes under keys of its own (fresh upload ids), so the suite also runs on a
//! shared bucket.

mod reads;
mod strays;
mod versions;
mod writes;

pub use reads::{
    empty_objects_have_no_bytes, missing_keys_are_not_found, put_head_get_round_trip,
    ranged_reads_are_clipped_to_the_object,
};
pub use strays::stray_keys_stay_inside_the_store;
pub use versions::{
    delete_all_versions_leaves_no_write_readable, delete_version_removes_only_that_write,
    reads_of_a_version_never_return_another_write,
};
pub use writes::{
    adopt_file_stores_the_file, copy_keeps_bytes_and_sets_content_type,
    copy_replaces_an_existing_object, delete_is_idempotent, overwrite_is_atomic_for_readers,
    overwrite_returns_the_new_etag, put_file_of_a_missing_file_fails_and_creates_nothing,
    put_file_streams_a_file,
};

use bytes::Bytes;
use vetted_core::ports::{ObjectMeta, ObjectStore};
use vetted_core::{ObjectKey, UploadId};

/// Runs every check on `store`, which should start empty.
pub async fn run_all(store: &dyn ObjectStore) {
    put_head_get_round_trip(store).await;
    empty_objects_have_no_bytes(store).await;
    ranged_reads_are_clipped_to_the_object(store).await;
    missing_keys_are_not_found(store).await;
    overwrite_returns_the_new_etag(store).await;
    overwrite_is_atomic_for_readers(store).await;
    copy_keeps_bytes_and_sets_content_type(store).await;
    copy_replaces_an_existing_object(store).await;
    delete_is_idempotent(store).await;
    put_file_streams_a_file(store).await;
    put_file_of_a_missing_file_fails_and_creates_nothing(store).await;
    adopt_file_stores_the_file(store).await;
    stray_keys_stay_inside_the_store(store).await;
    reads_of_a_version_never_return_another_write(store).await;
    delete_version_removes_only_that_write(store).await;
    delete_all_versions_leaves_no_write_readable(store).await;
}

/// A key no other check or run uses.
pub(crate) fn fresh_key() -> ObjectKey {
    ObjectKey::sanitized(&UploadId::generate())
}

/// `len` bytes that differ from their neighbours, so a shifted range cannot pass for the right one.
pub(crate) fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i.wrapping_mul(31) as u8).wrapping_add(seed) ^ ((i >> 8) as u8))
        .collect::<Vec<u8>>()
        .into()
}

/// Checks what every returned or fetched `ObjectMeta` must satisfy.
pub(crate) fn assert_meta(check: &str, meta: &ObjectMeta, size: usize, content_type: &str) {
    assert_eq!(
        meta.size, size as u64,
        "{check}: size in metadata is {}, the object has {size} bytes",
        meta.size
    );
    assert!(
        meta.etag.len() > 2 && meta.etag.starts_with('"') && meta.etag.ends_with('"'),
        "{check}: the etag must be quoted as S3 returns it, got {:?}",
        meta.etag
    );
    assert_eq!(
        meta.content_type.as_deref(),
        Some(content_type),
        "{check}: content type"
    );
}
