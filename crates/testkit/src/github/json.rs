//! The JSON shapes octocrab deserialises: users, pull requests, comments, reviews,
//! commits, files and GitHub's error messages.

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::repo::Git;
use super::state::{Comment, Inner, Pull, Review};
use super::{API, WEB, ZERO_SHA};

pub(super) fn user(login: &str) -> Value {
    let u = format!("{WEB}/{login}");
    json!({
        "login": login, "id": 1, "node_id": "U_1", "avatar_url": u, "gravatar_id": "",
        "url": u, "html_url": u, "followers_url": u, "following_url": u, "gists_url": u,
        "starred_url": u, "subscriptions_url": u, "organizations_url": u, "repos_url": u,
        "events_url": u, "received_events_url": u, "type": "User", "site_admin": false,
    })
}

pub(super) fn pull_json(g: &Inner, o: &str, r: &str, p: &Pull) -> Value {
    let api = format!("{API}/repos/{o}/{r}/pulls/{}", p.number);
    let git = Git::of(g, o, r, p);
    let (head_sha, base_sha) = git.as_ref().map_or((ZERO_SHA.to_string(), ZERO_SHA.to_string()), |x| {
        (x.head.clone(), x.base.clone())
    });
    let (additions, deletions, changed_files, commits) = match &git {
        Some(x) => {
            let files = x.files();
            (
                files.iter().map(|f| f.1).sum::<u64>(),
                files.iter().map(|f| f.2).sum::<u64>(),
                files.len(),
                x.commits().len(),
            )
        }
        None => {
            let files = g.seeded_files.get(&p.number).cloned().unwrap_or_default();
            (
                files.iter().map(|f| f.additions).sum(),
                files.iter().map(|f| f.deletions).sum(),
                files.len(),
                g.seeded_commits.get(&p.number).map_or(0, Vec::len),
            )
        }
    };
    let mergeable = if p.merged || p.state != "open" {
        Value::Bool(false)
    } else {
        Value::Bool(
            p.mergeable
                .unwrap_or_else(|| git.as_ref().is_none_or(Git::merges_cleanly)),
        )
    };
    let count = |m: &HashMap<u64, Vec<Comment>>| m.get(&p.number).map_or(0, Vec::len);
    let head_repo = p.head_repo.clone().unwrap_or_else(|| format!("{o}/{r}"));
    let head_owner = super::pulls::head_owner(p, o);
    json!({
        "id": p.number * 10, "number": p.number, "node_id": format!("PR_{}", p.number),
        "url": api, "html_url": format!("{WEB}/{o}/{r}/pull/{}", p.number),
        "state": p.state, "locked": false, "title": p.title, "body": p.body,
        "user": user(&p.user), "draft": p.draft,
        "head": {"label": format!("{head_owner}:{}", p.head), "ref": p.head, "sha": head_sha,
                 "user": user(&head_owner), "repo": repo_json(&head_repo, p.head_repo.is_some())},
        "base": {"label": format!("{o}:{}", p.base), "ref": p.base, "sha": base_sha},
        "created_at": "2026-01-01T00:00:00Z", "updated_at": created_at(p.updated),
        "merged": p.merged, "merged_at": if p.merged { json!("2026-01-02T00:00:00Z") } else { Value::Null },
        "merge_commit_sha": p.merge_commit_sha,
        "merged_by": p.merged_by.as_deref().map(user),
        "mergeable": mergeable,
        "comments": count(&g.issue_comments), "review_comments": count(&g.review_comments),
        "commits": commits, "additions": additions, "deletions": deletions, "changed_files": changed_files,
    })
}

fn repo_json(full_name: &str, fork: bool) -> Value {
    let (owner, name) = full_name.split_once('/').unwrap_or((full_name, full_name));
    json!({
        "id": 1, "node_id": "R_1", "name": name, "full_name": full_name, "owner": user(owner),
        "private": false, "fork": fork,
        "url": format!("{API}/repos/{full_name}"), "html_url": format!("{WEB}/{full_name}"),
    })
}

/// Creation order as time: later comments and reviews have later timestamps.
fn created_at(id: u64) -> String {
    format!("2026-01-01T{:02}:{:02}:{:02}Z", id / 3600 % 24, id / 60 % 60, id % 60)
}

pub(super) fn issue_comment_json(o: &str, r: &str, c: &Comment, association: &str) -> Value {
    json!({
        "author_association": association,
        "id": c.id, "node_id": format!("IC_{}", c.id),
        "url": format!("{API}/repos/{o}/{r}/issues/comments/{}", c.id),
        "html_url": format!("{WEB}/{o}/{r}/issues#issuecomment-{}", c.id),
        "body": c.body, "user": user(&c.user), "created_at": created_at(c.id),
        "updated_at": created_at(c.id),
    })
}

pub(super) fn review_comment_json(o: &str, r: &str, c: &Comment, association: &str) -> Value {
    json!({
        "author_association": association,
        "id": c.id, "node_id": format!("RC_{}", c.id),
        "url": format!("{API}/repos/{o}/{r}/pulls/comments/{}", c.id),
        "html_url": format!("{WEB}/{o}/{r}/pull#discussion_r{}", c.id),
        "diff_hunk": "@@", "path": c.path.clone().unwrap_or_default(),
        "position": c.line, "original_position": c.line,
        "line": c.line, "original_line": c.line, "side": "RIGHT",
        "commit_id": ZERO_SHA, "original_commit_id": ZERO_SHA,
        "body": c.body, "user": user(&c.user),
        "created_at": created_at(c.id), "updated_at": created_at(c.id),
        "_links": {},
    })
}

pub(super) fn review_json(o: &str, r: &str, n: u64, rv: &Review) -> Value {
    json!({
        "id": rv.id, "node_id": format!("PRR_{}", rv.id),
        "html_url": format!("{WEB}/{o}/{r}/pull/{n}#pullrequestreview-{}", rv.id),
        "pull_request_url": format!("{API}/repos/{o}/{r}/pulls/{n}"),
        "user": user(&rv.user), "body": rv.body, "state": rv.state, "commit_id": rv.commit_id,
        "submitted_at": if rv.state == "PENDING" { Value::Null } else { json!(created_at(rv.id)) },
    })
}

pub(super) fn commit_json(o: &str, r: &str, f: &[String]) -> Value {
    let (sha, tree) = (&f[0], &f[1]);
    let parents: Vec<Value> = f[2]
        .split_whitespace()
        .map(|p| json!({"sha": p, "url": format!("{API}/repos/{o}/{r}/commits/{p}"), "html_url": format!("{WEB}/{o}/{r}/commit/{p}")}))
        .collect();
    json!({
        "url": format!("{API}/repos/{o}/{r}/commits/{sha}"), "sha": sha, "node_id": format!("C_{sha}"),
        "html_url": format!("{WEB}/{o}/{r}/commit/{sha}"),
        "comments_url": format!("{API}/repos/{o}/{r}/commits/{sha}/comments"),
        "commit": {
            "url": format!("{API}/repos/{o}/{r}/git/commits/{sha}"),
            "author": {"name": f[3], "email": f[4], "date": f[5]},
            "committer": {"name": f[6], "email": f[7], "date": f[8]},
            "message": f[9].trim_end(), "comment_count": 0,
            "tree": {"sha": tree, "url": format!("{API}/repos/{o}/{r}/git/trees/{tree}")},
        },
        "author": null, "committer": null, "parents": parents,
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn file_json(
    o: &str,
    r: &str,
    head: &str,
    filename: &str,
    status: &str,
    additions: u64,
    deletions: u64,
    patch: Option<String>,
    sha: Option<String>,
    previous: Option<String>,
) -> Value {
    let mut v = json!({
        "sha": sha, "filename": filename, "status": status,
        "additions": additions, "deletions": deletions, "changes": additions + deletions,
        "blob_url": format!("{WEB}/{o}/{r}/blob/{head}/{filename}"),
        "raw_url": format!("{WEB}/{o}/{r}/raw/{head}/{filename}"),
        "contents_url": format!("{API}/repos/{o}/{r}/contents/{}?ref={head}", filename.replace(' ', "%20")),
    });
    if let Some(p) = patch {
        v["patch"] = json!(p);
    }
    if let Some(p) = previous {
        v["previous_filename"] = json!(p);
    }
    v
}

pub(super) fn message(status: StatusCode, text: &str) -> Response {
    (
        status,
        axum::Json(json!({"message": text, "documentation_url": "https://docs.github.com/rest"})),
    )
        .into_response()
}

pub(super) fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Not Found")
}
