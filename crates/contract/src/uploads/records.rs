//! Uploads checks: creating and reading records.

use vetted_core::ports::{MultipartUploadId, Uploads, UploadsError};
use vetted_core::record::UploadMethod;
use vetted_core::{CorrelationId, Status, Transition, UploadId};

use super::{at, every_field, fresh_owner, intent, intent_for, now_ms, slot_ref};
use crate::support::Check;

/// `get` returns what `create` stored: a fresh intent, a multipart intent with the store's
/// upload id, and a record with every field set (task token included, though serde never
/// carries it or the upload id). The target slot (restaurant and slot)
/// and the decision time come back as written, for every kind of slot.
pub async fn create_then_get_returns_the_record(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::create_then_get_returns_the_record";
    let _check = Check::start(CHECK);
    let owner = fresh_owner();
    let plain = intent(&owner, now_ms());
    let mut full = intent_for(&owner, slot_ref("trattoria-roma/gallery-50"), now_ms() + 1)
        .with_correlation_id(Some(
            CorrelationId::parse(&format!("order.{}:{}", "9".repeat(100), "z")).expect("valid"),
        ));
    let changes = every_field(4);
    full = full
        .apply(
            &Transition::new(Status::AwaitingUpload, Status::Received, at(now_ms() + 2))
                .expect("legal move")
                .with(changes.clone()),
        )
        .expect("apply")
        .apply(
            &Transition::new(Status::Received, Status::InReview, at(now_ms() + 3))
                .expect("legal move")
                .with(changes),
        )
        .expect("apply");
    assert!(
        full.task_token.is_some(),
        "{CHECK}: test record lacks a token"
    );
    assert!(
        full.decided_at.is_some(),
        "{CHECK}: test record lacks a decision time"
    );
    let long_restaurant = format!("{}-x", "9".repeat(62));
    let logo = intent_for(
        &owner,
        slot_ref(&format!("{long_restaurant}/logo")),
        now_ms(),
    );
    let cover = intent_for(&owner, slot_ref("r1/cover"), now_ms());
    // A multipart intent keeps the store's upload id, which serde never carries.
    let mut multipart = intent_for(&owner, slot_ref("r1/gallery-2"), now_ms())
        .with_multipart_upload_id(Some(
            MultipartUploadId::parse("2~Xq.VkZ_s-3Jw8yQ0f9zTq1bLrN5cVhAe7uPgD4mWo").expect("valid"),
        ));
    multipart.method = UploadMethod::Multipart;
    for record in [&plain, &full, &logo, &cover, &multipart] {
        uploads
            .create(record)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: create {} failed: {e}", record.status));
        let got = uploads
            .get(&record.id)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: get after create failed: {e}"));
        assert_eq!(
            got.target, record.target,
            "{CHECK}: the target slot did not round-trip"
        );
        assert_eq!(
            got.decided_at, record.decided_at,
            "{CHECK}: decided_at did not round-trip (target {})",
            record.target
        );
        assert_eq!(&got, record, "{CHECK}: get differs from what was created");
    }
}

/// A second `create` with the same id is `AlreadyExists` and leaves the first record as it was.
pub async fn create_twice_is_already_exists(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::create_twice_is_already_exists";
    let _check = Check::start(CHECK);
    let first = intent(&fresh_owner(), now_ms());
    uploads.create(&first).await.expect("first create");
    let mut second = intent(&fresh_owner(), now_ms() + 5);
    second.id = first.id;
    match uploads.create(&second).await {
        Err(UploadsError::AlreadyExists(id)) => {
            assert_eq!(id, first.id, "{CHECK}: AlreadyExists names the wrong id")
        }
        other => panic!("{CHECK}: a second create with the same id returned {other:?}"),
    }
    assert_eq!(
        uploads.get(&first.id).await.expect("get"),
        first,
        "{CHECK}: the failed create changed the stored record"
    );
}

/// `get` and `transition` of an id never created are `NotFound` naming that id.
pub async fn missing_records_are_not_found(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::missing_records_are_not_found";
    let _check = Check::start(CHECK);
    let id = UploadId::generate();
    match uploads.get(&id).await {
        Err(UploadsError::NotFound(got)) => assert_eq!(got, id, "{CHECK}: get names the id"),
        other => panic!("{CHECK}: get of a missing id returned {other:?}"),
    }
    let t = Transition::new(Status::AwaitingUpload, Status::Received, at(now_ms()))
        .expect("legal move");
    match uploads.transition(&id, &t).await {
        Err(UploadsError::NotFound(got)) => {
            assert_eq!(got, id, "{CHECK}: transition names the id")
        }
        other => panic!("{CHECK}: transition of a missing id returned {other:?}"),
    }
    assert!(
        matches!(uploads.get(&id).await, Err(UploadsError::NotFound(_))),
        "{CHECK}: a transition of a missing id created a record"
    );
}
