//! Accounts: who may sign up and sign in, and the words both account backends share.
//!
//! The `/auth/*` routes speak these types, and the [`Accounts`](crate::ports::Accounts) port
//! has two adapters: Cognito on AWS and a user store in SQLite on one machine. The rules that
//! must not differ between them live here: how an address is normalised, which passwords the
//! user pool's policy allows, what a confirmation code looks like, and the errors a caller may
//! be told. Whether an account exists is never among them: register, confirm and forgot answer
//! an unknown address exactly as they answer a known one.

pub mod mail;

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::notify::EmailAddress;
use crate::ports::{BackendError, Retryable};

/// An account's email address, the sign-in name: trimmed and lower-cased, so that
/// `Ana@Example.com` and `ana@example.com` are one account on both backends (the user pool is
/// case-insensitive, and the SQLite store keys on this form).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AccountEmail(EmailAddress);

impl AccountEmail {
    pub fn parse(raw: &str) -> Result<Self, AccountError> {
        EmailAddress::parse(&raw.trim().to_lowercase())
            .map(Self)
            .map_err(|_| AccountError::InvalidEmail)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn address(&self) -> &EmailAddress {
        &self.0
    }
}

/// Addresses are personal data: `Debug` shows the domain only, as [`EmailAddress`] does.
impl fmt::Debug for AccountEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A password as the caller typed it. `Debug` never shows it, and nothing logs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Longer input is refused unread: hashing a megabyte would be a cheap way to burn CPU.
    pub const MAX_BYTES: usize = 256;

    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The user pool's password policy (`infra/template.yaml`, `PasswordPolicy`), applied by the
/// API before either backend sees a password, so that both refuse the same passwords with the
/// same words. `tests/infra` ties the two together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub require_lowercase: bool,
    pub require_uppercase: bool,
    pub require_digit: bool,
}

impl PasswordPolicy {
    /// The template's `MinimumLength: 12`, lower case, upper case and numbers, no symbol.
    pub const USER_POOL: PasswordPolicy = PasswordPolicy {
        min_length: 12,
        require_lowercase: true,
        require_uppercase: true,
        require_digit: true,
    };

    /// Every rule `password` breaks, in words; empty when it is acceptable.
    pub fn problems(&self, password: &Password) -> Vec<String> {
        let raw = password.expose();
        let mut problems = Vec::new();
        if raw.len() > Password::MAX_BYTES {
            problems.push(format!("at most {} bytes", Password::MAX_BYTES));
            return problems;
        }
        if raw.chars().count() < self.min_length {
            problems.push(format!("at least {} characters", self.min_length));
        }
        if self.require_lowercase && !raw.chars().any(|c| c.is_ascii_lowercase()) {
            problems.push("a lower-case letter".to_owned());
        }
        if self.require_uppercase && !raw.chars().any(|c| c.is_ascii_uppercase()) {
            problems.push("an upper-case letter".to_owned());
        }
        if self.require_digit && !raw.chars().any(|c| c.is_ascii_digit()) {
            problems.push("a digit".to_owned());
        }
        if raw.trim() != raw {
            problems.push("no space at the start or end".to_owned());
        }
        problems
    }

    pub fn check(&self, password: &Password) -> Result<(), AccountError> {
        let problems = self.problems(password);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(AccountError::WeakPassword(problems))
        }
    }
}

/// A confirmation or reset code as the caller typed it: 1 to 64 visible ASCII characters
/// (the embedded store sends six digits, Cognito six digits too). The backend decides whether
/// it is right.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfirmationCode(String);

impl ConfirmationCode {
    pub fn parse(raw: &str) -> Result<Self, AccountError> {
        let raw = raw.trim();
        if (1..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(AccountError::InvalidCode)
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ConfirmationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConfirmationCode(<redacted>)")
    }
}

/// What signing in (or refreshing) gives the caller: Cognito's three tokens, or the embedded
/// store's tokens of the same shape.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTokens {
    /// RS256 JWT with `sub`, `email`, `email_verified` and `cognito:groups`: the bearer token
    /// for `/api/*`.
    pub id_token: String,
    /// RS256 JWT for signing out (`/auth/logout`).
    pub access_token: String,
    /// Opaque; trades for new ID and access tokens at `/auth/refresh`. `None` on a refresh,
    /// which keeps the refresh token the caller has (Cognito does not rotate it either).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Seconds until the ID and access tokens expire.
    pub expires_in: u64,
}

impl fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionTokens")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// The signed-in user, as the API's verifier read them from the bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInUser {
    /// The token's `sub`.
    pub subject: String,
    /// The raw access token: Cognito signs out by it.
    pub access_token: String,
}

/// What the `/auth/*` routes may tell a caller. None of them says whether an account exists,
/// except [`AccountError::NotConfirmed`], which needs the right password first.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AccountError {
    #[error("that is not a usable email address")]
    InvalidEmail,
    #[error("the password needs {}", .0.join(", "))]
    WeakPassword(Vec<String>),
    /// Wrong, expired, already used, or for an account that does not exist: one answer.
    #[error("the code is wrong or has expired: ask for a new one")]
    InvalidCode,
    /// Wrong password or no such account: one answer.
    #[error("the email address or the password is wrong")]
    InvalidCredentials,
    #[error("the account is not confirmed yet: enter the code we emailed you")]
    NotConfirmed,
    #[error("the session has ended: sign in again")]
    InvalidRefreshToken,
    /// The backend's own throttle (Cognito's `TooManyRequests`/`LimitExceeded`).
    #[error("too many attempts: wait a little and try again")]
    Throttled,
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl AccountError {
    /// The stable reason code the API answers with.
    pub fn reason(&self) -> &'static str {
        match self {
            AccountError::InvalidEmail => "invalid_email",
            AccountError::WeakPassword(_) => "weak_password",
            AccountError::InvalidCode => "invalid_code",
            AccountError::InvalidCredentials => "invalid_credentials",
            AccountError::NotConfirmed => "not_confirmed",
            AccountError::InvalidRefreshToken => "invalid_refresh_token",
            AccountError::Throttled => "too_many_attempts",
            AccountError::Backend(_) => "unavailable",
        }
    }
}

impl Retryable for AccountError {
    fn is_retryable(&self) -> bool {
        match self {
            AccountError::Backend(e) => e.retryable,
            AccountError::Throttled => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_one_account_whatever_their_case() {
        let a = AccountEmail::parse("  Ana@Example.COM ").unwrap();
        assert_eq!(a.as_str(), "ana@example.com");
        assert!(AccountEmail::parse("not an address").is_err());
    }

    #[test]
    fn the_policy_names_every_rule_a_password_breaks() {
        let policy = PasswordPolicy::USER_POOL;
        assert!(policy.check(&Password::new("Correct horse 9")).is_ok());
        let problems = policy.problems(&Password::new("short"));
        assert_eq!(
            problems,
            ["at least 12 characters", "an upper-case letter", "a digit"]
        );
        assert!(
            !policy
                .problems(&Password::new(" Leading space 1"))
                .is_empty()
        );
        let huge = Password::new("Aa1".repeat(200));
        assert_eq!(policy.problems(&huge), ["at most 256 bytes"]);
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let shown = format!(
            "{:?} {:?}",
            Password::new("Hunter2hunter2"),
            ConfirmationCode::parse("123456").unwrap()
        );
        assert!(
            !shown.contains("Hunter2") && !shown.contains("123456"),
            "{shown}"
        );
    }

    #[test]
    fn codes_are_short_visible_ascii() {
        assert!(ConfirmationCode::parse(" 123456 ").is_ok());
        assert!(ConfirmationCode::parse("").is_err());
        assert!(ConfirmationCode::parse("12 34").is_err());
        assert!(ConfirmationCode::parse(&"1".repeat(65)).is_err());
    }
}
