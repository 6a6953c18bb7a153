//! Before a run: what a job of this ticket needs and does not have. Checked when a move
//! or a retry would queue one, so a run never starts only to fail on a missing setting.

use terarchitect_protocol::{ExecutionMode, ProjectId, TicketId};

use sqlx::PgConnection;

use super::settings;
use crate::store;
use crate::{Error, Result};

/// `Err(Error::NotReady)` naming everything missing, or `Ok` when a run can start. On the
/// caller's connection: it runs inside the transaction that would queue the job.
pub async fn check(db: &mut PgConnection, project_id: ProjectId, ticket_id: TicketId) -> Result<()> {
    let project = store::projects::get(&mut *db, project_id).await?;
    let ticket = store::tickets::get(&mut *db, project_id, ticket_id).await?;
    let mut missing: Vec<String> = Vec::new();
    match project.execution_mode {
        ExecutionMode::Docker if project.repo_url.trim().is_empty() => missing.push("repo_url".into()),
        ExecutionMode::Local if project.local_path.as_deref().is_none_or(|p| p.trim().is_empty()) => {
            missing.push("local_path".into())
        }
        _ => {}
    }
    // A container clones and pushes over HTTPS with the project's GitHub token.
    let needs_github = project.execution_mode == ExecutionMode::Docker;
    let settings = settings::missing_for_run(db, project_id, needs_github).await?;
    missing.extend(settings.iter().map(|k| k.as_str().to_string()));
    if !ticket.whole_graph && ticket.node_ids.is_empty() && ticket.edge_ids.is_empty() {
        missing.push("components".into());
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::NotReady(missing))
    }
}
