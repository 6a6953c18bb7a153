use terarchitect_protocol::{EdgeId, EdgeInput, Graph, GraphEdge, GraphNode, NodeId, NodeInput, ProjectId};

use super::Tx;
use crate::{Error, Result};

#[derive(sqlx::FromRow)]
struct NodeRow {
    id: NodeId,
    label: String,
    kind: String,
    technology: String,
    description: String,
    x: f64,
    y: f64,
}

#[derive(sqlx::FromRow)]
struct EdgeRow {
    id: EdgeId,
    source_id: NodeId,
    target_id: NodeId,
    label: String,
    protocol: String,
}

impl From<NodeRow> for GraphNode {
    fn from(r: NodeRow) -> Self {
        GraphNode {
            id: r.id,
            label: r.label,
            kind: r.kind,
            technology: r.technology,
            description: r.description,
            x: r.x,
            y: r.y,
        }
    }
}

impl From<EdgeRow> for GraphEdge {
    fn from(r: EdgeRow) -> Self {
        GraphEdge {
            id: r.id,
            source: r.source_id,
            target: r.target_id,
            label: r.label,
            protocol: r.protocol,
        }
    }
}

/// The project's graph version (404 for no project).
pub async fn version(db: impl sqlx::PgExecutor<'_>, project_id: ProjectId) -> Result<i64> {
    let version: Option<(i64,)> = sqlx::query_as("SELECT graph_version FROM projects WHERE id = $1")
        .bind(project_id)
        .fetch_optional(db)
        .await?;
    Ok(version.ok_or(Error::NotFound("project"))?.0)
}

pub async fn get(db: &mut sqlx::PgConnection, project_id: ProjectId) -> Result<Graph> {
    let version = version(&mut *db, project_id).await?;
    let nodes: Vec<NodeRow> = sqlx::query_as(
        "SELECT id, label, kind, technology, description, x, y FROM graph_nodes WHERE project_id = $1 ORDER BY label, id",
    )
    .bind(project_id)
    .fetch_all(&mut *db)
    .await?;
    let edges: Vec<EdgeRow> = sqlx::query_as(
        "SELECT id, source_id, target_id, label, protocol FROM graph_edges WHERE project_id = $1 ORDER BY id",
    )
    .bind(project_id)
    .fetch_all(&mut *db)
    .await?;
    Ok(Graph {
        version,
        nodes: nodes.into_iter().map(Into::into).collect(),
        edges: edges.into_iter().map(Into::into).collect(),
    })
}

/// Locks the project row and checks the caller's view of the graph is current; returns the new version.
pub async fn bump_version(tx: &mut Tx<'_>, project_id: ProjectId, expected: Option<i64>) -> Result<i64> {
    let row: Option<(i64,)> = sqlx::query_as(
        "UPDATE projects SET graph_version = graph_version + 1, updated_at = now() WHERE id = $1 RETURNING graph_version",
    )
    .bind(project_id)
    .fetch_optional(&mut **tx)
    .await?;
    let (version,) = row.ok_or(Error::NotFound("project"))?;
    if let Some(expected) = expected
        && expected != version - 1
    {
        return Err(Error::Conflict(format!(
            "the graph changed since version {expected} (now {}); reload and retry",
            version - 1
        )));
    }
    Ok(version)
}

pub async fn upsert_nodes(tx: &mut Tx<'_>, project_id: ProjectId, nodes: &[NodeInput]) -> Result<()> {
    if nodes.is_empty() {
        return Ok(());
    }
    let done = sqlx::query(
        "INSERT INTO graph_nodes (project_id, id, label, kind, technology, description, x, y) \
         SELECT $1, * FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[]) \
         ON CONFLICT (id) DO UPDATE SET label = EXCLUDED.label, kind = EXCLUDED.kind, technology = EXCLUDED.technology, \
           description = EXCLUDED.description, x = EXCLUDED.x, y = EXCLUDED.y \
         WHERE graph_nodes.project_id = EXCLUDED.project_id",
    )
    .bind(project_id)
    .bind(nodes.iter().map(|n| n.id).collect::<Vec<_>>())
    .bind(nodes.iter().map(|n| n.label.trim().to_string()).collect::<Vec<_>>())
    .bind(nodes.iter().map(|n| n.kind.clone()).collect::<Vec<_>>())
    .bind(nodes.iter().map(|n| n.technology.clone()).collect::<Vec<_>>())
    .bind(nodes.iter().map(|n| n.description.clone()).collect::<Vec<_>>())
    .bind(nodes.iter().map(|n| n.x).collect::<Vec<_>>())
    .bind(nodes.iter().map(|n| n.y).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() as usize != nodes.len() {
        return Err(Error::Conflict("a node id is already used by another project".into()));
    }
    Ok(())
}

pub async fn upsert_edges(tx: &mut Tx<'_>, project_id: ProjectId, edges: &[EdgeInput]) -> Result<()> {
    if edges.is_empty() {
        return Ok(());
    }
    let done = sqlx::query(
        "INSERT INTO graph_edges (project_id, id, source_id, target_id, label, protocol) \
         SELECT $1, * FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[]) \
         ON CONFLICT (id) DO UPDATE SET source_id = EXCLUDED.source_id, target_id = EXCLUDED.target_id, \
           label = EXCLUDED.label, protocol = EXCLUDED.protocol \
         WHERE graph_edges.project_id = EXCLUDED.project_id",
    )
    .bind(project_id)
    .bind(edges.iter().map(|e| e.id).collect::<Vec<_>>())
    .bind(edges.iter().map(|e| e.source).collect::<Vec<_>>())
    .bind(edges.iter().map(|e| e.target).collect::<Vec<_>>())
    .bind(edges.iter().map(|e| e.label.clone()).collect::<Vec<_>>())
    .bind(edges.iter().map(|e| e.protocol.clone()).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() as usize != edges.len() {
        return Err(Error::Conflict("an edge id is already used by another project".into()));
    }
    Ok(())
}

pub async fn delete_nodes(tx: &mut Tx<'_>, project_id: ProjectId, ids: &[NodeId]) -> Result<()> {
    sqlx::query("DELETE FROM graph_nodes WHERE project_id = $1 AND id = ANY($2)")
        .bind(project_id)
        .bind(ids)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn delete_edges(tx: &mut Tx<'_>, project_id: ProjectId, ids: &[EdgeId]) -> Result<()> {
    sqlx::query("DELETE FROM graph_edges WHERE project_id = $1 AND id = ANY($2)")
        .bind(project_id)
        .bind(ids)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Removes every node and edge not in the given sets (for a full replace).
pub async fn retain_only(
    tx: &mut Tx<'_>,
    project_id: ProjectId,
    node_ids: &[NodeId],
    edge_ids: &[EdgeId],
) -> Result<()> {
    sqlx::query("DELETE FROM graph_edges WHERE project_id = $1 AND id <> ALL($2)")
        .bind(project_id)
        .bind(edge_ids)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM graph_nodes WHERE project_id = $1 AND id <> ALL($2)")
        .bind(project_id)
        .bind(node_ids)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
