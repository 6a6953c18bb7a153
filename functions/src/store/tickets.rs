//! Tickets, their attachments to the graph, and their comments. Positions within a
//! column are 0..n-1 without gaps; callers hold the project lock while changing them.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use terarchitect_protocol::{
    ColumnId, CommentId, EdgeId, JobId, JobKind, JobStatus, JobSummary, NewTicket, NodeId, Priority, ProjectId, Ticket,
    TicketComment, TicketId, TicketPatch,
};

use super::Tx;
use crate::domain::page::Slice;
use crate::{Error, Result};

#[derive(sqlx::FromRow)]
struct Row {
    id: TicketId,
    project_id: ProjectId,
    column_id: ColumnId,
    position: i32,
    title: String,
    description: String,
    priority: Priority,
    whole_graph: bool,
    pr_url: Option<String>,
    pr_number: Option<i64>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    node_ids: Vec<NodeId>,
    edge_ids: Vec<EdgeId>,
    input_tokens: i64,
    output_tokens: i64,
    cost_nano_usd: i64,
    job_id: Option<JobId>,
    job_kind: Option<JobKind>,
    job_status: Option<JobStatus>,
    job_created_at: Option<DateTime<Utc>>,
    job_started_at: Option<DateTime<Utc>>,
    job_finished_at: Option<DateTime<Utc>>,
    job_cancel_requested: Option<bool>,
}

impl From<Row> for Ticket {
    fn from(r: Row) -> Self {
        let job = match (r.job_id, r.job_kind, r.job_status, r.job_created_at) {
            (Some(id), Some(kind), Some(status), Some(created_at)) => Some(JobSummary {
                id,
                kind,
                status,
                created_at,
                started_at: r.job_started_at,
                finished_at: r.job_finished_at,
                cancel_requested: r.job_cancel_requested.unwrap_or(false),
            }),
            _ => None,
        };
        Ticket {
            id: r.id,
            project_id: r.project_id,
            column_id: r.column_id,
            position: r.position,
            title: r.title,
            description: r.description,
            priority: r.priority,
            whole_graph: r.whole_graph,
            node_ids: r.node_ids,
            edge_ids: r.edge_ids,
            pr_url: r.pr_url,
            pr_number: r.pr_number,
            job,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cost_nano_usd: r.cost_nano_usd,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// One row per ticket with its attachments, token totals and latest job.
const SELECT: &str = "SELECT t.id, t.project_id, t.column_id, t.position, t.title, t.description, t.priority, \
    t.whole_graph, t.pr_url, t.pr_number, t.created_at, t.updated_at, \
    ARRAY(SELECT node_id FROM ticket_nodes n WHERE n.ticket_id = t.id ORDER BY node_id) AS node_ids, \
    ARRAY(SELECT edge_id FROM ticket_edges e WHERE e.ticket_id = t.id ORDER BY edge_id) AS edge_ids, \
    COALESCE(tok.input_tokens, 0)::int8 AS input_tokens, COALESCE(tok.output_tokens, 0)::int8 AS output_tokens, \
    COALESCE(tok.cost_nano_usd, 0)::int8 AS cost_nano_usd, \
    j.id AS job_id, j.kind AS job_kind, j.status AS job_status, j.created_at AS job_created_at, \
    j.started_at AS job_started_at, j.finished_at AS job_finished_at, j.cancel_requested AS job_cancel_requested \
    FROM tickets t \
    LEFT JOIN LATERAL (SELECT id, kind, status, created_at, started_at, finished_at, cancel_requested FROM jobs \
        WHERE jobs.ticket_id = t.id ORDER BY created_at DESC, id LIMIT 1) j ON true \
    LEFT JOIN LATERAL (SELECT sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, \
        sum(cost_nano_usd) AS cost_nano_usd FROM jobs \
        WHERE jobs.ticket_id = t.id) tok ON true";

pub async fn get(db: impl PgExecutor<'_>, project_id: ProjectId, id: TicketId) -> Result<Ticket> {
    let row: Option<Row> = sqlx::query_as(sql!("{SELECT} WHERE t.project_id = $1 AND t.id = $2"))
        .bind(project_id)
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.map(Into::into).ok_or(Error::NotFound("ticket"))
}

/// Every ticket of the project, by column then position.
pub async fn list(db: impl PgExecutor<'_>, project_id: ProjectId) -> Result<Vec<Ticket>> {
    let rows: Vec<Row> = sqlx::query_as(sql!(
        "{SELECT} WHERE t.project_id = $1 ORDER BY t.column_id, t.position"
    ))
    .bind(project_id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// A column's tickets that have a pull request (the review list), oldest first.
pub async fn with_pr_in_column(
    db: impl PgExecutor<'_>,
    project_id: ProjectId,
    column_id: ColumnId,
    slice: Slice,
) -> Result<Vec<Ticket>> {
    let page = super::keyset("t.", 3, false);
    let q = sqlx::query_as(sql!(
        "{SELECT} WHERE t.project_id = $1 AND t.column_id = $2 AND t.pr_number > 0 AND {page}"
    ));
    let rows: Vec<Row> = super::bind_slice(q.bind(project_id).bind(column_id), slice)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// How many tickets the project has.
pub async fn count(db: impl PgExecutor<'_>, project_id: ProjectId) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM tickets WHERE project_id = $1")
        .bind(project_id)
        .fetch_one(db)
        .await?;
    Ok(n)
}

async fn column_len(tx: &mut Tx<'_>, column_id: ColumnId) -> Result<i32> {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM tickets WHERE column_id = $1")
        .bind(column_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(n as i32)
}

pub async fn insert(
    tx: &mut Tx<'_>,
    project_id: ProjectId,
    id: TicketId,
    column_id: ColumnId,
    t: &NewTicket,
) -> Result<()> {
    let pos = column_len(tx, column_id).await?;
    sqlx::query(
        "INSERT INTO tickets (id, project_id, column_id, position, title, description, priority, whole_graph) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(project_id)
    .bind(column_id)
    .bind(pos)
    .bind(t.title.trim())
    .bind(&t.description)
    .bind(t.priority)
    .bind(t.whole_graph)
    .execute(&mut **tx)
    .await?;
    set_attachments(tx, project_id, id, Some(&t.node_ids), Some(&t.edge_ids)).await
}

pub async fn update(tx: &mut Tx<'_>, project_id: ProjectId, id: TicketId, p: &TicketPatch) -> Result<()> {
    let done = sqlx::query(
        "UPDATE tickets SET title = COALESCE($3, title), description = COALESCE($4, description), \
         priority = COALESCE($5, priority), whole_graph = COALESCE($6, whole_graph), updated_at = now() \
         WHERE project_id = $1 AND id = $2",
    )
    .bind(project_id)
    .bind(id)
    .bind(p.title.as_deref().map(str::trim))
    .bind(&p.description)
    .bind(p.priority)
    .bind(p.whole_graph)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("ticket"));
    }
    set_attachments(tx, project_id, id, p.node_ids.as_deref(), p.edge_ids.as_deref()).await
}

async fn set_attachments(
    tx: &mut Tx<'_>,
    project_id: ProjectId,
    id: TicketId,
    node_ids: Option<&[NodeId]>,
    edge_ids: Option<&[EdgeId]>,
) -> Result<()> {
    if let Some(nodes) = node_ids {
        sqlx::query("DELETE FROM ticket_nodes WHERE ticket_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO ticket_nodes (project_id, ticket_id, node_id) SELECT $1, $2, n FROM UNNEST($3::uuid[]) n \
             ON CONFLICT DO NOTHING",
        )
        .bind(project_id)
        .bind(id)
        .bind(nodes)
        .execute(&mut **tx)
        .await?;
    }
    if let Some(edges) = edge_ids {
        sqlx::query("DELETE FROM ticket_edges WHERE ticket_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO ticket_edges (project_id, ticket_id, edge_id) SELECT $1, $2, e FROM UNNEST($3::uuid[]) e \
             ON CONFLICT DO NOTHING",
        )
        .bind(project_id)
        .bind(id)
        .bind(edges)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Where a ticket is now.
pub async fn place(tx: &mut Tx<'_>, project_id: ProjectId, id: TicketId) -> Result<(ColumnId, i32)> {
    let row: Option<(ColumnId, i32)> =
        sqlx::query_as("SELECT column_id, position FROM tickets WHERE project_id = $1 AND id = $2 FOR UPDATE")
            .bind(project_id)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    row.ok_or(Error::NotFound("ticket"))
}

/// Moves a ticket to `position` (clamped; the end when `None`) of `column_id`; returns
/// the column it came from. One statement shifts exactly the tickets between the old and
/// the new place, so the board's version moves once.
pub async fn move_to(
    tx: &mut Tx<'_>,
    project_id: ProjectId,
    id: TicketId,
    column_id: ColumnId,
    position: Option<i32>,
) -> Result<ColumnId> {
    let (from_col, from) = place(tx, project_id, id).await?;
    let same = from_col == column_id;
    let others = column_len(tx, column_id).await? - i32::from(same);
    let to = position.unwrap_or(others).clamp(0, others);
    sqlx::query(
        "UPDATE tickets SET \
           column_id = CASE WHEN id = $1 THEN $4 ELSE column_id END, \
           position = CASE \
             WHEN id = $1 THEN $5 \
             WHEN $6 AND $5 > $3 THEN position - 1 \
             WHEN $6 THEN position + 1 \
             WHEN column_id = $2 THEN position - 1 \
             ELSE position + 1 END, \
           updated_at = CASE WHEN id = $1 THEN now() ELSE updated_at END \
         WHERE project_id = $7 AND (id = $1 OR CASE \
           WHEN $6 THEN column_id = $2 AND position BETWEEN LEAST($3, $5) AND GREATEST($3, $5) \
           ELSE (column_id = $2 AND position > $3) OR (column_id = $4 AND position >= $5) END)",
    )
    .bind(id)
    .bind(from_col)
    .bind(from)
    .bind(column_id)
    .bind(to)
    .bind(same)
    .bind(project_id)
    .execute(&mut **tx)
    .await?;
    Ok(from_col)
}

pub async fn delete(tx: &mut Tx<'_>, project_id: ProjectId, id: TicketId) -> Result<()> {
    let (col, pos) = place(tx, project_id, id).await?;
    sqlx::query("DELETE FROM tickets WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE tickets SET position = position - 1 WHERE column_id = $1 AND position > $2")
        .bind(col)
        .bind(pos)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_pr(db: impl PgExecutor<'_>, id: TicketId, url: &str, number: Option<i64>) -> Result<()> {
    sqlx::query(
        "UPDATE tickets SET pr_url = $2, pr_number = COALESCE($3, pr_number), updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(url)
    .bind(number)
    .execute(db)
    .await?;
    Ok(())
}

/// Counts a review round for the ticket (a `review` job queued for its PR).
pub async fn bump_review_rounds(tx: &mut Tx<'_>, id: TicketId) -> Result<()> {
    sqlx::query("UPDATE tickets SET review_rounds = review_rounds + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

// ------------------------------------------------------------------ comments

#[derive(sqlx::FromRow)]
struct CommentRow {
    id: CommentId,
    ticket_id: TicketId,
    author: String,
    body: String,
    created_at: DateTime<Utc>,
}

impl From<CommentRow> for TicketComment {
    fn from(r: CommentRow) -> Self {
        TicketComment {
            id: r.id,
            ticket_id: r.ticket_id,
            author: r.author,
            body: r.body,
            created_at: r.created_at,
        }
    }
}

pub async fn comments(
    db: impl PgExecutor<'_>,
    project_id: ProjectId,
    ticket_id: TicketId,
    slice: Slice,
) -> Result<Vec<TicketComment>> {
    let page = super::keyset("", 3, false);
    let q = sqlx::query_as(sql!(
        "SELECT id, ticket_id, author, body, created_at FROM ticket_comments \
         WHERE project_id = $1 AND ticket_id = $2 AND {page}"
    ));
    let rows: Vec<CommentRow> = super::bind_slice(q.bind(project_id).bind(ticket_id), slice)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn add_comment(
    db: impl PgExecutor<'_>,
    project_id: ProjectId,
    ticket_id: TicketId,
    author: &str,
    body: &str,
) -> Result<TicketComment> {
    let row: CommentRow = sqlx::query_as(
        "INSERT INTO ticket_comments (id, project_id, ticket_id, author, body) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, ticket_id, author, body, created_at",
    )
    .bind(CommentId::new())
    .bind(project_id)
    .bind(ticket_id)
    .bind(author)
    .bind(body)
    .fetch_one(db)
    .await
    .map_err(|e| match Error::from(e) {
        Error::Conflict(_) | Error::NotFound(_) => Error::NotFound("ticket"),
        other => other,
    })?;
    Ok(row.into())
}

/// The project a ticket belongs to (operator commands name tickets by id alone).
pub async fn project_of(db: impl PgExecutor<'_>, id: TicketId) -> Result<ProjectId> {
    let row: Option<(ProjectId,)> = sqlx::query_as("SELECT project_id FROM tickets WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.map(|r| r.0).ok_or(Error::NotFound("ticket"))
}
