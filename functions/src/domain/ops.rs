//! Operator actions (the `admin` CLI, also deployable as a function): requeue a ticket,
//! read a ticket's logs, dump a project's memory, smoke-test the configured LLMs.

use std::time::Instant;

use serde::Serialize;
use terarchitect_llm::{Client, Message};
use terarchitect_protocol::{ColumnRole, Job, JobEvent, JobStatus, ProjectId, TicketId};

use super::page::Slice;
use super::queue::JobTx;
use super::{App, jobs, llm_unavailable, settings};
use crate::store;
use crate::{Error, Result};

/// The health check's one question: does the database answer?
pub async fn database_answers(app: &App) -> Result<()> {
    store::ping(&app.db).await
}

#[derive(Debug, Serialize)]
pub struct Requeued {
    pub job: Job,
    /// `resent` (an active queued job's message sent again), `retried` (a new job after
    /// a failure or cancellation) or `queued` (a first job, or one after a success).
    pub action: &'static str,
}

/// Makes sure the ticket has a queued job whose message is in the queue. A running job
/// is left alone (stop it first): requeueing it would run the ticket twice.
pub async fn requeue_ticket(app: &App, ticket_id: TicketId) -> Result<Requeued> {
    let project_id = store::tickets::project_of(&app.db, ticket_id).await?;
    let history = store::jobs::list_for_ticket(&app.db, project_id, ticket_id, Slice::ALL).await?;
    let latest = history.iter().max_by_key(|j| j.created_at);
    match latest {
        Some(j) if j.status == JobStatus::Running => Err(Error::Conflict(format!(
            "job {} is running on {} (lease until {}); stop it before requeueing",
            j.id,
            j.lease_owner.as_deref().unwrap_or("a host"),
            j.lease_expires_at.map(|t| t.to_rfc3339()).unwrap_or_default()
        ))),
        Some(j) if j.status == JobStatus::Queued => {
            let mut tx = JobTx::begin(app).await?;
            tx.requeue(j.id).await?;
            tx.commit_and_send(app).await?;
            Ok(Requeued {
                job: store::jobs::get(&app.db, j.id).await?,
                action: "resent",
            })
        }
        Some(j) if matches!(j.status, JobStatus::Failed | JobStatus::Cancelled) => Ok(Requeued {
            job: jobs::retry(app, project_id, j.id).await?,
            action: "retried",
        }),
        _ => {
            // What dragging the card to In Progress does.
            let outcome = super::tickets::move_to_role(app, project_id, ticket_id, ColumnRole::InProgress).await?;
            let job = outcome
                .job
                .ok_or_else(|| Error::Internal("a move into In Progress queued no job".into()))?;
            Ok(Requeued { job, action: "queued" })
        }
    }
}

#[derive(Debug, Serialize)]
pub struct JobLog {
    pub job: Job,
    pub events: Vec<JobEvent>,
}

/// Every job of the ticket, oldest first, with all of its events.
pub async fn ticket_logs(app: &App, ticket_id: TicketId) -> Result<Vec<JobLog>> {
    let project_id = store::tickets::project_of(&app.db, ticket_id).await?;
    let mut history = store::jobs::list_for_ticket(&app.db, project_id, ticket_id, Slice::ALL).await?;
    history.sort_by_key(|j| j.created_at);
    let mut out = Vec::with_capacity(history.len());
    for job in history {
        let mut events = Vec::new();
        loop {
            let after = events.last().map_or(0, |e: &JobEvent| e.seq);
            let page = store::jobs::events(&app.db, job.id, after, jobs::MAX_PAGE).await?;
            let done = (page.len() as i64) < jobs::MAX_PAGE;
            events.extend(page);
            if done {
                break;
            }
        }
        out.push(JobLog { job, events });
    }
    Ok(out)
}

/// The latest events over every job (of one project, or all), newest first.
pub async fn recent_logs(
    app: &App,
    project_id: Option<ProjectId>,
    limit: i64,
) -> Result<Vec<store::jobs::RecentEvent>> {
    if !(1..=jobs::MAX_PAGE).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be from 1 to {}", jobs::MAX_PAGE)));
    }
    if let Some(p) = project_id {
        store::projects::get(&app.db, p).await?;
    }
    store::jobs::recent_events(&app.db, project_id, limit).await
}

/// Removed by [`purge_logs`].
#[derive(Debug, Serialize)]
pub struct Purged {
    pub jobs: i64,
    pub events: i64,
}

/// Deletes the logs of jobs that finished more than `days` days ago; the jobs themselves
/// stay (outcome, PR, metered usage), so histories and totals do not change.
pub async fn purge_logs(app: &App, days: u32) -> Result<Purged> {
    if days == 0 {
        return Err(Error::invalid("older-than-days", "must be at least 1"));
    }
    let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
    let (jobs, events) = store::jobs::purge_events(&app.db, cutoff).await?;
    Ok(Purged { jobs, events })
}

/// A new "Project setup" ticket in the project's Backlog (as a new project gets).
pub async fn add_setup_ticket(app: &App, project_id: ProjectId) -> Result<terarchitect_protocol::Ticket> {
    super::tickets::create(app, project_id, &super::projects::setup_ticket()).await
}

pub async fn memory_dump(app: &App, project_id: ProjectId) -> Result<store::memory::Dump> {
    store::projects::get(&app.db, project_id).await?;
    store::memory::dump(&app.db, project_id).await
}

#[derive(Debug, Serialize)]
pub struct Smoke {
    pub what: &'static str,
    pub url: String,
    pub model: String,
    pub ok: bool,
    pub millis: u128,
    /// The reply (chat), the vector size (embeddings), or the error.
    pub detail: String,
}

/// Sends one real chat completion to each configured LLM and one embedding request, with
/// the effective settings of `project_id` (or the global ones).
pub async fn smoke_test_llms(app: &App, project_id: Option<ProjectId>) -> Result<Vec<Smoke>> {
    let s = settings::agent_settings(app, project_id).await?;
    let mut out = Vec::new();
    let chats = [
        (
            "director",
            &s.director_llm_url,
            &s.director_llm_model,
            &s.director_llm_key,
        ),
        ("worker", &s.worker_llm_url, &s.worker_llm_model, &s.worker_llm_key),
    ];
    for (what, url, model, key) in chats {
        let (Some(url), Some(model)) = (url, model) else {
            continue;
        };
        let llm = Client::new(app.outbound.client_for(url).await?, url, model, key.as_deref());
        let started = Instant::now();
        let messages = [Message::user(
            "Reply with the JSON object {\"ok\": true} and nothing else.",
        )];
        let r = llm.chat_json(&messages).await.map_err(llm_unavailable("LLM"));
        out.push(Smoke {
            what,
            url: url.clone(),
            model: model.clone(),
            ok: r.is_ok(),
            millis: started.elapsed().as_millis(),
            detail: r.unwrap_or_else(|e| e.to_string()),
        });
    }
    if let (Some(url), Some(model)) = (&s.embedding_url, &s.embedding_model) {
        let embedding = Client::new(
            app.outbound.client_for(url).await?,
            url,
            model,
            s.embedding_key.as_deref(),
        );
        let started = Instant::now();
        let r = embedding
            .embed(&["Terarchitect smoke test".to_string()])
            .await
            .map_err(llm_unavailable("embedding service"));
        out.push(Smoke {
            what: "embeddings",
            url: url.clone(),
            model: model.clone(),
            ok: r.is_ok(),
            millis: started.elapsed().as_millis(),
            detail: r.map_or_else(|e| e.to_string(), |v| format!("{} dimensions", v[0].len())),
        });
    }
    if out.is_empty() {
        return Err(Error::invalid(
            "settings",
            "no LLM or embedding endpoint is configured (director_llm_url/model, worker_llm_url/model, embedding_url/model)",
        ));
    }
    Ok(out)
}
