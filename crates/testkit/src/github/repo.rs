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

/// The git service a smart-HTTP request names: fetch (`git-upload-pack`) or push
/// (`git-receive-pack`).
fn service(name: &str) -> Option<&'static str> {
    match name {
        "git-upload-pack" => Some("upload-pack"),
        "git-receive-pack" => Some("receive-pack"),
        _ => None,
    }
}

/// The served repository for `owner/repo(.git)`, and whether the caller may use `svc`:
/// pushes need the token [`super::GitHubStandIn::require_push_token`] set, when one is.
fn served(
    s: &super::state::Shared,
    owner: String,
    repo: &str,
    svc: &str,
    headers: &axum::http::HeaderMap,
) -> Result<PathBuf, axum::http::StatusCode> {
    let mut g = s.lock().unwrap();
    let path = g
        .repos
        .get(&(owner, repo.trim_end_matches(".git").to_string()))
        .cloned()
        .ok_or(axum::http::StatusCode::NOT_FOUND)?;
    if svc == "receive-pack"
        && let Some(want) = g.push_token.clone()
    {
        let given = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(super::auth::basic_token);
        if given != Some(want) {
            g.refused_pushes += 1;
            return Err(axum::http::StatusCode::UNAUTHORIZED);
        }
    }
    Ok(path)
}

/// A refusal as GitHub words it; a 401 asks for basic auth.
fn refused(status: axum::http::StatusCode) -> axum::response::Response {
    use axum::response::IntoResponse;
    if status == axum::http::StatusCode::UNAUTHORIZED {
        return (
            status,
            [("www-authenticate", "Basic realm=\"GitHub\"")],
            "Invalid username or token.",
        )
            .into_response();
    }
    status.into_response()
}

/// `GET /{owner}/{repo}/info/refs?service=git-upload-pack|git-receive-pack`: the first
/// request of a clone, fetch or push over smart HTTP, answered by `git` itself.
pub(crate) async fn info_refs(
    axum::extract::State(s): axum::extract::State<super::state::Shared>,
    axum::extract::Path((owner, repo)): axum::extract::Path<(String, String)>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some(name) = uri.query().and_then(|q| q.strip_prefix("service=")) else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    let Some(svc) = service(name) else {
        return axum::http::StatusCode::FORBIDDEN.into_response();
    };
    let path = match served(&s, owner, &repo, svc, &headers) {
        Ok(p) => p,
        Err(status) => return refused(status),
    };
    let refs = Command::new("git")
        .args([svc, "--stateless-rpc", "--advertise-refs"])
        .arg(&path)
        .output();
    match refs {
        Ok(out) if out.status.success() => {
            let line = format!("# service=git-{svc}\n");
            let mut body = format!("{:04x}{line}0000", line.len() + 4).into_bytes();
            body.extend(out.stdout);
            let kind = format!("application/x-git-{svc}-advertisement");
            ([("content-type", kind), ("cache-control", "no-cache".into())], body).into_response()
        }
        _ => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `POST /{owner}/{repo}/git-upload-pack|git-receive-pack`: the rest of a fetch or push,
/// piped through `git <service> --stateless-rpc` (gzip request bodies unpacked first).
pub(crate) async fn rpc(
    axum::extract::State(s): axum::extract::State<super::state::Shared>,
    axum::extract::Path((owner, repo, name)): axum::extract::Path<(String, String, String)>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some(svc) = service(&name) else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    let path = match served(&s, owner, &repo, svc, &headers) {
        Ok(p) => p,
        Err(status) => return refused(status),
    };
    let gzip = headers.get("content-encoding").is_some_and(|v| v == "gzip");
    let ran = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let body = if gzip {
            pipe(Command::new("gzip").arg("-dc"), &body)?
        } else {
            body.to_vec()
        };
        pipe(Command::new("git").args([svc, "--stateless-rpc"]).arg(&path), &body)
    })
    .await;
    match ran {
        Ok(Ok(out)) => {
            let kind = format!("application/x-git-{svc}-result");
            ([("content-type", kind), ("cache-control", "no-cache".into())], out).into_response()
        }
        _ => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Runs `cmd` with `input` on stdin; its stdout.
fn pipe(cmd: &mut Command, input: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    // Written from another thread: git may answer before it has read everything.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output()?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(std::io::Error::other(format!("{cmd:?} failed")));
    }
    Ok(out.stdout)
}
