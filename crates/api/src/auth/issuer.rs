//! The embedded account store's token issuer: RS256 tokens in Cognito's shape, and the JWKS
//! that verifies them.
//!
//! One 2048-bit RSA key lives in the data directory (`accounts-signing-key.pem`, PKCS#8,
//! created 0600 on first use and refused if others can read it, as the dev key is). Its `kid`
//! is the first 16 hex digits of the SHA-256 of the public modulus, so a new key gets a new
//! `kid`. The ID token carries what Cognito's does (`sub`, `aud`, `email`, `email_verified`,
//! `cognito:groups`, `token_use: id`); the access token `client_id`, `cognito:groups`, `jti`
//! and `token_use: access`. The API verifies both with [`JwksVerifier`](super::JwksVerifier),
//! the code that verifies Cognito's tokens, given this key set instead of a URL.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
    RSAKeyParameters, RSAKeyType,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use sha2::{Digest, Sha256};
use thiserror::Error;
use vetted_core::Timestamp;
use vetted_core::ports::{BackendError, IssuedTokens, TokenIssuer, TokenSubject};

use super::OidcConfig;

/// The key's file name inside the data directory.
pub const SIGNING_KEY_FILE: &str = "accounts-signing-key.pem";
/// The `iss` of the embedded store's tokens.
pub const LOCAL_ISSUER: &str = "vetted-local";
/// The `aud` of its ID tokens and the `client_id` of its access tokens: the pages' client.
pub const LOCAL_CLIENT_ID: &str = "vetted-web";
/// As the user pool's `IdTokenValidity` and `AccessTokenValidity`.
pub const TOKEN_TTL: Duration = Duration::from_secs(3600);
const KEY_BITS: usize = 2048;

#[derive(Debug, Error)]
pub enum SigningKeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{0}: not an RSA private key in PKCS#8 PEM; move it away to make a new one")]
    Malformed(PathBuf),
    #[error("{0}: readable by other users; run `chmod 600` on it (it signs tokens for any user)")]
    TooOpen(PathBuf),
    #[error("could not make a signing key: {0}")]
    Generate(String),
}

/// Signs the embedded store's tokens. `Debug` does not show the key.
#[derive(Clone)]
pub struct LocalIssuer {
    encoding: EncodingKey,
    kid: String,
    jwks: JwkSet,
    ttl: Duration,
}

impl fmt::Debug for LocalIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalIssuer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct IdClaims<'a> {
    sub: &'a str,
    iss: &'static str,
    aud: &'static str,
    iat: i64,
    exp: i64,
    auth_time: i64,
    token_use: &'static str,
    email: &'a str,
    email_verified: bool,
    #[serde(rename = "cognito:groups")]
    groups: &'a [String],
    #[serde(rename = "cognito:username")]
    username: &'a str,
}

#[derive(Serialize)]
struct AccessClaims<'a> {
    sub: &'a str,
    iss: &'static str,
    client_id: &'static str,
    iat: i64,
    exp: i64,
    token_use: &'static str,
    scope: &'static str,
    jti: String,
    #[serde(rename = "cognito:groups")]
    groups: &'a [String],
    username: &'a str,
}

impl LocalIssuer {
    /// Reads `{dir}/accounts-signing-key.pem`, making it first if there is none.
    pub fn load_or_create(dir: &Path) -> Result<Self, SigningKeyError> {
        let path = dir.join(SIGNING_KEY_FILE);
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| SigningKeyError::Io { path, source }
        };
        match std::fs::read_to_string(&path) {
            Ok(pem) => return Self::from_file(&path, &pem),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path)(e)),
        }
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let key = RsaPrivateKey::new(&mut rand_core::OsRng, KEY_BITS)
            .map_err(|e| SigningKeyError::Generate(e.to_string()))?;
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| SigningKeyError::Generate(e.to_string()))?;
        // Written whole under a temporary name, then linked into place: of two processes
        // starting at once, one key wins and both use it.
        let mut builder = tempfile::Builder::new();
        builder.prefix(".accounts-signing-key.");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o600));
        }
        let mut tmp = builder.tempfile_in(dir).map_err(io_err(dir))?;
        tmp.write_all(pem.as_bytes()).map_err(io_err(tmp.path()))?;
        tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;
        match std::fs::hard_link(tmp.path(), &path) {
            Ok(()) => Self::from_key(&key),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let pem = std::fs::read_to_string(&path).map_err(io_err(&path))?;
                Self::from_file(&path, &pem)
            }
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    fn from_file(path: &Path, pem: &str) -> Result<Self, SigningKeyError> {
        check_private(path)?;
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|_| SigningKeyError::Malformed(path.into()))?;
        Self::from_key(&key)
    }

    fn from_key(key: &RsaPrivateKey) -> Result<Self, SigningKeyError> {
        let der = key
            .to_pkcs1_der()
            .map_err(|e| SigningKeyError::Generate(e.to_string()))?;
        let n = key.n().to_bytes_be();
        let e = key.e().to_bytes_be();
        let kid = hex::encode(&Sha256::digest(&n)[..8]);
        let jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::RS256),
                key_id: Some(kid.clone()),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: URL_SAFE_NO_PAD.encode(n),
                e: URL_SAFE_NO_PAD.encode(e),
            }),
        };
        Ok(Self {
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            kid,
            jwks: JwkSet { keys: vec![jwk] },
            ttl: TOKEN_TTL,
        })
    }

    /// The public keys, as `/.well-known/jwks.json` serves them.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// What a verifier of these tokens checks: this issuer, this client.
    pub fn oidc_config() -> OidcConfig {
        OidcConfig {
            jwks_url: "/.well-known/jwks.json".to_owned(),
            issuer: LOCAL_ISSUER.to_owned(),
            audience: Some(LOCAL_CLIENT_ID.to_owned()),
        }
    }

    fn sign(&self, claims: &impl Serialize) -> Result<String, BackendError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| BackendError::permanent("accounts.sign_token", e))
    }
}

impl TokenIssuer for LocalIssuer {
    fn issue(&self, who: &TokenSubject, now: Timestamp) -> Result<IssuedTokens, BackendError> {
        let iat = now.unix_seconds();
        let ttl = self.ttl.as_secs();
        let exp = iat.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti)
            .map_err(|e| BackendError::retryable("accounts.sign_token", e.to_string()))?;
        let id_token = self.sign(&IdClaims {
            sub: &who.subject,
            iss: LOCAL_ISSUER,
            aud: LOCAL_CLIENT_ID,
            iat,
            exp,
            auth_time: iat,
            token_use: "id",
            email: who.email.as_str(),
            email_verified: true,
            groups: &who.groups,
            username: &who.subject,
        })?;
        let access_token = self.sign(&AccessClaims {
            sub: &who.subject,
            iss: LOCAL_ISSUER,
            client_id: LOCAL_CLIENT_ID,
            iat,
            exp,
            token_use: "access",
            scope: "aws.cognito.signin.user.admin",
            jti: hex::encode(jti),
            groups: &who.groups,
            username: &who.subject,
        })?;
        Ok(IssuedTokens {
            id_token,
            access_token,
            expires_in: ttl,
        })
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), SigningKeyError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| SigningKeyError::Io {
        path: path.into(),
        source,
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(SigningKeyError::TooOpen(path.into()));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), SigningKeyError> {
    Ok(())
}
