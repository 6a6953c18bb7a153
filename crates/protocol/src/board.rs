//! The Kanban board: columns (four built-in roles) and the tickets in them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ticket::Ticket;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    Backlog,
    InProgress,
    InReview,
    Done,
}

impl ColumnRole {
    pub const ALL: [ColumnRole; 4] = [
        ColumnRole::Backlog,
        ColumnRole::InProgress,
        ColumnRole::InReview,
        ColumnRole::Done,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnRole::Backlog => "backlog",
            ColumnRole::InProgress => "in_progress",
            ColumnRole::InReview => "in_review",
            ColumnRole::Done => "done",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
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
    pub id: Uuid,
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
