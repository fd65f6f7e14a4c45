//! Uploads checks for content-hash dedup: recording a digest once, and listing the records
//! of one digest.

use vetted_core::ports::{PageRequest, Uploads, UploadsError};
use vetted_core::{ContentSha256, RecordChanges, Status, Transition, UploadId};

use super::listings::{ids, list_all, list_ours, walked};
use super::transitions::path_to;
use super::{at, default_target, fresh_owner, intent, now_ms};
use crate::support::{Check, unique};

/// `record_sha256` sets a missing digest and nothing else, never replaces one, and reports a
/// missing record as `NotFound`.
pub async fn record_sha256_sets_a_missing_digest_once_and_nothing_else(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::record_sha256_sets_a_missing_digest_once_and_nothing_else";
    let _check = Check::start(CHECK);
    let owner = fresh_owner();
    let base = now_ms();
    let before = walked(
        uploads,
        &owner,
        default_target(),
        base,
        path_to(Status::Received),
    )
    .await;
    assert_eq!(
        before.sha256, None,
        "{CHECK}: the record starts without one"
    );
    let first = ContentSha256::of(unique("first bytes").as_bytes());
    let second = ContentSha256::of(unique("other bytes").as_bytes());
    let recorded = uploads
        .record_sha256(&before.id, &first)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: record_sha256: {e}"));
    let mut expected = before.clone();
    expected.sha256 = Some(first);
    assert_eq!(recorded, expected, "{CHECK}: only the digest changes");
    let again = uploads
        .record_sha256(&before.id, &second)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: record_sha256 again: {e}"));
    assert_eq!(again, expected, "{CHECK}: a recorded digest is kept");
    let stored = uploads
        .get(&before.id)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: get: {e}"));
    assert_eq!(stored, expected, "{CHECK}: as stored");

    let pinned = ContentSha256::of(unique("pinned").as_bytes());
    let intent = intent(&owner, base).with_sha256(Some(pinned));
    uploads
        .create(&intent)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: create: {e}"));
    let kept = uploads
        .record_sha256(&intent.id, &second)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: record_sha256 of a pinned one: {e}"));
    assert_eq!(kept, intent, "{CHECK}: a pinned digest is kept");

    let missing = UploadId::generate();
    match uploads.record_sha256(&missing, &first).await {
        Err(UploadsError::NotFound(id)) if id == missing => {}
        other => panic!("{CHECK}: a missing record is NotFound, got {other:?}"),
    }
    assert!(
        matches!(uploads.get(&missing).await, Err(UploadsError::NotFound(_))),
        "{CHECK}: record_sha256 of a missing record creates nothing"
    );
}

/// `list_by_sha256` holds every record with the digest, however it got it (pinned, recorded,
/// by a transition), newest first, whatever its status; records of another digest or none
/// are not in it.
pub async fn list_by_sha256_holds_every_record_of_the_digest(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::list_by_sha256_holds_every_record_of_the_digest";
    let _check = Check::start(CHECK);
    let owner = fresh_owner();
    let digest = ContentSha256::of(unique("shared bytes").as_bytes());
    let other = ContentSha256::of(unique("other bytes").as_bytes());
    let base = now_ms();
    let mut ours = Vec::new();

    let pinned = intent(&owner, base - 40_000).with_sha256(Some(digest));
    uploads.create(&pinned).await.expect("create");
    ours.push(pinned);

    let received = walked(
        uploads,
        &owner,
        default_target(),
        base - 30_000,
        path_to(Status::Received),
    )
    .await;
    ours.push(
        uploads
            .record_sha256(&received.id, &digest)
            .await
            .expect("record_sha256"),
    );

    let claimed = intent(&owner, base - 20_000);
    uploads.create(&claimed).await.expect("create");
    let t = Transition::new(Status::AwaitingUpload, Status::Received, at(base - 19_000))
        .expect("move")
        .with(RecordChanges {
            sha256: Some(digest),
            ..Default::default()
        });
    let mut published = uploads
        .transition(&claimed.id, &t)
        .await
        .expect("transition");
    for (i, (from, to)) in [
        (Status::Received, Status::InReview),
        (Status::InReview, Status::Decided),
        (Status::Decided, Status::Approved),
        (Status::Approved, Status::Published),
    ]
    .into_iter()
    .enumerate()
    {
        let t = Transition::new(from, to, at(base - 18_000 + i as i64)).expect("move");
        published = uploads
            .transition(&claimed.id, &t)
            .await
            .expect("transition");
    }
    ours.push(published);

    let elsewhere = intent(&owner, base - 10_000).with_sha256(Some(other));
    uploads.create(&elsewhere).await.expect("create");
    let without = intent(&owner, base - 5_000);
    uploads.create(&without).await.expect("create");

    ours.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    let by_digest = |page: PageRequest| async move { uploads.list_by_sha256(&digest, &page).await };
    for limit in [100, 1] {
        let listed = list_ours(CHECK, limit, &ours, by_digest).await;
        assert_eq!(
            listed, ours,
            "{CHECK}: every record of the digest, newest first, as stored (limit {limit})"
        );
        let everything = list_all(CHECK, limit, by_digest).await;
        assert_eq!(
            ids(&everything),
            ids(&ours),
            "{CHECK}: nothing but the digest's records (limit {limit})"
        );
    }
}
