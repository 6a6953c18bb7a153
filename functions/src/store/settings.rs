//! Settings rows: plain JSON values or encrypted secrets, per project or global (NULL).

use sqlx::PgExecutor;
use terarchitect_protocol::ProjectId;

use crate::Result;

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct Row {
    pub project_id: Option<ProjectId>,
    pub key: String,
    pub value: Option<serde_json::Value>,
    pub secret: Option<Vec<u8>>,
}

/// Global rows and, when given, the project's rows.
pub async fn list(db: impl PgExecutor<'_>, project_id: Option<ProjectId>) -> Result<Vec<Row>> {
    Ok(sqlx::query_as(
        "SELECT project_id, key, value, secret FROM settings WHERE project_id IS NULL OR project_id = $1 ORDER BY key",
    )
    .bind(project_id)
    .fetch_all(db)
    .await?)
}

pub async fn put_value(
    db: impl PgExecutor<'_>,
    project_id: Option<ProjectId>,
    key: &str,
    value: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO settings (project_id, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (project_id, key) DO UPDATE SET value = EXCLUDED.value, secret = NULL, updated_at = now()",
    )
    .bind(project_id)
    .bind(key)
    .bind(value)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn put_secret(
    db: impl PgExecutor<'_>,
    project_id: Option<ProjectId>,
    key: &str,
    sealed: &[u8],
) -> Result<()> {
    sqlx::query(
        "INSERT INTO settings (project_id, key, secret) VALUES ($1, $2, $3) \
         ON CONFLICT (project_id, key) DO UPDATE SET secret = EXCLUDED.secret, value = NULL, updated_at = now()",
    )
    .bind(project_id)
    .bind(key)
    .bind(sealed)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn clear(db: impl PgExecutor<'_>, project_id: Option<ProjectId>, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM settings WHERE project_id IS NOT DISTINCT FROM $1 AND key = $2")
        .bind(project_id)
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}
