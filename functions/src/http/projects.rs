//! Projects.

use axum::extract::State as S;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use terarchitect_protocol::{ErrorBody, NewProject, Project, ProjectId, ProjectPatch, ProjectUsage};
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

#[utoipa::path(get, path = "/api/projects/{pid}/usage", tag = "projects", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = ProjectUsage), (status = "4XX", body = ErrorBody)))]
/// The project's LLM usage (every call its jobs made through the gateway, metered from the
/// upstreams' own `usage` fields and priced by `llm_prices`) and its budgets.
async fn project_usage(_: User, s: S<State>, Path(pid): Path<ProjectId>) -> JsonResult<ProjectUsage> {
    let t = domain::gateway::project_usage(&s, pid).await?;
    let budget = domain::settings::budget(&s, pid).await?;
    Ok(Json(ProjectUsage {
        calls: t.calls,
        input_tokens: t.input_tokens,
        output_tokens: t.output_tokens,
        budget_tokens: budget.project_tokens,
        ticket_budget_tokens: budget.ticket_tokens,
        cost_nano_usd: t.cost_nano_usd,
        budget_nano_usd: budget.project_nano_usd,
        ticket_budget_nano_usd: budget.ticket_nano_usd,
    }))
}

#[utoipa::path(get, path = "/api/projects", tag = "projects", params(("limit" = Option<i64>, Query, description = "page size, 1 to 200 (default 50)"), ("cursor" = Option<String>, Query, description = "the previous page's cursor, from its `Link` header")), responses((status = 200, body = Vec<Project>, headers(("link" = String, description = "`<url>; rel=\"next\"` while another page follows"))), (status = "4XX", body = ErrorBody)))]
/// Paged, oldest first: follow `Link: <…>; rel="next"` until it is absent. Sends
/// `ETag: "p<version>"` (the list's version); a matching `If-None-Match` gets 304.
async fn list_projects(
    _: User,
    s: S<State>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response> {
    let req = q.request()?;
    let (version, body, next) = domain::projects::list_json(&s, req).await?;
    let res = super::versioned(&headers, &format!("p{version}"), body)?;
    Ok(page::with_link(res, &uri, &req, next))
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
