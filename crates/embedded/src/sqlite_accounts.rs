//! `SqliteAccounts`: the accounts port on one machine — users, codes and sessions in the
//! shared database, argon2id password hashes, codes sent through the [`Mailer`] port, and
//! tokens signed by a [`TokenIssuer`] in Cognito's shape.
//!
//! - **Passwords** are argon2id PHC strings (the `argon2` crate's defaults: 19 MiB, two
//!   passes), hashed and checked on the blocking pool. Signing in with an unknown address
//!   checks a dummy hash, so that it takes as long as a wrong password.
//! - **Codes** are six random digits, stored as a SHA-256 of the account, the purpose and the
//!   code. A code works once, until it expires (a day to confirm, an hour to reset, as
//!   Cognito), and is burned after five wrong tries; asking again replaces it.
//! - **Sessions** are opaque refresh tokens (32 random bytes), stored as their SHA-256 with an
//!   expiry. Signing out or resetting the password deletes every session of the account.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use thiserror::Error;
use vetted_core::Clock;
use vetted_core::accounts::{
    AccountEmail, AccountError, ConfirmationCode, Password, SessionTokens, SignedInUser, mail,
};
use vetted_core::ports::{
    Accounts, BackendError, ConfirmedAccount, Mailer, TokenIssuer, TokenSubject,
};

use crate::db::{Db, DbError, Migration};

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    sql: "
        CREATE TABLE accounts (
            subject TEXT PRIMARY KEY NOT NULL,
            email TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            confirmed_at INTEGER,
            groups TEXT NOT NULL,
            created_at INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE account_codes (
            subject TEXT NOT NULL REFERENCES accounts (subject) ON DELETE CASCADE,
            purpose TEXT NOT NULL CHECK (purpose IN ('confirm', 'reset')),
            code_hash TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            failures INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (subject, purpose)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE account_sessions (
            token_hash TEXT PRIMARY KEY NOT NULL,
            subject TEXT NOT NULL REFERENCES accounts (subject) ON DELETE CASCADE,
            expires_at INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX account_sessions_by_subject ON account_sessions (subject);
    ",
}];

/// The group every new account joins: members of restaurants upload as `owners`.
pub const DEFAULT_GROUP: &str = "owners";
/// The groups `vetted users grant` may add.
pub const GRANTABLE_GROUPS: &[&str] = &["owners", "moderators", "admins"];

/// How long codes and sessions last, and how many wrong tries a code survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLimits {
    pub confirm_code_ttl: Duration,
    pub reset_code_ttl: Duration,
    pub session_ttl: Duration,
    pub code_failures: u32,
}

impl Default for AccountLimits {
    /// Cognito's: a sign-up code lasts a day, a reset code an hour, a refresh token the
    /// template's 30 days.
    fn default() -> Self {
        Self {
            confirm_code_ttl: Duration::from_secs(24 * 3600),
            reset_code_ttl: Duration::from_secs(3600),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            code_failures: 5,
        }
    }
}

#[derive(Debug, Error)]
pub enum GrantError {
    #[error("no account has the address {0}")]
    NoSuchAccount(String),
    #[error("{0:?} is not a group: use one of owners, moderators, admins")]
    NoSuchGroup(String),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// The user store of `vetted serve`.
#[derive(Clone)]
pub struct SqliteAccounts {
    db: Db,
    mailer: Arc<dyn Mailer>,
    issuer: Arc<dyn TokenIssuer>,
    clock: Arc<dyn Clock>,
    limits: AccountLimits,
}

impl std::fmt::Debug for SqliteAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteAccounts")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Confirm,
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Confirm => "confirm",
            Purpose::Reset => "reset",
        }
    }
}

/// One account row, as the store reads it.
struct AccountRow {
    subject: String,
    password_hash: String,
    confirmed: bool,
    groups: Vec<String>,
}

fn backend(operation: &'static str) -> impl FnOnce(DbError) -> AccountError {
    move |e| AccountError::Backend(e.into_backend(operation))
}

fn random_bytes<const N: usize>() -> Result<[u8; N], AccountError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| {
        AccountError::Backend(BackendError::retryable("accounts.random", e.to_string()))
    })?;
    Ok(bytes)
}

/// Six digits, uniform: 24 random bits reduced by rejection, so no code is likelier.
fn new_code() -> Result<String, AccountError> {
    loop {
        let [a, b, c] = random_bytes::<3>()?;
        let n = u32::from_be_bytes([0, a, b, c]);
        // 16_000_000 is the largest multiple of 1_000_000 below 2^24.
        if n < 16_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

fn code_hash(subject: &str, purpose: Purpose, code: &str) -> String {
    let mut hash = Sha256::new();
    for part in [subject, purpose.as_str(), code] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(hash.finalize())
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

async fn hash_password(password: &Password) -> Result<String, AccountError> {
    let salt_bytes = random_bytes::<16>()?;
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&salt_bytes)
            .map_err(|e| BackendError::permanent("accounts.hash", e.to_string()))?;
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| BackendError::permanent("accounts.hash", e.to_string()))
    })
    .await
    .map_err(|e| BackendError::permanent("accounts.hash", e.to_string()))?
    .map_err(AccountError::Backend)
}

/// Whether `password` matches the PHC string `stored`. An unreadable hash matches nothing.
async fn password_matches(stored: String, password: &Password) -> Result<bool, AccountError> {
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(password.expose().as_bytes(), &hash)
                .is_ok()
        })
    })
    .await
    .map_err(|e| AccountError::Backend(BackendError::permanent("accounts.verify", e.to_string())))
}

/// A real argon2id hash of a password nobody has, checked when the address is unknown.
fn dummy_hash() -> String {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY
        .get_or_init(|| {
            SaltString::encode_b64(b"vetted-dummy-salt")
                .ok()
                .and_then(|salt| {
                    Argon2::default()
                        .hash_password(b"not anyone's password", &salt)
                        .ok()
                        .map(|hash| hash.to_string())
                })
                .unwrap_or_default()
        })
        .clone()
}

impl SqliteAccounts {
    pub fn new(
        db: Db,
        mailer: Arc<dyn Mailer>,
        issuer: Arc<dyn TokenIssuer>,
        clock: Arc<dyn Clock>,
        limits: AccountLimits,
    ) -> Self {
        Self {
            db,
            mailer,
            issuer,
            clock,
            limits,
        }
    }

    async fn account(&self, email: &AccountEmail) -> Result<Option<AccountRow>, AccountError> {
        let email = email.as_str().to_owned();
        self.db
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT subject, password_hash, confirmed_at IS NOT NULL, groups
                     FROM accounts WHERE email = ?1",
                )?
                .query_row([email], |row| {
                    let groups: String = row.get(3)?;
                    Ok(AccountRow {
                        subject: row.get(0)?,
                        password_hash: row.get(1)?,
                        confirmed: row.get(2)?,
                        groups: groups.split_whitespace().map(str::to_owned).collect(),
                    })
                })
                .optional()
            })
            .await
            .map_err(backend("accounts.read"))
    }

    /// Stores a new code for `subject` (replacing any earlier one) and emails it.
    async fn send_code(
        &self,
        subject: &str,
        email: &AccountEmail,
        purpose: Purpose,
    ) -> Result<(), AccountError> {
        let code = new_code()?;
        let ttl = match purpose {
            Purpose::Confirm => self.limits.confirm_code_ttl,
            Purpose::Reset => self.limits.reset_code_ttl,
        };
        let expires_at = self.clock.now().unix_millis().saturating_add(millis(ttl));
        let (subject_owned, hash) = (subject.to_owned(), code_hash(subject, purpose, &code));
        self.db
            .call(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO account_codes (subject, purpose, code_hash, expires_at, failures)
                     VALUES (?1, ?2, ?3, ?4, 0)
                     ON CONFLICT (subject, purpose) DO UPDATE SET code_hash = excluded.code_hash,
                         expires_at = excluded.expires_at, failures = 0",
                )?
                .execute(params![
                    subject_owned,
                    purpose.as_str(),
                    hash,
                    expires_at
                ])?;
                Ok(())
            })
            .await
            .map_err(backend("accounts.store_code"))?;
        let message = match purpose {
            Purpose::Confirm => mail::confirmation_code(email, &code, ttl),
            Purpose::Reset => mail::reset_code(email, &code, ttl),
        };
        self.send(&message).await
    }

    async fn send(&self, message: &vetted_core::ports::Email) -> Result<(), AccountError> {
        self.mailer
            .send(message)
            .await
            .map_err(|e| AccountError::Backend(BackendError::retryable("accounts.send_email", e)))
    }

    /// Uses up the code if it is right and current: one transaction reads, checks and either
    /// deletes it (right) or counts the failure (wrong), so two tries of one code cannot both
    /// pass. `then` runs in the same transaction when the code was right.
    async fn take_code<F>(
        &self,
        subject: String,
        purpose: Purpose,
        code: &ConfirmationCode,
        then: F,
    ) -> Result<(), AccountError>
    where
        F: FnOnce(&rusqlite::Connection) -> rusqlite::Result<()> + Send + 'static,
    {
        let hash = code_hash(&subject, purpose, code.expose());
        let now = self.clock.now().unix_millis();
        let max_failures = i64::from(self.limits.code_failures);
        let taken = self
            .db
            .call(move |conn| {
                let tx = crate::db::immediate(conn)?;
                let stored: Option<(String, i64)> = tx
                    .prepare_cached(
                        "SELECT code_hash, expires_at FROM account_codes
                         WHERE subject = ?1 AND purpose = ?2",
                    )?
                    .query_row(params![subject, purpose.as_str()], |row| {
                        Ok((row.get(0)?, row.get(1)?))
                    })
                    .optional()?;
                let Some((stored_hash, expires_at)) = stored else {
                    return Ok(false);
                };
                let right = constant_time_eq(stored_hash.as_bytes(), hash.as_bytes());
                if right && expires_at > now {
                    tx.execute(
                        "DELETE FROM account_codes WHERE subject = ?1 AND purpose = ?2",
                        params![subject, purpose.as_str()],
                    )?;
                    then(&tx)?;
                    tx.commit()?;
                    return Ok(true);
                }
                if expires_at <= now {
                    tx.execute(
                        "DELETE FROM account_codes WHERE subject = ?1 AND purpose = ?2",
                        params![subject, purpose.as_str()],
                    )?;
                } else {
                    tx.execute(
                        "UPDATE account_codes SET failures = failures + 1
                         WHERE subject = ?1 AND purpose = ?2",
                        params![subject, purpose.as_str()],
                    )?;
                    tx.execute(
                        "DELETE FROM account_codes
                         WHERE subject = ?1 AND purpose = ?2 AND failures >= ?3",
                        params![subject, purpose.as_str(), max_failures],
                    )?;
                }
                tx.commit()?;
                Ok(false)
            })
            .await
            .map_err(backend("accounts.take_code"))?;
        if taken {
            Ok(())
        } else {
            Err(AccountError::InvalidCode)
        }
    }

    async fn tokens(
        &self,
        subject: &str,
        email: &AccountEmail,
        groups: Vec<String>,
        refresh_token: Option<String>,
    ) -> Result<SessionTokens, AccountError> {
        let issued = self.issuer.issue(
            &TokenSubject {
                subject: subject.to_owned(),
                email: email.clone(),
                groups,
            },
            self.clock.now(),
        )?;
        Ok(SessionTokens {
            id_token: issued.id_token,
            access_token: issued.access_token,
            refresh_token,
            expires_in: issued.expires_in,
        })
    }
}

/// Adds `group` to the account of `email`: how the first moderator and admin are made on
/// one machine (`vetted users grant`). Takes effect at the account's next sign-in or refresh.
/// Adding a group it has already is not an error.
pub async fn grant_group(db: &Db, email: &AccountEmail, group: &str) -> Result<(), GrantError> {
    if !GRANTABLE_GROUPS.contains(&group) {
        return Err(GrantError::NoSuchGroup(group.to_owned()));
    }
    let (address, group) = (email.as_str().to_owned(), group.to_owned());
    let found = db
        .call(move |conn| {
            let tx = crate::db::immediate(conn)?;
            let groups: Option<String> = tx
                .query_row(
                    "SELECT groups FROM accounts WHERE email = ?1",
                    [&address],
                    |row| row.get(0),
                )
                .optional()?;
            let Some(groups) = groups else {
                return Ok(false);
            };
            let mut groups: Vec<&str> = groups.split_whitespace().collect();
            if !groups.contains(&group.as_str()) {
                groups.push(&group);
            }
            tx.execute(
                "UPDATE accounts SET groups = ?2 WHERE email = ?1",
                params![address, groups.join(" ")],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
        .map_err(|e| GrantError::Backend(e.into_backend("accounts.grant")))?;
    if found {
        Ok(())
    } else {
        Err(GrantError::NoSuchAccount(email.as_str().to_owned()))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[async_trait]
impl Accounts for SqliteAccounts {
    async fn register(
        &self,
        email: &AccountEmail,
        password: &Password,
    ) -> Result<(), AccountError> {
        // Hashed whether or not the address is new, so the answer takes as long either way.
        let hash = hash_password(password).await?;
        if let Some(existing) = self.account(email).await? {
            return if existing.confirmed {
                self.send(&mail::already_registered(email)).await
            } else {
                // A second sign-up before confirming: the newer password and a new code.
                let subject = existing.subject.clone();
                self.db
                    .call(move |conn| {
                        conn.execute(
                            "UPDATE accounts SET password_hash = ?2
                             WHERE subject = ?1 AND confirmed_at IS NULL",
                            params![subject, hash],
                        )?;
                        Ok(())
                    })
                    .await
                    .map_err(backend("accounts.register"))?;
                self.send_code(&existing.subject, email, Purpose::Confirm)
                    .await
            };
        }
        let subject = uuid::Uuid::new_v4().hyphenated().to_string();
        let (row_subject, row_email) = (subject.clone(), email.as_str().to_owned());
        let now = self.clock.now().unix_millis();
        let inserted = self
            .db
            .call(move |conn| {
                let inserted = conn
                    .prepare_cached(
                        "INSERT INTO accounts (subject, email, password_hash, confirmed_at,
                             groups, created_at)
                         VALUES (?1, ?2, ?3, NULL, ?4, ?5) ON CONFLICT (email) DO NOTHING",
                    )?
                    .execute(params![row_subject, row_email, hash, DEFAULT_GROUP, now])?;
                Ok(inserted > 0)
            })
            .await
            .map_err(backend("accounts.register"))?;
        if !inserted {
            // Another sign-up of the same address won the race; it sends the code.
            return Ok(());
        }
        self.send_code(&subject, email, Purpose::Confirm).await
    }

    async fn confirm(
        &self,
        email: &AccountEmail,
        code: &ConfirmationCode,
    ) -> Result<ConfirmedAccount, AccountError> {
        let Some(row) = self.account(email).await? else {
            return Err(AccountError::InvalidCode);
        };
        if row.confirmed {
            return Err(AccountError::InvalidCode);
        }
        let row_subject = row.subject.clone();
        let now = self.clock.now().unix_millis();
        let subject = row.subject.clone();
        self.take_code(row.subject, Purpose::Confirm, code, move |tx| {
            tx.execute(
                "UPDATE accounts SET confirmed_at = ?2 WHERE subject = ?1",
                params![subject, now],
            )?;
            Ok(())
        })
        .await?;
        Ok(ConfirmedAccount {
            subject: row_subject,
        })
    }

    async fn sign_in(
        &self,
        email: &AccountEmail,
        password: &Password,
    ) -> Result<SessionTokens, AccountError> {
        let row = self.account(email).await?;
        let stored = row
            .as_ref()
            .map_or_else(dummy_hash, |row| row.password_hash.clone());
        let matches = password_matches(stored, password).await?;
        let Some(row) = row.filter(|_| matches) else {
            return Err(AccountError::InvalidCredentials);
        };
        if !row.confirmed {
            return Err(AccountError::NotConfirmed);
        }
        let refresh_token = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
        let expires_at = self
            .clock
            .now()
            .unix_millis()
            .saturating_add(millis(self.limits.session_ttl));
        let (hash, subject) = (token_hash(&refresh_token), row.subject.clone());
        self.db
            .call(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO account_sessions (token_hash, subject, expires_at)
                     VALUES (?1, ?2, ?3)",
                )?
                .execute(params![hash, subject, expires_at])?;
                Ok(())
            })
            .await
            .map_err(backend("accounts.sign_in"))?;
        self.tokens(&row.subject, email, row.groups, Some(refresh_token))
            .await
    }

    async fn refresh(&self, refresh_token: &str) -> Result<SessionTokens, AccountError> {
        if refresh_token.is_empty() || refresh_token.len() > 256 {
            return Err(AccountError::InvalidRefreshToken);
        }
        let hash = token_hash(refresh_token);
        let now = self.clock.now().unix_millis();
        let found: Option<(String, String, String)> = self
            .db
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT a.subject, a.email, a.groups FROM account_sessions s
                     JOIN accounts a ON a.subject = s.subject
                     WHERE s.token_hash = ?1 AND s.expires_at > ?2",
                )?
                .query_row(params![hash, now], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()
            })
            .await
            .map_err(backend("accounts.refresh"))?;
        let Some((subject, email, groups)) = found else {
            return Err(AccountError::InvalidRefreshToken);
        };
        let email = AccountEmail::parse(&email).map_err(|_| AccountError::InvalidRefreshToken)?;
        let groups = groups.split_whitespace().map(str::to_owned).collect();
        self.tokens(&subject, &email, groups, None).await
    }

    async fn forgot_password(&self, email: &AccountEmail) -> Result<(), AccountError> {
        match self.account(email).await? {
            Some(row) if row.confirmed => self.send_code(&row.subject, email, Purpose::Reset).await,
            // Nothing to reset: the same answer, and no email.
            _ => Ok(()),
        }
    }

    async fn reset_password(
        &self,
        email: &AccountEmail,
        code: &ConfirmationCode,
        new_password: &Password,
    ) -> Result<(), AccountError> {
        let Some(row) = self.account(email).await?.filter(|row| row.confirmed) else {
            return Err(AccountError::InvalidCode);
        };
        let hash = hash_password(new_password).await?;
        let subject = row.subject.clone();
        self.take_code(row.subject, Purpose::Reset, code, move |tx| {
            tx.execute(
                "UPDATE accounts SET password_hash = ?2 WHERE subject = ?1",
                params![subject, hash],
            )?;
            tx.execute(
                "DELETE FROM account_sessions WHERE subject = ?1",
                params![subject],
            )?;
            Ok(())
        })
        .await
    }

    async fn sign_out(&self, user: &SignedInUser) -> Result<(), AccountError> {
        let subject = user.subject.clone();
        self.db
            .call(move |conn| {
                conn.execute(
                    "DELETE FROM account_sessions WHERE subject = ?1",
                    params![subject],
                )?;
                Ok(())
            })
            .await
            .map_err(backend("accounts.sign_out"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let code = new_code().unwrap();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn a_code_hash_depends_on_account_purpose_and_code() {
        let base = code_hash("a", Purpose::Confirm, "123456");
        assert_ne!(base, code_hash("b", Purpose::Confirm, "123456"));
        assert_ne!(base, code_hash("a", Purpose::Reset, "123456"));
        assert_ne!(base, code_hash("a", Purpose::Confirm, "123457"));
    }

    #[test]
    fn the_dummy_hash_is_a_real_hash() {
        assert!(PasswordHash::new(&dummy_hash()).is_ok());
    }
}
