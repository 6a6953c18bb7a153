//! Notes on the architecture graph.

use axum::extract::State as S;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use terarchitect_protocol::{ErrorBody, NewNote, Note, NoteId, NotePatch, ProjectId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::User;
use super::extract::{Json, Path, Query, Valid};
use super::page::{self, PageQuery};
use super::{JsonResult, State};
use crate::Result;
use crate::domain;

pub(super) fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .routes(routes!(list_notes, create_note))
        .routes(routes!(update_note, delete_note))
}

#[utoipa::path(get, path = "/api/projects/{pid}/notes", tag = "notes", params(("pid" = Uuid, Path, description = "project id"), ("limit" = Option<i64>, Query, description = "page size, 1 to 200 (default 50)"), ("cursor" = Option<String>, Query, description = "the previous page's cursor, from its `Link` header")), responses((status = 200, body = Vec<Note>, headers(("link" = String, description = "`<url>; rel=\"next\"` while another page follows"))), (status = "4XX", body = ErrorBody)))]
/// Paged, oldest first: follow `Link: <…>; rel="next"` until it is absent.
async fn list_notes(
    _: User,
    s: S<State>,
    uri: Uri,
    Path(pid): Path<ProjectId>,
    Query(q): Query<PageQuery>,
) -> Result<Response> {
    let req = q.request()?;
    Ok(page::respond(&uri, &req, domain::notes::list(&s, pid, req).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/notes", tag = "notes", params(("pid" = Uuid, Path, description = "project id")), request_body = NewNote, responses((status = 201, body = Note), (status = "4XX", body = ErrorBody)))]
async fn create_note(
    _: User,
    s: S<State>,
    Path(pid): Path<ProjectId>,
    Valid(n): Valid<NewNote>,
) -> Result<(StatusCode, Json<Note>)> {
    Ok((StatusCode::CREATED, Json(domain::notes::create(&s, pid, &n).await?)))
}

#[utoipa::path(patch, path = "/api/projects/{pid}/notes/{nid}", tag = "notes", params(("pid" = Uuid, Path, description = "project id"), ("nid" = Uuid, Path, description = "note id")), request_body = NotePatch, responses((status = 200, body = Note), (status = "4XX", body = ErrorBody)))]
async fn update_note(
    _: User,
    s: S<State>,
    Path((pid, nid)): Path<(ProjectId, NoteId)>,
    Valid(n): Valid<NotePatch>,
) -> JsonResult<Note> {
    Ok(Json(domain::notes::update(&s, pid, nid, &n).await?))
}

#[utoipa::path(delete, path = "/api/projects/{pid}/notes/{nid}", tag = "notes", params(("pid" = Uuid, Path, description = "project id"), ("nid" = Uuid, Path, description = "note id")), responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_note(_: User, s: S<State>, Path((pid, nid)): Path<(ProjectId, NoteId)>) -> Result<StatusCode> {
    domain::notes::delete(&s, pid, nid).await?;
    Ok(StatusCode::NO_CONTENT)
}
