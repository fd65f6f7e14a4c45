//! The invitations port: an address asked to join a restaurant, until it signs up or signs in.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{BackendError, Retryable};
use crate::notify::EmailAddress;
use crate::restaurant::{MemberRole, RestaurantId};
use crate::time::Timestamp;

/// An address asked to join one restaurant in one role. The address is in the accounts'
/// normal form (`AccountEmail`: trimmed, lower case), so that it matches the account that
/// signs up with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub restaurant: RestaurantId,
    pub email: EmailAddress,
    pub role: MemberRole,
    /// The user id of the owner or admin who invited.
    pub invited_by: String,
    pub invited_at: Timestamp,
    /// After this the invitation is ignored, and the next write for the address replaces it.
    pub expires_at: Timestamp,
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InvitationsError {
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Retryable for InvitationsError {
    fn is_retryable(&self) -> bool {
        match self {
            InvitationsError::Backend(e) => e.retryable,
        }
    }
}

/// Pending invitations.
///
/// Contract (`vetted_contract::invitations`):
/// - `put` stores the invitation, replacing any for the same (restaurant, address).
/// - `list` returns a restaurant's invitations, expired ones included, by address.
/// - `for_address` returns every invitation to the address, across restaurants, expired ones
///   included.
/// - `remove` deletes one and says whether it was there.
///
/// Turning an invitation into a membership is the caller's: add the member, then remove the
/// invitation, so that a failure between the two leaves it to be done again, not lost.
#[async_trait]
pub trait Invitations: Send + Sync {
    async fn put(&self, invitation: &Invitation) -> Result<(), InvitationsError>;

    async fn list(&self, restaurant: &RestaurantId) -> Result<Vec<Invitation>, InvitationsError>;

    async fn for_address(&self, email: &EmailAddress) -> Result<Vec<Invitation>, InvitationsError>;

    async fn remove(
        &self,
        restaurant: &RestaurantId,
        email: &EmailAddress,
    ) -> Result<bool, InvitationsError>;
}
