//! Webhook endpoints, for admins: register, change, rotate secrets, and see and retry
//! deliveries.
//!
//! | route | what |
//! |---|---|
//! | `POST /api/webhooks` | register an endpoint; 201 with its secret, shown this once |
//! | `GET /api/webhooks` | every endpoint (no secrets) |
//! | `GET /api/webhooks/{id}` | one endpoint |
//! | `PATCH /api/webhooks/{id}` | change url, event types, restaurant filter, enabled |
//! | `DELETE /api/webhooks/{id}` | remove it and its deliveries; 204 |
//! | `POST /api/webhooks/{id}/rotate` | a new secret, shown once; the old one signs for 24 h more |
//! | `GET /api/webhooks/{id}/deliveries` | its deliveries, newest first |
//! | `POST /api/webhooks/{id}/deliveries/{delivery}/retry` | deliver again now |
//!
//! Only admins reach these routes (no token 401, another role 403). A URL must pass the
//! address guard of [`vetted_core::webhooks::address`] unless the server allows private
//! addresses (a development setting). Secrets are never logged.

mod views;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use vetted_core::RestaurantId;
use vetted_core::ports::Webhooks;
use vetted_core::webhooks::address::{UrlError, check_url};
use vetted_core::webhooks::{DeliveryId, Endpoint, EndpointId, ROTATION_OVERLAP, WebhookSecret};

use crate::ApiState;
use crate::auth::AdminCaller;
use crate::body::{JsonBody, QueryParams};
use crate::error::{ApiError, reasons};
pub use views::{
    CreateWebhookRequest, CreatedEndpoint, DeliveryList, DeliveryQuery, DeliveryView,
    PatchWebhookRequest, WebhookList, WebhookView,
};

/// The webhook store and its rules, when this backend has one.
#[derive(Clone)]
pub struct WebhookApi {
    pub store: Arc<dyn Webhooks>,
    /// Admit `http` and private, loopback and link-local addresses: for development only.
    pub allow_private: bool,
}

const DEFAULT_DELIVERY_PAGE: u32 = 50;
const MAX_DELIVERY_PAGE: u32 = 200;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/webhooks", get(list).post(create))
        .route(
            "/api/webhooks/{id}",
            get(get_one).patch(patch).delete(delete),
        )
        .route("/api/webhooks/{id}/rotate", post(rotate))
        .route("/api/webhooks/{id}/deliveries", get(deliveries))
        .route(
            "/api/webhooks/{id}/deliveries/{delivery}/retry",
            post(retry),
        )
}

fn api(state: &ApiState) -> Result<&WebhookApi, ApiError> {
    state
        .webhooks
        .as_ref()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, reasons::NOT_FOUND, "no such route"))
}

fn endpoint_id(raw: &str) -> Result<EndpointId, ApiError> {
    // An id that cannot exist is as absent as one that does not.
    EndpointId::parse(raw).map_err(|_| ApiError::webhook_not_found())
}

/// A fresh `whsec_` secret of 32 random bytes.
pub fn new_secret() -> Result<WebhookSecret, ApiError> {
    let mut key = [0u8; vetted_core::webhooks::sign::KEY_BYTES];
    getrandom::fill(&mut key).map_err(|e| {
        ApiError::internal(
            "no randomness for a webhook secret",
            &std::io::Error::other(e.to_string()),
        )
    })?;
    WebhookSecret::from_key(&key).map_err(|e| ApiError::internal("webhook secret", &e))
}

fn checked_url(raw: &str, allow_private: bool) -> Result<String, ApiError> {
    check_url(raw, allow_private)
        .map(String::from)
        .map_err(|e| match e {
            UrlError::Forbidden(_) => {
                ApiError::bad_request(reasons::FORBIDDEN_WEBHOOK_ADDRESS, e.to_string())
            }
            other => ApiError::bad_request(reasons::INVALID_WEBHOOK_URL, other.to_string()),
        })
}

async fn restaurant(state: &ApiState, raw: Option<&str>) -> Result<Option<RestaurantId>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let invalid = |m: String| ApiError::bad_request(reasons::INVALID_REQUEST, m);
    let id = RestaurantId::parse(raw).map_err(|e| invalid(e.to_string()))?;
    match state.restaurants.get(&id).await {
        Ok(_) => Ok(Some(id)),
        Err(vetted_core::ports::RestaurantsError::NotFound(_)) => {
            Err(invalid(format!("there is no restaurant {id}")))
        }
        Err(other) => Err(other.into()),
    }
}

fn dedup(mut types: Vec<vetted_core::events::EventType>) -> Vec<vetted_core::events::EventType> {
    let mut seen = Vec::with_capacity(types.len());
    types.retain(|t| {
        let new = !seen.contains(t);
        seen.push(*t);
        new
    });
    types
}

#[tracing::instrument(skip_all, fields(admin = %admin))]
async fn create(
    State(state): State<ApiState>,
    AdminCaller(admin): AdminCaller,
    JsonBody(request): JsonBody<CreateWebhookRequest>,
) -> Result<(StatusCode, Json<CreatedEndpoint>), ApiError> {
    let api = api(&state)?;
    let url = checked_url(&request.url, api.allow_private)?;
    let restaurant = restaurant(&state, request.restaurant.as_deref()).await?;
    let now = state.clock.now();
    let endpoint = Endpoint {
        id: EndpointId::generate(),
        url,
        event_types: dedup(request.event_types),
        restaurant,
        secret: new_secret()?,
        previous_secret: None,
        previous_until: None,
        enabled: true,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    api.store.create(&endpoint).await?;
    // Not the URL: a receiver may keep a token of its own in it.
    tracing::info!(endpoint = %endpoint.id, "webhook endpoint created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedEndpoint {
            endpoint: WebhookView::new(&endpoint, now),
            secret: endpoint.secret.expose().to_owned(),
        }),
    ))
}

async fn list(
    State(state): State<ApiState>,
    AdminCaller(_): AdminCaller,
) -> Result<Json<WebhookList>, ApiError> {
    let now = state.clock.now();
    let items = api(&state)?
        .store
        .list()
        .await?
        .iter()
        .map(|e| WebhookView::new(e, now))
        .collect();
    Ok(Json(WebhookList { items }))
}

async fn get_one(
    State(state): State<ApiState>,
    AdminCaller(_): AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    let endpoint = api(&state)?.store.get(&endpoint_id(&id)?).await?;
    Ok(Json(WebhookView::new(&endpoint, state.clock.now())))
}

#[tracing::instrument(skip_all, fields(admin = %admin, endpoint = %id))]
async fn patch(
    State(state): State<ApiState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<PatchWebhookRequest>,
) -> Result<Json<WebhookView>, ApiError> {
    let api = api(&state)?;
    let mut endpoint = api.store.get(&endpoint_id(&id)?).await?;
    if let Some(url) = &request.url {
        endpoint.url = checked_url(url, api.allow_private)?;
    }
    if let Some(types) = request.event_types {
        endpoint.event_types = dedup(types);
    }
    if let Some(raw) = &request.restaurant {
        endpoint.restaurant = restaurant(&state, raw.as_deref()).await?;
    }
    let now = state.clock.now();
    match request.enabled {
        Some(true) => {
            endpoint.enabled = true;
            endpoint.disabled_reason = None;
        }
        Some(false) if endpoint.enabled => endpoint.disable(format!("disabled by {admin}"), now),
        _ => {}
    }
    endpoint.updated_at = now;
    api.store.update(&endpoint).await?;
    tracing::info!(enabled = endpoint.enabled, "webhook endpoint changed");
    Ok(Json(WebhookView::new(&endpoint, now)))
}

#[tracing::instrument(skip_all, fields(admin = %admin, endpoint = %id))]
async fn delete(
    State(state): State<ApiState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if api(&state)?.store.delete(&endpoint_id(&id)?).await? {
        tracing::info!("webhook endpoint deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::webhook_not_found())
    }
}

#[tracing::instrument(skip_all, fields(admin = %admin, endpoint = %id))]
async fn rotate(
    State(state): State<ApiState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<CreatedEndpoint>, ApiError> {
    let api = api(&state)?;
    let mut endpoint = api.store.get(&endpoint_id(&id)?).await?;
    let now = state.clock.now();
    endpoint.rotate(new_secret()?, now, ROTATION_OVERLAP);
    api.store.update(&endpoint).await?;
    tracing::info!("webhook secret rotated");
    Ok(Json(CreatedEndpoint {
        endpoint: WebhookView::new(&endpoint, now),
        secret: endpoint.secret.expose().to_owned(),
    }))
}

async fn deliveries(
    State(state): State<ApiState>,
    AdminCaller(_): AdminCaller,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<DeliveryQuery>,
) -> Result<Json<DeliveryList>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_DELIVERY_PAGE);
    if !(1..=MAX_DELIVERY_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            reasons::INVALID_QUERY,
            format!("limit must be 1 to {MAX_DELIVERY_PAGE}"),
        ));
    }
    let items = api(&state)?
        .store
        .deliveries(&endpoint_id(&id)?, limit)
        .await?
        .into_iter()
        .map(DeliveryView::from)
        .collect();
    Ok(Json(DeliveryList { items }))
}

#[tracing::instrument(skip_all, fields(admin = %admin, endpoint = %id, delivery = %delivery))]
async fn retry(
    State(state): State<ApiState>,
    AdminCaller(admin): AdminCaller,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    let api = api(&state)?;
    let endpoint = api.store.get(&endpoint_id(&id)?).await?;
    let delivery = DeliveryId::parse(&delivery).map_err(|_| ApiError::delivery_not_found())?;
    // An unknown delivery is 404 whatever the endpoint's state.
    api.store.delivery(&endpoint.id, &delivery).await?;
    if !endpoint.enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            reasons::WEBHOOK_DISABLED,
            "the endpoint is disabled; enable it (PATCH enabled: true) before retrying",
        ));
    }
    let retried = api
        .store
        .retry(&endpoint.id, &delivery, state.clock.now())
        .await?;
    tracing::info!("webhook delivery retried");
    Ok((StatusCode::ACCEPTED, Json(retried.into())))
}
