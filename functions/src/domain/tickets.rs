//! Ticket rules: creating, editing and above all moving, which queues and cancels jobs.

use terarchitect_protocol::{
    ColumnRole, MoveOutcome, NewTicket, ProjectId, Ticket, TicketId, TicketMove, TicketPatch, Validate,
};

use super::App;
use super::lifecycle::{self, MoveEffect};
use super::queue::JobTx;
use crate::store::{self, Tx};
use crate::{Error, Result};

/// The most tickets a project may hold: the board (and the agent's board summary) lists
/// them all in one response, so this is what bounds that response (docs/api.md).
pub const MAX_TICKETS: i64 = 5_000;

pub async fn get(app: &App, project_id: ProjectId, id: TicketId) -> Result<Ticket> {
    store::tickets::get(&app.db, project_id, id).await
}

pub async fn create(app: &App, project_id: ProjectId, input: &NewTicket) -> Result<Ticket> {
    input.validate()?;
    let id = TicketId::new();
    let mut tx = app.db.begin().await?;
    store::lock_project(&mut tx, project_id).await?;
    if store::tickets::count(&mut *tx, project_id).await? >= MAX_TICKETS {
        return Err(Error::Conflict(format!(
            "a project holds at most {MAX_TICKETS} tickets; delete some before adding more"
        )));
    }
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

pub async fn update(app: &App, project_id: ProjectId, id: TicketId, patch: &TicketPatch) -> Result<Ticket> {
    patch.validate()?;
    let mut tx = app.db.begin().await?;
    store::tickets::update(&mut tx, project_id, id, patch).await?;
    tx.commit().await?;
    store::tickets::get(&app.db, project_id, id).await
}

pub async fn delete(app: &App, project_id: ProjectId, id: TicketId) -> Result<()> {
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

/// Moves a ticket; what that does to its jobs is `lifecycle::on_move`: into In Progress
/// queues an `implement` job unless one is active (sent to SQS after commit), out of In
/// Progress cancels the active job (at once when queued, via its host when running).
pub async fn move_ticket(app: &App, project_id: ProjectId, id: TicketId, mv: &TicketMove) -> Result<MoveOutcome> {
    mv.validate()?;
    let mut tx = JobTx::begin(app).await?;
    store::lock_project(&mut tx, project_id).await?;
    let target = store::board::get(&mut **tx, project_id, mv.column_id)
        .await
        .map_err(|_| Error::invalid("column_id", "no such column in this project"))?;
    let from_column = store::tickets::move_to(&mut tx, project_id, id, target.id, mv.position).await?;

    let active = store::jobs::active_for_ticket(&mut **tx, id).await?;
    let into_progress = target.role == Some(ColumnRole::InProgress);
    let effect = lifecycle::on_move(
        into_progress,
        from_column != target.id,
        active.as_ref().map(|j| j.status),
    );
    let mut new_job = None;
    let mut cancel_requested = false;
    match (effect, &active) {
        (MoveEffect::Enqueue(kind), _) => {
            // Under the project lock, so nothing is written when a run could not start.
            super::preflight::check(&mut tx, project_id, id).await?;
            new_job = Some(tx.enqueue(project_id, id, kind).await?)
        }
        (MoveEffect::Stop, Some(job)) => {
            super::jobs::request_stop(&mut **tx, job, "the ticket was moved out of In Progress").await?;
            cancel_requested = true;
        }
        _ => {}
    }
    tx.commit(app).await?;

    let ticket = store::tickets::get(&app.db, project_id, id).await?;
    let job = match new_job.or(active) {
        Some(j) => Some(store::jobs::get(&app.db, j.id).await?),
        None => None,
    };
    Ok(MoveOutcome {
        ticket,
        job,
        cancel_requested,
    })
}

/// Moves the ticket to the end of the column with `role`, as a user's drag there would
/// (with the same consequences for its jobs).
pub async fn move_to_role(app: &App, project_id: ProjectId, id: TicketId, role: ColumnRole) -> Result<MoveOutcome> {
    let column = store::board::by_role(&app.db, project_id, role).await?;
    let mv = TicketMove {
        column_id: column.id,
        position: None,
    };
    move_ticket(app, project_id, id, &mv).await
}

/// A job succeeded: its ticket, if still In Progress, goes to In Review (a review job's
/// ticket is already there and stays).
pub async fn follow_success(tx: &mut Tx<'_>, project_id: ProjectId, id: TicketId) -> Result<()> {
    let (column, _) = store::tickets::place(tx, project_id, id).await?;
    let progress = store::board::by_role(&mut **tx, project_id, ColumnRole::InProgress).await?;
    if column == progress.id {
        let review = store::board::by_role(&mut **tx, project_id, ColumnRole::InReview).await?;
        store::tickets::move_to(tx, project_id, id, review.id, None).await?;
    }
    Ok(())
}

/// Puts the ticket in the column of `role` (at its end) unless it is there already,
/// without the job consequences of a user's move.
pub async fn place_in(tx: &mut Tx<'_>, project_id: ProjectId, id: TicketId, role: ColumnRole) -> Result<()> {
    let target = store::board::by_role(&mut **tx, project_id, role).await?;
    let (column, _) = store::tickets::place(tx, project_id, id).await?;
    if column != target.id {
        store::tickets::move_to(tx, project_id, id, target.id, None).await?;
    }
    Ok(())
}
