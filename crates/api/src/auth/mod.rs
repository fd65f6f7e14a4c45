//! Who is calling: bearer JWTs verified with `jsonwebtoken`, and roles from `cognito:groups`.
//!
//! Two kinds of key, each pinned to its algorithm so that one can never stand in for the other:
//! RS256 keys from a configured JWKS URL and issuer (Cognito or any OIDC provider), and an
//! HS256 dev key kept in the data directory for one-machine use. A token's `alg` picks the
//! verifier; `none`, or an algorithm no configured verifier uses, is refused. Roles come from
//! the `cognito:groups` claim: `owners`, `moderators` and `admins` (moderators who also create
//! restaurants and invite their owners).

mod dev_key;
mod issuer;
mod jwks;

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use vetted_core::notify::EmailAddress;
use vetted_core::{ModeratorId, OwnerId};

use crate::error::ApiError;

pub use dev_key::{DEV_ISSUER, DEV_KEY_FILE, DevKey, DevKeyError};
pub use issuer::{LOCAL_CLIENT_ID, LOCAL_ISSUER, LocalIssuer, SIGNING_KEY_FILE, SigningKeyError};
pub use jwks::{JwksVerifier, OidcConfig};

/// Tokens longer than this are refused unread.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Tolerated clock difference between the token issuer and us.
const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Moderator,
    Admin,
}

impl Role {
    /// The group name in `cognito:groups`.
    pub fn group(self) -> &'static str {
        match self {
            Role::Owner => "owners",
            Role::Moderator => "moderators",
            Role::Admin => "admins",
        }
    }

    pub fn from_group(group: &str) -> Option<Role> {
        [Role::Owner, Role::Moderator, Role::Admin]
            .into_iter()
            .find(|role| role.group() == group)
    }
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`.
    pub subject: String,
    pub roles: BTreeSet<Role>,
    /// The token's `email`, when it has one that is not marked unverified
    /// (`email_verified: false`) and is a usable address. Cognito ID tokens carry it; access
    /// tokens do not.
    pub email: Option<EmailAddress>,
}

impl Principal {
    pub fn owner_id(&self) -> Result<OwnerId, AuthError> {
        if !self.roles.contains(&Role::Owner) {
            return Err(AuthError::Forbidden(Role::Owner));
        }
        OwnerId::parse(&self.subject).map_err(|_| AuthError::BadSubject)
    }

    pub fn moderator_id(&self) -> Result<ModeratorId, AuthError> {
        if !self.roles.contains(&Role::Moderator) {
            return Err(AuthError::Forbidden(Role::Moderator));
        }
        ModeratorId::parse(&self.subject).map_err(|_| AuthError::BadSubject)
    }

    pub fn admin_id(&self) -> Result<ModeratorId, AuthError> {
        if !self.roles.contains(&Role::Admin) {
            return Err(AuthError::Forbidden(Role::Admin));
        }
        ModeratorId::parse(&self.subject).map_err(|_| AuthError::BadSubject)
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

#[derive(Debug, Error)]
pub enum AuthError {
    #[error("missing bearer token: send Authorization: Bearer <JWT>")]
    Missing,
    /// Why, for the log; the caller is told only that the token was refused.
    #[error("the token was refused: {0}")]
    Invalid(String),
    #[error("the token has expired: sign in again")]
    Expired,
    #[error("the token's subject is not a valid user id")]
    BadSubject,
    #[error("this needs the {} role", .0.group())]
    Forbidden(Role),
    #[error("the token issuer's keys could not be fetched")]
    KeysUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match &error {
            AuthError::Forbidden(_) => ApiError::forbidden(error.to_string()),
            AuthError::KeysUnavailable(_) => ApiError::unavailable("JWKS fetch failed", &error),
            // The verifier's own words (a library's error kinds, key ids) help an attacker
            // more than a caller: they go to the log, and the answer says only "refused".
            AuthError::Invalid(detail) => {
                tracing::info!(%detail, "a bearer token was refused");
                ApiError::unauthenticated("the token was refused")
            }
            _ => ApiError::unauthenticated(error.to_string()),
        }
    }
}

#[derive(Debug, Error)]
#[error("no token verifier is configured: set up the dev key, a JWKS URL and issuer, or both")]
pub struct NoVerifier;

/// A verifier's refusal: [`AuthError::Expired`] when the token has only expired (the caller
/// should sign in again), else [`AuthError::Invalid`] with the reason, for the log.
pub(crate) fn refused(error: jsonwebtoken::errors::Error) -> AuthError {
    match error.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
        _ => AuthError::Invalid(error.to_string()),
    }
}

/// The claims Vetted reads. Unknown claims are ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct Claims {
    pub sub: String,
    #[serde(rename = "cognito:groups", default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub aud: Option<serde_json::Value>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// A boolean, or the strings `"true"`/`"false"` that some issuers send.
    #[serde(default)]
    pub email_verified: Option<serde_json::Value>,
}

impl Claims {
    fn into_principal(self) -> Principal {
        let roles = self
            .groups
            .iter()
            .filter_map(|g| Role::from_group(g))
            .collect();
        let unverified = match &self.email_verified {
            Some(serde_json::Value::Bool(verified)) => !verified,
            Some(serde_json::Value::String(verified)) => verified != "true",
            Some(_) => true,
            None => false,
        };
        let email = self
            .email
            .filter(|_| !unverified)
            .and_then(|raw| EmailAddress::parse(&raw).ok());
        Principal {
            subject: self.sub,
            roles,
            email,
        }
    }
}

/// The strict validation shared by both verifiers: one algorithm, the issuer, and `exp`,
/// `sub` and `iss` required. Audience is checked by the verifier that has one.
pub(crate) fn validation(algorithm: Algorithm, issuer: &str) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "sub", "iss"]);
    validation.validate_aud = false;
    validation.validate_nbf = true;
    validation.leeway = LEEWAY_SECS;
    validation
}

/// Verifies bearer tokens with whichever verifiers are configured.
#[derive(Debug)]
pub struct Authenticator {
    dev: Option<DevKey>,
    /// RS256 issuers: an OIDC provider (Cognito), the embedded account store, or both. A
    /// token goes to the one whose issuer its `iss` names, which then checks it whole.
    issuers: Vec<JwksVerifier>,
}

impl Authenticator {
    pub fn new(dev: Option<DevKey>, oidc: Option<JwksVerifier>) -> Result<Self, NoVerifier> {
        if dev.is_none() && oidc.is_none() {
            return Err(NoVerifier);
        }
        Ok(Self {
            dev,
            issuers: oidc.into_iter().collect(),
        })
    }

    /// Also accepts the RS256 tokens of `issuer` (the embedded account store's, beside the
    /// dev key and any configured OIDC provider).
    pub fn with_issuer(mut self, issuer: JwksVerifier) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// The RS256 verifier for the issuer a token names (read unverified, only to choose).
    fn issuer_for(&self, token: &str) -> Option<&JwksVerifier> {
        use base64::Engine;
        #[derive(Deserialize)]
        struct IssuerOnly {
            iss: Option<String>,
        }
        let payload = token.split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        let iss = serde_json::from_slice::<IssuerOnly>(&bytes).ok()?.iss?;
        self.issuers.iter().find(|v| v.issuer() == iss)
    }

    /// Checks a token and returns its caller.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Invalid("token too long".to_owned()));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| AuthError::Invalid(format!("unreadable header: {e}")))?;
        let claims = match (header.alg, &self.dev, ()) {
            (Algorithm::HS256, Some(dev), _) => dev.verify(token)?,
            (Algorithm::RS256, _, _) if !self.issuers.is_empty() => {
                let verifier = self
                    .issuer_for(token)
                    .ok_or_else(|| AuthError::Invalid("unknown issuer".to_owned()))?;
                verifier.verify(token, header.kid.as_deref()).await?
            }
            (alg, _, _) => {
                return Err(AuthError::Invalid(format!(
                    "algorithm {alg:?} is not accepted"
                )));
            }
        };
        Ok(claims.into_principal())
    }

    /// Reads `Authorization: Bearer <token>` and verifies it.
    pub async fn from_headers(&self, headers: &http::HeaderMap) -> Result<Principal, AuthError> {
        let value = headers
            .get(AUTHORIZATION)
            .ok_or(AuthError::Missing)?
            .to_str()
            .map_err(|_| AuthError::Missing)?;
        let (scheme, token) = value.split_once(' ').ok_or(AuthError::Missing)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AuthError::Missing);
        }
        self.authenticate(token.trim()).await
    }
}

/// An authenticated caller with the `owners` role; anything else is 401 or 403.
#[derive(Debug, Clone)]
pub struct OwnerCaller(pub OwnerId);

impl<S> FromRequestParts<S> for OwnerCaller
where
    S: Send + Sync,
    Arc<Authenticator>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let auth = Arc::<Authenticator>::from_ref(state);
        let principal = auth.from_headers(&parts.headers).await?;
        Ok(OwnerCaller(principal.owner_id()?))
    }
}

/// An authenticated caller with the `moderators` role; for the review routes.
#[derive(Debug, Clone)]
pub struct ModeratorCaller(pub ModeratorId);

impl<S> FromRequestParts<S> for ModeratorCaller
where
    S: Send + Sync,
    Arc<Authenticator>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let auth = Arc::<Authenticator>::from_ref(state);
        let principal = auth.from_headers(&parts.headers).await?;
        Ok(ModeratorCaller(principal.moderator_id()?))
    }
}

/// An authenticated caller with the `admins` role; creates restaurants and names their owners.
#[derive(Debug, Clone)]
pub struct AdminCaller(pub ModeratorId);

impl<S> FromRequestParts<S> for AdminCaller
where
    S: Send + Sync,
    Arc<Authenticator>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let auth = Arc::<Authenticator>::from_ref(state);
        let principal = auth.from_headers(&parts.headers).await?;
        Ok(AdminCaller(principal.admin_id()?))
    }
}

/// Any authenticated caller, whatever its roles; the route decides what each role may see.
#[derive(Debug, Clone)]
pub struct AnyCaller(pub Principal);

impl<S> FromRequestParts<S> for AnyCaller
where
    S: Send + Sync,
    Arc<Authenticator>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let auth = Arc::<Authenticator>::from_ref(state);
        Ok(AnyCaller(auth.from_headers(&parts.headers).await?))
    }
}

#[cfg(test)]
mod tests;
