//! HTTP surface: one axum `Router` per Lambda function, thin handlers over `domain`.

pub mod api;
pub mod auth;
pub mod error;
pub mod extract;
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
        .with_state(Arc::new(app))
}

/// The worker-host and agent API (`worker-api` function).
pub fn worker_router(app: App) -> Router {
    worker::routes()
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .fallback(error::not_found)
        .with_state(Arc::new(app))
}
