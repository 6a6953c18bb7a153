//! The architecture graph.

use axum::extract::State as S;
use axum::http::HeaderMap;
use axum::response::Response;
use terarchitect_protocol::{ErrorBody, Graph, GraphChange, ProjectId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::User;
use super::extract::{Json, Path, Valid};
use super::{JsonResult, State};
use crate::{Result, domain};

pub(super) fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new().routes(routes!(get_graph, replace_graph, patch_graph))
}

#[utoipa::path(get, path = "/api/projects/{pid}/graph", tag = "graph", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = Graph), (status = "4XX", body = ErrorBody)))]
/// Sends `ETag: "g<version>"`; a matching `If-None-Match` gets 304 and no body.
async fn get_graph(_: User, s: S<State>, headers: HeaderMap, Path(pid): Path<ProjectId>) -> Result<Response> {
    let (version, body) = domain::graph::graph_json(&s, pid).await?;
    super::versioned(&headers, &format!("g{version}"), body)
}

#[utoipa::path(put, path = "/api/projects/{pid}/graph", tag = "graph", params(("pid" = Uuid, Path, description = "project id")), request_body = GraphChange, responses((status = 200, body = Graph), (status = "4XX", body = ErrorBody)))]
async fn replace_graph(
    _: User,
    s: S<State>,
    Path(pid): Path<ProjectId>,
    Valid(c): Valid<GraphChange>,
) -> JsonResult<Graph> {
    Ok(Json(domain::graph::replace(&s, pid, &c).await?))
}

#[utoipa::path(patch, path = "/api/projects/{pid}/graph", tag = "graph", params(("pid" = Uuid, Path, description = "project id")), request_body = GraphChange, responses((status = 200, body = Graph), (status = "4XX", body = ErrorBody)))]
async fn patch_graph(
    _: User,
    s: S<State>,
    Path(pid): Path<ProjectId>,
    Valid(c): Valid<GraphChange>,
) -> JsonResult<Graph> {
    Ok(Json(domain::graph::patch(&s, pid, &c).await?))
}
