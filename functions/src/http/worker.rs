//! Routes for worker hosts (`WorkerHost` token) and agents (`JobAgent` job token).

use axum::Router;
use axum::routing::{get, post};
use serde::Serialize;
use terarchitect_protocol::*;
use uuid::Uuid;

use super::State;
use super::auth::{JobAgent, WorkerHost};
use super::extract::{Json, Path};
use crate::Result;
use crate::domain;

pub fn routes() -> Router<State> {
    Router::new()
        .route("/worker/health", get(health))
        .route("/worker/jobs/{jid}/claim", post(claim))
        .route("/worker/jobs/{jid}/heartbeat", post(heartbeat))
        .route("/worker/jobs/{jid}/finish", post(finish))
        .route("/worker/jobs/{jid}/events", post(host_events))
        .route("/agent/context", get(context))
        .route("/agent/events", post(agent_events))
        .route("/agent/cancel", get(agent_cancel))
        .route("/agent/memory/index", post(memory_index))
        .route("/agent/memory/retrieve", post(memory_retrieve))
        .route("/agent/memory/delete", post(memory_delete))
        .route("/v1/embeddings", post(embeddings))
}

async fn health(_: WorkerHost) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

async fn claim(
    _: WorkerHost,
    s: axum::extract::State<State>,
    Path(jid): Path<Uuid>,
    Json(r): Json<ClaimRequest>,
) -> Result<Json<Claim>> {
    Ok(Json(domain::jobs::claim(&s, jid, &r).await?))
}

async fn heartbeat(
    _: WorkerHost,
    s: axum::extract::State<State>,
    Path(jid): Path<Uuid>,
    Json(r): Json<HeartbeatRequest>,
) -> Result<Json<Heartbeat>> {
    Ok(Json(domain::jobs::heartbeat(&s, jid, &r).await?))
}

async fn finish(
    _: WorkerHost,
    s: axum::extract::State<State>,
    Path(jid): Path<Uuid>,
    Json(r): Json<FinishRequest>,
) -> Result<Json<Job>> {
    Ok(Json(domain::jobs::finish(&s, jid, &r).await?))
}

#[derive(Serialize)]
struct Appended {
    appended: u64,
}

/// The host streams the container's output into the job's log.
async fn host_events(
    _: WorkerHost,
    s: axum::extract::State<State>,
    Path(jid): Path<Uuid>,
    Json(b): Json<EventBatch>,
) -> Result<Json<Appended>> {
    crate::store::jobs::get(&s.db, jid).await?;
    Ok(Json(Appended {
        appended: domain::jobs::append_events(&s, jid, &b).await?,
    }))
}

async fn context(JobAgent(job): JobAgent, s: axum::extract::State<State>) -> Result<Json<WorkerContext>> {
    Ok(Json(domain::jobs::worker_context(&s, &job).await?))
}

async fn agent_events(
    JobAgent(job): JobAgent,
    s: axum::extract::State<State>,
    Json(b): Json<EventBatch>,
) -> Result<Json<Appended>> {
    Ok(Json(Appended {
        appended: domain::jobs::append_events(&s, job.id, &b).await?,
    }))
}

#[derive(Serialize)]
struct CancelState {
    cancel_requested: bool,
}

async fn agent_cancel(JobAgent(job): JobAgent) -> Json<CancelState> {
    Json(CancelState {
        cancel_requested: job.cancel_requested,
    })
}

// Memory for the job's own project only: the project comes from the job token.

async fn memory_index(
    JobAgent(job): JobAgent,
    s: axum::extract::State<State>,
    Json(d): Json<MemoryDocs>,
) -> Result<Json<MemoryIndexed>> {
    Ok(Json(domain::memory::index(&s, job.project_id, &d).await?))
}

async fn memory_retrieve(
    JobAgent(job): JobAgent,
    s: axum::extract::State<State>,
    Json(q): Json<MemoryQuery>,
) -> Result<Json<MemoryResults>> {
    Ok(Json(domain::memory::retrieve(&s, job.project_id, &q).await?))
}

async fn memory_delete(
    JobAgent(job): JobAgent,
    s: axum::extract::State<State>,
    Json(d): Json<MemoryDocs>,
) -> Result<Json<MemoryDeleted>> {
    Ok(Json(domain::memory::delete(&s, job.project_id, &d).await?))
}

async fn embeddings(
    JobAgent(job): JobAgent,
    s: axum::extract::State<State>,
    Json(body): Json<serde_json::Value>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let (status, body) = domain::memory::forward_embeddings(&s, Some(job.project_id), body).await?;
    let status = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_GATEWAY);
    Ok((status, axum::Json(body)).into_response())
}
