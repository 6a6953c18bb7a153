//! Comment routes: a pull request's issue comments (list, create) and review comments
//! (list, create on a line of the diff).

use std::collections::HashMap;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::auth::Caller;
use super::json::{issue_comment_json, message, not_found, review_comment_json};
use super::state::{Comment, Inner, Shared};

pub(super) async fn list_review_comments(
    State(s): State<Shared>,
    Path((o, r, n)): Path<(String, String, u64)>,
) -> Response {
    let g = s.lock().unwrap();
    comments_of(&g, n, &g.review_comments, |c| {
        review_comment_json(&o, &r, c, g.association(&c.user))
    })
}

pub(super) async fn list_issue_comments(
    State(s): State<Shared>,
    Path((o, r, n)): Path<(String, String, u64)>,
) -> Response {
    let g = s.lock().unwrap();
    comments_of(&g, n, &g.issue_comments, |c| {
        issue_comment_json(&o, &r, c, g.association(&c.user))
    })
}

/// PR `n`'s comments from `by_pr`, as `json` renders them (404 for no such PR).
fn comments_of(g: &Inner, n: u64, by_pr: &HashMap<u64, Vec<Comment>>, json: impl Fn(&Comment) -> Value) -> Response {
    if !g.pulls.iter().any(|p| p.number == n) {
        return not_found();
    }
    let out: Vec<Value> = by_pr.get(&n).into_iter().flatten().map(json).collect();
    axum::Json(out).into_response()
}

/// `POST /repos/{o}/{r}/pulls/{n}/comments`: a review comment on a line of the PR's diff
/// (`path`, `line`; `commit_id` must be the PR's head, as GitHub insists).
pub(super) async fn create_review_comment(
    Extension(Caller(login)): Extension<Caller>,
    State(s): State<Shared>,
    Path((o, r, n)): Path<(String, String, u64)>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    let mut g = s.lock().unwrap();
    let Some(pull) = g.pulls.iter().find(|p| p.number == n).cloned() else {
        return not_found();
    };
    let head = super::repo::Git::of(&g, &o, &r, &pull).map(|x| x.head);
    let (Some(path), Some(line)) = (b["path"].as_str(), b["line"].as_u64()) else {
        return message(StatusCode::UNPROCESSABLE_ENTITY, "path and line are required");
    };
    if head.is_none() || b["commit_id"].as_str() != head.as_deref() {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "commit_id is not the pull request's head",
        );
    }
    let c = Comment {
        id: g.touch(n),
        user: login.clone(),
        body: b["body"].as_str().unwrap_or_default().into(),
        path: Some(path.into()),
        line: Some(line),
    };
    g.review_comments.entry(n).or_default().push(c.clone());
    let json = review_comment_json(&o, &r, &c, g.association(&c.user));
    (StatusCode::CREATED, axum::Json(json)).into_response()
}

pub(super) async fn create_issue_comment(
    Extension(Caller(login)): Extension<Caller>,
    State(s): State<Shared>,
    Path((o, r, n)): Path<(String, String, u64)>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    let mut g = s.lock().unwrap();
    if !g.pulls.iter().any(|p| p.number == n) {
        return not_found();
    }
    let c = Comment {
        id: g.touch(n),
        user: login.clone(),
        body: b["body"].as_str().unwrap_or_default().into(),
        path: None,
        line: None,
    };
    g.issue_comments.entry(n).or_default().push(c.clone());
    let json = issue_comment_json(&o, &r, &c, g.association(&c.user));
    (StatusCode::CREATED, axum::Json(json)).into_response()
}
