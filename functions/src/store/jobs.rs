//! Jobs, their execution log and the outbox that puts them on the queue.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use terarchitect_protocol::{
    ExecutionMode, Job, JobEvent, JobId, JobKind, JobMessage, JobStatus, NewJobEvent, ProjectId, TicketId,
};
use uuid::Uuid;

use super::Tx;
use crate::domain::lifecycle::JobState;
use crate::domain::page::Slice;
use crate::{Error, Result};

#[derive(sqlx::FromRow)]
struct Row {
    id: JobId,
    project_id: ProjectId,
    ticket_id: TicketId,
    kind: JobKind,
    status: JobStatus,
    attempt: i32,
    cancel_requested: bool,
    lease_owner: Option<String>,
    lease_expires_at: Option<DateTime<Utc>>,
    exit_code: Option<i32>,
    failure_reason: Option<String>,
    pr_url: Option<String>,
    pr_number: Option<i64>,
    input_tokens: i64,
    output_tokens: i64,
    cost_nano_usd: i64,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

impl From<Row> for Job {
    fn from(r: Row) -> Self {
        Job {
            id: r.id,
            project_id: r.project_id,
            ticket_id: r.ticket_id,
            kind: r.kind,
            status: r.status,
            attempt: r.attempt,
            cancel_requested: r.cancel_requested,
            lease_owner: r.lease_owner,
            lease_expires_at: r.lease_expires_at,
            exit_code: r.exit_code,
            failure_reason: r.failure_reason,
            pr_url: r.pr_url,
            pr_number: r.pr_number,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cost_nano_usd: r.cost_nano_usd,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        }
    }
}

const COLUMNS: &str = "id, project_id, ticket_id, kind, status, attempt, cancel_requested, lease_owner, \
    lease_expires_at, exit_code, failure_reason, pr_url, pr_number, input_tokens, output_tokens, cost_nano_usd, created_at, started_at, \
    finished_at";

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

pub async fn get(db: impl PgExecutor<'_>, id: JobId) -> Result<Job> {
    let row: Option<Row> = sqlx::query_as(sql!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.map(Into::into).ok_or(Error::NotFound("job"))
}

/// A ticket's jobs, newest first.
pub async fn list_for_ticket(
    db: impl PgExecutor<'_>,
    project_id: ProjectId,
    ticket_id: TicketId,
    slice: Slice,
) -> Result<Vec<Job>> {
    let page = super::keyset("", 3, true);
    let q = sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM jobs WHERE project_id = $1 AND ticket_id = $2 AND {page}"
    ));
    let rows: Vec<Row> = super::bind_slice(q.bind(project_id).bind(ticket_id), slice)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn active_for_ticket(db: impl PgExecutor<'_>, ticket_id: TicketId) -> Result<Option<Job>> {
    let row: Option<Row> = sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM jobs WHERE ticket_id = $1 AND status IN ('queued', 'running')"
    ))
    .bind(ticket_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Into::into))
}

/// Inserts a queued job (its outbox row comes from `domain::queue::JobTx`).
pub async fn insert_queued(tx: &mut Tx<'_>, project_id: ProjectId, ticket_id: TicketId, kind: JobKind) -> Result<Job> {
    let row: Row = sqlx::query_as(sql!(
        "INSERT INTO jobs (id, project_id, ticket_id, kind) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
    ))
    .bind(JobId::new())
    .bind(project_id)
    .bind(ticket_id)
    .bind(kind)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.into())
}

pub async fn insert_outbox(tx: &mut Tx<'_>, job_id: JobId) -> Result<()> {
    sqlx::query("INSERT INTO outbox (job_id, payload) VALUES ($1, $2)")
        .bind(job_id)
        .bind(sqlx::types::Json(JobMessage { job_id }))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The job and what the life-cycle rules need to know about it, its row locked until the
/// transaction ends (so a stop request cannot slip between reading and deciding).
pub async fn lock_state(tx: &mut Tx<'_>, job_id: JobId) -> Result<(Job, JobState)> {
    #[derive(sqlx::FromRow)]
    struct WithState {
        #[sqlx(flatten)]
        row: Row,
        attempts_left: bool,
        free_release_left: bool,
    }
    let r: Option<WithState> = sqlx::query_as(sql!(
        "SELECT {COLUMNS}, attempt < max_attempts AS attempts_left, free_releases < $2 AS free_release_left \
         FROM jobs WHERE id = $1 FOR UPDATE"
    ))
    .bind(job_id)
    .bind(MAX_FREE_RELEASES)
    .fetch_optional(&mut **tx)
    .await?;
    let r = r.ok_or(Error::NotFound("job"))?;
    let job: Job = r.row.into();
    let state = JobState {
        status: job.status,
        cancel_requested: job.cancel_requested,
        attempts_left: r.attempts_left,
        free_release_left: r.free_release_left,
    };
    Ok((job, state))
}

/// Cancels a queued job at once, or flags a running one for its host to stop.
/// Returns the job as it is afterwards, or None when nothing was active.
pub async fn request_cancel(db: impl PgExecutor<'_>, job_id: JobId, reason: &str) -> Result<Option<Job>> {
    let row: Option<Row> = sqlx::query_as(sql!(
        "UPDATE jobs SET cancel_requested = true, updated_at = now(), \
           status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END, \
           finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END, \
           failure_reason = CASE WHEN status = 'queued' THEN $2 ELSE failure_reason END \
         WHERE id = $1 AND status IN ('queued', 'running') RETURNING {COLUMNS}"
    ))
    .bind(job_id)
    .bind(reason)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Into::into))
}

/// Takes the job for `host`: queued, or running with an expired lease. None when lost.
/// Claims a queued job (or one whose lease ran out) for `host`, if its project runs
/// agents the way the host does (`mode`). None when it is not claimable by this host.
pub async fn claim(
    db: impl PgExecutor<'_>,
    job_id: JobId,
    host: &str,
    mode: ExecutionMode,
    lease: Duration,
    token_hash: &[u8],
) -> Result<Option<Job>> {
    let row: Option<Row> = sqlx::query_as(sql!(
        "UPDATE jobs SET status = 'running', attempt = attempt + 1, lease_owner = $2, \
           lease_expires_at = now() + make_interval(secs => $3), job_token_hash = $4, \
           started_at = COALESCE(started_at, now()), updated_at = now(), pr_url = NULL, pr_number = NULL \
         WHERE id = $1 AND NOT cancel_requested AND attempt < max_attempts \
           AND (status = 'queued' OR (status = 'running' AND lease_expires_at < now())) \
           AND EXISTS (SELECT 1 FROM projects p WHERE p.id = jobs.project_id AND p.execution_mode = $5) \
         RETURNING {COLUMNS}"
    ))
    .bind(job_id)
    .bind(host)
    .bind(secs(lease))
    .bind(token_hash)
    .bind(mode)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Into::into))
}

/// Extends the lease held by `host`. None when the host no longer holds it.
pub async fn heartbeat(
    db: impl PgExecutor<'_>,
    job_id: JobId,
    host: &str,
    lease: Duration,
) -> Result<Option<(DateTime<Utc>, bool)>> {
    Ok(sqlx::query_as(
        "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3), updated_at = now() \
         WHERE id = $1 AND status = 'running' AND lease_owner = $2 RETURNING lease_expires_at, cancel_requested",
    )
    .bind(job_id)
    .bind(host)
    .bind(secs(lease))
    .fetch_optional(db)
    .await?)
}

/// `$2` holds the lease, or (`$2` NULL: the scheduler) nobody does any more.
const HELD_BY: &str = "($2::text IS NULL AND lease_expires_at < now() OR lease_owner = $2)";

/// Ends a running job held by `host`. `host` None is the scheduler, which may only end a
/// job whose lease has run out: that is rechecked here, under the row lock, so a host that
/// heartbeats between the scheduler's scan and this update keeps its job. Conditional on
/// the lease, so a job is finished at most once.
pub async fn finish(
    tx: &mut Tx<'_>,
    job_id: JobId,
    host: Option<&str>,
    status: JobStatus,
    exit_code: Option<i32>,
    reason: Option<&str>,
) -> Result<Option<Job>> {
    let row: Option<Row> = sqlx::query_as(sql!(
        "UPDATE jobs SET status = $3, exit_code = $4, failure_reason = $5, finished_at = now(), \
           lease_owner = NULL, lease_expires_at = NULL, job_token_hash = NULL, updated_at = now() \
         WHERE id = $1 AND status = 'running' AND {HELD_BY} RETURNING {COLUMNS}"
    ))
    .bind(job_id)
    .bind(host)
    .bind(status)
    .bind(exit_code)
    .bind(reason)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(Into::into))
}

/// Records the pull request the API opened or verified for a running job. False when the
/// job is no longer running.
pub async fn record_pr(db: impl PgExecutor<'_>, job_id: JobId, url: &str, number: i64) -> Result<bool> {
    let done = sqlx::query(sql!(
        "UPDATE jobs SET pr_url = $2, pr_number = $3, updated_at = now() WHERE id = $1 AND status = 'running'"
    ))
    .bind(job_id)
    .bind(url)
    .bind(number)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many releases before the agent started are free per job; after that they count,
/// so a host that can never start agents does not bounce a job forever.
pub const MAX_FREE_RELEASES: i32 = 20;

/// Puts a running job back in the queue state (host draining, environment failure, lease
/// expiry; `host` as for `finish`); the caller adds its outbox row. `refund_attempt`: the host never started the
/// agent, so the attempt is given back (while free releases remain).
pub async fn release(
    tx: &mut Tx<'_>,
    job_id: JobId,
    host: Option<&str>,
    reason: Option<&str>,
    refund_attempt: bool,
) -> Result<Option<Job>> {
    let row: Option<Row> = sqlx::query_as(sql!(
        "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, job_token_hash = NULL, \
           failure_reason = $3, updated_at = now(), \
           attempt = attempt - (CASE WHEN $4 AND free_releases < $5 THEN 1 ELSE 0 END), \
           free_releases = free_releases + (CASE WHEN $4 AND free_releases < $5 THEN 1 ELSE 0 END) \
         WHERE id = $1 AND status = 'running' AND {HELD_BY} RETURNING {COLUMNS}"
    ))
    .bind(job_id)
    .bind(host)
    .bind(reason)
    .bind(refund_attempt)
    .bind(MAX_FREE_RELEASES)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(Into::into))
}

/// Running jobs whose lease ran out (their host died).
pub async fn expired_leases(db: impl PgExecutor<'_>, limit: i64) -> Result<Vec<Job>> {
    let rows: Vec<Row> = sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM jobs WHERE status = 'running' AND lease_expires_at < now() \
         ORDER BY lease_expires_at LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The running job a job token belongs to.
pub async fn by_token(db: impl PgExecutor<'_>, token_hash: &[u8]) -> Result<Option<Job>> {
    let row: Option<Row> = sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM jobs WHERE job_token_hash = $1 AND status = 'running'"
    ))
    .bind(token_hash)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Into::into))
}

// ------------------------------------------------------------------ events

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i64,
    at: DateTime<Utc>,
    phase: String,
    step: String,
    summary: String,
    raw_output: Option<String>,
    input_tokens: i64,
    output_tokens: i64,
}

impl From<EventRow> for JobEvent {
    fn from(r: EventRow) -> Self {
        JobEvent {
            seq: r.seq,
            at: r.at,
            phase: r.phase,
            step: r.step,
            summary: r.summary,
            raw_output: r.raw_output,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
        }
    }
}

/// How much log one job may store: a runaway agent (or a test suite printing megabytes)
/// must not fill the database. What comes after is counted, not stored.
#[derive(Debug, Clone, Copy)]
pub struct LogLimits {
    pub max_events: i64,
    /// Bytes of phase, step, summary and raw output together.
    pub max_bytes: i64,
}

impl LogLimits {
    pub const DEFAULT: LogLimits = LogLimits {
        max_events: 20_000,
        max_bytes: 32 << 20,
    };
}

fn event_bytes(e: &NewJobEvent) -> i64 {
    (e.phase.len() + e.step.len() + e.summary.len() + e.raw_output.as_ref().map_or(0, String::len)) as i64
}

/// Appends a batch in order. Events whose `event_id` was already stored are skipped, so
/// a sender may re-send a batch it is unsure about. Past `limits` events are dropped: the
/// first drop adds one `log-limit` event, whose summary then keeps the count of dropped
/// lines. The tokens an event reports are shown with it but never added to the job's
/// totals: those come from the gateway's metering (`store::usage`). Returns how many were
/// stored.
pub async fn append_events(tx: &mut Tx<'_>, job_id: JobId, events: &[NewJobEvent], limits: LogLimits) -> Result<u64> {
    // The job row lock orders concurrent appenders: seq follows commit order.
    let (last, stored_bytes, dropped, limit_seq): (i64, i64, i64, Option<i64>) = sqlx::query_as(
        "SELECT last_event_seq, event_bytes, events_dropped, log_limit_seq FROM jobs WHERE id = $1 FOR UPDATE",
    )
    .bind(job_id)
    .fetch_one(&mut **tx)
    .await?;
    let ids: Vec<Option<Uuid>> = events.iter().map(|e| e.event_id).collect();
    let known: Vec<(Uuid,)> =
        sqlx::query_as("SELECT event_id FROM job_events WHERE job_id = $1 AND event_id = ANY($2::uuid[])")
            .bind(job_id)
            .bind(ids.iter().flatten().copied().collect::<Vec<_>>())
            .fetch_all(&mut **tx)
            .await?;
    let mut seen: std::collections::HashSet<Uuid> = known.into_iter().map(|(id,)| id).collect();
    let all_fresh: Vec<&NewJobEvent> = events
        .iter()
        .filter(|e| e.event_id.is_none_or(|id| seen.insert(id)))
        .collect();
    if all_fresh.is_empty() {
        return Ok(0);
    }
    // Keep the longest prefix that fits (once a line is dropped, all later ones are too,
    // so the stored log never has holes in its middle).
    let mut fresh = Vec::with_capacity(all_fresh.len());
    let mut bytes = stored_bytes;
    if limit_seq.is_none() {
        for e in &all_fresh {
            let size = event_bytes(e);
            if last + fresh.len() as i64 >= limits.max_events - 1 || bytes + size > limits.max_bytes {
                break;
            }
            bytes += size;
            fresh.push(*e);
        }
    }
    let newly_dropped = (all_fresh.len() - fresh.len()) as i64;
    let now = Utc::now();
    if !fresh.is_empty() {
        sqlx::query(
            "INSERT INTO job_events (job_id, seq, event_id, at, phase, step, summary, raw_output, input_tokens, output_tokens) \
             SELECT $1, $2 + ord, ev, at, ph, st, su, ro, it, ot FROM UNNEST($3::uuid[], $4::timestamptz[], $5::text[], \
               $6::text[], $7::text[], $8::text[], $9::int8[], $10::int8[]) WITH ORDINALITY AS x(ev, at, ph, st, su, ro, it, ot, ord)",
        )
        .bind(job_id)
        .bind(last)
        .bind(fresh.iter().map(|e| e.event_id).collect::<Vec<_>>())
        .bind(fresh.iter().map(|e| e.at.unwrap_or(now)).collect::<Vec<_>>())
        .bind(fresh.iter().map(|e| e.phase.clone()).collect::<Vec<_>>())
        .bind(fresh.iter().map(|e| e.step.clone()).collect::<Vec<_>>())
        .bind(fresh.iter().map(|e| e.summary.clone()).collect::<Vec<_>>())
        .bind(fresh.iter().map(|e| e.raw_output.clone()).collect::<Vec<_>>())
        .bind(fresh.iter().map(|e| e.input_tokens).collect::<Vec<_>>())
        .bind(fresh.iter().map(|e| e.output_tokens).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    }
    let n = fresh.len() as i64;
    let mut seq = last + n;
    let mut new_limit_seq = limit_seq;
    if newly_dropped > 0 {
        let total = dropped + newly_dropped;
        let summary = format!(
            "Log limit of this job reached ({} lines or {} MiB): {total} later lines dropped",
            limits.max_events,
            limits.max_bytes >> 20
        );
        match limit_seq {
            Some(at) => {
                sqlx::query("UPDATE job_events SET summary = $3 WHERE job_id = $1 AND seq = $2")
                    .bind(job_id)
                    .bind(at)
                    .bind(&summary)
                    .execute(&mut **tx)
                    .await?;
            }
            None => {
                seq += 1;
                new_limit_seq = Some(seq);
                sqlx::query(
                    "INSERT INTO job_events (job_id, seq, at, phase, step, summary, input_tokens, output_tokens) \
                     VALUES ($1, $2, $3, 'agent', 'log-limit', $4, 0, 0)",
                )
                .bind(job_id)
                .bind(seq)
                .bind(now)
                .bind(&summary)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    sqlx::query(
        "UPDATE jobs SET last_event_seq = $2, event_bytes = $3, events_dropped = events_dropped + $4, \
         log_limit_seq = $5 WHERE id = $1",
    )
    .bind(job_id)
    .bind(seq)
    .bind(bytes)
    .bind(newly_dropped)
    .bind(new_limit_seq)
    .execute(&mut **tx)
    .await?;
    Ok(n as u64)
}

/// Events with `seq > after`, oldest first.
pub async fn events(db: impl PgExecutor<'_>, job_id: JobId, after: i64, limit: i64) -> Result<Vec<JobEvent>> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT seq, at, phase, step, summary, raw_output, input_tokens, output_tokens FROM job_events \
         WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(job_id)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// One event of the operator's `recent-logs`: which job and ticket it belongs to.
#[derive(sqlx::FromRow, Debug, Clone, serde::Serialize)]
pub struct RecentEvent {
    pub job_id: JobId,
    pub ticket_id: TicketId,
    pub ticket_title: String,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub phase: String,
    pub step: String,
    pub summary: String,
}

/// The latest `limit` events over every job (of one project, or all), newest first.
pub async fn recent_events(
    db: impl PgExecutor<'_>,
    project_id: Option<ProjectId>,
    limit: i64,
) -> Result<Vec<RecentEvent>> {
    Ok(sqlx::query_as(
        "SELECT e.job_id, j.ticket_id, t.title AS ticket_title, e.seq, e.at, e.phase, e.step, e.summary \
         FROM job_events e JOIN jobs j ON j.id = e.job_id JOIN tickets t ON t.id = j.ticket_id \
         WHERE $1::uuid IS NULL OR j.project_id = $1 ORDER BY e.at DESC, e.seq DESC LIMIT $2",
    )
    .bind(project_id)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Deletes the logs of jobs that finished before `cutoff` (the jobs stay, with their
/// outcome and metered usage): `(jobs, events)` removed.
pub async fn purge_events(db: impl PgExecutor<'_>, cutoff: DateTime<Utc>) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "WITH gone AS (DELETE FROM job_events e USING jobs j \
           WHERE j.id = e.job_id AND j.status IN ('succeeded', 'failed', 'cancelled') \
             AND j.finished_at < $1 RETURNING e.job_id) \
         SELECT count(DISTINCT job_id), count(*) FROM gone",
    )
    .bind(cutoff)
    .fetch_one(db)
    .await?)
}

// ------------------------------------------------------------------ outbox

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub job_id: JobId,
    pub payload: sqlx::types::Json<JobMessage>,
}

/// Outbox rows of `job_id` not yet sent.
pub async fn unsent_for_job(db: impl PgExecutor<'_>, job_id: JobId) -> Result<Vec<OutboxRow>> {
    Ok(
        sqlx::query_as("SELECT id, job_id, payload FROM outbox WHERE job_id = $1 AND sent_at IS NULL ORDER BY id")
            .bind(job_id)
            .fetch_all(db)
            .await?,
    )
}

/// Queued jobs none of whose messages is unsent and whose last one went out more than
/// `after` × 2^(sends − 1) (at most 16 × `after`) ago. Not locked: two schedulers
/// racing send a duplicate, which the claim settles.
pub async fn lock_unclaimed(tx: &mut Tx<'_>, after: Duration, limit: i64) -> Result<Vec<JobId>> {
    Ok(sqlx::query_scalar(
        "SELECT j.id FROM jobs j JOIN outbox o ON o.job_id = j.id \
         WHERE j.status = 'queued' \
         GROUP BY j.id \
         HAVING bool_and(o.sent_at IS NOT NULL) \
            AND max(o.sent_at) < now() - make_interval(secs => $1 * power(2, least(count(*) - 1, 4))) \
         ORDER BY j.id LIMIT $2",
    )
    .bind(secs(after))
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?)
}

/// Unsent rows older than `min_age`, locked for this sender (others skip them).
pub async fn claim_stale_outbox(tx: &mut Tx<'_>, min_age: Duration, limit: i64) -> Result<Vec<OutboxRow>> {
    Ok(sqlx::query_as(
        "SELECT id, job_id, payload FROM outbox WHERE sent_at IS NULL AND created_at < now() - make_interval(secs => $1) \
         ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(secs(min_age))
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?)
}

pub async fn mark_sent(db: impl PgExecutor<'_>, ids: &[i64]) -> Result<()> {
    sqlx::query("UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY($1)")
        .bind(ids)
        .execute(db)
        .await?;
    Ok(())
}
