//! The HTTP API: uploads for owners, reviews for moderators, one axum Router.
