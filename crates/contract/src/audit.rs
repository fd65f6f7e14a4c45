//! The `AuditTrail` contract: entries are appended once, never replaced, read back per upload
//! in time order, and listed since an instant a page at a time, each exactly once.
//!
//! Every check uses actors and uploads of its own, and times near now, so the suite also runs
//! on a shared table: listings are filtered to the check's own entries before comparing.

use std::time::Duration;

use vetted_core::audit::{AuditAction, AuditEntry};
use vetted_core::ports::{AuditTrail, PageRequest};
use vetted_core::restaurant::{RestaurantId, Slot};
use vetted_core::{Clock, ModeratorId, SystemClock, Timestamp, UploadId};

use crate::support::{Check, unique};

/// Runs every check on `trail`, which may be shared.
pub async fn run_all(trail: &dyn AuditTrail) {
    an_upload_s_entries_read_back_in_time_order(trail).await;
    a_second_append_of_an_id_changes_nothing(trail).await;
    since_pages_yield_each_entry_once_in_order(trail).await;
}

fn ok<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn decision(upload: UploadId, moderator: &str, action: AuditAction, at: Timestamp) -> AuditEntry {
    AuditEntry::decision(
        upload,
        RestaurantId::parse("contract-r").unwrap_or_else(|e| panic!("{e}")),
        Slot::Logo,
        &ModeratorId::parse(moderator).unwrap_or_else(|e| panic!("{e}")),
        action,
        at,
    )
}

async fn an_upload_s_entries_read_back_in_time_order(trail: &dyn AuditTrail) {
    let _check = Check::start("audit::an_upload_s_entries_read_back_in_time_order");
    let upload = UploadId::generate();
    let other = UploadId::generate();
    let now = SystemClock.now();
    let later = now.saturating_add(Duration::from_millis(5));
    let second = decision(upload, "mod-b", AuditAction::Approve, later);
    let first = decision(upload, "mod-a", AuditAction::FirstApproval, now)
        .with_note("looks like the restaurant's sign");
    let elsewhere = decision(other, "mod-a", AuditAction::Decline, now).with_reason("copyright");
    let mut operation = AuditEntry::operation(&unique("admin"), AuditAction::Redrive, now);
    operation.upload = Some(upload);
    let mut unrelated = AuditEntry::operation(&unique("admin"), AuditAction::Purge, now);
    unrelated.restaurant =
        Some(RestaurantId::parse("contract-r").unwrap_or_else(|e| panic!("{e}")));
    for entry in [&second, &first, &elsewhere, &operation, &unrelated] {
        ok(trail.append(entry).await, "append");
    }
    let read = ok(trail.for_upload(&upload).await, "for_upload");
    let mut expected = vec![first, operation, second];
    expected.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    assert_eq!(
        read, expected,
        "an upload's entries, whole and oldest first"
    );
    assert_eq!(
        ok(trail.for_upload(&other).await, "for_upload"),
        vec![elsewhere],
        "entries name their own upload only"
    );
    assert!(
        ok(trail.for_upload(&UploadId::generate()).await, "for_upload").is_empty(),
        "an upload with no entry has an empty trail"
    );
}

async fn a_second_append_of_an_id_changes_nothing(trail: &dyn AuditTrail) {
    let _check = Check::start("audit::a_second_append_of_an_id_changes_nothing");
    let upload = UploadId::generate();
    let at = SystemClock.now();
    let original = decision(upload, "mod-a", AuditAction::Decline, at).with_reason("other");
    ok(trail.append(&original).await, "append");
    let mut rewrite = original.clone();
    rewrite.actor = "someone-else".to_owned();
    rewrite.reason = Some("copyright".to_owned());
    ok(trail.append(&rewrite).await, "a repeated append succeeds");
    assert_eq!(
        ok(trail.for_upload(&upload).await, "for_upload"),
        vec![original],
        "the first write of an id stands"
    );
}

async fn since_pages_yield_each_entry_once_in_order(trail: &dyn AuditTrail) {
    let _check = Check::start("audit::since_pages_yield_each_entry_once_in_order");
    let actor = unique("auditor");
    let start = SystemClock.now();
    // Seven entries over a few milliseconds, two of them at the same instant.
    let mut mine = Vec::new();
    for i in 0..7u64 {
        let at = start.saturating_add(Duration::from_millis(i.min(5)));
        let entry = AuditEntry::operation(&actor, AuditAction::Expire, at);
        ok(trail.append(&entry).await, "append");
        mine.push(entry);
    }
    mine.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    let mut seen = Vec::new();
    let mut page = PageRequest::first(3);
    loop {
        let got = ok(trail.since(start, &page).await, "since");
        assert!(got.items.len() <= 3, "a page holds at most its limit");
        for pair in got.items.windows(2) {
            assert!(
                (pair[0].at, &pair[0].id) < (pair[1].at, &pair[1].id),
                "a page is in order"
            );
        }
        seen.extend(got.items.into_iter().filter(|e| e.actor == actor));
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, mine, "every entry since the instant, once, in order");
    let later = start.saturating_add(Duration::from_millis(5));
    let tail = ok(trail.since(later, &PageRequest::first(100)).await, "since");
    let tail: Vec<_> = tail
        .items
        .into_iter()
        .filter(|e| e.actor == actor)
        .collect();
    assert_eq!(tail, mine[5..].to_vec(), "nothing before the instant");
}
