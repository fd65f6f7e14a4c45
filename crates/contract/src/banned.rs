//! The `BannedContent` contract: a digest is banned, read back, banned again with a new note,
//! listed newest first, and unbanned once.
//!
//! Every check uses digests of its own, so the suite also runs on a shared table: listings are
//! filtered to the check's own entries before comparing.

use std::time::Duration;

use vetted_core::banned::BannedEntry;
use vetted_core::ports::BannedContent;
use vetted_core::{Clock, ContentSha256, SystemClock};

use crate::support::{Check, unique};

/// Runs every check on `banned`, which may be shared.
pub async fn run_all(banned: &dyn BannedContent) {
    a_ban_reads_back_and_a_second_ban_replaces_it(banned).await;
    the_list_is_newest_first_and_an_unban_happens_once(banned).await;
}

fn ok<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn fresh_digest() -> ContentSha256 {
    ContentSha256::of(unique("banned bytes").as_bytes())
}

pub async fn a_ban_reads_back_and_a_second_ban_replaces_it(banned: &dyn BannedContent) {
    let _check = Check::start("banned::a_ban_reads_back_and_a_second_ban_replaces_it");
    let digest = fresh_digest();
    assert_eq!(
        ok(banned.get(&digest).await, "get"),
        None,
        "a digest nobody banned is not banned"
    );
    let now = SystemClock.now();
    let first = BannedEntry::new(digest, Some("a leaked photo, café"), "admin-a", now);
    ok(banned.ban(&first).await, "ban");
    assert_eq!(
        ok(banned.get(&digest).await, "get"),
        Some(first),
        "the entry reads back whole"
    );
    let later = now.saturating_add(Duration::from_millis(3));
    let second = BannedEntry::new(digest, None, "admin-b", later);
    ok(banned.ban(&second).await, "a second ban succeeds");
    assert_eq!(
        ok(banned.get(&digest).await, "get"),
        Some(second.clone()),
        "a second ban replaces the entry, a note it lacks included"
    );
    let listed: Vec<_> = ok(banned.list().await, "list")
        .into_iter()
        .filter(|e| e.sha256 == digest)
        .collect();
    assert_eq!(listed, vec![second], "one entry per digest");
    assert!(ok(banned.unban(&digest).await, "unban"));
}

pub async fn the_list_is_newest_first_and_an_unban_happens_once(banned: &dyn BannedContent) {
    let _check = Check::start("banned::the_list_is_newest_first_and_an_unban_happens_once");
    let start = SystemClock.now();
    let mut ours = Vec::new();
    for i in [2u64, 0, 1] {
        let entry = BannedEntry::new(
            fresh_digest(),
            Some(&format!("entry {i}")),
            "admin-a",
            start.saturating_add(Duration::from_millis(i)),
        );
        ok(banned.ban(&entry).await, "ban");
        ours.push(entry);
    }
    ours.sort_by_key(|e| std::cmp::Reverse(e.at));
    let digests: Vec<ContentSha256> = ours.iter().map(|e| e.sha256).collect();
    let mine = |all: Vec<BannedEntry>| -> Vec<BannedEntry> {
        all.into_iter()
            .filter(|e| digests.contains(&e.sha256))
            .collect()
    };
    assert_eq!(
        mine(ok(banned.list().await, "list")),
        ours,
        "every entry, newest first"
    );
    let gone = ours.remove(1);
    assert!(
        ok(banned.unban(&gone.sha256).await, "unban"),
        "the first unban finds it"
    );
    assert!(
        !ok(banned.unban(&gone.sha256).await, "unban again"),
        "a second unban finds nothing"
    );
    assert!(
        !ok(banned.unban(&fresh_digest()).await, "unban"),
        "unbanning a digest never banned finds nothing"
    );
    assert_eq!(ok(banned.get(&gone.sha256).await, "get"), None, "unbanned");
    assert_eq!(
        mine(ok(banned.list().await, "list")),
        ours,
        "an unbanned digest is not listed"
    );
    for entry in &ours {
        ok(banned.unban(&entry.sha256).await, "clean up");
    }
}
