//! A registered repository, read with the `git` CLI: a PR's head and base SHAs, its
//! changed files, patches and commits, and merging it the way GitHub would.

use std::path::{Path as FsPath, PathBuf};
use std::process::Command;

use super::state::{Inner, Pull};

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
pub(super) struct Git {
    pub(super) repo: PathBuf,
    pub(super) head: String,
    pub(super) base: String,
}

impl Git {
    pub(super) fn of(g: &Inner, o: &str, r: &str, p: &Pull) -> Option<Git> {
        let repo = g.repos.get(&(o.to_string(), r.to_string()))?.clone();
        let head = branch_sha(&repo, &p.head)?;
        let base = match &p.merged_base_sha {
            Some(sha) => sha.clone(),
            None => branch_sha(&repo, &p.base)?,
        };
        Some(Git { repo, head, base })
    }

    /// `(additions, deletions, path, previous path)` per changed file, base...head.
    pub(super) fn files(&self) -> Vec<(String, u64, u64, String, Option<String>)> {
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

    pub(super) fn patch(&self, paths: &[&str]) -> Option<String> {
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

    pub(super) fn blob(&self, path: &str) -> Option<String> {
        git(
            &self.repo,
            &["rev-parse", "-q", "--verify", &format!("{}:{path}", self.head)],
        )
        .ok()
        .map(|s| s.trim().to_string())
    }

    /// `(sha, tree, parents, author name, author email, author date, committer name,
    /// committer email, committer date, message)`, oldest first.
    pub(super) fn commits(&self) -> Vec<Vec<String>> {
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
    pub(super) fn merges_cleanly(&self) -> bool {
        git(&self.repo, &["merge-tree", "--write-tree", &self.base, &self.head]).is_ok()
    }
}

/// Merges head into base in the registered repository the way GitHub would for `method`
/// and moves the base branch (compare-and-swap on its old SHA). Returns the new base SHA.
pub(super) fn merge_in_repo(
    x: &Git,
    p: &Pull,
    owner: &str,
    method: &str,
    title: &str,
    body: &str,
) -> Result<String, String> {
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

/// `GET /{owner}/{repo}/info/refs?service=git-upload-pack`: the first request of a clone or
/// `git ls-remote` over smart HTTP, answered from the served repository by `git upload-pack`.
pub(crate) async fn info_refs(
    axum::extract::State(s): axum::extract::State<super::state::Shared>,
    axum::extract::Path((owner, repo)): axum::extract::Path<(String, String)>,
    uri: axum::http::Uri,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let name = repo.trim_end_matches(".git").to_string();
    let path = s.lock().unwrap().repos.get(&(owner, name)).cloned();
    let (Some(path), Some("service=git-upload-pack")) = (path, uri.query()) else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    let refs = Command::new("git")
        .args(["upload-pack", "--stateless-rpc", "--advertise-refs"])
        .arg(&path)
        .output();
    match refs {
        Ok(out) if out.status.success() => {
            let mut body = b"001e# service=git-upload-pack\n0000".to_vec();
            body.extend(out.stdout);
            ([("content-type", "application/x-git-upload-pack-advertisement")], body).into_response()
        }
        _ => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
