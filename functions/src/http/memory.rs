//! A project's memory (index, retrieve, delete) and OpenAI-compatible embeddings through
//! the globally configured service.

use axum::extract::State as S;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use terarchitect_protocol::{
    ErrorBody, MemoryDeleted, MemoryDocs, MemoryIndexed, MemoryQuery, MemoryResults, ProjectId,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::User;
use super::extract::{Json, Path, Valid};
use super::{JsonResult, State};
use crate::Result;
use crate::domain;

pub(super) fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .routes(routes!(memory_index))
        .routes(routes!(memory_retrieve))
        .routes(routes!(memory_delete))
        .routes(routes!(embeddings))
}

#[utoipa::path(post, path = "/api/projects/{pid}/memory/index", tag = "memory", params(("pid" = Uuid, Path, description = "project id")), request_body = MemoryDocs, responses((status = 200, body = MemoryIndexed), (status = "4XX", body = ErrorBody)))]
async fn memory_index(
    _: User,
    s: S<State>,
    Path(pid): Path<ProjectId>,
    Valid(d): Valid<MemoryDocs>,
) -> JsonResult<MemoryIndexed> {
    Ok(Json(domain::memory::index(&s, pid, &d).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/memory/retrieve", tag = "memory", params(("pid" = Uuid, Path, description = "project id")), request_body = MemoryQuery, responses((status = 200, body = MemoryResults), (status = "4XX", body = ErrorBody)))]
async fn memory_retrieve(
    _: User,
    s: S<State>,
    Path(pid): Path<ProjectId>,
    Valid(q): Valid<MemoryQuery>,
) -> JsonResult<MemoryResults> {
    Ok(Json(domain::memory::retrieve(&s, pid, &q).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/memory/delete", tag = "memory", params(("pid" = Uuid, Path, description = "project id")), request_body = MemoryDocs, responses((status = 200, body = MemoryDeleted), (status = "4XX", body = ErrorBody)))]
async fn memory_delete(
    _: User,
    s: S<State>,
    Path(pid): Path<ProjectId>,
    Valid(d): Valid<MemoryDocs>,
) -> JsonResult<MemoryDeleted> {
    Ok(Json(domain::memory::delete(&s, pid, &d).await?))
}

#[utoipa::path(post, path = "/v1/embeddings", tag = "memory", request_body = serde_json::Value, responses((status = 200, body = serde_json::Value), (status = "4XX", body = ErrorBody)))]
/// OpenAI-compatible embeddings, forwarded to the globally configured service.
async fn embeddings(_: User, s: S<State>, Json(body): Json<serde_json::Value>) -> Result<Response> {
    let (status, body) = domain::memory::forward_embeddings(&s, None, body).await?;
    Ok(forwarded(status, body))
}

/// The embeddings service's answer, passed on (a status it should not send becomes 502:
/// a redirect, which is never followed, among them).
pub(super) fn forwarded(status: u16, body: serde_json::Value) -> Response {
    let status = StatusCode::from_u16(status)
        .ok()
        .filter(|s| s.is_success() || s.is_client_error() || s.is_server_error())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    (status, axum::Json(body)).into_response()
}
