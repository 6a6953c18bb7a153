//! Project memory storage (passages, entities, facts with pgvector embeddings).
//! Embedding dimension is fixed per project by its `memory_spaces` row; HNSW indexes
//! exist per supported dimension, so queries cast to `vector(dims)`.

use pgvector::Vector;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::{Error, Result};

pub const SUPPORTED_DIMS: [i32; 4] = [384, 768, 1024, 1536];

/// Creates the project's memory space, or checks the dimension matches the existing one.
pub async fn ensure_space(db: &mut sqlx::PgConnection, project_id: Uuid, dims: i32, model: &str) -> Result<()> {
    if !SUPPORTED_DIMS.contains(&dims) {
        return Err(Error::invalid(
            "embedding",
            format!("embedding dimension {dims} is not supported (use one of {SUPPORTED_DIMS:?})"),
        ));
    }
    sqlx::query("INSERT INTO memory_spaces (project_id, dims, model) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(project_id)
        .bind(dims)
        .bind(model)
        .execute(&mut *db)
        .await?;
    let (existing,): (i32,) = sqlx::query_as("SELECT dims FROM memory_spaces WHERE project_id = $1")
        .bind(project_id)
        .fetch_one(&mut *db)
        .await?;
    if existing != dims {
        return Err(Error::Conflict(format!(
            "this project's memory uses {existing}-dimensional embeddings; the model returned {dims}"
        )));
    }
    Ok(())
}

/// Stores a passage once per content hash; returns its id.
pub async fn upsert_passage(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    content: &str,
    hash: &[u8],
    embedding: &Vector,
) -> Result<Uuid> {
    let (id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO memory_passages (id, project_id, content, content_hash, dims, embedding) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (project_id, content_hash) DO UPDATE SET content = EXCLUDED.content RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(project_id)
    .bind(content)
    .bind(hash)
    .bind(embedding.as_slice().len() as i32)
    .bind(embedding)
    .fetch_one(db)
    .await?;
    Ok(id)
}

/// The `k` passages closest to `query` by cosine distance (HNSW).
pub async fn nearest_passages(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    query: &Vector,
    k: i64,
) -> Result<Vec<(Uuid, String, f64)>> {
    let dims = query.as_slice().len();
    if !SUPPORTED_DIMS.contains(&(dims as i32)) {
        return Err(Error::invalid(
            "query",
            format!("unsupported embedding dimension {dims}"),
        ));
    }
    // `dims` is one of SUPPORTED_DIMS, so formatting it into the SQL is safe.
    let sql = format!(
        "SELECT id, content, 1 - (embedding::vector({dims}) <=> $2::vector({dims}))::float8 AS score \
         FROM memory_passages WHERE project_id = $1 AND dims = {dims} \
         ORDER BY embedding::vector({dims}) <=> $2::vector({dims}) LIMIT $3"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(project_id)
        .bind(query)
        .bind(k)
        .fetch_all(db)
        .await?)
}
