//! The HTTP API: uploads for owners, reviews for moderators, restaurants and their slots for
//! both, one axum Router.
//!
//! [`router`] is the whole API in one place: `vetted serve` mounts it next to its other parts,
//! and the `upload-api` Lambda runs the same `Router` through `lambda_http`. Each area
//! contributes its routes (`uploads::routes`, the moderators' review routes beside it,
//! `restaurants::routes` for members, moderators and admins, `policy::routes` for any
//! signed-in caller, `me::routes` for an owner's own email preference where the backend sends
//! owner emails, `webhooks::routes` for admins where the backend keeps endpoints, and
//! `live::routes`, the owners' event stream, where it keeps an event feed); everything they
//! share is in [`ApiState`].

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod auth;
mod body;
pub mod error;
pub mod live;
pub mod me;
pub mod policy;
pub mod request_id;
pub mod restaurants;
pub mod reviews;
pub mod settings;
pub mod uploads;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use vetted_core::media::MediaUrls;
use vetted_core::policy::SlotPolicies;
use vetted_core::ports::{
    MultipartUploads, Notifications, ObjectStore, Restaurants, UploadSigner, Uploads,
};
use vetted_core::review::Review;
use vetted_core::{Clock, Ports};

pub use accounts::AccountsApi;
pub use admin::AdminApi;
pub use auth::Authenticator;
pub use error::ApiError;
pub use live::{LiveApi, LiveLimits};
pub use settings::{ApiSettings, SettingsError};
pub use webhooks::WebhookApi;

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
    /// Restaurants, their members (who may do what) and their slots.
    pub restaurants: Arc<dyn Restaurants>,
    /// Where proxy uploads are written.
    pub objects: Arc<dyn ObjectStore>,
    pub signer: Arc<dyn UploadSigner>,
    /// Begins, lists, completes and aborts multipart uploads in the upload bucket.
    pub multipart: Arc<dyn MultipartUploads>,
    pub clock: Arc<dyn Clock>,
    /// The rules of each slot kind.
    pub policies: Arc<SlotPolicies>,
    /// How published images are addressed.
    pub media: Arc<MediaUrls>,
    pub auth: Arc<Authenticator>,
    pub settings: Arc<ApiSettings>,
    /// Decisions: the core's review service, over the same record store.
    pub review: Arc<Review>,
    /// Webhook endpoints, on a backend that has a store for them; their routes are not
    /// mounted otherwise.
    pub webhooks: Option<WebhookApi>,
    /// How often each user may ask to upload.
    pub upload_rate: Arc<uploads::quota::UploadRate>,
    /// Email preferences, on a backend that sends owner emails; `/api/me/notifications` is
    /// not mounted otherwise.
    pub notifications: Option<Arc<dyn Notifications>>,
    /// The owners' live event stream, on a backend with an event feed; its route is not
    /// mounted otherwise.
    pub live: Option<LiveApi>,
    /// Sign-up and sign-in, on a backend with accounts; `/auth/*` is not mounted otherwise.
    pub accounts: Option<AccountsApi>,
    /// Invitations to restaurants; their routes answer 404 without a store.
    pub invitations: Option<Arc<dyn vetted_core::ports::Invitations>>,
    /// Operator recovery (`/api/admin/*`), where the process has intake and the queues; its
    /// routes answer 404 otherwise.
    pub admin: Option<AdminApi>,
}

/// The parts an [`ApiState`] is built from.
pub struct ApiParts {
    /// The record store, the restaurants, the object store (proxy uploads), the clock and the
    /// media URLs; the API publishes events only through `review` (decisions) and rollbacks.
    pub ports: Ports,
    pub signer: Arc<dyn UploadSigner>,
    /// The store's side of multipart uploads: S3 itself, or `vetted serve`'s endpoint.
    pub multipart: Arc<dyn MultipartUploads>,
    pub policies: SlotPolicies,
    pub auth: Authenticator,
    pub settings: ApiSettings,
    pub review: Arc<Review>,
    /// The webhook store; `None` on a backend without one (its routes then answer 404).
    pub webhooks: Option<WebhookApi>,
    /// The notifications store; `None` where no owner emails are sent (404).
    pub notifications: Option<Arc<dyn Notifications>>,
    /// The event feed for `GET /api/events/stream`; `None` on a backend without one (404).
    pub live: Option<LiveApi>,
    /// The account backend for `/auth/*`; `None` where there is none (404).
    pub accounts: Option<AccountsApi>,
    /// The invitations store; `None` where there is none (404).
    pub invitations: Option<Arc<dyn vetted_core::ports::Invitations>>,
    /// Intake and the queues for `/api/admin/*`; `None` where there are none (404).
    pub admin: Option<AdminApi>,
}

impl ApiState {
    /// Checks the settings against the policy and logs any start-up warnings (an expiry short
    /// enough for clock skew to matter, for one).
    pub fn new(parts: ApiParts) -> Result<Self, SettingsError> {
        for kind in vetted_core::SlotKind::ALL {
            for warning in parts.settings.check(parts.policies.for_kind(kind))? {
                tracing::warn!(%kind, "{warning}");
            }
        }
        Ok(Self {
            upload_rate: Arc::new(uploads::quota::UploadRate::new(&parts.settings)),
            uploads: parts.ports.uploads,
            restaurants: parts.ports.restaurants,
            objects: parts.ports.objects,
            signer: parts.signer,
            multipart: parts.multipart,
            clock: parts.ports.clock,
            policies: Arc::new(parts.policies),
            media: Arc::new(parts.ports.media),
            auth: Arc::new(parts.auth),
            settings: Arc::new(parts.settings),
            review: parts.review,
            webhooks: parts.webhooks,
            notifications: parts.notifications,
            live: parts.live,
            accounts: parts.accounts,
            invitations: parts.invitations,
            admin: parts.admin,
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
///
/// Every answer, errors included, carries `Cache-Control: no-store` (answers hold presigned
/// URLs, which are credentials for minutes, and one user's data) and
/// `X-Content-Type-Options: nosniff` (a browser must not guess another type for a body).
pub fn router(state: ApiState) -> Router {
    let webhooks = if state.webhooks.is_some() {
        webhooks::routes()
    } else {
        Router::new()
    };
    let me = if state.notifications.is_some() {
        me::routes()
    } else {
        Router::new()
    };
    let live = if state.live.is_some() {
        live::routes()
    } else {
        Router::new()
    };
    let accounts = match &state.accounts {
        Some(api) => accounts::router(api.clone(), state.auth.clone()),
        None => Router::new(),
    };
    let router = Router::new()
        .merge(webhooks)
        .merge(me)
        .merge(live)
        .merge(uploads::routes())
        .merge(audit::routes())
        .merge(reviews::routes())
        .merge(restaurants::routes())
        .merge(policy::routes())
        .merge(admin::routes())
        .fallback(error::not_found_fallback)
        .method_not_allowed_fallback(error::method_not_allowed_fallback)
        .with_state(state)
        .merge(accounts);
    private_answers(router)
}

/// `Cache-Control: no-store` and `nosniff` on every answer of `router`, errors included.
pub(crate) fn private_answers(router: Router) -> Router {
    use axum::http::{HeaderValue, header};
    use tower_http::set_header::SetResponseHeaderLayer;
    router
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}
