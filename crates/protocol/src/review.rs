//! Pull request review: what the review screen shows, and commenting, approving and merging.

use crate::id::TicketId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ticket::Ticket;

/// Ends every comment the agent posts on a pull request (invisible when rendered), so
/// neither a later review job nor the scheduler takes the agent's replies for a reviewer's.
pub const AGENT_COMMENT_MARKER: &str = "<!-- terarchitect-bot -->";

string_enum! {
    /// A pull request's state on GitHub.
    pub enum PrState {
        Open = "open",
        Closed = "closed",
        Merged = "merged",
    }
}

string_enum! {
    pub enum PrCommentKind {
        /// On the conversation tab (an issue comment).
        Issue = "issue",
        /// On a line of the diff.
        Review = "review",
    }
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
    /// Not from the repository's owners, members or collaborators, nor a login in
    /// `review_trusted_logins`: shown, but never acted on by the agent.
    #[serde(default)]
    pub outsider: bool,
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

/// One changed file of a pull request and its unified-diff patch.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PrFile {
    pub path: String,
    /// `added`, `modified`, `removed`, `renamed`, ...
    pub status: String,
    pub additions: i64,
    pub deletions: i64,
    /// The hunks; null when GitHub gives none (binary or very large files) or the patch is
    /// longer than 200,000 characters.
    pub patch: Option<String>,
}

/// Everything the review screen shows about a ticket's pull request.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReviewSummary {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub ticket_id: TicketId,
    pub pr_number: i64,
    pub pr_url: String,
    pub title: String,
    pub state: PrState,
    pub draft: bool,
    /// The PR description, cut to about 600 characters (ending in "…" when cut).
    pub body_summary: String,
    /// The whole description (Markdown, at most 65,536 characters), without the agent's
    /// hidden markers.
    #[serde(default)]
    pub body: String,
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
    /// Every changed file with its patch, in GitHub's order.
    #[serde(default)]
    pub files: Vec<PrFile>,
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct NewPrComment {
    pub body: String,
    /// With `line`: a review comment on this file of the PR's diff (new side).
    #[serde(default)]
    pub path: Option<String>,
    /// The line in the file's new version (1-based).
    #[serde(default)]
    pub line: Option<i64>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct PrApproval {
    #[serde(default)]
    pub body: Option<String>,
}

string_enum! {
    #[derive(Default)]
    pub enum MergeMethod {
        Merge = "merge",
        #[default]
        Squash = "squash",
        Rebase = "rebase",
    }
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
