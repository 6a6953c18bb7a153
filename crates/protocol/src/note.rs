//! Notes, attached to a graph node, an edge, or the project as a whole.

use crate::id::{EdgeId, NodeId, NoteId, ProjectId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Note {
    pub id: NoteId,
    pub project_id: ProjectId,
    pub node_id: Option<NodeId>,
    pub edge_id: Option<EdgeId>,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    pub body: String,
    #[serde(default)]
    pub node_id: Option<NodeId>,
    #[serde(default)]
    pub edge_id: Option<EdgeId>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NotePatch {
    pub body: String,
}
