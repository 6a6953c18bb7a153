//! The job life cycle: claim → heartbeat → finish, plus cancel, retry, logs and the
//! scheduler's repairs (re-send unsent outbox rows, recover expired leases).

use std::sync::OnceLock;
use std::time::Duration;

use terarchitect_protocol::{
    BoardSummaryColumn, Claim, ColumnRole, EventBatch, EventPage, ExecutionMode, FinishRequest, GitAccess, Graph,
    Heartbeat, Job, JobId, JobStatus, Outcome, ProjectId, TicketId, Validate, WorkerContext,
};

use axum::body::Bytes;

use super::cache::{self, Versioned};
use super::lifecycle::{self, ColumnChange, Event, JobState, Transition};
use super::page::{Key, Page, PageRequest, Slice};
use super::queue::{self, JobTx};
use super::{App, crypto};
use crate::store;
use crate::{Error, JobConflict, Result};

/// Claims the job for `host` (the worker token's host), which runs agents as `mode`.
pub async fn claim(app: &App, job_id: JobId, host: &str, mode: ExecutionMode) -> Result<Claim> {
    let token = crypto::new_token("jt_");
    let job = store::jobs::claim(&app.db, job_id, host, mode, app.lease, &crypto::hash_token(&token)).await?;
    let Some(job) = job else {
        let current = store::jobs::get(&app.db, job_id).await?; // 404 when it never existed
        let project = store::projects::get(&app.db, current.project_id).await?;
        if project.execution_mode != mode && claimable(&current) {
            // Left queued (the host hands the message back) for a host that runs it.
            return Err(Error::JobState(
                JobConflict::WrongExecutionMode,
                format!(
                    "the job's project runs its agents in {} mode and this host runs {} agents; \
                     it stays queued for a {} host",
                    project.execution_mode, mode, project.execution_mode
                ),
            ));
        }
        // Never names the holder: one host learns nothing about another.
        return Err(job_conflict(
            &current,
            "it cannot be claimed",
            "another host holds its lease",
        ));
    };
    let project = store::projects::get(&app.db, job.project_id).await?;
    let lease_expires_at = job
        .lease_expires_at
        .ok_or_else(|| Error::Internal("claimed job without lease".into()))?;
    let egress_allow = super::settings::egress_allow(app, project.id).await?;
    tracing::info!(job_id = %job.id, host, attempt = job.attempt, "job claimed");
    Ok(Claim {
        job,
        project,
        job_token: token,
        lease_expires_at,
        egress_allow,
    })
}

/// Whether a host of the right execution mode could claim the job now (as far as a read
/// outside the claim's update can tell).
fn claimable(job: &Job) -> bool {
    let lease_over = job.lease_expires_at.is_none_or(|t| t < chrono::Utc::now());
    !job.cancel_requested && (job.status == JobStatus::Queued || (job.status == JobStatus::Running && lease_over))
}

pub async fn heartbeat(app: &App, job_id: JobId, host: &str) -> Result<Heartbeat> {
    match store::jobs::heartbeat(&app.db, job_id, host, app.lease).await? {
        Some((lease_expires_at, cancel_requested)) => Ok(Heartbeat {
            lease_expires_at,
            cancel_requested,
        }),
        None => {
            let current = store::jobs::get(&app.db, job_id).await?;
            Err(job_conflict(
                &current,
                "there is nothing to heartbeat",
                "this host does not hold its lease",
            ))
        }
    }
}

/// Why a run that said it succeeded failed: no PR was opened through the API.
pub const NO_PR: &str = "the agent finished without opening its pull request through Terarchitect";

/// Ends the job held by `host`, as `lifecycle::transition` says: success moves the ticket
/// to In Review with its PR; a release puts the job back on the queue while attempts
/// remain.
pub async fn finish(app: &App, job_id: JobId, host: &str, req: &FinishRequest) -> Result<Job> {
    req.validate()?;
    let mut tx = JobTx::begin(app).await?;
    let project_id = store::jobs::get(&mut **tx, job_id).await?.project_id;
    store::lock_project(&mut tx, project_id).await?;
    let (current, state) = store::jobs::lock_state(&mut tx, job_id).await?;
    // Success needs the PR the API opened or verified for this run (`review::agent`); a
    // run asked to stop ends cancelled whatever it says (`lifecycle`).
    let (outcome, reason) = match (req.outcome, &current.pr_url) {
        (Outcome::Succeeded, None) if !current.cancel_requested => (Outcome::Failed, Some(NO_PR)),
        (outcome, _) => (outcome, req.reason.as_deref()),
    };
    let event = Event::Finished {
        outcome,
        agent_started: req.agent_started != Some(false),
        reason,
    };
    let applied = match lifecycle::transition(state, event) {
        Some(t) if current.lease_owner.as_deref() == Some(host) => {
            let pr = current.pr_url.as_deref().map(|url| (url, current.pr_number));
            apply(&mut tx, &current, &t, Some(host), req.exit_code, pr).await?
        }
        _ => None,
    };
    let Some(job) = applied else {
        return Err(job_conflict(
            &current,
            "nothing was changed",
            "this host does not hold its lease; nothing was changed",
        ));
    };
    tx.commit(app).await?;
    tracing::info!(job_id = %job.id, status = job.status.as_str(), "job finished");
    Ok(job)
}

/// Applies an ending transition of a running job (conditional on `host` holding the
/// lease; `None`: whoever holds it). `pr`: the pull request (URL, number) a success
/// names. `None` when the guard found the job changed.
async fn apply(
    tx: &mut JobTx,
    job: &Job,
    t: &Transition,
    host: Option<&str>,
    exit_code: Option<i32>,
    pr: Option<(&str, Option<i64>)>,
) -> Result<Option<Job>> {
    if t.requeue {
        let released = store::jobs::release(tx, job.id, host, t.reason.as_deref(), t.refund_attempt).await?;
        if released.is_some() {
            tx.requeue(job.id).await?;
        }
        return Ok(released);
    }
    let pr = pr.filter(|_| t.status == JobStatus::Succeeded);
    let done = store::jobs::finish(tx, job.id, host, t.status, exit_code, t.reason.as_deref()).await?;
    if let (Some(done), Some((url, number))) = (&done, pr) {
        store::tickets::set_pr(&mut ***tx, done.ticket_id, url, number).await?;
    }
    if done.is_some() && t.column == ColumnChange::InProgressToInReview {
        super::tickets::follow_success(tx, job.project_id, job.ticket_id).await?;
    }
    Ok(done)
}

/// The 409 for a claim, heartbeat or finish that found `current` in the way: finished,
/// cancelled (or being stopped), or held by someone else (`lease_lost`).
fn job_conflict(current: &Job, finished_detail: &str, lease_detail: &str) -> Error {
    let status = current.status.as_str();
    match current.status {
        JobStatus::Cancelled => Error::JobState(
            JobConflict::JobCancelled,
            format!("the job was cancelled; {finished_detail}"),
        ),
        JobStatus::Succeeded | JobStatus::Failed => Error::JobState(
            JobConflict::JobFinished,
            format!("the job already {status}; {finished_detail}"),
        ),
        _ if current.cancel_requested => Error::JobState(
            JobConflict::JobCancelled,
            format!("the job is being stopped ({status}); {finished_detail}"),
        ),
        _ => Error::JobState(
            JobConflict::LeaseLost,
            format!("the job is {status} (attempt {}): {lease_detail}", current.attempt),
        ),
    }
}

pub async fn get(app: &App, job_id: JobId) -> Result<Job> {
    store::jobs::get(&app.db, job_id).await
}

/// A job of the project (404 when it belongs to another one).
pub async fn of_project(app: &App, project_id: ProjectId, job_id: JobId) -> Result<Job> {
    let job = get(app, job_id).await?;
    if job.project_id != project_id {
        return Err(Error::NotFound("job"));
    }
    Ok(job)
}

/// The ticket's jobs, newest first (404 for a ticket not in the project).
/// A page of a ticket's jobs, newest first.
pub async fn of_ticket(app: &App, project_id: ProjectId, ticket_id: TicketId, page: PageRequest) -> Result<Page<Job>> {
    store::tickets::get(&app.db, project_id, ticket_id).await?;
    let rows = store::jobs::list_for_ticket(&app.db, project_id, ticket_id, page.slice()).await?;
    Ok(page.page(rows, |j| Key::new(j.created_at, j.id)))
}

/// Asks the ticket's job to stop (a queued job is cancelled at once).
pub async fn cancel(app: &App, project_id: ProjectId, job_id: JobId) -> Result<Job> {
    let job = of_project(app, project_id, job_id).await?;
    match request_stop(&app.db, &job, "stopped by a user").await? {
        Some(j) => Ok(j),
        None => Err(Error::Conflict(format!("job already {}", job.status.as_str()))),
    }
}

/// `lifecycle`'s stop request: a queued job is cancelled at once, a running one flagged
/// for its host. None when the job had already ended.
pub async fn request_stop(db: impl sqlx::PgExecutor<'_>, job: &Job, reason: &str) -> Result<Option<Job>> {
    let state = JobState {
        status: job.status,
        cancel_requested: job.cancel_requested,
        attempts_left: true,
        free_release_left: true,
    };
    match lifecycle::transition(state, Event::StopRequested { reason }) {
        // The update re-checks the status: the job may have moved on since it was read.
        Some(_) => store::jobs::request_cancel(db, job.id, reason).await,
        None => Ok(None),
    }
}

/// Queues a fresh job of the same kind for a ticket whose last job failed or was cancelled.
pub async fn retry(app: &App, project_id: ProjectId, job_id: JobId) -> Result<Job> {
    let old = of_project(app, project_id, job_id).await?;
    if !lifecycle::can_retry(old.status) {
        return Err(Error::Conflict(format!(
            "only failed or cancelled jobs can be retried; this one is {}",
            old.status.as_str()
        )));
    }
    let mut tx = JobTx::begin(app).await?;
    store::lock_project(&mut tx, project_id).await?;
    super::preflight::check(&mut tx, project_id, old.ticket_id).await?;
    let job = tx.enqueue(project_id, old.ticket_id, old.kind).await?;
    if lifecycle::retry_moves_to_progress(old.kind) {
        super::tickets::place_in(&mut tx, project_id, old.ticket_id, ColumnRole::InProgress).await?;
    }
    tx.commit(app).await?;
    store::jobs::get(&app.db, job.id).await
}

pub async fn append_events(app: &App, job_id: JobId, batch: &EventBatch) -> Result<u64> {
    append(app, job_id, None, batch).await
}

/// A worker host's events (its agent's output): only into a running job it holds.
pub async fn append_host_events(app: &App, job_id: JobId, host: &str, batch: &EventBatch) -> Result<u64> {
    append(app, job_id, Some(host), batch).await
}

async fn append(app: &App, job_id: JobId, host: Option<&str>, batch: &EventBatch) -> Result<u64> {
    batch.validate()?;
    let mut tx = app.db.begin().await?;
    if let Some(host) = host {
        // Under the job's row lock, which the append takes anyway: the lease cannot change
        // hands between this check and the insert.
        let (current, _) = store::jobs::lock_state(&mut tx, job_id).await?;
        if current.status != JobStatus::Running || current.lease_owner.as_deref() != Some(host) {
            return Err(job_conflict(
                &current,
                "its log is closed to hosts",
                "this host does not hold its lease",
            ));
        }
    }
    let n = store::jobs::append_events(&mut tx, job_id, &batch.events, store::jobs::LogLimits::DEFAULT).await?;
    tx.commit().await?;
    Ok(n)
}

/// The most log events one page may hold (a larger `limit` is refused, like every list's).
pub const MAX_PAGE: i64 = 1000;

pub async fn events(app: &App, job_id: JobId, after: i64, limit: i64) -> Result<EventPage> {
    let limit = super::page::check_limit(limit, MAX_PAGE)?;
    let job = store::jobs::get(&app.db, job_id).await?;
    let events = store::jobs::events(&app.db, job_id, after.max(0), limit).await?;
    let next_after = events.last().map_or(after.max(0), |e| e.seq);
    Ok(EventPage {
        events,
        next_after,
        job_status: job.status,
        job_input_tokens: job.input_tokens,
        job_output_tokens: job.output_tokens,
        job_cost_nano_usd: job.cost_nano_usd,
    })
}

/// [`events`] as JSON. A full page never changes (events are only ever appended, in
/// `seq` order), so the last few full pages read are kept and only the job's own figures
/// are read afresh: a client following a long log, or many reading it, costs one job read.
pub async fn events_json(app: &App, job_id: JobId, after: i64, limit: i64) -> Result<Bytes> {
    /// (job, after, limit) → (the events' JSON, next_after).
    type FullPages = Versioned<(JobId, i64, i64), (Bytes, i64)>;
    static FULL_PAGES: OnceLock<FullPages> = OnceLock::new();
    let cache = FULL_PAGES.get_or_init(|| Versioned::with_capacity(32));
    let (after, limit) = (after.max(0), super::page::check_limit(limit, MAX_PAGE)?);
    let job = store::jobs::get(&app.db, job_id).await?;
    let key = (job_id, after, limit);
    let (events, next_after) = match cache.get(&key, 0) {
        Some(page) => page,
        None => {
            let events = store::jobs::events(&app.db, job_id, after, limit).await?;
            let next_after = events.last().map_or(after, |e| e.seq);
            let page = (cache::json(&events)?, next_after);
            if events.len() as i64 == limit {
                cache.keep(key, 0, page.clone());
            }
            page
        }
    };
    // The page without its events, as `EventPage` serialises it, with the events put in.
    let empty = cache::json(&EventPage {
        events: Vec::new(),
        next_after,
        job_status: job.status,
        job_input_tokens: job.input_tokens,
        job_output_tokens: job.output_tokens,
        job_cost_nano_usd: job.cost_nano_usd,
    })?;
    const HEAD: &[u8] = b"{\"events\":";
    let rest = empty
        .strip_prefix(HEAD)
        .and_then(|r| r.strip_prefix(b"[]"))
        .ok_or_else(|| Error::Internal("an EventPage no longer starts with its events".into()))?;
    let mut body = Vec::with_capacity(HEAD.len() + events.len() + rest.len());
    body.extend_from_slice(HEAD);
    body.extend_from_slice(&events);
    body.extend_from_slice(rest);
    Ok(Bytes::from(body))
}

/// The running job a job token belongs to.
pub async fn authenticate_job_token(app: &App, token: &str) -> Result<Job> {
    store::jobs::by_token(&app.db, &crypto::hash_token(token))
        .await?
        .ok_or(Error::Unauthenticated)
}

/// The repository access of job `job_id`'s git proxy on `host`: only while `host` holds
/// the running job, and only for the job token its agent holds (what the proxy was shown).
pub async fn git_access(app: &App, job_id: JobId, host: &str, job_token: &str) -> Result<GitAccess> {
    let job = store::jobs::get(&app.db, job_id).await?;
    if job.status != JobStatus::Running || job.lease_owner.as_deref() != Some(host) {
        return Err(job_conflict(
            &job,
            "its repository is closed",
            "this host does not hold its lease",
        ));
    }
    if job.cancel_requested {
        return Err(Error::Conflict(
            "the job is being cancelled: its repository is closed".into(),
        ));
    }
    let shown = store::jobs::by_token(&app.db, &crypto::hash_token(job_token)).await?;
    if shown.is_none_or(|j| j.id != job_id) {
        // 409, not 401: the host's own token is fine; what its agent showed is not.
        return Err(Error::Conflict("the job token shown is not this job's".into()));
    }
    let project = store::projects::get(&app.db, job.project_id).await?;
    let access = super::settings::github_access(app, job.project_id, false).await?;
    Ok(GitAccess {
        remote: terarchitect_protocol::https_remote(&project.repo_url),
        token: access.token,
        branch: format!("ticket-{}", job.ticket_id),
    })
}

/// Everything the agent needs for its job (job token holders only). No LLM key: the
/// agent calls its LLMs through the gateway with its job token.
pub async fn worker_context(app: &App, job: &Job) -> Result<WorkerContext> {
    let mut conn = app.db.acquire().await?;
    let project = store::projects::get(&mut *conn, job.project_id).await?;
    let ticket = store::tickets::get(&mut *conn, job.project_id, job.ticket_id).await?;
    let full = store::graph::get(&mut conn, job.project_id).await?;
    let graph = if ticket.whole_graph {
        full
    } else {
        let edges: Vec<_> = full
            .edges
            .into_iter()
            .filter(|e| ticket.edge_ids.contains(&e.id))
            .collect();
        let nodes = full
            .nodes
            .into_iter()
            .filter(|n| ticket.node_ids.contains(&n.id) || edges.iter().any(|e| e.source == n.id || e.target == n.id))
            .collect();
        Graph {
            version: full.version,
            nodes,
            edges,
        }
    };
    let notes = store::notes::list(&mut *conn, job.project_id, Slice::ALL).await?;
    let comments = store::tickets::comments(&mut *conn, job.project_id, job.ticket_id, Slice::ALL).await?;
    let board = super::projects::board(app, job.project_id)
        .await?
        .columns
        .into_iter()
        .map(|c| BoardSummaryColumn {
            title: c.column.title,
            tickets: c.tickets.into_iter().map(|t| t.title).collect(),
        })
        .collect();
    let settings = super::settings::agent_context_settings(app, job.project_id).await?;
    Ok(WorkerContext {
        job: job.clone(),
        project,
        ticket,
        graph,
        notes,
        comments,
        board,
        settings,
    })
}

/// What one scheduler pass did.
#[derive(Debug, Default, PartialEq)]
pub struct Repairs {
    /// Messages this pass put on the queue: requeued jobs' and stale outbox rows'.
    pub resent: usize,
    pub requeued: usize,
    pub failed: usize,
    /// Idempotency keys dropped after their time to live.
    pub expired_keys: u64,
    /// Queued jobs whose message was lost, sent again ([`queue::resend_unclaimed`]).
    pub unclaimed: usize,
    /// Jobs sent again from the dead-letter queue ([`queue::redrive_dead_letters`]).
    pub redriven: usize,
}

/// How long [`repair`] waits before it decides a message went missing.
#[derive(Debug, Clone, Copy)]
pub struct RepairTiming {
    /// Outbox rows younger than this are still being sent by the request that wrote them.
    pub outbox_grace: Duration,
    /// A queued job unclaimed this long after its last message is sent again. In AWS this
    /// is the queue's visibility timeout × maxReceiveCount (a message that kept failing is
    /// in the dead-letter queue by then).
    pub unclaimed_after: Duration,
}

impl Default for RepairTiming {
    fn default() -> Self {
        RepairTiming {
            outbox_grace: Duration::from_secs(10),
            unclaimed_after: Duration::from_secs(600),
        }
    }
}

/// Recovers running jobs whose lease expired (their host died), as `lifecycle` says for
/// `LeaseExpired`; re-sends outbox rows that stayed unsent, dead letters whose job is
/// still queued and queued jobs whose message went missing; drops idempotency keys past
/// their time to live. So an outage of the API or the database longer than the queue's
/// retries leaves no ticket In Progress forever.
pub async fn repair(app: &App, timing: RepairTiming) -> Result<Repairs> {
    let mut out = Repairs::default();
    for expired in store::jobs::expired_leases(&app.db, 100).await? {
        let mut tx = JobTx::begin(app).await?;
        let (job, state) = store::jobs::lock_state(&mut tx, expired.id).await?;
        let Some(t) = lifecycle::transition(state, Event::LeaseExpired) else {
            continue; // finished meanwhile
        };
        if apply(&mut tx, &job, &t, None, None, None).await?.is_some() {
            if t.requeue {
                out.requeued += 1;
            } else {
                out.failed += 1;
            }
        }
        out.resent += tx.commit(app).await?;
    }
    out.resent += queue::resend_stale(app, timing.outbox_grace).await?;
    out.redriven = queue::redrive_dead_letters(app).await?;
    out.unclaimed = queue::resend_unclaimed(app, timing.unclaimed_after).await?;
    out.expired_keys = store::tokens::purge_expired_idempotency_keys(&app.db).await?;
    store::tokens::purge_rate_windows(&app.db).await?;
    Ok(out)
}
