//! Inviting an address to a restaurant: the membership begins when the address signs up (at
//! confirmation) or next signs in, as the account routes' [`InvitationAcceptor`] does.
//!
//! Owners invite staff; admins invite owners and staff, as for members. An invitation lasts
//! [`INVITATION_TTL`]; inviting the address again replaces it. The address is kept in the
//! accounts' normal form, so that it meets the account that signs up with it.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use vetted_core::accounts::AccountEmail;
use vetted_core::ports::{Invitation, Invitations, Restaurants};
use vetted_core::restaurant::{Member, MemberRole};
use vetted_core::{Clock, OwnerId};

use super::{Standing, standing};
use crate::ApiState;
use crate::auth::AnyCaller;
use crate::body::JsonBody;
use crate::error::{ApiError, reasons};

/// How long an invitation waits for its address.
pub const INVITATION_TTL: Duration = Duration::from_secs(14 * 24 * 3600);
/// The most invitations one restaurant may have waiting.
pub const MAX_PENDING: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub email: String,
    pub role: MemberRole,
}

#[derive(Debug, Serialize)]
pub struct InvitationList {
    pub items: Vec<Invitation>,
}

fn store(state: &ApiState) -> Result<&Arc<dyn Invitations>, ApiError> {
    state
        .invitations
        .as_ref()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, reasons::NOT_FOUND, "no such route"))
}

/// Owners of the restaurant (for staff) and admins (for anyone); anyone else who can see it
/// gets 403.
fn may_invite(standing: Standing, role: Option<MemberRole>) -> Result<(), ApiError> {
    match standing {
        Standing::Staff { admin: true } => Ok(()),
        Standing::Member(MemberRole::Owner) if role != Some(MemberRole::Owner) => Ok(()),
        Standing::Member(MemberRole::Owner) => Err(ApiError::forbidden(
            "owners invite staff; only an admin invites an owner",
        )),
        _ => Err(ApiError::forbidden(
            "only the restaurant's owners and admins invite members",
        )),
    }
}

fn no_such_invitation() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        reasons::NOT_FOUND,
        "no such invitation",
    )
}

#[tracing::instrument(skip_all, fields(restaurant = %id))]
pub(super) async fn invite(
    State(state): State<ApiState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<InviteRequest>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    let store = store(&state)?;
    let (id, standing) = standing(&state, &caller, &id).await?;
    may_invite(standing, Some(request.role))?;
    let email = AccountEmail::parse(&request.email)
        .map_err(|e| ApiError::bad_request(e.reason(), e.to_string()))?;
    let now = state.clock.now();
    let pending = store.list(&id).await?;
    let live = pending.iter().filter(|i| i.expires_at > now).count();
    let replacing = pending.iter().any(|i| i.email == *email.address());
    if live >= MAX_PENDING && !replacing {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            reasons::TOO_MANY_INVITATIONS,
            format!("{MAX_PENDING} invitations are waiting already; withdraw some first"),
        ));
    }
    let invitation = Invitation {
        restaurant: id,
        email: email.address().clone(),
        role: request.role,
        invited_by: caller.subject.clone(),
        invited_at: now,
        expires_at: now.saturating_add(INVITATION_TTL),
    };
    store.put(&invitation).await?;
    tracing::info!(role = request.role.as_str(), by = %caller.subject, "invitation sent");
    Ok((StatusCode::CREATED, Json(invitation)))
}

pub(super) async fn list(
    State(state): State<ApiState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
) -> Result<Json<InvitationList>, ApiError> {
    let store = store(&state)?;
    let (id, standing) = standing(&state, &caller, &id).await?;
    may_invite(standing, None)?;
    let now = state.clock.now();
    let items = store
        .list(&id)
        .await?
        .into_iter()
        .filter(|i| i.expires_at > now)
        .collect();
    Ok(Json(InvitationList { items }))
}

#[tracing::instrument(skip_all, fields(restaurant = %id))]
pub(super) async fn withdraw(
    State(state): State<ApiState>,
    AnyCaller(caller): AnyCaller,
    Path((id, email)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let store = store(&state)?;
    let (id, standing) = standing(&state, &caller, &id).await?;
    may_invite(standing, None)?;
    let email = AccountEmail::parse(&email).map_err(|_| no_such_invitation())?;
    let current = store
        .list(&id)
        .await?
        .into_iter()
        .find(|i| i.email == *email.address())
        .ok_or_else(no_such_invitation)?;
    may_invite(standing, Some(current.role))?;
    if store.remove(&id, email.address()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(no_such_invitation())
    }
}

/// Turns the invitations to an address into memberships of the account `subject`, when it
/// confirms or signs in. A member keeps the role they have; an expired invitation is dropped.
/// The member is added before the invitation is removed, so a failure between the two leaves
/// the invitation for the next sign-in.
pub struct InvitationAcceptor {
    pub invitations: Arc<dyn Invitations>,
    pub restaurants: Arc<dyn Restaurants>,
    pub clock: Arc<dyn Clock>,
}

#[async_trait::async_trait]
impl crate::accounts::AcceptInvitations for InvitationAcceptor {
    async fn accept(&self, email: &AccountEmail, subject: &str) {
        if let Err(error) = self.try_accept(email, subject).await {
            tracing::warn!(
                error = %vetted_core::error_chain::DisplayChain(error.as_ref()),
                "invitations were not all accepted; the next sign-in tries again"
            );
        }
    }
}

impl InvitationAcceptor {
    async fn try_accept(
        &self,
        email: &AccountEmail,
        subject: &str,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let now = self.clock.now();
        for invitation in self.invitations.for_address(email.address()).await? {
            if invitation.expires_at > now {
                let user = OwnerId::parse(subject)?;
                let current = self
                    .restaurants
                    .membership(&invitation.restaurant, &user)
                    .await?;
                if current.is_none() {
                    let member = Member {
                        user,
                        role: invitation.role,
                        added_at: now,
                    };
                    self.restaurants
                        .put_member(&invitation.restaurant, &member)
                        .await?;
                    tracing::info!(
                        restaurant = %invitation.restaurant,
                        role = invitation.role.as_str(),
                        "an invitation became a membership"
                    );
                }
            }
            self.invitations
                .remove(&invitation.restaurant, email.address())
                .await?;
        }
        Ok(())
    }
}
