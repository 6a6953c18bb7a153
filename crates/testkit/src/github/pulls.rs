//! Pull request routes: list, create, get, update, their commits and files, and merging.

use std::collections::HashMap;

use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ZERO_SHA;
use super::auth::Caller;
use super::json::{commit_json, file_json, message, not_found, pull_json};
use super::repo::{Git, merge_in_repo};
use super::state::{Pull, Shared};

pub(super) async fn list_pulls(
    State(s): State<Shared>,
    Path((o, r)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let g = s.lock().unwrap();
    let state = q.get("state").map(String::as_str).unwrap_or("open");
    // `head` is `owner:branch` (or a bare branch, taken as the repository owner's).
    let head = q.get("head").map(|h| match h.split_once(':') {
        Some((owner, branch)) => (owner.to_string(), branch.to_string()),
        None => (o.clone(), h.clone()),
    });
    let mut pulls: Vec<&Pull> = g
        .pulls
        .iter()
        .filter(|p| state == "all" || p.state == state)
        .filter(|p| {
            head.as_ref()
                .is_none_or(|(owner, h)| *h == p.head && *owner == head_owner(p, &o))
        })
        .collect();
    // GitHub's defaults: newest created first; `sort=updated` ascending unless told.
    let by_updated = q.get("sort").is_some_and(|s| s == "updated");
    pulls.sort_by_key(|p| if by_updated { p.updated } else { p.number });
    let descending = q.get("direction").map_or(!by_updated, |d| d == "desc");
    if descending {
        pulls.reverse();
    }
    let per_page = q.get("per_page").and_then(|n| n.parse().ok()).unwrap_or(30);
    let out: Vec<Value> = pulls
        .into_iter()
        .take(per_page)
        .map(|p| pull_json(&g, &o, &r, p))
        .collect();
    axum::Json(out).into_response()
}

pub(super) async fn create_pull(
    Extension(Caller(login)): Extension<Caller>,
    State(s): State<Shared>,
    Path((o, r)): Path<(String, String)>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
    let mut g = s.lock().unwrap();
    let head = b["head"].as_str().unwrap_or_default().to_string();
    let (Some(title), false) = (b["title"].as_str(), head.is_empty()) else {
        return message(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
    };
    // Only the repository's own branch counts: a fork's branch of that name is another.
    if g.pulls
        .iter()
        .any(|p| p.head == head && p.head_repo.is_none() && p.state == "open")
    {
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
        head_repo: None,
        base: b["base"].as_str().unwrap_or("main").into(),
        state: "open".into(),
        user: login.clone(),
        draft: b["draft"].as_bool().unwrap_or(false),
        merged: false,
        mergeable: None,
        merge_commit_sha: None,
        merged_base_sha: None,
        merged_by: None,
        updated: 0,
    };
    let number = pull.number;
    g.pulls.push(pull);
    g.touch(number);
    let pull = g.pulls.last().expect("just pushed");
    (StatusCode::CREATED, axum::Json(pull_json(&g, &o, &r, pull))).into_response()
}

pub(super) async fn get_pull(State(s): State<Shared>, Path((o, r, n)): Path<(String, String, u64)>) -> Response {
    let g = s.lock().unwrap();
    match g.pulls.iter().find(|p| p.number == n) {
        Some(p) => axum::Json(pull_json(&g, &o, &r, p)).into_response(),
        None => not_found(),
    }
}

pub(super) async fn update_pull(
    State(s): State<Shared>,
    Path((o, r, n)): Path<(String, String, u64)>,
    axum::Json(b): axum::Json<Value>,
) -> Response {
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
    g.touch(n);
    let p = g.pulls.iter().find(|p| p.number == n).expect("found above").clone();
    axum::Json(pull_json(&g, &o, &r, &p)).into_response()
}

pub(super) async fn list_commits(State(s): State<Shared>, Path((o, r, n)): Path<(String, String, u64)>) -> Response {
    let g = s.lock().unwrap();
    let Some(p) = g.pulls.iter().find(|p| p.number == n) else {
        return not_found();
    };
    let out: Vec<Value> = match Git::of(&g, &o, &r, p) {
        Some(x) => x.commits().iter().map(|c| commit_json(&o, &r, c)).collect(),
        None => g
            .seeded_commits
            .get(&n)
            .into_iter()
            .flatten()
            .map(|c| {
                let f = [
                    c.sha.clone(),
                    ZERO_SHA.into(),
                    String::new(),
                    c.author.clone(),
                    format!("{}@users.example", c.author),
                    c.date.clone(),
                    c.author.clone(),
                    format!("{}@users.example", c.author),
                    c.date.clone(),
                    c.message.clone(),
                ];
                commit_json(&o, &r, &f)
            })
            .collect(),
    };
    axum::Json(out).into_response()
}

pub(super) async fn list_files(State(s): State<Shared>, Path((o, r, n)): Path<(String, String, u64)>) -> Response {
    let g = s.lock().unwrap();
    let Some(p) = g.pulls.iter().find(|p| p.number == n) else {
        return not_found();
    };
    let out: Vec<Value> = match Git::of(&g, &o, &r, p) {
        Some(x) => x
            .files()
            .into_iter()
            .map(|(status, adds, dels, path, old)| {
                let mut paths: Vec<&str> = old.iter().map(String::as_str).collect();
                paths.push(&path);
                let patch = x.patch(&paths);
                let blob = if status == "removed" { None } else { x.blob(&path) };
                file_json(&o, &r, &x.head, &path, &status, adds, dels, patch, blob, old.clone())
            })
            .collect(),
        None => g
            .seeded_files
            .get(&n)
            .into_iter()
            .flatten()
            .map(|f| {
                file_json(
                    &o,
                    &r,
                    ZERO_SHA,
                    &f.filename,
                    &f.status,
                    f.additions,
                    f.deletions,
                    f.patch.clone(),
                    None,
                    None,
                )
            })
            .collect(),
    };
    axum::Json(out).into_response()
}

pub(super) async fn is_merged(State(s): State<Shared>, Path((_, _, n)): Path<(String, String, u64)>) -> Response {
    let g = s.lock().unwrap();
    match g.pulls.iter().find(|p| p.number == n) {
        Some(p) if p.merged => StatusCode::NO_CONTENT.into_response(),
        _ => not_found(),
    }
}

pub(super) async fn merge_pull(
    Extension(Caller(login)): Extension<Caller>,
    State(s): State<Shared>,
    Path((o, r, n)): Path<(String, String, u64)>,
    body: axum::body::Bytes,
) -> Response {
    let b: Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut g = s.lock().unwrap();
    let Some(p) = g.pulls.iter().find(|p| p.number == n).cloned() else {
        return not_found();
    };
    if p.merged || p.state != "open" || p.mergeable == Some(false) {
        return message(StatusCode::METHOD_NOT_ALLOWED, "Pull Request is not mergeable");
    }
    let method = b["merge_method"].as_str().unwrap_or("merge").to_string();
    if !matches!(method.as_str(), "merge" | "squash" | "rebase") {
        return message(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
    }
    let git = Git::of(&g, &o, &r, &p);
    if let (Some(want), Some(x)) = (b["sha"].as_str(), &git)
        && want != x.head
    {
        return message(
            StatusCode::CONFLICT,
            "Head branch was modified. Review and try the merge again.",
        );
    }
    let title = b["commit_title"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{} (#{n})", p.title));
    let sha = match &git {
        Some(x) => match merge_in_repo(
            x,
            &p,
            &o,
            &method,
            &title,
            b["commit_message"].as_str().unwrap_or_default(),
        ) {
            Ok(sha) => sha,
            Err(_) => return message(StatusCode::METHOD_NOT_ALLOWED, "Pull Request is not mergeable"),
        },
        None => format!("{:040x}", g.next_id + 1),
    };
    g.touch(n);
    let pull = g.pulls.iter_mut().find(|x| x.number == n).expect("found above");
    pull.merged = true;
    pull.merged_by = Some(login);
    pull.state = "closed".into();
    pull.merge_commit_sha = Some(sha.clone());
    pull.merged_base_sha = git.map(|x| x.base);
    axum::Json(json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"})).into_response()
}

/// The owner of the repository a PR's head branch lives in.
pub(super) fn head_owner(p: &Pull, owner: &str) -> String {
    p.head_repo
        .as_deref()
        .map_or(owner, |r| r.split('/').next().unwrap_or(r))
        .to_string()
}
