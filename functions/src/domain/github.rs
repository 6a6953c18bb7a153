//! A project's GitHub repository through octocrab: the client is built per request
//! from the effective settings (`github_api_url`, secret `github_token`) and the project's
//! repo URL. GitHub's failures become [`GitHubError`]s with stable meanings.

use std::sync::Arc;

use axum::http::header::USER_AGENT;
use axum::http::{HeaderValue, Uri};
use octocrab::service::middleware::auth_header::AuthHeaderLayer;
use octocrab::service::middleware::base_uri::BaseUriLayer;
use octocrab::service::middleware::extra_headers::ExtraHeadersLayer;
use octocrab::service::middleware::retry::RetryConfig;
use octocrab::{AuthState, Octocrab, OctocrabBuilder};
use terarchitect_protocol::ProjectId;

use super::App;
use crate::store;

/// Why a GitHub operation could not be done. `http::error` gives each its own code.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("the ticket has no pull request yet")]
    NoPullRequest,
    #[error("{0}")]
    NotConfigured(String),
    #[error("GitHub could not be reached or failed: {0}")]
    Unavailable(String),
    #[error("GitHub refused the configured github_token ({0}); set a valid token in the settings")]
    Rejected(String),
    #[error("{0}")]
    NotMergeable(String),
    #[error("pull request #{number} was not found in {repo} on GitHub (or the token cannot see that repository)")]
    PullRequestNotFound { number: u64, repo: String },
    /// The ticket's PR number names a PR that is not the ticket's own: its head is not
    /// `ticket-{id}` in the project's repository (another branch, or a fork's).
    #[error("{0}")]
    ForeignPullRequest(String),
    /// Any other refusal (422 and the like), with GitHub's message.
    #[error("GitHub refused the request: {0}")]
    Refused(String),
    /// The GitHub API URL (or a link it sent) is not a destination we may call.
    #[error(transparent)]
    NotAllowed(#[from] super::outbound::OutboundError),
}

/// `owner/repo` of a GitHub remote: `https://host/o/r(.git)`, `ssh://git@host/o/r`,
/// `git@host:o/r.git`. None for local paths, `file://` and anything else.
pub fn owner_repo(url: &str) -> Option<(String, String)> {
    let url = url.trim();
    let path = if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(scheme, "https" | "http" | "ssh" | "git") {
            return None;
        }
        let (host, path) = rest.split_once('/')?;
        let host = host.rsplit('@').next().unwrap_or(host);
        if host.is_empty() {
            return None;
        }
        path
    } else {
        // scp-like: user@host:owner/repo
        let (user_host, path) = url.split_once(':')?;
        let (_, host) = user_host.split_once('@')?;
        if host.is_empty() || host.contains('/') {
            return None;
        }
        path
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let mut parts = path.split('/');
    let (owner, repo) = (parts.next()?, parts.next()?);
    let valid = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if parts.next().is_some() || !valid(owner) || !valid(repo) {
        return None;
    }
    Some((owner.to_string(), repo.to_string()))
}

/// One repository on GitHub, as the project's settings allow us to reach it.
pub struct Repo {
    pub crab: Octocrab,
    pub owner: String,
    pub repo: String,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Repo({}/{})", self.owner, self.repo)
    }
}

/// Whose GitHub identity a client acts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acting {
    /// Reads and the scheduler: `github_token` (the agent's identity).
    Agent,
    /// A person on the review page (comment, approve, merge): `github_review_token` when
    /// set, since GitHub refuses an approval from the PR's author; else `github_token`.
    Reviewer,
}

impl Repo {
    /// The client for `project_id`. Reads go through octocrab's retries (5xx, transport
    /// errors); writes do not, so a comment is never posted twice.
    pub async fn for_project(app: &App, project_id: ProjectId, acting: Acting) -> crate::Result<Repo> {
        let project = store::projects::get(&app.db, project_id).await?;
        let access = super::settings::github_access(app, project_id, acting == Acting::Reviewer).await?;
        let retry = acting == Acting::Agent;
        let token = access.token.ok_or_else(|| {
            GitHubError::NotConfigured(
                "no GitHub token is configured: set the github_token setting (globally or for this project)".into(),
            )
        })?;
        let (owner, repo) = owner_repo(&project.repo_url).ok_or_else(|| {
            GitHubError::NotConfigured(format!(
                "the project's repo_url ({}) is not a GitHub repository: set repo_url to https://github.com/OWNER/REPO",
                project.repo_url
            ))
        })?;
        // Stored before tokens were checked on input? octocrab would panic on it.
        if !token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(GitHubError::NotConfigured(
                "the GitHub token setting is not a valid token (it contains spaces or control characters)".into(),
            )
            .into());
        }
        let api = access.api_url.unwrap_or_else(|| app.github_api_url.clone());
        let invalid = || GitHubError::NotConfigured(format!("the github_api_url setting ({api}) is not a valid URL"));
        let base: Uri = api.parse().map_err(|_| invalid())?;
        // octocrab's own stack minus its transport and its redirect layer: requests go
        // through the outbound policy (every URI checked, names resolved by the guarded
        // resolver, redirects not followed), with the layers its builder would add.
        let service = app.outbound.github_service(&api).await.map_err(GitHubError::from)?;
        let auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| invalid())?;
        let headers = vec![(USER_AGENT, HeaderValue::from_static("terarchitect"))];
        let crab = OctocrabBuilder::new_empty()
            .with_service(service)
            .with_layer(&tower::retry::RetryLayer::new(if retry {
                RetryConfig::Simple(2)
            } else {
                RetryConfig::None
            }))
            .with_layer(&ExtraHeadersLayer::new(Arc::new(headers)))
            .with_layer(&BaseUriLayer::new(base.clone()))
            // The token goes only to the API's own authority (not to hosts in links).
            .with_layer(&AuthHeaderLayer::new(Some(auth), base.clone(), base))
            .with_auth(AuthState::None)
            .build()
            .map_err(|e| GitHubError::NotConfigured(format!("cannot build a GitHub client: {e}")))?;
        Ok(Repo { crab, owner, repo })
    }

    pub fn pulls(&self) -> octocrab::pulls::PullRequestHandler<'_> {
        self.crab.pulls(&self.owner, &self.repo)
    }

    pub fn issues(&self) -> octocrab::issues::IssueHandler<'_> {
        self.crab.issues(&self.owner, &self.repo)
    }

    pub fn route(&self, rest: &str) -> String {
        format!("/repos/{}/{}/{rest}", self.owner, self.repo)
    }
}

impl Repo {
    /// Maps an octocrab failure on PR `number` to what it means for us.
    pub fn classify(&self, number: u64, e: octocrab::Error) -> GitHubError {
        classify(&format!("{}/{}", self.owner, self.repo), number, e)
    }
}

fn classify(repo: &str, number: u64, e: octocrab::Error) -> GitHubError {
    if let Some(refused) = super::outbound::find_refusal(&e) {
        return GitHubError::NotAllowed(refused.clone());
    }
    match e {
        octocrab::Error::GitHub { source, .. } => {
            let status = source.status_code.as_u16();
            let message = source.message.clone();
            match status {
                401 | 403 => GitHubError::Rejected(format!("{status}: {message}")),
                404 => GitHubError::PullRequestNotFound {
                    number,
                    repo: repo.to_string(),
                },
                429 => GitHubError::Unavailable(format!("rate limited ({message})")),
                s if s >= 500 => GitHubError::Unavailable(format!("{status}: {message}")),
                _ => GitHubError::Refused(format!("{status}: {message}")),
            }
        }
        octocrab::Error::Json { source, .. } => {
            GitHubError::Unavailable(format!("unexpected answer at {}: {}", source.path(), source.inner()))
        }
        octocrab::Error::Serde { source, .. } => GitHubError::Unavailable(format!("unexpected answer: {source}")),
        other => GitHubError::Unavailable(transport_message(&other)),
    }
}

/// A short, secret-free description of a transport failure.
fn transport_message(e: &octocrab::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    // octocrab's displays can carry a backtrace; keep the first line.
    text.lines().next().unwrap_or_default().chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::owner_repo;

    #[test]
    fn github_remotes_name_owner_and_repo() {
        let want = Some(("acme".to_string(), "shop".to_string()));
        for url in [
            "https://github.com/acme/shop",
            "https://github.com/acme/shop.git",
            "https://github.com/acme/shop/",
            "http://ghe.example:8080/acme/shop.git",
            "ssh://git@github.com/acme/shop.git",
            "ssh://git@github.com:22/acme/shop",
            "git@github.com:acme/shop.git",
            "git@github.com:acme/shop",
        ] {
            assert_eq!(owner_repo(url), want, "{url}");
        }
        assert_eq!(
            owner_repo("https://github.com/my-org/my.repo_1.git"),
            Some(("my-org".into(), "my.repo_1".into()))
        );
    }

    #[test]
    fn local_and_odd_remotes_have_no_github() {
        for url in [
            "file:///tmp/x/acme/shop.git",
            "/srv/git/acme/shop.git",
            "shop",
            "acme/shop",
            "https://github.com/acme",
            "https://github.com/acme/shop/tree/main",
            "https:///acme/shop",
            "ftp://h/acme/shop",
            "git@github.com:shop.git",
            "https://github.com/acme/../shop",
            "C:/repos/acme/shop",
        ] {
            assert_eq!(owner_repo(url), None, "{url}");
        }
    }
}
