//! The Kanban board: columns (four built-in roles) and the tickets in them.

use crate::id::ColumnId;
use serde::{Deserialize, Serialize};

use crate::ticket::Ticket;

string_enum! {
    pub enum ColumnRole {
        Backlog = "backlog",
        InProgress = "in_progress",
        InReview = "in_review",
        Done = "done",
    }
}

impl ColumnRole {
    pub fn default_title(self) -> &'static str {
        match self {
            ColumnRole::Backlog => "Backlog",
            ColumnRole::InProgress => "In Progress",
            ColumnRole::InReview => "In Review",
            ColumnRole::Done => "Done",
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Column {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: ColumnId,
    pub title: String,
    /// Built-in columns have a role and cannot be deleted.
    pub role: Option<ColumnRole>,
    pub position: i32,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NewColumn {
    pub title: String,
    /// Where to insert; the end when absent.
    #[serde(default)]
    pub position: Option<i32>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ColumnPatch {
    pub title: Option<String>,
    pub position: Option<i32>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Board {
    pub columns: Vec<BoardColumn>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BoardColumn {
    #[serde(flatten)]
    pub column: Column,
    pub tickets: Vec<Ticket>,
}
