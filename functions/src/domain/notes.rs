//! Notes on the architecture graph.

use terarchitect_protocol::{NewNote, Note, NoteId, NotePatch, ProjectId, Validate};

use super::App;
use super::page::{Key, Page, PageRequest};
use crate::Result;
use crate::store;

/// The project's notes (404 for an unknown project).
pub async fn list(app: &App, project_id: ProjectId, page: PageRequest) -> Result<Page<Note>> {
    store::projects::get(&app.db, project_id).await?;
    let rows = store::notes::list(&app.db, project_id, page.slice()).await?;
    Ok(page.page(rows, |n| Key::new(n.created_at, n.id)))
}

pub async fn create(app: &App, project_id: ProjectId, input: &NewNote) -> Result<Note> {
    input.validate()?;
    store::projects::get(&app.db, project_id).await?;
    store::notes::insert(&app.db, project_id, input).await
}

pub async fn update(app: &App, project_id: ProjectId, id: NoteId, patch: &NotePatch) -> Result<Note> {
    patch.validate()?;
    store::notes::update(&app.db, project_id, id, &patch.body).await
}

pub async fn delete(app: &App, project_id: ProjectId, id: NoteId) -> Result<()> {
    store::notes::delete(&app.db, project_id, id).await
}
