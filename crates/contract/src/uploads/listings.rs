//! Uploads checks: listings by owner, by status and of a restaurant's requests in progress,
//! and paging through them.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::{Duration, Instant};

use vetted_core::ports::{Page, PageRequest, PageToken, Uploads, UploadsError};
use vetted_core::restaurant::{RestaurantId, Slot};
use vetted_core::{OwnerId, SlotRef, Status, Transition, UploadId, UploadRecord};

use super::transitions::path_to;
use super::{at, fresh_owner, intent, intent_for, now_ms};
use crate::support::{Check, eventually, unique};

/// More pages than any listing in this suite can need; a store that keeps handing out `next`
/// past it is looping.
const MAX_PAGES: usize = 10_000;

/// Indexes may lag a write on some backends (a DynamoDB GSI); listings get this long to catch up.
const INDEX_LAG: Duration = Duration::from_secs(5);

/// Follows `next` from the first page to the last, checking that no page exceeds `limit`.
pub(super) async fn list_all<F, Fut>(check: &str, limit: u32, mut fetch: F) -> Vec<UploadRecord>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<UploadRecord>, UploadsError>>,
{
    let mut request = PageRequest::first(limit);
    let mut all = Vec::new();
    for _ in 0..MAX_PAGES {
        let page = fetch(request.clone())
            .await
            .unwrap_or_else(|e| panic!("{check}: listing a page failed: {e}"));
        let most = limit.clamp(1, 100) as usize;
        assert!(
            page.items.len() <= most,
            "{check}: a page asked for {limit} items (at most {most}) has {}",
            page.items.len()
        );
        all.extend(page.items);
        match page.next {
            Some(token) => request.after = Some(token),
            None => return all,
        }
    }
    panic!("{check}: still handing out a next page after {MAX_PAGES} pages")
}

/// Lists until every one of `ours` is present (an index may lag), then returns the listing
/// restricted to `ours`, in listing order; a record listed twice fails at once.
pub(super) async fn list_ours<F, Fut>(
    check: &str,
    limit: u32,
    ours: &[UploadRecord],
    mut fetch: F,
) -> Vec<UploadRecord>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<UploadRecord>, UploadsError>>,
{
    let wanted: HashSet<UploadId> = ours.iter().map(|r| r.id).collect();
    let deadline = Instant::now() + INDEX_LAG;
    loop {
        let mine: Vec<UploadRecord> = list_all(check, limit, &mut fetch)
            .await
            .into_iter()
            .filter(|r| wanted.contains(&r.id))
            .collect();
        let mut seen = HashSet::new();
        for r in &mine {
            assert!(
                seen.insert(r.id),
                "{check}: record {} is listed twice (limit {limit})",
                r.id
            );
        }
        if seen.len() == wanted.len() {
            return mine;
        }
        assert!(
            Instant::now() < deadline,
            "{check}: {} of {} records are missing from the listing (limit {limit}), \
             still after {INDEX_LAG:?}",
            wanted.len() - seen.len(),
            wanted.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(super) fn ids(records: &[UploadRecord]) -> Vec<UploadId> {
    records.iter().map(|r| r.id).collect()
}

/// An owner's records come newest `created_at` first, whatever order they were created in,
/// each one as stored, and no other owner's record is among them.
pub async fn list_by_owner_is_newest_first(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::list_by_owner_is_newest_first";
    let _check = Check::start(CHECK);
    let owner = fresh_owner();
    let other = fresh_owner();
    let base = now_ms();
    let mut mine = Vec::new();
    for offset in [30, 10, 50, 20, 40, 0] {
        let record = intent(&owner, base - offset * 1000);
        uploads.create(&record).await.expect("create");
        uploads
            .create(&intent(&other, base - offset * 1000))
            .await
            .expect("create another owner's record");
        mine.push(record);
    }
    mine.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    let by_owner = |owner: &OwnerId| {
        let owner = owner.clone();
        move |page: PageRequest| {
            let owner = owner.clone();
            async move { uploads.list_by_owner(&owner, &page).await }
        }
    };
    for limit in [100, 4, 1] {
        let listed = list_ours(CHECK, limit, &mine, by_owner(&owner)).await;
        assert_eq!(
            ids(&listed),
            ids(&mine),
            "{CHECK}: the owner's records are not newest first (limit {limit})"
        );
        assert_eq!(
            listed, mine,
            "{CHECK}: a listed record differs from the stored one"
        );
        let everything = list_all(CHECK, limit, by_owner(&owner)).await;
        assert!(
            everything.iter().all(|r| r.owner == owner),
            "{CHECK}: another owner's record is in the owner's listing"
        );
    }
}

async fn move_to_received(
    uploads: &dyn Uploads,
    record: &UploadRecord,
    at_ms: i64,
) -> UploadRecord {
    let t = Transition::new(Status::AwaitingUpload, Status::Received, at(at_ms)).expect("move");
    uploads
        .transition(&record.id, &t)
        .await
        .expect("transition")
}

/// Records in a status come oldest `status_since` first; a record that leaves the status
/// leaves the listing, and appears in its new status's listing.
pub async fn list_by_status_is_oldest_first_and_follows_transitions(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::list_by_status_is_oldest_first_and_follows_transitions";
    let _check = Check::start(CHECK);
    let owner = fresh_owner();
    let base = now_ms();
    let mut received = Vec::new();
    for offset in [3, 1, 5, 2, 4] {
        let record = intent(&owner, base);
        uploads.create(&record).await.expect("create");
        received.push(move_to_received(uploads, &record, base - offset * 1000).await);
    }
    received.sort_by_key(|r| r.status_since);
    let by_status = |status: Status| {
        move |page: PageRequest| async move { uploads.list_by_status(status, &page).await }
    };
    for limit in [100, 2] {
        let listed = list_ours(CHECK, limit, &received, by_status(Status::Received)).await;
        assert_eq!(
            ids(&listed),
            ids(&received),
            "{CHECK}: RECEIVED records are not oldest status_since first (limit {limit})"
        );
        assert_eq!(
            listed, received,
            "{CHECK}: a listed record differs from the stored one"
        );
    }

    let leaving = received.remove(1);
    let t = Transition::new(Status::Received, Status::Rejected, at(base)).expect("move");
    let rejected = uploads.transition(&leaving.id, &t).await.expect("reject");
    let listed = list_ours(CHECK, 100, &received, by_status(Status::Received)).await;
    assert_eq!(
        ids(&listed),
        ids(&received),
        "{CHECK}: RECEIVED after one left"
    );
    let left = list_all(CHECK, 100, by_status(Status::Received)).await;
    assert!(
        left.iter().all(|r| r.id != leaving.id),
        "{CHECK}: a record that moved to REJECTED is still listed as RECEIVED"
    );
    let listed = list_ours(
        CHECK,
        100,
        std::slice::from_ref(&rejected),
        by_status(Status::Rejected),
    )
    .await;
    assert_eq!(
        listed,
        vec![rejected],
        "{CHECK}: the rejected record in REJECTED's listing"
    );
}

/// Paging with small limits yields every record exactly once, in order, even when many records
/// share the same sort key (`created_at`, `status_since`): a store must page past ties.
pub async fn paging_yields_every_record_once_even_when_sort_keys_tie(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::paging_yields_every_record_once_even_when_sort_keys_tie";
    let _check = Check::start(CHECK);
    let owner = fresh_owner();
    let base = now_ms();
    let mut records = Vec::new();
    for i in 0..9 {
        // Three groups of three records with equal timestamps.
        let created = base - (i / 3) * 1000;
        let record = intent(&owner, created);
        uploads.create(&record).await.expect("create");
        records.push(move_to_received(uploads, &record, created).await);
    }
    let tied_groups_in_order = |listed: &[UploadRecord], newest_first: bool| {
        let order: HashMap<UploadId, i64> = records
            .iter()
            .map(|r| (r.id, r.created_at.unix_millis()))
            .collect();
        let keys: Vec<i64> = listed.iter().map(|r| order[&r.id]).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        if newest_first {
            sorted.reverse();
        }
        keys == sorted
    };
    for limit in [1, 2, 3, 4, 100] {
        let by_owner = list_ours(CHECK, limit, &records, |page| {
            let owner = &owner;
            async move { uploads.list_by_owner(owner, &page).await }
        })
        .await;
        assert_eq!(
            by_owner.len(),
            records.len(),
            "{CHECK}: by owner, limit {limit}"
        );
        assert!(
            tied_groups_in_order(&by_owner, true),
            "{CHECK}: by owner with limit {limit}, records are not newest first"
        );
        let by_status = list_ours(CHECK, limit, &records, |page| async move {
            uploads.list_by_status(Status::Received, &page).await
        })
        .await;
        assert_eq!(
            by_status.len(),
            records.len(),
            "{CHECK}: by status, limit {limit}"
        );
        assert!(
            tied_groups_in_order(&by_status, false),
            "{CHECK}: by status with limit {limit}, records are not oldest first"
        );
    }
}

/// A limit of 0 is clamped to 1: pages still come, one record at a time.
pub async fn page_limit_is_clamped(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::page_limit_is_clamped";
    let _check = Check::start(CHECK);
    let owner: OwnerId = fresh_owner();
    let base = now_ms();
    let mut records = Vec::new();
    for i in 0..3 {
        let record = intent(&owner, base - i * 1000);
        uploads.create(&record).await.expect("create");
        records.push(record);
    }
    let listed = list_ours(CHECK, 0, &records, |page| {
        let owner = &owner;
        async move { uploads.list_by_owner(owner, &page).await }
    })
    .await;
    assert_eq!(ids(&listed), ids(&records), "{CHECK}: limit 0 listing");
}

/// A page token the store never issued is `BadPageToken`, not a panic, an empty page or a
/// backend error.
pub async fn a_foreign_page_token_is_refused(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::a_foreign_page_token_is_refused";
    let _check = Check::start(CHECK);
    let owner = fresh_owner();
    for raw in ["", "not a token", "eyJpZCI6MX0", "%%%", "\u{0}\u{1}"] {
        let page = PageRequest {
            limit: 10,
            after: Some(PageToken(raw.to_owned())),
        };
        let result = uploads.list_by_owner(&owner, &page).await;
        assert!(
            matches!(result, Err(UploadsError::BadPageToken)),
            "{CHECK}: list_by_owner with page token {raw:?} returned {result:?}"
        );
        let result = uploads.list_by_status(Status::Received, &page).await;
        assert!(
            matches!(result, Err(UploadsError::BadPageToken)),
            "{CHECK}: list_by_status with page token {raw:?} returned {result:?}"
        );
        let restaurant = RestaurantId::parse("r1").expect("restaurant id");
        let result = uploads.list_in_progress(&restaurant, &page).await;
        assert!(
            matches!(result, Err(UploadsError::BadPageToken)),
            "{CHECK}: list_in_progress with page token {raw:?} returned {result:?}"
        );
    }
}

/// Walks a new record of `owner` for `target`, created at `created_ms`, along `moves`.
pub(super) async fn walked(
    uploads: &dyn Uploads,
    owner: &OwnerId,
    target: SlotRef,
    created_ms: i64,
    moves: &[(Status, Status)],
) -> UploadRecord {
    let mut record = intent_for(owner, target, created_ms);
    uploads.create(&record).await.expect("create");
    for (i, (from, to)) in moves.iter().enumerate() {
        let t = Transition::new(*from, *to, at(created_ms + 10 * (i as i64 + 1))).expect("move");
        record = uploads
            .transition(&record.id, &t)
            .await
            .expect("transition");
    }
    record
}

/// A restaurant's requests in progress (RECEIVED, IN_REVIEW, DECIDED, APPROVED) come newest
/// first; intents without a file, failed and finished uploads, and other restaurants' are
/// not among them, and a request that finishes leaves the listing.
pub async fn list_in_progress_holds_exactly_the_open_requests(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::list_in_progress_holds_exactly_the_open_requests";
    let _check = Check::start(CHECK);
    let owner = fresh_owner();
    let restaurant = RestaurantId::parse(&unique("r")).expect("a generated restaurant id");
    let other = RestaurantId::parse(&unique("r")).expect("a generated restaurant id");
    let slot = |restaurant: &RestaurantId, slot: &str| {
        SlotRef::new(restaurant.clone(), Slot::parse(slot).expect("slot"))
    };
    let base = now_ms();
    let mut open = Vec::new();
    for (offset, status) in [
        (40, Status::InReview),
        (10, Status::Received),
        (30, Status::Approved),
        (20, Status::Decided),
        (50, Status::Received),
    ] {
        let target = slot(
            &restaurant,
            if offset % 20 == 0 {
                "logo"
            } else {
                "gallery-2"
            },
        );
        open.push(
            walked(
                uploads,
                &owner,
                target,
                base - offset * 1000,
                path_to(status),
            )
            .await,
        );
    }
    let mut closed = Vec::new();
    for moves in [
        path_to(Status::AwaitingUpload),
        path_to(Status::Failed),
        &[
            (Status::AwaitingUpload, Status::Received),
            (Status::Received, Status::Rejected),
        ],
        &[(Status::AwaitingUpload, Status::Withdrawn)],
    ] {
        closed.push(
            walked(
                uploads,
                &owner,
                slot(&restaurant, "logo"),
                base - 5000,
                moves,
            )
            .await,
        );
    }
    let elsewhere = walked(
        uploads,
        &owner,
        slot(&other, "logo"),
        base - 5000,
        path_to(Status::InReview),
    )
    .await;
    open.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    let in_progress = |restaurant: RestaurantId| {
        move |page: PageRequest| {
            let restaurant = restaurant.clone();
            async move { uploads.list_in_progress(&restaurant, &page).await }
        }
    };
    for limit in [100, 2, 1] {
        let listed = list_ours(CHECK, limit, &open, in_progress(restaurant.clone())).await;
        assert_eq!(
            listed, open,
            "{CHECK}: not newest first as stored (limit {limit})"
        );
        let everything = list_all(CHECK, limit, in_progress(restaurant.clone())).await;
        assert_eq!(
            ids(&everything),
            ids(&open),
            "{CHECK}: the listing holds records not in progress, or another restaurant's \
             (limit {limit}); closed ones: {:?}, elsewhere: {}",
            ids(&closed),
            elsewhere.id
        );
    }

    // The one in review is withdrawn, the approved one published: both leave the listing.
    let in_review = open
        .iter()
        .position(|r| r.status == Status::InReview)
        .expect("one");
    let withdrawn = open.remove(in_review);
    let t = Transition::new(Status::InReview, Status::Withdrawn, at(base)).expect("move");
    uploads
        .transition(&withdrawn.id, &t)
        .await
        .expect("withdraw");
    let approved = open
        .iter()
        .position(|r| r.status == Status::Approved)
        .expect("one");
    let published = open.remove(approved);
    let t = Transition::new(Status::Approved, Status::Published, at(base)).expect("move");
    uploads
        .transition(&published.id, &t)
        .await
        .expect("publish");
    let what = format!("{CHECK}: finished requests leave the listing");
    eventually(INDEX_LAG, &what, || {
        let fetch = in_progress(restaurant.clone());
        let open = &open;
        async move {
            let listed = ids(&list_all(CHECK, 100, fetch).await);
            if listed == ids(open) {
                Ok(())
            } else {
                Err(format!("{listed:?}"))
            }
        }
    })
    .await;
}

/// `list_by_restaurant` lists every record of the restaurant whatever its status (intents,
/// finished and failed ones too), newest first, and no other restaurant's. `delete` removes a
/// record: `get` is `NotFound`, no listing has it, a transition of it is `NotFound`, and a
/// second delete (or one of an id never stored) is `Ok(false)`.
pub async fn list_by_restaurant_holds_every_record_and_delete_removes_one(uploads: &dyn Uploads) {
    const CHECK: &str = "uploads::list_by_restaurant_holds_every_record_and_delete_removes_one";
    let _check = Check::start(CHECK);
    let owner = fresh_owner();
    let restaurant = RestaurantId::parse(&unique("r")).expect("a generated restaurant id");
    let other = RestaurantId::parse(&unique("r")).expect("a generated restaurant id");
    let slot = |restaurant: &RestaurantId, slot: &str| {
        SlotRef::new(restaurant.clone(), Slot::parse(slot).expect("slot"))
    };
    let base = now_ms();
    let published: &[(Status, Status)] = &[
        (Status::AwaitingUpload, Status::Received),
        (Status::Received, Status::InReview),
        (Status::InReview, Status::Decided),
        (Status::Decided, Status::Approved),
        (Status::Approved, Status::Published),
    ];
    let mut ours = Vec::new();
    for (offset, moves) in [
        (10, path_to(Status::AwaitingUpload)),
        (40, published),
        (20, path_to(Status::Failed)),
        (30, path_to(Status::InReview)),
        (50, &[(Status::AwaitingUpload, Status::Expired)][..]),
    ] {
        ours.push(
            walked(
                uploads,
                &owner,
                slot(&restaurant, "gallery-3"),
                base - offset * 1000,
                moves,
            )
            .await,
        );
    }
    let elsewhere = walked(
        uploads,
        &owner,
        slot(&other, "logo"),
        base,
        path_to(Status::InReview),
    )
    .await;
    ours.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    let by_restaurant = |restaurant: RestaurantId| {
        move |page: PageRequest| {
            let restaurant = restaurant.clone();
            async move { uploads.list_by_restaurant(&restaurant, &page).await }
        }
    };
    for limit in [100, 2, 1] {
        let listed = list_ours(CHECK, limit, &ours, by_restaurant(restaurant.clone())).await;
        assert_eq!(
            listed, ours,
            "{CHECK}: not newest first as stored (limit {limit})"
        );
        let everything = list_all(CHECK, limit, by_restaurant(restaurant.clone())).await;
        assert_eq!(
            ids(&everything),
            ids(&ours),
            "{CHECK}: the listing holds another restaurant's record {} (limit {limit})",
            elsewhere.id
        );
    }

    let in_review = ours
        .iter()
        .position(|r| r.status == Status::InReview)
        .expect("one");
    let gone = ours.remove(in_review);
    let deleted = uploads
        .delete(&gone.id)
        .await
        .unwrap_or_else(|e| panic!("{CHECK}: delete failed: {e}"));
    assert!(
        deleted,
        "{CHECK}: delete of a stored record must say it was there"
    );
    match uploads.get(&gone.id).await {
        Err(UploadsError::NotFound(id)) => assert_eq!(id, gone.id),
        other => panic!("{CHECK}: get after delete must be NotFound, got {other:?}"),
    }
    let t = Transition::new(Status::InReview, Status::Decided, at(base)).expect("move");
    match uploads.transition(&gone.id, &t).await {
        Err(UploadsError::NotFound(_)) => {}
        other => panic!("{CHECK}: a transition of a deleted record must be NotFound: {other:?}"),
    }
    for id in [gone.id, UploadId::generate()] {
        let again = uploads
            .delete(&id)
            .await
            .unwrap_or_else(|e| panic!("{CHECK}: a delete of a missing record failed: {e}"));
        assert!(
            !again,
            "{CHECK}: a delete of a missing record must be Ok(false)"
        );
    }
    let what = format!("{CHECK}: a deleted record leaves every listing");
    eventually(INDEX_LAG, &what, || {
        let (ours, gone) = (&ours, &gone);
        let owner = owner.clone();
        let fetch = by_restaurant(restaurant.clone());
        async move {
            let listed = ids(&list_all(CHECK, 100, fetch).await);
            let by_owner = ids(&list_all(CHECK, 100, |page: PageRequest| {
                let owner = owner.clone();
                async move { uploads.list_by_owner(&owner, &page).await }
            })
            .await);
            let by_status = ids(&list_all(CHECK, 100, |page: PageRequest| async move {
                uploads.list_by_status(gone.status, &page).await
            })
            .await);
            if listed == ids(ours) && !by_owner.contains(&gone.id) && !by_status.contains(&gone.id)
            {
                Ok(())
            } else {
                Err(format!("by restaurant {listed:?}; by owner {by_owner:?}"))
            }
        }
    })
    .await;
    for record in ours.iter().chain([&elsewhere]) {
        uploads.delete(&record.id).await.ok();
    }
}
