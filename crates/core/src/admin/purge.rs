//! Purge: delete every object and record of a restaurant or of a user, and record that it
//! happened.
//!
//! Each upload is taken apart in an order that a run stopped at any point, run again,
//! finishes:
//! 1. one still withdrawable (`AWAITING_UPLOAD` to `AWAITING_SECOND`) is withdrawn as its owner
//!    would withdraw it ([`Review::withdraw`]): one conditional write, so a moderator's decision
//!    racing it loses cleanly, and a review waiting for a decision is told to end. Steps of the
//!    workflow that run later find the record `WITHDRAWN`, or gone, and publish nothing;
//! 2. (a user's purge) a slot that shows the upload is emptied through the removal path and
//!    `slot.cleared` announced, so that no page points at an image about to be deleted; then
//!    the image leaves the slot's history;
//! 3. every object the upload can have is deleted, every version of it: the original under
//!    `incoming/`, `quarantine/`, the sanitized copy, the preview and the published copy;
//! 4. its sent-mail ledger entries, then the record itself, which is what lists the keys
//!    above, so it goes last.
//!
//! Then a restaurant's invitations, and the restaurant with its members, slots and history
//! (its `META` item or row last); or a user's memberships and email preference. Last, one
//! [`AuditAction::Purge`] entry, naming ids and counts only. The audit trail itself is kept:
//! it is append-only, and the entry is the record that the purge happened.
//!
//! A purge of something that is not there (never was, or purged already) deletes nothing and
//! succeeds. `dry_run` reads, and reports what would be deleted, writing nothing.
//!
//! Not deleted here: a user's account (the `Accounts` port has no delete; see
//! ARCHITECTURE.md for what an operator runs), events already published (outbox rows, webhook
//! deliveries, EventBridge), and copies of published images in a CDN's cache.

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::AdminError;
use crate::audit::{self, AuditAction, AuditEntry};
use crate::ids::{ObjectKey, OwnerId, UploadId};
use crate::ports::{
    BackendError, Invitations, Notifications, Page, PageRequest, Removal, Restaurants,
    RestaurantsError, UploadsError,
};
use crate::record::UploadRecord;
use crate::restaurant::{RestaurantId, SlotRef};
use crate::review::Review;
use crate::review::{WithdrawError, can_withdraw};
use crate::status::Status;

/// Records read per page of a listing.
const PAGE: u32 = 100;
/// Tries of a slot removal that keeps finding the slot moved by someone else.
const REMOVAL_ATTEMPTS: usize = 5;

/// What to purge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurgeTarget {
    /// A restaurant: every upload to its slots, its slots and their history, its members, its
    /// invitations, and the restaurant.
    Restaurant(RestaurantId),
    /// A user: every upload they asked for (in any restaurant), their images in slots and slot
    /// histories, their memberships and their email preference.
    User(OwnerId),
}

/// The stores a purge reaches beyond [`Review`]'s ports; a backend without one has nothing
/// of that kind to delete.
#[derive(Clone, Copy, Default)]
pub struct PurgeStores<'a> {
    pub notifications: Option<&'a dyn Notifications>,
    pub invitations: Option<&'a dyn Invitations>,
}

/// One upload, and what was (or would be) deleted of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurgedUpload {
    pub upload_id: UploadId,
    /// The status it had when the purge found it.
    pub status: Status,
    /// `restaurant/slot`.
    pub slot: String,
    /// Whether the purge withdrew it first (it was still in review, or awaiting its file).
    pub withdrawn: bool,
    /// Every key deleted, every version of each (deleting a missing key is harmless).
    pub keys: Vec<ObjectKey>,
}

/// What a purge did, or with `dry_run` would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    pub target: PurgeTarget,
    pub dry_run: bool,
    pub uploads: Vec<PurgedUpload>,
    /// Slots that showed one of the user's images and were emptied (`restaurant/slot`).
    pub slots_cleared: Vec<String>,
    /// Slot history entries deleted (a user's purge; a restaurant's deletes them with it).
    pub history_entries: u64,
    /// Memberships deleted: the user's, or the restaurant's members.
    pub memberships: u64,
    /// Pending invitations deleted (a restaurant's).
    pub invitations: u64,
    /// A user's email preference (with the address it kept) was there and is deleted.
    pub notification_preference: bool,
    /// The restaurant was there and is deleted.
    pub restaurant: bool,
    /// The audit entry that records the purge; none on a dry run.
    pub audit_entry: Option<String>,
}

impl PurgeReport {
    fn new(target: PurgeTarget, dry_run: bool) -> Self {
        Self {
            target,
            dry_run,
            uploads: Vec::new(),
            slots_cleared: Vec::new(),
            history_entries: 0,
            memberships: 0,
            invitations: 0,
            notification_preference: false,
            restaurant: false,
            audit_entry: None,
        }
    }

    /// Whether anything was (or would be) deleted.
    pub fn is_empty(&self) -> bool {
        self.uploads.is_empty()
            && self.slots_cleared.is_empty()
            && self.history_entries == 0
            && self.memberships == 0
            && self.invitations == 0
            && !self.notification_preference
            && !self.restaurant
    }
}

/// Every key an upload's files can have.
pub fn keys_of(record: &UploadRecord) -> Vec<ObjectKey> {
    vec![
        record.key.clone(),
        ObjectKey::quarantine(&record.target, &record.id),
        ObjectKey::sanitized(&record.id),
        ObjectKey::preview(&record.id),
        ObjectKey::published(&record.target, &record.id),
    ]
}

/// Purges `target`; `actor` is the admin who asked, named in the audit entry.
#[tracing::instrument(skip(review, stores), fields(target = ?target, dry_run))]
pub async fn purge(
    review: &Review,
    stores: PurgeStores<'_>,
    target: &PurgeTarget,
    actor: &str,
    dry_run: bool,
) -> Result<PurgeReport, AdminError> {
    let ports = &review.ports;
    let mut report = PurgeReport::new(target.clone(), dry_run);
    let mut page = PageRequest::first(PAGE);
    loop {
        let batch: Page<UploadRecord> = match target {
            PurgeTarget::Restaurant(id) => ports.uploads.list_by_restaurant(id, &page).await?,
            PurgeTarget::User(id) => ports.uploads.list_by_owner(id, &page).await?,
        };
        for record in &batch.items {
            let purged =
                purge_upload(review, stores, target, record, actor, dry_run, &mut report).await?;
            report.uploads.push(purged);
        }
        match batch.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    match target {
        PurgeTarget::Restaurant(id) => {
            purge_restaurant(review, stores, id, dry_run, &mut report).await?
        }
        PurgeTarget::User(id) => purge_user(review, stores, id, dry_run, &mut report).await?,
    }
    if !dry_run {
        let entry = audit_entry(review, target, actor, &report);
        audit::record(ports.audit.as_ref(), &entry).await;
        report.audit_entry = Some(entry.id);
        info!(
            uploads = report.uploads.len(),
            memberships = report.memberships,
            restaurant = report.restaurant,
            "purged"
        );
    }
    Ok(report)
}

/// The one entry a purge leaves: ids and counts, nothing else of the person.
fn audit_entry(
    review: &Review,
    target: &PurgeTarget,
    actor: &str,
    report: &PurgeReport,
) -> AuditEntry {
    let mut entry = AuditEntry::operation(actor, AuditAction::Purge, review.ports.clock.now());
    let what = match target {
        PurgeTarget::Restaurant(id) => {
            entry.restaurant = Some(id.clone());
            entry.reason = Some("restaurant".to_owned());
            format!("restaurant {id}")
        }
        PurgeTarget::User(id) => {
            entry.reason = Some("user".to_owned());
            format!("user {id}")
        }
    };
    entry.with_note(&format!(
        "{what}: {} uploads, {} slots cleared, {} history entries, {} memberships, {} \
         invitations, preference {}, restaurant {}",
        report.uploads.len(),
        report.slots_cleared.len(),
        report.history_entries,
        report.memberships,
        report.invitations,
        if report.notification_preference {
            "deleted"
        } else {
            "none"
        },
        if report.restaurant { "deleted" } else { "none" },
    ))
}

async fn purge_upload(
    review: &Review,
    stores: PurgeStores<'_>,
    target: &PurgeTarget,
    record: &UploadRecord,
    actor: &str,
    dry_run: bool,
    report: &mut PurgeReport,
) -> Result<PurgedUpload, AdminError> {
    let ports = &review.ports;
    let mut purged = PurgedUpload {
        upload_id: record.id,
        status: record.status,
        slot: record.target.to_string(),
        withdrawn: can_withdraw(record.status),
        keys: keys_of(record),
    };
    if dry_run {
        if matches!(target, PurgeTarget::User(_)) {
            let slot = ports
                .restaurants
                .slot(&record.target)
                .await
                .map_err(AdminError::from)?;
            if slot.live.as_ref().map(|live| live.upload) == Some(record.id) {
                report.slots_cleared.push(record.target.to_string());
            }
            let history = ports
                .restaurants
                .history(&record.target)
                .await
                .map_err(AdminError::from)?;
            if history.iter().any(|image| image.upload == record.id) {
                report.history_entries += 1;
            }
        }
        return Ok(purged);
    }
    if purged.withdrawn {
        match review.withdraw(record.id).await {
            Ok(_) => {}
            // Gone already (a purge that stopped after deleting the record), or decided
            // meanwhile: the steps below delete it all the same.
            Err(WithdrawError::NotFound(_) | WithdrawError::TooLate { .. }) => {
                purged.withdrawn = false;
            }
            Err(WithdrawError::Step(e)) => return Err(e.into()),
        }
    }
    if matches!(target, PurgeTarget::User(_)) {
        if clear_slot(review, &record.target, &record.id, actor).await? {
            report.slots_cleared.push(record.target.to_string());
        }
        if ports
            .restaurants
            .forget_image(&record.target, &record.id)
            .await
            .map_err(AdminError::from)?
        {
            report.history_entries += 1;
        }
    }
    for key in &purged.keys {
        ports
            .objects
            .delete_all_versions(key)
            .await
            .map_err(|source| AdminError::Store {
                key: key.clone(),
                source,
            })?;
    }
    if let Some(notifications) = stores.notifications {
        notifications.forget_upload(&record.id).await?;
    }
    match ports.uploads.delete(&record.id).await {
        Ok(_) | Err(UploadsError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(purged)
}

/// Empties `slot` if it shows `upload`, through the owners' removal path (the cause records
/// the admin as the one who removed it), and announces `slot.cleared`. Whether it did.
async fn clear_slot(
    review: &Review,
    slot: &SlotRef,
    upload: &UploadId,
    actor: &str,
) -> Result<bool, AdminError> {
    let ports = &review.ports;
    // Admins' ids are user ids; one that is not cannot be recorded as the remover.
    let remover = OwnerId::parse(actor).map_err(|e| {
        AdminError::Restaurants(RestaurantsError::Backend(BackendError::permanent(
            "purge:clear_slot",
            e,
        )))
    })?;
    for _ in 0..REMOVAL_ATTEMPTS {
        let state = ports
            .restaurants
            .slot(slot)
            .await
            .map_err(AdminError::from)?;
        if state.live.as_ref().map(|live| live.upload) != Some(*upload) {
            return Ok(false);
        }
        let removal = Removal {
            slot: slot.clone(),
            expected_revision: state.revision,
            owner: remover.clone(),
            at: ports.clock.now(),
        };
        match ports.restaurants.remove(&removal).await {
            Ok(cleared) => {
                ports.lifecycle().announce_slot(&cleared).await?;
                return Ok(true);
            }
            // Someone changed the slot meanwhile: look again.
            Err(RestaurantsError::SlotMoved { .. } | RestaurantsError::SlotEmpty { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    warn!(%slot, %upload, "the slot kept moving; its image was not cleared");
    Err(AdminError::Restaurants(RestaurantsError::Backend(
        BackendError::retryable(
            "purge:clear_slot",
            format!("{slot} kept changing while its image was being cleared"),
        ),
    )))
}

async fn purge_restaurant(
    review: &Review,
    stores: PurgeStores<'_>,
    id: &RestaurantId,
    dry_run: bool,
    report: &mut PurgeReport,
) -> Result<(), AdminError> {
    let restaurants: &dyn Restaurants = review.ports.restaurants.as_ref();
    if let Some(invitations) = stores.invitations {
        let pending = invitations.list(id).await?;
        for invitation in pending.iter().filter(|_| !dry_run) {
            invitations.remove(id, &invitation.email).await?;
        }
        report.invitations = pending.len() as u64;
    }
    report.memberships = match restaurants.members(id).await {
        Ok(members) => members.len() as u64,
        Err(RestaurantsError::NotFound(_)) => 0,
        Err(e) => return Err(e.into()),
    };
    report.restaurant = if dry_run {
        match restaurants.get(id).await {
            Ok(_) => true,
            Err(RestaurantsError::NotFound(_)) => false,
            Err(e) => return Err(e.into()),
        }
    } else {
        restaurants.delete_restaurant(id).await?
    };
    Ok(())
}

async fn purge_user(
    review: &Review,
    stores: PurgeStores<'_>,
    id: &OwnerId,
    dry_run: bool,
    report: &mut PurgeReport,
) -> Result<(), AdminError> {
    let restaurants: &dyn Restaurants = review.ports.restaurants.as_ref();
    let memberships = restaurants
        .restaurants_of(id)
        .await
        .map_err(AdminError::from)?;
    for (restaurant, _) in &memberships {
        let removed = if dry_run {
            true
        } else {
            match restaurants.remove_member(&restaurant.id, id).await {
                Ok(removed) => removed,
                Err(RestaurantsError::NotFound(_)) => false,
                Err(e) => return Err(e.into()),
            }
        };
        report.memberships += u64::from(removed);
    }
    if let Some(notifications) = stores.notifications {
        report.notification_preference = notifications.preference(id).await?.is_some();
        // A moderator's escalation subscription keeps an address too: the same `sub`.
        let as_moderator = crate::ids::ModeratorId::from(id);
        if !dry_run {
            notifications.forget(id).await?;
            notifications.unsubscribe_escalations(&as_moderator).await?;
        }
    }
    Ok(())
}
