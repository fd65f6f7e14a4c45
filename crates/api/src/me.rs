//! The caller's own settings: whether they get owner emails, and (moderators) escalation
//! emails.
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /api/me/notifications` | owners | `{enabled, address}`; not opted in until they say so |
//! | `PUT /api/me/notifications` | owners | `{"enabled": true\|false}`; answers what was stored |
//! | `GET /api/me/escalations` | moderators | `{enabled, address}`: subscribed to escalations? |
//! | `PUT /api/me/escalations` | moderators | `{"enabled": true\|false}`; answers what was stored |
//!
//! Owner emails are for callers with the `owners` role (restaurant members are owners and
//! staff); escalation emails for the `moderators` role. The address is never taken from the
//! body (that would let anyone send our mail anywhere): it is the verified `email` claim of
//! the caller's own token, stored when they opt in. Opting in with a token that has none is
//! 400 `no_email_in_token`. Opting out forgets the address.
//!
//! Explicit opt-in, not opt-in by default: the address comes from a token only when its
//! owner calls us with it, so by default there is no address to send to anyway, and mail
//! nobody asked for is how a sender gets marked as spam.

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use vetted_core::notify::{EmailAddress, EscalationSubscriber, Preference};
use vetted_core::ports::{Notifications, NotificationsError};
use vetted_core::{ModeratorId, OwnerId};

use crate::ApiState;
use crate::auth::Principal;
use crate::body::JsonBody;
use crate::error::{ApiError, reasons};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/api/me/notifications",
            get(get_preference).put(put_preference),
        )
        .route(
            "/api/me/escalations",
            get(get_escalations).put(put_escalations),
        )
}

/// `PUT /api/me/notifications`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferenceRequest {
    pub enabled: bool,
}

/// The answer of every route here.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PreferenceView {
    pub enabled: bool,
    /// Where the emails go: the address of the token the caller opted in with.
    pub address: Option<String>,
}

impl From<Option<Preference>> for PreferenceView {
    fn from(preference: Option<Preference>) -> Self {
        match preference {
            Some(p) => Self {
                enabled: p.enabled,
                address: p.address.map(String::from),
            },
            None => Self {
                enabled: false,
                address: None,
            },
        }
    }
}

fn store(state: &ApiState) -> Result<&dyn Notifications, ApiError> {
    state
        .notifications
        .as_deref()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, reasons::NOT_FOUND, "no such route"))
}

fn store_error(error: NotificationsError) -> ApiError {
    ApiError::unavailable("the notifications store", &error)
}

/// An authenticated caller with the `owners` role, with their whole token (for its email).
/// A parts extractor, so a request without a token is 401 whatever its body.
struct OwnerPrincipal(Principal, OwnerId);

impl FromRequestParts<ApiState> for OwnerPrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let principal = state.auth.from_headers(&parts.headers).await?;
        let owner = principal.owner_id()?;
        Ok(Self(principal, owner))
    }
}

/// An authenticated caller with the `moderators` role, with their whole token.
struct ModeratorPrincipal(Principal, ModeratorId);

impl FromRequestParts<ApiState> for ModeratorPrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let principal = state.auth.from_headers(&parts.headers).await?;
        let moderator = principal.moderator_id()?;
        Ok(Self(principal, moderator))
    }
}

/// The verified address of the caller's token, which opting in needs.
fn address_of(principal: Principal, what: &str) -> Result<EmailAddress, ApiError> {
    principal.email.ok_or_else(|| {
        ApiError::bad_request(
            reasons::NO_EMAIL_IN_TOKEN,
            format!(
                "your token carries no verified email address to send to: sign in with a \
                 token that has one (an ID token), then turn {what} on"
            ),
        )
    })
}

async fn get_preference(
    State(state): State<ApiState>,
    OwnerPrincipal(_, owner): OwnerPrincipal,
) -> Result<Json<PreferenceView>, ApiError> {
    let store = store(&state)?;
    let preference = store.preference(&owner).await.map_err(store_error)?;
    Ok(Json(preference.into()))
}

async fn put_preference(
    State(state): State<ApiState>,
    OwnerPrincipal(principal, owner): OwnerPrincipal,
    JsonBody(request): JsonBody<PreferenceRequest>,
) -> Result<Json<PreferenceView>, ApiError> {
    let store = store(&state)?;
    let address = if request.enabled {
        Some(address_of(principal, "notifications")?)
    } else {
        None
    };
    let preference = Preference {
        enabled: request.enabled,
        address,
        updated_at: state.clock.now(),
    };
    store
        .set_preference(&owner, &preference)
        .await
        .map_err(store_error)?;
    tracing::info!(user = %owner, enabled = preference.enabled, "notification preference set");
    Ok(Json(Some(preference).into()))
}

fn subscription_view(subscriber: Option<EscalationSubscriber>) -> PreferenceView {
    PreferenceView {
        enabled: subscriber.is_some(),
        address: subscriber.map(|s| s.address.into()),
    }
}

async fn get_escalations(
    State(state): State<ApiState>,
    ModeratorPrincipal(_, moderator): ModeratorPrincipal,
) -> Result<Json<PreferenceView>, ApiError> {
    let store = store(&state)?;
    let subscriber = store
        .escalation_subscription(&moderator)
        .await
        .map_err(store_error)?;
    Ok(Json(subscription_view(subscriber)))
}

async fn put_escalations(
    State(state): State<ApiState>,
    ModeratorPrincipal(principal, moderator): ModeratorPrincipal,
    JsonBody(request): JsonBody<PreferenceRequest>,
) -> Result<Json<PreferenceView>, ApiError> {
    let store = store(&state)?;
    let subscriber = if request.enabled {
        let subscriber = EscalationSubscriber {
            moderator: moderator.clone(),
            address: address_of(principal, "escalation emails")?,
            since: state.clock.now(),
        };
        store
            .subscribe_escalations(&subscriber)
            .await
            .map_err(store_error)?;
        Some(subscriber)
    } else {
        store
            .unsubscribe_escalations(&moderator)
            .await
            .map_err(store_error)?;
        None
    };
    tracing::info!(%moderator, enabled = request.enabled, "escalation subscription set");
    Ok(Json(subscription_view(subscriber)))
}
