//! The architecture graph: nodes and edges, and the changes that replace or patch it.

use crate::id::{EdgeId, NodeId};
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GraphNode {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: NodeId,
    pub label: String,
    pub kind: String,
    pub technology: String,
    pub description: String,
    pub x: f64,
    pub y: f64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GraphEdge {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: EdgeId,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub source: NodeId,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub target: NodeId,
    pub label: String,
    pub protocol: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Graph {
    /// Bumped on every change; send it back as `expected_version` to avoid lost updates.
    pub version: i64,
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

/// Input node: the client chooses ids so it can connect new nodes in the same request.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeInput {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: NodeId,
    pub label: String,
    #[serde(default = "default_kind")]
    pub kind: String,
    #[serde(default)]
    pub technology: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub x: f64,
    #[serde(default)]
    pub y: f64,
}

fn default_kind() -> String {
    "service".into()
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EdgeInput {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: EdgeId,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub source: NodeId,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub target: NodeId,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub protocol: String,
}

/// Replace the whole graph (`PUT`), or apply a patch (`PATCH`): upserts then deletions.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct GraphChange {
    #[serde(default)]
    pub expected_version: Option<i64>,
    #[serde(default)]
    pub nodes: Vec<NodeInput>,
    #[serde(default)]
    pub edges: Vec<EdgeInput>,
    /// PATCH only.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<uuid::Uuid>))]
    pub delete_nodes: Vec<NodeId>,
    /// PATCH only.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<uuid::Uuid>))]
    pub delete_edges: Vec<EdgeId>,
}
