//! `/media/{upload}` and `/media/{restaurant}/{slot}`: published images, served the way a CDN
//! would serve `published/` on AWS.
//!
//! Only published images are served, each with the type Vetted re-encoded it as, never one a
//! client declared, and with `X-Content-Type-Options: nosniff`. One upload's URL never changes
//! what it shows, so it is cached for a year; a slot's URL shows whatever is live now, so it is
//! revalidated after a minute. Both answer `If-None-Match` with 304.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tracing::warn;
use vetted_core::ports::{ObjectStore, Restaurants, Uploads};
use vetted_core::{ImageType, ObjectKey, RestaurantId, Slot, SlotRef, Status, UploadId};

#[derive(Clone)]
pub struct MediaState {
    pub uploads: Arc<dyn Uploads>,
    pub restaurants: Arc<dyn Restaurants>,
    pub objects: Arc<dyn ObjectStore>,
}

pub fn routes(state: MediaState) -> Router {
    Router::new()
        .route("/media/{upload}", get(one_image))
        .route("/media/{restaurant}/{slot}", get(live_image))
        .with_state(state)
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const LIVE: &str = "public, max-age=60, must-revalidate";

async fn one_image(
    State(state): State<MediaState>,
    Path(upload): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(id) = UploadId::parse(&upload) else {
        return not_found();
    };
    let record = match state.uploads.get(&id).await {
        // APPROVED too: the publish step makes a slot live (and announces this URL) just
        // before it marks the record PUBLISHED.
        Ok(record) if matches!(record.status, Status::Approved | Status::Published) => record,
        Ok(_) | Err(vetted_core::ports::UploadsError::NotFound(_)) => return not_found(),
        Err(error) => return unavailable(&error),
    };
    let image_type = record.detected_type.unwrap_or(record.declared_type);
    let key = ObjectKey::published(&record.target, &record.id);
    serve(&state, &key, id, image_type, IMMUTABLE, &headers).await
}

async fn live_image(
    State(state): State<MediaState>,
    Path((restaurant, slot)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (Ok(restaurant), Ok(slot)) = (RestaurantId::parse(&restaurant), Slot::parse(&slot)) else {
        return not_found();
    };
    let live = match state
        .restaurants
        .slot(&SlotRef::new(restaurant, slot))
        .await
    {
        Ok(slot) => match slot.live {
            Some(live) => live,
            None => return not_found(),
        },
        Err(error) => return unavailable(&error),
    };
    serve(
        &state,
        &live.key,
        live.upload,
        live.image_type,
        LIVE,
        &headers,
    )
    .await
}

async fn serve(
    state: &MediaState,
    key: &ObjectKey,
    upload: UploadId,
    image_type: ImageType,
    cache_control: &'static str,
    request: &HeaderMap,
) -> Response {
    // One upload's published bytes never change, so its id is a strong validator.
    let etag = format!("\"{upload}\"");
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    let matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    if matches {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    match state.objects.get(key).await {
        Ok(bytes) => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(image_type.mime()),
            );
            (StatusCode::OK, headers, bytes).into_response()
        }
        Err(vetted_core::ports::StoreError::NotFound(_)) => not_found(),
        Err(error) => unavailable(&error),
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such image").into_response()
}

fn unavailable(error: &dyn std::error::Error) -> Response {
    warn!(%error, "serving an image");
    (StatusCode::SERVICE_UNAVAILABLE, "try again shortly").into_response()
}
