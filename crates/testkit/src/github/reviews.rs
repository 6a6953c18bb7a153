//! Review routes: list a pull request's reviews and submit one (GitHub's rules on empty
//! bodies and on reviewing your own pull request included).

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::ZERO_SHA;
use super::auth::Caller;
use super::json::{message, not_found, review_json};
use super::repo::Git;
use super::state::{Review, Shared};

pub(super) async fn list_reviews(State(s): State<Shared>, Path((o, r, n)): Path<(String, String, u64)>) -> Response {
    let g = s.lock().unwrap();
    if !g.pulls.iter().any(|p| p.number == n) {
        return not_found();
    }
    let out: Vec<Value> = g
        .reviews
        .get(&n)
        .into_iter()
        .flatten()
        .map(|rv| review_json(&o, &r, n, rv))
        .collect();
    axum::Json(out).into_response()
}

pub(super) async fn create_review(
    Extension(Caller(login)): Extension<Caller>,
    State(s): State<Shared>,
    Path((o, r, n)): Path<(String, String, u64)>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    let mut g = s.lock().unwrap();
    let Some(p) = g.pulls.iter().find(|p| p.number == n).cloned() else {
        return not_found();
    };
    let body = b["body"].as_str().unwrap_or_default().to_string();
    let state = match b["event"].as_str() {
        Some("APPROVE") => "APPROVED",
        Some("REQUEST_CHANGES") => "CHANGES_REQUESTED",
        Some("COMMENT") => "COMMENTED",
        None => "PENDING",
        Some(_) => return message(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed"),
    };
    if matches!(state, "CHANGES_REQUESTED" | "COMMENTED") && body.trim().is_empty() {
        return message(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed: body is required");
    }
    if p.user == login && matches!(state, "APPROVED" | "CHANGES_REQUESTED") {
        let what = if state == "APPROVED" {
            "approve"
        } else {
            "request changes on"
        };
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Unprocessable Entity: Can not {what} your own pull request"),
        );
    }
    let commit_id = b["commit_id"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| Git::of(&g, &o, &r, &p).map(|x| x.head))
        .unwrap_or_else(|| ZERO_SHA.into());
    let rv = Review {
        id: g.touch(n),
        user: login.clone(),
        state: state.into(),
        body,
        commit_id,
    };
    g.reviews.entry(n).or_default().push(rv.clone());
    axum::Json(review_json(&o, &r, n, &rv)).into_response()
}
