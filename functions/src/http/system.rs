//! `GET /api/health`.

use terarchitect_protocol::{ErrorBody, Health};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::State;
use super::auth::User;
use super::extract::Json;

pub(super) fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new().routes(routes!(health))
}

#[utoipa::path(get, path = "/api/health", tag = "system", responses((status = 200, body = Health), (status = "4XX", body = ErrorBody)))]
async fn health(_: User) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}
