//! The accounts port: sign-up with an emailed code, sign-in, refresh, password reset and
//! sign-out, over Cognito on AWS and a SQLite user store on one machine.

use async_trait::async_trait;

use super::BackendError;
use crate::accounts::{
    AccountEmail, AccountError, ConfirmationCode, Password, SessionTokens, SignedInUser,
};
use crate::time::Timestamp;

/// An account that has just been confirmed: the `sub` its tokens will carry, so that an
/// invitation to its address can become a membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmedAccount {
    pub subject: String,
}

/// Sign-up, sign-in and recovery.
///
/// Contract (the suite in `tests/accounts` runs it on both adapters):
/// - `register` creates an unconfirmed account and emails it a code. For an address that
///   already has an account it answers `Ok(())` all the same and creates nothing: an
///   unconfirmed account gets a new code, a confirmed one an email saying someone tried.
///   The password has passed [`PasswordPolicy`](crate::accounts::PasswordPolicy) already.
/// - `confirm` confirms the account with the emailed code, once; a wrong, expired or used
///   code, and any code for an address without an unconfirmed account, is
///   [`AccountError::InvalidCode`].
/// - `sign_in` answers tokens for a confirmed account and the right password;
///   [`AccountError::InvalidCredentials`] for a wrong password or an unknown address, and
///   [`AccountError::NotConfirmed`] for the right password of an unconfirmed account.
/// - `refresh` trades a refresh token for new ID and access tokens until it expires or the
///   user signs out ([`AccountError::InvalidRefreshToken`]).
/// - `forgot_password` emails a reset code to a confirmed account, and answers `Ok(())` for
///   any address.
/// - `reset_password` sets a new password with that code (single use), and ends the
///   account's sessions.
/// - `sign_out` ends every session of the user: their refresh tokens stop working.
#[async_trait]
pub trait Accounts: Send + Sync {
    async fn register(&self, email: &AccountEmail, password: &Password)
    -> Result<(), AccountError>;

    async fn confirm(
        &self,
        email: &AccountEmail,
        code: &ConfirmationCode,
    ) -> Result<ConfirmedAccount, AccountError>;

    async fn sign_in(
        &self,
        email: &AccountEmail,
        password: &Password,
    ) -> Result<SessionTokens, AccountError>;

    async fn refresh(&self, refresh_token: &str) -> Result<SessionTokens, AccountError>;

    async fn forgot_password(&self, email: &AccountEmail) -> Result<(), AccountError>;

    async fn reset_password(
        &self,
        email: &AccountEmail,
        code: &ConfirmationCode,
        new_password: &Password,
    ) -> Result<(), AccountError>;

    async fn sign_out(&self, user: &SignedInUser) -> Result<(), AccountError>;
}

/// Who a token is for: what the embedded store hands its [`TokenIssuer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSubject {
    pub subject: String,
    pub email: AccountEmail,
    /// `cognito:groups`: `owners`, `moderators`, `admins`.
    pub groups: Vec<String>,
}

/// The ID and access tokens of one sign-in, and how long they last.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedTokens {
    pub id_token: String,
    pub access_token: String,
    pub expires_in: u64,
}

/// Signs the embedded store's tokens in Cognito's shape (RS256, `cognito:groups`, a `kid`
/// found in the JWKS), so that the API verifies them with the code it uses for Cognito's.
/// The API crate implements it, next to that verifier.
pub trait TokenIssuer: Send + Sync {
    fn issue(&self, who: &TokenSubject, now: Timestamp) -> Result<IssuedTokens, BackendError>;
}
