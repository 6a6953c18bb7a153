//! git2 for clone, branch, commit and push. In a worker host's container the remote is the
//! host's git proxy (`TERARCHITECT_GIT_URL`) and the password is the job token: the proxy
//! adds the GitHub token, which the agent never holds. The password only ever reaches
//! libgit2 through the credentials callback: never the remote URL, the repository config
//! or a log. The callback hands it only to the remote's own host ([`token_allowed`]), over
//! https unless the remote is the proxy, so a redirect, a submodule or a remote elsewhere
//! never receives it.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::path::Path;

use git2::{BranchType, Cred, FetchOptions, PushOptions, RemoteCallbacks, Repository, Signature};

use crate::error::{Error, Result};

#[derive(Clone)]
pub struct GitAuth {
    /// The password: the job token for the host's git proxy.
    pub token: Option<String>,
    /// The URL cloned: the token goes to this host only.
    pub origin: String,
    /// The origin is the worker host's git proxy, on the host's private network: plain
    /// http is allowed to it (only to it).
    pub proxied: bool,
    pub author_name: String,
    pub author_email: String,
}

impl GitAuth {
    /// Callbacks that answer one credential request with the token, then give up
    /// (libgit2 asks again forever when credentials are wrong).
    fn callbacks(&self) -> RemoteCallbacks<'_> {
        let mut cb = RemoteCallbacks::new();
        let tries = Cell::new(0);
        cb.credentials(move |url, user, allowed| {
            tries.set(tries.get() + 1);
            match &self.token {
                Some(t) if tries.get() == 1 && allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT) => {
                    token_allowed(&self.origin, url, self.proxied)
                        .map_err(|why| git2::Error::from_str(&format!("the token was not sent: {why}")))?;
                    Cred::userpass_plaintext(user.unwrap_or("x-access-token"), t)
                }
                _ => Err(git2::Error::from_str("authentication failed")),
            }
        });
        cb
    }

    pub fn signature(&self) -> Result<Signature<'static>> {
        Ok(Signature::now(&self.author_name, &self.author_email)?)
    }
}

/// Whether a credential request for `asked` may be answered with the token of the
/// repository at `origin`: only to the same host and port, over https (or, for the worker
/// host's git proxy, `proxied`, over the same scheme as the origin). Err says why not
/// (hosts only: a URL could carry user info).
pub fn token_allowed(origin: &str, asked: &str, proxied: bool) -> std::result::Result<(), String> {
    let origin = reqwest::Url::parse(origin).map_err(|_| "the repository URL is not a URL".to_string())?;
    let asked = reqwest::Url::parse(asked)
        .map_err(|_| "git asked for credentials for something that is not a URL".to_string())?;
    let host = |u: &reqwest::Url| u.host_str().unwrap_or_default().to_ascii_lowercase();
    // The worker host's git proxy is on the host's private network: plain http to it is
    // fine. Anything else gets the token over https only.
    let origin_ok = origin.scheme() == "https" || (proxied && origin.scheme() == "http");
    if !origin_ok {
        return Err(format!(
            "the repository URL is {}://, and the token only travels over https",
            origin.scheme()
        ));
    }
    if asked.scheme() != origin.scheme() {
        return Err(format!(
            "{} asked for credentials over {}://, and the token only travels over {}",
            host(&asked),
            asked.scheme(),
            origin.scheme()
        ));
    }
    if host(&asked) != host(&origin) || asked.port_or_known_default() != origin.port_or_known_default() {
        return Err(format!(
            "{} asked for credentials, and the token only goes to the repository's host {}",
            host(&asked),
            host(&origin)
        ));
    }
    Ok(())
}

/// The proxy of `http(s)_proxy` (behind the worker host's egress proxy, the only way
/// out); libgit2 ignores it unless asked.
fn env_proxy() -> git2::ProxyOptions<'static> {
    let mut p = git2::ProxyOptions::new();
    p.auto();
    p
}

/// A full clone (every branch), so review jobs and resumed tickets see their branch.
pub fn clone(url: &str, dir: &Path, auth: &GitAuth) -> Result<Repository> {
    let mut fo = FetchOptions::new();
    fo.remote_callbacks(auth.callbacks());
    fo.proxy_options(env_proxy());
    git2::build::RepoBuilder::new()
        .fetch_options(fo)
        .clone(url, dir)
        .map_err(|e| Error::Git(format!("clone failed: {}", e.message())))
}

/// Checks out `branch`: from `origin/branch` when it exists (resume or review), else a new
/// branch from `origin/base`. Returns whether it already existed on the remote.
pub fn checkout_branch(repo: &Repository, branch: &str, base: &str) -> Result<bool> {
    let remote = repo.find_branch(&format!("origin/{branch}"), BranchType::Remote).ok();
    let existed = remote.is_some();
    let start = match remote {
        Some(b) => b.get().peel_to_commit()?,
        None => repo
            .find_branch(&format!("origin/{base}"), BranchType::Remote)
            .map_err(|_| Error::Git(format!("the default branch `{base}` does not exist on the remote")))?
            .get()
            .peel_to_commit()?,
    };
    let local = match repo.find_branch(branch, BranchType::Local) {
        Ok(b) => b,
        Err(_) => repo.branch(branch, &start, false)?,
    };
    let refname = local.get().name().unwrap_or_default().to_string();
    repo.checkout_tree(start.as_object(), Some(git2::build::CheckoutBuilder::new().force()))?;
    repo.set_head(&refname)?;
    Ok(existed)
}

/// Directory names and file suffixes that are build or test output in every ecosystem:
/// never committed as new files, even in a repository without an ignore rule for them.
const ARTIFACT_DIRS: &[&str] = &[
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    ".venv",
    "node_modules",
    ".next",
    ".nyc_output",
    ".gradle",
    "htmlcov",
    "target",
    ".eggs",
];
const ARTIFACT_SUFFIXES: &[&str] = &[".pyc", ".pyo", ".o", ".class", ".coverage", ".DS_Store", ".egg-info"];

/// Whether a new (untracked) path is a well-known build or test artifact.
pub fn is_artifact(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let (dirs, file) = parts.split_at(parts.len() - 1);
    dirs.iter()
        .any(|d| ARTIFACT_DIRS.contains(d) || d.ends_with(".egg-info"))
        || ARTIFACT_SUFFIXES.iter().any(|s| file[0].ends_with(s))
}

/// Untracked, not ignored files, as repository-relative paths.
pub fn untracked(repo: &Repository) -> Result<BTreeSet<String>> {
    let mut o = git2::StatusOptions::new();
    o.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    Ok(repo
        .statuses(Some(&mut o))?
        .iter()
        .filter(|e| e.status().contains(git2::Status::WT_NEW))
        .filter_map(|e| e.path().ok().map(str::to_string))
        .collect())
}

/// What a commit took in and what it left out.
#[derive(Debug, Default)]
pub struct Committed {
    pub oid: Option<git2::Oid>,
    /// New files not committed: well-known artifacts and `outputs` (sorted).
    pub left_out: Vec<String>,
}

/// Stages the Worker's changes (respecting .gitignore) and commits when something changed.
/// New files that are well-known artifacts, or that appeared only as the output of a
/// command (`outputs`), stay out of the commit.
pub fn commit_all(repo: &Repository, message: &str, auth: &GitAuth, outputs: &BTreeSet<String>) -> Result<Committed> {
    let new_files = untracked(repo)?;
    let left_out: Vec<String> = new_files
        .iter()
        .filter(|p| is_artifact(p) || outputs.contains(*p))
        .cloned()
        .collect();
    let mut index = repo.index()?;
    let mut skip = |path: &Path, _: &[u8]| -> i32 {
        let p = path.to_string_lossy();
        i32::from(left_out.binary_search_by(|l| l.as_str().cmp(&p)).is_ok())
    };
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, Some(&mut skip))?;
    index.update_all(["*"], None)?;
    index.write()?;
    let tree_id = index.write_tree()?;
    let head = repo.head()?.peel_to_commit()?;
    if head.tree_id() == tree_id {
        return Ok(Committed { oid: None, left_out });
    }
    let tree = repo.find_tree(tree_id)?;
    let sig = auth.signature()?;
    let oid = repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &[&head])?;
    Ok(Committed {
        oid: Some(oid),
        left_out,
    })
}

/// Files changed between `origin/base` and HEAD.
pub fn changed_files(repo: &Repository, base: &str) -> Result<Vec<String>> {
    let base_tree = repo
        .find_branch(&format!("origin/{base}"), BranchType::Remote)?
        .get()
        .peel_to_tree()?;
    let head_tree = repo.head()?.peel_to_tree()?;
    let diff = repo.diff_tree_to_tree(Some(&base_tree), Some(&head_tree), None)?;
    Ok(diff
        .deltas()
        .filter_map(|d| d.new_file().path().map(|p| p.display().to_string()))
        .collect())
}

/// Whether the working tree differs from HEAD (untracked files included).
pub fn is_dirty(repo: &Repository) -> Result<bool> {
    let mut o = git2::StatusOptions::new();
    o.include_untracked(true).recurse_untracked_dirs(true);
    Ok(!repo.statuses(Some(&mut o))?.is_empty())
}

/// Pushes `branch` to origin; a rejected update is an error, not a shrug.
pub fn push(repo: &Repository, branch: &str, auth: &GitAuth) -> Result<()> {
    let mut remote = repo.find_remote("origin")?;
    let rejected = std::cell::RefCell::new(None::<String>);
    {
        let mut cb = auth.callbacks();
        cb.push_update_reference(|refname, status| {
            if let Some(msg) = status {
                *rejected.borrow_mut() = Some(format!("{refname}: {msg}"));
            }
            Ok(())
        });
        let mut po = PushOptions::new();
        po.remote_callbacks(cb);
        po.proxy_options(env_proxy());
        let spec = format!("refs/heads/{branch}:refs/heads/{branch}");
        remote
            .push(&[spec.as_str()], Some(&mut po))
            .map_err(|e| Error::Git(format!("push rejected: {}", e.message())))?;
    }
    if let Some(r) = rejected.into_inner() {
        return Err(Error::Git(format!("push rejected: {r}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{GitAuth, token_allowed};
    use std::io::{BufRead, BufReader, Write};
    use std::sync::{Arc, Mutex};

    #[test]
    fn the_token_goes_only_to_the_repositorys_host_over_https() {
        let origin = "https://github.com/acme/shop.git";
        for ok in [
            "https://github.com/acme/shop.git/info/refs?service=git-upload-pack",
            "https://GitHub.com:443/acme/other.git",
        ] {
            assert_eq!(token_allowed(origin, ok, false), Ok(()), "{ok}");
        }
        for (asked, why) in [
            ("http://github.com/acme/shop.git", "over http://"),
            ("https://evil.example/acme/shop.git", "evil.example asked"),
            (
                "https://github.com.evil.example/acme/shop.git",
                "github.com.evil.example asked",
            ),
            ("https://github.com@evil.example/acme/shop.git", "evil.example asked"),
            ("https://github.com:8443/acme/shop.git", "github.com asked"),
            ("ssh://git@github.com/acme/shop.git", "over ssh://"),
            ("not a url", "not a URL"),
        ] {
            let e = token_allowed(origin, asked, false).unwrap_err();
            assert!(e.contains(why), "{asked}: {e}");
        }
        // A repository on plain http never gets the token, even from itself...
        let plain = "http://git.local/acme/shop.git";
        let e = token_allowed(plain, plain, false).unwrap_err();
        assert!(e.contains("only travels over https"), "{e}");
        // ...unless it is the worker host's git proxy, and then only the proxy itself.
        let proxy = "http://host.docker.internal:7310/git/j.git";
        assert_eq!(token_allowed(proxy, &format!("{proxy}/info/refs"), true), Ok(()));
        for (asked, why) in [
            ("http://evil.example:7310/git/j.git", "evil.example asked"),
            ("http://host.docker.internal:80/git/j.git", "asked"),
            ("ssh://host.docker.internal:7310/git/j.git", "over ssh://"),
        ] {
            let e = token_allowed(proxy, asked, true).unwrap_err();
            assert!(e.contains(why), "{asked}: {e}");
        }
    }

    /// An HTTP git server that asks for Basic credentials and records every
    /// Authorization header it is sent.
    fn asking_server() -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/acme/shop.git", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    if line.to_ascii_lowercase().starts_with("authorization:") {
                        log.lock().unwrap().push(line.clone());
                    }
                    line.clear();
                }
                let _ = conn.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
                      Content-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        (url, seen)
    }

    #[test]
    fn a_remote_over_http_or_on_another_host_gets_no_token() {
        let (url, seen) = asking_server();
        // The remote itself over plain http; then a repository on https://github.com whose
        // clone lands on another host and scheme.
        for origin in [url.clone(), "https://github.com/acme/shop.git".to_string()] {
            let auth = GitAuth {
                token: Some("ghp_must_not_leave".into()),
                origin,
                proxied: false,
                author_name: "t".into(),
                author_email: "t@example.com".into(),
            };
            let dir = tempfile::tempdir().unwrap();
            let err = super::clone(&url, &dir.path().join("repo"), &auth)
                .err()
                .expect("the clone fails without credentials")
                .to_string();
            assert!(
                seen.lock().unwrap().is_empty(),
                "credentials were sent: {:?}",
                seen.lock().unwrap()
            );
            assert!(err.contains("the token was not sent"), "{err}");
        }
    }
}
