//! Pull request review from the UI. GitHub's failures: 404 `no_pull_request` /
//! `pull_request_not_found`, 409 `github_not_configured` / `not_mergeable` /
//! `github_refused` / `foreign_pull_request` (approve and merge: the PR is not the
//! ticket's own), 502 `github_unavailable` / `github_rejected`.

use axum::extract::State as S;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use terarchitect_protocol::{
    ErrorBody, MergeOutcome, NewPrComment, PrApproval, PrComment, PrMerge, PrReview, ProjectId, ReviewListItem,
    ReviewSummary, TicketId,
};
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
        .routes(routes!(review_summary))
        .routes(routes!(review_comment))
        .routes(routes!(review_approve))
        .routes(routes!(review_merge))
        .routes(routes!(review_list))
}

#[utoipa::path(get, path = "/api/projects/{pid}/tickets/{tid}/review", tag = "review", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), responses((status = 200, body = ReviewSummary), (status = "4XX", body = ErrorBody), (status = 502, body = ErrorBody, description = "GitHub unreachable or refused the token")))]
/// The ticket's pull request: commits, test files and the tests they add, comments, reviews.
async fn review_summary(
    _: User,
    s: S<State>,
    Path((pid, tid)): Path<(ProjectId, TicketId)>,
) -> JsonResult<ReviewSummary> {
    Ok(Json(domain::review::summary(&s, pid, tid).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/tickets/{tid}/review/comments", tag = "review", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), request_body = NewPrComment, responses((status = 201, body = PrComment), (status = "4XX", body = ErrorBody), (status = 502, body = ErrorBody, description = "GitHub unreachable or refused the token")))]
/// Posts a comment on the pull request's conversation.
async fn review_comment(
    _: User,
    s: S<State>,
    Path((pid, tid)): Path<(ProjectId, TicketId)>,
    Valid(c): Valid<NewPrComment>,
) -> Result<(StatusCode, Json<PrComment>)> {
    Ok((
        StatusCode::CREATED,
        Json(domain::review::comment(&s, pid, tid, &c).await?),
    ))
}

#[utoipa::path(post, path = "/api/projects/{pid}/tickets/{tid}/review/approve", tag = "review", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), request_body = PrApproval, responses((status = 200, body = PrReview), (status = "4XX", body = ErrorBody), (status = 502, body = ErrorBody, description = "GitHub unreachable or refused the token")))]
/// Approves the pull request's current head.
async fn review_approve(
    _: User,
    s: S<State>,
    Path((pid, tid)): Path<(ProjectId, TicketId)>,
    Valid(a): Valid<PrApproval>,
) -> JsonResult<PrReview> {
    Ok(Json(domain::review::approve(&s, pid, tid, &a).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/tickets/{tid}/review/merge", tag = "review", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), request_body = PrMerge, responses((status = 200, body = MergeOutcome), (status = "4XX", body = ErrorBody), (status = 502, body = ErrorBody, description = "GitHub unreachable or refused the token")))]
/// Merges the pull request (squash by default) and moves the ticket to Done.
async fn review_merge(
    _: User,
    s: S<State>,
    Path((pid, tid)): Path<(ProjectId, TicketId)>,
    Json(m): Json<PrMerge>,
) -> JsonResult<MergeOutcome> {
    Ok(Json(domain::review::merge(&s, pid, tid, &m).await?))
}

#[utoipa::path(get, path = "/api/projects/{pid}/review", tag = "review", params(("pid" = Uuid, Path, description = "project id"), ("limit" = Option<i64>, Query, description = "page size, 1 to 200 (default 50)"), ("cursor" = Option<String>, Query, description = "the previous page's cursor, from its `Link` header")), responses((status = 200, body = Vec<ReviewListItem>, headers(("link" = String, description = "`<url>; rel=\"next\"` while another page follows"))), (status = "4XX", body = ErrorBody)))]
/// Tickets in In Review with a pull request, each with its PR's state (or why it could not be
/// read). Paged, oldest ticket first: follow `Link: <…>; rel="next"` until it is absent.
async fn review_list(
    _: User,
    s: S<State>,
    uri: Uri,
    Path(pid): Path<ProjectId>,
    Query(q): Query<PageQuery>,
) -> Result<Response> {
    let req = q.request()?;
    Ok(page::respond(&uri, &req, domain::review::list(&s, pid, req).await?))
}
