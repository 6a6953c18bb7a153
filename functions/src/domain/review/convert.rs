//! GitHub's shapes turned into ours: PR state, reviews, comments, commits, test files.

use octocrab::Page;
use octocrab::models::AuthorAssociation;
use octocrab::models::pulls::{PullRequest, Review};
use octocrab::models::repos::{DiffEntry, RepoCommit};
use serde::de::DeserializeOwned;
use terarchitect_protocol::pr_thread::{self, Trust};
use terarchitect_protocol::{
    AGENT_COMMENT_MARKER, PrComment, PrCommentKind, PrCommit, PrFile, PrReview, PrState, PrTestFile, ProjectId, Ticket,
    TicketId,
};

use crate::Result;
use crate::domain::App;
use crate::domain::github::{GitHubError, Repo};
use crate::domain::test_files;
use crate::store;

pub(super) async fn ticket_pr(app: &App, project_id: ProjectId, ticket_id: TicketId) -> Result<(Ticket, u64)> {
    let ticket = store::tickets::get(&app.db, project_id, ticket_id).await?;
    let number = ticket.pr_number.filter(|n| *n > 0).ok_or(GitHubError::NoPullRequest)?;
    Ok((ticket, number as u64))
}

/// Every page of a list endpoint under the repository (`rest` like `pulls/7/files`).
pub(super) async fn list_all<T: DeserializeOwned>(gh: &Repo, number: u64, rest: String) -> Result<Vec<T>, GitHubError> {
    let first: Page<T> = gh
        .crab
        .get(gh.route(&rest), Some(&[("per_page", 100)]))
        .await
        .map_err(|e| gh.classify(number, e))?;
    gh.crab.all_pages(first).await.map_err(|e| gh.classify(number, e))
}

pub(super) async fn get_pull(gh: &Repo, number: u64) -> Result<PullRequest, GitHubError> {
    gh.pulls().get(number).await.map_err(|e| gh.classify(number, e))
}

pub(super) fn pr_state(pr: &PullRequest) -> PrState {
    if pr.merged == Some(true) || pr.merged_at.is_some() {
        PrState::Merged
    } else if matches!(pr.state, Some(octocrab::models::IssueState::Open) | None) {
        PrState::Open
    } else {
        PrState::Closed
    }
}

pub(super) fn pr_url(pr: &PullRequest, ticket: &Ticket) -> String {
    pr.html_url
        .as_ref()
        .map(|u| u.to_string())
        .or_else(|| ticket.pr_url.clone())
        .unwrap_or_else(|| pr.url.clone())
}

/// `text` trimmed, cut to `max` characters (on a character boundary) ending in "…".
pub fn summarize(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
    }
}

pub(super) fn review_json(r: Review) -> PrReview {
    let state = r
        .state
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "COMMENTED".into());
    PrReview {
        id: r.id.into_inner() as i64,
        author: r.user.map(|u| u.login).unwrap_or_default(),
        state,
        body: r.body.map(|b| pr_thread::visible_text(&b)).unwrap_or_default(),
        submitted_at: r.submitted_at,
    }
}

/// GitHub's `author_association` as it spells it (`COLLABORATOR`, `NONE`, ...).
pub(super) fn association(a: Option<&AuthorAssociation>) -> Option<String> {
    serde_json::to_value(a?).ok()?.as_str().map(str::to_owned)
}

/// The ticket's own PR: its head is `ticket-{id}` in the project's repository, not another
/// branch and not a fork's branch of that name. Anything else is left alone.
pub(super) fn check_own_pr(gh: &Repo, ticket_id: TicketId, pr: &PullRequest) -> Result<(), GitHubError> {
    let branch = format!("ticket-{ticket_id}");
    let own = format!("{}/{}", gh.owner, gh.repo);
    let head_repo = pr.head.repo.as_ref().and_then(|r| r.full_name.clone());
    let n = pr.number;
    if pr.head.ref_field != branch {
        return Err(GitHubError::ForeignPullRequest(format!(
            "pull request #{n} is not this ticket's: it merges from {}, not the ticket's branch {branch}",
            pr.head.ref_field
        )));
    }
    if !head_repo.as_deref().is_some_and(|r| r.eq_ignore_ascii_case(&own)) {
        return Err(GitHubError::ForeignPullRequest(format!(
            "pull request #{n} is not this ticket's: its branch {branch} is in {}, not in {own}",
            head_repo.as_deref().unwrap_or("a repository GitHub no longer shows")
        )));
    }
    Ok(())
}

pub(super) fn issue_comment(c: octocrab::models::issues::Comment, trust: &Trust) -> PrComment {
    PrComment {
        outsider: !trust.trusts(&c.user.login, association(c.author_association.as_ref()).as_deref()),
        id: c.id.into_inner() as i64,
        kind: PrCommentKind::Issue,
        author: c.user.login,
        by_agent: c.body.as_deref().is_some_and(|b| b.contains(AGENT_COMMENT_MARKER)),
        body: pr_thread::visible_text(c.body.as_deref().unwrap_or_default()),
        path: None,
        line: None,
        created_at: c.created_at,
    }
}

pub(super) fn review_comment(c: octocrab::models::pulls::Comment, trust: &Trust) -> PrComment {
    let login = c.user.as_ref().map(|u| u.login.as_str()).unwrap_or_default();
    PrComment {
        outsider: !trust.trusts(login, association(c.author_association.as_ref()).as_deref()),
        id: c.id.into_inner() as i64,
        kind: PrCommentKind::Review,
        author: c.user.map(|u| u.login).unwrap_or_default(),
        by_agent: c.body.contains(AGENT_COMMENT_MARKER),
        body: pr_thread::visible_text(&c.body),
        path: Some(c.path),
        line: c.line.or(c.original_line).map(|l| l as i64),
        created_at: c.created_at,
    }
}

/// Approved when someone's latest verdict approves and nobody's latest verdict asks for
/// changes (comments are no verdict; a dismissal withdraws one).
pub fn is_approved(reviews: &[PrReview]) -> bool {
    let mut ordered: Vec<&PrReview> = reviews.iter().collect();
    ordered.sort_by_key(|r| (r.submitted_at, r.id));
    let mut verdicts: std::collections::BTreeMap<&str, &str> = Default::default();
    for r in ordered {
        match r.state.as_str() {
            "APPROVED" | "CHANGES_REQUESTED" => {
                verdicts.insert(&r.author, &r.state);
            }
            "DISMISSED" => {
                verdicts.remove(r.author.as_str());
            }
            _ => {}
        }
    }
    verdicts.values().any(|s| *s == "APPROVED") && !verdicts.values().any(|s| *s == "CHANGES_REQUESTED")
}

pub(super) fn commit_json(c: RepoCommit) -> PrCommit {
    let git_author = c.commit.author.as_ref();
    PrCommit {
        message: c.commit.message.lines().next().unwrap_or_default().to_string(),
        author: c
            .author
            .map(|a| a.login)
            .or_else(|| git_author.map(|a| a.name.clone()))
            .unwrap_or_default(),
        date: git_author.and_then(|a| a.date),
        sha: c.sha,
    }
}

pub(super) fn test_file(f: &DiffEntry) -> Option<PrTestFile> {
    if !test_files::is_test_file(&f.filename) {
        return None;
    }
    Some(PrTestFile {
        path: f.filename.clone(),
        status: status_text(f),
        additions: f.additions as i64,
        deletions: f.deletions as i64,
        tests: test_files::added_tests(&f.filename, f.patch.as_deref().unwrap_or_default()),
    })
}

/// Longest patch passed on; a longer one is shown as "too large" (as GitHub does itself).
const MAX_PATCH_CHARS: usize = 200_000;

pub(super) fn file_json(f: &DiffEntry) -> PrFile {
    PrFile {
        path: f.filename.clone(),
        status: status_text(f),
        additions: f.additions as i64,
        deletions: f.deletions as i64,
        patch: f.patch.clone().filter(|p| p.chars().count() <= MAX_PATCH_CHARS),
    }
}

fn status_text(f: &DiffEntry) -> String {
    serde_json::to_value(&f.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "changed".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_cut_on_a_character_boundary() {
        assert_eq!(summarize("  short  ", 600), "short");
        let long = "é".repeat(700);
        let s = summarize(&long, 600);
        assert_eq!(s.chars().count(), 601);
        assert!(s.ends_with('…'));
        assert_eq!(summarize(&"a".repeat(600), 600), "a".repeat(600));
    }

    fn review(id: i64, author: &str, state: &str, minute: u32) -> PrReview {
        PrReview {
            id,
            author: author.into(),
            state: state.into(),
            body: String::new(),
            submitted_at: Some(
                chrono::DateTime::parse_from_rfc3339(&format!("2026-01-01T00:{minute:02}:00Z"))
                    .unwrap()
                    .into(),
            ),
        }
    }

    #[test]
    fn approval_follows_each_reviewers_latest_verdict() {
        assert!(!is_approved(&[]));
        assert!(is_approved(&[review(1, "a", "APPROVED", 1)]));
        assert!(!is_approved(&[review(1, "a", "COMMENTED", 1)]));
        // b asked for changes after a approved
        assert!(!is_approved(&[
            review(1, "a", "APPROVED", 1),
            review(2, "b", "CHANGES_REQUESTED", 2)
        ]));
        // b changed their mind; a comment afterwards is no verdict
        assert!(is_approved(&[
            review(2, "b", "CHANGES_REQUESTED", 1),
            review(3, "b", "APPROVED", 2),
            review(4, "b", "COMMENTED", 3)
        ]));
        // a dismissed approval no longer counts
        assert!(!is_approved(&[
            review(1, "a", "APPROVED", 1),
            review(2, "a", "DISMISSED", 2)
        ]));
    }
}
