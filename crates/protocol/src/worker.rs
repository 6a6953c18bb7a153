//! The worker API (claim, heartbeat, finish) and the context a job's agent fetches.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::graph::Graph;
use crate::job::Job;
use crate::note::Note;
use crate::pr_thread::CommentKind;
use crate::project::{ExecutionMode, Project};
use crate::redact::Redacted;
use crate::ticket::{Ticket, TicketComment};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The host the worker token was minted for (`admin mint-token --host`) is the lease
    /// owner. Optional: when given it must be that host (403 otherwise), which catches a
    /// host configured with another host's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    /// How this host runs agents (`docker` for the docker and ecs runtimes, `local` for the
    /// local one). Only jobs of projects with this execution mode are handed out; any other
    /// claim is refused with 409 `wrong_execution_mode` and the job stays queued.
    pub execution_mode: ExecutionMode,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct Claim {
    pub job: Job,
    pub project: Project,
    /// Scoped to this job only; hand it to the agent, never log it.
    pub job_token: String,
    pub lease_expires_at: DateTime<Utc>,
    /// The project's `egress_allow` entries: the hosts its agent's container may reach
    /// besides Terarchitect and the repository (the worker host's egress proxy enforces it).
    #[serde(default)]
    pub egress_allow: Vec<String>,
}

impl fmt::Debug for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Claim {
            job,
            project,
            job_token: _,
            lease_expires_at,
            egress_allow,
        } = self;
        f.debug_struct("Claim")
            .field("job", job)
            .field("project", project)
            .field("job_token", &Redacted)
            .field("lease_expires_at", lease_expires_at)
            .field("egress_allow", egress_allow)
            .finish()
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// Optional; when given, the token's host (see [`ClaimRequest::host_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
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
    /// Optional; when given, the token's host (see [`ClaimRequest::host_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    pub outcome: Outcome,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub reason: Option<String>,
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

/// Resolved settings with secrets in clear, for the control plane's own calls. What a
/// job's agent gets has no secret at all: the API's gateway adds the LLM and embedding
/// keys to its calls, the API opens its pull request, and the worker host's git proxy
/// adds the GitHub token to its pushes.
// `Debug` prints the secrets as `[redacted]` (below).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Serialize, Deserialize, PartialEq, Default)]
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

// Every field is named (a new one fails to compile until it is listed here), each secret
// as whether it is set.
impl fmt::Debug for AgentSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let AgentSettings {
            director_llm_url,
            director_llm_model,
            director_llm_key,
            worker_mode,
            worker_llm_url,
            worker_llm_model,
            worker_llm_key,
            anthropic_key,
            github_token,
            github_api_url,
            embedding_url,
            embedding_model,
            embedding_key,
            max_review_rounds,
            review_trusted_logins,
            summarize_every_turns,
            git_author_name,
            git_author_email,
        } = self;
        f.debug_struct("AgentSettings")
            .field("director_llm_url", director_llm_url)
            .field("director_llm_model", director_llm_model)
            .field("director_llm_key", &Redacted::opt(director_llm_key))
            .field("worker_mode", worker_mode)
            .field("worker_llm_url", worker_llm_url)
            .field("worker_llm_model", worker_llm_model)
            .field("worker_llm_key", &Redacted::opt(worker_llm_key))
            .field("anthropic_key", &Redacted::opt(anthropic_key))
            .field("github_token", &Redacted::opt(github_token))
            .field("github_api_url", github_api_url)
            .field("embedding_url", embedding_url)
            .field("embedding_model", embedding_model)
            .field("embedding_key", &Redacted::opt(embedding_key))
            .field("max_review_rounds", max_review_rounds)
            .field("review_trusted_logins", review_trusted_logins)
            .field("summarize_every_turns", summarize_every_turns)
            .field("git_author_name", git_author_name)
            .field("git_author_email", git_author_email)
            .finish()
    }
}

/// A worker host's git proxy asks for a job's repository access with the job token its
/// agent presented (`POST /worker/jobs/{id}/git`): proof that the caller is that job.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GitAccessRequest {
    pub job_token: String,
}

impl fmt::Debug for GitAccessRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitAccessRequest")
            .field("job_token", &Redacted)
            .finish()
    }
}

/// What the git proxy needs to carry a job's fetches and its one branch's pushes: the
/// repository's https remote, the project's GitHub token (held by the host's proxy,
/// never by the agent), and the only branch it may push.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct GitAccess {
    pub remote: String,
    pub token: Option<String>,
    /// `ticket-{id}`: pushes to any other ref are refused.
    pub branch: String,
}

impl fmt::Debug for GitAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitAccess")
            .field("remote", &self.remote)
            .field("token", &Redacted::opt(&self.token))
            .field("branch", &self.branch)
            .finish()
    }
}

/// What an agent asks the API to open, or update, as its ticket's pull request: from
/// `ticket-{id}` into the project's default branch, in the project's repository.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PullRequestDraft {
    pub title: String,
    pub body: String,
}

/// GitHub's own limit on a PR title and description.
pub const MAX_PR_TITLE: usize = 256;
pub const MAX_PR_BODY: usize = 65_536;

impl crate::Validate for PullRequestDraft {
    fn validate(&self) -> Result<(), crate::FieldError> {
        crate::validate::required("title", &self.title, MAX_PR_TITLE)?;
        crate::validate::bounded("body", &self.body, MAX_PR_BODY)
    }
}

/// The run's pull request, as the API opened or verified it (and recorded on the job).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AgentPullRequest {
    pub number: i64,
    pub url: String,
    /// False when an open PR of the ticket's branch was updated instead.
    pub created: bool,
}

/// One trusted reviewer's comment on the ticket's PR.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ThreadComment {
    pub kind: CommentKind,
    pub id: u64,
    pub author: String,
    /// The file, for a comment on a line of the diff.
    pub path: Option<String>,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A review job's view of its ticket's PR conversation (`GET /agent/pull-request/thread`).
/// Comments from outsiders are only counted: they never reach the agent.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PullRequestThread {
    pub number: i64,
    pub url: String,
    /// Comments since our last reply: what this round must address.
    pub new: Vec<ThreadComment>,
    /// Comments earlier rounds answered (context only).
    pub earlier: Vec<ThreadComment>,
    /// Review rounds already replied to.
    pub our_replies: i64,
    /// Outsiders' comments left out.
    pub ignored: i64,
}

/// A comment the reply answers.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CommentRef {
    pub kind: CommentKind,
    pub id: u64,
}

/// The agent's reply on its ticket's PR (`POST /agent/pull-request/replies`); the API adds
/// the hidden footer naming what it answers.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PullRequestReply {
    pub body: String,
    pub answers: Vec<CommentRef>,
}

impl crate::Validate for PullRequestReply {
    fn validate(&self) -> Result<(), crate::FieldError> {
        crate::validate::required("body", &self.body, MAX_PR_BODY - 4_000)?;
        if self.answers.len() > 1_000 {
            return Err(crate::FieldError::new("answers", "must name at most 1000 comments"));
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SettingKey, SettingKind};

    /// Every setting agents get, populated from `SettingKey`: `{:?}` shows each plain value
    /// and no secret.
    #[test]
    fn debug_redacts_every_secret() {
        let mut fields = serde_json::Map::new();
        for k in SettingKey::ALL.into_iter().filter(|k| k.spec().for_agents) {
            let v = match k.kind() {
                SettingKind::Secret => serde_json::json!(format!("SECRET-{k}")),
                SettingKind::Int { default, .. } => serde_json::json!(default),
                SettingKind::WorkerMode => serde_json::json!("opencode"),
                SettingKind::Url | SettingKind::Text => serde_json::json!(format!("plain-{k}")),
                SettingKind::HostList => serde_json::json!("pypi.org"),
                SettingKind::PriceTable => serde_json::json!("m=1/2"),
                SettingKind::Usd => serde_json::json!(1.5),
            };
            fields.insert(k.to_string(), v);
        }
        let s: AgentSettings = serde_json::from_value(fields.into()).unwrap();
        assert_eq!(s.github_token.as_deref(), Some("SECRET-github_token"));
        let text = format!("{s:?} {s:#?}");
        assert!(!text.contains("SECRET-"), "{text}");
        assert!(text.contains("github_token: Some([redacted])"), "{text}");
        assert!(
            text.contains("plain-director_llm_url") && text.contains("Opencode"),
            "{text}"
        );
        assert!(format!("{:?}", AgentSettings::default()).contains("github_token: None"));
    }
}
