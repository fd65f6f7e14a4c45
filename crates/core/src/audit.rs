//! The audit trail: who did what to an upload or a restaurant, when, and why. Append-only.
//!
//! Every decision (a first approval, an approval, a decline), rollback, redrive, rescan and
//! purge is one [`AuditEntry`]. Entries are written after the change they describe has been
//! made (the conditional write won), so the trail never names a change that did not happen.
//! An entry has an id chosen by the writer: a decision's is derived from the upload and the
//! action, so a retried write stores it once; an operator's action gets a fresh one.
//!
//! Writing an entry must not undo or hide the change it describes: [`record`] tries a few
//! times and then logs the entry whole at `error` level, so that an operator can still find
//! it, rather than failing a decision that is already recorded on the upload itself.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::{error, warn};
use uuid::Uuid;

use crate::ids::{ModeratorId, UploadId};
use crate::ports::AuditTrail;
use crate::restaurant::{RestaurantId, Slot};
use crate::time::Timestamp;

/// The longest note an entry keeps, in bytes.
pub const MAX_NOTE_BYTES: usize = 1000;

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// Four-eyes review: the first of two required approvals.
    FirstApproval,
    Approve,
    Decline,
    /// A moderator put an earlier image back in a slot.
    Rollback,
    /// An operator moved a FAILED upload, or a queue's dead letters, back into the pipeline.
    Redrive,
    /// An operator ran the checks again under the current policy.
    Rescan,
    /// An operator deleted every object and record of a user or a restaurant.
    Purge,
    /// An operator expired stale intents.
    Expire,
    /// The pipeline decided an upload by reusing the decision on earlier identical bytes (the
    /// slot kind's `known_content = reuse`); the note names that upload.
    ReuseDecision,
    /// An admin put a SHA-256 on the banned list (the note says which).
    Ban,
    /// An admin took a SHA-256 off the banned list.
    Unban,
}

impl AuditAction {
    pub const ALL: [AuditAction; 11] = [
        AuditAction::FirstApproval,
        AuditAction::Approve,
        AuditAction::Decline,
        AuditAction::Rollback,
        AuditAction::Redrive,
        AuditAction::Rescan,
        AuditAction::Purge,
        AuditAction::Expire,
        AuditAction::ReuseDecision,
        AuditAction::Ban,
        AuditAction::Unban,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::FirstApproval => "first_approval",
            AuditAction::Approve => "approve",
            AuditAction::Decline => "decline",
            AuditAction::Rollback => "rollback",
            AuditAction::Redrive => "redrive",
            AuditAction::Rescan => "rescan",
            AuditAction::Purge => "purge",
            AuditAction::Expire => "expire",
            AuditAction::ReuseDecision => "reuse_decision",
            AuditAction::Ban => "ban",
            AuditAction::Unban => "unban",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// A moderator's decision on an upload; owners see these without the moderator's id.
    pub fn is_decision(self) -> bool {
        matches!(
            self,
            AuditAction::FirstApproval | AuditAction::Approve | AuditAction::Decline
        )
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing done, by whom, to what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Unique; see [`AuditEntry::decision`] and [`AuditEntry::operation`].
    pub id: String,
    pub at: Timestamp,
    /// The user id of the moderator or admin, or `system` for the pipeline's own moves.
    pub actor: String,
    pub action: AuditAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restaurant: Option<RestaurantId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<Slot>,
    /// A reason code: a decline reason, or why an operator acted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Free text, at most [`MAX_NOTE_BYTES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl AuditEntry {
    /// A moderator's decision on an upload. There is at most one of each action per upload,
    /// so the id is `{upload}.{step}.{action}` and a retried write stores it once; the step
    /// (1 for a first approval, 2 for the deciding decision) keeps two decisions made in the
    /// same millisecond in the order they were made.
    pub fn decision(
        upload: UploadId,
        restaurant: RestaurantId,
        slot: Slot,
        moderator: &ModeratorId,
        action: AuditAction,
        at: Timestamp,
    ) -> Self {
        Self {
            id: format!(
                "{upload}.{}.{action}",
                if action == AuditAction::FirstApproval {
                    1
                } else {
                    2
                }
            ),
            at,
            actor: moderator.as_str().to_owned(),
            action,
            upload: Some(upload),
            restaurant: Some(restaurant),
            slot: Some(slot),
            reason: None,
            note: None,
        }
    }

    /// Any other action, which may happen more than once: the id is fresh, and sorts by time.
    pub fn operation(actor: &str, action: AuditAction, at: Timestamp) -> Self {
        Self {
            id: format!("{action}.{}", Uuid::now_v7()),
            at,
            actor: actor.to_owned(),
            action,
            upload: None,
            restaurant: None,
            slot: None,
            reason: None,
            note: None,
        }
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Keeps at most [`MAX_NOTE_BYTES`] of `note`, cut at a character boundary.
    pub fn with_note(mut self, note: &str) -> Self {
        let mut end = note.len().min(MAX_NOTE_BYTES);
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        self.note = Some(note[..end].to_owned());
        self
    }

    /// The same entry as an owner may see it: the moderator's id is replaced by the role.
    pub fn for_owner(mut self) -> Self {
        if self.action.is_decision() || self.action == AuditAction::Rollback {
            self.actor = "moderator".to_owned();
        } else if self.action == AuditAction::ReuseDecision {
            // The pipeline's own: `system` names no one.
        } else {
            self.actor = "operator".to_owned();
        }
        self
    }
}

/// How often [`record`] tries, and how long it waits between tries.
const ATTEMPTS: u32 = 3;
const BACKOFF: Duration = Duration::from_millis(200);

/// Appends `entry`, trying a few times; if it still fails, logs the whole entry at `error`
/// level (it holds no secret) so that it is not lost, and returns. The change the entry
/// describes has already been made, so its caller must not fail because of the trail.
pub async fn record(trail: &dyn AuditTrail, entry: &AuditEntry) {
    for attempt in 1..=ATTEMPTS {
        match trail.append(entry).await {
            Ok(()) => return,
            Err(e) if attempt < ATTEMPTS => {
                warn!(error = %e, attempt, "audit entry not written yet; trying again");
                tokio::time::sleep(BACKOFF * attempt).await;
            }
            Err(e) => {
                let json = serde_json::to_string(entry).unwrap_or_default();
                error!(error = %e, audit_entry = %json, "audit entry could not be written");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_spell_as_their_serde_names() {
        for action in AuditAction::ALL {
            let json = serde_json::to_value(action).unwrap();
            assert_eq!(json, action.as_str());
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(AuditAction::parse("delete"), None);
    }

    #[test]
    fn a_decision_has_one_id_per_upload_and_action_and_an_operation_a_fresh_one() {
        let upload = UploadId::generate();
        let r = RestaurantId::parse("r1").unwrap();
        let m = ModeratorId::parse("mod-1").unwrap();
        let at = Timestamp::from_unix_millis(5);
        let a = AuditEntry::decision(upload, r.clone(), Slot::Logo, &m, AuditAction::Approve, at);
        let b = AuditEntry::decision(upload, r, Slot::Logo, &m, AuditAction::Approve, at);
        assert_eq!(a.id, b.id);
        let x = AuditEntry::operation("admin-1", AuditAction::Redrive, at);
        let y = AuditEntry::operation("admin-1", AuditAction::Redrive, at);
        assert_ne!(x.id, y.id);
    }

    #[test]
    fn owners_see_roles_not_moderator_ids_and_notes_are_capped() {
        let upload = UploadId::generate();
        let entry = AuditEntry::decision(
            upload,
            RestaurantId::parse("r1").unwrap(),
            Slot::Cover,
            &ModeratorId::parse("mod-7").unwrap(),
            AuditAction::Decline,
            Timestamp::from_unix_millis(1),
        )
        .with_note(&"é".repeat(MAX_NOTE_BYTES));
        assert!(entry.note.as_ref().unwrap().len() <= MAX_NOTE_BYTES);
        let owner_view = entry.for_owner();
        assert_eq!(owner_view.actor, "moderator");
        assert!(
            !serde_json::to_string(&owner_view)
                .unwrap()
                .contains("mod-7")
        );
    }
}
