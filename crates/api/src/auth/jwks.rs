//! RS256 tokens from an OIDC issuer (Cognito or any other), verified against its JWKS.
//!
//! Keys are cached for an hour. A token naming an unknown `kid` triggers a refetch (keys
//! rotate), but at most once every 30 seconds, so that a stream of forged tokens cannot turn
//! the API into a load generator against the issuer.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::{Mutex, RwLock};

use super::{AuthError, Claims, validation};

const CACHE_TTL: Duration = Duration::from_secs(3600);
const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where an issuer publishes its keys and what its tokens must say. Also the `[oidc]` section
/// of `vetted serve`'s settings file, hence `Deserialize`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// e.g. `https://cognito-idp.{region}.amazonaws.com/{pool}/.well-known/jwks.json`.
    pub jwks_url: String,
    /// The exact `iss`, e.g. `https://cognito-idp.{region}.amazonaws.com/{pool}`.
    pub issuer: String,
    /// When set, `aud` (ID tokens) or `client_id` (Cognito access tokens) must equal it.
    pub audience: Option<String>,
}

struct KeyCache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Instant,
}

pub struct JwksVerifier {
    config: OidcConfig,
    http: reqwest::Client,
    /// Keys given at construction (the embedded account store's): never fetched, never stale.
    fixed: Option<HashMap<String, DecodingKey>>,
    cache: RwLock<Option<KeyCache>>,
    /// Serialises refetches, and remembers when the last one was tried.
    refetch: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for JwksVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksVerifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("JWKS at {url}: {why}")]
struct FetchError {
    url: String,
    why: String,
}

impl JwksVerifier {
    pub fn new(config: OidcConfig) -> Result<Self, reqwest::Error> {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder().timeout(FETCH_TIMEOUT).build()?;
        Ok(Self {
            config,
            http,
            fixed: None,
            cache: RwLock::new(None),
            refetch: Mutex::new(None),
        })
    }

    /// A verifier of tokens signed by the keys of `set`, which it never fetches: the embedded
    /// account store's, whose keys this process holds. Verification is the same code as for
    /// a fetched set.
    pub fn with_keys(config: OidcConfig, set: &JwkSet) -> Result<Self, reqwest::Error> {
        let mut verifier = Self::new(config)?;
        verifier.fixed = Some(decoding_keys(set));
        Ok(verifier)
    }

    /// The `iss` its tokens carry.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    pub(crate) async fn verify(&self, token: &str, kid: Option<&str>) -> Result<Claims, AuthError> {
        let kid = kid.ok_or_else(|| AuthError::Invalid("RS256 token without a kid".to_owned()))?;
        let key = self.key(kid).await?;
        let claims = jsonwebtoken::decode::<Claims>(
            token,
            &key,
            &validation(Algorithm::RS256, &self.config.issuer),
        )
        .map_err(super::refused)?
        .claims;
        if let Some(audience) = &self.config.audience
            && !audience_matches(&claims, audience)
        {
            return Err(AuthError::Invalid("wrong audience".to_owned()));
        }
        Ok(claims)
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        if let Some(fixed) = &self.fixed {
            return fixed
                .get(kid)
                .cloned()
                .ok_or_else(|| AuthError::Invalid(format!("unknown key id {kid:?}")));
        }
        {
            let cache = self.cache.read().await;
            if let Some(cache) = cache.as_ref()
                && cache.fetched_at.elapsed() < CACHE_TTL
                && let Some(key) = cache.keys.get(kid)
            {
                return Ok(key.clone());
            }
        }
        let mut last_try = self.refetch.lock().await;
        // Another request may have refreshed the cache while this one waited for the lock.
        if let Some(cache) = self.cache.read().await.as_ref()
            && cache.fetched_at.elapsed() < CACHE_TTL
            && let Some(key) = cache.keys.get(kid)
        {
            return Ok(key.clone());
        }
        let cache_is_fresh = self
            .cache
            .read()
            .await
            .as_ref()
            .is_some_and(|c| c.fetched_at.elapsed() < CACHE_TTL);
        let recently_tried = last_try.is_some_and(|at| at.elapsed() < MIN_REFETCH_INTERVAL);
        if cache_is_fresh && recently_tried {
            return Err(AuthError::Invalid(format!("unknown key id {kid:?}")));
        }
        *last_try = Some(Instant::now());
        let keys = self
            .fetch()
            .await
            .map_err(|e| AuthError::KeysUnavailable(Box::new(e)))?;
        let found = keys.get(kid).cloned();
        *self.cache.write().await = Some(KeyCache {
            keys,
            fetched_at: Instant::now(),
        });
        found.ok_or_else(|| AuthError::Invalid(format!("unknown key id {kid:?}")))
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, FetchError> {
        let url = &self.config.jwks_url;
        let fail = |why: String| FetchError {
            url: url.clone(),
            why,
        };
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !response.status().is_success() {
            return Err(fail(format!("status {}", response.status())));
        }
        let set: JwkSet = response.json().await.map_err(|e| fail(e.to_string()))?;
        let keys = decoding_keys(&set);
        if keys.is_empty() {
            return Err(fail("no RS256 signing keys in the set".to_owned()));
        }
        Ok(keys)
    }
}

/// The RS256 signing keys of a set, by `kid`; keys of other kinds or uses are left out.
fn decoding_keys(set: &JwkSet) -> HashMap<String, DecodingKey> {
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let is_rsa = matches!(jwk.algorithm, AlgorithmParameters::RSA(_));
        let for_rs256 = matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256));
        let for_signing = matches!(
            jwk.common.public_key_use,
            None | Some(PublicKeyUse::Signature)
        );
        let (Some(kid), true, true, true) = (&jwk.common.key_id, is_rsa, for_rs256, for_signing)
        else {
            continue;
        };
        if let Ok(key) = DecodingKey::from_jwk(jwk) {
            keys.insert(kid.clone(), key);
        }
    }
    keys
}

fn audience_matches(claims: &Claims, audience: &str) -> bool {
    let in_aud = match &claims.aud {
        Some(serde_json::Value::String(aud)) => aud == audience,
        Some(serde_json::Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    in_aud || claims.client_id.as_deref() == Some(audience)
}
