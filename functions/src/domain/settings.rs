//! Settings: the keys of `SettingKey`, global defaults with per-project overrides,
//! secrets sealed with AES-256-GCM and never returned in clear except to a job's agent.

use serde_json::Value;
use terarchitect_protocol::{
    AgentSettings, CheckItem, ProjectId, SettingKey, SettingKind, SettingView, SettingsCheck, SettingsUpdate,
    WorkerMode,
};

use terarchitect_protocol::pr_thread::Trust;

use super::App;
use crate::store;
use crate::{Error, Result};

fn key_of(key: &str) -> Result<SettingKey> {
    SettingKey::parse(key).ok_or_else(|| Error::invalid(key, "unknown setting"))
}

fn check_value(key: &str, kind: SettingKind, v: &Value) -> Result<()> {
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::invalid(key, "must be a string"))
    };
    match kind {
        SettingKind::Url => {
            let s = text(v)?;
            if !(s.starts_with("http://") || s.starts_with("https://"))
                || s.len() > 2000
                || s.contains(char::is_whitespace)
            {
                return Err(Error::invalid(key, "must be an http(s) URL"));
            }
        }
        SettingKind::Text => {
            let s = text(v)?;
            terarchitect_protocol::validate::required(key, &s, 4000)?;
        }
        SettingKind::Secret => {
            let s = text(v)?;
            terarchitect_protocol::validate::required(key, &s, 4000)?;
            // Keys and tokens travel in HTTP headers: one line of visible ASCII.
            if !s.chars().all(|c| c.is_ascii_graphic()) {
                return Err(Error::invalid(
                    key,
                    "must be a single key or token: visible ASCII characters, no spaces or line breaks",
                ));
            }
        }
        SettingKind::Int { min, max, .. } => match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => {}
            _ => {
                return Err(Error::invalid(
                    key,
                    format!("must be a whole number from {min} to {max}"),
                ));
            }
        },
        SettingKind::WorkerMode => {
            serde_json::from_value::<WorkerMode>(v.clone())
                .map_err(|_| Error::invalid(key, "must be one of native, opencode, claude-code"))?;
        }
    }
    Ok(())
}

/// Applies `{key: value|null}` at one scope (project, or global for `None`) atomically.
pub async fn update(app: &App, project_id: Option<ProjectId>, update: &SettingsUpdate) -> Result<()> {
    if update.len() > SettingKey::ALL.len() {
        return Err(Error::invalid("settings", "too many keys"));
    }
    let mut tx = app.db.begin().await?;
    if let Some(p) = project_id {
        store::lock_project(&mut tx, p).await?;
    }
    for (key, value) in update {
        let setting = key_of(key)?;
        match value {
            None | Some(Value::Null) => store::settings::clear(&mut *tx, project_id, key).await?,
            Some(v) => {
                check_value(key, setting.kind(), v)?;
                if setting.is_secret() {
                    let sealed = app
                        .secrets
                        .as_ref()
                        .ok_or_else(|| {
                            Error::Unavailable(
                                "secrets cannot be stored: TERARCHITECT_SECRET_KEY is not configured".into(),
                            )
                        })?
                        .seal(v.as_str().unwrap_or_default());
                    store::settings::put_secret(&mut *tx, project_id, key, &sealed).await?;
                } else {
                    store::settings::put_value(&mut *tx, project_id, key, v).await?;
                }
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Effective settings for a scope, secrets reported only as set / not set.
pub async fn view(app: &App, project_id: Option<ProjectId>) -> Result<Vec<SettingView>> {
    if let Some(p) = project_id {
        store::projects::get(&app.db, p).await?;
    }
    let effective = Effective::load(app, project_id).await?;
    Ok(SettingKey::ALL
        .into_iter()
        .map(|key| {
            let spec = key.spec();
            let row = effective.get(key);
            let source = match row {
                Some(r) if r.project_id.is_some() => "project",
                Some(_) => "global",
                None => "default",
            };
            let secret = key.is_secret();
            let default = match spec.kind {
                SettingKind::Int { default, .. } => Some(Value::from(default)),
                SettingKind::WorkerMode => Some(Value::from(WorkerMode::default().as_str())),
                _ => None,
            };
            SettingView {
                key: key.to_string(),
                secret,
                value: if secret {
                    None
                } else {
                    row.and_then(|r| r.value.clone()).or(default)
                },
                is_set: row.is_some(),
                source: source.into(),
                help: spec.help.to_string(),
            }
        })
        .collect())
}

/// The effective settings of a project (its own values over the global ones), read once.
struct Effective {
    rows: Vec<store::settings::Row>,
}

impl Effective {
    async fn load(app: &App, project_id: Option<ProjectId>) -> Result<Effective> {
        let rows = store::settings::list(&app.db, project_id).await?;
        for r in rows.iter().filter(|r| SettingKey::parse(&r.key).is_none()) {
            tracing::warn!(key = %r.key, project_id = ?r.project_id, "ignoring a stored setting that names no setting");
        }
        Ok(Effective { rows })
    }

    /// The project's own row for `key`, else the global one.
    fn get(&self, key: SettingKey) -> Option<&store::settings::Row> {
        let row = |own: bool| {
            self.rows
                .iter()
                .find(|r| r.key == key.as_str() && r.project_id.is_some() == own)
        };
        row(true).or_else(|| row(false))
    }

    /// An integer setting, its default when unset.
    fn int(&self, key: SettingKey) -> i64 {
        let default = match key.kind() {
            SettingKind::Int { default, .. } => default,
            _ => 0,
        };
        self.get(key)
            .and_then(|r| r.value.as_ref())
            .and_then(Value::as_i64)
            .unwrap_or(default)
    }

    /// A text or secret value, secrets decrypted.
    fn text(&self, app: &App, key: SettingKey) -> Result<Option<String>> {
        let Some(r) = self.get(key) else { return Ok(None) };
        if let Some(sealed) = &r.secret {
            let b = app
                .secrets
                .as_ref()
                .ok_or_else(|| Error::Unavailable("TERARCHITECT_SECRET_KEY is not configured".into()))?;
            return b.open(sealed).map(Some);
        }
        Ok(r.value.as_ref().and_then(|v| v.as_str().map(str::to_owned)))
    }

    /// `worker_mode`, its default when unset; a stored value that names no mode is an error.
    fn worker_mode(&self) -> Result<WorkerMode> {
        let Some(v) = self.get(SettingKey::WorkerMode).and_then(|r| r.value.as_ref()) else {
            return Ok(WorkerMode::default());
        };
        serde_json::from_value(v.clone())
            .map_err(|e| Error::Internal(format!("the stored setting worker_mode ({v}) cannot be read: {e}")))
    }
}

/// How a project reaches GitHub: the API base (None: the deployment's default) and the
/// token to act with. For a reviewer that is `github_review_token` when set; otherwise,
/// and for the agent, `github_token`. One read, one secret decrypted.
pub struct GitHubAccess {
    pub api_url: Option<String>,
    pub token: Option<String>,
}

pub async fn github_access(app: &App, project_id: ProjectId, reviewer: bool) -> Result<GitHubAccess> {
    let effective = Effective::load(app, Some(project_id)).await?;
    let review_token = if reviewer {
        effective.text(app, SettingKey::GithubReviewToken)?
    } else {
        None
    };
    let token = match review_token {
        Some(t) => Some(t),
        None => effective.text(app, SettingKey::GithubToken)?,
    };
    Ok(GitHubAccess {
        api_url: effective.text(app, SettingKey::GithubApiUrl)?,
        token,
    })
}

/// What the review pass needs of a project's settings (no secret is decrypted for it).
pub struct ReviewPolicy {
    pub max_rounds: i64,
    /// Whose comments may start a review job.
    pub trust: Trust,
}

pub async fn review_policy(app: &App, project_id: ProjectId) -> Result<ReviewPolicy> {
    let effective = Effective::load(app, Some(project_id)).await?;
    Ok(ReviewPolicy {
        max_rounds: effective.int(SettingKey::MaxReviewRounds),
        trust: Trust::from_setting(effective.text(app, SettingKey::ReviewTrustedLogins)?.as_deref()),
    })
}

/// Resolved settings with secrets decrypted: for a job's own agent only.
/// `project_id` None: the global values alone.
pub async fn agent_settings(app: &App, project_id: Option<ProjectId>) -> Result<AgentSettings> {
    let effective = Effective::load(app, project_id).await?;
    let text = |k: SettingKey| effective.text(app, k);
    let int = |k: SettingKey| effective.int(k);
    use SettingKey as K;
    Ok(AgentSettings {
        director_llm_url: text(K::DirectorLlmUrl)?,
        director_llm_model: text(K::DirectorLlmModel)?,
        director_llm_key: text(K::DirectorLlmKey)?,
        worker_mode: effective.worker_mode()?,
        worker_llm_url: text(K::WorkerLlmUrl)?,
        worker_llm_model: text(K::WorkerLlmModel)?,
        worker_llm_key: text(K::WorkerLlmKey)?,
        anthropic_key: text(K::AnthropicKey)?,
        github_token: text(K::GithubToken)?,
        github_api_url: text(K::GithubApiUrl)?.or_else(|| Some(app.github_api_url.clone())),
        embedding_url: text(K::EmbeddingUrl)?,
        embedding_model: text(K::EmbeddingModel)?,
        embedding_key: text(K::EmbeddingKey)?,
        max_review_rounds: int(K::MaxReviewRounds),
        review_trusted_logins: text(K::ReviewTrustedLogins)?,
        summarize_every_turns: int(K::SummarizeEveryTurns),
        git_author_name: text(K::GitAuthorName)?,
        git_author_email: text(K::GitAuthorEmail)?,
    })
}

/// Tests that the configured endpoints answer: each LLM's `GET {url}/models` with its key,
/// the embedding endpoint with a one-word embedding, and GitHub's API with the token.
/// Reports per item; never fails as a whole because one endpoint is down.
pub async fn check(app: &App, project_id: Option<ProjectId>) -> Result<SettingsCheck> {
    let s = agent_settings(app, project_id).await?;
    let http = &app.http;
    let mut items = Vec::new();
    let llms = [
        ("director LLM", &s.director_llm_url, &s.director_llm_key),
        ("worker LLM", &s.worker_llm_url, &s.worker_llm_key),
    ];
    for (name, url, key) in llms {
        let item = match url {
            None => not_configured(name),
            Some(url) => {
                let mut req = http.get(format!("{}/models", url.trim_end_matches('/')));
                if let Some(k) = key {
                    req = req.bearer_auth(k);
                }
                probe(name, req).await
            }
        };
        items.push(item);
    }
    items.push(match &s.embedding_url {
        None => not_configured("embeddings"),
        Some(url) => {
            let body = serde_json::json!({"model": s.embedding_model.clone().unwrap_or_default(), "input": ["ping"]});
            probe(
                "embeddings",
                http.post(format!("{}/embeddings", url.trim_end_matches('/')))
                    .json(&body),
            )
            .await
        }
    });
    if let Some(api) = &s.github_api_url {
        let mut req = http
            .get(format!("{}/rate_limit", api.trim_end_matches('/')))
            .header("user-agent", "terarchitect");
        if let Some(t) = &s.github_token {
            req = req.bearer_auth(t);
        }
        items.push(probe("GitHub API", req).await);
    }
    Ok(SettingsCheck { items })
}

fn not_configured(name: &str) -> CheckItem {
    CheckItem {
        name: name.into(),
        ok: false,
        configured: false,
        detail: "not configured".into(),
    }
}

async fn probe(name: &str, req: reqwest::RequestBuilder) -> CheckItem {
    let (ok, detail) = match req.timeout(std::time::Duration::from_secs(5)).send().await {
        Ok(r) if r.status().is_success() => (true, format!("reachable ({})", r.status())),
        Ok(r) if r.status() == reqwest::StatusCode::UNAUTHORIZED || r.status() == reqwest::StatusCode::FORBIDDEN => {
            (false, format!("reachable, but the key was refused ({})", r.status()))
        }
        Ok(r) => (false, format!("answered {}", r.status())),
        Err(e) if e.is_timeout() => (false, "timed out after 5 s".into()),
        Err(e) if e.is_connect() => (false, "cannot connect".into()),
        Err(e) => (false, format!("request failed: {}", e.without_url())),
    };
    CheckItem {
        name: name.into(),
        ok,
        configured: true,
        detail,
    }
}
