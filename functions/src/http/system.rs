//! `GET /api/health`: for load balancers and `./dev`, so without a token; it says only
//! whether the API and its database answer.

use axum::extract::State as S;
use terarchitect_protocol::{ErrorBody, Health};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Json;
use super::{JsonResult, State};
use crate::domain;

pub(super) fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new().routes(routes!(health))
}

#[utoipa::path(get, path = "/api/health", tag = "system", security(()), responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
async fn health(s: S<State>) -> JsonResult<Health> {
    domain::ops::database_answers(&s).await?;
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}
