//! Content-hash dedup: what the sanitize step does with the digest of the bytes it reads, and
//! how `await_decision` reuses an earlier decision on the same bytes.
//!
//! Sanitize hashes every byte it reads. The record keeps that digest when it had none (S3
//! reports one only for a write whose client pinned it); a digest other than the one recorded
//! is `checksum_mismatch`, and a banned one is `banned_content`, before anything is decoded.
//!
//! Where the slot kind's policy says `known_content = reuse`, the first await stage looks for
//! earlier uploads with the same digest before waiting for a moderator:
//! - declined anywhere: this upload is declined with the same reason;
//! - published for the same restaurant and still live in the slot it was published to: this
//!   upload is approved, and publish, events, emails and webhooks run as for any approval.
//!   An image no longer live may have been rolled back or taken down, and the model does not
//!   record why, so it is reviewed again rather than trusted;
//! - both at once (a disagreement), or neither: a moderator reviews it as usual.
//!
//! The decision is the ordinary `IN_REVIEW → DECIDED` write, by the moderator id `system`,
//! and the audit trail gets a `reuse_decision` entry naming the upload whose decision was
//! reused.

use serde_json::json;
use tracing::{info, warn};

use super::Review;
use super::tasks::Step;
use crate::audit::{self, AuditAction, AuditEntry};
use crate::checksum::ContentSha256;
use crate::ids::{ModeratorId, UploadId};
use crate::lifecycle::Advanced;
use crate::policy::KnownContent;
use crate::ports::PageRequest;
use crate::reason::ReasonCode;
use crate::record::{Decision, DeclineReason, RecordChanges, UploadRecord};
use crate::service::StepError;
use crate::status::Status;

/// The moderator id of decisions the pipeline reuses; `record.moderator` and events name it.
pub const SYSTEM_MODERATOR: &str = "system";

/// How many earlier uploads of the same bytes are looked at, at most: enough for any real
/// history, and a bound on the reads one task makes.
const MAX_EARLIER: usize = 200;

/// An earlier decision this upload may take over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Earlier {
    pub upload: UploadId,
    pub decision: Decision,
    pub decline_reason: Option<DeclineReason>,
}

impl Review {
    /// Hashes the bytes sanitize read and checks the digest against the record and the banned
    /// list. `Some` is what to answer instead of sanitizing.
    pub(super) async fn check_content(
        &self,
        record: &UploadRecord,
        bytes: &bytes::Bytes,
    ) -> Result<Option<Step>, StepError> {
        let to_hash = bytes.clone();
        let digest = tokio::task::spawn_blocking(move || ContentSha256::of(&to_hash))
            .await
            .map_err(|_| StepError::SanitizerCrashed { upload: record.id })?;
        let recorded = match record.sha256 {
            Some(recorded) => recorded,
            None => self
                .ports
                .uploads
                .record_sha256(&record.id, &digest)
                .await
                .map_err(|source| StepError::Uploads {
                    upload: record.id,
                    source,
                })?
                .sha256
                .unwrap_or(digest),
        };
        if recorded != digest {
            warn!(%recorded, read = %digest, "the bytes read are not the ones recorded");
            return self
                .reject_after_sanitize(record, ReasonCode::ChecksumMismatch)
                .await
                .map(Some);
        }
        let banned = self
            .ports
            .banned
            .get(&digest)
            .await
            .map_err(|source| StepError::Banned {
                upload: record.id,
                source,
            })?;
        if banned.is_some() {
            warn!(%digest, "the bytes are on the banned list");
            return self
                .reject_after_sanitize(record, ReasonCode::BannedContent)
                .await
                .map(Some);
        }
        Ok(None)
    }

    /// At the first await stage, with the token stored: decides the upload from an earlier
    /// decision on the same bytes, when its slot kind reuses them and one applies. `None`
    /// leaves it to a moderator.
    pub(super) async fn reuse_decision(
        &self,
        in_review: &UploadRecord,
    ) -> Result<Option<Step>, StepError> {
        let policy = self.policies.for_kind(in_review.target.slot.kind());
        if policy.known_content != KnownContent::Reuse || in_review.status != Status::InReview {
            return Ok(None);
        }
        let Some(digest) = in_review.sha256 else {
            return Ok(None);
        };
        let Some(earlier) = self.earlier_decision(in_review, &digest).await? else {
            return Ok(None);
        };
        let system = ModeratorId::parse(SYSTEM_MODERATOR)
            .unwrap_or_else(|_| unreachable!("`system` is a valid moderator id"));
        let changes = RecordChanges {
            moderator: Some(system.clone()),
            decision: Some(earlier.decision),
            decided_at: Some(self.ports.clock.now()),
            decline_reason: earlier.decline_reason,
            ..Default::default()
        };
        let decided = match self
            .lifecycle()
            .advance(in_review, Status::Decided, changes)
            .await?
        {
            Advanced::Moved(decided) => decided,
            // A moderator decided first; their decision answers the workflow.
            Advanced::Elsewhere(_) => return Ok(None),
            Advanced::AlreadyThere(current) => {
                return Ok(Some(Step::Answer(json!({ "decision": current.decision }))));
            }
        };
        let reason = match (earlier.decision, earlier.decline_reason) {
            (Decision::Decline, Some(reason)) => serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "other".to_owned()),
            _ => "approve".to_owned(),
        };
        let entry = AuditEntry::decision(
            decided.id,
            decided.target.restaurant.clone(),
            decided.target.slot,
            &system,
            AuditAction::ReuseDecision,
            decided.status_since,
        )
        .with_reason(reason)
        .with_note(&format!("reused the decision on upload {}", earlier.upload));
        audit::record(self.ports.audit.as_ref(), &entry).await;
        info!(from = %earlier.upload, decision = ?earlier.decision, "decision reused");
        Ok(Some(Step::Answer(json!({ "decision": earlier.decision }))))
    }

    /// The earlier decision on `digest` that `record` may take over, if exactly one kind
    /// applies (see the module comment).
    async fn earlier_decision(
        &self,
        record: &UploadRecord,
        digest: &ContentSha256,
    ) -> Result<Option<Earlier>, StepError> {
        let mut declined: Option<&UploadRecord> = None;
        let mut published: Option<&UploadRecord> = None;
        let earlier = self.same_bytes(record, digest).await?;
        for other in &earlier {
            match other.status {
                Status::Declined if declined.is_none() => declined = Some(other),
                Status::Published
                    if published.is_none()
                        && other.target.restaurant == record.target.restaurant
                        && self.still_live(other).await? =>
                {
                    published = Some(other);
                }
                _ => {}
            }
        }
        Ok(match (declined, published) {
            (Some(declined), None) => Some(Earlier {
                upload: declined.id,
                decision: Decision::Decline,
                decline_reason: Some(declined.decline_reason.unwrap_or(DeclineReason::Other)),
            }),
            (None, Some(published)) => Some(Earlier {
                upload: published.id,
                decision: Decision::Approve,
                decline_reason: None,
            }),
            (Some(declined), Some(published)) => {
                warn!(
                    declined = %declined.id,
                    published = %published.id,
                    "the same bytes were declined and published; a moderator decides"
                );
                None
            }
            (None, None) => None,
        })
    }

    /// Every other upload with the same digest, newest first, at most [`MAX_EARLIER`].
    async fn same_bytes(
        &self,
        record: &UploadRecord,
        digest: &ContentSha256,
    ) -> Result<Vec<UploadRecord>, StepError> {
        let mut found = Vec::new();
        let mut page = PageRequest::first(100);
        loop {
            let batch = self
                .ports
                .uploads
                .list_by_sha256(digest, &page)
                .await
                .map_err(|source| StepError::Listing { source })?;
            found.extend(batch.items.into_iter().filter(|r| r.id != record.id));
            match batch.next {
                Some(next) if found.len() < MAX_EARLIER => page.after = Some(next),
                _ => break,
            }
        }
        found.truncate(MAX_EARLIER);
        Ok(found)
    }

    /// Whether `published` is still the image its slot shows.
    async fn still_live(&self, published: &UploadRecord) -> Result<bool, StepError> {
        let state = self
            .ports
            .restaurants
            .slot(&published.target)
            .await
            .map_err(|source| StepError::Restaurants {
                slot: published.target.clone(),
                source,
            })?;
        Ok(state.live.is_some_and(|live| live.upload == published.id))
    }
}
