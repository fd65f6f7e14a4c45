//! The `MultipartUploads` contract, with the signer's `presign_part`: an upload is begun, its
//! parts are sent over HTTP through the signed URLs as a client sends them, listed, and
//! completed into one object; an aborted or completed upload is gone; a part sent again
//! replaces the first.
//!
//! The store must be reachable over HTTP at the URLs the signer makes. Every check uses keys
//! of its own, so the suite also runs on a shared bucket. On moto it needs
//! `scripts/moto_server.py`, which makes moto check a part's SHA-256 and name its ListParts
//! answer as S3 does; a part's checksum in a listing is checked where the store reports it
//! (S3 and the embedded endpoint do, moto does not).

use vetted_core::ports::{
    MIN_PART_BYTES, MultipartError, MultipartUploadId, MultipartUploads, ObjectStore, PartGrant,
    StoredPart, UploadSigner,
};
use vetted_core::{Clock, ContentSha256, ImageType, ObjectKey, SystemClock, UploadId};

use crate::support::{Check, unique};

/// What the suite runs against: the port, the signer for its bucket, and the object store
/// over the same bucket to read completed objects.
pub struct MultipartStore<'a> {
    pub multipart: &'a dyn MultipartUploads,
    pub signer: &'a dyn UploadSigner,
    pub objects: &'a dyn ObjectStore,
}

/// Runs every check.
pub async fn run_all(store: &MultipartStore<'_>) {
    parts_sent_through_signed_urls_are_listed_and_completed_into_one_object(store).await;
    a_part_sent_again_replaces_the_first(store).await;
    an_aborted_upload_is_gone_and_aborting_again_is_no_error(store).await;
    an_upload_the_store_never_issued_is_no_such_upload(store).await;
    a_part_whose_bytes_are_not_the_signed_ones_is_refused(store).await;
}

fn ok<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn fresh_key() -> (ObjectKey, UploadId) {
    let id = UploadId::generate();
    let slot = format!("{}/gallery-1", unique("mp").to_lowercase())
        .parse()
        .unwrap_or_else(|e| panic!("a slot: {e}"));
    (ObjectKey::incoming(&slot, &id), id)
}

/// `size` bytes that differ with `seed`.
fn bytes(size: u64, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

/// Signs part `number` for `body` and sends it; the HTTP status.
async fn send_part(
    store: &MultipartStore<'_>,
    key: &ObjectKey,
    multipart: &MultipartUploadId,
    number: u32,
    signed_for: &[u8],
    body: &[u8],
) -> u16 {
    let put = ok(
        store
            .signer
            .presign_part(&PartGrant {
                key,
                multipart,
                number,
                length: signed_for.len() as u64,
                sha256: ContentSha256::of(signed_for),
                now: SystemClock.now(),
                expires_in: std::time::Duration::from_secs(300),
            })
            .await,
        "presign_part",
    );
    let mut request = http().put(&put.url);
    for (name, value) in &put.headers {
        request = request.header(name, value);
    }
    ok(request.body(body.to_vec()).send().await, "PUT part")
        .status()
        .as_u16()
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

pub async fn parts_sent_through_signed_urls_are_listed_and_completed_into_one_object(
    store: &MultipartStore<'_>,
) {
    let _check = Check::start(
        "multipart::parts_sent_through_signed_urls_are_listed_and_completed_into_one_object",
    );
    let (key, id) = fresh_key();
    let multipart = ok(
        store.multipart.begin(&key, ImageType::Png, &id).await,
        "begin",
    );
    assert_eq!(
        ok(store.multipart.list_parts(&key, &multipart).await, "list"),
        vec![],
        "a new upload has no parts"
    );
    let first = bytes(MIN_PART_BYTES, 1);
    let second = bytes(1000, 2);
    // Sent out of order, as parallel clients do.
    assert_eq!(
        send_part(store, &key, &multipart, 2, &second, &second).await,
        200
    );
    assert_eq!(
        send_part(store, &key, &multipart, 1, &first, &first).await,
        200
    );
    let parts = ok(store.multipart.list_parts(&key, &multipart).await, "list");
    let numbered: Vec<(u32, u64)> = parts.iter().map(|p| (p.number, p.size)).collect();
    assert_eq!(
        numbered,
        [(1, MIN_PART_BYTES), (2, 1000)],
        "listed in order, each at its size"
    );
    for (part, body) in parts.iter().zip([&first, &second]) {
        if let Some(sha256) = part.sha256 {
            assert_eq!(sha256, ContentSha256::of(body), "part {}", part.number);
        }
    }
    ok(
        store.multipart.complete(&key, &multipart, &parts).await,
        "complete",
    );
    let object = ok(store.objects.get(&key).await, "get the completed object");
    assert_eq!(object.len(), first.len() + second.len());
    assert!(
        object[..first.len()] == first[..] && object[first.len()..] == second[..],
        "the object is the parts in order"
    );
    let meta = ok(store.objects.head(&key).await, "head");
    assert_eq!(meta.content_type.as_deref(), Some("image/png"));
    if let Some(sha256) = meta.sha256 {
        let whole = [first.as_slice(), second.as_slice()].concat();
        assert_eq!(
            sha256,
            ContentSha256::of(&whole),
            "a SHA-256 the store reports is the content's, never one of the parts' checksums"
        );
    }
    assert!(
        matches!(
            store.multipart.list_parts(&key, &multipart).await,
            Err(MultipartError::NoSuchUpload)
        ),
        "a completed upload is gone"
    );
    // A second completion (a client that lost the first answer) finds the upload gone, or,
    // on a store that keeps a completed upload's id for a while (moto does), succeeds again;
    // either way the object is the same.
    match store.multipart.complete(&key, &multipart, &parts).await {
        Ok(()) | Err(MultipartError::NoSuchUpload) => {}
        Err(other) => panic!("completing twice: {other}"),
    }
    assert_eq!(ok(store.objects.get(&key).await, "get again"), object);
}

pub async fn a_part_sent_again_replaces_the_first(store: &MultipartStore<'_>) {
    let _check = Check::start("multipart::a_part_sent_again_replaces_the_first");
    let (key, id) = fresh_key();
    let multipart = ok(
        store.multipart.begin(&key, ImageType::Jpeg, &id).await,
        "begin",
    );
    let early = bytes(300, 3);
    let late = bytes(200, 4);
    assert_eq!(
        send_part(store, &key, &multipart, 1, &early, &early).await,
        200
    );
    assert_eq!(
        send_part(store, &key, &multipart, 1, &late, &late).await,
        200
    );
    let parts: Vec<StoredPart> = ok(store.multipart.list_parts(&key, &multipart).await, "list");
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert_eq!(parts[0].size, 200, "the later part is kept");
    ok(
        store.multipart.complete(&key, &multipart, &parts).await,
        "complete",
    );
    assert_eq!(
        ok(store.objects.get(&key).await, "get").as_ref(),
        late.as_slice()
    );
}

pub async fn an_aborted_upload_is_gone_and_aborting_again_is_no_error(store: &MultipartStore<'_>) {
    let _check =
        Check::start("multipart::an_aborted_upload_is_gone_and_aborting_again_is_no_error");
    let (key, id) = fresh_key();
    let multipart = ok(
        store.multipart.begin(&key, ImageType::Webp, &id).await,
        "begin",
    );
    let part = bytes(100, 5);
    assert_eq!(
        send_part(store, &key, &multipart, 1, &part, &part).await,
        200
    );
    ok(store.multipart.abort(&key, &multipart).await, "abort");
    assert!(matches!(
        store.multipart.list_parts(&key, &multipart).await,
        Err(MultipartError::NoSuchUpload)
    ));
    ok(
        store.multipart.abort(&key, &multipart).await,
        "aborting an upload already gone",
    );
    assert!(
        store.objects.head(&key).await.is_err(),
        "no object was made"
    );
}

pub async fn an_upload_the_store_never_issued_is_no_such_upload(store: &MultipartStore<'_>) {
    let _check = Check::start("multipart::an_upload_the_store_never_issued_is_no_such_upload");
    let (key, _) = fresh_key();
    let made_up = ok(
        MultipartUploadId::parse("0123456789abcdef0123456789abcdef"),
        "an id",
    );
    assert!(matches!(
        store.multipart.list_parts(&key, &made_up).await,
        Err(MultipartError::NoSuchUpload)
    ));
    ok(
        store.multipart.abort(&key, &made_up).await,
        "aborting an unknown upload",
    );
}

pub async fn a_part_whose_bytes_are_not_the_signed_ones_is_refused(store: &MultipartStore<'_>) {
    let _check = Check::start("multipart::a_part_whose_bytes_are_not_the_signed_ones_is_refused");
    let (key, id) = fresh_key();
    let multipart = ok(
        store.multipart.begin(&key, ImageType::Png, &id).await,
        "begin",
    );
    let signed = bytes(500, 6);
    let mut sent = signed.clone();
    sent[10] ^= 0xFF;
    let status = send_part(store, &key, &multipart, 1, &signed, &sent).await;
    assert_eq!(status, 400, "a body with another SHA-256 is refused");
    assert_eq!(
        ok(store.multipart.list_parts(&key, &multipart).await, "list"),
        vec![],
        "and not kept"
    );
    ok(store.multipart.abort(&key, &multipart).await, "abort");
}
