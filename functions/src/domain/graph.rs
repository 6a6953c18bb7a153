//! The architecture graph: read whole, changed in one transaction that checks and bumps
//! its version (optimistic concurrency through `expected_version`).

use terarchitect_protocol::validate::MAX_GRAPH_ITEMS;
use terarchitect_protocol::{EdgeId, Graph, GraphChange, NodeId, ProjectId, Validate};

use std::sync::OnceLock;

use axum::body::Bytes;

use super::App;
use super::cache::{self, Versioned};
use crate::store;
use crate::{Error, Result};

pub async fn get(app: &App, project_id: ProjectId) -> Result<Graph> {
    let mut conn = app.db.acquire().await?;
    store::graph::get(&mut conn, project_id).await
}

/// The graph serialised as JSON with its version (every change bumps `graph_version` in
/// its transaction), kept per project until the version moves, like the board.
pub async fn graph_json(app: &App, project_id: ProjectId) -> Result<(i64, Bytes)> {
    static CACHE: OnceLock<Versioned<ProjectId>> = OnceLock::new();
    let cache = CACHE.get_or_init(Versioned::default);
    let version = store::graph::version(&app.db, project_id).await?;
    if let Some(body) = cache.get(&project_id, version) {
        return Ok((version, body));
    }
    let mut tx = cache::snapshot(app).await?;
    let graph = store::graph::get(&mut tx, project_id).await?;
    tx.commit().await?;
    Ok((
        graph.version,
        cache.keep(project_id, graph.version, cache::json(&graph)?),
    ))
}

/// PUT: the graph becomes exactly `change`'s nodes and edges (deleting single items is
/// PATCH's job, so `delete_*` must be empty).
pub async fn replace(app: &App, project_id: ProjectId, change: &GraphChange) -> Result<Graph> {
    apply(app, project_id, change, true).await
}

/// PATCH: upserts `change`'s nodes and edges and deletes the listed ones.
pub async fn patch(app: &App, project_id: ProjectId, change: &GraphChange) -> Result<Graph> {
    apply(app, project_id, change, false).await
}

async fn apply(app: &App, project_id: ProjectId, change: &GraphChange, replace: bool) -> Result<Graph> {
    change.validate()?;
    if replace && !(change.delete_nodes.is_empty() && change.delete_edges.is_empty()) {
        return Err(Error::invalid(
            "delete_nodes",
            "PUT replaces the graph; use PATCH to delete single items",
        ));
    }
    let mut tx = app.db.begin().await?;
    store::graph::bump_version(&mut tx, project_id, change.expected_version).await?;
    if replace {
        let node_ids: Vec<NodeId> = change.nodes.iter().map(|n| n.id).collect();
        let edge_ids: Vec<EdgeId> = change.edges.iter().map(|e| e.id).collect();
        store::graph::retain_only(&mut tx, project_id, &node_ids, &edge_ids).await?;
    } else {
        store::graph::delete_edges(&mut tx, project_id, &change.delete_edges).await?;
        store::graph::delete_nodes(&mut tx, project_id, &change.delete_nodes).await?;
    }
    store::graph::upsert_nodes(&mut tx, project_id, &change.nodes).await?;
    store::graph::upsert_edges(&mut tx, project_id, &change.edges).await?;
    let graph = store::graph::get(&mut tx, project_id).await?;
    // The graph is read whole (by the UI and the agent): PATCHes add up, so bound the sum.
    if graph.nodes.len() > MAX_GRAPH_ITEMS || graph.edges.len() > MAX_GRAPH_ITEMS {
        return Err(Error::Conflict(format!(
            "a graph holds at most {MAX_GRAPH_ITEMS} nodes and {MAX_GRAPH_ITEMS} edges"
        )));
    }
    tx.commit().await?;
    Ok(graph)
}
