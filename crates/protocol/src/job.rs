//! Jobs: their kind and life cycle, the execution log, and the queue message.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::id::{JobId, ProjectId, TicketId};

string_enum! {
    pub enum JobKind {
        Implement = "implement",
        Review = "review",
    }
}

string_enum! {
    pub enum JobStatus {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

impl JobStatus {
    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::Queued | JobStatus::Running)
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Job {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: JobId,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub project_id: ProjectId,
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub ticket_id: TicketId,
    pub kind: JobKind,
    pub status: JobStatus,
    /// How many times a host has claimed it.
    pub attempt: i32,
    pub cancel_requested: bool,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub exit_code: Option<i32>,
    pub failure_reason: Option<String>,
    /// The pull request the API opened or verified for this run (never the agent's say).
    pub pr_url: Option<String>,
    #[serde(default)]
    pub pr_number: Option<i64>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// What its LLM calls cost, priced by the project's `llm_prices` as they were made.
    #[serde(default)]
    pub cost_nano_usd: i64,
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
    /// The job's metered LLM tokens when the page was read (the gateway's count, the same
    /// the run list and the ticket show; the tokens events report are only indications).
    #[serde(default)]
    pub job_input_tokens: i64,
    #[serde(default)]
    pub job_output_tokens: i64,
    #[serde(default)]
    pub job_cost_nano_usd: i64,
}

/// A project's metered LLM usage and its budgets (`GET /api/projects/{id}/usage`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProjectUsage {
    /// Successful LLM calls.
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// The project's token budget (`project_budget_tokens`), when it has one.
    pub budget_tokens: Option<i64>,
    /// Each ticket's token budget (`ticket_budget_tokens`), when there is one.
    pub ticket_budget_tokens: Option<i64>,
    /// What the calls cost, priced by `llm_prices` as they were made.
    #[serde(default)]
    pub cost_nano_usd: i64,
    /// The project's money budget (`project_budget_usd`), when it has one.
    #[serde(default)]
    pub budget_nano_usd: Option<i64>,
    /// Each ticket's money budget (`ticket_budget_usd`), when there is one.
    #[serde(default)]
    pub ticket_budget_nano_usd: Option<i64>,
}

impl ProjectUsage {
    pub fn tokens(&self) -> i64 {
        self.input_tokens + self.output_tokens
    }
}

/// What is left of a token budget once `used` are spent (0 when overspent).
pub fn budget_left(budget: i64, used: i64) -> i64 {
    (budget - used).max(0)
}

/// The body of every queue message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobMessage {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub job_id: JobId,
}
