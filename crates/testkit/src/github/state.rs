//! What the stand-in keeps: pull requests, their comments and reviews, registered
//! repositories, seeded commits and files, injected failures, tokens and a request log.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, PartialEq)]
pub struct Pull {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub head: String,
    /// `owner/repo` the head branch lives in when it is a fork; None: the repository itself.
    pub head_repo: Option<String>,
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

pub(super) struct Inner {
    pub(super) pulls: Vec<Pull>,
    pub(super) issue_comments: HashMap<u64, Vec<Comment>>,
    pub(super) review_comments: HashMap<u64, Vec<Comment>>,
    pub(super) reviews: HashMap<u64, Vec<Review>>,
    pub(super) repos: HashMap<(String, String), PathBuf>,
    pub(super) seeded_commits: HashMap<u64, Vec<SeedCommit>>,
    pub(super) seeded_files: HashMap<u64, Vec<SeedFile>>,
    /// (substring of `METHOD path`, status) answered instead of the real thing.
    pub(super) failures: Vec<(String, u16)>,
    pub(super) required_token: Option<String>,
    /// Pushes need this token (git's basic auth), when set.
    pub(super) push_token: Option<String>,
    /// Pushes refused for a missing or wrong token.
    pub(super) refused_pushes: usize,
    /// Whose token this is: authors comments, reviews and PRs created through the API.
    pub(super) login: String,
    /// Other users' tokens (token → login), accepted besides the required one.
    pub(super) users: HashMap<String, String>,
    /// GitHub's `author_association` per login on comments; `COLLABORATOR` when unset.
    pub(super) associations: HashMap<String, String>,
    pub(super) next_id: u64,
    /// `METHOD path` of every request, and whether it carried a token.
    pub(super) log: Vec<(String, bool)>,
}

impl Inner {
    /// How `login` relates to the repository, as comments report it.
    pub(super) fn association(&self, login: &str) -> &str {
        self.associations.get(login).map_or("COLLABORATOR", String::as_str)
    }

    /// Moves the clock and PR `pr`'s `updated` to now; returns now (also the next id).
    pub(super) fn touch(&mut self, pr: u64) -> u64 {
        self.next_id += 1;
        let now = self.next_id;
        if let Some(p) = self.pulls.iter_mut().find(|p| p.number == pr) {
            p.updated = now;
        }
        now
    }
}

pub(super) type Shared = Arc<Mutex<Inner>>;
