//! The `Notifications` contract: preferences stored and replaced whole, escalation
//! subscriptions stored, listed and removed, and a sent ledger whose claims succeed once per
//! (upload, status or escalation level, user), also when they race, until released.
//!
//! Every check uses users and uploads of its own, so the suite also runs on a shared table.

use futures_util::future::join_all;
use vetted_core::notify::{EmailAddress, EscalationSubscriber, Preference, SentKey};
use vetted_core::ports::Notifications;
use vetted_core::{ModeratorId, OwnerId, Status, Timestamp, UploadId};

use crate::support::{Check, unique};

/// Runs every check on `store`, which may be shared.
pub async fn run_all(store: &dyn Notifications) {
    preferences_are_stored_and_replaced_whole(store).await;
    a_ledger_key_is_claimed_once(store).await;
    racing_claims_of_one_key_store_it_once(store).await;
    a_released_key_can_be_claimed_again(store).await;
    escalation_subscriptions_are_stored_listed_and_removed(store).await;
    each_escalation_level_is_its_own_ledger_key(store).await;
    forgetting_removes_a_preference_and_an_uploads_ledger(store).await;
}

/// `forget` removes the user's preference and no other user's; `forget_upload` removes every
/// ledger entry of the upload (any status, any user), so they can be claimed again, and no
/// other upload's. Both succeed when there is nothing to remove.
pub async fn forgetting_removes_a_preference_and_an_uploads_ledger(store: &dyn Notifications) {
    const CHECK: &str = "notifications::forgetting_removes_a_preference_and_an_uploads_ledger";
    let _check = Check::start(CHECK);
    let (gone, kept) = (user(), user());
    let preference = Preference {
        enabled: true,
        address: Some(EmailAddress::parse("purged@example.com").unwrap_or_else(|e| panic!("{e}"))),
        updated_at: at(5),
    };
    for u in [&gone, &kept] {
        store
            .set_preference(u, &preference)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: set_preference failed: {e}"));
    }
    store
        .forget(&gone)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: forget failed: {e}"));
    let read = |u: OwnerId| async move {
        store
            .preference(&u)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: preference failed: {e}"))
    };
    assert_eq!(
        read(gone.clone()).await,
        None,
        "{CHECK}: forgotten, yet still stored"
    );
    assert_eq!(
        read(kept.clone()).await,
        Some(preference),
        "{CHECK}: another user's went too"
    );
    store
        .forget(&gone)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: a second forget failed: {e}"));

    let (purged, other) = (UploadId::generate(), UploadId::generate());
    let keys = [
        key(purged, Status::Published, &gone),
        key(purged, Status::Published, &kept),
        key(purged, Status::Rejected, &gone),
    ];
    let other_key = key(other, Status::Published, &gone);
    for k in keys.iter().chain([&other_key]) {
        assert!(
            claim(store, k, "a first claim").await,
            "{CHECK}: a first claim lost"
        );
    }
    store
        .forget_upload(&purged)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: forget_upload failed: {e}"));
    for k in &keys {
        assert!(
            claim(store, k, "a claim after forget_upload").await,
            "{CHECK}: the ledger entry {k:?} survived forget_upload"
        );
    }
    assert!(
        !claim(store, &other_key, "a claim of another upload's key").await,
        "{CHECK}: forget_upload removed another upload's entry"
    );
    store
        .forget_upload(&UploadId::generate())
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: forget_upload of an unknown upload failed: {e}"));
}

fn user() -> OwnerId {
    OwnerId::parse(&unique("user")).unwrap_or_else(|e| panic!("{e}"))
}

fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_800_000_000_000 + offset_ms)
}

fn key(upload: UploadId, status: Status, user: &OwnerId) -> SentKey {
    SentKey {
        upload,
        status,
        user: user.clone(),
        escalation_level: None,
    }
}

async fn claim(store: &dyn Notifications, key: &SentKey, what: &str) -> bool {
    store
        .claim(key, at(1))
        .await
        .unwrap_or_else(|e| panic!("{what}: claim failed: {e:?}"))
}

pub async fn preferences_are_stored_and_replaced_whole(store: &dyn Notifications) {
    let _check = Check::start("preferences_are_stored_and_replaced_whole");
    let what = "preferences_are_stored_and_replaced_whole";
    let anna = user();
    let nobody = store
        .preference(&anna)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        nobody, None,
        "{what}: a user who never chose has no preference"
    );

    let on = Preference {
        enabled: true,
        address: Some(
            EmailAddress::parse("anna+vetted@example.com").unwrap_or_else(|e| panic!("{e}")),
        ),
        updated_at: at(10),
    };
    store
        .set_preference(&anna, &on)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e:?}"));
    let read = store
        .preference(&anna)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(read.as_ref(), Some(&on), "{what}: read back as stored");

    let off = Preference {
        enabled: false,
        address: None,
        updated_at: at(20),
    };
    store
        .set_preference(&anna, &off)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e:?}"));
    let read = store
        .preference(&anna)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(read, Some(off), "{what}: replaced whole, address included");

    let other = user();
    let read = store
        .preference(&other)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(read, None, "{what}: another user's preference is their own");
}

pub async fn a_ledger_key_is_claimed_once(store: &dyn Notifications) {
    let _check = Check::start("a_ledger_key_is_claimed_once");
    let what = "a_ledger_key_is_claimed_once";
    let (anna, ben, upload) = (user(), user(), UploadId::generate());
    let published = key(upload, Status::Published, &anna);
    assert!(
        claim(store, &published, what).await,
        "{what}: the first claim stores"
    );
    assert!(
        !claim(store, &published, what).await,
        "{what}: the second finds it"
    );
    assert!(
        !claim(store, &published, what).await,
        "{what}: and the third"
    );
    assert!(
        claim(store, &key(upload, Status::Declined, &anna), what).await,
        "{what}: another status of the same upload is another key"
    );
    assert!(
        claim(store, &key(upload, Status::Published, &ben), what).await,
        "{what}: another user is another key"
    );
    assert!(
        claim(
            store,
            &key(UploadId::generate(), Status::Published, &anna),
            what
        )
        .await,
        "{what}: another upload is another key"
    );
}

pub async fn racing_claims_of_one_key_store_it_once(store: &dyn Notifications) {
    let _check = Check::start("racing_claims_of_one_key_store_it_once");
    let what = "racing_claims_of_one_key_store_it_once";
    let k = key(UploadId::generate(), Status::Rejected, &user());
    let answers = join_all((0..8).map(|_| claim(store, &k, what))).await;
    assert_eq!(
        answers.iter().filter(|won| **won).count(),
        1,
        "{what}: exactly one of 8 racing claims wins: {answers:?}"
    );
}

pub async fn a_released_key_can_be_claimed_again(store: &dyn Notifications) {
    let _check = Check::start("a_released_key_can_be_claimed_again");
    let what = "a_released_key_can_be_claimed_again";
    let k = key(UploadId::generate(), Status::Failed, &user());
    store
        .release(&k)
        .await
        .unwrap_or_else(|e| panic!("{what}: releasing an absent key is no error: {e:?}"));
    assert!(claim(store, &k, what).await, "{what}: first claim");
    store
        .release(&k)
        .await
        .unwrap_or_else(|e| panic!("{what}: release: {e:?}"));
    assert!(
        claim(store, &k, what).await,
        "{what}: claimed again after the release"
    );
    assert!(!claim(store, &k, what).await, "{what}: and held again");
}

fn moderator() -> ModeratorId {
    ModeratorId::parse(&unique("mod")).unwrap_or_else(|e| panic!("{e}"))
}

fn subscriber(moderator: &ModeratorId, address: &str, since: i64) -> EscalationSubscriber {
    EscalationSubscriber {
        moderator: moderator.clone(),
        address: EmailAddress::parse(address).unwrap_or_else(|e| panic!("{e}")),
        since: at(since),
    }
}

async fn listed(store: &dyn Notifications, what: &str) -> Vec<EscalationSubscriber> {
    store
        .escalation_subscribers()
        .await
        .unwrap_or_else(|e| panic!("{what}: listing: {e:?}"))
}

pub async fn escalation_subscriptions_are_stored_listed_and_removed(store: &dyn Notifications) {
    let _check = Check::start("escalation_subscriptions_are_stored_listed_and_removed");
    let what = "escalation_subscriptions_are_stored_listed_and_removed";
    let (ada, bo) = (moderator(), moderator());
    let read = |m: ModeratorId| async move {
        store
            .escalation_subscription(&m)
            .await
            .unwrap_or_else(|e| panic!("{what}: reading: {e:?}"))
    };
    assert_eq!(
        read(ada.clone()).await,
        None,
        "{what}: not subscribed at first"
    );

    let first = subscriber(&ada, "ada@example.com", 1);
    let bos = subscriber(&bo, "bo@example.com", 2);
    for s in [&first, &bos] {
        store
            .subscribe_escalations(s)
            .await
            .unwrap_or_else(|e| panic!("{what}: subscribing: {e:?}"));
    }
    assert_eq!(
        read(ada.clone()).await.as_ref(),
        Some(&first),
        "{what}: read back"
    );
    let all = listed(store, what).await;
    assert!(
        all.contains(&first) && all.contains(&bos),
        "{what}: both listed: {all:?}"
    );

    let moved = subscriber(&ada, "ada@elsewhere.example", 3);
    store
        .subscribe_escalations(&moved)
        .await
        .unwrap_or_else(|e| panic!("{what}: subscribing again: {e:?}"));
    let all = listed(store, what).await;
    let adas: Vec<_> = all.iter().filter(|s| s.moderator == ada).collect();
    assert_eq!(
        adas,
        [&moved],
        "{what}: a second subscription replaces the first"
    );

    store
        .unsubscribe_escalations(&ada)
        .await
        .unwrap_or_else(|e| panic!("{what}: unsubscribing: {e:?}"));
    store
        .unsubscribe_escalations(&ada)
        .await
        .unwrap_or_else(|e| panic!("{what}: unsubscribing twice is no error: {e:?}"));
    assert_eq!(read(ada.clone()).await, None, "{what}: gone");
    let all = listed(store, what).await;
    assert!(
        !all.iter().any(|s| s.moderator == ada) && all.contains(&bos),
        "{what}: only the other moderator is left: {all:?}"
    );
}

pub async fn each_escalation_level_is_its_own_ledger_key(store: &dyn Notifications) {
    let _check = Check::start("each_escalation_level_is_its_own_ledger_key");
    let what = "each_escalation_level_is_its_own_ledger_key";
    let (ada, upload) = (moderator(), UploadId::generate());
    let level_1 = SentKey::escalation(upload, Status::InReview, 1, &ada);
    assert!(
        claim(store, &level_1, what).await,
        "{what}: level 1 claimed"
    );
    assert!(!claim(store, &level_1, what).await, "{what}: level 1 held");
    let level_2 = SentKey::escalation(upload, Status::InReview, 2, &ada);
    assert!(
        claim(store, &level_2, what).await,
        "{what}: level 2 is another key"
    );
    let outcome = SentKey {
        upload,
        status: Status::InReview,
        user: level_1.user.clone(),
        escalation_level: None,
    };
    assert!(
        claim(store, &outcome, what).await,
        "{what}: an outcome key of the same upload, status and user is another key"
    );
}
