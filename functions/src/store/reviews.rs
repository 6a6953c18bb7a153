//! Pull request review comments the scheduler has seen, and the tickets it polls.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use terarchitect_protocol::{JobId, ProjectId, TicketId, pr_thread::CommentKind};

use super::Tx;
use crate::Result;

/// A ticket whose PR the scheduler should look at.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    pub project_id: ProjectId,
    pub ticket_id: TicketId,
    pub pr_number: i64,
    /// The PR's `updated_at` when its comments were last read in full.
    pub seen_updated_at: Option<DateTime<Utc>>,
}

/// Tickets in an In Review column with a PR and no queued or running job, by project.
pub async fn candidates(db: impl PgExecutor<'_>, limit: i64) -> Result<Vec<Candidate>> {
    Ok(sqlx::query_as(
        "SELECT t.project_id, t.id AS ticket_id, t.pr_number, s.pr_updated_at AS seen_updated_at FROM tickets t \
         JOIN board_columns c ON c.id = t.column_id AND c.role = 'in_review' \
         LEFT JOIN pr_poll_state s ON s.ticket_id = t.id AND s.pr_number = t.pr_number \
         WHERE t.pr_number > 0 \
           AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.ticket_id = t.id AND j.status IN ('queued', 'running')) \
         ORDER BY t.project_id, t.position, t.id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// The ticket's review rounds so far, locked, if it is still a candidate (in review, with
/// a PR, no active job); None otherwise.
pub async fn lock_candidate(tx: &mut Tx<'_>, ticket_id: TicketId) -> Result<Option<i32>> {
    let row: Option<(i32,)> = sqlx::query_as(
        "SELECT t.review_rounds FROM tickets t JOIN board_columns c ON c.id = t.column_id \
         WHERE t.id = $1 AND c.role = 'in_review' AND t.pr_number > 0 \
           AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.ticket_id = t.id AND j.status IN ('queued', 'running')) \
         FOR UPDATE OF t",
    )
    .bind(ticket_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(n,)| n))
}

/// A reviewer's comment as seen on GitHub.
#[derive(Debug, Clone)]
pub struct Seen {
    pub kind: CommentKind,
    pub github_id: u64,
    pub author: String,
    pub body: String,
    pub path: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Already answered (an agent reply names it): recorded as handled.
    pub answered: bool,
    /// Not from a trusted author (`pr_thread::Trust`): recorded as handled, by no job, so
    /// it never counts as unhandled.
    pub outsider: bool,
}

/// Records comments not seen before; returns how many were new. Whether a comment is an
/// outsider's is settled when it is first seen.
pub async fn record(tx: &mut Tx<'_>, project_id: ProjectId, ticket_id: TicketId, seen: &[Seen]) -> Result<u64> {
    if seen.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "INSERT INTO pr_review_comments (project_id, ticket_id, kind, github_id, author, body, path, created_at, handled_at, outsider) \
         SELECT $1, $2, k, g, a, b, p, c, CASE WHEN h OR o THEN now() END, o \
         FROM UNNEST($3::text[], $4::int8[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::bool[], $10::bool[]) \
           AS x(k, g, a, b, p, c, h, o) \
         ON CONFLICT (ticket_id, kind, github_id) DO NOTHING",
    )
    .bind(project_id)
    .bind(ticket_id)
    .bind(seen.iter().map(|s| s.kind).collect::<Vec<_>>())
    .bind(seen.iter().map(|s| s.github_id as i64).collect::<Vec<_>>())
    .bind(seen.iter().map(|s| s.author.clone()).collect::<Vec<_>>())
    .bind(seen.iter().map(|s| s.body.clone()).collect::<Vec<_>>())
    .bind(seen.iter().map(|s| s.path.clone()).collect::<Vec<_>>())
    .bind(seen.iter().map(|s| s.created_at).collect::<Vec<_>>())
    .bind(seen.iter().map(|s| s.answered).collect::<Vec<_>>())
    .bind(seen.iter().map(|s| s.outsider).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// How many of the ticket's comments are unhandled (locked for this transaction).
pub async fn count_unhandled(tx: &mut Tx<'_>, ticket_id: TicketId) -> Result<i64> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT github_id FROM pr_review_comments WHERE ticket_id = $1 AND handled_at IS NULL FOR UPDATE",
    )
    .bind(ticket_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.len() as i64)
}

/// Marks the ticket's unhandled comments handled (by `job`, when one takes them);
/// returns how many.
pub async fn mark_handled(tx: &mut Tx<'_>, ticket_id: TicketId, job: Option<JobId>) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE pr_review_comments SET handled_at = now(), handled_by_job = $2 \
         WHERE ticket_id = $1 AND handled_at IS NULL",
    )
    .bind(ticket_id)
    .bind(job)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Remembers that the PR's comments were read in full while it had `updated_at`. A PR
/// updated in the last minute is not remembered: GitHub's timestamps have one-second
/// resolution, so a comment made in that same second would otherwise go unseen.
pub async fn mark_seen(tx: &mut Tx<'_>, ticket_id: TicketId, pr_number: i64, updated_at: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO pr_poll_state (ticket_id, pr_number, pr_updated_at) \
         SELECT $1, $2, $3 WHERE $3 < now() - interval '1 minute' \
         ON CONFLICT (ticket_id, pr_number) DO UPDATE SET pr_updated_at = EXCLUDED.pr_updated_at",
    )
    .bind(ticket_id)
    .bind(pr_number)
    .bind(updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A recorded comment (for tests and diagnostics).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Recorded {
    pub kind: String,
    pub github_id: i64,
    pub author: String,
    pub handled_by_job: Option<JobId>,
    pub handled_at: Option<DateTime<Utc>>,
    pub outsider: bool,
}

pub async fn recorded(db: impl PgExecutor<'_>, ticket_id: TicketId) -> Result<Vec<Recorded>> {
    Ok(sqlx::query_as(
        "SELECT kind, github_id, author, handled_by_job, handled_at, outsider FROM pr_review_comments \
         WHERE ticket_id = $1 ORDER BY created_at, kind, github_id",
    )
    .bind(ticket_id)
    .fetch_all(db)
    .await?)
}
