use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use terarchitect_protocol::{EdgeId, NewNote, NodeId, Note, NoteId, ProjectId};

use crate::domain::page::Slice;
use crate::{Error, Result};

#[derive(sqlx::FromRow)]
struct Row {
    id: NoteId,
    project_id: ProjectId,
    node_id: Option<NodeId>,
    edge_id: Option<EdgeId>,
    body: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Note {
    fn from(r: Row) -> Self {
        Note {
            id: r.id,
            project_id: r.project_id,
            node_id: r.node_id,
            edge_id: r.edge_id,
            body: r.body,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str = "id, project_id, node_id, edge_id, body, created_at, updated_at";

pub async fn list(db: impl PgExecutor<'_>, project_id: ProjectId, slice: Slice) -> Result<Vec<Note>> {
    let page = super::keyset("", 2, false);
    let q = sqlx::query_as(sql!("SELECT {COLUMNS} FROM notes WHERE project_id = $1 AND {page}"));
    let rows: Vec<Row> = super::bind_slice(q.bind(project_id), slice).fetch_all(db).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn insert(db: impl PgExecutor<'_>, project_id: ProjectId, n: &NewNote) -> Result<Note> {
    let row: Row = sqlx::query_as(sql!(
        "INSERT INTO notes (id, project_id, node_id, edge_id, body) VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    ))
    .bind(NoteId::new())
    .bind(project_id)
    .bind(n.node_id)
    .bind(n.edge_id)
    .bind(&n.body)
    .fetch_one(db)
    .await?;
    Ok(row.into())
}

pub async fn update(db: impl PgExecutor<'_>, project_id: ProjectId, id: NoteId, body: &str) -> Result<Note> {
    let row: Option<Row> = sqlx::query_as(sql!(
        "UPDATE notes SET body = $3, updated_at = now() WHERE project_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(project_id)
    .bind(id)
    .bind(body)
    .fetch_optional(db)
    .await?;
    row.map(Into::into).ok_or(Error::NotFound("note"))
}

pub async fn delete(db: impl PgExecutor<'_>, project_id: ProjectId, id: NoteId) -> Result<()> {
    let done = sqlx::query("DELETE FROM notes WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(id)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("note"));
    }
    Ok(())
}
