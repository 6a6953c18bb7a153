//! The JSON contract between Terarchitect's parts.
//!
//! Everything here is plain serde data so that the API (`functions/`), the UI (`web/`,
//! wasm32), the worker host and the agent agree on one definition. Input types carry
//! their own validation so the UI can show the same messages the API returns.
//! String enums are declared with `string_enum!` (`string_enum.rs`); the API turns on the
//! `openapi` and `sqlx` features for their schemas and their database mapping.
//!
//! One module per aggregate (projects, graph, board, tickets, jobs, the worker API, notes,
//! pull request review, settings, tokens, memory, errors); every type is re-exported here,
//! so it is always named `terarchitect_protocol::Type`.

#[macro_use]
mod string_enum;

mod board;
pub mod egress;
mod error;
mod graph;
mod id;
mod job;
mod memory;
mod note;
pub mod pr_thread;
pub mod prices;
mod project;
mod redact;
mod review;
mod settings;
mod ticket;
mod token;
pub mod validate;
mod worker;

use serde::{Deserialize, Serialize};

pub use board::{Board, BoardColumn, Column, ColumnPatch, ColumnRole, NewColumn};
pub use error::{ErrorBody, ErrorDetail};
pub use graph::{EdgeInput, Graph, GraphChange, GraphEdge, GraphNode, NodeInput};
pub use id::{ColumnId, CommentId, EdgeId, JobId, NodeId, NoteId, ProjectId, TicketId};
pub use job::{
    EventBatch, EventPage, Job, JobEvent, JobKind, JobMessage, JobStatus, NewJobEvent, ProjectUsage, budget_left,
};
pub use memory::{
    MemoryDeleted, MemoryDocs, MemoryIndexed, MemoryQuery, MemoryResult, MemoryResults, RetrievedPassage,
};
pub use note::{NewNote, Note, NotePatch};
pub use project::{ExecutionMode, NewProject, Project, ProjectPatch, RepoCheck, RepoCheckRequest, https_remote};
pub use redact::Redacted;
pub use review::{
    AGENT_COMMENT_MARKER, MergeMethod, MergeOutcome, NewPrComment, PrApproval, PrComment, PrCommentKind, PrCommit,
    PrFile, PrMerge, PrReview, PrState, PrTestFile, ReviewListItem, ReviewSummary,
};
pub use settings::{CheckItem, SettingKey, SettingKind, SettingSpec, SettingView, SettingsCheck, SettingsUpdate};
pub use string_enum::UnknownVariant;
pub use ticket::{
    JobSummary, MoveOutcome, NewComment, NewTicket, Priority, Ticket, TicketComment, TicketMove, TicketPatch,
};
pub use token::TokenKind;
pub use validate::{FieldError, Validate};
pub use worker::{
    AgentPullRequest, AgentSettings, BoardSummaryColumn, Claim, ClaimRequest, CommentRef, FinishRequest, GitAccess,
    GitAccessRequest, Heartbeat, HeartbeatRequest, MAX_PR_BODY, MAX_PR_TITLE, Outcome, PullRequestDraft,
    PullRequestReply, PullRequestThread, ThreadComment, WorkerContext, WorkerMode,
};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Health {
    pub status: String,
    pub version: String,
}
