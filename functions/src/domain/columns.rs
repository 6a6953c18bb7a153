//! Board columns: created, renamed, reordered and deleted under the project's lock, so
//! positions stay dense and unique.

use terarchitect_protocol::{Column, ColumnId, ColumnPatch, NewColumn, ProjectId, Validate};

use super::App;
use crate::store;
use crate::{Error, Result};

/// The most columns a board may have (the board and the column list are sent whole).
pub const MAX_COLUMNS: i32 = 50;

/// The project's columns in order (404 for an unknown project).
pub async fn list(app: &App, project_id: ProjectId) -> Result<Vec<Column>> {
    store::projects::get(&app.db, project_id).await?;
    store::board::list(&app.db, project_id).await
}

pub async fn create(app: &App, project_id: ProjectId, input: &NewColumn) -> Result<Column> {
    input.validate()?;
    let id = ColumnId::new();
    let mut tx = app.db.begin().await?;
    store::lock_project(&mut tx, project_id).await?;
    if store::board::count(&mut tx, project_id).await? >= MAX_COLUMNS {
        return Err(Error::Conflict(format!("a board has at most {MAX_COLUMNS} columns")));
    }
    store::board::insert(&mut tx, project_id, id, &input.title, input.position).await?;
    let column = store::board::get(&mut *tx, project_id, id).await?;
    tx.commit().await?;
    Ok(column)
}

pub async fn update(app: &App, project_id: ProjectId, id: ColumnId, patch: &ColumnPatch) -> Result<Column> {
    patch.validate()?;
    let mut tx = app.db.begin().await?;
    store::lock_project(&mut tx, project_id).await?;
    store::board::get(&mut *tx, project_id, id).await?;
    if let Some(title) = &patch.title {
        store::board::rename(&mut tx, project_id, id, title).await?;
    }
    if let Some(position) = patch.position {
        store::board::reorder(&mut tx, project_id, id, position).await?;
    }
    let column = store::board::get(&mut *tx, project_id, id).await?;
    tx.commit().await?;
    Ok(column)
}

pub async fn delete(app: &App, project_id: ProjectId, id: ColumnId) -> Result<()> {
    let mut tx = app.db.begin().await?;
    store::lock_project(&mut tx, project_id).await?;
    store::board::delete(&mut tx, project_id, id).await?;
    tx.commit().await?;
    Ok(())
}
