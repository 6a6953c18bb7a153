//! The scheduler's review pass.

use octocrab::models::pulls::PullRequest;
use terarchitect_protocol::pr_thread::{self, CommentKind, Standing, ThreadEntry, Trust};
use terarchitect_protocol::{ColumnRole, ProjectId};

use crate::domain::App;
use crate::domain::github::{Acting, GitHubError, Repo};
use crate::domain::queue::JobTx;
use crate::domain::settings::ReviewPolicy;
use crate::store;
use crate::{Error, Result};

use super::convert::*;

/// What one [`poll_pull_requests`] pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PollReport {
    /// Projects with tickets to look at.
    pub projects: usize,
    /// Projects without a GitHub token or GitHub repository, left alone.
    pub skipped: usize,
    /// Tickets whose PR was read.
    pub tickets: usize,
    /// Reviewer comments seen for the first time (outsiders' included).
    pub recorded: u64,
    /// Comments from outsiders (not owners, members, collaborators or listed logins) on
    /// the PRs read: recorded as such, never acted on.
    pub outsiders: u64,
    /// Review jobs queued.
    pub queued: usize,
    /// Tickets whose new comments met the review round limit (a ticket comment says so).
    pub capped: usize,
    /// Tickets moved to Done because their PR was merged on GitHub.
    pub merged: usize,
    /// Tickets whose PR had not changed since its comments were last read (not re-read).
    pub unchanged: usize,
    /// Tickets whose PR number names a PR that is not theirs (head not `ticket-{id}` of
    /// the project's repository): left alone.
    pub foreign: usize,
    /// Projects or tickets that failed (GitHub down, token refused...); retried next pass.
    pub failed: usize,
}

/// Candidates read per pass.
const POLL_LIMIT: i64 = 1000;

/// The scheduler's review pass: for every ticket in an In Review column with a PR and no
/// active job whose PR changed since the last pass (one list request per project tells),
/// and is the ticket's own (head `ticket-{id}` in the project's repository), reads the
/// PR's issue and review comments, records reviewers' new ones (outsiders' are recorded
/// as such and never count, see [`Trust`]; the agent's own replies carry
/// [`AGENT_COMMENT_MARKER`] and are ignored; the comments they name as answered count
/// so, see [`pr_thread`]), and when some are unhandled queues one `review`
/// job through the outbox (the ticket stays in In Review with the job on its card; a
/// successful review job leaves it there). A PR merged on GitHub moves its ticket to
/// Done; a closed one is left to the humans. Once `max_review_rounds` jobs were queued for a
/// ticket, new comments get a ticket comment instead. Projects without a GitHub token are
/// skipped; a failing project or ticket does not stop the others.
pub async fn poll_pull_requests(app: &App) -> Result<PollReport> {
    let mut report = PollReport::default();
    let candidates = store::reviews::candidates(&app.db, POLL_LIMIT).await?;
    let mut by_project: Vec<(ProjectId, Vec<store::reviews::Candidate>)> = Vec::new();
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
        let policy = match crate::domain::settings::review_policy(app, project_id).await {
            Ok(p) => p,
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
            match poll_ticket(app, &gh, &recent, &c, &policy).await {
                Ok(outcome) => {
                    report.tickets += 1;
                    report.recorded += outcome.recorded;
                    report.outsiders += outcome.outsiders;
                    match outcome.action {
                        Action::Queued => report.queued += 1,
                        Action::Capped => report.capped += 1,
                        Action::Merged => report.merged += 1,
                        Action::Unchanged => report.unchanged += 1,
                        Action::Foreign => report.foreign += 1,
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
    Foreign,
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
    outsiders: u64,
    action: Action,
}

impl TicketPoll {
    fn just(action: Action) -> TicketPoll {
        TicketPoll {
            recorded: 0,
            outsiders: 0,
            action,
        }
    }
}

/// The reviewers' comments on PR `n`: outsiders' marked so, the ones the agent's replies
/// already answered marked so. Only trusted comments take part in the thread's standings,
/// so an outsider cannot fake an agent reply that answers someone else's comment.
async fn reviewer_comments(gh: &Repo, n: u64, trust: &Trust) -> Result<Vec<store::reviews::Seen>, GitHubError> {
    let (issue, review) = tokio::try_join!(
        list_all::<octocrab::models::issues::Comment>(gh, n, format!("issues/{n}/comments")),
        list_all::<octocrab::models::pulls::Comment>(gh, n, format!("pulls/{n}/comments")),
    )?;
    let all: Vec<store::reviews::Seen> = issue
        .into_iter()
        .map(|c| store::reviews::Seen {
            kind: CommentKind::Issue,
            github_id: c.id.into_inner(),
            outsider: !trust.trusts(&c.user.login, association(c.author_association.as_ref()).as_deref()),
            author: c.user.login,
            body: c.body.unwrap_or_default(),
            path: None,
            created_at: c.created_at,
            answered: false,
        })
        .chain(review.into_iter().map(|c| {
            let author = c.user.map(|u| u.login).unwrap_or_default();
            store::reviews::Seen {
                kind: CommentKind::Review,
                github_id: c.id.into_inner(),
                outsider: !trust.trusts(&author, association(c.author_association.as_ref()).as_deref()),
                author,
                body: c.body,
                path: Some(c.path),
                created_at: c.created_at,
                answered: false,
            }
        }))
        .collect();
    let (trusted, outsiders): (Vec<_>, Vec<_>) = all.into_iter().partition(|c| !c.outsider);
    let standings = pr_thread::standings(&trusted, |c| ThreadEntry {
        kind: c.kind,
        id: c.github_id,
        body: &c.body,
        created_at: c.created_at,
    });
    Ok(trusted
        .into_iter()
        .zip(standings)
        .filter(|(_, s)| *s != Standing::AgentReply)
        .map(|(mut c, s)| {
            c.answered = s == Standing::Answered;
            c
        })
        .chain(outsiders)
        .collect())
}

async fn poll_ticket(
    app: &App,
    gh: &Repo,
    recent: &RecentPulls,
    c: &store::reviews::Candidate,
    policy: &ReviewPolicy,
) -> Result<TicketPoll> {
    let max_rounds = policy.max_rounds;
    let n = c.pr_number as u64;
    let fetched;
    let pr = match recent.find(n) {
        Some(pr) => pr,
        None => {
            fetched = get_pull(gh, n).await?;
            &fetched
        }
    };
    if let Err(e) = check_own_pr(gh, c.ticket_id, pr) {
        // Someone else's PR (another branch, or a fork's `ticket-{id}`): neither its
        // comments nor its merge steer this ticket.
        tracing::warn!(ticket_id = %c.ticket_id, pr = n, error = %e, "review poll: not the ticket's own PR; left alone");
        return Ok(TicketPoll::just(Action::Foreign));
    }
    if pr.merged_at.is_some() {
        return followed_merge(app, c, pr).await;
    }
    if pr.state == Some(octocrab::models::IssueState::Closed) {
        // Closed without merging: a human's call; nothing for an agent to answer.
        return Ok(TicketPoll::just(Action::Nothing));
    }
    if pr.updated_at.is_some() && pr.updated_at == c.seen_updated_at {
        return Ok(TicketPoll::just(Action::Unchanged));
    }
    let seen = reviewer_comments(gh, n, &policy.trust).await?;
    let outsiders = seen.iter().filter(|s| s.outsider).count() as u64;
    let mut tx = JobTx::begin(app).await?;
    store::lock_project(&mut tx, c.project_id).await?;
    let recorded = store::reviews::record(&mut tx, c.project_id, c.ticket_id, &seen).await?;
    // Under the project lock: a user may have moved the ticket, or a job started, meanwhile.
    let Some(rounds) = store::reviews::lock_candidate(&mut tx, c.ticket_id).await? else {
        tx.commit(app).await?;
        return Ok(TicketPoll {
            recorded,
            outsiders,
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
            outsiders,
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
            outsiders,
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
        outsiders,
        action: Action::Queued,
    })
}

/// A PR merged on GitHub itself: the ticket follows it to Done, as after a merge from
/// the review page, with a ticket comment saying who merged it.
async fn followed_merge(app: &App, c: &store::reviews::Candidate, pr: &PullRequest) -> Result<TicketPoll> {
    crate::domain::tickets::move_to_role(app, c.project_id, c.ticket_id, ColumnRole::Done).await?;
    let by = pr
        .merged_by
        .as_ref()
        .map(|u| format!(" by {}", u.login))
        .unwrap_or_default();
    let note = format!("PR #{} was merged on GitHub{by}; the ticket moved to Done.", pr.number);
    store::tickets::add_comment(&app.db, c.project_id, c.ticket_id, "terarchitect", &note).await?;
    tracing::info!(ticket_id = %c.ticket_id, pr = pr.number, "pull request merged on GitHub; ticket moved to Done");
    Ok(TicketPoll::just(Action::Merged))
}
