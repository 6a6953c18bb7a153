//! Ticket rules: creating, editing and above all moving, which queues and cancels jobs.

use terarchitect_protocol::{
    ColumnRole, JobKind, JobMessage, MoveOutcome, NewTicket, Ticket, TicketMove, TicketPatch, Validate,
};
use uuid::Uuid;

use super::App;
use crate::store;
use crate::{Error, Result};

pub async fn create(app: &App, project_id: Uuid, input: &NewTicket) -> Result<Ticket> {
    input.validate()?;
    let id = Uuid::new_v4();
    let mut tx = app.db.begin().await?;
    store::lock_project(&mut tx, project_id).await?;
    let column = match input.column_id {
        Some(c) => store::board::get(&mut *tx, project_id, c)
            .await
            .map_err(|_| Error::invalid("column_id", "no such column in this project"))?,
        None => store::board::by_role(&mut *tx, project_id, ColumnRole::Backlog).await?,
    };
    if column.role == Some(ColumnRole::InProgress) {
        return Err(Error::invalid(
            "column_id",
            "create the ticket first, then move it to In Progress",
        ));
    }
    store::tickets::insert(&mut tx, project_id, id, column.id, input).await?;
    tx.commit().await?;
    store::tickets::get(&app.db, project_id, id).await
}

pub async fn update(app: &App, project_id: Uuid, id: Uuid, patch: &TicketPatch) -> Result<Ticket> {
    patch.validate()?;
    let mut tx = app.db.begin().await?;
    store::tickets::update(&mut tx, project_id, id, patch).await?;
    tx.commit().await?;
    store::tickets::get(&app.db, project_id, id).await
}

pub async fn delete(app: &App, project_id: Uuid, id: Uuid) -> Result<()> {
    let mut tx = app.db.begin().await?;
    store::lock_project(&mut tx, project_id).await?;
    if let Some(job) = store::jobs::active_for_ticket(&mut *tx, id).await?
        && job.status == terarchitect_protocol::JobStatus::Running
    {
        return Err(Error::Conflict(
            "an agent is working on this ticket; stop it first".into(),
        ));
    }
    store::tickets::delete(&mut tx, project_id, id).await?;
    tx.commit().await?;
    Ok(())
}

/// Moves a ticket. Into In Progress: queues an `implement` job unless one is active
/// (job + outbox row in the move's transaction, then sent to SQS after commit). Out of
/// In Progress: cancels the active job (at once when queued, via its host when running).
pub async fn move_ticket(app: &App, project_id: Uuid, id: Uuid, mv: &TicketMove) -> Result<MoveOutcome> {
    mv.validate()?;
    let mut tx = app.db.begin().await?;
    store::lock_project(&mut tx, project_id).await?;
    let target = store::board::get(&mut *tx, project_id, mv.column_id)
        .await
        .map_err(|_| Error::invalid("column_id", "no such column in this project"))?;
    let from_column = store::tickets::move_to(&mut tx, project_id, id, target.id, mv.position).await?;

    let active = store::jobs::active_for_ticket(&mut *tx, id).await?;
    let mut new_job = None;
    let mut cancel_requested = false;
    let into_progress = target.role == Some(ColumnRole::InProgress);
    if into_progress && active.is_none() {
        new_job = Some(store::jobs::create_queued(&mut tx, project_id, id, JobKind::Implement).await?);
    } else if let Some(job) = active.as_ref().filter(|_| !into_progress && from_column != target.id) {
        store::jobs::request_cancel(&mut *tx, job.id, "the ticket was moved out of In Progress").await?;
        cancel_requested = true;
    }
    tx.commit().await?;

    if let Some(job) = &new_job {
        // Best effort now; the scheduler re-sends what stays unsent.
        if let Err(e) = send_outbox(app, job.id).await {
            tracing::warn!(job_id = %job.id, error = %e, "enqueue failed; the scheduler will retry");
        }
    }
    let ticket = store::tickets::get(&app.db, project_id, id).await?;
    let job = match (new_job, active) {
        (Some(j), _) => Some(store::jobs::get(&app.db, j.id).await?),
        (None, Some(j)) => Some(store::jobs::get(&app.db, j.id).await?),
        _ => None,
    };
    Ok(MoveOutcome {
        ticket,
        job,
        cancel_requested,
    })
}

/// Sends the job's unsent outbox rows to the queue and marks them sent.
pub async fn send_outbox(app: &App, job_id: Uuid) -> Result<()> {
    for row in store::jobs::unsent_for_job(&app.db, job_id).await? {
        app.queue
            .send(&JobMessage {
                job_id: row.payload.job_id,
            })
            .await?;
        store::jobs::mark_sent(&app.db, &[row.id]).await?;
    }
    Ok(())
}
