//! The `Uploads` contract: records, conditional transitions with the semantics of
//! [`UploadRecord::apply`], and paged listings.
//!
//! Every check uses fresh ids and owners of its own, and listings by status look only at the
//! check's own records, so the suite also runs on a shared table.

mod content;
mod listings;
mod records;
mod transitions;

pub use content::{
    list_by_sha256_holds_every_record_of_the_digest,
    record_sha256_sets_a_missing_digest_once_and_nothing_else,
};
pub use listings::{
    a_foreign_page_token_is_refused, list_by_owner_is_newest_first,
    list_by_restaurant_holds_every_record_and_delete_removes_one,
    list_by_status_is_oldest_first_and_follows_transitions,
    list_in_progress_holds_exactly_the_open_requests, page_limit_is_clamped,
    paging_yields_every_record_once_even_when_sort_keys_tie,
};
pub use records::{
    create_then_get_returns_the_record, create_twice_is_already_exists,
    missing_records_are_not_found,
};
pub use transitions::{
    a_conflict_reports_the_actual_status_and_writes_nothing,
    a_review_stage_moves_only_forward_and_only_in_review,
    concurrent_transitions_have_exactly_one_winner, every_legal_transition_matches_apply,
    the_decision_time_is_written_and_kept, the_task_token_lives_only_while_a_decision_is_pending,
};

use vetted_core::Clock;
use vetted_core::ports::Uploads;
use vetted_core::record::{DeclineReason, FileName, UploadMethod};
use vetted_core::{
    ContentSha256, Decision, ExecutionName, ImageType, ModeratorId, OwnerId, ReasonCode,
    RecordChanges, SlotRef, SystemClock, TaskToken, Timestamp, UploadId, UploadRecord,
};

use crate::support::unique;

/// Runs every check on `uploads`, which should start empty (or be a table no one else uses
/// for these ids: every check makes its own).
pub async fn run_all(uploads: &dyn Uploads) {
    create_then_get_returns_the_record(uploads).await;
    create_twice_is_already_exists(uploads).await;
    missing_records_are_not_found(uploads).await;
    every_legal_transition_matches_apply(uploads).await;
    a_conflict_reports_the_actual_status_and_writes_nothing(uploads).await;
    concurrent_transitions_have_exactly_one_winner(uploads).await;
    the_task_token_lives_only_while_a_decision_is_pending(uploads).await;
    the_decision_time_is_written_and_kept(uploads).await;
    a_review_stage_moves_only_forward_and_only_in_review(uploads).await;
    list_by_owner_is_newest_first(uploads).await;
    list_by_status_is_oldest_first_and_follows_transitions(uploads).await;
    paging_yields_every_record_once_even_when_sort_keys_tie(uploads).await;
    page_limit_is_clamped(uploads).await;
    a_foreign_page_token_is_refused(uploads).await;
    list_in_progress_holds_exactly_the_open_requests(uploads).await;
    list_by_restaurant_holds_every_record_and_delete_removes_one(uploads).await;
    record_sha256_sets_a_missing_digest_once_and_nothing_else(uploads).await;
    list_by_sha256_holds_every_record_of_the_digest(uploads).await;
}

pub(crate) fn fresh_owner() -> OwnerId {
    OwnerId::parse(&unique("owner")).expect("a generated owner id is valid")
}

/// Now, in milliseconds; checks offset their timestamps from it.
pub(crate) fn now_ms() -> i64 {
    SystemClock.now().unix_millis()
}

pub(crate) fn at(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

/// The slot most checks' intents target; records are told apart by id, not by slot.
pub(crate) fn default_target() -> SlotRef {
    slot_ref("r1/gallery-1")
}

pub(crate) fn slot_ref(raw: &str) -> SlotRef {
    raw.parse()
        .unwrap_or_else(|e| panic!("test slot {raw:?} is not a valid slot: {e}"))
}

/// A fresh intent of `owner` for [`default_target`], created at `created_ms`.
pub(crate) fn intent(owner: &OwnerId, created_ms: i64) -> UploadRecord {
    intent_for(owner, default_target(), created_ms)
}

/// A fresh intent of `owner` for `target`, created at `created_ms`.
pub(crate) fn intent_for(owner: &OwnerId, target: SlotRef, created_ms: i64) -> UploadRecord {
    UploadRecord::new_intent(
        UploadId::generate(),
        owner.clone(),
        target,
        FileName::parse("Menu photo (1).png").expect("valid filename"),
        ImageType::Png,
        123_456,
        UploadMethod::Post,
        at(created_ms),
        at(created_ms + 15 * 60 * 1000),
    )
}

/// Changes that set every field, with values that differ by `seed`, so a store that drops,
/// swaps or truncates a field fails the comparison with `apply`.
pub(crate) fn every_field(seed: u32) -> RecordChanges {
    let reasons = [
        ReasonCode::TypeMismatch,
        ReasonCode::TooLarge,
        ReasonCode::ProcessingFailed,
    ];
    let declines = [
        DeclineReason::LowQuality,
        DeclineReason::Copyright,
        DeclineReason::Other,
    ];
    let pick = seed as usize % 3;
    RecordChanges {
        reason: Some(reasons[pick]),
        detected_type: Some(ImageType::ALL[pick]),
        width: Some(1000 + seed),
        height: Some(2000 + seed),
        bytes: Some(u64::from(seed) * 1_000_003 + 7),
        object_version: Some(format!("\"etag-{seed}\" v{seed}")),
        execution_name: Some(
            ExecutionName::parse(&format!("review-{seed}")).expect("valid execution name"),
        ),
        task_token: Some(
            TaskToken::parse(&format!("token/{seed}+{}", "t".repeat(900)))
                .expect("valid task token"),
        ),
        moderator: Some(ModeratorId::parse(&format!("mod-{seed}")).expect("valid moderator")),
        first_approver: Some(
            ModeratorId::parse(&format!("first-mod-{seed}")).expect("valid moderator"),
        ),
        decision: Some(if seed.is_multiple_of(2) {
            Decision::Approve
        } else {
            Decision::Decline
        }),
        decided_at: Some(Timestamp::from_unix_millis(
            1_700_000_000_000 + i64::from(seed) * 7_919,
        )),
        decline_reason: Some(declines[pick]),
        failure: Some(format!(
            "step {seed} failed: 'quoted' \"and\" caf\u{e9}\n second line"
        )),
        escalation_levels: Some(u8::try_from(seed % 3).unwrap_or(0)),
        sha256: Some(ContentSha256::of(format!("content {seed}").as_bytes())),
    }
}
