//! Comments on a ticket (by people through the UI, and by the system: review rounds,
//! merges).

use terarchitect_protocol::{NewComment, TicketComment, Validate};
use uuid::Uuid;

use super::App;
use crate::Result;
use crate::store;

/// The ticket's comments, oldest first (404 for a ticket not in the project).
pub async fn list(app: &App, project_id: Uuid, ticket_id: Uuid) -> Result<Vec<TicketComment>> {
    store::tickets::get(&app.db, project_id, ticket_id).await?;
    store::tickets::comments(&app.db, project_id, ticket_id).await
}

pub async fn add(
    app: &App,
    project_id: Uuid,
    ticket_id: Uuid,
    author: &str,
    input: &NewComment,
) -> Result<TicketComment> {
    input.validate()?;
    store::tickets::add_comment(&app.db, project_id, ticket_id, author, &input.body).await
}
