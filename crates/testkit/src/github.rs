//! A GitHub REST stand-in for what octocrab uses on pull requests: create/list/get/update
//! pulls, issue comments (list/create) and review comments (list). It keeps state so
//! tests can assert on the PR the agent opened.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub struct Pull {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub head: String,
    pub base: String,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub id: u64,
    pub user: String,
    pub body: String,
    /// Review comments only.
    pub path: Option<String>,
}

#[derive(Default)]
struct Inner {
    pulls: Vec<Pull>,
    issue_comments: HashMap<u64, Vec<Comment>>,
    review_comments: HashMap<u64, Vec<Comment>>,
    next_id: u64,
    /// `METHOD path` of every request, and whether it carried a bearer token.
    log: Vec<(String, bool)>,
}

type Shared = Arc<Mutex<Inner>>;

#[derive(Clone)]
pub struct GitHubStandIn {
    /// The API base (configure as `github_api_url`).
    pub url: String,
    inner: Shared,
}

impl GitHubStandIn {
    pub async fn start() -> GitHubStandIn {
        Self::start_at("127.0.0.1").await
    }

    /// Listens on `ip` (e.g. the Docker bridge gateway, so containers can reach it too).
    pub async fn start_at(ip: &str) -> GitHubStandIn {
        let inner: Shared = Arc::new(Mutex::new(Inner {
            next_id: 1000,
            ..Default::default()
        }));
        let app = Router::new()
            .route("/repos/{o}/{r}/pulls", get(list_pulls).post(create_pull))
            .route("/repos/{o}/{r}/pulls/{n}", get(get_pull).patch(update_pull))
            .route("/repos/{o}/{r}/pulls/{n}/comments", get(list_review_comments))
            .route(
                "/repos/{o}/{r}/issues/{n}/comments",
                get(list_issue_comments).post(create_issue_comment),
            )
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        GitHubStandIn {
            url: format!("http://{addr}"),
            inner,
        }
    }

    pub fn pulls(&self) -> Vec<Pull> {
        self.inner.lock().unwrap().pulls.clone()
    }

    /// Opens a PR as a person would (for review jobs).
    pub fn open_pull(&self, title: &str, head: &str, base: &str) -> u64 {
        let mut g = self.inner.lock().unwrap();
        let number = g.pulls.len() as u64 + 1;
        g.pulls.push(Pull {
            number,
            title: title.into(),
            body: String::new(),
            head: head.into(),
            base: base.into(),
            state: "open".into(),
        });
        number
    }

    pub fn add_issue_comment(&self, pr: u64, user: &str, body: &str) {
        let mut g = self.inner.lock().unwrap();
        g.next_id += 1;
        let id = g.next_id;
        g.issue_comments.entry(pr).or_default().push(Comment {
            id,
            user: user.into(),
            body: body.into(),
            path: None,
        });
    }

    pub fn add_review_comment(&self, pr: u64, user: &str, path: &str, body: &str) {
        let mut g = self.inner.lock().unwrap();
        g.next_id += 1;
        let id = g.next_id;
        g.review_comments.entry(pr).or_default().push(Comment {
            id,
            user: user.into(),
            body: body.into(),
            path: Some(path.into()),
        });
    }

    pub fn issue_comments(&self, pr: u64) -> Vec<Comment> {
        self.inner
            .lock()
            .unwrap()
            .issue_comments
            .get(&pr)
            .cloned()
            .unwrap_or_default()
    }

    /// `(METHOD path, authenticated)` of every request.
    pub fn requests(&self) -> Vec<(String, bool)> {
        self.inner.lock().unwrap().log.clone()
    }
}

fn record(inner: &Shared, what: String, headers: &HeaderMap) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > "Bearer ".len());
    inner.lock().unwrap().log.push((what, auth));
}

fn user(login: &str) -> Value {
    let u = format!("https://github.example/{login}");
    json!({
        "login": login, "id": 1, "node_id": "U_1", "avatar_url": u, "gravatar_id": "",
        "url": u, "html_url": u, "followers_url": u, "following_url": u, "gists_url": u,
        "starred_url": u, "subscriptions_url": u, "organizations_url": u, "repos_url": u,
        "events_url": u, "received_events_url": u, "type": "User", "site_admin": false,
    })
}

fn pull_json(o: &str, r: &str, p: &Pull) -> Value {
    let api = format!("https://api.github.example/repos/{o}/{r}/pulls/{}", p.number);
    json!({
        "id": p.number * 10, "number": p.number, "node_id": format!("PR_{}", p.number),
        "url": api, "html_url": format!("https://github.example/{o}/{r}/pull/{}", p.number),
        "state": p.state, "locked": false, "title": p.title, "body": p.body,
        "user": user("terarchitect-bot"),
        "head": {"label": format!("{o}:{}", p.head), "ref": p.head, "sha": "0000000000000000000000000000000000000000"},
        "base": {"label": format!("{o}:{}", p.base), "ref": p.base, "sha": "0000000000000000000000000000000000000000"},
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
    })
}

/// Creation order as time: later comments (of either kind) have later timestamps.
fn created_at(id: u64) -> String {
    format!("2026-01-01T{:02}:{:02}:{:02}Z", id / 3600 % 24, id / 60 % 60, id % 60)
}

fn issue_comment_json(o: &str, r: &str, c: &Comment) -> Value {
    json!({
        "id": c.id, "node_id": format!("IC_{}", c.id),
        "url": format!("https://api.github.example/repos/{o}/{r}/issues/comments/{}", c.id),
        "html_url": format!("https://github.example/{o}/{r}/issues#issuecomment-{}", c.id),
        "body": c.body, "user": user(&c.user), "created_at": created_at(c.id),
    })
}

fn review_comment_json(o: &str, r: &str, c: &Comment) -> Value {
    json!({
        "id": c.id, "node_id": format!("RC_{}", c.id),
        "url": format!("https://api.github.example/repos/{o}/{r}/pulls/comments/{}", c.id),
        "html_url": format!("https://github.example/{o}/{r}/pull#discussion_r{}", c.id),
        "diff_hunk": "@@", "path": c.path.clone().unwrap_or_default(),
        "commit_id": "0000000000000000000000000000000000000000",
        "original_commit_id": "0000000000000000000000000000000000000000",
        "body": c.body, "user": user(&c.user),
        "created_at": created_at(c.id), "updated_at": created_at(c.id),
        "_links": {},
    })
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, axum::Json(json!({"message": "Not Found"}))).into_response()
}

async fn list_pulls(
    State(s): State<Shared>,
    Path((o, r)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
) -> Response {
    record(&s, format!("GET /repos/{o}/{r}/pulls"), &h);
    let g = s.lock().unwrap();
    let state = q.get("state").map(String::as_str).unwrap_or("open");
    // `head` is `owner:branch`.
    let head = q.get("head").map(|h| h.rsplit(':').next().unwrap_or(h).to_string());
    let out: Vec<Value> = g
        .pulls
        .iter()
        .filter(|p| state == "all" || p.state == state)
        .filter(|p| head.as_ref().is_none_or(|h| *h == p.head))
        .map(|p| pull_json(&o, &r, p))
        .collect();
    axum::Json(out).into_response()
}

async fn create_pull(
    State(s): State<Shared>,
    Path((o, r)): Path<(String, String)>,
    h: HeaderMap,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    record(&s, format!("POST /repos/{o}/{r}/pulls"), &h);
    let mut g = s.lock().unwrap();
    let head = b["head"].as_str().unwrap_or_default().to_string();
    let (Some(title), false) = (b["title"].as_str(), head.is_empty()) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"message": "Validation Failed"})),
        )
            .into_response();
    };
    if g.pulls.iter().any(|p| p.head == head && p.state == "open") {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"message": "Validation Failed", "errors": [{"message": format!("A pull request already exists for {o}:{head}.")}]})),
        )
            .into_response();
    }
    let pull = Pull {
        number: g.pulls.len() as u64 + 1,
        title: title.into(),
        body: b["body"].as_str().unwrap_or_default().into(),
        head,
        base: b["base"].as_str().unwrap_or("main").into(),
        state: "open".into(),
    };
    g.pulls.push(pull.clone());
    (StatusCode::CREATED, axum::Json(pull_json(&o, &r, &pull))).into_response()
}

async fn get_pull(State(s): State<Shared>, Path((o, r, n)): Path<(String, String, u64)>, h: HeaderMap) -> Response {
    record(&s, format!("GET /repos/{o}/{r}/pulls/{n}"), &h);
    let g = s.lock().unwrap();
    match g.pulls.iter().find(|p| p.number == n) {
        Some(p) => axum::Json(pull_json(&o, &r, p)).into_response(),
        None => not_found(),
    }
}

async fn update_pull(
    State(s): State<Shared>,
    Path((o, r, n)): Path<(String, String, u64)>,
    h: HeaderMap,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    record(&s, format!("PATCH /repos/{o}/{r}/pulls/{n}"), &h);
    let mut g = s.lock().unwrap();
    let Some(p) = g.pulls.iter_mut().find(|p| p.number == n) else {
        return not_found();
    };
    if let Some(t) = b["title"].as_str() {
        p.title = t.into();
    }
    if let Some(t) = b["body"].as_str() {
        p.body = t.into();
    }
    if let Some(t) = b["state"].as_str() {
        p.state = t.into();
    }
    axum::Json(pull_json(&o, &r, p)).into_response()
}

async fn list_review_comments(
    State(s): State<Shared>,
    Path((o, r, n)): Path<(String, String, u64)>,
    h: HeaderMap,
) -> Response {
    record(&s, format!("GET /repos/{o}/{r}/pulls/{n}/comments"), &h);
    let g = s.lock().unwrap();
    let out: Vec<Value> = g
        .review_comments
        .get(&n)
        .into_iter()
        .flatten()
        .map(|c| review_comment_json(&o, &r, c))
        .collect();
    axum::Json(out).into_response()
}

async fn list_issue_comments(
    State(s): State<Shared>,
    Path((o, r, n)): Path<(String, String, u64)>,
    h: HeaderMap,
) -> Response {
    record(&s, format!("GET /repos/{o}/{r}/issues/{n}/comments"), &h);
    let g = s.lock().unwrap();
    let out: Vec<Value> = g
        .issue_comments
        .get(&n)
        .into_iter()
        .flatten()
        .map(|c| issue_comment_json(&o, &r, c))
        .collect();
    axum::Json(out).into_response()
}

async fn create_issue_comment(
    State(s): State<Shared>,
    Path((o, r, n)): Path<(String, String, u64)>,
    h: HeaderMap,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    record(&s, format!("POST /repos/{o}/{r}/issues/{n}/comments"), &h);
    let mut g = s.lock().unwrap();
    if !g.pulls.iter().any(|p| p.number == n) {
        return not_found();
    }
    g.next_id += 1;
    let c = Comment {
        id: g.next_id,
        user: "terarchitect-bot".into(),
        body: b["body"].as_str().unwrap_or_default().into(),
        path: None,
    };
    g.issue_comments.entry(n).or_default().push(c.clone());
    (StatusCode::CREATED, axum::Json(issue_comment_json(&o, &r, &c))).into_response()
}
