//! A ticket's jobs, one job, its log, and cancelling or retrying it.

use axum::extract::State as S;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use terarchitect_protocol::{ErrorBody, EventPage, Job, JobId, ProjectId, TicketId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::User;
use super::extract::{Json, Path, Query};
use super::page::{self, PageQuery};
use super::{JsonResult, State};
use crate::Result;
use crate::domain;

pub(super) fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(get_job))
        .routes(routes!(job_events))
        .routes(routes!(cancel_job))
        .routes(routes!(retry_job))
}

#[utoipa::path(get, path = "/api/projects/{pid}/tickets/{tid}/jobs", tag = "jobs", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id"), ("limit" = Option<i64>, Query, description = "page size, 1 to 200 (default 50)"), ("cursor" = Option<String>, Query, description = "the previous page's cursor, from its `Link` header")), responses((status = 200, body = Vec<Job>, headers(("link" = String, description = "`<url>; rel=\"next\"` while another page follows"))), (status = "4XX", body = ErrorBody)))]
/// Paged, newest first: follow `Link: <…>; rel="next"` until it is absent.
async fn list_jobs(
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
        domain::jobs::of_ticket(&s, pid, tid, req).await?,
    ))
}

#[utoipa::path(get, path = "/api/projects/{pid}/jobs/{jid}", tag = "jobs", params(("pid" = Uuid, Path, description = "project id"), ("jid" = Uuid, Path, description = "job id")), responses((status = 200, body = Job), (status = "4XX", body = ErrorBody)))]
async fn get_job(_: User, s: S<State>, Path((pid, jid)): Path<(ProjectId, JobId)>) -> JsonResult<Job> {
    Ok(Json(domain::jobs::of_project(&s, pid, jid).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    200
}

#[utoipa::path(get, path = "/api/projects/{pid}/jobs/{jid}/events", tag = "jobs", params(("pid" = Uuid, Path, description = "project id"), ("jid" = Uuid, Path, description = "job id"), ("after" = Option<i64>, Query, description = "only events with seq > after"), ("limit" = Option<i64>, Query, description = "page size, 1 to 1000 (default 200)")), responses((status = 200, body = EventPage), (status = "4XX", body = ErrorBody)))]
async fn job_events(
    _: User,
    s: S<State>,
    Path((pid, jid)): Path<(ProjectId, JobId)>,
    Query(q): Query<EventsQuery>,
) -> Result<Response> {
    domain::jobs::of_project(&s, pid, jid).await?;
    let body = domain::jobs::events_json(&s, jid, q.after, q.limit).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[utoipa::path(post, path = "/api/projects/{pid}/jobs/{jid}/cancel", tag = "jobs", params(("pid" = Uuid, Path, description = "project id"), ("jid" = Uuid, Path, description = "job id")), responses((status = 200, body = Job), (status = "4XX", body = ErrorBody)))]
async fn cancel_job(_: User, s: S<State>, Path((pid, jid)): Path<(ProjectId, JobId)>) -> JsonResult<Job> {
    Ok(Json(domain::jobs::cancel(&s, pid, jid).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/jobs/{jid}/retry", tag = "jobs", params(("pid" = Uuid, Path, description = "project id"), ("jid" = Uuid, Path, description = "job id")), responses((status = 201, body = Job), (status = "4XX", body = ErrorBody)))]
async fn retry_job(
    _: User,
    s: S<State>,
    Path((pid, jid)): Path<(ProjectId, JobId)>,
) -> Result<(StatusCode, Json<Job>)> {
    Ok((StatusCode::CREATED, Json(domain::jobs::retry(&s, pid, jid).await?)))
}
