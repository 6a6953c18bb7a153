//! Settings rows: plain JSON values or encrypted secrets, per project or global (NULL).

use sqlx::PgExecutor;
use terarchitect_protocol::ProjectId;

use crate::Result;
use crate::domain::crypto::Sealed;

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct Row {
    pub project_id: Option<ProjectId>,
    pub key: String,
    pub value: Option<serde_json::Value>,
    pub secret: Option<Vec<u8>>,
    /// The key that sealed `secret`; None for secrets sealed before key ids.
    pub secret_key_id: Option<String>,
}

impl Row {
    /// The stored secret, when this row holds one.
    pub fn sealed(&self) -> Option<Sealed> {
        self.secret.clone().map(|bytes| Sealed {
            key_id: self.secret_key_id.clone(),
            bytes,
        })
    }
}

/// Serialises updates of the global settings until the transaction ends (a project's are
/// serialised by its row lock): an update reads the URLs it may change before it writes.
pub async fn lock_global(db: impl PgExecutor<'_>) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('terarchitect:settings:global', 0))")
        .execute(db)
        .await?;
    Ok(())
}

/// Global rows and, when given, the project's rows.
pub async fn list(db: impl PgExecutor<'_>, project_id: Option<ProjectId>) -> Result<Vec<Row>> {
    Ok(sqlx::query_as(
        "SELECT project_id, key, value, secret, secret_key_id FROM settings \
         WHERE project_id IS NULL OR project_id = $1 ORDER BY key",
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
         ON CONFLICT (project_id, key) DO UPDATE SET value = EXCLUDED.value, secret = NULL, secret_key_id = NULL, updated_at = now()",
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
    sealed: &Sealed,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO settings (project_id, key, secret, secret_key_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (project_id, key) DO UPDATE \
         SET secret = EXCLUDED.secret, secret_key_id = EXCLUDED.secret_key_id, value = NULL, updated_at = now()",
    )
    .bind(project_id)
    .bind(key)
    .bind(&sealed.bytes)
    .bind(&sealed.key_id)
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

/// Every stored secret of every scope, locked until the transaction ends (key rotation).
pub async fn all_secrets_for_update(db: impl PgExecutor<'_>) -> Result<Vec<Row>> {
    Ok(sqlx::query_as(
        "SELECT project_id, key, value, secret, secret_key_id FROM settings \
         WHERE secret IS NOT NULL ORDER BY project_id NULLS FIRST, key FOR UPDATE",
    )
    .fetch_all(db)
    .await?)
}

/// Replaces a secret's sealed bytes and key id, leaving `updated_at` (the value is the same).
pub async fn reseal(db: impl PgExecutor<'_>, project_id: Option<ProjectId>, key: &str, sealed: &Sealed) -> Result<()> {
    sqlx::query(
        "UPDATE settings SET secret = $3, secret_key_id = $4 \
         WHERE project_id IS NOT DISTINCT FROM $1 AND key = $2 AND secret IS NOT NULL",
    )
    .bind(project_id)
    .bind(key)
    .bind(&sealed.bytes)
    .bind(&sealed.key_id)
    .execute(db)
    .await?;
    Ok(())
}
