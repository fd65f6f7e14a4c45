//! The moderators' review routes.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/reviews?status=pending` | uploads waiting for a decision, oldest first, paginated, each with a short-lived preview URL |
//! | `POST /api/reviews/{id}/decision` | approve or decline; 409 if already decided, 410 if the review timed out |
//!
//! Only callers with the `moderators` role get here ([`crate::auth::ModeratorCaller`]); an
//! owner gets 403. The task token that a decision answers stays on the server: it is read
//! from the record by the core's `Review::decide` and appears in no response.

mod decide;
mod queue;
pub mod views;

use axum::Router;
use axum::routing::{get, post};

use crate::ApiState;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/reviews", get(queue::pending))
        .route("/api/reviews/{id}/decision", post(decide::decide))
}
