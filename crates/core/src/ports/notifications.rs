//! The notifications port: each user's email preference, the moderators subscribed to
//! escalations, and the ledger of what was sent.

use async_trait::async_trait;
use thiserror::Error;

use super::{BackendError, Retryable};
use crate::ids::{ModeratorId, OwnerId, UploadId};
use crate::notify::{EscalationSubscriber, Preference, SentKey};
use crate::time::Timestamp;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NotificationsError {
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Retryable for NotificationsError {
    fn is_retryable(&self) -> bool {
        match self {
            NotificationsError::Backend(e) => e.retryable,
        }
    }
}

/// Email preferences and the sent ledger.
///
/// Contract:
/// - `preference` returns what `set_preference` last stored for the user, or `None` if
///   nothing was ever stored (which means: not opted in). `set_preference` replaces it whole.
/// - `subscribe_escalations` stores the subscriber, replacing any earlier subscription of
///   the same moderator; `unsubscribe_escalations` removes it (removing one that is not there
///   is not an error). `escalation_subscription` reads one moderator's;
///   `escalation_subscribers` lists every subscription stored, in no particular order.
/// - `claim` stores the ledger entry `key` (upload, status or escalation level, user) unless
///   it exists, and says whether it stored it: of any number of claims of one key, concurrent
///   or not, exactly one returns `true` until the key is released. Keys that differ only in
///   their escalation level are different entries.
/// - `release` removes the entry, so that the next `claim` of the key returns `true` again;
///   releasing a key that is not there is not an error.
/// - `forget` removes the user's preference (and with it the address kept for them), so that
///   `preference` is `None` again; forgetting a user with none stored is not an error.
/// - `forget_upload` removes every ledger entry of the upload, whatever the status and user,
///   so that each `claim` of one of its keys returns `true` again; an upload with none is not
///   an error.
///
/// Nothing here is SQL-shaped: a preference is one item per user, a ledger entry one item
/// per key written with a create-if-absent condition.
#[async_trait]
pub trait Notifications: Send + Sync {
    async fn preference(&self, user: &OwnerId) -> Result<Option<Preference>, NotificationsError>;

    async fn set_preference(
        &self,
        user: &OwnerId,
        preference: &Preference,
    ) -> Result<(), NotificationsError>;

    async fn subscribe_escalations(
        &self,
        subscriber: &EscalationSubscriber,
    ) -> Result<(), NotificationsError>;

    async fn unsubscribe_escalations(
        &self,
        moderator: &ModeratorId,
    ) -> Result<(), NotificationsError>;

    async fn escalation_subscription(
        &self,
        moderator: &ModeratorId,
    ) -> Result<Option<EscalationSubscriber>, NotificationsError>;

    async fn escalation_subscribers(&self)
    -> Result<Vec<EscalationSubscriber>, NotificationsError>;

    async fn claim(&self, key: &SentKey, at: Timestamp) -> Result<bool, NotificationsError>;

    async fn release(&self, key: &SentKey) -> Result<(), NotificationsError>;

    async fn forget(&self, user: &OwnerId) -> Result<(), NotificationsError>;

    async fn forget_upload(&self, upload: &UploadId) -> Result<(), NotificationsError>;
}
