//! The owners' upload routes.
//!
//! | route | what |
//! |---|---|
//! | `POST /api/uploads` | ask to upload: checks, writes the intent, returns a presigned POST or PUT, or begins a multipart upload |
//! | `GET /api/uploads` | the caller's uploads, newest first, paginated |
//! | `GET /api/uploads/{id}` | one of the caller's uploads; anyone else's is 404 |
//! | `PUT /api/uploads/{id}/content` | proxy upload for clients that cannot reach the bucket |
//! | `GET`, `POST /api/uploads/{id}/parts` | a multipart upload's parts: listed, or signed ([`multipart`]) |
//! | `POST /api/uploads/{id}/complete` | completes a multipart upload |
//! | `POST /api/uploads/{id}/withdraw` | take back a request no moderator has decided yet |

mod create;
pub mod multipart;
mod proxy;
pub mod quota;
mod read;
pub mod views;
mod withdraw;

use axum::Router;
use axum::routing::{get, post, put};

use crate::ApiState;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/api/uploads",
            get(read::list_uploads).post(create::create_upload),
        )
        .route("/api/uploads/{id}", get(read::get_upload))
        .route("/api/uploads/{id}/content", put(proxy::put_content))
        .route(
            "/api/uploads/{id}/parts",
            get(multipart::list_parts).post(multipart::sign_parts),
        )
        .route(
            "/api/uploads/{id}/complete",
            post(multipart::complete_upload),
        )
        .route(
            "/api/uploads/{id}/withdraw",
            post(withdraw::withdraw_upload),
        )
}

/// Where a multipart upload's parts are listed and signed.
pub fn parts_path(id: &vetted_core::UploadId) -> String {
    format!("/api/uploads/{id}/parts")
}

/// The path of the proxy upload for one upload.
pub fn content_path(id: &vetted_core::UploadId) -> String {
    format!("/api/uploads/{id}/content")
}
