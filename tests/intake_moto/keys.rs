//! Keys Vetted never issued. Only `incoming/{restaurant}/{slot}/{upload_id}` with an intent behind it is an
//! upload; S3 reports any key a writer chooses, URL-encoded (`+` for a space, `%2B` for a
//! plus sign). Intake deletes such objects, deletes a well-formed upload nobody asked for, and
//! expires an intent whose upload came too late; none of it fails a message.

use vetted_core::intake::Outcome;
use vetted_core::{
    Clock, ImageType, ObjectKey, ReasonCode, Status, SystemClock, Timestamp, UploadId,
};

use crate::support::{Pipeline, failed_ids, slot};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_at_keys_vetted_never_issued_are_deleted_and_nothing_fails() {
    let Some(pipeline) = Pipeline::start("keys").await else {
        return;
    };
    let png = vetted_samples::images::png(200, 100);
    let id = UploadId::generate;
    let strays = [
        format!("incoming/owner 1/{}", id()),
        format!("incoming/owner+1/{}", id()),
        format!("incoming/owner%2B1/{}", id()),
        format!("incoming/propriétaire-日本/{}", id()),
        format!("incoming/../{}", id()),
        format!("incoming/owner-1/../{}", id()),
        format!("incoming/owner-1//{}", id()),
        format!("incoming/r1/logo/../{}", id()),
        format!("incoming/r1/gallery-99/{}", id()),
        format!("incoming/owner-1/{}", id()),
    ];
    for key in &strays {
        pipeline.put(key, png.clone(), "image/png").await;
    }
    let unknown = ObjectKey::incoming(&slot(), &id());
    pipeline
        .put(unknown.as_str(), png.clone(), "image/png")
        .await;
    let now = SystemClock.now();
    let minutes_ago = |m: i64| Timestamp::from_unix_millis(now.unix_millis() - m * 60_000);
    let late = pipeline
        .intent_at(
            ImageType::Png,
            png.len() as u64,
            minutes_ago(10),
            minutes_ago(5),
        )
        .await;
    pipeline
        .put(late.key.as_str(), png.clone(), "image/png")
        .await;

    let notifications = pipeline.notifications(strays.len() + 2).await;
    let mut outcomes = Vec::new();
    for message in &notifications {
        let body = message.body().unwrap();
        let handled = pipeline.intake.handle_message(body).await;
        outcomes.extend(handled.unwrap_or_else(|e| panic!("{body}: {e}")));
    }
    for key in &strays {
        let deleted = Outcome::StrayDeleted { key: key.clone() };
        assert!(outcomes.contains(&deleted), "{key:?}: {outcomes:#?}");
    }
    assert!(outcomes.contains(&Outcome::UnknownUploadDeleted {
        key: unknown.clone()
    }));
    assert!(outcomes.contains(&Outcome::IntentExpired { upload: late.id }));
    assert_eq!(outcomes.len(), strays.len() + 2);

    // Delivered again, through the function: all acknowledged, nothing changes.
    let response = pipeline.invoke(&notifications).await;
    assert_eq!(failed_ids(&response), Vec::<String>::new());

    for key in strays
        .iter()
        .map(String::as_str)
        .chain([unknown.as_str(), late.key.as_str()])
    {
        assert!(!pipeline.exists(key).await, "{key:?} is still there");
    }
    let record = pipeline.record(&late.id).await;
    assert_eq!(record.status, Status::Expired);
    assert_eq!(record.reason, Some(ReasonCode::IntentExpired));
    assert!(pipeline.executions().await.is_empty(), "no review started");
}
