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
//! Comments carry `author_association` (`COLLABORATOR` unless
//! [`GitHubStandIn::set_association`] says otherwise, e.g. `NONE` for an outsider), and a PR's
//! head names its repository (a fork's with [`GitHubStandIn::open_fork_pull`]).
//!
//! Served repositories also speak git's smart HTTP at [`GitHubStandIn::repo_url`] (clone,
//! fetch and push, through `git upload-pack`/`receive-pack --stateless-rpc`), pushes
//! optionally only with a token ([`GitHubStandIn::require_push_token`]).
//!
//! Failures on demand: [`GitHubStandIn::fail_requests`] (any status for matching
//! requests), [`GitHubStandIn::require_token`] (401 for other tokens),
//! [`GitHubStandIn::set_mergeable`] (405 on merge).
//!
//! - this module: [`GitHubStandIn`], its routes and what tests set up and inspect;
//! - `state`: the pull requests, comments and reviews it keeps;
//! - `auth`: who is calling, injected failures and `GET /user`, `GET /rate_limit`;
//! - `pulls`, `reviews`, `comments`: the REST handlers;
//! - `repo`: a registered repository read (and merged into) with the `git` CLI;
//! - `json`: the shapes octocrab deserialises.

mod auth;
mod comments;
mod json;
mod pulls;
mod repo;
mod reviews;
mod state;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::middleware;
use axum::routing::get;

use auth::{current_user, gate, rate_limit};
use comments::{create_issue_comment, create_review_comment, list_issue_comments, list_review_comments};
use pulls::{create_pull, get_pull, is_merged, list_commits, list_files, list_pulls, merge_pull, update_pull};
use reviews::{create_review, list_reviews};
use state::{Inner, Shared};

pub use state::{Comment, Pull, Review, SeedCommit, SeedFile};

const ZERO_SHA: &str = "0000000000000000000000000000000000000000";
const API: &str = "https://api.github.example";
const WEB: &str = "https://github.example";

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
            push_token: None,
            refused_pushes: 0,
            login: "terarchitect-bot".into(),
            users: HashMap::new(),
            associations: HashMap::new(),
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
            .route(
                "/repos/{o}/{r}/pulls/{n}/comments",
                get(list_review_comments).post(create_review_comment),
            )
            .route(
                "/repos/{o}/{r}/issues/{n}/comments",
                get(list_issue_comments).post(create_issue_comment),
            )
            .route("/{o}/{r}/info/refs", get(repo::info_refs))
            .route(
                "/{o}/{r}/{service}",
                axum::routing::post(repo::rpc).layer(axum::extract::DefaultBodyLimit::disable()),
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

    /// The URL git clones and pushes `owner/repo` from (smart HTTP), once it is served
    /// ([`Self::serve_repo`]): what a project's `repo_url` names.
    pub fn repo_url(&self, owner: &str, repo: &str) -> String {
        format!("{}/{owner}/{repo}.git", self.url)
    }

    /// Pushes (not fetches) need git's basic auth with `token`, as GitHub's do.
    pub fn require_push_token(&self, token: &str) {
        self.inner.lock().unwrap().push_token = Some(token.into());
    }

    /// Pushes refused for a missing or wrong token.
    pub fn refused_pushes(&self) -> usize {
        self.inner.lock().unwrap().refused_pushes
    }

    /// The login the token belongs to (default `terarchitect-bot`).
    pub fn set_login(&self, login: &str) {
        self.inner.lock().unwrap().login = login.into();
    }

    /// How `login` relates to the repository, as its comments' `author_association` says:
    /// `OWNER`, `MEMBER`, `COLLABORATOR` (the default), `CONTRIBUTOR`, `NONE`, ...
    pub fn set_association(&self, login: &str, association: &str) {
        self.inner
            .lock()
            .unwrap()
            .associations
            .insert(login.into(), association.into());
    }

    /// Opens a PR from a fork: `head` in `fork` (`owner/repo`), as a stranger would.
    pub fn open_fork_pull(&self, title: &str, fork: &str, head: &str, base: &str) -> u64 {
        let number = self.open_pull(title, head, base);
        self.edit_pull(number, |p| {
            p.head_repo = Some(fork.into());
            p.user = fork.split('/').next().unwrap_or(fork).into();
        });
        number
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
            head_repo: None,
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

    /// Review comments on PR `pr`'s diff, oldest first.
    pub fn review_comments(&self, pr: u64) -> Vec<Comment> {
        self.inner
            .lock()
            .unwrap()
            .review_comments
            .get(&pr)
            .cloned()
            .unwrap_or_default()
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
