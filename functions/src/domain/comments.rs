//! Comments on a ticket (by people through the UI, and by the system: review rounds,
//! merges).

use terarchitect_protocol::{NewComment, ProjectId, TicketComment, TicketId, Validate};

use super::App;
use super::page::{Key, Page, PageRequest};
use crate::Result;
use crate::store;

/// The ticket's comments, oldest first (404 for a ticket not in the project).
pub async fn list(
    app: &App,
    project_id: ProjectId,
    ticket_id: TicketId,
    page: PageRequest,
) -> Result<Page<TicketComment>> {
    store::tickets::get(&app.db, project_id, ticket_id).await?;
    let rows = store::tickets::comments(&app.db, project_id, ticket_id, page.slice()).await?;
    Ok(page.page(rows, |c| Key::new(c.created_at, c.id)))
}

pub async fn add(
    app: &App,
    project_id: ProjectId,
    ticket_id: TicketId,
    author: &str,
    input: &NewComment,
) -> Result<TicketComment> {
    input.validate()?;
    store::tickets::add_comment(&app.db, project_id, ticket_id, author, &input.body).await
}
