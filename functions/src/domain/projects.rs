use std::sync::OnceLock;

use axum::body::Bytes;
use terarchitect_protocol::{
    Board, BoardColumn, ColumnRole, NewProject, NewTicket, Priority, Project, ProjectId, ProjectPatch, TicketId,
    Validate,
};

use super::App;
use super::cache::{self, Versioned};
use super::page::{Key, Page, PageRequest};
use crate::Result;
use crate::store;

pub const SETUP_TICKET_TITLE: &str = "Project setup";
pub const SETUP_TICKET_DESCRIPTION: &str = "Create the folder structure and configuration files implied by the \
architecture graph: one folder per component, build and test configuration for each technology, a README that \
explains the layout, and CI configuration. Do not write any application code yet.";

/// The "Project setup" ticket: the whole graph turned into folders and configuration.
pub fn setup_ticket() -> NewTicket {
    NewTicket {
        title: SETUP_TICKET_TITLE.into(),
        description: SETUP_TICKET_DESCRIPTION.into(),
        priority: Priority::High,
        whole_graph: true,
        ..Default::default()
    }
}

/// A new project with its four built-in columns and a first "Project setup" ticket.
pub async fn create(app: &App, input: &NewProject) -> Result<Project> {
    input.validate()?;
    let id = ProjectId::new();
    let mut tx = app.db.begin().await?;
    store::projects::insert(&mut *tx, id, input).await?;
    store::board::create_defaults(&mut tx, id).await?;
    let backlog = store::board::by_role(&mut *tx, id, ColumnRole::Backlog).await?;
    store::tickets::insert(&mut tx, id, TicketId::new(), backlog.id, &setup_ticket()).await?;
    tx.commit().await?;
    store::projects::get(&app.db, id).await
}

pub async fn list(app: &App, page: PageRequest) -> Result<Page<Project>> {
    let rows = store::projects::list(&app.db, page.slice()).await?;
    Ok(page.page(rows, |p| Key::new(p.created_at, p.id)))
}

/// A page of the project list as JSON, with the list's version (triggers bump it on any
/// change the list shows). The first page, which the UI polls, is kept per page size
/// until the version moves; later pages are read afresh.
pub async fn list_json(app: &App, page: PageRequest) -> Result<(i64, Bytes, Option<String>)> {
    static CACHE: OnceLock<Versioned<i64, (Bytes, Option<String>)>> = OnceLock::new();
    let cache = CACHE.get_or_init(Versioned::default);
    let first = page.is_first();
    let version = store::projects::list_version(&app.db).await?;
    if let Some((body, next)) = cache.get(&page.limit(), version).filter(|_| first) {
        return Ok((version, body, next));
    }
    let mut tx = cache::snapshot(app).await?;
    let version = store::projects::list_version(&mut *tx).await?;
    let rows = store::projects::list(&mut *tx, page.slice()).await?;
    tx.commit().await?;
    let Page { items, next } = page.page(rows, |p| Key::new(p.created_at, p.id));
    let built = (cache::json(&items)?, next);
    let (body, next) = if first {
        cache.keep(page.limit(), version, built)
    } else {
        built
    };
    Ok((version, body, next))
}

pub async fn get(app: &App, id: ProjectId) -> Result<Project> {
    store::projects::get(&app.db, id).await
}

pub async fn update(app: &App, id: ProjectId, patch: &ProjectPatch) -> Result<Project> {
    patch.validate()?;
    store::projects::update(&app.db, id, patch).await?;
    store::projects::get(&app.db, id).await
}

/// Deletes the project and everything in it.
pub async fn delete(app: &App, id: ProjectId) -> Result<()> {
    store::projects::delete(&app.db, id).await
}

/// Columns in order, each with its tickets in order.
pub async fn board(app: &App, project_id: ProjectId) -> Result<Board> {
    let mut conn = app.db.acquire().await?;
    board_in(&mut conn, project_id).await
}

async fn board_in(conn: &mut sqlx::PgConnection, project_id: ProjectId) -> Result<Board> {
    let columns = store::board::list(&mut *conn, project_id).await?;
    if columns.is_empty() {
        store::projects::get(&mut *conn, project_id).await?; // 404 for an unknown project
    }
    let mut tickets = store::tickets::list(&mut *conn, project_id).await?;
    let columns = columns
        .into_iter()
        .map(|column| {
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut tickets)
                .into_iter()
                .partition(|t| t.column_id == column.id);
            tickets = rest;
            BoardColumn { column, tickets: mine }
        })
        .collect();
    Ok(Board { columns })
}

/// The board serialised as JSON with its version (triggers bump `board_version` on every
/// change that shows on it). The UI polls the board, so each instance keeps the latest
/// serialisation per project and only rebuilds it when the version moved.
pub async fn board_json(app: &App, project_id: ProjectId) -> Result<(i64, Bytes)> {
    static CACHE: OnceLock<Versioned<ProjectId>> = OnceLock::new();
    let cache = CACHE.get_or_init(Versioned::default);
    let version = store::projects::board_version(&app.db, project_id).await?;
    if let Some(body) = cache.get(&project_id, version) {
        return Ok((version, body));
    }
    let mut tx = cache::snapshot(app).await?;
    let version = store::projects::board_version(&mut *tx, project_id).await?;
    let board = board_in(&mut tx, project_id).await?;
    tx.commit().await?;
    Ok((version, cache.keep(project_id, version, cache::json(&board)?)))
}
