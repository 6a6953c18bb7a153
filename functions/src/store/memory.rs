//! Project memory storage (passages, entities, facts with pgvector embeddings).
//! Embedding dimension is fixed per project by its `memory_spaces` row; HNSW indexes
//! exist per supported dimension, so queries cast to `vector(dims)`.

use pgvector::Vector;
use sqlx::PgExecutor;
use terarchitect_protocol::ProjectId;
use uuid::Uuid;

use crate::{Error, Result};

pub const SUPPORTED_DIMS: [i32; 4] = [384, 768, 1024, 1536];

/// Creates the project's memory space, or checks the dimension matches the existing one.
pub async fn ensure_space(db: &mut sqlx::PgConnection, project_id: ProjectId, dims: i32, model: &str) -> Result<()> {
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
    project_id: ProjectId,
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
    project_id: ProjectId,
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

fn checked_dims(v: &Vector) -> Result<usize> {
    let dims = v.as_slice().len();
    if !SUPPORTED_DIMS.contains(&(dims as i32)) {
        return Err(Error::invalid(
            "embedding",
            format!("unsupported embedding dimension {dims}"),
        ));
    }
    Ok(dims)
}

/// Serialises memory writers of one project (index and delete) until the transaction ends.
pub async fn lock_space(tx: &mut super::Tx<'_>, project_id: ProjectId) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 42))")
        .bind(project_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The space's dimension and write version, if the project has memory.
pub async fn space(db: impl PgExecutor<'_>, project_id: ProjectId) -> Result<Option<(i32, i64)>> {
    Ok(
        sqlx::query_as("SELECT dims, version FROM memory_spaces WHERE project_id = $1")
            .bind(project_id)
            .fetch_optional(db)
            .await?,
    )
}

pub async fn bump_version(db: impl PgExecutor<'_>, project_id: ProjectId) -> Result<()> {
    sqlx::query("UPDATE memory_spaces SET version = version + 1 WHERE project_id = $1")
        .bind(project_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Which of these content hashes are stored already.
pub async fn known_hashes(db: impl PgExecutor<'_>, project_id: ProjectId, hashes: &[Vec<u8>]) -> Result<Vec<Vec<u8>>> {
    let rows: Vec<(Vec<u8>,)> =
        sqlx::query_as("SELECT content_hash FROM memory_passages WHERE project_id = $1 AND content_hash = ANY($2)")
            .bind(project_id)
            .bind(hashes)
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Stores the entity once per name; returns its id and whether it was new.
pub async fn upsert_entity(
    db: impl PgExecutor<'_>,
    project_id: ProjectId,
    name: &str,
    embedding: &Vector,
) -> Result<(Uuid, bool)> {
    let (id, new): (Uuid, bool) = sqlx::query_as(
        "INSERT INTO memory_entities (id, project_id, name, dims, embedding) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (project_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING id, (xmax = 0) AS new",
    )
    .bind(Uuid::new_v4())
    .bind(project_id)
    .bind(name)
    .bind(checked_dims(embedding)? as i32)
    .bind(embedding)
    .fetch_one(db)
    .await?;
    Ok((id, new))
}

pub async fn upsert_fact(
    db: impl PgExecutor<'_>,
    project_id: ProjectId,
    subject: Uuid,
    relation: &str,
    object: Uuid,
    embedding: &Vector,
) -> Result<Uuid> {
    let (id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO memory_facts (id, project_id, subject_id, relation, object_id, dims, embedding) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (project_id, subject_id, relation, object_id) DO UPDATE SET relation = EXCLUDED.relation RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(project_id)
    .bind(subject)
    .bind(relation)
    .bind(object)
    .bind(checked_dims(embedding)? as i32)
    .bind(embedding)
    .fetch_one(db)
    .await?;
    Ok(id)
}

pub async fn link_entity(db: impl PgExecutor<'_>, project_id: ProjectId, entity: Uuid, passage: Uuid) -> Result<()> {
    sqlx::query("INSERT INTO memory_entity_passages (project_id, entity_id, passage_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(project_id)
        .bind(entity)
        .bind(passage)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn link_fact(db: impl PgExecutor<'_>, project_id: ProjectId, fact: Uuid, passage: Uuid) -> Result<()> {
    sqlx::query(
        "INSERT INTO memory_fact_passages (project_id, fact_id, passage_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(project_id)
    .bind(fact)
    .bind(passage)
    .execute(db)
    .await?;
    Ok(())
}

/// Links `entity` to other entities of the project whose embedding is at least
/// `threshold` cosine-similar (HippoRAG's synonym edges).
pub async fn link_synonyms(
    db: &mut sqlx::PgConnection,
    project_id: ProjectId,
    entity: Uuid,
    embedding: &Vector,
    threshold: f64,
) -> Result<()> {
    let dims = checked_dims(embedding)?;
    let sql = sql!(
        "INSERT INTO memory_synonyms (project_id, entity_a, entity_b, similarity) \
         SELECT $1, LEAST($2, id), GREATEST($2, id), sim FROM ( \
           SELECT id, 1 - (embedding::vector({dims}) <=> $3::vector({dims})) AS sim FROM memory_entities \
           WHERE project_id = $1 AND dims = {dims} AND id <> $2 \
           ORDER BY embedding::vector({dims}) <=> $3::vector({dims}) LIMIT 10) near \
         WHERE sim >= $4 ON CONFLICT DO NOTHING"
    );
    sqlx::query(sql)
        .bind(project_id)
        .bind(entity)
        .bind(embedding)
        .bind(threshold)
        .execute(db)
        .await?;
    Ok(())
}

/// Top `k` facts by similarity: (subject, object, similarity).
pub async fn nearest_facts(
    db: impl PgExecutor<'_>,
    project_id: ProjectId,
    query: &Vector,
    k: i64,
) -> Result<Vec<(Uuid, Uuid, f64)>> {
    let dims = checked_dims(query)?;
    let sql = sql!(
        "SELECT subject_id, object_id, 1 - (embedding::vector({dims}) <=> $2::vector({dims}))::float8 AS score \
         FROM memory_facts WHERE project_id = $1 AND dims = {dims} \
         ORDER BY embedding::vector({dims}) <=> $2::vector({dims}) LIMIT $3"
    );
    Ok(sqlx::query_as(sql)
        .bind(project_id)
        .bind(query)
        .bind(k)
        .fetch_all(db)
        .await?)
}

/// Dense similarity of the query to every passage of the project, for the walk's restart
/// weights: (passage, similarity).
pub async fn passage_similarities(
    db: impl PgExecutor<'_>,
    project_id: ProjectId,
    query: &Vector,
) -> Result<Vec<(Uuid, f64)>> {
    let dims = checked_dims(query)?;
    let sql = sql!(
        "SELECT id, 1 - (embedding::vector({dims}) <=> $2::vector({dims}))::float8 FROM memory_passages \
         WHERE project_id = $1 AND dims = {dims}"
    );
    Ok(sqlx::query_as(sql).bind(project_id).bind(query).fetch_all(db).await?)
}

/// The project's whole entity graph, for PageRank.
pub struct GraphRows {
    pub entities: Vec<Uuid>,
    pub passages: Vec<(Uuid, String)>,
    /// (subject, object) per fact.
    pub facts: Vec<(Uuid, Uuid)>,
    pub mentions: Vec<(Uuid, Uuid)>,
    pub synonyms: Vec<(Uuid, Uuid, f32)>,
}

/// Every row of the project's memory graph, read in one REPEATABLE READ snapshot so an
/// index committing meanwhile cannot leave a fact naming an entity the load missed.
pub async fn load_graph(db: &mut sqlx::PgConnection, project_id: ProjectId) -> Result<GraphRows> {
    let mut tx = sqlx::Connection::begin(&mut *db).await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let rows = load_graph_rows(&mut tx, project_id).await?;
    tx.commit().await?;
    Ok(rows)
}

async fn load_graph_rows(db: &mut sqlx::PgConnection, project_id: ProjectId) -> Result<GraphRows> {
    let entities: Vec<(Uuid,)> = sqlx::query_as("SELECT id FROM memory_entities WHERE project_id = $1")
        .bind(project_id)
        .fetch_all(&mut *db)
        .await?;
    let passages = sqlx::query_as("SELECT id, content FROM memory_passages WHERE project_id = $1")
        .bind(project_id)
        .fetch_all(&mut *db)
        .await?;
    let facts = sqlx::query_as("SELECT subject_id, object_id FROM memory_facts WHERE project_id = $1")
        .bind(project_id)
        .fetch_all(&mut *db)
        .await?;
    let mentions = sqlx::query_as("SELECT entity_id, passage_id FROM memory_entity_passages WHERE project_id = $1")
        .bind(project_id)
        .fetch_all(&mut *db)
        .await?;
    let synonyms = sqlx::query_as("SELECT entity_a, entity_b, similarity FROM memory_synonyms WHERE project_id = $1")
        .bind(project_id)
        .fetch_all(&mut *db)
        .await?;
    Ok(GraphRows {
        entities: entities.into_iter().map(|r| r.0).collect(),
        passages,
        facts,
        mentions,
        synonyms,
    })
}

/// Deletes the passages with these hashes, then the facts and entities nothing supports
/// any more. Returns how many passages went.
pub async fn delete_passages(tx: &mut super::Tx<'_>, project_id: ProjectId, hashes: &[Vec<u8>]) -> Result<u64> {
    let gone = sqlx::query("DELETE FROM memory_passages WHERE project_id = $1 AND content_hash = ANY($2)")
        .bind(project_id)
        .bind(hashes)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    sqlx::query(
        "DELETE FROM memory_facts f WHERE f.project_id = $1 \
         AND NOT EXISTS (SELECT 1 FROM memory_fact_passages fp WHERE fp.fact_id = f.id)",
    )
    .bind(project_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "DELETE FROM memory_entities e WHERE e.project_id = $1 \
         AND NOT EXISTS (SELECT 1 FROM memory_entity_passages ep WHERE ep.entity_id = e.id) \
         AND NOT EXISTS (SELECT 1 FROM memory_facts f WHERE f.subject_id = e.id OR f.object_id = e.id)",
    )
    .bind(project_id)
    .execute(&mut **tx)
    .await?;
    Ok(gone)
}

/// Everything a project remembers, in a readable form (operator dump).
#[derive(Debug, serde::Serialize)]
pub struct Dump {
    pub passages: Vec<DumpPassage>,
    pub facts: Vec<DumpFact>,
}

#[derive(Debug, serde::Serialize, sqlx::FromRow)]
pub struct DumpPassage {
    pub id: Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub content: String,
}

#[derive(Debug, serde::Serialize, sqlx::FromRow)]
pub struct DumpFact {
    pub subject: String,
    pub relation: String,
    pub object: String,
}

pub async fn dump(db: &sqlx::PgPool, project_id: ProjectId) -> Result<Dump> {
    let passages = sqlx::query_as(
        "SELECT id, created_at, content FROM memory_passages WHERE project_id = $1 ORDER BY created_at, id",
    )
    .bind(project_id)
    .fetch_all(db)
    .await?;
    let facts = sqlx::query_as(
        "SELECT s.name AS subject, f.relation, o.name AS object FROM memory_facts f \
         JOIN memory_entities s ON s.id = f.subject_id JOIN memory_entities o ON o.id = f.object_id \
         WHERE f.project_id = $1 ORDER BY s.name, f.relation, o.name",
    )
    .bind(project_id)
    .fetch_all(db)
    .await?;
    Ok(Dump { passages, facts })
}
