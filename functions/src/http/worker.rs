//! Routes for worker hosts (`WorkerHost` token) and agents (`JobAgent` job token).

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use terarchitect_protocol::JobId;
use terarchitect_protocol::*;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::State;
use super::auth::{JobAgent, WorkerHost};
use super::extract::{Json, Path, Valid};
use crate::Result;
use crate::domain;

pub(super) fn routes() -> OpenApiRouter<State> {
    host_routes().merge(agent_routes())
}

/// What worker hosts call (worker tokens).
fn host_routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(claim))
        .routes(routes!(heartbeat))
        .routes(routes!(finish))
        .routes(routes!(host_events))
        .routes(routes!(git_access))
}

/// What agents call (job tokens): served on their own where long LLM calls need a longer
/// timeout than the worker hosts' private API gives.
pub(super) fn agent_routes() -> OpenApiRouter<State> {
    OpenApiRouter::new()
        .routes(routes!(context))
        .routes(routes!(agent_events))
        .routes(routes!(agent_cancel))
        .routes(routes!(memory_index))
        .routes(routes!(memory_retrieve))
        .routes(routes!(memory_delete))
        .routes(routes!(embeddings))
        .routes(routes!(gateway_chat))
        .routes(routes!(gateway_messages))
        .routes(routes!(pull_request))
        .routes(routes!(pull_request_thread))
        .routes(routes!(pull_request_reply))
}

#[utoipa::path(get, path = "/worker/health", operation_id = "worker_health", tag = "worker", responses((status = 200, body = Health), (status = "4XX", body = ErrorBody)))]
async fn health(_: WorkerHost) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

#[utoipa::path(post, path = "/worker/jobs/{jid}/claim", operation_id = "worker_claim", tag = "worker", params(("jid" = Uuid, Path, description = "job id")), request_body = ClaimRequest, responses((status = 200, body = Claim), (status = "4XX", body = ErrorBody)))]
async fn claim(
    host: WorkerHost,
    s: axum::extract::State<State>,
    Path(jid): Path<JobId>,
    Valid(r): Valid<ClaimRequest>,
) -> Result<Json<Claim>> {
    let host = host.check_body(r.host_id.as_deref())?;
    Ok(Json(domain::jobs::claim(&s, jid, host, r.execution_mode).await?))
}

#[utoipa::path(post, path = "/worker/jobs/{jid}/heartbeat", operation_id = "worker_heartbeat", tag = "worker", params(("jid" = Uuid, Path, description = "job id")), request_body = HeartbeatRequest, responses((status = 200, body = Heartbeat), (status = "4XX", body = ErrorBody)))]
async fn heartbeat(
    host: WorkerHost,
    s: axum::extract::State<State>,
    Path(jid): Path<JobId>,
    Valid(r): Valid<HeartbeatRequest>,
) -> Result<Json<Heartbeat>> {
    let host = host.check_body(r.host_id.as_deref())?;
    Ok(Json(domain::jobs::heartbeat(&s, jid, host).await?))
}

#[utoipa::path(post, path = "/worker/jobs/{jid}/finish", operation_id = "worker_finish", tag = "worker", params(("jid" = Uuid, Path, description = "job id")), request_body = FinishRequest, responses((status = 200, body = Job), (status = "4XX", body = ErrorBody)))]
async fn finish(
    host: WorkerHost,
    s: axum::extract::State<State>,
    Path(jid): Path<JobId>,
    Valid(r): Valid<FinishRequest>,
) -> Result<Json<Job>> {
    let host = host.check_body(r.host_id.as_deref())?;
    Ok(Json(domain::jobs::finish(&s, jid, host, &r).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Appended {
    pub appended: u64,
}

#[utoipa::path(post, path = "/worker/jobs/{jid}/events", operation_id = "worker_host_events", tag = "worker", params(("jid" = Uuid, Path, description = "job id")), request_body = EventBatch, responses((status = 200, body = Appended), (status = "4XX", body = ErrorBody)))]
/// The host streams the container's output into the log of a job it holds (409 otherwise).
async fn host_events(
    host: WorkerHost,
    s: axum::extract::State<State>,
    Path(jid): Path<JobId>,
    Valid(b): Valid<EventBatch>,
) -> Result<Json<Appended>> {
    Ok(Json(Appended {
        appended: domain::jobs::append_host_events(&s, jid, &host.host_id, &b).await?,
    }))
}

#[utoipa::path(post, path = "/worker/jobs/{jid}/git", operation_id = "worker_git_access", tag = "worker", params(("jid" = Uuid, Path, description = "job id")), request_body = GitAccessRequest, responses((status = 200, body = GitAccess), (status = "4XX", body = ErrorBody)))]
/// The host's git proxy: the job's remote, token and branch, for the job token its agent showed.
async fn git_access(
    host: WorkerHost,
    s: axum::extract::State<State>,
    Path(jid): Path<JobId>,
    Json(r): Json<GitAccessRequest>,
) -> Result<Json<GitAccess>> {
    Ok(Json(
        domain::jobs::git_access(&s, jid, &host.host_id, &r.job_token).await?,
    ))
}

#[utoipa::path(get, path = "/agent/context", operation_id = "worker_context", tag = "agent", responses((status = 200, body = WorkerContext), (status = "4XX", body = ErrorBody)))]
async fn context(JobAgent(job): JobAgent, s: axum::extract::State<State>) -> Result<Json<WorkerContext>> {
    Ok(Json(domain::jobs::worker_context(&s, &job).await?))
}

#[utoipa::path(post, path = "/agent/events", operation_id = "worker_agent_events", tag = "agent", request_body = EventBatch, responses((status = 200, body = Appended), (status = "4XX", body = ErrorBody)))]
async fn agent_events(
    JobAgent(job): JobAgent,
    s: axum::extract::State<State>,
    Valid(b): Valid<EventBatch>,
) -> Result<Json<Appended>> {
    Ok(Json(Appended {
        appended: domain::jobs::append_events(&s, job.id, &b).await?,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CancelState {
    pub cancel_requested: bool,
}

#[utoipa::path(get, path = "/agent/cancel", operation_id = "worker_agent_cancel", tag = "agent", responses((status = 200, body = CancelState), (status = "4XX", body = ErrorBody)))]
async fn agent_cancel(JobAgent(job): JobAgent) -> Json<CancelState> {
    Json(CancelState {
        cancel_requested: job.cancel_requested,
    })
}

// The ticket's pull request, opened and answered by the API with the project's token.

#[utoipa::path(put, path = "/agent/pull-request", operation_id = "agent_pull_request", tag = "agent", request_body = PullRequestDraft, responses((status = 200, body = AgentPullRequest), (status = "4XX", body = ErrorBody), (status = "5XX", description = "GitHub could not be reached or failed", body = ErrorBody)))]
/// Opens (or updates) the PR from `ticket-{id}` into the default branch and records it as the run's.
async fn pull_request(
    JobAgent(job): JobAgent,
    s: axum::extract::State<State>,
    Valid(d): Valid<PullRequestDraft>,
) -> Result<Json<AgentPullRequest>> {
    Ok(Json(domain::review::agent::open(&s, &job, &d).await?))
}

#[utoipa::path(get, path = "/agent/pull-request/thread", operation_id = "agent_pull_request_thread", tag = "agent", responses((status = 200, body = PullRequestThread), (status = "4XX", body = ErrorBody), (status = "5XX", description = "GitHub could not be reached or failed", body = ErrorBody)))]
/// The ticket's PR conversation (trusted reviewers only), verified as the ticket's own.
async fn pull_request_thread(
    JobAgent(job): JobAgent,
    s: axum::extract::State<State>,
) -> Result<Json<PullRequestThread>> {
    Ok(Json(domain::review::agent::thread(&s, &job).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Replied {
    pub replied: bool,
}

#[utoipa::path(post, path = "/agent/pull-request/replies", operation_id = "agent_pull_request_reply", tag = "agent", request_body = PullRequestReply, responses((status = 200, body = Replied), (status = "4XX", body = ErrorBody), (status = "5XX", description = "GitHub could not be reached or failed", body = ErrorBody)))]
/// Posts the agent's reply on the run's PR.
async fn pull_request_reply(
    JobAgent(job): JobAgent,
    s: axum::extract::State<State>,
    Valid(r): Valid<PullRequestReply>,
) -> Result<Json<Replied>> {
    domain::review::agent::reply(&s, &job, &r).await?;
    Ok(Json(Replied { replied: true }))
}

// Memory for the job's own project only: the project comes from the job token.

#[utoipa::path(post, path = "/agent/memory/index", operation_id = "worker_memory_index", tag = "agent", request_body = MemoryDocs, responses((status = 200, body = MemoryIndexed), (status = "4XX", body = ErrorBody)))]
async fn memory_index(
    JobAgent(job): JobAgent,
    s: axum::extract::State<State>,
    Valid(d): Valid<MemoryDocs>,
) -> Result<Json<MemoryIndexed>> {
    Ok(Json(domain::memory::index(&s, job.project_id, &d).await?))
}

#[utoipa::path(post, path = "/agent/memory/retrieve", operation_id = "worker_memory_retrieve", tag = "agent", request_body = MemoryQuery, responses((status = 200, body = MemoryResults), (status = "4XX", body = ErrorBody)))]
async fn memory_retrieve(
    JobAgent(job): JobAgent,
    s: axum::extract::State<State>,
    Valid(q): Valid<MemoryQuery>,
) -> Result<Json<MemoryResults>> {
    Ok(Json(domain::memory::retrieve(&s, job.project_id, &q).await?))
}

#[utoipa::path(post, path = "/agent/memory/delete", operation_id = "worker_memory_delete", tag = "agent", request_body = MemoryDocs, responses((status = 200, body = MemoryDeleted), (status = "4XX", body = ErrorBody)))]
async fn memory_delete(
    JobAgent(job): JobAgent,
    s: axum::extract::State<State>,
    Valid(d): Valid<MemoryDocs>,
) -> Result<Json<MemoryDeleted>> {
    Ok(Json(domain::memory::delete(&s, job.project_id, &d).await?))
}

#[utoipa::path(post, path = "/v1/embeddings", operation_id = "agent_embeddings", tag = "agent", request_body = serde_json::Value, responses((status = 200, body = serde_json::Value), (status = "4XX", body = ErrorBody)))]
async fn embeddings(
    JobAgent(job): JobAgent,
    s: axum::extract::State<State>,
    Json(body): Json<serde_json::Value>,
) -> Result<Response> {
    let (status, body) = domain::memory::forward_embeddings(&s, Some(job.project_id), body).await?;
    Ok(super::memory::forwarded(status, body))
}

// The LLM gateway: the job token in, the project's key out (domain/gateway.rs).

#[utoipa::path(post, path = "/gateway/{role}/v1/chat/completions", operation_id = "gateway_chat", tag = "agent", params(("role" = String, Path, description = "`director` or `worker`")), request_body = serde_json::Value, responses((status = 200, description = "the upstream's reply (JSON, or SSE when `stream` is true)", body = serde_json::Value), (status = "4XX", description = "ours, or the upstream's error with its status", body = ErrorBody), (status = "5XX", description = "the upstream's error with its status, or 502 when it could not be reached", body = ErrorBody)))]
/// OpenAI chat completions with the project's key for `role`; usage is metered.
async fn gateway_chat(
    agent: JobAgent,
    s: axum::extract::State<State>,
    Path(role): Path<String>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> Result<Response> {
    gateway(agent, &s, &role, domain::gateway::Api::OpenAi, &headers, body).await
}

#[utoipa::path(post, path = "/gateway/{role}/v1/messages", operation_id = "gateway_messages", tag = "agent", params(("role" = String, Path, description = "`director` or `worker`")), request_body = serde_json::Value, responses((status = 200, description = "the upstream's reply (JSON, or SSE when `stream` is true)", body = serde_json::Value), (status = "4XX", description = "ours, or the upstream's error with its status", body = ErrorBody), (status = "5XX", description = "the upstream's error with its status, or 502 when it could not be reached", body = ErrorBody)))]
/// Anthropic messages with the project's Anthropic key; usage is metered.
async fn gateway_messages(
    agent: JobAgent,
    s: axum::extract::State<State>,
    Path(role): Path<String>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> Result<Response> {
    gateway(agent, &s, &role, domain::gateway::Api::Anthropic, &headers, body).await
}

async fn gateway(
    JobAgent(job): JobAgent,
    s: &State,
    role: &str,
    api: domain::gateway::Api,
    headers: &HeaderMap,
    body: serde_json::Value,
) -> Result<Response> {
    let role = domain::gateway::Role::parse(role).ok_or(crate::Error::NotFound("gateway role"))?;
    let passed = domain::gateway::PASSED_HEADERS
        .into_iter()
        .filter_map(|k| Some((k, headers.get(k)?.to_str().ok()?.to_string())))
        .collect();
    let f = domain::gateway::call(s, &job, role, api, body, passed).await?;
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_GATEWAY);
    Ok((
        status,
        [
            (header::CONTENT_TYPE, f.content_type),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        f.body,
    )
        .into_response())
}
