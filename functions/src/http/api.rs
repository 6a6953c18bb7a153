//! UI-facing routes. Every handler authenticates (`User`), validates through the domain
//! layer, and returns JSON.

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde::Deserialize;
use terarchitect_protocol::*;
use uuid::Uuid;

use super::State;
use super::auth::User;
use super::extract::{Json, Path, Query};
use crate::domain::{self, crypto};
use crate::store::{self, tokens::Idempotent};
use crate::{Error, Result};

pub fn routes() -> Router<State> {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/projects", get(list_projects).post(create_project))
        .route(
            "/api/projects/{pid}",
            get(get_project).patch(update_project).delete(delete_project),
        )
        .route(
            "/api/projects/{pid}/graph",
            get(get_graph).put(replace_graph).patch(patch_graph),
        )
        .route("/api/projects/{pid}/board", get(get_board))
        .route("/api/projects/{pid}/columns", get(list_columns).post(create_column))
        .route(
            "/api/projects/{pid}/columns/{cid}",
            patch(update_column).delete(delete_column),
        )
        .route("/api/projects/{pid}/tickets", post(create_ticket))
        .route(
            "/api/projects/{pid}/tickets/{tid}",
            get(get_ticket).patch(update_ticket).delete(delete_ticket),
        )
        .route("/api/projects/{pid}/tickets/{tid}/move", post(move_ticket))
        .route(
            "/api/projects/{pid}/tickets/{tid}/comments",
            get(list_comments).post(add_comment),
        )
        .route("/api/projects/{pid}/tickets/{tid}/jobs", get(list_jobs))
        .route("/api/projects/{pid}/tickets/{tid}/review", get(review_summary))
        .route(
            "/api/projects/{pid}/tickets/{tid}/review/comments",
            post(review_comment),
        )
        .route("/api/projects/{pid}/tickets/{tid}/review/approve", post(review_approve))
        .route("/api/projects/{pid}/tickets/{tid}/review/merge", post(review_merge))
        .route("/api/projects/{pid}/review", get(review_list))
        .route("/api/projects/{pid}/jobs/{jid}", get(get_job))
        .route("/api/projects/{pid}/jobs/{jid}/events", get(job_events))
        .route("/api/projects/{pid}/jobs/{jid}/cancel", post(cancel_job))
        .route("/api/projects/{pid}/jobs/{jid}/retry", post(retry_job))
        .route("/api/projects/{pid}/notes", get(list_notes).post(create_note))
        .route(
            "/api/projects/{pid}/notes/{nid}",
            patch(update_note).delete(delete_note),
        )
        .route("/api/settings", get(global_settings).put(put_global_settings))
        .route("/api/settings/check", post(check_global_settings))
        .route("/api/projects/{pid}/memory/index", post(memory_index))
        .route("/api/projects/{pid}/memory/retrieve", post(memory_retrieve))
        .route("/api/projects/{pid}/memory/delete", post(memory_delete))
        .route("/v1/embeddings", post(embeddings))
        .route("/api/projects/{pid}/settings/check", post(check_project_settings))
        .route(
            "/api/projects/{pid}/settings",
            get(project_settings).put(put_project_settings),
        )
}

type JsonResult<T> = Result<Json<T>>;

async fn openapi_json(_: User) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        super::openapi::json(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/api/health", tag = "system", responses((status = 200, body = Health), (status = "4XX", body = ErrorBody)))]
async fn health(_: User) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

// ------------------------------------------------------------------ projects

#[utoipa::path(get, path = "/api/projects", tag = "projects", responses((status = 200, body = Vec<Project>), (status = "4XX", body = ErrorBody)))]
async fn list_projects(_: User, s: axum::extract::State<State>) -> JsonResult<Vec<Project>> {
    Ok(Json(store::projects::list(&s.db).await?))
}

#[utoipa::path(post, path = "/api/projects", tag = "projects", request_body = NewProject, responses((status = 201, body = Project), (status = "4XX", body = ErrorBody)))]
async fn create_project(
    _: User,
    s: axum::extract::State<State>,
    Json(p): Json<NewProject>,
) -> Result<(StatusCode, Json<Project>)> {
    Ok((StatusCode::CREATED, Json(domain::projects::create(&s, &p).await?)))
}

#[utoipa::path(get, path = "/api/projects/{pid}", tag = "projects", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = Project), (status = "4XX", body = ErrorBody)))]
async fn get_project(_: User, s: axum::extract::State<State>, Path(pid): Path<Uuid>) -> JsonResult<Project> {
    Ok(Json(store::projects::get(&s.db, pid).await?))
}

#[utoipa::path(patch, path = "/api/projects/{pid}", tag = "projects", params(("pid" = Uuid, Path, description = "project id")), request_body = ProjectPatch, responses((status = 200, body = Project), (status = "4XX", body = ErrorBody)))]
async fn update_project(
    _: User,
    s: axum::extract::State<State>,
    Path(pid): Path<Uuid>,
    Json(p): Json<ProjectPatch>,
) -> JsonResult<Project> {
    Ok(Json(domain::projects::update(&s, pid, &p).await?))
}

#[utoipa::path(delete, path = "/api/projects/{pid}", tag = "projects", params(("pid" = Uuid, Path, description = "project id")), responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_project(_: User, s: axum::extract::State<State>, Path(pid): Path<Uuid>) -> Result<StatusCode> {
    store::projects::delete(&s.db, pid).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ------------------------------------------------------------------ graph

#[utoipa::path(get, path = "/api/projects/{pid}/graph", tag = "graph", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = Graph), (status = "4XX", body = ErrorBody)))]
async fn get_graph(_: User, s: axum::extract::State<State>, Path(pid): Path<Uuid>) -> JsonResult<Graph> {
    let mut conn = s.db.acquire().await?;
    Ok(Json(store::graph::get(&mut conn, pid).await?))
}

async fn change_graph(s: &State, pid: Uuid, change: GraphChange, replace: bool) -> JsonResult<Graph> {
    change.validate()?;
    if replace && !(change.delete_nodes.is_empty() && change.delete_edges.is_empty()) {
        return Err(Error::invalid(
            "delete_nodes",
            "PUT replaces the graph; use PATCH to delete single items",
        ));
    }
    let mut tx = s.db.begin().await?;
    store::graph::bump_version(&mut tx, pid, change.expected_version).await?;
    if replace {
        let node_ids: Vec<Uuid> = change.nodes.iter().map(|n| n.id).collect();
        let edge_ids: Vec<Uuid> = change.edges.iter().map(|e| e.id).collect();
        store::graph::retain_only(&mut tx, pid, &node_ids, &edge_ids).await?;
    } else {
        store::graph::delete_edges(&mut tx, pid, &change.delete_edges).await?;
        store::graph::delete_nodes(&mut tx, pid, &change.delete_nodes).await?;
    }
    store::graph::upsert_nodes(&mut tx, pid, &change.nodes).await?;
    store::graph::upsert_edges(&mut tx, pid, &change.edges).await?;
    let graph = store::graph::get(&mut tx, pid).await?;
    tx.commit().await?;
    Ok(Json(graph))
}

#[utoipa::path(put, path = "/api/projects/{pid}/graph", tag = "graph", params(("pid" = Uuid, Path, description = "project id")), request_body = GraphChange, responses((status = 200, body = Graph), (status = "4XX", body = ErrorBody)))]
async fn replace_graph(
    _: User,
    s: axum::extract::State<State>,
    Path(pid): Path<Uuid>,
    Json(c): Json<GraphChange>,
) -> JsonResult<Graph> {
    change_graph(&s, pid, c, true).await
}

#[utoipa::path(patch, path = "/api/projects/{pid}/graph", tag = "graph", params(("pid" = Uuid, Path, description = "project id")), request_body = GraphChange, responses((status = 200, body = Graph), (status = "4XX", body = ErrorBody)))]
async fn patch_graph(
    _: User,
    s: axum::extract::State<State>,
    Path(pid): Path<Uuid>,
    Json(c): Json<GraphChange>,
) -> JsonResult<Graph> {
    change_graph(&s, pid, c, false).await
}

// ------------------------------------------------------------------ board & columns

#[utoipa::path(get, path = "/api/projects/{pid}/board", tag = "board", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = Board), (status = "4XX", body = ErrorBody)))]
/// Sends `ETag: "b<version>"`; a matching `If-None-Match` gets 304 and no body.
async fn get_board(
    _: User,
    s: axum::extract::State<State>,
    headers: HeaderMap,
    Path(pid): Path<Uuid>,
) -> Result<Response> {
    let (version, body) = domain::projects::board_json(&s, pid).await?;
    let etag = format!("\"b{version}\"");
    let fresh = headers
        .get(axum::http::header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    res.headers_mut().insert(
        axum::http::header::ETAG,
        etag.parse().map_err(|_| Error::Internal("etag".into()))?,
    );
    Ok(res)
}

#[utoipa::path(get, path = "/api/projects/{pid}/columns", tag = "board", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = Vec<Column>), (status = "4XX", body = ErrorBody)))]
async fn list_columns(_: User, s: axum::extract::State<State>, Path(pid): Path<Uuid>) -> JsonResult<Vec<Column>> {
    store::projects::get(&s.db, pid).await?;
    Ok(Json(store::board::list(&s.db, pid).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/columns", tag = "board", params(("pid" = Uuid, Path, description = "project id")), request_body = NewColumn, responses((status = 201, body = Column), (status = "4XX", body = ErrorBody)))]
async fn create_column(
    _: User,
    s: axum::extract::State<State>,
    Path(pid): Path<Uuid>,
    Json(c): Json<NewColumn>,
) -> Result<(StatusCode, Json<Column>)> {
    c.validate()?;
    let id = Uuid::new_v4();
    let mut tx = s.db.begin().await?;
    store::lock_project(&mut tx, pid).await?;
    store::board::insert(&mut tx, pid, id, &c.title, c.position).await?;
    let col = store::board::get(&mut *tx, pid, id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(col)))
}

#[utoipa::path(patch, path = "/api/projects/{pid}/columns/{cid}", tag = "board", params(("pid" = Uuid, Path, description = "project id"), ("cid" = Uuid, Path, description = "column id")), request_body = ColumnPatch, responses((status = 200, body = Column), (status = "4XX", body = ErrorBody)))]
async fn update_column(
    _: User,
    s: axum::extract::State<State>,
    Path((pid, cid)): Path<(Uuid, Uuid)>,
    Json(c): Json<ColumnPatch>,
) -> JsonResult<Column> {
    c.validate()?;
    let mut tx = s.db.begin().await?;
    store::lock_project(&mut tx, pid).await?;
    store::board::get(&mut *tx, pid, cid).await?;
    if let Some(title) = &c.title {
        store::board::rename(&mut tx, pid, cid, title).await?;
    }
    if let Some(pos) = c.position {
        store::board::reorder(&mut tx, pid, cid, pos).await?;
    }
    let col = store::board::get(&mut *tx, pid, cid).await?;
    tx.commit().await?;
    Ok(Json(col))
}

#[utoipa::path(delete, path = "/api/projects/{pid}/columns/{cid}", tag = "board", params(("pid" = Uuid, Path, description = "project id"), ("cid" = Uuid, Path, description = "column id")), responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_column(
    _: User,
    s: axum::extract::State<State>,
    Path((pid, cid)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode> {
    let mut tx = s.db.begin().await?;
    store::lock_project(&mut tx, pid).await?;
    store::board::delete(&mut tx, pid, cid).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ------------------------------------------------------------------ tickets

#[utoipa::path(post, path = "/api/projects/{pid}/tickets", tag = "tickets", params(("pid" = Uuid, Path, description = "project id")), request_body = NewTicket, responses((status = 201, body = Ticket), (status = "4XX", body = ErrorBody)))]
async fn create_ticket(
    _: User,
    s: axum::extract::State<State>,
    Path(pid): Path<Uuid>,
    Json(t): Json<NewTicket>,
) -> Result<(StatusCode, Json<Ticket>)> {
    Ok((StatusCode::CREATED, Json(domain::tickets::create(&s, pid, &t).await?)))
}

#[utoipa::path(get, path = "/api/projects/{pid}/tickets/{tid}", tag = "tickets", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), responses((status = 200, body = Ticket), (status = "4XX", body = ErrorBody)))]
async fn get_ticket(
    _: User,
    s: axum::extract::State<State>,
    Path((pid, tid)): Path<(Uuid, Uuid)>,
) -> JsonResult<Ticket> {
    Ok(Json(store::tickets::get(&s.db, pid, tid).await?))
}

#[utoipa::path(patch, path = "/api/projects/{pid}/tickets/{tid}", tag = "tickets", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), request_body = TicketPatch, responses((status = 200, body = Ticket), (status = "4XX", body = ErrorBody)))]
async fn update_ticket(
    _: User,
    s: axum::extract::State<State>,
    Path((pid, tid)): Path<(Uuid, Uuid)>,
    Json(p): Json<TicketPatch>,
) -> JsonResult<Ticket> {
    Ok(Json(domain::tickets::update(&s, pid, tid, &p).await?))
}

#[utoipa::path(delete, path = "/api/projects/{pid}/tickets/{tid}", tag = "tickets", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_ticket(
    _: User,
    s: axum::extract::State<State>,
    Path((pid, tid)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode> {
    domain::tickets::delete(&s, pid, tid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/projects/{pid}/tickets/{tid}/move", tag = "tickets", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), request_body = TicketMove, responses((status = 200, body = MoveOutcome), (status = "4XX", body = ErrorBody)))]
/// Honours `Idempotency-Key`: a repeated request gets the first response again.
async fn move_ticket(
    User(token): User,
    s: axum::extract::State<State>,
    headers: HeaderMap,
    Path((pid, tid)): Path<(Uuid, Uuid)>,
    Json(mv): Json<TicketMove>,
) -> Result<Response> {
    let key = headers.get("idempotency-key").map(|v| v.to_str().map(str::to_owned));
    let Some(key) = key else {
        return Ok(Json(domain::tickets::move_ticket(&s, pid, tid, &mv).await?).into_response());
    };
    let key = key.map_err(|_| Error::invalid("Idempotency-Key", "must be visible ASCII"))?;
    if key.is_empty() || key.len() > 200 {
        return Err(Error::invalid("Idempotency-Key", "must be 1 to 200 characters"));
    }
    let request = serde_json::to_vec(&(pid, tid, &mv)).map_err(|e| Error::Internal(e.to_string()))?;
    let mut conn = s.db.acquire().await?;
    match store::tokens::begin_idempotent(&mut conn, token.id, &key, &crypto::hash_bytes(&request)).await? {
        Idempotent::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            Ok((status, axum::Json(body)).into_response())
        }
        Idempotent::New => match domain::tickets::move_ticket(&s, pid, tid, &mv).await {
            Ok(outcome) => {
                let body = serde_json::to_value(&outcome).map_err(|e| Error::Internal(e.to_string()))?;
                store::tokens::save_response(&mut *conn, token.id, &key, 200, &body).await?;
                Ok(axum::Json(body).into_response())
            }
            Err(e) => {
                store::tokens::forget(&mut *conn, token.id, &key).await?;
                Err(e)
            }
        },
    }
}

#[utoipa::path(get, path = "/api/projects/{pid}/tickets/{tid}/comments", tag = "tickets", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), responses((status = 200, body = Vec<TicketComment>), (status = "4XX", body = ErrorBody)))]
async fn list_comments(
    _: User,
    s: axum::extract::State<State>,
    Path((pid, tid)): Path<(Uuid, Uuid)>,
) -> JsonResult<Vec<TicketComment>> {
    store::tickets::get(&s.db, pid, tid).await?;
    Ok(Json(store::tickets::comments(&s.db, pid, tid).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/tickets/{tid}/comments", tag = "tickets", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), request_body = NewComment, responses((status = 201, body = TicketComment), (status = "4XX", body = ErrorBody)))]
async fn add_comment(
    User(token): User,
    s: axum::extract::State<State>,
    Path((pid, tid)): Path<(Uuid, Uuid)>,
    Json(c): Json<NewComment>,
) -> Result<(StatusCode, Json<TicketComment>)> {
    c.validate()?;
    let comment = store::tickets::add_comment(&s.db, pid, tid, &token.name, &c.body).await?;
    Ok((StatusCode::CREATED, Json(comment)))
}

// ------------------------------------------------------------------ pull request review
// GitHub's failures: 404 `no_pull_request` / `pull_request_not_found`, 409
// `github_not_configured` / `not_mergeable` / `github_refused`, 502 `github_unavailable` /
// `github_rejected`.

#[utoipa::path(get, path = "/api/projects/{pid}/tickets/{tid}/review", tag = "review", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), responses((status = 200, body = ReviewSummary), (status = "4XX", body = ErrorBody), (status = 502, body = ErrorBody, description = "GitHub unreachable or refused the token")))]
/// The ticket's pull request: commits, test files and the tests they add, comments, reviews.
async fn review_summary(
    _: User,
    s: axum::extract::State<State>,
    Path((pid, tid)): Path<(Uuid, Uuid)>,
) -> JsonResult<ReviewSummary> {
    Ok(Json(domain::review::summary(&s, pid, tid).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/tickets/{tid}/review/comments", tag = "review", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), request_body = NewPrComment, responses((status = 201, body = PrComment), (status = "4XX", body = ErrorBody), (status = 502, body = ErrorBody, description = "GitHub unreachable or refused the token")))]
/// Posts a comment on the pull request's conversation.
async fn review_comment(
    _: User,
    s: axum::extract::State<State>,
    Path((pid, tid)): Path<(Uuid, Uuid)>,
    Json(c): Json<NewPrComment>,
) -> Result<(StatusCode, Json<PrComment>)> {
    Ok((
        StatusCode::CREATED,
        Json(domain::review::comment(&s, pid, tid, &c).await?),
    ))
}

#[utoipa::path(post, path = "/api/projects/{pid}/tickets/{tid}/review/approve", tag = "review", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), request_body = PrApproval, responses((status = 200, body = PrReview), (status = "4XX", body = ErrorBody), (status = 502, body = ErrorBody, description = "GitHub unreachable or refused the token")))]
/// Approves the pull request's current head.
async fn review_approve(
    _: User,
    s: axum::extract::State<State>,
    Path((pid, tid)): Path<(Uuid, Uuid)>,
    Json(a): Json<PrApproval>,
) -> JsonResult<PrReview> {
    Ok(Json(domain::review::approve(&s, pid, tid, &a).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/tickets/{tid}/review/merge", tag = "review", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), request_body = PrMerge, responses((status = 200, body = MergeOutcome), (status = "4XX", body = ErrorBody), (status = 502, body = ErrorBody, description = "GitHub unreachable or refused the token")))]
/// Merges the pull request (squash by default) and moves the ticket to Done.
async fn review_merge(
    _: User,
    s: axum::extract::State<State>,
    Path((pid, tid)): Path<(Uuid, Uuid)>,
    Json(m): Json<PrMerge>,
) -> JsonResult<MergeOutcome> {
    Ok(Json(domain::review::merge(&s, pid, tid, &m).await?))
}

#[utoipa::path(get, path = "/api/projects/{pid}/review", tag = "review", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = Vec<ReviewListItem>), (status = "4XX", body = ErrorBody)))]
/// Tickets in In Review with a pull request, each with its PR's state (or why it could not be read).
async fn review_list(
    _: User,
    s: axum::extract::State<State>,
    Path(pid): Path<Uuid>,
) -> JsonResult<Vec<ReviewListItem>> {
    Ok(Json(domain::review::list(&s, pid).await?))
}

// ------------------------------------------------------------------ jobs

#[utoipa::path(get, path = "/api/projects/{pid}/tickets/{tid}/jobs", tag = "jobs", params(("pid" = Uuid, Path, description = "project id"), ("tid" = Uuid, Path, description = "ticket id")), responses((status = 200, body = Vec<Job>), (status = "4XX", body = ErrorBody)))]
async fn list_jobs(
    _: User,
    s: axum::extract::State<State>,
    Path((pid, tid)): Path<(Uuid, Uuid)>,
) -> JsonResult<Vec<Job>> {
    store::tickets::get(&s.db, pid, tid).await?;
    Ok(Json(store::jobs::list_for_ticket(&s.db, pid, tid).await?))
}

async fn project_job(s: &State, pid: Uuid, jid: Uuid) -> Result<Job> {
    let job = store::jobs::get(&s.db, jid).await?;
    if job.project_id != pid {
        return Err(Error::NotFound("job"));
    }
    Ok(job)
}

#[utoipa::path(get, path = "/api/projects/{pid}/jobs/{jid}", tag = "jobs", params(("pid" = Uuid, Path, description = "project id"), ("jid" = Uuid, Path, description = "job id")), responses((status = 200, body = Job), (status = "4XX", body = ErrorBody)))]
async fn get_job(_: User, s: axum::extract::State<State>, Path((pid, jid)): Path<(Uuid, Uuid)>) -> JsonResult<Job> {
    Ok(Json(project_job(&s, pid, jid).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    200
}

#[utoipa::path(get, path = "/api/projects/{pid}/jobs/{jid}/events", tag = "jobs", params(("pid" = Uuid, Path, description = "project id"), ("jid" = Uuid, Path, description = "job id"), ("after" = Option<i64>, Query, description = "only events with seq > after"), ("limit" = Option<i64>, Query, description = "page size, at most 1000")), responses((status = 200, body = EventPage), (status = "4XX", body = ErrorBody)))]
async fn job_events(
    _: User,
    s: axum::extract::State<State>,
    Path((pid, jid)): Path<(Uuid, Uuid)>,
    Query(q): Query<EventsQuery>,
) -> JsonResult<EventPage> {
    project_job(&s, pid, jid).await?;
    Ok(Json(domain::jobs::events(&s, jid, q.after, q.limit).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/jobs/{jid}/cancel", tag = "jobs", params(("pid" = Uuid, Path, description = "project id"), ("jid" = Uuid, Path, description = "job id")), responses((status = 200, body = Job), (status = "4XX", body = ErrorBody)))]
async fn cancel_job(_: User, s: axum::extract::State<State>, Path((pid, jid)): Path<(Uuid, Uuid)>) -> JsonResult<Job> {
    Ok(Json(domain::jobs::cancel(&s, pid, jid).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/jobs/{jid}/retry", tag = "jobs", params(("pid" = Uuid, Path, description = "project id"), ("jid" = Uuid, Path, description = "job id")), responses((status = 201, body = Job), (status = "4XX", body = ErrorBody)))]
async fn retry_job(
    _: User,
    s: axum::extract::State<State>,
    Path((pid, jid)): Path<(Uuid, Uuid)>,
) -> Result<(StatusCode, Json<Job>)> {
    Ok((StatusCode::CREATED, Json(domain::jobs::retry(&s, pid, jid).await?)))
}

// ------------------------------------------------------------------ notes

#[utoipa::path(get, path = "/api/projects/{pid}/notes", tag = "notes", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = Vec<Note>), (status = "4XX", body = ErrorBody)))]
async fn list_notes(_: User, s: axum::extract::State<State>, Path(pid): Path<Uuid>) -> JsonResult<Vec<Note>> {
    store::projects::get(&s.db, pid).await?;
    Ok(Json(store::notes::list(&s.db, pid).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/notes", tag = "notes", params(("pid" = Uuid, Path, description = "project id")), request_body = NewNote, responses((status = 201, body = Note), (status = "4XX", body = ErrorBody)))]
async fn create_note(
    _: User,
    s: axum::extract::State<State>,
    Path(pid): Path<Uuid>,
    Json(n): Json<NewNote>,
) -> Result<(StatusCode, Json<Note>)> {
    n.validate()?;
    store::projects::get(&s.db, pid).await?;
    Ok((StatusCode::CREATED, Json(store::notes::insert(&s.db, pid, &n).await?)))
}

#[utoipa::path(patch, path = "/api/projects/{pid}/notes/{nid}", tag = "notes", params(("pid" = Uuid, Path, description = "project id"), ("nid" = Uuid, Path, description = "note id")), request_body = NotePatch, responses((status = 200, body = Note), (status = "4XX", body = ErrorBody)))]
async fn update_note(
    _: User,
    s: axum::extract::State<State>,
    Path((pid, nid)): Path<(Uuid, Uuid)>,
    Json(n): Json<NotePatch>,
) -> JsonResult<Note> {
    n.validate()?;
    Ok(Json(store::notes::update(&s.db, pid, nid, &n.body).await?))
}

#[utoipa::path(delete, path = "/api/projects/{pid}/notes/{nid}", tag = "notes", params(("pid" = Uuid, Path, description = "project id"), ("nid" = Uuid, Path, description = "note id")), responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_note(
    _: User,
    s: axum::extract::State<State>,
    Path((pid, nid)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode> {
    store::notes::delete(&s.db, pid, nid).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ------------------------------------------------------------------ settings

#[utoipa::path(get, path = "/api/settings", tag = "settings", responses((status = 200, body = Vec<SettingView>), (status = "4XX", body = ErrorBody)))]
async fn global_settings(_: User, s: axum::extract::State<State>) -> JsonResult<Vec<SettingView>> {
    Ok(Json(domain::settings::view(&s, None).await?))
}

#[utoipa::path(put, path = "/api/settings", tag = "settings", request_body = serde_json::Value, responses((status = 200, body = Vec<SettingView>), (status = "4XX", body = ErrorBody)))]
async fn put_global_settings(
    _: User,
    s: axum::extract::State<State>,
    Json(u): Json<SettingsUpdate>,
) -> JsonResult<Vec<SettingView>> {
    domain::settings::update(&s, None, &u).await?;
    Ok(Json(domain::settings::view(&s, None).await?))
}

#[utoipa::path(get, path = "/api/projects/{pid}/settings", tag = "settings", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = Vec<SettingView>), (status = "4XX", body = ErrorBody)))]
async fn project_settings(
    _: User,
    s: axum::extract::State<State>,
    Path(pid): Path<Uuid>,
) -> JsonResult<Vec<SettingView>> {
    Ok(Json(domain::settings::view(&s, Some(pid)).await?))
}

#[utoipa::path(put, path = "/api/projects/{pid}/settings", tag = "settings", params(("pid" = Uuid, Path, description = "project id")), request_body = serde_json::Value, responses((status = 200, body = Vec<SettingView>), (status = "4XX", body = ErrorBody)))]
async fn put_project_settings(
    _: User,
    s: axum::extract::State<State>,
    Path(pid): Path<Uuid>,
    Json(u): Json<SettingsUpdate>,
) -> JsonResult<Vec<SettingView>> {
    domain::settings::update(&s, Some(pid), &u).await?;
    Ok(Json(domain::settings::view(&s, Some(pid)).await?))
}

#[utoipa::path(post, path = "/api/settings/check", tag = "settings", responses((status = 200, body = SettingsCheck), (status = "4XX", body = ErrorBody)))]
async fn check_global_settings(_: User, s: axum::extract::State<State>) -> JsonResult<SettingsCheck> {
    Ok(Json(domain::settings::check(&s, None).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/settings/check", tag = "settings", params(("pid" = Uuid, Path, description = "project id")), responses((status = 200, body = SettingsCheck), (status = "4XX", body = ErrorBody)))]
async fn check_project_settings(
    _: User,
    s: axum::extract::State<State>,
    Path(pid): Path<Uuid>,
) -> JsonResult<SettingsCheck> {
    store::projects::get(&s.db, pid).await?;
    Ok(Json(domain::settings::check(&s, Some(pid)).await?))
}

// ------------------------------------------------------------------ memory

#[utoipa::path(post, path = "/api/projects/{pid}/memory/index", tag = "memory", params(("pid" = Uuid, Path, description = "project id")), request_body = MemoryDocs, responses((status = 200, body = MemoryIndexed), (status = "4XX", body = ErrorBody)))]
async fn memory_index(
    _: User,
    s: axum::extract::State<State>,
    Path(pid): Path<Uuid>,
    Json(d): Json<MemoryDocs>,
) -> JsonResult<MemoryIndexed> {
    Ok(Json(domain::memory::index(&s, pid, &d).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/memory/retrieve", tag = "memory", params(("pid" = Uuid, Path, description = "project id")), request_body = MemoryQuery, responses((status = 200, body = MemoryResults), (status = "4XX", body = ErrorBody)))]
async fn memory_retrieve(
    _: User,
    s: axum::extract::State<State>,
    Path(pid): Path<Uuid>,
    Json(q): Json<MemoryQuery>,
) -> JsonResult<MemoryResults> {
    Ok(Json(domain::memory::retrieve(&s, pid, &q).await?))
}

#[utoipa::path(post, path = "/api/projects/{pid}/memory/delete", tag = "memory", params(("pid" = Uuid, Path, description = "project id")), request_body = MemoryDocs, responses((status = 200, body = MemoryDeleted), (status = "4XX", body = ErrorBody)))]
async fn memory_delete(
    _: User,
    s: axum::extract::State<State>,
    Path(pid): Path<Uuid>,
    Json(d): Json<MemoryDocs>,
) -> JsonResult<MemoryDeleted> {
    Ok(Json(domain::memory::delete(&s, pid, &d).await?))
}

#[utoipa::path(post, path = "/v1/embeddings", tag = "memory", request_body = serde_json::Value, responses((status = 200, body = serde_json::Value), (status = "4XX", body = ErrorBody)))]
/// OpenAI-compatible embeddings, forwarded to the globally configured service.
async fn embeddings(_: User, s: axum::extract::State<State>, Json(body): Json<serde_json::Value>) -> Result<Response> {
    let (status, body) = domain::memory::forward_embeddings(&s, None, body).await?;
    Ok((
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        axum::Json(body),
    )
        .into_response())
}
