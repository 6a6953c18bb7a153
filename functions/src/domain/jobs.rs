//! The job life cycle: claim → heartbeat → finish, plus cancel, retry, logs and the
//! scheduler's repairs (re-send unsent outbox rows, recover expired leases).

use std::time::Duration;

use terarchitect_protocol::{
    BoardSummaryColumn, Claim, ClaimRequest, ColumnRole, EventBatch, EventPage, FinishRequest, Graph, Heartbeat,
    HeartbeatRequest, Job, JobKind, JobMessage, JobStatus, Outcome, Validate, WorkerContext,
};
use uuid::Uuid;

use super::{App, crypto};
use crate::store;
use crate::{Error, JobConflict, Result};

pub async fn claim(app: &App, job_id: Uuid, req: &ClaimRequest) -> Result<Claim> {
    req.validate()?;
    let token = crypto::new_token("jt_");
    let job = store::jobs::claim(&app.db, job_id, &req.host_id, app.lease, &crypto::hash_token(&token)).await?;
    let Some(job) = job else {
        let current = store::jobs::get(&app.db, job_id).await?; // 404 when it never existed
        let holder = current.lease_owner.as_deref().unwrap_or("another host");
        return Err(job_conflict(
            &current,
            "it cannot be claimed",
            &format!("{holder} holds its lease"),
        ));
    };
    let project = store::projects::get(&app.db, job.project_id).await?;
    let lease_expires_at = job
        .lease_expires_at
        .ok_or_else(|| Error::Internal("claimed job without lease".into()))?;
    tracing::info!(job_id = %job.id, host = %req.host_id, attempt = job.attempt, "job claimed");
    Ok(Claim {
        job,
        project,
        job_token: token,
        lease_expires_at,
    })
}

pub async fn heartbeat(app: &App, job_id: Uuid, req: &HeartbeatRequest) -> Result<Heartbeat> {
    req.validate()?;
    match store::jobs::heartbeat(&app.db, job_id, &req.host_id, app.lease).await? {
        Some((lease_expires_at, cancel_requested)) => Ok(Heartbeat {
            lease_expires_at,
            cancel_requested,
        }),
        None => {
            let current = store::jobs::get(&app.db, job_id).await?;
            Err(job_conflict(
                &current,
                "there is nothing to heartbeat",
                &format!("{} no longer holds its lease", req.host_id),
            ))
        }
    }
}

/// Ends the job held by `req.host_id`. Success moves the ticket to In Review with its PR;
/// `Released` puts the job back on the queue while attempts remain.
pub async fn finish(app: &App, job_id: Uuid, req: &FinishRequest) -> Result<Job> {
    req.validate()?;
    let mut tx = app.db.begin().await?;
    let host = Some(req.host_id.as_str());
    let unstarted = req.agent_started == Some(false);
    let current = store::jobs::get(&mut *tx, job_id).await?;
    store::lock_project(&mut tx, current.project_id).await?;
    let finished = match req.outcome {
        // A job handed back after a stop was requested is simply stopped.
        Outcome::Released if current.cancel_requested => {
            let reason = req.reason.as_deref().or(Some("stopped on request"));
            store::jobs::finish(&mut tx, job_id, host, JobStatus::Cancelled, req.exit_code, reason, None).await?
        }
        // Handed back before the host started its agent: the attempt does not count (a
        // bounded number of times, see `store::jobs::release`); otherwise only while
        // attempts remain.
        Outcome::Released
            if (unstarted && store::jobs::release_is_free(&mut *tx, job_id).await?)
                || store::jobs::attempts_left(&mut *tx, job_id).await? =>
        {
            store::jobs::release(&mut tx, job_id, host, req.reason.as_deref(), unstarted).await?
        }
        Outcome::Released | Outcome::Failed => {
            let reason = req.reason.clone().unwrap_or_else(|| "the agent failed".into());
            store::jobs::finish(
                &mut tx,
                job_id,
                host,
                JobStatus::Failed,
                req.exit_code,
                Some(&reason),
                None,
            )
            .await?
        }
        Outcome::Cancelled => {
            let reason = req.reason.as_deref().or(Some("stopped on request"));
            store::jobs::finish(&mut tx, job_id, host, JobStatus::Cancelled, req.exit_code, reason, None).await?
        }
        Outcome::Succeeded if current.cancel_requested => {
            // A run that was asked to stop never counts as done.
            store::jobs::finish(
                &mut tx,
                job_id,
                host,
                JobStatus::Cancelled,
                req.exit_code,
                Some("stopped on request"),
                None,
            )
            .await?
        }
        Outcome::Succeeded => {
            let job = store::jobs::finish(
                &mut tx,
                job_id,
                host,
                JobStatus::Succeeded,
                req.exit_code,
                None,
                req.pr_url.as_deref(),
            )
            .await?;
            if let (Some(job), Some(url)) = (&job, &req.pr_url) {
                store::tickets::set_pr(&mut *tx, job.ticket_id, url, req.pr_number).await?;
                let (column, _) = store::tickets::place(&mut tx, job.project_id, job.ticket_id).await?;
                let review = store::board::by_role(&mut *tx, job.project_id, ColumnRole::InReview).await?;
                let progress = store::board::by_role(&mut *tx, job.project_id, ColumnRole::InProgress).await?;
                if column == progress.id {
                    store::tickets::move_to(&mut tx, job.project_id, job.ticket_id, review.id, None).await?;
                }
            }
            job
        }
    };
    let Some(job) = finished else {
        return Err(job_conflict(
            &current,
            "nothing was changed",
            &format!("{} does not hold its lease; nothing was changed", req.host_id),
        ));
    };
    tx.commit().await?;
    if job.status == JobStatus::Queued {
        super::tickets::send_outbox(app, job.id).await.ok();
    }
    tracing::info!(job_id = %job.id, status = job.status.as_str(), "job finished");
    Ok(job)
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

/// Asks the ticket's job to stop (a queued job is cancelled at once).
pub async fn cancel(app: &App, project_id: Uuid, job_id: Uuid) -> Result<Job> {
    let job = store::jobs::get(&app.db, job_id).await?;
    if job.project_id != project_id {
        return Err(Error::NotFound("job"));
    }
    match store::jobs::request_cancel(&app.db, job_id, "stopped by a user").await? {
        Some(j) => Ok(j),
        None => Err(Error::Conflict(format!("job already {}", job.status.as_str()))),
    }
}

/// Queues a fresh job of the same kind for a ticket whose last job failed or was cancelled.
pub async fn retry(app: &App, project_id: Uuid, job_id: Uuid) -> Result<Job> {
    let old = store::jobs::get(&app.db, job_id).await?;
    if old.project_id != project_id {
        return Err(Error::NotFound("job"));
    }
    if !matches!(old.status, JobStatus::Failed | JobStatus::Cancelled) {
        return Err(Error::Conflict(format!(
            "only failed or cancelled jobs can be retried; this one is {}",
            old.status.as_str()
        )));
    }
    let mut tx = app.db.begin().await?;
    store::lock_project(&mut tx, project_id).await?;
    let job = store::jobs::create_queued(&mut tx, project_id, old.ticket_id, old.kind).await?;
    if old.kind == JobKind::Implement {
        let progress = store::board::by_role(&mut *tx, project_id, ColumnRole::InProgress).await?;
        let (column, _) = store::tickets::place(&mut tx, project_id, old.ticket_id).await?;
        if column != progress.id {
            store::tickets::move_to(&mut tx, project_id, old.ticket_id, progress.id, None).await?;
        }
    }
    tx.commit().await?;
    super::tickets::send_outbox(app, job.id).await.ok();
    store::jobs::get(&app.db, job.id).await
}

pub async fn append_events(app: &App, job_id: Uuid, batch: &EventBatch) -> Result<u64> {
    batch.validate()?;
    let mut tx = app.db.begin().await?;
    let n = store::jobs::append_events(&mut tx, job_id, &batch.events).await?;
    tx.commit().await?;
    Ok(n)
}

pub const MAX_PAGE: i64 = 1000;

pub async fn events(app: &App, job_id: Uuid, after: i64, limit: i64) -> Result<EventPage> {
    let job = store::jobs::get(&app.db, job_id).await?;
    let events = store::jobs::events(&app.db, job_id, after.max(0), limit.clamp(1, MAX_PAGE)).await?;
    let next_after = events.last().map_or(after.max(0), |e| e.seq);
    Ok(EventPage {
        events,
        next_after,
        job_status: job.status,
    })
}

/// The running job a job token belongs to.
pub async fn authenticate_job_token(app: &App, token: &str) -> Result<Job> {
    store::jobs::by_token(&app.db, &crypto::hash_token(token))
        .await?
        .ok_or(Error::Unauthenticated)
}

/// Everything the agent needs for its job, secrets included (job token holders only).
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
    let notes = store::notes::list(&mut *conn, job.project_id).await?;
    let comments = store::tickets::comments(&mut *conn, job.project_id, job.ticket_id).await?;
    let board = super::projects::board(app, job.project_id)
        .await?
        .columns
        .into_iter()
        .map(|c| BoardSummaryColumn {
            title: c.column.title,
            tickets: c.tickets.into_iter().map(|t| t.title).collect(),
        })
        .collect();
    let settings = super::settings::agent_settings(app, Some(job.project_id)).await?;
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
    pub resent: usize,
    pub requeued: usize,
    pub failed: usize,
}

/// Re-sends outbox rows that stayed unsent for `min_age`, and recovers running jobs
/// whose lease expired (their host died): back to the queue while attempts remain.
pub async fn repair(app: &App, min_age: Duration) -> Result<Repairs> {
    let mut out = Repairs::default();
    for job in store::jobs::expired_leases(&app.db, 100).await? {
        let mut tx = app.db.begin().await?;
        let left = store::jobs::attempts_left(&mut *tx, job.id).await?;
        if left && !job.cancel_requested {
            if store::jobs::release(&mut tx, job.id, None, Some("the worker host stopped answering"), false)
                .await?
                .is_some()
            {
                out.requeued += 1;
            }
        } else {
            let (status, reason) = if job.cancel_requested {
                (JobStatus::Cancelled, "stopped on request (host gone)")
            } else {
                (
                    JobStatus::Failed,
                    "the worker host stopped answering and no attempts are left",
                )
            };
            if store::jobs::finish(&mut tx, job.id, None, status, None, Some(reason), None)
                .await?
                .is_some()
            {
                out.failed += 1;
            }
        }
        tx.commit().await?;
    }
    loop {
        let mut tx = app.db.begin().await?;
        let rows = store::jobs::claim_stale_outbox(&mut tx, min_age, 100).await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            app.queue
                .send(&JobMessage {
                    job_id: row.payload.job_id,
                })
                .await?;
        }
        store::jobs::mark_sent(&mut *tx, &rows.iter().map(|r| r.id).collect::<Vec<_>>()).await?;
        tx.commit().await?;
        out.resent += rows.len();
    }
    Ok(out)
}
