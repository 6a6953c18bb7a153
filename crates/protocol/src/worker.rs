//! The worker API (claim, heartbeat, finish) and the context a job's agent fetches.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::graph::Graph;
use crate::job::Job;
use crate::note::Note;
use crate::project::Project;
use crate::ticket::{Ticket, TicketComment};

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

string_enum! {
    pub enum Outcome {
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
        /// Hand the job back to the queue (host shutting down, environment problem).
        Released = "released",
    }
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
    /// Comma-separated logins trusted besides owners, members and collaborators
    /// ([`Trust`](crate::pr_thread::Trust)).
    #[serde(default)]
    pub review_trusted_logins: Option<String>,
    pub summarize_every_turns: i64,
    pub git_author_name: Option<String>,
    pub git_author_email: Option<String>,
}

string_enum! {
    #[derive(Default)]
    pub enum WorkerMode {
        #[default]
        Native = "native",
        Opencode = "opencode",
        ClaudeCode = "claude-code",
    }
}
