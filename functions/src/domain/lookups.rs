//! Reads of tickets and jobs that answer 404 unless the id belongs where the caller says.
//! (They belong with `tickets` and `jobs`; they live here until those modules' rewrite.)

use terarchitect_protocol::{Job, Ticket};
use uuid::Uuid;

use super::App;
use crate::store;
use crate::{Error, Result};

pub async fn ticket(app: &App, project_id: Uuid, ticket_id: Uuid) -> Result<Ticket> {
    store::tickets::get(&app.db, project_id, ticket_id).await
}

/// The ticket's jobs (404 for a ticket not in the project).
pub async fn ticket_jobs(app: &App, project_id: Uuid, ticket_id: Uuid) -> Result<Vec<Job>> {
    store::tickets::get(&app.db, project_id, ticket_id).await?;
    store::jobs::list_for_ticket(&app.db, project_id, ticket_id).await
}

pub async fn job(app: &App, job_id: Uuid) -> Result<Job> {
    store::jobs::get(&app.db, job_id).await
}

/// A job of the project (404 when it belongs to another one).
pub async fn project_job(app: &App, project_id: Uuid, job_id: Uuid) -> Result<Job> {
    let job = job(app, job_id).await?;
    if job.project_id != project_id {
        return Err(Error::NotFound("job"));
    }
    Ok(job)
}
