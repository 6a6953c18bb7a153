//! Serialised reads kept while the version their writers bump stays the same (the board,
//! the graph): a reader that polls costs one indexed read of that version, and a read
//! right after a write sees the write, since the write moved the version.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use terarchitect_protocol::ProjectId;

use super::App;
use crate::store::Tx;
use crate::{Error, Result};

/// Each project's latest serialisation of one read, with the version it was built at.
#[derive(Default)]
pub struct JsonCache {
    entries: Mutex<HashMap<ProjectId, (i64, Bytes)>>,
}

/// Projects kept per read; beyond it the cache starts over (busy ones come back on their
/// next read).
const MAX_PROJECTS: usize = 256;

impl JsonCache {
    /// The body built at `version`, if that is the one kept.
    pub fn get(&self, project_id: ProjectId, version: i64) -> Option<Bytes> {
        let entries = self.entries.lock().expect("json cache");
        entries
            .get(&project_id)
            .filter(|(v, _)| *v == version)
            .map(|(_, body)| body.clone())
    }

    /// Serialises `value` and keeps it as the body at `version`.
    pub fn put(&self, project_id: ProjectId, version: i64, value: &impl serde::Serialize) -> Result<Bytes> {
        let body = Bytes::from(serde_json::to_vec(value).map_err(|e| Error::Internal(e.to_string()))?);
        let mut entries = self.entries.lock().expect("json cache");
        if entries.len() >= MAX_PROJECTS {
            entries.clear();
        }
        entries.insert(project_id, (version, body.clone()));
        Ok(body)
    }
}

/// A read-only transaction on one snapshot, so that a version and what it describes are
/// read consistently.
pub async fn snapshot(app: &App) -> Result<Tx<'static>> {
    let mut tx = app.db.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}
