//! The architecture graph.

use axum::extract::State as S;
use terarchitect_protocol::{ErrorBody, Graph, GraphChange, ProjectId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::User;
use super::extract::{Json, Path, Valid};
use super::{JsonResult, State};
use crate::domain;

pub(super) fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new().routes(routes!(get_graph, replace_graph, patch_graph))
}

#[utoipa::path(get, path = "/api/projects/{pid}/graph", tag = "graph", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = Graph), (status = "4XX", body = ErrorBody)))]
async fn get_graph(_: User, s: S<State>, Path(pid): Path<ProjectId>) -> JsonResult<Graph> {
    Ok(Json(domain::graph::get(&s, pid).await?))
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
