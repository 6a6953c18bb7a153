//! The OpenAPI document: the document-level parts (info, security) here, the paths from
//! the route lists in `http` (each route's `#[utoipa::path]`). Served at
//! `GET /api/openapi.json` and committed as `docs/openapi.json` (a test keeps the two
//! identical).

use std::sync::OnceLock;

use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::auth::User;

#[derive(OpenApi)]
#[openapi(
    info(title = "Terarchitect API", description = "UI-facing API (user tokens), worker-host API (worker tokens) and agent API (job tokens). Every route needs `Authorization: Bearer <token>`."),
    modifiers(&Bearer),
    security(("bearer" = []))
)]
struct ApiDoc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The whole document: the UI-facing routes, then the worker-host and agent routes (a
/// path both declare, `/v1/embeddings`, is documented as the UI-facing one).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(super::api_routes().into_openapi());
    doc.merge(super::worker_routes().into_openapi());
    doc
}

/// The document as pretty JSON, as committed in docs/openapi.json.
pub fn json() -> String {
    document().to_pretty_json().expect("the OpenAPI document serialises")
}

/// `GET /api/openapi.json`.
pub(super) async fn serve(_: User) -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        JSON.get_or_init(json).as_str(),
    )
        .into_response()
}
