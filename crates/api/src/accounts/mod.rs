//! `/auth/*`: sign-up with an emailed code, sign-in, refresh, password reset and sign-out,
//! the same routes over Cognito (AWS) and the embedded store (one machine).
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /auth/register` | `{email, password}` | 202 `{status: "code_sent"}` |
//! | `POST /auth/confirm` | `{email, code}` | 200 `{status: "confirmed"}` |
//! | `POST /auth/login` | `{email, password}` | 200 tokens |
//! | `POST /auth/refresh` | `{refresh_token}` | 200 tokens (no new refresh token) |
//! | `POST /auth/forgot` | `{email}` | 202 `{status: "code_sent"}` |
//! | `POST /auth/reset` | `{email, code, password}` | 200 `{status: "password_changed"}` |
//! | `POST /auth/logout` | bearer access token | 204 |
//!
//! Register and forgot answer the same for every well-formed address, and confirm and reset
//! the same `invalid_code` for a wrong code as for an unknown address, so no answer tells who
//! has an account. Passwords are checked against the user pool's policy here, before either
//! backend sees them. [`AuthGuard`] limits guessing. Where the embedded store signs tokens,
//! `/.well-known/jwks.json` serves its public key.

pub mod guard;

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};
use vetted_core::accounts::{
    AccountEmail, AccountError, ConfirmationCode, Password, PasswordPolicy, SessionTokens,
    SignedInUser,
};
use vetted_core::ports::Accounts;

use crate::Authenticator;
use crate::body::JsonBody;
use crate::error::ApiError;

pub use guard::{AuthGuard, AuthLimits, ClientIp};

/// Runs when an account is confirmed and whenever it signs in: invitations to its address
/// become memberships of `subject`. It logs what fails; sign-in goes on.
#[async_trait::async_trait]
pub trait AcceptInvitations: Send + Sync {
    async fn accept(&self, email: &AccountEmail, subject: &str);
}

/// The account routes' parts: the backend, the guard, and (on one machine) the public keys.
#[derive(Clone)]
pub struct AccountsApi {
    pub accounts: Arc<dyn Accounts>,
    pub guard: Arc<AuthGuard>,
    /// The embedded store's JWKS, served at `/.well-known/jwks.json`; `None` on Cognito.
    pub jwks: Option<Arc<JwkSet>>,
    pub invitations: Option<Arc<dyn AcceptInvitations>>,
}

/// What the handlers share: the account parts and the verifier `/auth/logout` checks the
/// caller with.
#[derive(Clone)]
struct AccountsState {
    api: AccountsApi,
    auth: Arc<Authenticator>,
}

/// The `/auth/*` routes (and the JWKS, where there is one) over `api`, with their state
/// applied; [`crate::router`] merges them into the whole API.
pub fn router(api: AccountsApi, auth: Arc<Authenticator>) -> Router {
    let state = AccountsState { api, auth };
    crate::private_answers(routes(&state).with_state(state))
}

/// Every `/auth/*` request first takes one from its client address's allowance, before its
/// body is read: well-formed or not, each request counts.
async fn per_client_rate(
    State(state): State<AccountsState>,
    client: Option<Extension<ClientIp>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<Response, ApiError> {
    state.api.guard.check_client(client.map(|c| c.0))?;
    Ok(next.run(request).await)
}

fn routes(state: &AccountsState) -> Router<AccountsState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/confirm", post(confirm))
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/forgot", post(forgot))
        .route("/auth/reset", post(reset))
        .route("/auth/logout", post(logout))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            per_client_rate,
        ))
        .route("/.well-known/jwks.json", get(jwks))
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        let reason = error.reason();
        match &error {
            AccountError::InvalidEmail
            | AccountError::WeakPassword(_)
            | AccountError::InvalidCode => ApiError::bad_request(reason, error.to_string()),
            AccountError::InvalidCredentials | AccountError::InvalidRefreshToken => {
                ApiError::new(StatusCode::UNAUTHORIZED, reason, error.to_string())
            }
            AccountError::NotConfirmed => {
                ApiError::new(StatusCode::FORBIDDEN, reason, error.to_string())
            }
            AccountError::Throttled => ApiError::too_many(
                reason,
                error.to_string(),
                std::time::Duration::from_secs(60),
            ),
            AccountError::Backend(e) => ApiError::backend("account service failed", e, e.retryable),
            _ => ApiError::backend("account service failed", &error, false),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    email: String,
    code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailBody {
    email: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    email: String,
    code: String,
    password: String,
}

#[derive(Serialize)]
struct Status {
    status: &'static str,
    message: &'static str,
}

#[derive(Serialize)]
struct TokensView {
    #[serde(flatten)]
    tokens: SessionTokens,
    token_type: &'static str,
}

fn tokens(tokens: SessionTokens) -> Response {
    Json(TokensView {
        tokens,
        token_type: "Bearer",
    })
    .into_response()
}

fn status(code: StatusCode, status: &'static str, message: &'static str) -> Response {
    (code, Json(Status { status, message })).into_response()
}

fn new_password(raw: String) -> Result<Password, ApiError> {
    let password = Password::new(raw);
    PasswordPolicy::USER_POOL.check(&password)?;
    Ok(password)
}

/// Runs `attempt` for `email` under the guard: refused while locked out, and a wrong
/// password or code counts toward the lockout.
async fn guarded<T>(
    api: &AccountsApi,
    email: &AccountEmail,
    attempt: impl Future<Output = Result<T, AccountError>>,
) -> Result<T, ApiError> {
    api.guard.check_account(email)?;
    match attempt.await {
        Ok(value) => {
            api.guard.record_success(email);
            Ok(value)
        }
        Err(e @ (AccountError::InvalidCredentials | AccountError::InvalidCode)) => {
            api.guard.record_failure(email);
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

async fn register(
    State(state): State<AccountsState>,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Response, ApiError> {
    let api = &state.api;
    let email = AccountEmail::parse(&body.email)?;
    let password = new_password(body.password)?;
    api.guard.check_code_email(&email)?;
    api.accounts.register(&email, &password).await?;
    Ok(status(
        StatusCode::ACCEPTED,
        "code_sent",
        "If this address can be used, we have emailed it a code: enter it to confirm the account.",
    ))
}

async fn confirm(
    State(state): State<AccountsState>,
    JsonBody(body): JsonBody<CodeBody>,
) -> Result<Response, ApiError> {
    let api = &state.api;
    let email = AccountEmail::parse(&body.email)?;
    let code = ConfirmationCode::parse(&body.code)?;
    let confirmed = guarded(api, &email, api.accounts.confirm(&email, &code)).await?;
    if let Some(invitations) = &api.invitations {
        invitations.accept(&email, &confirmed.subject).await;
    }
    Ok(status(
        StatusCode::OK,
        "confirmed",
        "The account is confirmed: sign in.",
    ))
}

async fn login(
    State(state): State<AccountsState>,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Response, ApiError> {
    let api = &state.api;
    let email = AccountEmail::parse(&body.email)?;
    let password = Password::new(body.password);
    if password.expose().len() > Password::MAX_BYTES {
        return Err(AccountError::InvalidCredentials.into());
    }
    let session = guarded(api, &email, api.accounts.sign_in(&email, &password)).await?;
    if let Some(invitations) = &api.invitations {
        // The subject as the API will read it from the token: invitations sent since the
        // account was confirmed join it now.
        match state.auth.authenticate(&session.id_token).await {
            Ok(principal) => invitations.accept(&email, &principal.subject).await,
            Err(error) => tracing::warn!(%error, "a new ID token did not verify"),
        }
    }
    Ok(tokens(session))
}

async fn refresh(
    State(state): State<AccountsState>,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<Response, ApiError> {
    let api = &state.api;
    let session = api.accounts.refresh(&body.refresh_token).await?;
    Ok(tokens(session))
}

async fn forgot(
    State(state): State<AccountsState>,
    JsonBody(body): JsonBody<EmailBody>,
) -> Result<Response, ApiError> {
    let api = &state.api;
    let email = AccountEmail::parse(&body.email)?;
    api.guard.check_code_email(&email)?;
    api.accounts.forgot_password(&email).await?;
    Ok(status(
        StatusCode::ACCEPTED,
        "code_sent",
        "If this address has an account, we have emailed it a code to choose a new password.",
    ))
}

async fn reset(
    State(state): State<AccountsState>,
    JsonBody(body): JsonBody<ResetBody>,
) -> Result<Response, ApiError> {
    let api = &state.api;
    let email = AccountEmail::parse(&body.email)?;
    let code = ConfirmationCode::parse(&body.code)?;
    let password = new_password(body.password)?;
    guarded(
        api,
        &email,
        api.accounts.reset_password(&email, &code, &password),
    )
    .await?;
    Ok(status(
        StatusCode::OK,
        "password_changed",
        "The password is changed and every session of the account has ended: sign in.",
    ))
}

/// Ends every session of the caller. Needs the access token (Cognito signs out by it); an
/// ID token from the same sign-in is accepted on one machine, where the subject is enough.
async fn logout(
    State(state): State<AccountsState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let api = &state.api;
    let principal = state.auth.from_headers(&headers).await?;
    let access_token = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .map(|(_, token)| token.trim().to_owned())
        .unwrap_or_default();
    api.accounts
        .sign_out(&SignedInUser {
            subject: principal.subject,
            access_token,
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn jwks(State(state): State<AccountsState>) -> Result<Response, ApiError> {
    let set = state.api.jwks.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            crate::error::reasons::NOT_FOUND,
            "no such route",
        )
    })?;
    Ok(Json(set.as_ref().clone()).into_response())
}
