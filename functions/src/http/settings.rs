//! Global and per-project settings (secrets are write-only here) and the connection check.

use axum::extract::State as S;
use terarchitect_protocol::{ErrorBody, ProjectId, SettingView, SettingsCheck, SettingsUpdate};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::User;
use super::extract::{Json, Path};
use super::{JsonResult, State};
use crate::domain;

pub(super) fn routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .routes(routes!(global_settings, put_global_settings))
        .routes(routes!(check_global_settings))
        .routes(routes!(project_settings, put_project_settings))
        .routes(routes!(check_project_settings))
}

#[utoipa::path(get, path = "/api/settings", tag = "settings", responses((status = 200, body = Vec<SettingView>), (status = "4XX", body = ErrorBody)))]
async fn global_settings(_: User, s: S<State>) -> JsonResult<Vec<SettingView>> {
    Ok(Json(domain::settings::view(&s, None).await?))
}

#[utoipa::path(put, path = "/api/settings", tag = "settings", request_body = serde_json::Value, responses((status = 200, body = Vec<SettingView>), (status = "4XX", body = ErrorBody)))]
async fn put_global_settings(_: User, s: S<State>, Json(u): Json<SettingsUpdate>) -> JsonResult<Vec<SettingView>> {
    domain::settings::update(&s, None, &u).await?;
    Ok(Json(domain::settings::view(&s, None).await?))
}

#[utoipa::path(get, path = "/api/projects/{pid}/settings", tag = "settings", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = Vec<SettingView>), (status = "4XX", body = ErrorBody)))]
async fn project_settings(_: User, s: S<State>, Path(pid): Path<ProjectId>) -> JsonResult<Vec<SettingView>> {
    Ok(Json(domain::settings::view(&s, Some(pid)).await?))
}

#[utoipa::path(put, path = "/api/projects/{pid}/settings", tag = "settings", params(("pid" = Uuid, Path, description = "project id")), request_body = serde_json::Value, responses((status = 200, body = Vec<SettingView>), (status = "4XX", body = ErrorBody)))]
async fn put_project_settings(
    _: User,
    s: S<State>,
    Path(pid): Path<ProjectId>,
    Json(u): Json<SettingsUpdate>,
) -> JsonResult<Vec<SettingView>> {
    domain::settings::update(&s, Some(pid), &u).await?;
    Ok(Json(domain::settings::view(&s, Some(pid)).await?))
}

#[utoipa::path(post, path = "/api/settings/check", tag = "settings", responses((status = 200, body = SettingsCheck), (status = "4XX", body = ErrorBody)))]
async fn check_global_settings(_: User, s: S<State>) -> JsonResult<SettingsCheck> {
    Ok(Json(domain::settings::check(&s, None).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/settings/check", tag = "settings", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = SettingsCheck), (status = "4XX", body = ErrorBody)))]
async fn check_project_settings(_: User, s: S<State>, Path(pid): Path<ProjectId>) -> JsonResult<SettingsCheck> {
    domain::projects::get(&s, pid).await?; // 404 for an unknown project
    Ok(Json(domain::settings::check(&s, Some(pid)).await?))
}
