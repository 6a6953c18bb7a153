//! The board (columns with their tickets, cached and sent with an `ETag`) and its columns.

use axum::extract::State as S;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use terarchitect_protocol::{Board, Column, ColumnId, ColumnPatch, ErrorBody, NewColumn, ProjectId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::User;
use super::extract::{Json, Path, Valid};
use super::{JsonResult, State};
use crate::Result;
use crate::domain;

pub(super) fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .routes(routes!(get_board))
        .routes(routes!(list_columns, create_column))
        .routes(routes!(update_column, delete_column))
}

#[utoipa::path(get, path = "/api/projects/{pid}/board", tag = "board", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = Board), (status = "4XX", body = ErrorBody)))]
/// Sends `ETag: "b<version>"`; a matching `If-None-Match` gets 304 and no body.
async fn get_board(_: User, s: S<State>, headers: HeaderMap, Path(pid): Path<ProjectId>) -> Result<Response> {
    let (version, body) = domain::projects::board_json(&s, pid).await?;
    super::versioned(&headers, &format!("b{version}"), body)
}

#[utoipa::path(get, path = "/api/projects/{pid}/columns", tag = "board", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = Vec<Column>), (status = "4XX", body = ErrorBody)))]
async fn list_columns(_: User, s: S<State>, Path(pid): Path<ProjectId>) -> JsonResult<Vec<Column>> {
    Ok(Json(domain::columns::list(&s, pid).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/columns", tag = "board", params(("pid" = Uuid, Path, description = "project id")), request_body = NewColumn, responses((status = 201, body = Column), (status = "4XX", body = ErrorBody)))]
async fn create_column(
    _: User,
    s: S<State>,
    Path(pid): Path<ProjectId>,
    Valid(c): Valid<NewColumn>,
) -> Result<(StatusCode, Json<Column>)> {
    Ok((StatusCode::CREATED, Json(domain::columns::create(&s, pid, &c).await?)))
}

#[utoipa::path(patch, path = "/api/projects/{pid}/columns/{cid}", tag = "board", params(("pid" = Uuid, Path, description = "project id"), ("cid" = Uuid, Path, description = "column id")), request_body = ColumnPatch, responses((status = 200, body = Column), (status = "4XX", body = ErrorBody)))]
async fn update_column(
    _: User,
    s: S<State>,
    Path((pid, cid)): Path<(ProjectId, ColumnId)>,
    Valid(c): Valid<ColumnPatch>,
) -> JsonResult<Column> {
    Ok(Json(domain::columns::update(&s, pid, cid, &c).await?))
}

#[utoipa::path(delete, path = "/api/projects/{pid}/columns/{cid}", tag = "board", params(("pid" = Uuid, Path, description = "project id"), ("cid" = Uuid, Path, description = "column id")), responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_column(_: User, s: S<State>, Path((pid, cid)): Path<(ProjectId, ColumnId)>) -> Result<StatusCode> {
    domain::columns::delete(&s, pid, cid).await?;
    Ok(StatusCode::NO_CONTENT)
}
