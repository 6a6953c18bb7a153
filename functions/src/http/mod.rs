//! HTTP surface: one axum `Router` per Lambda function, thin handlers over `domain`.
//!
//! Each aggregate's module declares its routes once, with their OpenAPI entries
//! (`utoipa_axum::routes!` over the handlers' `#[utoipa::path]`); the lists below put
//! them together for the `api` and `worker-api` functions and for the OpenAPI document.

pub mod auth;
pub mod error;
pub mod extract;
pub mod openapi;

mod board;
mod graph;
mod idempotency;
mod jobs;
mod memory;
mod notes;
mod page;
mod projects;
mod repository;
mod review;
mod settings;
mod system;
mod tickets;
mod worker;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa_axum::router::OpenApiRouter;

use crate::domain::App;

pub type State = Arc<App>;

type JsonResult<T> = crate::Result<extract::Json<T>>;

/// A cached read's JSON `body` with `ETag: "{tag}"`; 304 and no body when the client's
/// `If-None-Match` is that tag.
fn versioned(
    headers: &axum::http::HeaderMap,
    tag: &str,
    body: axum::body::Bytes,
) -> crate::Result<axum::response::Response> {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let etag = format!("\"{tag}\"");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    let value = etag.parse().map_err(|_| crate::Error::Internal("etag".into()))?;
    res.headers_mut().insert(header::ETAG, value);
    Ok(res)
}

/// Largest request body accepted (log batches are the biggest legitimate ones).
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// Every UI-facing route (`api` function) with its OpenAPI entry.
fn api_routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .merge(system::routes())
        .merge(projects::routes())
        .merge(repository::routes())
        .merge(graph::routes())
        .merge(board::routes())
        .merge(tickets::routes())
        .merge(review::routes())
        .merge(jobs::routes())
        .merge(notes::routes())
        .merge(settings::routes())
        .merge(memory::routes())
}

/// Every worker-host and agent route (`worker-api` function) with its OpenAPI entry.
fn worker_routes() -> OpenApiRouter<State> {
    worker::routes()
}

/// The UI-facing routes plus the OpenAPI document itself.
fn api_routes_and_doc() -> Router<State> {
    Router::from(api_routes()).route("/api/openapi.json", axum::routing::get(openapi::serve))
}

/// The UI-facing API (`api` function).
pub fn api_router(app: App) -> Router {
    api_routes_and_doc()
        .layer(axum::middleware::from_fn(run_to_completion))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(Arc::new(app))
}

/// The headers the UI and the API are served with, here and by CloudFront in AWS
/// (infra/template.yaml's `SecurityHeaders`, which a test holds to these): one origin for
/// everything (the WASM app needs 'wasm-unsafe-eval'), no inline scripts, never framed.
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; \
         object-src 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

/// The API plus the built UI from `dir` on the same origin (single-box deployments and
/// browser tests; in AWS, CloudFront serves the UI from S3). Unknown non-API paths get
/// `index.html` so the UI's own routes survive a reload.
pub fn api_router_with_ui(app: App, dir: &std::path::Path) -> Router {
    let index = tower_http::services::ServeFile::new(dir.join("index.html"));
    let ui = tower_http::services::ServeDir::new(dir).fallback(index);
    let mut router = api_routes_and_doc()
        .route("/api/{*rest}", axum::routing::any(error::not_found)) // unknown API paths stay JSON 404s
        .layer(axum::middleware::from_fn(run_to_completion))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .method_not_allowed_fallback(error::method_not_allowed)
        .fallback_service(ui);
    for (name, value) in SECURITY_HEADERS {
        router = router.layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            axum::http::HeaderName::from_static(name),
            axum::http::HeaderValue::from_static(value),
        ));
    }
    router.with_state(Arc::new(app))
}

/// The worker-host and agent API (`worker-api` function).
pub fn worker_router(app: App) -> Router {
    machine_router(worker_routes(), app)
}

/// The agents' routes alone (`worker-api` with `WORKER_API_ROUTES=agent`): in AWS behind a
/// function URL with a long timeout, while the worker hosts' routes stay private.
pub fn agent_router(app: App) -> Router {
    machine_router(worker::agent_routes(), app)
}

fn machine_router(routes: OpenApiRouter<State>, app: App) -> Router {
    Router::from(routes)
        .layer(axum::middleware::from_fn(run_to_completion))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(Arc::new(app))
}

/// Runs each request to completion in a task of its own, even when its client goes away (a
/// worker host killed mid-request, a closed browser tab): a handler dropped halfway, say
/// between queueing `BEGIN` and reading its answer, could hand its connection back to the
/// pool inside a transaction that the next request on it then trips over.
async fn run_to_completion(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::spawn(next.run(req)).await {
        Ok(response) => response,
        Err(e) => crate::Error::Internal(format!("the request's handler failed: {e}")).into_response(),
    }
}
