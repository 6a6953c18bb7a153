//! Checking a git remote before a project is saved.

use axum::extract::State as S;
use terarchitect_protocol::{ErrorBody, RepoCheck, RepoCheckRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::User;
use super::extract::{Json, Valid};
use super::{JsonResult, State};
use crate::domain;

pub(super) fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new().routes(routes!(check_repository))
}

#[utoipa::path(post, path = "/api/repository/check", tag = "projects", request_body = RepoCheckRequest, responses((status = 200, body = RepoCheck), (status = "4XX", body = ErrorBody)))]
/// Lists the remote's branches and its default branch (a `git ls-remote` over https, with
/// the GitHub token only for the GitHub it belongs to); says why when it cannot.
async fn check_repository(_: User, s: S<State>, Valid(r): Valid<RepoCheckRequest>) -> JsonResult<RepoCheck> {
    Ok(Json(domain::repository::check(&s, &r).await?))
}
