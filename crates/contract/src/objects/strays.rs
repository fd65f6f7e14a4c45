//! Object store check: keys that intake may be handed by a bucket notification, but that Vetted
//! never issued, are still just names inside the store.

use bytes::Bytes;
use vetted_core::ports::{ObjectStore, StoreError};
use vetted_core::{ObjectKey, RestaurantId, Slot, SlotRef, UploadId};

use crate::support::Check;

/// Stray keys (`incoming/../x`, `incoming//x`, trailing slashes, dots, spaces, non-ASCII, very
/// long segments) each name one object of their own: none of them aliases another key, and none
/// reaches an object outside `incoming/`.
///
/// A filesystem store that joined segments naively would map `incoming/./x` and `incoming//x`
/// onto `incoming/x`, and `incoming/../published/r1/logo/x` onto `published/r1/logo/x`; this
/// check catches both.
pub async fn stray_keys_stay_inside_the_store(store: &dyn ObjectStore) {
    const CHECK: &str = "objects::stray_keys_stay_inside_the_store";
    let _check = Check::start(CHECK);
    let id = UploadId::generate();
    let target = SlotRef::new(RestaurantId::parse("r1").expect("valid id"), Slot::Logo);
    let victim = ObjectKey::published(&target, &id);
    let raw_keys = [
        format!("incoming/{id}"),
        format!("incoming/../published/{target}/{id}"),
        format!("incoming/../../published/{target}/{id}"),
        format!("incoming/./../published/{target}/{id}"),
        format!("incoming/..%2fpublished%2fr1%2flogo%2f{id}"),
        format!("incoming/%2e%2e/published/{target}/{id}"),
        format!("incoming/..\\..\\published\\r1\\logo\\{id}"),
        format!("incoming/./{id}"),
        format!("incoming//{id}"),
        format!("incoming/{id}/"),
        format!("incoming/{id}/."),
        format!("incoming/{id}/.."),
        format!("incoming/{id}/x"),
        format!("incoming/{id}/x/"),
        format!("incoming/a b+c/{id}"),
        format!("incoming/caf\u{e9}/{id}"),
        format!("incoming/{id}/{}", "\u{e9}".repeat(400)),
        format!("incoming/{id}/{}", "x".repeat(900)),
    ];
    let keys: Vec<ObjectKey> = raw_keys
        .iter()
        .map(|raw| {
            ObjectKey::from_notification(raw)
                .unwrap_or_else(|e| panic!("{CHECK}: test key {raw:?} refused: {e}"))
        })
        .collect();

    for (i, key) in keys.iter().enumerate() {
        let body = body_for(i);
        let meta = store
            .put(key, body.clone(), "application/octet-stream")
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: put to stray key {key:?} failed: {e}"));
        assert_eq!(meta.size, body.len() as u64, "{CHECK}: size of {key:?}");
    }
    for (i, key) in keys.iter().enumerate() {
        let got = store
            .get(key)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: get of stray key {key:?} failed: {e}"));
        assert!(
            got == body_for(i),
            "{CHECK}: {key:?} returned another key's bytes: two stray keys name the same object"
        );
    }
    match store.head(&victim).await {
        Err(StoreError::NotFound(_)) => {}
        other => {
            panic!("{CHECK}: writing stray keys created {victim:?} outside incoming/: {other:?}")
        }
    }
    for key in &keys {
        store
            .delete(key)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: delete of stray key {key:?} failed: {e}"));
        assert!(
            matches!(store.head(key).await, Err(StoreError::NotFound(_))),
            "{CHECK}: {key:?} still exists after delete"
        );
    }
}

/// A body that says which key it was written to.
fn body_for(index: usize) -> Bytes {
    Bytes::from(format!("stray key number {index}").repeat(index + 1))
}
