//! Projects.

use axum::extract::State as S;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use terarchitect_protocol::{ErrorBody, NewProject, Project, ProjectId, ProjectPatch};
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
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project, update_project, delete_project))
        .routes(routes!(project_usage))
}

/// LLM usage metered by the gateway from the upstreams' own `usage` fields.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct UsageTotals {
    /// Successful LLM calls.
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

#[utoipa::path(get, path = "/api/projects/{pid}/usage", tag = "projects", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = UsageTotals), (status = "4XX", body = ErrorBody)))]
/// The project's LLM usage: every call its jobs made through the gateway.
async fn project_usage(_: User, s: S<State>, Path(pid): Path<ProjectId>) -> JsonResult<UsageTotals> {
    let t = domain::gateway::project_usage(&s, pid).await?;
    Ok(Json(UsageTotals {
        calls: t.calls,
        input_tokens: t.input_tokens,
        output_tokens: t.output_tokens,
    }))
}

#[utoipa::path(get, path = "/api/projects", tag = "projects", params(("limit" = Option<i64>, Query, description = "page size, 1 to 200 (default 50)"), ("cursor" = Option<String>, Query, description = "the previous page's cursor, from its `Link` header")), responses((status = 200, body = Vec<Project>, headers(("link" = String, description = "`<url>; rel=\"next\"` while another page follows"))), (status = "4XX", body = ErrorBody)))]
/// Paged, oldest first: follow `Link: <…>; rel="next"` until it is absent.
async fn list_projects(_: User, s: S<State>, uri: Uri, Query(q): Query<PageQuery>) -> Result<Response> {
    let req = q.request()?;
    Ok(page::respond(&uri, &req, domain::projects::list(&s, req).await?))
}

#[utoipa::path(post, path = "/api/projects", tag = "projects", request_body = NewProject, responses((status = 201, body = Project), (status = "4XX", body = ErrorBody)))]
async fn create_project(_: User, s: S<State>, Valid(p): Valid<NewProject>) -> Result<(StatusCode, Json<Project>)> {
    Ok((StatusCode::CREATED, Json(domain::projects::create(&s, &p).await?)))
}

#[utoipa::path(get, path = "/api/projects/{pid}", tag = "projects", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = Project), (status = "4XX", body = ErrorBody)))]
async fn get_project(_: User, s: S<State>, Path(pid): Path<ProjectId>) -> JsonResult<Project> {
    Ok(Json(domain::projects::get(&s, pid).await?))
}

#[utoipa::path(patch, path = "/api/projects/{pid}", tag = "projects", params(("pid" = Uuid, Path, description = "project id")), request_body = ProjectPatch, responses((status = 200, body = Project), (status = "4XX", body = ErrorBody)))]
async fn update_project(
    _: User,
    s: S<State>,
    Path(pid): Path<ProjectId>,
    Valid(p): Valid<ProjectPatch>,
) -> JsonResult<Project> {
    Ok(Json(domain::projects::update(&s, pid, &p).await?))
}

#[utoipa::path(delete, path = "/api/projects/{pid}", tag = "projects", params(("pid" = Uuid, Path, description = "project id")), responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_project(_: User, s: S<State>, Path(pid): Path<ProjectId>) -> Result<StatusCode> {
    domain::projects::delete(&s, pid).await?;
    Ok(StatusCode::NO_CONTENT)
}
