//! Serialised reads kept while the version their writers bump stays the same (the board,
//! the graph, the project list): a reader that polls costs one indexed read of that
//! version, and a read right after a write sees the write, since the write moved the
//! version.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use axum::body::Bytes;

use super::App;
use crate::store::Tx;
use crate::{Error, Result};

/// The latest serialisation of one read per key (a project, a page size), with the
/// version it was built at.
pub struct Versioned<K, V = Bytes> {
    entries: Mutex<HashMap<K, (i64, V)>>,
    /// Keys kept; beyond it the cache starts over (busy ones come back on their next read).
    capacity: usize,
}

impl<K, V> Default for Versioned<K, V> {
    fn default() -> Self {
        Versioned::with_capacity(256)
    }
}

impl<K, V> Versioned<K, V> {
    pub fn with_capacity(capacity: usize) -> Self {
        Versioned {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }
}

impl<K: Hash + Eq, V: Clone> Versioned<K, V> {
    /// What was built at `version`, if that is the one kept.
    pub fn get(&self, key: &K, version: i64) -> Option<V> {
        let entries = self.entries.lock().expect("versioned cache");
        entries
            .get(key)
            .filter(|(v, _)| *v == version)
            .map(|(_, value)| value.clone())
    }

    /// Keeps `value` as what `key` reads at `version`; gives it back.
    pub fn keep(&self, key: K, version: i64, value: V) -> V {
        let mut entries = self.entries.lock().expect("versioned cache");
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, (version, value.clone()));
        value
    }
}

/// `value` as JSON bytes.
pub fn json(value: &impl serde::Serialize) -> Result<Bytes> {
    Ok(Bytes::from(
        serde_json::to_vec(value).map_err(|e| Error::Internal(e.to_string()))?,
    ))
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
