//! Comment routes: a pull request's issue comments (list, create) and review comments
//! (list).

use std::collections::HashMap;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::auth::Caller;
use super::json::{issue_comment_json, not_found, review_comment_json};
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
