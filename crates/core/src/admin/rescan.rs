//! Rescan: runs the gate again, under today's policy of each upload's slot kind, on the
//! object each upload stands for: the published (sanitized) copy of a `PUBLISHED` upload, the
//! examined write of one still in progress. It reads and reports; it moves no record (no move
//! leaves `PUBLISHED`, and whether an image that no longer passes comes down is a moderator's
//! call, through a slot rollback or removal).
//!
//! A rescan of a slot kind since a date goes page by page; each page answers a
//! [`RescanCursor`], which the caller keeps as its checkpoint. A rescan interrupted at any
//! moment resumes from the last cursor kept: at worst a page is read twice, never skipped.

use serde::{Deserialize, Serialize};

use super::AdminError;
use crate::UploadId;
use crate::ids::ObjectKey;
use crate::inspect::{Verdict, run_gate};
use crate::policy::SlotPolicies;
use crate::ports::{PageRequest, PageToken, StoreError};
use crate::reason::ReasonCode;
use crate::record::UploadRecord;
use crate::restaurant::SlotKind;
use crate::service::Ports;
use crate::status::Status;
use crate::time::Timestamp;

/// The statuses whose uploads have an object to rescan, in the order a rescan walks them.
pub const RESCANNED: [Status; 5] = [
    Status::Received,
    Status::InReview,
    Status::Decided,
    Status::Approved,
    Status::Published,
];

/// Which uploads a rescan covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RescanSelection {
    One(UploadId),
    /// Uploads for slots of `kind` created at or after `since`.
    SlotKind {
        kind: SlotKind,
        since: Timestamp,
    },
}

/// Where a rescan of a slot kind goes on from: opaque to callers, who keep it as their
/// checkpoint and hand it back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RescanCursor {
    /// Index into [`RESCANNED`].
    pub status: usize,
    /// The listing's position within that status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// What the gate says of one upload today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum RescanVerdict {
    Passes,
    Fails {
        reason: ReasonCode,
    },
    /// The object it stands for is not in the store.
    ObjectGone,
    /// `dry_run`: it would be read.
    WouldScan,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RescanResult {
    pub upload_id: UploadId,
    pub status: Status,
    /// The object examined.
    pub key: String,
    #[serde(flatten)]
    pub verdict: RescanVerdict,
}

/// One page of a rescan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RescanPage {
    pub results: Vec<RescanResult>,
    /// Records looked at on this page, selected or not.
    pub examined: usize,
    /// Where to go on from; `None` when the rescan is complete.
    pub next: Option<RescanCursor>,
}

/// Rescans one page (at most `limit` records looked at) of `selection` from `cursor`.
pub async fn rescan_page(
    ports: &Ports,
    policies: &SlotPolicies,
    selection: &RescanSelection,
    cursor: &RescanCursor,
    limit: u32,
    dry_run: bool,
) -> Result<RescanPage, AdminError> {
    let (kind, since) = match selection {
        RescanSelection::One(id) => {
            let record = ports.uploads.get(id).await?;
            let results = if RESCANNED.contains(&record.status) {
                vec![rescan_one(ports, policies, &record, dry_run).await?]
            } else {
                Vec::new()
            };
            return Ok(RescanPage {
                results,
                examined: 1,
                next: None,
            });
        }
        RescanSelection::SlotKind { kind, since } => (*kind, *since),
    };
    let Some(status) = RESCANNED.get(cursor.status) else {
        return Ok(RescanPage {
            results: Vec::new(),
            examined: 0,
            next: None,
        });
    };
    let page = PageRequest {
        limit,
        after: cursor.after.clone().map(PageToken),
    };
    let batch = ports.uploads.list_by_status(*status, &page).await?;
    let mut results = Vec::new();
    for record in &batch.items {
        if record.target.slot.kind() == kind && record.created_at >= since {
            results.push(rescan_one(ports, policies, record, dry_run).await?);
        }
    }
    let next = match batch.next {
        Some(token) => Some(RescanCursor {
            status: cursor.status,
            after: Some(token.0),
        }),
        None if cursor.status + 1 < RESCANNED.len() => Some(RescanCursor {
            status: cursor.status + 1,
            after: None,
        }),
        None => None,
    };
    Ok(RescanPage {
        results,
        examined: batch.items.len(),
        next,
    })
}

async fn rescan_one(
    ports: &Ports,
    policies: &SlotPolicies,
    record: &UploadRecord,
    dry_run: bool,
) -> Result<RescanResult, AdminError> {
    let (key, version) = if record.status == Status::Published {
        (ObjectKey::published(&record.target, &record.id), None)
    } else {
        (record.key.clone(), record.object_version.clone())
    };
    let result = |verdict| RescanResult {
        upload_id: record.id,
        status: record.status,
        key: key.as_str().to_owned(),
        verdict,
    };
    if dry_run {
        return Ok(result(RescanVerdict::WouldScan));
    }
    let objects = ports.objects.as_ref();
    let meta = match objects.head(&key).await {
        Ok(meta) => meta,
        Err(StoreError::NotFound(_)) => return Ok(result(RescanVerdict::ObjectGone)),
        Err(source) => return Err(store_error(&key, source)),
    };
    // The published copy is served as its detected type; an upload in progress was declared.
    let declared = match (record.status, record.detected_type) {
        (Status::Published, Some(detected)) => detected.mime(),
        _ => record.declared_type.mime(),
    };
    // A version intake examined but the store no longer keeps is as gone as a missing key.
    let examined = version.filter(|_| meta.version.is_some());
    let gate = run_gate(
        meta.size,
        declared,
        policies.for_kind(record.target.slot.kind()),
        |len| {
            let (key, version) = (&key, examined.as_deref());
            async move {
                match version {
                    Some(v) => objects.get_range_of_version(key, v, 0..len).await,
                    None => objects.get_range(key, 0..len).await,
                }
            }
        },
    )
    .await;
    let verdict = match gate {
        Ok(gate) => match gate.verdict {
            Verdict::Accept { .. } => RescanVerdict::Passes,
            Verdict::Reject { reason } => RescanVerdict::Fails { reason },
            Verdict::NeedMore { .. } => RescanVerdict::Fails {
                reason: ReasonCode::HeaderTooDeep,
            },
        },
        Err(StoreError::NotFound(_) | StoreError::VersionGone { .. }) => RescanVerdict::ObjectGone,
        Err(source) => return Err(store_error(&key, source)),
    };
    Ok(result(verdict))
}

fn store_error(key: &ObjectKey, source: StoreError) -> AdminError {
    AdminError::Step(crate::service::StepError::store(key, source))
}
