//! Tickets: what they hold, creating, editing and moving them, and their comments.

use crate::id::{ColumnId, CommentId, EdgeId, JobId, NodeId, ProjectId, TicketId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::job::{Job, JobKind, JobStatus};

string_enum! {
    #[derive(Default, PartialOrd, Ord)]
    pub enum Priority {
        Low = "low",
        #[default]
        Medium = "medium",
        High = "high",
        Critical = "critical",
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ticket {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: TicketId,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub project_id: ProjectId,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub column_id: ColumnId,
    pub position: i32,
    pub title: String,
    pub description: String,
    pub priority: Priority,
    /// Give the agent the whole graph instead of `node_ids`/`edge_ids`.
    pub whole_graph: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<uuid::Uuid>))]
    pub node_ids: Vec<NodeId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<uuid::Uuid>))]
    pub edge_ids: Vec<EdgeId>,
    pub pr_url: Option<String>,
    pub pr_number: Option<i64>,
    /// The latest job, if any: what the board shows on the card.
    pub job: Option<JobSummary>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// What its runs' LLM calls cost (see [`Job::cost_nano_usd`](crate::Job)).
    #[serde(default)]
    pub cost_nano_usd: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobSummary {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: JobId,
    pub kind: JobKind,
    pub status: JobStatus,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Asked to stop while running: the card says "stopping…" until it has.
    #[serde(default)]
    pub cancel_requested: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct NewTicket {
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub priority: Priority,
    /// Defaults to the Backlog column.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub column_id: Option<ColumnId>,
    #[serde(default)]
    pub whole_graph: bool,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<uuid::Uuid>))]
    pub node_ids: Vec<NodeId>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<uuid::Uuid>))]
    pub edge_ids: Vec<EdgeId>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct TicketPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub priority: Option<Priority>,
    pub whole_graph: Option<bool>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<uuid::Uuid>>))]
    pub node_ids: Option<Vec<NodeId>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<uuid::Uuid>>))]
    pub edge_ids: Option<Vec<EdgeId>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TicketMove {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub column_id: ColumnId,
    /// Index in the target column; the end when absent or past it.
    #[serde(default)]
    pub position: Option<i32>,
}

/// What a move did besides moving.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MoveOutcome {
    pub ticket: Ticket,
    /// The job queued by this move (or the already active one), when moved into In Progress.
    pub job: Option<Job>,
    /// True when the move asked a running job to stop.
    pub cancel_requested: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TicketComment {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: CommentId,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub ticket_id: TicketId,
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    pub body: String,
}
