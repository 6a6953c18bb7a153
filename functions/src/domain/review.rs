//! Reviewing a ticket's pull request from Terarchitect: what it changes (commits, test
//! files and the tests they add), the conversation, approving and merging; plus the
//! scheduler's pass that turns new reviewer comments into `review` jobs.

use futures_util::{StreamExt, stream};
use octocrab::Page;
use octocrab::models::pulls::{PullRequest, Review, ReviewAction};
use octocrab::models::repos::{DiffEntry, RepoCommit};
use serde::de::DeserializeOwned;
use terarchitect_protocol::pr_thread::{self, CommentKind, Standing, ThreadEntry};
use terarchitect_protocol::{
    AGENT_COMMENT_MARKER, ColumnRole, MergeMethod, MergeOutcome, NewPrComment, PrApproval, PrComment, PrCommentKind,
    PrCommit, PrMerge, PrReview, PrState, PrTestFile, ReviewListItem, ReviewSummary, Ticket, TicketMove, Validate,
};
use uuid::Uuid;

use super::App;
use super::github::{Acting, GitHubError, Repo};
use super::queue::JobTx;
use super::test_files;
use crate::store;
use crate::{Error, Result};

/// How many PRs the review list reads from GitHub at once.
const LIST_CONCURRENCY: usize = 4;
/// Characters of the PR description in a summary.
const BODY_SUMMARY_CHARS: usize = 600;

async fn ticket_pr(app: &App, project_id: Uuid, ticket_id: Uuid) -> Result<(Ticket, u64)> {
    let ticket = store::tickets::get(&app.db, project_id, ticket_id).await?;
    let number = ticket.pr_number.filter(|n| *n > 0).ok_or(GitHubError::NoPullRequest)?;
    Ok((ticket, number as u64))
}

/// Every page of a list endpoint under the repository (`rest` like `pulls/7/files`).
async fn list_all<T: DeserializeOwned>(gh: &Repo, number: u64, rest: String) -> Result<Vec<T>, GitHubError> {
    let first: Page<T> = gh
        .crab
        .get(gh.route(&rest), Some(&[("per_page", 100)]))
        .await
        .map_err(|e| gh.classify(number, e))?;
    gh.crab.all_pages(first).await.map_err(|e| gh.classify(number, e))
}

async fn get_pull(gh: &Repo, number: u64) -> Result<PullRequest, GitHubError> {
    gh.pulls().get(number).await.map_err(|e| gh.classify(number, e))
}

fn pr_state(pr: &PullRequest) -> PrState {
    if pr.merged == Some(true) || pr.merged_at.is_some() {
        PrState::Merged
    } else if matches!(pr.state, Some(octocrab::models::IssueState::Open) | None) {
        PrState::Open
    } else {
        PrState::Closed
    }
}

fn pr_url(pr: &PullRequest, ticket: &Ticket) -> String {
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

fn review_json(r: Review) -> PrReview {
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

fn issue_comment(c: octocrab::models::issues::Comment) -> PrComment {
    PrComment {
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

fn review_comment(c: octocrab::models::pulls::Comment) -> PrComment {
    PrComment {
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

fn commit_json(c: RepoCommit) -> PrCommit {
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

fn test_file(f: &DiffEntry) -> Option<PrTestFile> {
    if !test_files::is_test_file(&f.filename) {
        return None;
    }
    let status = serde_json::to_value(&f.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "changed".into());
    Some(PrTestFile {
        path: f.filename.clone(),
        status,
        additions: f.additions as i64,
        deletions: f.deletions as i64,
        tests: test_files::added_tests(&f.filename, f.patch.as_deref().unwrap_or_default()),
    })
}

/// The ticket's PR as the review screen shows it.
pub async fn summary(app: &App, project_id: Uuid, ticket_id: Uuid) -> Result<ReviewSummary> {
    let (ticket, n) = ticket_pr(app, project_id, ticket_id).await?;
    let gh = Repo::for_project(app, project_id, Acting::Agent).await?;
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
        .map(issue_comment)
        .chain(review_comments.into_iter().map(review_comment))
        .collect();
    comments.sort_by_key(|c| (c.created_at, c.id));
    let reviews: Vec<PrReview> = reviews.into_iter().map(review_json).collect();
    let sum = |f: fn(&DiffEntry) -> u64| files.iter().map(f).sum::<u64>();
    Ok(ReviewSummary {
        ticket_id,
        pr_number: n as i64,
        pr_url: pr_url(&pr, &ticket),
        title: pr.title.clone().unwrap_or_default(),
        state: pr_state(&pr),
        draft: pr.draft.unwrap_or(false),
        body_summary: summarize(
            &pr_thread::visible_text(pr.body.as_deref().unwrap_or_default()),
            BODY_SUMMARY_CHARS,
        ),
        head_branch: pr.head.ref_field.clone(),
        base_branch: pr.base.ref_field.clone(),
        mergeable: pr.mergeable,
        additions: pr.additions.unwrap_or_else(|| sum(|f| f.additions)) as i64,
        deletions: pr.deletions.unwrap_or_else(|| sum(|f| f.deletions)) as i64,
        changed_files: pr.changed_files.unwrap_or(files.len() as u64) as i64,
        commits: commits.into_iter().map(commit_json).collect(),
        test_files: files.iter().filter_map(test_file).collect(),
        comments,
        approved: is_approved(&reviews),
        reviews,
    })
}

/// Posts `input.body` on the PR's conversation.
pub async fn comment(app: &App, project_id: Uuid, ticket_id: Uuid, input: &NewPrComment) -> Result<PrComment> {
    input.validate()?;
    let (_, n) = ticket_pr(app, project_id, ticket_id).await?;
    let gh = Repo::for_project(app, project_id, Acting::Reviewer).await?;
    let c = gh
        .issues()
        .create_comment(n, &input.body)
        .await
        .map_err(|e| gh.classify(n, e))?;
    Ok(issue_comment(c))
}

/// Approves the PR's current head.
pub async fn approve(app: &App, project_id: Uuid, ticket_id: Uuid, input: &PrApproval) -> Result<PrReview> {
    input.validate()?;
    let (_, n) = ticket_pr(app, project_id, ticket_id).await?;
    let gh = Repo::for_project(app, project_id, Acting::Reviewer).await?;
    let pr = get_pull(&gh, n).await?;
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

/// Merges the PR (squash unless asked otherwise) and, once merged, moves the ticket to
/// Done like a user's move would (an active job is cancelled, the board version moves).
pub async fn merge(app: &App, project_id: Uuid, ticket_id: Uuid, input: &PrMerge) -> Result<MergeOutcome> {
    let (ticket, n) = ticket_pr(app, project_id, ticket_id).await?;
    let gh = Repo::for_project(app, project_id, Acting::Reviewer).await?;
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
    let done = store::board::by_role(&app.db, project_id, ColumnRole::Done).await?;
    let moved = super::tickets::move_ticket(
        app,
        project_id,
        ticket_id,
        &TicketMove {
            column_id: done.id,
            position: None,
        },
    )
    .await?;
    tracing::info!(%ticket_id, pr = n, "pull request merged; ticket moved to Done");
    Ok(MergeOutcome {
        merged: true,
        sha: merged.sha,
        message,
        ticket: moved.ticket,
    })
}

/// The In Review column's tickets that have a PR, each with its PR's state from GitHub
/// (read concurrently). A PR that cannot be read gives an item with `error` instead of
/// failing the list.
pub async fn list(app: &App, project_id: Uuid) -> Result<Vec<ReviewListItem>> {
    store::projects::get(&app.db, project_id).await?;
    let column = store::board::by_role(&app.db, project_id, ColumnRole::InReview).await?;
    let tickets: Vec<Ticket> = store::tickets::list(&app.db, project_id)
        .await?
        .into_iter()
        .filter(|t| t.column_id == column.id && t.pr_number.is_some_and(|n| n > 0))
        .collect();
    if tickets.is_empty() {
        return Ok(Vec::new());
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
    Ok(items)
}

// ------------------------------------------------------------------ scheduler pass

/// What one [`poll_pull_requests`] pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PollReport {
    /// Projects with tickets to look at.
    pub projects: usize,
    /// Projects without a GitHub token or GitHub repository, left alone.
    pub skipped: usize,
    /// Tickets whose PR was read.
    pub tickets: usize,
    /// Reviewer comments seen for the first time.
    pub recorded: u64,
    /// Review jobs queued.
    pub queued: usize,
    /// Tickets whose new comments met the review round limit (a ticket comment says so).
    pub capped: usize,
    /// Tickets moved to Done because their PR was merged on GitHub.
    pub merged: usize,
    /// Tickets whose PR had not changed since its comments were last read (not re-read).
    pub unchanged: usize,
    /// Projects or tickets that failed (GitHub down, token refused...); retried next pass.
    pub failed: usize,
}

/// Candidates read per pass.
const POLL_LIMIT: i64 = 1000;

/// The scheduler's review pass: for every ticket in an In Review column with a PR and no
/// active job whose PR changed since the last pass (one list request per project tells),
/// reads the PR's issue and review comments, records reviewers' new ones
/// (the agent's own replies carry [`AGENT_COMMENT_MARKER`] and are ignored; the comments
/// they name as answered count so, see [`pr_thread`]), and when some are unhandled queues one `review`
/// job through the outbox (the ticket stays in In Review with the job on its card; a
/// successful review job leaves it there). A PR merged on GitHub moves its ticket to
/// Done; a closed one is left to the humans. Once `max_review_rounds` jobs were queued for a
/// ticket, new comments get a ticket comment instead. Projects without a GitHub token are
/// skipped; a failing project or ticket does not stop the others.
pub async fn poll_pull_requests(app: &App) -> Result<PollReport> {
    let mut report = PollReport::default();
    let candidates = store::reviews::candidates(&app.db, POLL_LIMIT).await?;
    let mut by_project: Vec<(Uuid, Vec<store::reviews::Candidate>)> = Vec::new();
    for c in candidates {
        match by_project.last_mut() {
            Some((p, list)) if *p == c.project_id => list.push(c),
            _ => by_project.push((c.project_id, vec![c])),
        }
    }
    for (project_id, tickets) in by_project {
        report.projects += 1;
        let gh = match Repo::for_project(app, project_id, Acting::Agent).await {
            Ok(gh) => gh,
            Err(Error::GitHub(GitHubError::NotConfigured(_))) => {
                report.skipped += 1;
                continue;
            }
            Err(e) => {
                tracing::warn!(%project_id, error = %e, "review poll: project skipped this pass");
                report.failed += 1;
                continue;
            }
        };
        let max_rounds = match super::settings::max_review_rounds(app, project_id).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(%project_id, error = %e, "review poll: project skipped this pass");
                report.failed += 1;
                continue;
            }
        };
        let recent = match RecentPulls::read(&gh).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%project_id, error = %e, "review poll: project skipped this pass");
                report.failed += 1;
                continue;
            }
        };
        for c in tickets {
            match poll_ticket(app, &gh, &recent, &c, max_rounds).await {
                Ok(outcome) => {
                    report.tickets += 1;
                    report.recorded += outcome.recorded;
                    match outcome.action {
                        Action::Queued => report.queued += 1,
                        Action::Capped => report.capped += 1,
                        Action::Merged => report.merged += 1,
                        Action::Unchanged => report.unchanged += 1,
                        Action::Nothing => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(ticket_id = %c.ticket_id, pr = c.pr_number, error = %e, "review poll: ticket skipped this pass");
                    report.failed += 1;
                }
            }
        }
    }
    Ok(report)
}

enum Action {
    Nothing,
    Unchanged,
    Queued,
    Capped,
    Merged,
}

/// A repository's most recently updated PRs, any state: one request per project and pass
/// shows which of its tickets' PRs changed. A PR not among them is read on its own.
struct RecentPulls(Vec<PullRequest>);

impl RecentPulls {
    async fn read(gh: &Repo) -> Result<RecentPulls, GitHubError> {
        let page = gh
            .pulls()
            .list()
            .state(octocrab::params::State::All)
            .sort(octocrab::params::pulls::Sort::Updated)
            .direction(octocrab::params::Direction::Descending)
            .per_page(100)
            .send()
            .await
            .map_err(|e| gh.classify(0, e))?;
        Ok(RecentPulls(page.items))
    }

    fn find(&self, n: u64) -> Option<&PullRequest> {
        self.0.iter().find(|p| p.number == n)
    }
}

struct TicketPoll {
    recorded: u64,
    action: Action,
}

/// The reviewers' comments on PR `n`, the ones the agent's replies already answered
/// marked so.
async fn reviewer_comments(gh: &Repo, n: u64) -> Result<Vec<store::reviews::Seen>, GitHubError> {
    let (issue, review) = tokio::try_join!(
        list_all::<octocrab::models::issues::Comment>(gh, n, format!("issues/{n}/comments")),
        list_all::<octocrab::models::pulls::Comment>(gh, n, format!("pulls/{n}/comments")),
    )?;
    let all: Vec<store::reviews::Seen> = issue
        .into_iter()
        .map(|c| store::reviews::Seen {
            kind: CommentKind::Issue,
            github_id: c.id.into_inner(),
            author: c.user.login,
            body: c.body.unwrap_or_default(),
            path: None,
            created_at: c.created_at,
            answered: false,
        })
        .chain(review.into_iter().map(|c| store::reviews::Seen {
            kind: CommentKind::Review,
            github_id: c.id.into_inner(),
            author: c.user.map(|u| u.login).unwrap_or_default(),
            body: c.body,
            path: Some(c.path),
            created_at: c.created_at,
            answered: false,
        }))
        .collect();
    let standings = pr_thread::standings(&all, |c| ThreadEntry {
        kind: c.kind,
        id: c.github_id,
        body: &c.body,
        created_at: c.created_at,
    });
    Ok(all
        .into_iter()
        .zip(standings)
        .filter(|(_, s)| *s != Standing::AgentReply)
        .map(|(mut c, s)| {
            c.answered = s == Standing::Answered;
            c
        })
        .collect())
}

async fn poll_ticket(
    app: &App,
    gh: &Repo,
    recent: &RecentPulls,
    c: &store::reviews::Candidate,
    max_rounds: i64,
) -> Result<TicketPoll> {
    let n = c.pr_number as u64;
    let fetched;
    let pr = match recent.find(n) {
        Some(pr) => pr,
        None => {
            fetched = get_pull(gh, n).await?;
            &fetched
        }
    };
    if pr.merged_at.is_some() {
        return followed_merge(app, c, pr).await;
    }
    if pr.state == Some(octocrab::models::IssueState::Closed) {
        // Closed without merging: a human's call; nothing for an agent to answer.
        return Ok(TicketPoll {
            recorded: 0,
            action: Action::Nothing,
        });
    }
    if pr.updated_at.is_some() && pr.updated_at == c.seen_updated_at {
        return Ok(TicketPoll {
            recorded: 0,
            action: Action::Unchanged,
        });
    }
    let seen = reviewer_comments(gh, n).await?;
    let mut tx = JobTx::begin(app).await?;
    store::lock_project(&mut tx, c.project_id).await?;
    let recorded = store::reviews::record(&mut tx, c.project_id, c.ticket_id, &seen).await?;
    // Under the project lock: a user may have moved the ticket, or a job started, meanwhile.
    let Some(rounds) = store::reviews::lock_candidate(&mut tx, c.ticket_id).await? else {
        tx.commit(app).await?;
        return Ok(TicketPoll {
            recorded,
            action: Action::Nothing,
        });
    };
    // Every comment read is handled below (queued, capped or answered already), in this
    // transaction: until the PR changes again there is nothing more to read.
    if let Some(at) = pr.updated_at {
        store::reviews::mark_seen(&mut tx, c.ticket_id, c.pr_number, at).await?;
    }
    let fresh = store::reviews::count_unhandled(&mut tx, c.ticket_id).await?;
    if fresh == 0 {
        tx.commit(app).await?;
        return Ok(TicketPoll {
            recorded,
            action: Action::Nothing,
        });
    }
    if i64::from(rounds) >= max_rounds {
        store::reviews::mark_handled(&mut tx, c.ticket_id, None).await?;
        let note = format!(
            "{fresh} new review comment(s) on PR #{n} were not sent to the agent: it already took \
             {rounds} review round(s) and max_review_rounds is {max_rounds}. They wait for a human \
             (raise max_review_rounds to let the agent answer later comments)."
        );
        store::tickets::add_comment(&mut **tx, c.project_id, c.ticket_id, "terarchitect", &note).await?;
        tx.commit(app).await?;
        tracing::info!(ticket_id = %c.ticket_id, pr = n, "review round limit reached; comments left to a human");
        return Ok(TicketPoll {
            recorded,
            action: Action::Capped,
        });
    }
    let job = tx
        .enqueue(c.project_id, c.ticket_id, terarchitect_protocol::JobKind::Review)
        .await?;
    store::reviews::mark_handled(&mut tx, c.ticket_id, Some(job.id)).await?;
    store::tickets::bump_review_rounds(&mut tx, c.ticket_id).await?;
    tx.commit(app).await?;
    tracing::info!(ticket_id = %c.ticket_id, job_id = %job.id, pr = n, comments = fresh, "review job queued");
    Ok(TicketPoll {
        recorded,
        action: Action::Queued,
    })
}

/// A PR merged on GitHub itself: the ticket follows it to Done, as after a merge from
/// the review page, with a ticket comment saying who merged it.
async fn followed_merge(app: &App, c: &store::reviews::Candidate, pr: &PullRequest) -> Result<TicketPoll> {
    let done = store::board::by_role(&app.db, c.project_id, ColumnRole::Done).await?;
    super::tickets::move_ticket(
        app,
        c.project_id,
        c.ticket_id,
        &TicketMove {
            column_id: done.id,
            position: None,
        },
    )
    .await?;
    let by = pr
        .merged_by
        .as_ref()
        .map(|u| format!(" by {}", u.login))
        .unwrap_or_default();
    let note = format!("PR #{} was merged on GitHub{by}; the ticket moved to Done.", pr.number);
    store::tickets::add_comment(&app.db, c.project_id, c.ticket_id, "terarchitect", &note).await?;
    tracing::info!(ticket_id = %c.ticket_id, pr = pr.number, "pull request merged on GitHub; ticket moved to Done");
    Ok(TicketPoll {
        recorded: 0,
        action: Action::Merged,
    })
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
