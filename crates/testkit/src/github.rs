//! A GitHub REST stand-in for what octocrab uses on pull requests, speaking the shapes
//! octocrab deserialises: pulls (create/list/get/update/merge, commits, files), issue
//! comments (list/create), review comments (list), reviews (list/create) and `GET /user`.
//! It keeps state so tests can assert on what a client did.
//!
//! PR data can be real: register a bare git repository for `owner/repo` with
//! [`GitHubStandIn::serve_repo`] and a PR's head/base SHAs, commits, changed files,
//! patches and line counts are computed from it with the `git` CLI; merging updates the
//! base branch in that repository. Without a repository, commits and files can be seeded
//! ([`GitHubStandIn::seed_commits`], [`GitHubStandIn::seed_files`]).
//!
//! Failures on demand: [`GitHubStandIn::fail_requests`] (any status for matching
//! requests), [`GitHubStandIn::require_token`] (401 for other tokens),
//! [`GitHubStandIn::set_mergeable`] (405 on merge).

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

const ZERO_SHA: &str = "0000000000000000000000000000000000000000";
const API: &str = "https://api.github.example";
const WEB: &str = "https://github.example";

#[derive(Debug, Clone, PartialEq)]
pub struct Pull {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub head: String,
    pub base: String,
    /// `open` or `closed` (a merged PR is closed and `merged`).
    pub state: String,
    /// Login of whoever opened it.
    pub user: String,
    pub draft: bool,
    pub merged: bool,
    /// Who merged it (set by the merge route; tests may set it with `edit_pull`).
    pub merged_by: Option<String>,
    /// When it last changed, on the stand-in's clock (see `created_at`): every comment,
    /// review, edit and merge moves it, as on GitHub.
    pub updated: u64,
    /// `Some(false)`: merging answers 405. `None`: computed (a registered repository's
    /// branches merge cleanly) or true.
    pub mergeable: Option<bool>,
    pub merge_commit_sha: Option<String>,
    /// The base branch's SHA when the PR was merged: its commits and files stay what
    /// they were, as on GitHub.
    pub merged_base_sha: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub id: u64,
    pub user: String,
    pub body: String,
    /// Review comments only.
    pub path: Option<String>,
    /// Review comments only.
    pub line: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub id: u64,
    pub user: String,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`.
    pub state: String,
    pub body: String,
    pub commit_id: String,
}

/// A commit to report for a PR without a registered repository.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedCommit {
    pub sha: String,
    pub message: String,
    pub author: String,
    /// RFC 3339.
    pub date: String,
}

/// A changed file to report for a PR without a registered repository.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedFile {
    pub filename: String,
    /// `added`, `modified`, `removed`, `renamed`, ...
    pub status: String,
    pub additions: u64,
    pub deletions: u64,
    pub patch: Option<String>,
}

struct Inner {
    pulls: Vec<Pull>,
    issue_comments: HashMap<u64, Vec<Comment>>,
    review_comments: HashMap<u64, Vec<Comment>>,
    reviews: HashMap<u64, Vec<Review>>,
    repos: HashMap<(String, String), PathBuf>,
    seeded_commits: HashMap<u64, Vec<SeedCommit>>,
    seeded_files: HashMap<u64, Vec<SeedFile>>,
    /// (substring of `METHOD path`, status) answered instead of the real thing.
    failures: Vec<(String, u16)>,
    required_token: Option<String>,
    /// Whose token this is: authors comments, reviews and PRs created through the API.
    login: String,
    /// Other users' tokens (token → login), accepted besides the required one.
    users: HashMap<String, String>,
    next_id: u64,
    /// `METHOD path` of every request, and whether it carried a token.
    log: Vec<(String, bool)>,
}

impl Inner {
    /// Moves the clock and PR `pr`'s `updated` to now; returns now (also the next id).
    fn touch(&mut self, pr: u64) -> u64 {
        self.next_id += 1;
        let now = self.next_id;
        if let Some(p) = self.pulls.iter_mut().find(|p| p.number == pr) {
            p.updated = now;
        }
        now
    }
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
            pulls: Vec::new(),
            issue_comments: HashMap::new(),
            review_comments: HashMap::new(),
            reviews: HashMap::new(),
            repos: HashMap::new(),
            seeded_commits: HashMap::new(),
            seeded_files: HashMap::new(),
            failures: Vec::new(),
            required_token: None,
            login: "terarchitect-bot".into(),
            users: HashMap::new(),
            next_id: 1000,
            log: Vec::new(),
        }));
        let app = Router::new()
            .route("/user", get(current_user))
            .route("/rate_limit", get(rate_limit))
            .route("/repos/{o}/{r}/pulls", get(list_pulls).post(create_pull))
            .route("/repos/{o}/{r}/pulls/{n}", get(get_pull).patch(update_pull))
            .route("/repos/{o}/{r}/pulls/{n}/commits", get(list_commits))
            .route("/repos/{o}/{r}/pulls/{n}/files", get(list_files))
            .route("/repos/{o}/{r}/pulls/{n}/merge", get(is_merged).put(merge_pull))
            .route(
                "/repos/{o}/{r}/pulls/{n}/reviews",
                get(list_reviews).post(create_review),
            )
            .route("/repos/{o}/{r}/pulls/{n}/comments", get(list_review_comments))
            .route(
                "/repos/{o}/{r}/issues/{n}/comments",
                get(list_issue_comments).post(create_issue_comment),
            )
            .layer(middleware::from_fn_with_state(inner.clone(), gate))
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

    /// Serves `owner/repo` from the bare (or any) git repository at `path`: PR SHAs,
    /// commits, files and patches come from its branches, and merges update it.
    pub fn serve_repo(&self, owner: &str, repo: &str, path: impl Into<PathBuf>) {
        self.inner
            .lock()
            .unwrap()
            .repos
            .insert((owner.into(), repo.into()), path.into());
    }

    /// The login the token belongs to (default `terarchitect-bot`).
    pub fn set_login(&self, login: &str) {
        self.inner.lock().unwrap().login = login.into();
    }

    /// A second user: requests with `token` act as `login` (e.g. a human reviewer).
    pub fn add_user(&self, token: &str, login: &str) {
        self.inner.lock().unwrap().users.insert(token.into(), login.into());
    }

    /// Only this token (and those of [`Self::add_user`]) is accepted from now on; other
    /// requests get 401 Bad credentials.
    pub fn require_token(&self, token: &str) {
        self.inner.lock().unwrap().required_token = Some(token.into());
    }

    /// Requests whose `METHOD path` contains `pattern` get `status` (e.g. `("pulls/2", 500)`).
    pub fn fail_requests(&self, pattern: &str, status: u16) {
        self.inner.lock().unwrap().failures.push((pattern.into(), status));
    }

    pub fn clear_failures(&self) {
        self.inner.lock().unwrap().failures.clear();
    }

    pub fn pulls(&self) -> Vec<Pull> {
        self.inner.lock().unwrap().pulls.clone()
    }

    pub fn pull(&self, number: u64) -> Option<Pull> {
        self.pulls().into_iter().find(|p| p.number == number)
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
            user: "terarchitect-bot".into(),
            draft: false,
            merged: false,
            mergeable: None,
            merge_commit_sha: None,
            merged_base_sha: None,
            merged_by: None,
            updated: 0,
        });
        g.touch(number);
        number
    }

    /// Changes a PR in place (body, draft, state, author...).
    pub fn edit_pull(&self, number: u64, edit: impl FnOnce(&mut Pull)) {
        let mut g = self.inner.lock().unwrap();
        let p = g
            .pulls
            .iter_mut()
            .find(|p| p.number == number)
            .expect("no such pull request");
        edit(p);
        g.touch(number);
    }

    /// `false`: GitHub cannot merge it (merging answers 405).
    pub fn set_mergeable(&self, number: u64, mergeable: bool) {
        self.edit_pull(number, |p| p.mergeable = Some(mergeable));
    }

    pub fn seed_commits(&self, number: u64, commits: Vec<SeedCommit>) {
        self.inner.lock().unwrap().seeded_commits.insert(number, commits);
    }

    pub fn seed_files(&self, number: u64, files: Vec<SeedFile>) {
        self.inner.lock().unwrap().seeded_files.insert(number, files);
    }

    pub fn add_issue_comment(&self, pr: u64, user: &str, body: &str) -> u64 {
        let mut g = self.inner.lock().unwrap();
        let id = g.touch(pr);
        g.issue_comments.entry(pr).or_default().push(Comment {
            id,
            user: user.into(),
            body: body.into(),
            path: None,
            line: None,
        });
        id
    }

    pub fn add_review_comment(&self, pr: u64, user: &str, path: &str, body: &str) -> u64 {
        self.add_review_comment_on_line(pr, user, path, None, body)
    }

    pub fn add_review_comment_on_line(&self, pr: u64, user: &str, path: &str, line: Option<u64>, body: &str) -> u64 {
        let mut g = self.inner.lock().unwrap();
        let id = g.touch(pr);
        g.review_comments.entry(pr).or_default().push(Comment {
            id,
            user: user.into(),
            body: body.into(),
            path: Some(path.into()),
            line,
        });
        id
    }

    /// A submitted review: `state` as GitHub reports it (`APPROVED`, `CHANGES_REQUESTED`, ...).
    pub fn add_review(&self, pr: u64, user: &str, state: &str, body: &str) -> u64 {
        let mut g = self.inner.lock().unwrap();
        let id = g.touch(pr);
        g.reviews.entry(pr).or_default().push(Review {
            id,
            user: user.into(),
            state: state.into(),
            body: body.into(),
            commit_id: ZERO_SHA.into(),
        });
        id
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

    pub fn reviews(&self, pr: u64) -> Vec<Review> {
        self.inner.lock().unwrap().reviews.get(&pr).cloned().unwrap_or_default()
    }

    /// `(METHOD path, authenticated)` of every request.
    pub fn requests(&self) -> Vec<(String, bool)> {
        self.inner.lock().unwrap().log.clone()
    }
}

// ------------------------------------------------------------------ middleware

/// Who a request acts as (from its token).
#[derive(Clone)]
struct Caller(String);

/// Records every request, then answers injected failures and wrong tokens, and tells the
/// handlers who is calling.
async fn gate(State(s): State<Shared>, mut req: Request, next: Next) -> Response {
    let what = format!("{} {}", req.method(), req.uri().path());
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("token ")))
        .map(str::to_owned)
        .filter(|t| !t.is_empty());
    let refusal = {
        let mut g = s.lock().unwrap();
        g.log.push((what.clone(), token.is_some()));
        let other_user = token.as_ref().and_then(|t| g.users.get(t)).cloned();
        req.extensions_mut()
            .insert(Caller(other_user.clone().unwrap_or_else(|| g.login.clone())));
        if let Some((_, status)) = g.failures.iter().find(|(p, _)| what.contains(p.as_str())) {
            Some((*status, "stand-in failure"))
        } else if g.required_token.is_some() && g.required_token != token && other_user.is_none() {
            Some((401, "Bad credentials"))
        } else {
            None
        }
    };
    match refusal {
        Some((status, message)) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            axum::Json(json!({"message": message, "documentation_url": "https://docs.github.com/rest"})),
        )
            .into_response(),
        None => next.run(req).await,
    }
}

// ------------------------------------------------------------------ git

fn git(repo: &FsPath, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(repo)
        .env("GIT_AUTHOR_NAME", "GitHub")
        .env("GIT_AUTHOR_EMAIL", "noreply@github.example")
        .env("GIT_COMMITTER_NAME", "GitHub")
        .env("GIT_COMMITTER_EMAIL", "noreply@github.example")
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn branch_sha(repo: &FsPath, branch: &str) -> Option<String> {
    git(
        repo,
        &[
            "rev-parse",
            "--verify",
            "-q",
            &format!("refs/heads/{branch}^{{commit}}"),
        ],
    )
    .ok()
    .map(|s| s.trim().to_string())
    .filter(|s| !s.is_empty())
}

/// What a PR's branches look like in its registered repository.
struct Git {
    repo: PathBuf,
    head: String,
    base: String,
}

impl Git {
    fn of(g: &Inner, o: &str, r: &str, p: &Pull) -> Option<Git> {
        let repo = g.repos.get(&(o.to_string(), r.to_string()))?.clone();
        let head = branch_sha(&repo, &p.head)?;
        let base = match &p.merged_base_sha {
            Some(sha) => sha.clone(),
            None => branch_sha(&repo, &p.base)?,
        };
        Some(Git { repo, head, base })
    }

    /// `(additions, deletions, path, previous path)` per changed file, base...head.
    fn files(&self) -> Vec<(String, u64, u64, String, Option<String>)> {
        let range = format!("{}...{}", self.base, self.head);
        let Ok(out) = git(&self.repo, &["diff", "--name-status", "-z", "-M", &range]) else {
            return Vec::new();
        };
        let mut fields = out.split('\0').filter(|f| !f.is_empty());
        let mut files = Vec::new();
        while let Some(code) = fields.next() {
            let (status, old, path) = match code.chars().next() {
                Some('R') | Some('C') => {
                    let old = fields.next().unwrap_or_default().to_string();
                    let new = fields.next().unwrap_or_default().to_string();
                    (if code.starts_with('R') { "renamed" } else { "copied" }, Some(old), new)
                }
                Some('A') => ("added", None, fields.next().unwrap_or_default().to_string()),
                Some('D') => ("removed", None, fields.next().unwrap_or_default().to_string()),
                Some('M') => ("modified", None, fields.next().unwrap_or_default().to_string()),
                _ => ("changed", None, fields.next().unwrap_or_default().to_string()),
            };
            let mut paths = vec![path.as_str()];
            if let Some(o) = &old {
                paths.insert(0, o.as_str());
            }
            let mut args = vec!["diff", "--numstat", "-M", range.as_str(), "--"];
            args.extend(&paths);
            let (adds, dels) = git(&self.repo, &args)
                .ok()
                .and_then(|s| {
                    let mut it = s.split_whitespace();
                    Some((it.next()?.parse().unwrap_or(0), it.next()?.parse().unwrap_or(0)))
                })
                .unwrap_or((0, 0));
            files.push((status.to_string(), adds, dels, path, old));
        }
        files
    }

    fn patch(&self, paths: &[&str]) -> Option<String> {
        let range = format!("{}...{}", self.base, self.head);
        let mut args = vec!["diff", "--no-color", "--no-ext-diff", "-M", range.as_str(), "--"];
        args.extend(paths);
        let out = git(&self.repo, &args).ok()?;
        let at = out
            .find("\n@@")
            .map(|i| i + 1)
            .or_else(|| out.starts_with("@@").then_some(0))?;
        Some(out[at..].trim_end_matches('\n').to_string())
    }

    fn blob(&self, path: &str) -> Option<String> {
        git(
            &self.repo,
            &["rev-parse", "-q", "--verify", &format!("{}:{path}", self.head)],
        )
        .ok()
        .map(|s| s.trim().to_string())
    }

    /// `(sha, tree, parents, author name, author email, author date, committer name,
    /// committer email, committer date, message)`, oldest first.
    fn commits(&self) -> Vec<Vec<String>> {
        let range = format!("{}..{}", self.base, self.head);
        let format = "--format=%H%x1f%T%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cn%x1f%ce%x1f%cI%x1f%B%x1e";
        let Ok(out) = git(&self.repo, &["log", "--reverse", format, &range]) else {
            return Vec::new();
        };
        out.split('\x1e')
            .map(|c| c.trim_start_matches('\n'))
            .filter(|c| !c.is_empty())
            .map(|c| c.split('\x1f').map(str::to_owned).collect::<Vec<_>>())
            .filter(|f| f.len() == 10)
            .collect()
    }

    /// Whether head merges into base without conflicts.
    fn merges_cleanly(&self) -> bool {
        git(&self.repo, &["merge-tree", "--write-tree", &self.base, &self.head]).is_ok()
    }
}

// ------------------------------------------------------------------ JSON shapes

fn user(login: &str) -> Value {
    let u = format!("{WEB}/{login}");
    json!({
        "login": login, "id": 1, "node_id": "U_1", "avatar_url": u, "gravatar_id": "",
        "url": u, "html_url": u, "followers_url": u, "following_url": u, "gists_url": u,
        "starred_url": u, "subscriptions_url": u, "organizations_url": u, "repos_url": u,
        "events_url": u, "received_events_url": u, "type": "User", "site_admin": false,
    })
}

fn pull_json(g: &Inner, o: &str, r: &str, p: &Pull) -> Value {
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
    json!({
        "id": p.number * 10, "number": p.number, "node_id": format!("PR_{}", p.number),
        "url": api, "html_url": format!("{WEB}/{o}/{r}/pull/{}", p.number),
        "state": p.state, "locked": false, "title": p.title, "body": p.body,
        "user": user(&p.user), "draft": p.draft,
        "head": {"label": format!("{o}:{}", p.head), "ref": p.head, "sha": head_sha},
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

/// Creation order as time: later comments and reviews have later timestamps.
fn created_at(id: u64) -> String {
    format!("2026-01-01T{:02}:{:02}:{:02}Z", id / 3600 % 24, id / 60 % 60, id % 60)
}

fn issue_comment_json(o: &str, r: &str, c: &Comment) -> Value {
    json!({
        "id": c.id, "node_id": format!("IC_{}", c.id),
        "url": format!("{API}/repos/{o}/{r}/issues/comments/{}", c.id),
        "html_url": format!("{WEB}/{o}/{r}/issues#issuecomment-{}", c.id),
        "body": c.body, "user": user(&c.user), "created_at": created_at(c.id),
        "updated_at": created_at(c.id),
    })
}

fn review_comment_json(o: &str, r: &str, c: &Comment) -> Value {
    json!({
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

fn review_json(o: &str, r: &str, n: u64, rv: &Review) -> Value {
    json!({
        "id": rv.id, "node_id": format!("PRR_{}", rv.id),
        "html_url": format!("{WEB}/{o}/{r}/pull/{n}#pullrequestreview-{}", rv.id),
        "pull_request_url": format!("{API}/repos/{o}/{r}/pulls/{n}"),
        "user": user(&rv.user), "body": rv.body, "state": rv.state, "commit_id": rv.commit_id,
        "submitted_at": if rv.state == "PENDING" { Value::Null } else { json!(created_at(rv.id)) },
    })
}

fn commit_json(o: &str, r: &str, f: &[String]) -> Value {
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
fn file_json(
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

fn message(status: StatusCode, text: &str) -> Response {
    (
        status,
        axum::Json(json!({"message": text, "documentation_url": "https://docs.github.com/rest"})),
    )
        .into_response()
}

fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Not Found")
}

// ------------------------------------------------------------------ handlers

async fn current_user(Extension(Caller(login)): Extension<Caller>) -> Response {
    axum::Json(user(&login)).into_response()
}

/// What connectivity checks call: GitHub answers it without spending quota.
async fn rate_limit() -> Response {
    let core = json!({"limit": 5000, "remaining": 4999, "reset": 1_900_000_000u64, "used": 1, "resource": "core"});
    axum::Json(json!({"resources": {"core": core}, "rate": core})).into_response()
}

async fn list_pulls(
    State(s): State<Shared>,
    Path((o, r)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let g = s.lock().unwrap();
    let state = q.get("state").map(String::as_str).unwrap_or("open");
    // `head` is `owner:branch`.
    let head = q.get("head").map(|h| h.rsplit(':').next().unwrap_or(h).to_string());
    let mut pulls: Vec<&Pull> = g
        .pulls
        .iter()
        .filter(|p| state == "all" || p.state == state)
        .filter(|p| head.as_ref().is_none_or(|h| *h == p.head))
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

async fn create_pull(
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

async fn get_pull(State(s): State<Shared>, Path((o, r, n)): Path<(String, String, u64)>) -> Response {
    let g = s.lock().unwrap();
    match g.pulls.iter().find(|p| p.number == n) {
        Some(p) => axum::Json(pull_json(&g, &o, &r, p)).into_response(),
        None => not_found(),
    }
}

async fn update_pull(
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

async fn list_commits(State(s): State<Shared>, Path((o, r, n)): Path<(String, String, u64)>) -> Response {
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

async fn list_files(State(s): State<Shared>, Path((o, r, n)): Path<(String, String, u64)>) -> Response {
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

async fn is_merged(State(s): State<Shared>, Path((_, _, n)): Path<(String, String, u64)>) -> Response {
    let g = s.lock().unwrap();
    match g.pulls.iter().find(|p| p.number == n) {
        Some(p) if p.merged => StatusCode::NO_CONTENT.into_response(),
        _ => not_found(),
    }
}

async fn merge_pull(
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

/// Merges head into base in the registered repository the way GitHub would for `method`
/// and moves the base branch (compare-and-swap on its old SHA). Returns the new base SHA.
fn merge_in_repo(x: &Git, p: &Pull, owner: &str, method: &str, title: &str, body: &str) -> Result<String, String> {
    let fast_forward = git(&x.repo, &["merge-base", "--is-ancestor", &x.base, &x.head]).is_ok();
    let sha = if method == "rebase" && fast_forward {
        x.head.clone()
    } else {
        let tree = git(&x.repo, &["merge-tree", "--write-tree", &x.base, &x.head])?;
        let tree = tree.lines().next().unwrap_or_default().trim().to_string();
        let message = match method {
            "merge" => format!("Merge pull request #{} from {owner}/{}\n\n{title}", p.number, p.head),
            _ if body.is_empty() => title.to_string(),
            _ => format!("{title}\n\n{body}"),
        };
        let mut args = vec!["commit-tree", tree.as_str(), "-p", x.base.as_str()];
        if method == "merge" {
            args.extend(["-p", x.head.as_str()]);
        }
        args.extend(["-m", message.as_str()]);
        git(&x.repo, &args)?.trim().to_string()
    };
    git(
        &x.repo,
        &["update-ref", &format!("refs/heads/{}", p.base), &sha, &x.base],
    )?;
    Ok(sha)
}

async fn list_reviews(State(s): State<Shared>, Path((o, r, n)): Path<(String, String, u64)>) -> Response {
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

async fn create_review(
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

async fn list_review_comments(State(s): State<Shared>, Path((o, r, n)): Path<(String, String, u64)>) -> Response {
    let g = s.lock().unwrap();
    comments_of(&g, n, &g.review_comments, |c| review_comment_json(&o, &r, c))
}

async fn list_issue_comments(State(s): State<Shared>, Path((o, r, n)): Path<(String, String, u64)>) -> Response {
    let g = s.lock().unwrap();
    comments_of(&g, n, &g.issue_comments, |c| issue_comment_json(&o, &r, c))
}

/// PR `n`'s comments from `by_pr`, as `json` renders them (404 for no such PR).
fn comments_of(g: &Inner, n: u64, by_pr: &HashMap<u64, Vec<Comment>>, json: impl Fn(&Comment) -> Value) -> Response {
    if !g.pulls.iter().any(|p| p.number == n) {
        return not_found();
    }
    let out: Vec<Value> = by_pr.get(&n).into_iter().flatten().map(json).collect();
    axum::Json(out).into_response()
}

async fn create_issue_comment(
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
    (StatusCode::CREATED, axum::Json(issue_comment_json(&o, &r, &c))).into_response()
}
