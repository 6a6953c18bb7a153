//! HTTP surface: one axum `Router` per Lambda function, thin handlers over `domain`.

pub mod api;
pub mod auth;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod worker;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;

use crate::domain::App;

pub type State = Arc<App>;

/// Largest request body accepted (log batches are the biggest legitimate ones).
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// The UI-facing API (`api` function).
pub fn api_router(app: App) -> Router {
    api::routes()
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(Arc::new(app))
}

/// The API plus the built UI from `dir` on the same origin (single-box deployments and
/// browser tests; in AWS, CloudFront serves the UI from S3). Unknown non-API paths get
/// `index.html` so the UI's own routes survive a reload.
pub fn api_router_with_ui(app: App, dir: &std::path::Path) -> Router {
    let index = tower_http::services::ServeFile::new(dir.join("index.html"));
    let ui = tower_http::services::ServeDir::new(dir).fallback(index);
    api::routes()
        .route("/api/{*rest}", axum::routing::any(error::not_found)) // unknown API paths stay JSON 404s
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .method_not_allowed_fallback(error::method_not_allowed)
        .fallback_service(ui)
        .with_state(Arc::new(app))
}

/// The worker-host and agent API (`worker-api` function).
pub fn worker_router(app: App) -> Router {
    worker::routes()
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(Arc::new(app))
}
