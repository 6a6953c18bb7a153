//! LLM usage metered by the gateway: one row per upstream call, rolled up into the job.

use sqlx::PgExecutor;
use terarchitect_protocol::{JobId, ProjectId, TicketId};

use super::Tx;
use crate::Result;

/// One call's usage as the upstream reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUsage {
    pub job_id: JobId,
    pub project_id: ProjectId,
    pub ticket_id: TicketId,
    /// `director` or `worker`.
    pub role: &'static str,
    /// `openai` or `anthropic`.
    pub api: &'static str,
    pub model: Option<String>,
    pub status: u16,
    pub streamed: bool,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Priced by the project's `llm_prices` (0 for an unpriced model).
    pub cost_nano_usd: i64,
}

/// Stores the call and adds it to the job's totals, in one transaction.
pub async fn record(tx: &mut Tx<'_>, u: &NewUsage) -> Result<()> {
    sqlx::query(
        "INSERT INTO llm_usage (job_id, project_id, ticket_id, role, api, model, status, streamed, input_tokens, \
         output_tokens, cost_nano_usd) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(u.job_id)
    .bind(u.project_id)
    .bind(u.ticket_id)
    .bind(u.role)
    .bind(u.api)
    .bind(&u.model)
    .bind(i32::from(u.status))
    .bind(u.streamed)
    .bind(u.input_tokens)
    .bind(u.output_tokens)
    .bind(u.cost_nano_usd)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE jobs SET input_tokens = input_tokens + $2, output_tokens = output_tokens + $3, \
         cost_nano_usd = cost_nano_usd + $4 WHERE id = $1",
    )
    .bind(u.job_id)
    .bind(u.input_tokens)
    .bind(u.output_tokens)
    .bind(u.cost_nano_usd)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Token and cost totals and the number of calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Totals {
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_nano_usd: i64,
}

impl Totals {
    pub fn tokens(&self) -> i64 {
        self.input_tokens + self.output_tokens
    }
}

const TOTALS: &str = "SELECT count(*)::int8 AS calls, COALESCE(sum(input_tokens), 0)::int8 AS input_tokens, \
    COALESCE(sum(output_tokens), 0)::int8 AS output_tokens, COALESCE(sum(cost_nano_usd), 0)::int8 AS cost_nano_usd \
    FROM llm_usage";

pub async fn project_totals(db: impl PgExecutor<'_>, project_id: ProjectId) -> Result<Totals> {
    Ok(sqlx::query_as(sql!("{TOTALS} WHERE project_id = $1"))
        .bind(project_id)
        .fetch_one(db)
        .await?)
}

pub async fn ticket_totals(db: impl PgExecutor<'_>, ticket_id: TicketId) -> Result<Totals> {
    Ok(sqlx::query_as(sql!("{TOTALS} WHERE ticket_id = $1"))
        .bind(ticket_id)
        .fetch_one(db)
        .await?)
}

pub async fn job_totals(db: impl PgExecutor<'_>, job_id: JobId) -> Result<Totals> {
    Ok(sqlx::query_as(sql!("{TOTALS} WHERE job_id = $1"))
        .bind(job_id)
        .fetch_one(db)
        .await?)
}
