//! Settings: a fixed registry of keys, global defaults with per-project overrides,
//! secrets sealed with AES-256-GCM and never returned in clear except to a job's agent.

use serde_json::Value;
use terarchitect_protocol::{AgentSettings, CheckItem, SettingView, SettingsCheck, SettingsUpdate, WorkerMode};
use uuid::Uuid;

use super::App;
use crate::store;
use crate::{Error, Result};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Url,
    Text,
    Secret,
    Int { min: i64, max: i64, default: i64 },
    WorkerMode,
}

/// Every setting: its key, what it holds, and one line for the settings page.
const KEYS: &[(&str, Kind, &str)] = &[
    (
        "director_llm_url",
        Kind::Url,
        "Base URL of the Director's OpenAI-compatible API (it plans, judges and writes memory).",
    ),
    ("director_llm_model", Kind::Text, "The model the Director asks."),
    ("director_llm_key", Kind::Secret, "API key for the Director's endpoint."),
    (
        "worker_mode",
        Kind::WorkerMode,
        "Which coding agent does the work: native, opencode or claude-code.",
    ),
    (
        "worker_llm_url",
        Kind::Url,
        "Base URL of the Worker's OpenAI-compatible API.",
    ),
    ("worker_llm_model", Kind::Text, "The model the Worker uses."),
    ("worker_llm_key", Kind::Secret, "API key for the Worker's endpoint."),
    (
        "anthropic_key",
        Kind::Secret,
        "Anthropic API key, for the claude-code Worker.",
    ),
    (
        "github_token",
        Kind::Secret,
        "The agent's GitHub token: it pushes ticket branches and opens the pull requests.",
    ),
    // GitHub refuses an approval from the PR's author, who is the agent's `github_token`.
    (
        "github_review_token",
        Kind::Secret,
        "Your own GitHub token for the review page (comment, approve, merge). Without it \
         the agent's token is used, and GitHub refuses to let it approve its own pull \
         request. Never given to agents.",
    ),
    (
        "github_api_url",
        Kind::Url,
        "GitHub's API; for GitHub Enterprise, https://HOST/api/v3.",
    ),
    (
        "embedding_url",
        Kind::Url,
        "Base URL of the OpenAI-compatible embeddings API behind the project memory.",
    ),
    ("embedding_model", Kind::Text, "The embedding model."),
    ("embedding_key", Kind::Secret, "API key for the embeddings endpoint."),
    (
        "max_review_rounds",
        Kind::Int {
            min: 0,
            max: 50,
            default: 3,
        },
        "How many times the agent answers review comments on one pull request before \
         leaving it to a human.",
    ),
    (
        "summarize_every_turns",
        Kind::Int {
            min: 2,
            max: 1000,
            default: 30,
        },
        "The Worker's conversation is summarised every this many turns, to stay within \
         the model's context.",
    ),
    ("git_author_name", Kind::Text, "Author name of the agent's commits."),
    ("git_author_email", Kind::Text, "Author email of the agent's commits."),
];

fn kind_of(key: &str) -> Result<Kind> {
    KEYS.iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, kind, _)| *kind)
        .ok_or_else(|| Error::invalid(key, "unknown setting"))
}

fn check_value(key: &str, kind: Kind, v: &Value) -> Result<()> {
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::invalid(key, "must be a string"))
    };
    match kind {
        Kind::Url => {
            let s = text(v)?;
            if !(s.starts_with("http://") || s.starts_with("https://"))
                || s.len() > 2000
                || s.contains(char::is_whitespace)
            {
                return Err(Error::invalid(key, "must be an http(s) URL"));
            }
        }
        Kind::Text => {
            let s = text(v)?;
            terarchitect_protocol::validate::required(key, &s, 4000)?;
        }
        Kind::Secret => {
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
        Kind::Int { min, max, .. } => match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => {}
            _ => {
                return Err(Error::invalid(
                    key,
                    format!("must be a whole number from {min} to {max}"),
                ));
            }
        },
        Kind::WorkerMode => {
            serde_json::from_value::<WorkerMode>(v.clone())
                .map_err(|_| Error::invalid(key, "must be one of native, opencode, claude-code"))?;
        }
    }
    Ok(())
}

/// Applies `{key: value|null}` at one scope (project, or global for `None`) atomically.
pub async fn update(app: &App, project_id: Option<Uuid>, update: &SettingsUpdate) -> Result<()> {
    if update.len() > KEYS.len() {
        return Err(Error::invalid("settings", "too many keys"));
    }
    let mut tx = app.db.begin().await?;
    if let Some(p) = project_id {
        store::lock_project(&mut tx, p).await?;
    }
    for (key, value) in update {
        let kind = kind_of(key)?;
        match value {
            None | Some(Value::Null) => store::settings::clear(&mut *tx, project_id, key).await?,
            Some(v) => {
                check_value(key, kind, v)?;
                if kind == Kind::Secret {
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
pub async fn view(app: &App, project_id: Option<Uuid>) -> Result<Vec<SettingView>> {
    if let Some(p) = project_id {
        store::projects::get(&app.db, p).await?;
    }
    let effective = Effective::load(app, project_id).await?;
    Ok(KEYS
        .iter()
        .map(|(key, kind, help)| {
            let row = effective.get(key);
            let source = match row {
                Some(r) if r.project_id.is_some() => "project",
                Some(_) => "global",
                None => "default",
            };
            let secret = *kind == Kind::Secret;
            let default = match kind {
                Kind::Int { default, .. } => Some(Value::from(*default)),
                Kind::WorkerMode => Some(Value::from("native")),
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
                help: help.to_string(),
            }
        })
        .collect())
}

/// The effective settings of a project (its own values over the global ones), read once.
struct Effective {
    rows: Vec<store::settings::Row>,
}

impl Effective {
    async fn load(app: &App, project_id: Option<Uuid>) -> Result<Effective> {
        let rows = store::settings::list(&app.db, project_id).await?;
        Ok(Effective { rows })
    }

    /// The project's own row for `key`, else the global one.
    fn get(&self, key: &str) -> Option<&store::settings::Row> {
        let row = |own: bool| self.rows.iter().find(|r| r.key == key && r.project_id.is_some() == own);
        row(true).or_else(|| row(false))
    }

    /// An integer setting, its default when unset.
    fn int(&self, key: &str) -> i64 {
        let default = match kind_of(key) {
            Ok(Kind::Int { default, .. }) => default,
            _ => 0,
        };
        self.get(key)
            .and_then(|r| r.value.as_ref())
            .and_then(Value::as_i64)
            .unwrap_or(default)
    }

    /// A text or secret value, secrets decrypted.
    fn text(&self, app: &App, key: &str) -> Result<Option<String>> {
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
}

/// How a project reaches GitHub: the API base (None: the deployment's default) and the
/// token to act with. For a reviewer that is `github_review_token` when set; otherwise,
/// and for the agent, `github_token`. One read, one secret decrypted.
pub struct GitHubAccess {
    pub api_url: Option<String>,
    pub token: Option<String>,
}

pub async fn github_access(app: &App, project_id: Uuid, reviewer: bool) -> Result<GitHubAccess> {
    let effective = Effective::load(app, Some(project_id)).await?;
    let review_token = if reviewer {
        effective.text(app, "github_review_token")?
    } else {
        None
    };
    let token = match review_token {
        Some(t) => Some(t),
        None => effective.text(app, "github_token")?,
    };
    Ok(GitHubAccess {
        api_url: effective.text(app, "github_api_url")?,
        token,
    })
}

/// The project's `max_review_rounds` (no secret is decrypted for it).
pub async fn max_review_rounds(app: &App, project_id: Uuid) -> Result<i64> {
    Ok(Effective::load(app, Some(project_id)).await?.int("max_review_rounds"))
}

/// Resolved settings with secrets decrypted: for a job's own agent only.
/// `project_id` None: the global values alone.
pub async fn agent_settings(app: &App, project_id: Option<Uuid>) -> Result<AgentSettings> {
    let effective = Effective::load(app, project_id).await?;
    let text = |k: &str| effective.text(app, k);
    let int = |k: &str| effective.int(k);
    Ok(AgentSettings {
        director_llm_url: text("director_llm_url")?,
        director_llm_model: text("director_llm_model")?,
        director_llm_key: text("director_llm_key")?,
        worker_mode: effective
            .get("worker_mode")
            .and_then(|r| r.value.clone())
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default(),
        worker_llm_url: text("worker_llm_url")?,
        worker_llm_model: text("worker_llm_model")?,
        worker_llm_key: text("worker_llm_key")?,
        anthropic_key: text("anthropic_key")?,
        github_token: text("github_token")?,
        github_api_url: text("github_api_url")?.or_else(|| Some(app.github_api_url.clone())),
        embedding_url: text("embedding_url")?,
        embedding_model: text("embedding_model")?,
        embedding_key: text("embedding_key")?,
        max_review_rounds: int("max_review_rounds"),
        summarize_every_turns: int("summarize_every_turns"),
        git_author_name: text("git_author_name")?,
        git_author_email: text("git_author_email")?,
    })
}

/// Tests that the configured endpoints answer: each LLM's `GET {url}/models` with its key,
/// the embedding endpoint with a one-word embedding, and GitHub's API with the token.
/// Reports per item; never fails as a whole because one endpoint is down.
pub async fn check(app: &App, project_id: Option<Uuid>) -> Result<SettingsCheck> {
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
