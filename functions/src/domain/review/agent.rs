//! A job's pull request, brokered: the agent asks with its job token, and the API acts on
//! GitHub with the project's token, which never reaches the agent. Whatever it asks, the
//! PR is the ticket's own (`ticket-{id}` in the project's repository, into the default
//! branch), and the one it opened or verified is recorded on the job: the run's PR is
//! never a line of the container's output.

use octocrab::params::State;
use terarchitect_protocol::pr_thread::{self, CommentKind, Standing, ThreadEntry};
use terarchitect_protocol::{
    AgentPullRequest, Job, PullRequestDraft, PullRequestReply, PullRequestThread, ThreadComment, Validate,
};

use super::convert::{association, check_own_pr, get_pull, list_all};
use crate::domain::App;
use crate::domain::github::{Acting, GitHubError, Repo};
use crate::store;
use crate::{Error, JobConflict, Result};

/// Opens the ticket's PR, or updates the title and body of the one already open, and
/// records it as the run's PR.
pub async fn open(app: &App, job: &Job, draft: &PullRequestDraft) -> Result<AgentPullRequest> {
    draft.validate()?;
    let project = store::projects::get(&app.db, job.project_id).await?;
    let gh = Repo::for_project(app, job.project_id, Acting::Agent).await?;
    let branch = format!("ticket-{}", job.ticket_id);
    let listed = gh
        .pulls()
        .list()
        .state(State::Open)
        .head(format!("{}:{branch}", gh.owner))
        .per_page(100)
        .send()
        .await
        .map_err(|e| gh.classify(0, e))?;
    let existing = listed
        .items
        .into_iter()
        .find(|p| check_own_pr(&gh, job.ticket_id, p).is_ok());
    let (pr, created) = match existing {
        Some(p) => {
            let updated = gh
                .pulls()
                .update(p.number)
                .title(&draft.title)
                .body(&draft.body)
                .send()
                .await
                .map_err(|e| gh.classify(p.number, e))?;
            (updated, false)
        }
        None => {
            let opened = gh
                .pulls()
                .create(&draft.title, &branch, &project.default_branch)
                .body(&draft.body)
                .send()
                .await
                .map_err(|e| gh.classify(0, e))?;
            (opened, true)
        }
    };
    check_own_pr(&gh, job.ticket_id, &pr)?;
    let url = record(app, job, &pr).await?;
    tracing::info!(job_id = %job.id, number = pr.number, created, "pull request recorded");
    Ok(AgentPullRequest {
        number: pr.number as i64,
        url,
        created,
    })
}

/// The ticket's PR conversation as a review job needs it: trusted reviewers' comments,
/// split into those earlier replies answered and those still to address. Records the PR
/// (verified as the ticket's own) as the run's.
pub async fn thread(app: &App, job: &Job) -> Result<PullRequestThread> {
    let ticket = store::tickets::get(&app.db, job.project_id, job.ticket_id).await?;
    let n = ticket.pr_number.filter(|n| *n > 0).ok_or(GitHubError::NoPullRequest)? as u64;
    let gh = Repo::for_project(app, job.project_id, Acting::Agent).await?;
    let pr = get_pull(&gh, n).await?;
    check_own_pr(&gh, job.ticket_id, &pr)?;
    let trust = crate::domain::settings::review_policy(app, job.project_id).await?.trust;
    let (issue, review) = tokio::try_join!(
        list_all::<octocrab::models::issues::Comment>(&gh, n, format!("issues/{n}/comments")),
        list_all::<octocrab::models::pulls::Comment>(&gh, n, format!("pulls/{n}/comments")),
    )?;
    let mut ignored = 0;
    let mut comments = Vec::new();
    for c in issue {
        if !trust.trusts(&c.user.login, association(c.author_association.as_ref()).as_deref()) {
            ignored += 1;
            continue;
        }
        comments.push(ThreadComment {
            kind: CommentKind::Issue,
            id: c.id.into_inner(),
            author: c.user.login,
            path: None,
            body: c.body.unwrap_or_default(),
            created_at: c.created_at,
        });
    }
    for c in review {
        let author = c.user.map(|u| u.login).unwrap_or_default();
        if !trust.trusts(&author, association(c.author_association.as_ref()).as_deref()) {
            ignored += 1;
            continue;
        }
        comments.push(ThreadComment {
            kind: CommentKind::Review,
            id: c.id.into_inner(),
            author,
            path: Some(c.path),
            body: c.body,
            created_at: c.created_at,
        });
    }
    comments.sort_by_key(|c| (c.created_at, c.id));
    let standings = pr_thread::standings(&comments, |c| ThreadEntry {
        kind: c.kind,
        id: c.id,
        body: &c.body,
        created_at: c.created_at,
    });
    let url = record(app, job, &pr).await?;
    let mut thread = PullRequestThread {
        number: n as i64,
        url,
        new: Vec::new(),
        earlier: Vec::new(),
        our_replies: 0,
        ignored,
    };
    for (c, standing) in comments.into_iter().zip(standings) {
        match standing {
            Standing::AgentReply => thread.our_replies += 1,
            Standing::Answered => thread.earlier.push(c),
            Standing::Unanswered => thread.new.push(c),
        }
    }
    Ok(thread)
}

/// Posts the agent's reply on the run's PR (the one [`thread`] or [`open`] recorded), with
/// the hidden footer naming the comments it answers.
pub async fn reply(app: &App, job: &Job, r: &PullRequestReply) -> Result<()> {
    r.validate()?;
    let current = store::jobs::get(&app.db, job.id).await?;
    let n =
        current.pr_number.filter(|n| *n > 0).ok_or_else(|| {
            Error::Conflict("the run has no pull request yet: read its thread (or open it) first".into())
        })? as u64;
    let gh = Repo::for_project(app, job.project_id, Acting::Agent).await?;
    let answered: Vec<_> = r.answers.iter().map(|a| (a.kind, a.id)).collect();
    let body = format!("{}\n\n{}", r.body.trim(), pr_thread::agent_reply_footer(&answered));
    gh.issues()
        .create_comment(n, body)
        .await
        .map_err(|e| gh.classify(n, e))?;
    Ok(())
}

/// Records `pr` on the job; its web address, which the UI links to, must be http(s).
async fn record(app: &App, job: &Job, pr: &octocrab::models::pulls::PullRequest) -> Result<String> {
    let url = pr
        .html_url
        .as_ref()
        .map(|u| u.to_string())
        .ok_or_else(|| GitHubError::Refused(format!("pull request #{} came without its web address", pr.number)))?;
    terarchitect_protocol::validate::web_url("html_url", &url)
        .map_err(|e| GitHubError::Refused(format!("pull request #{}: {e}", pr.number)))?;
    if !store::jobs::record_pr(&app.db, job.id, &url, pr.number as i64).await? {
        return Err(Error::JobState(
            JobConflict::JobFinished,
            "the job is no longer running; its pull request was not recorded".into(),
        ));
    }
    Ok(url)
}
