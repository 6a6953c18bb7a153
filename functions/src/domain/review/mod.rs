//! Reviewing a ticket's pull request from Terarchitect: what it changes (commits, test
//! files and the tests they add), the conversation, approving and merging (here); the
//! conversions from GitHub's shapes (`convert`); and the scheduler's pass that turns new
//! reviewer comments into `review` jobs (`poll`); the agent's own PR, opened and answered
//! for it (`agent`).

pub mod agent;
mod convert;
mod poll;

use futures_util::{StreamExt, stream};
use octocrab::models::pulls::{Review, ReviewAction};
use octocrab::models::repos::{DiffEntry, RepoCommit};
use terarchitect_protocol::pr_thread::{self};
use terarchitect_protocol::{
    ColumnRole, MergeMethod, MergeOutcome, NewPrComment, PrApproval, PrComment, PrMerge, PrReview, ProjectId,
    ReviewListItem, ReviewSummary, TicketId, Validate,
};

use std::sync::OnceLock;

use super::App;
use super::cache::Versioned;
use super::github::{Acting, GitHubError, Repo};
use super::page::{Key, Page, PageRequest};
use crate::store;
use crate::{Error, Result};

pub use convert::{is_approved, summarize};
pub use poll::{PollReport, poll_pull_requests};

use convert::*;

/// How many PRs the review list reads from GitHub at once.
const LIST_CONCURRENCY: usize = 4;
/// Characters of the PR description in a summary.
const BODY_SUMMARY_CHARS: usize = 600;
/// GitHub's own limit on a PR description.
const MAX_BODY_CHARS: usize = 65_536;

/// The ticket's PR as the review screen shows it.
pub async fn summary(app: &App, project_id: ProjectId, ticket_id: TicketId) -> Result<ReviewSummary> {
    let (ticket, n) = ticket_pr(app, project_id, ticket_id).await?;
    let gh = Repo::for_project(app, project_id, Acting::Agent).await?;
    let trust = super::settings::review_policy(app, project_id).await?.trust;
    let (pr, commits, files, issue_comments, review_comments, reviews) = tokio::try_join!(
        get_pull(&gh, n),
        list_all::<RepoCommit>(&gh, n, format!("pulls/{n}/commits")),
        list_all::<DiffEntry>(&gh, n, format!("pulls/{n}/files")),
        list_all::<octocrab::models::issues::Comment>(&gh, n, format!("issues/{n}/comments")),
        list_all::<octocrab::models::pulls::Comment>(&gh, n, format!("pulls/{n}/comments")),
        list_all::<Review>(&gh, n, format!("pulls/{n}/reviews")),
    )?;
    let mut comments: Vec<PrComment> = issue_comments
        .into_iter()
        .map(|c| issue_comment(c, &trust))
        .chain(review_comments.into_iter().map(|c| review_comment(c, &trust)))
        .collect();
    comments.sort_by_key(|c| (c.created_at, c.id));
    let reviews: Vec<PrReview> = reviews.into_iter().map(review_json).collect();
    let sum = |f: fn(&DiffEntry) -> u64| files.iter().map(f).sum::<u64>();
    let body = pr_thread::visible_text(pr.body.as_deref().unwrap_or_default());
    Ok(ReviewSummary {
        ticket_id,
        pr_number: n as i64,
        pr_url: pr_url(&pr, &ticket),
        title: pr.title.clone().unwrap_or_default(),
        state: pr_state(&pr),
        draft: pr.draft.unwrap_or(false),
        body_summary: summarize(&body, BODY_SUMMARY_CHARS),
        body: summarize(&body, MAX_BODY_CHARS),
        head_branch: pr.head.ref_field.clone(),
        base_branch: pr.base.ref_field.clone(),
        mergeable: pr.mergeable,
        additions: pr.additions.unwrap_or_else(|| sum(|f| f.additions)) as i64,
        deletions: pr.deletions.unwrap_or_else(|| sum(|f| f.deletions)) as i64,
        changed_files: pr.changed_files.unwrap_or(files.len() as u64) as i64,
        commits: commits.into_iter().map(commit_json).collect(),
        test_files: files.iter().filter_map(test_file).collect(),
        files: files.iter().map(file_json).collect(),
        comments,
        approved: is_approved(&reviews),
        reviews,
    })
}

/// Posts `input.body` on the PR's conversation, or on a line of its diff (`path`, `line`).
pub async fn comment(app: &App, project_id: ProjectId, ticket_id: TicketId, input: &NewPrComment) -> Result<PrComment> {
    input.validate()?;
    let (_, n) = ticket_pr(app, project_id, ticket_id).await?;
    let gh = Repo::for_project(app, project_id, Acting::Reviewer).await?;
    let trust = super::settings::review_policy(app, project_id).await?.trust;
    if let (Some(path), Some(line)) = (&input.path, input.line) {
        // On a line of the diff: a review comment on the current head, which the agent
        // answers in the next review round like any other.
        let pr = get_pull(&gh, n).await?;
        let c: octocrab::models::pulls::Comment = gh
            .crab
            .post(
                gh.route(&format!("pulls/{n}/comments")),
                Some(&serde_json::json!({
                    "body": input.body,
                    "commit_id": pr.head.sha,
                    "path": path,
                    "line": line,
                    "side": "RIGHT",
                })),
            )
            .await
            .map_err(|e| gh.classify(n, e))?;
        return Ok(review_comment(c, &trust));
    }
    let c = gh
        .issues()
        .create_comment(n, &input.body)
        .await
        .map_err(|e| gh.classify(n, e))?;
    Ok(issue_comment(c, &trust))
}

/// Approves the PR's current head, when it is the ticket's own PR.
pub async fn approve(app: &App, project_id: ProjectId, ticket_id: TicketId, input: &PrApproval) -> Result<PrReview> {
    input.validate()?;
    let (_, n) = ticket_pr(app, project_id, ticket_id).await?;
    let gh = Repo::for_project(app, project_id, Acting::Reviewer).await?;
    let pr = get_pull(&gh, n).await?;
    check_own_pr(&gh, ticket_id, &pr)?;
    let review: Review = gh
        .crab
        .post(
            gh.route(&format!("pulls/{n}/reviews")),
            Some(&serde_json::json!({
                "commit_id": pr.head.sha,
                "body": input.body.clone().unwrap_or_default(),
                "event": ReviewAction::Approve,
            })),
        )
        .await
        .map_err(|e| match gh.classify(n, e) {
            // The token that opened the PR (the agent's) cannot approve it.
            GitHubError::Refused(m) if m.contains("own pull request") => GitHubError::Refused(format!(
                "{m}; the pull request was opened with this GitHub token: set github_review_token \
                 (your own token) in the settings to approve as yourself"
            )),
            e => e,
        })?;
    Ok(review_json(review))
}

/// Merges the PR (squash unless asked otherwise), when it is the ticket's own PR, and,
/// once merged, moves the ticket to Done like a user's move would (an active job is
/// cancelled, the board version moves).
pub async fn merge(app: &App, project_id: ProjectId, ticket_id: TicketId, input: &PrMerge) -> Result<MergeOutcome> {
    let (ticket, n) = ticket_pr(app, project_id, ticket_id).await?;
    let gh = Repo::for_project(app, project_id, Acting::Reviewer).await?;
    check_own_pr(&gh, ticket_id, &get_pull(&gh, n).await?)?;
    let method = match input.method.unwrap_or_default() {
        MergeMethod::Merge => octocrab::params::pulls::MergeMethod::Merge,
        MergeMethod::Squash => octocrab::params::pulls::MergeMethod::Squash,
        MergeMethod::Rebase => octocrab::params::pulls::MergeMethod::Rebase,
    };
    let merged = gh.pulls().merge(n).method(method).send().await.map_err(|e| match e {
        octocrab::Error::GitHub { source, .. } if matches!(source.status_code.as_u16(), 405 | 409) => {
            GitHubError::NotMergeable(format!("GitHub cannot merge #{n}: {}", source.message))
        }
        e => gh.classify(n, e),
    })?;
    let message = merged.message.unwrap_or_else(|| {
        if merged.merged {
            "merged".into()
        } else {
            "not merged".into()
        }
    });
    if !merged.merged {
        return Ok(MergeOutcome {
            merged: false,
            sha: merged.sha,
            message,
            ticket,
        });
    }
    let moved = super::tickets::move_to_role(app, project_id, ticket_id, ColumnRole::Done).await?;
    tracing::info!(%ticket_id, pr = n, "pull request merged; ticket moved to Done");
    Ok(MergeOutcome {
        merged: true,
        sha: merged.sha,
        message,
        ticket: moved.ticket,
    })
}

/// The In Review column's tickets that have a PR (board data: the first page is kept per
/// project and page size until `board_version` moves, so an empty review list costs one
/// read).
async fn in_review(app: &App, project_id: ProjectId, page: PageRequest) -> Result<Page<terarchitect_protocol::Ticket>> {
    /// (project, limit) → (the page's tickets, the next cursor).
    type FirstPages = Versioned<(ProjectId, i64), (Vec<terarchitect_protocol::Ticket>, Option<String>)>;
    static FIRST_PAGES: OnceLock<FirstPages> = OnceLock::new();
    let cache = FIRST_PAGES.get_or_init(Versioned::default);
    let version = store::projects::board_version(&app.db, project_id).await?;
    let key = (project_id, page.limit());
    if page.is_first()
        && let Some((items, next)) = cache.get(&key, version)
    {
        return Ok(Page { items, next });
    }
    let column = store::board::by_role(&app.db, project_id, ColumnRole::InReview).await?;
    let rows = store::tickets::with_pr_in_column(&app.db, project_id, column.id, page.slice()).await?;
    let Page { items, next } = page.page(rows, |t| Key::new(t.created_at, t.id));
    if page.is_first() {
        cache.keep(key, version, (items.clone(), next.clone()));
    }
    Ok(Page { items, next })
}

/// The In Review column's tickets that have a PR, each with its PR's state from GitHub
/// (read concurrently), a page at a time so one request's GitHub calls stay bounded. A PR
/// that cannot be read gives an item with `error` instead of failing the list.
pub async fn list(app: &App, project_id: ProjectId, page: PageRequest) -> Result<Page<ReviewListItem>> {
    let Page { items: tickets, next } = in_review(app, project_id, page).await?;
    if tickets.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            next,
        });
    }
    let gh = match Repo::for_project(app, project_id, Acting::Agent).await {
        Ok(gh) => Ok(gh),
        Err(Error::GitHub(e)) => Err(e.to_string()),
        Err(e) => return Err(e),
    };
    let gh = &gh;
    let items = stream::iter(tickets)
        .map(|ticket| async move {
            let n = ticket.pr_number.unwrap_or_default() as u64;
            let read = async {
                let gh = gh.as_ref().map_err(Clone::clone)?;
                let (pr, reviews) =
                    tokio::try_join!(get_pull(gh, n), list_all::<Review>(gh, n, format!("pulls/{n}/reviews")),)
                        .map_err(|e| e.to_string())?;
                let reviews: Vec<PrReview> = reviews.into_iter().map(review_json).collect();
                let comments = match (pr.comments, pr.review_comments) {
                    (Some(a), Some(b)) => Some((a + b) as i64),
                    _ => None,
                };
                Ok::<_, String>((pr_state(&pr), is_approved(&reviews), comments))
            };
            match read.await {
                Ok((state, approved, comments)) => ReviewListItem {
                    ticket,
                    pr_state: Some(state),
                    approved: Some(approved),
                    comments,
                    error: None,
                },
                Err(error) => ReviewListItem {
                    ticket,
                    pr_state: None,
                    approved: None,
                    comments: None,
                    error: Some(error),
                },
            }
        })
        .buffered(LIST_CONCURRENCY)
        .collect()
        .await;
    Ok(Page { items, next })
}
