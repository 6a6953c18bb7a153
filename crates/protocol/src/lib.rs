//! The JSON contract between Terarchitect's parts.
//!
//! Everything here is plain serde data so that the API (`functions/`), the UI (`web/`,
//! wasm32), the worker host and the agent agree on one definition. Input types carry
//! their own validation so the UI can show the same messages the API returns.

pub mod pr_thread;
pub mod validate;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use validate::{FieldError, Validate};

/// Every error the API returns: `{"error": {"code": "...", "message": "..."}}`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorDetail {
    /// Stable, machine-readable (`not_found`, `invalid_input`, `conflict`, ...).
    pub code: String,
    /// For people.
    pub message: String,
    /// The offending input field, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

// ------------------------------------------------------------------ projects

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionMode {
    /// The agent clones the repository inside its own container.
    #[default]
    Docker,
    /// The agent works in a directory on the worker host.
    Local,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub repo_url: String,
    pub default_branch: String,
    pub execution_mode: ExecutionMode,
    pub local_path: Option<String>,
    pub ticket_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub repo_url: String,
    #[serde(default = "default_branch")]
    pub default_branch: String,
    #[serde(default)]
    pub execution_mode: ExecutionMode,
    #[serde(default)]
    pub local_path: Option<String>,
}

fn default_branch() -> String {
    "main".into()
}

/// A partial update: absent fields keep their value.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub repo_url: Option<String>,
    pub default_branch: Option<String>,
    pub execution_mode: Option<ExecutionMode>,
    /// `Some(None)` clears it.
    #[serde(default, with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub local_path: Option<Option<String>>,
}

// ------------------------------------------------------------------ graph

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GraphNode {
    pub id: Uuid,
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
    pub id: Uuid,
    pub source: Uuid,
    pub target: Uuid,
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
    pub id: Uuid,
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
    pub id: Uuid,
    pub source: Uuid,
    pub target: Uuid,
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
    pub delete_nodes: Vec<Uuid>,
    /// PATCH only.
    #[serde(default)]
    pub delete_edges: Vec<Uuid>,
}

// ------------------------------------------------------------------ board

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

// ------------------------------------------------------------------ tickets

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Low, Self::Medium, Self::High, Self::Critical]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ticket {
    pub id: Uuid,
    pub project_id: Uuid,
    pub column_id: Uuid,
    pub position: i32,
    pub title: String,
    pub description: String,
    pub priority: Priority,
    /// Give the agent the whole graph instead of `node_ids`/`edge_ids`.
    pub whole_graph: bool,
    pub node_ids: Vec<Uuid>,
    pub edge_ids: Vec<Uuid>,
    pub pr_url: Option<String>,
    pub pr_number: Option<i64>,
    /// The latest job, if any: what the board shows on the card.
    pub job: Option<JobSummary>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobSummary {
    pub id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
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
    pub column_id: Option<Uuid>,
    #[serde(default)]
    pub whole_graph: bool,
    #[serde(default)]
    pub node_ids: Vec<Uuid>,
    #[serde(default)]
    pub edge_ids: Vec<Uuid>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct TicketPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub priority: Option<Priority>,
    pub whole_graph: Option<bool>,
    pub node_ids: Option<Vec<Uuid>>,
    pub edge_ids: Option<Vec<Uuid>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TicketMove {
    pub column_id: Uuid,
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

// ------------------------------------------------------------------ jobs

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Implement,
    Review,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Implement => "implement",
            JobKind::Review => "review",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Implement, Self::Review].into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Running,
            Self::Succeeded,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::Queued | JobStatus::Running)
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Job {
    pub id: Uuid,
    pub project_id: Uuid,
    pub ticket_id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    /// How many times a host has claimed it.
    pub attempt: i32,
    pub cancel_requested: bool,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub exit_code: Option<i32>,
    pub failure_reason: Option<String>,
    pub pr_url: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One entry of a job's execution log.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobEvent {
    /// 1, 2, 3, ... per job, in the order the API accepted them.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub phase: String,
    pub step: String,
    pub summary: String,
    pub raw_output: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct NewJobEvent {
    /// Chosen by the sender so that re-sending a batch never duplicates an event.
    #[serde(default)]
    pub event_id: Option<Uuid>,
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    pub phase: String,
    pub step: String,
    pub summary: String,
    #[serde(default)]
    pub raw_output: Option<String>,
    #[serde(default)]
    pub input_tokens: i64,
    #[serde(default)]
    pub output_tokens: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    pub events: Vec<NewJobEvent>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventPage {
    pub events: Vec<JobEvent>,
    /// Pass as `after` to get the next page (or to follow a live run).
    pub next_after: i64,
    /// The job's status when the page was read: stop following once it is final.
    pub job_status: JobStatus,
}

/// The body of every queue message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobMessage {
    pub job_id: Uuid,
}

// ------------------------------------------------------------------ worker API

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// A stable name for the claiming host (lease owner).
    pub host_id: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claim {
    pub job: Job,
    pub project: Project,
    /// Scoped to this job only; hand it to the agent, never log it.
    pub job_token: String,
    pub lease_expires_at: DateTime<Utc>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    pub host_id: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Heartbeat {
    pub lease_expires_at: DateTime<Utc>,
    pub cancel_requested: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    Cancelled,
    /// Hand the job back to the queue (host shutting down, environment problem).
    Released,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FinishRequest {
    pub host_id: String,
    pub outcome: Outcome,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub pr_url: Option<String>,
    #[serde(default)]
    pub pr_number: Option<i64>,
    /// With `released`: `false` when the host never started the agent (engine down, image
    /// missing), so the attempt does not count (a bounded number of times per job).
    /// Absent: unknown, the attempt counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_started: Option<bool>,
}

/// Everything the agent needs, fetched with its job token.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkerContext {
    pub job: Job,
    pub project: Project,
    pub ticket: Ticket,
    /// The ticket's attached part of the graph, or all of it for `whole_graph`.
    pub graph: Graph,
    pub notes: Vec<Note>,
    pub comments: Vec<TicketComment>,
    /// Other tickets by column title, for context.
    pub board: Vec<BoardSummaryColumn>,
    pub settings: AgentSettings,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BoardSummaryColumn {
    pub title: String,
    pub tickets: Vec<String>,
}

/// Resolved settings with secrets in clear: only ever sent to the job's own agent.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AgentSettings {
    pub director_llm_url: Option<String>,
    pub director_llm_model: Option<String>,
    pub director_llm_key: Option<String>,
    pub worker_mode: WorkerMode,
    pub worker_llm_url: Option<String>,
    pub worker_llm_model: Option<String>,
    pub worker_llm_key: Option<String>,
    pub anthropic_key: Option<String>,
    pub github_token: Option<String>,
    pub github_api_url: Option<String>,
    pub embedding_url: Option<String>,
    pub embedding_model: Option<String>,
    #[serde(default)]
    pub embedding_key: Option<String>,
    pub max_review_rounds: i64,
    pub summarize_every_turns: i64,
    pub git_author_name: Option<String>,
    pub git_author_email: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum WorkerMode {
    #[default]
    Native,
    Opencode,
    ClaudeCode,
}

// ------------------------------------------------------------------ notes & comments

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Note {
    pub id: Uuid,
    pub project_id: Uuid,
    pub node_id: Option<Uuid>,
    pub edge_id: Option<Uuid>,
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
    pub node_id: Option<Uuid>,
    #[serde(default)]
    pub edge_id: Option<Uuid>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NotePatch {
    pub body: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TicketComment {
    pub id: Uuid,
    pub ticket_id: Uuid,
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

// ------------------------------------------------------------------ pull request review

/// Ends every comment the agent posts on a pull request (invisible when rendered), so
/// neither a later review job nor the scheduler takes the agent's replies for a reviewer's.
pub const AGENT_COMMENT_MARKER: &str = "<!-- terarchitect-bot -->";

/// A pull request's state on GitHub.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PrState {
    Open,
    Closed,
    Merged,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PrCommentKind {
    /// On the conversation tab (an issue comment).
    Issue,
    /// On a line of the diff.
    Review,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PrCommit {
    pub sha: String,
    /// The first line of the commit message.
    pub message: String,
    /// GitHub login when GitHub knows the author, else the git author name.
    pub author: String,
    pub date: Option<DateTime<Utc>>,
}

/// A changed file that is a test by its path, with the tests its added lines define.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PrTestFile {
    pub path: String,
    /// `added`, `modified`, `removed`, `renamed`, ... as GitHub reports it.
    pub status: String,
    pub additions: i64,
    pub deletions: i64,
    /// Names of tests found in the added lines (`fn`, `def test_`, `it("...")`, `func Test...`).
    pub tests: Vec<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PrComment {
    pub id: i64,
    pub kind: PrCommentKind,
    pub author: String,
    pub body: String,
    /// Review comments: the file.
    pub path: Option<String>,
    /// Review comments: the line in the file, when GitHub still knows it.
    pub line: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// Posted by the agent (its hidden marker, removed from `body`).
    #[serde(default)]
    pub by_agent: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PrReview {
    pub id: i64,
    pub author: String,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`.
    pub state: String,
    pub body: String,
    pub submitted_at: Option<DateTime<Utc>>,
}

/// Everything the review screen shows about a ticket's pull request.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReviewSummary {
    pub ticket_id: Uuid,
    pub pr_number: i64,
    pub pr_url: String,
    pub title: String,
    pub state: PrState,
    pub draft: bool,
    /// The PR description, cut to about 600 characters (ending in "…" when cut).
    pub body_summary: String,
    pub head_branch: String,
    pub base_branch: String,
    /// Null while GitHub is still computing it.
    pub mergeable: Option<bool>,
    pub additions: i64,
    pub deletions: i64,
    pub changed_files: i64,
    /// Oldest first.
    pub commits: Vec<PrCommit>,
    pub test_files: Vec<PrTestFile>,
    /// Issue and review comments together, oldest first.
    pub comments: Vec<PrComment>,
    pub reviews: Vec<PrReview>,
    /// Someone's latest review approves and nobody's latest review requests changes.
    pub approved: bool,
}

/// One ticket of the In Review column with its PR's state; `error` says why the PR
/// could not be read (then the PR fields are null).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReviewListItem {
    pub ticket: Ticket,
    pub pr_state: Option<PrState>,
    pub approved: Option<bool>,
    /// Issue plus review comments.
    pub comments: Option<i64>,
    pub error: Option<String>,
}

/// A comment to post on the ticket's pull request.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NewPrComment {
    pub body: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct PrApproval {
    #[serde(default)]
    pub body: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum MergeMethod {
    Merge,
    #[default]
    Squash,
    Rebase,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct PrMerge {
    /// `squash` when absent.
    #[serde(default)]
    pub method: Option<MergeMethod>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MergeOutcome {
    pub merged: bool,
    pub sha: Option<String>,
    /// GitHub's message.
    pub message: String,
    /// The ticket afterwards (in Done when merged).
    pub ticket: Ticket,
}

// ------------------------------------------------------------------ settings

/// A setting as the UI sees it: secrets only say whether they are set.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SettingView {
    pub key: String,
    pub secret: bool,
    /// Plain value (null for secrets and for unset keys).
    pub value: Option<serde_json::Value>,
    pub is_set: bool,
    /// `project` when the project overrides the global value, else `global` or `default`.
    pub source: String,
    /// What the setting is for, in a sentence (shown under its name).
    #[serde(default)]
    pub help: String,
}

/// `{ "key": value | null }`: null clears the key at this scope.
pub type SettingsUpdate = std::collections::BTreeMap<String, Option<serde_json::Value>>;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SettingsCheck {
    pub items: Vec<CheckItem>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckItem {
    pub name: String,
    pub ok: bool,
    /// False when the endpoint is not set up at all (and nothing was called).
    pub configured: bool,
    pub detail: String,
}

// ------------------------------------------------------------------ tokens

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// People and the UI.
    User,
    /// Worker hosts: claim, heartbeat, finish.
    Worker,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::User => "user",
            TokenKind::Worker => "worker",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::User, Self::Worker].into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Health {
    pub status: String,
    pub version: String,
}

/// `Option<Option<T>>` that tells "absent" from "null".
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(v: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

// ------------------------------------------------------------------ memory

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemoryDocs {
    pub docs: Vec<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemoryIndexed {
    /// Newly stored documents.
    pub indexed: usize,
    /// Documents already in memory (same content), left as they were.
    pub unchanged: usize,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemoryDeleted {
    pub deleted: usize,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemoryQuery {
    pub queries: Vec<String>,
    #[serde(default = "default_num_to_retrieve")]
    pub num_to_retrieve: usize,
}

fn default_num_to_retrieve() -> usize {
    5
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemoryResults {
    /// One entry per query, in order.
    pub results: Vec<MemoryResult>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemoryResult {
    pub query: String,
    /// Best first.
    pub passages: Vec<RetrievedPassage>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RetrievedPassage {
    pub text: String,
    pub score: f64,
}
