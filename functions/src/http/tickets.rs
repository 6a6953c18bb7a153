//! Tickets: created, edited, deleted, moved across the board (which queues and cancels
//! jobs), and their comments.

use axum::extract::State as S;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use terarchitect_protocol::{
    ErrorBody, MoveOutcome, NewComment, NewTicket, ProjectId, Ticket, TicketComment, TicketId, TicketMove, TicketPatch,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::User;
use super::extract::{Json, Path, Query, Valid};
use super::page::{self, PageQuery};
use super::{JsonResult, State, idempotency};
use crate::Result;
use crate::domain;

pub(super) fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .routes(routes!(create_ticket))
        .routes(routes!(get_ticket, update_ticket, delete_ticket))
        .routes(routes!(move_ticket))
        .routes(routes!(list_comments, add_comment))
}

#[utoipa::path(post, path = "/api/projects/{pid}/tickets", tag = "tickets", params(("pid" = Uuid, Path, description = "project id")), request_body = NewTicket, responses((status = 201, body = Ticket), (status = "4XX", body = ErrorBody)))]
async fn create_ticket(
    _: User,
    s: S<State>,
    Path(pid): Path<ProjectId>,
    Valid(t): Valid<NewTicket>,
) -> Result<(StatusCode, Json<Ticket>)> {
    Ok((StatusCode::CREATED, Json(domain::tickets::create(&s, pid, &t).await?)))
}

#[utoipa::path(get, path = "/api/projects/{pid}/tickets/{tid}", tag = "tickets", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), responses((status = 200, body = Ticket), (status = "4XX", body = ErrorBody)))]
async fn get_ticket(_: User, s: S<State>, Path((pid, tid)): Path<(ProjectId, TicketId)>) -> JsonResult<Ticket> {
    Ok(Json(domain::tickets::get(&s, pid, tid).await?))
}

#[utoipa::path(patch, path = "/api/projects/{pid}/tickets/{tid}", tag = "tickets", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), request_body = TicketPatch, responses((status = 200, body = Ticket), (status = "4XX", body = ErrorBody)))]
async fn update_ticket(
    _: User,
    s: S<State>,
    Path((pid, tid)): Path<(ProjectId, TicketId)>,
    Valid(p): Valid<TicketPatch>,
) -> JsonResult<Ticket> {
    Ok(Json(domain::tickets::update(&s, pid, tid, &p).await?))
}

#[utoipa::path(delete, path = "/api/projects/{pid}/tickets/{tid}", tag = "tickets", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_ticket(_: User, s: S<State>, Path((pid, tid)): Path<(ProjectId, TicketId)>) -> Result<StatusCode> {
    domain::tickets::delete(&s, pid, tid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/projects/{pid}/tickets/{tid}/move", tag = "tickets", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), request_body = TicketMove, responses((status = 200, body = MoveOutcome), (status = "4XX", body = ErrorBody)))]
/// Honours `Idempotency-Key`: a repeated request gets the first response again.
async fn move_ticket(
    User(token): User,
    s: S<State>,
    headers: HeaderMap,
    Path((pid, tid)): Path<(ProjectId, TicketId)>,
    Valid(mv): Valid<TicketMove>,
) -> Result<Response> {
    let moved = domain::tickets::move_ticket(&s, pid, tid, &mv);
    idempotency::once(&s, &token, &headers, &(pid, tid, &mv), moved).await
}

#[utoipa::path(get, path = "/api/projects/{pid}/tickets/{tid}/comments", tag = "tickets", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id"), ("limit" = Option<i64>, Query, description = "page size, 1 to 200 (default 50)"), ("cursor" = Option<String>, Query, description = "the previous page's cursor, from its `Link` header")), responses((status = 200, body = Vec<TicketComment>, headers(("link" = String, description = "`<url>; rel=\"next\"` while another page follows"))), (status = "4XX", body = ErrorBody)))]
/// Paged, oldest first: follow `Link: <…>; rel="next"` until it is absent.
async fn list_comments(
    _: User,
    s: S<State>,
    uri: Uri,
    Path((pid, tid)): Path<(ProjectId, TicketId)>,
    Query(q): Query<PageQuery>,
) -> Result<Response> {
    let req = q.request()?;
    Ok(page::respond(
        &uri,
        &req,
        domain::comments::list(&s, pid, tid, req).await?,
    ))
}

#[utoipa::path(post, path = "/api/projects/{pid}/tickets/{tid}/comments", tag = "tickets", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), request_body = NewComment, responses((status = 201, body = TicketComment), (status = "4XX", body = ErrorBody)))]
async fn add_comment(
    User(token): User,
    s: S<State>,
    Path((pid, tid)): Path<(ProjectId, TicketId)>,
    Valid(c): Valid<NewComment>,
) -> Result<(StatusCode, Json<TicketComment>)> {
    let comment = domain::comments::add(&s, pid, tid, &token.name, &c).await?;
    Ok((StatusCode::CREATED, Json(comment)))
}
