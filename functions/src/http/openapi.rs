//! The OpenAPI document, generated from the handlers' annotations and the protocol types.
//! Served at `GET /api/openapi.json` and committed as `docs/openapi.json` (a test keeps
//! the two identical).

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::{api, worker};

#[derive(OpenApi)]
#[openapi(
    info(title = "Terarchitect API", description = "UI-facing API (user tokens), worker-host API (worker tokens) and agent API (job tokens). Every route needs `Authorization: Bearer <token>`."),
    paths(
        api::health,
        api::list_projects,
        api::create_project,
        api::get_project,
        api::update_project,
        api::delete_project,
        api::get_graph,
        api::replace_graph,
        api::patch_graph,
        api::get_board,
        api::list_columns,
        api::create_column,
        api::update_column,
        api::delete_column,
        api::create_ticket,
        api::get_ticket,
        api::update_ticket,
        api::delete_ticket,
        api::move_ticket,
        api::list_comments,
        api::add_comment,
        api::review_summary,
        api::review_comment,
        api::review_approve,
        api::review_merge,
        api::review_list,
        api::list_jobs,
        api::get_job,
        api::job_events,
        api::cancel_job,
        api::retry_job,
        api::list_notes,
        api::create_note,
        api::update_note,
        api::delete_note,
        api::global_settings,
        api::put_global_settings,
        api::project_settings,
        api::put_project_settings,
        api::check_global_settings,
        api::check_project_settings,
        api::memory_index,
        api::memory_retrieve,
        api::memory_delete,
        api::embeddings,
        worker::health,
        worker::claim,
        worker::heartbeat,
        worker::finish,
        worker::host_events,
        worker::context,
        worker::agent_events,
        worker::agent_cancel,
        worker::memory_index,
        worker::memory_retrieve,
        worker::memory_delete,
        worker::embeddings
    ),
    modifiers(&Bearer),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as pretty JSON, as committed in docs/openapi.json.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
}
