//! The HS256 dev key: one secret in the data directory, for one-machine use.
//!
//! `vetted serve` verifies with it and `vetted token` signs with it, so both must find the
//! same file: `{data}/dev-jwt.key`, 32 random bytes in hex, created on first use with 0600
//! permissions. A key file that others can read is refused, as ssh refuses a private key.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::Serialize;
use thiserror::Error;
use vetted_core::Timestamp;

use super::{AuthError, Claims, Role, validation};

/// The key's file name inside the data directory.
pub const DEV_KEY_FILE: &str = "dev-jwt.key";
/// The `iss` of every dev token; RS256 tokens from a real issuer never carry it.
pub const DEV_ISSUER: &str = "vetted-dev";
const KEY_BYTES: usize = 32;

#[derive(Debug, Error)]
pub enum DevKeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{0}: not a dev key (expected at least 64 hex characters); delete it to make a new one"
    )]
    Malformed(PathBuf),
    #[error("{0}: readable by other users; run `chmod 600` on it (it signs tokens for any user)")]
    TooOpen(PathBuf),
    #[error("no random bytes available: {0}")]
    Random(String),
    #[error("could not sign the token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// The dev signing key. `Debug` does not show it.
#[derive(Clone)]
pub struct DevKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl fmt::Debug for DevKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DevKey(<redacted>)")
    }
}

#[derive(Serialize)]
struct DevClaims<'a> {
    sub: &'a str,
    iss: &'static str,
    iat: i64,
    exp: i64,
    #[serde(rename = "cognito:groups")]
    groups: Vec<&'static str>,
    token_use: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
}

impl DevKey {
    /// Reads `{dir}/dev-jwt.key`, creating the directory and the key if they do not exist.
    pub fn load_or_create(dir: &Path) -> Result<Self, DevKeyError> {
        let path = dir.join(DEV_KEY_FILE);
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| DevKeyError::Io { path, source }
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => return Self::from_file_text(&path, &text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path)(e)),
        }
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut secret = [0u8; KEY_BYTES];
        getrandom::fill(&mut secret).map_err(|e| DevKeyError::Random(e.to_string()))?;
        // Written whole under a temporary name, then linked into place: a concurrent reader
        // sees no file or the complete key, and of two concurrent creators one key wins.
        let mut builder = tempfile::Builder::new();
        builder.prefix(".dev-jwt.key.");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o600));
        }
        let mut tmp = builder.tempfile_in(dir).map_err(io_err(dir))?;
        writeln!(tmp, "{}", hex::encode(secret)).map_err(io_err(tmp.path()))?;
        tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;
        match std::fs::hard_link(tmp.path(), &path) {
            Ok(()) => Ok(Self::from_secret(&secret)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
                Self::from_file_text(&path, &text)
            }
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    fn from_file_text(path: &Path, text: &str) -> Result<Self, DevKeyError> {
        check_private(path)?;
        let secret = hex::decode(text.trim()).map_err(|_| DevKeyError::Malformed(path.into()))?;
        if secret.len() < KEY_BYTES {
            return Err(DevKeyError::Malformed(path.into()));
        }
        Ok(Self::from_secret(&secret))
    }

    /// A key from raw secret bytes (at least 32 in practice; the file loader insists on it).
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// A dev token for `subject` with one role, valid for `ttl` from `now`.
    pub fn issue(
        &self,
        subject: &str,
        role: Role,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<String, DevKeyError> {
        self.issue_roles(subject, &[role], ttl, now)
    }

    /// A token with several roles, e.g. a moderator who is also an admin.
    pub fn issue_roles(
        &self,
        subject: &str,
        roles: &[Role],
        ttl: Duration,
        now: Timestamp,
    ) -> Result<String, DevKeyError> {
        self.issue_with_email(subject, roles, None, ttl, now)
    }

    /// A token that also carries `email` (marked verified, as a Cognito ID token of a
    /// confirmed user is): what owner notifications are sent to.
    pub fn issue_with_email(
        &self,
        subject: &str,
        roles: &[Role],
        email: Option<&str>,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<String, DevKeyError> {
        let iat = now.unix_seconds();
        let claims = DevClaims {
            sub: subject,
            iss: DEV_ISSUER,
            iat,
            exp: iat.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            groups: roles.iter().map(|role| role.group()).collect(),
            token_use: "id",
            email,
            email_verified: email.map(|_| true),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    pub(crate) fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        jsonwebtoken::decode::<Claims>(
            token,
            &self.decoding,
            &validation(Algorithm::HS256, DEV_ISSUER),
        )
        .map(|data| data.claims)
        .map_err(super::refused)
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), DevKeyError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| DevKeyError::Io {
        path: path.into(),
        source,
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(DevKeyError::TooOpen(path.into()));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), DevKeyError> {
    Ok(())
}
