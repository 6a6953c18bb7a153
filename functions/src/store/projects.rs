use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use terarchitect_protocol::{ExecutionMode, NewProject, Project, ProjectId, ProjectPatch};

use crate::domain::page::Slice;
use crate::{Error, Result};

#[derive(sqlx::FromRow)]
struct Row {
    id: ProjectId,
    name: String,
    description: String,
    repo_url: String,
    default_branch: String,
    execution_mode: ExecutionMode,
    local_path: Option<String>,
    ticket_count: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Project {
    fn from(r: Row) -> Self {
        Project {
            id: r.id,
            name: r.name,
            description: r.description,
            repo_url: r.repo_url,
            default_branch: r.default_branch,
            execution_mode: r.execution_mode,
            local_path: r.local_path,
            ticket_count: r.ticket_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const SELECT: &str = "SELECT p.id, p.name, p.description, p.repo_url, p.default_branch, p.execution_mode, \
     p.local_path, p.created_at, p.updated_at, \
     (SELECT count(*) FROM tickets t WHERE t.project_id = p.id) AS ticket_count FROM projects p";

pub async fn list(db: impl PgExecutor<'_>, slice: Slice) -> Result<Vec<Project>> {
    let page = super::keyset("p.", 1, false);
    let rows: Vec<Row> = super::bind_slice(sqlx::query_as(sql!("{SELECT} WHERE {page}")), slice)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The project list's version (bumped by triggers on every change the list shows).
pub async fn list_version(db: impl PgExecutor<'_>) -> Result<i64> {
    let (v,): (i64,) = sqlx::query_as("SELECT version FROM list_versions WHERE name = 'projects'")
        .fetch_one(db)
        .await?;
    Ok(v)
}

pub async fn get(db: impl PgExecutor<'_>, id: ProjectId) -> Result<Project> {
    let row: Option<Row> = sqlx::query_as(sql!("{SELECT} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.map(Into::into).ok_or(Error::NotFound("project"))
}

pub async fn insert(db: impl PgExecutor<'_>, id: ProjectId, p: &NewProject) -> Result<()> {
    sqlx::query(
        "INSERT INTO projects (id, name, description, repo_url, default_branch, execution_mode, local_path) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(p.name.trim())
    .bind(&p.description)
    .bind(&p.repo_url)
    .bind(&p.default_branch)
    .bind(p.execution_mode)
    .bind(&p.local_path)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn update(db: impl PgExecutor<'_>, id: ProjectId, p: &ProjectPatch) -> Result<()> {
    let done = sqlx::query(
        "UPDATE projects SET name = COALESCE($2, name), description = COALESCE($3, description), \
         repo_url = COALESCE($4, repo_url), default_branch = COALESCE($5, default_branch), \
         execution_mode = COALESCE($6, execution_mode), \
         local_path = CASE WHEN $7 THEN $8 ELSE local_path END, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(p.name.as_deref().map(str::trim))
    .bind(&p.description)
    .bind(&p.repo_url)
    .bind(&p.default_branch)
    .bind(p.execution_mode)
    .bind(p.local_path.is_some())
    .bind(p.local_path.clone().flatten())
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("project"));
    }
    Ok(())
}

/// Deletes the project and everything it owns (cascades).
pub async fn delete(db: impl PgExecutor<'_>, id: ProjectId) -> Result<()> {
    let done = sqlx::query("DELETE FROM projects WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("project"));
    }
    Ok(())
}

pub async fn board_version(db: impl PgExecutor<'_>, id: ProjectId) -> Result<i64> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT board_version FROM projects WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.map(|r| r.0).ok_or(Error::NotFound("project"))
}
