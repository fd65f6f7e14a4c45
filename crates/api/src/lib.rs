//! The HTTP API: uploads for owners, reviews for moderators, one axum Router.
//!
//! [`router`] is the whole API in one place: `vetted serve` mounts it next to its other parts,
//! and the `upload-api` Lambda runs the same `Router` through `lambda_http`. Each area
//! contributes its routes (`uploads::routes`, the moderators' review routes beside it, and
//! `policy::routes` for any signed-in caller);
//! everything they share is in [`ApiState`].

pub mod auth;
mod body;
pub mod error;
pub mod policy;
pub mod reviews;
pub mod settings;
pub mod uploads;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use vetted_core::ports::{ObjectStore, UploadSigner, Uploads};
use vetted_core::review::Review;
use vetted_core::{Clock, Policy, Ports};

pub use auth::Authenticator;
pub use error::ApiError;
pub use settings::{ApiSettings, SettingsError};

/// Makes ring rustls's process-wide crypto provider, once; later calls do nothing.
///
/// reqwest is built without a provider of its own (its default would switch every rustls in
/// the build to aws-lc, beside the ring the AWS SDK uses), so one must be installed before
/// any `reqwest::Client` is built. [`JwksVerifier::new`](auth::JwksVerifier::new) calls this;
/// so should anything else that builds a client first.
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Everything the handlers share. Cheap to clone: every part is behind an `Arc`.
#[derive(Clone)]
pub struct ApiState {
    pub uploads: Arc<dyn Uploads>,
    /// Where proxy uploads are written.
    pub objects: Arc<dyn ObjectStore>,
    pub signer: Arc<dyn UploadSigner>,
    pub clock: Arc<dyn Clock>,
    pub policy: Arc<Policy>,
    pub auth: Arc<Authenticator>,
    pub settings: Arc<ApiSettings>,
    /// Decisions: the core's review service, over the same record store.
    pub review: Arc<Review>,
}

/// The parts an [`ApiState`] is built from.
pub struct ApiParts {
    /// The record store, the object store (proxy uploads) and the clock; the API publishes
    /// no events itself, since its one status change (a decision) goes through `review`.
    pub ports: Ports,
    pub signer: Arc<dyn UploadSigner>,
    pub policy: Policy,
    pub auth: Authenticator,
    pub settings: ApiSettings,
    pub review: Arc<Review>,
}

impl ApiState {
    /// Checks the settings against the policy and logs any start-up warnings (an expiry short
    /// enough for clock skew to matter, for one).
    pub fn new(parts: ApiParts) -> Result<Self, SettingsError> {
        for warning in parts.settings.check(&parts.policy)? {
            tracing::warn!("{warning}");
        }
        Ok(Self {
            uploads: parts.ports.uploads,
            objects: parts.ports.objects,
            signer: parts.signer,
            clock: parts.ports.clock,
            policy: Arc::new(parts.policy),
            auth: Arc::new(parts.auth),
            settings: Arc::new(parts.settings),
            review: parts.review,
        })
    }
}

impl FromRef<ApiState> for Arc<Authenticator> {
    fn from_ref(state: &ApiState) -> Self {
        state.auth.clone()
    }
}

/// The whole HTTP API. Unknown paths answer 404 and known paths with the wrong method 405,
/// both with the usual `{error, reason}` body.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .merge(uploads::routes())
        .merge(reviews::routes())
        .merge(policy::routes())
        .fallback(error::not_found_fallback)
        .method_not_allowed_fallback(error::method_not_allowed_fallback)
        .with_state(state)
}
