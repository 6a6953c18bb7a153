//! Board columns. Positions in a project are 0..n-1 without gaps; callers hold the
//! project lock (`super::lock_project`) while changing them.

use sqlx::PgExecutor;
use terarchitect_protocol::{Column, ColumnId, ColumnRole, ProjectId};

use super::Tx;
use crate::{Error, Result};

#[derive(sqlx::FromRow)]
struct Row {
    id: ColumnId,
    title: String,
    role: Option<ColumnRole>,
    position: i32,
}

impl From<Row> for Column {
    fn from(r: Row) -> Self {
        Column {
            id: r.id,
            title: r.title,
            role: r.role,
            position: r.position,
        }
    }
}

pub async fn list(db: impl PgExecutor<'_>, project_id: ProjectId) -> Result<Vec<Column>> {
    let rows: Vec<Row> =
        sqlx::query_as("SELECT id, title, role, position FROM board_columns WHERE project_id = $1 ORDER BY position")
            .bind(project_id)
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn get(db: impl PgExecutor<'_>, project_id: ProjectId, id: ColumnId) -> Result<Column> {
    let row: Option<Row> =
        sqlx::query_as("SELECT id, title, role, position FROM board_columns WHERE project_id = $1 AND id = $2")
            .bind(project_id)
            .bind(id)
            .fetch_optional(db)
            .await?;
    row.map(Into::into).ok_or(Error::NotFound("column"))
}

pub async fn by_role(db: impl PgExecutor<'_>, project_id: ProjectId, role: ColumnRole) -> Result<Column> {
    let row: Option<Row> =
        sqlx::query_as("SELECT id, title, role, position FROM board_columns WHERE project_id = $1 AND role = $2")
            .bind(project_id)
            .bind(role)
            .fetch_optional(db)
            .await?;
    row.map(Into::into).ok_or(Error::NotFound("column"))
}

/// The four built-in columns, for a new project.
pub async fn create_defaults(tx: &mut Tx<'_>, project_id: ProjectId) -> Result<()> {
    for (i, role) in ColumnRole::ALL.into_iter().enumerate() {
        sqlx::query("INSERT INTO board_columns (id, project_id, title, role, position) VALUES ($1, $2, $3, $4, $5)")
            .bind(ColumnId::new())
            .bind(project_id)
            .bind(role.default_title())
            .bind(role)
            .bind(i as i32)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// How many columns the project has.
pub async fn count(tx: &mut Tx<'_>, project_id: ProjectId) -> Result<i32> {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM board_columns WHERE project_id = $1")
        .bind(project_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(n as i32)
}

pub async fn insert(
    tx: &mut Tx<'_>,
    project_id: ProjectId,
    id: ColumnId,
    title: &str,
    position: Option<i32>,
) -> Result<()> {
    let n = count(tx, project_id).await?;
    let pos = position.unwrap_or(n).clamp(0, n);
    sqlx::query("UPDATE board_columns SET position = position + 1 WHERE project_id = $1 AND position >= $2")
        .bind(project_id)
        .bind(pos)
        .execute(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO board_columns (id, project_id, title, position) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(project_id)
        .bind(title.trim())
        .bind(pos)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn rename(tx: &mut Tx<'_>, project_id: ProjectId, id: ColumnId, title: &str) -> Result<()> {
    let done = sqlx::query("UPDATE board_columns SET title = $3 WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(id)
        .bind(title.trim())
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("column"));
    }
    Ok(())
}

/// Moves a column to `to` (clamped), shifting the ones in between.
pub async fn reorder(tx: &mut Tx<'_>, project_id: ProjectId, id: ColumnId, to: i32) -> Result<()> {
    let from = get(&mut **tx, project_id, id).await?.position;
    let to = to.clamp(0, count(tx, project_id).await? - 1);
    if from == to {
        return Ok(());
    }
    sqlx::query(
        "UPDATE board_columns SET position = CASE WHEN id = $2 THEN $4 \
           WHEN $3 < $4 THEN position - 1 ELSE position + 1 END \
         WHERE project_id = $1 AND position BETWEEN LEAST($3, $4) AND GREATEST($3, $4)",
    )
    .bind(project_id)
    .bind(id)
    .bind(from)
    .bind(to)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes a custom column that holds no tickets.
pub async fn delete(tx: &mut Tx<'_>, project_id: ProjectId, id: ColumnId) -> Result<()> {
    let col = get(&mut **tx, project_id, id).await?;
    if let Some(role) = col.role {
        return Err(Error::Conflict(format!(
            "the built-in column {} cannot be deleted",
            role.default_title()
        )));
    }
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM tickets WHERE column_id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    if n > 0 {
        return Err(Error::Conflict(format!(
            "the column still holds {n} ticket(s); move them first"
        )));
    }
    sqlx::query("DELETE FROM board_columns WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE board_columns SET position = position - 1 WHERE project_id = $1 AND position > $2")
        .bind(project_id)
        .bind(col.position)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
