//! Settings: the keys of `SettingKey`, global defaults with per-project overrides,
//! secrets sealed with AES-256-GCM and never returned in clear except to a job's agent.

use serde_json::Value;
use terarchitect_protocol::{
    AgentSettings, CheckItem, ProjectId, SettingKey, SettingKind, SettingView, SettingsCheck, SettingsUpdate,
    WorkerMode,
};

use terarchitect_protocol::egress::HostPattern;
use terarchitect_protocol::pr_thread::Trust;
use terarchitect_protocol::prices::{PriceTable, usd_to_nano};

use super::{App, SecretBox};
use crate::store;
use crate::{Error, Result};

fn key_of(key: &str) -> Result<SettingKey> {
    SettingKey::parse(key).ok_or_else(|| Error::invalid(key, "unknown setting"))
}

fn check_value(app: &App, key: &str, kind: SettingKind, v: &Value) -> Result<()> {
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
            // What the URL alone shows (plain http to an unlisted host, an internal IP
            // literal); where a name resolves to is checked at each request.
            app.outbound
                .check_url(&s)
                .map_err(|e| Error::invalid(key, e.to_string()))?;
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
        SettingKind::HostList => {
            HostPattern::parse_list(&text(v)?).map_err(|e| Error::invalid(key, e))?;
        }
        SettingKind::PriceTable => {
            PriceTable::parse(&text(v)?).map_err(|e| Error::invalid(key, e))?;
        }
        SettingKind::Usd => match v.as_f64() {
            Some(usd) if (0.0..=1_000_000.0).contains(&usd) => {}
            _ => return Err(Error::invalid(key, "must be an amount of US dollars from 0 to 1000000")),
        },
    }
    Ok(())
}

/// Applies `{key: value|null}` at one scope (project, or global for `None`) atomically.
/// A URL that changes (or is cleared) clears, at the same scope, the secrets that were sent
/// to the old endpoint ([`SettingKey::sent_to`]), unless this update sets them too.
pub async fn update(app: &App, project_id: Option<ProjectId>, update: &SettingsUpdate) -> Result<()> {
    if update.len() > SettingKey::ALL.len() {
        return Err(Error::invalid("settings", "too many keys"));
    }
    let entries = update
        .iter()
        .map(|(key, value)| Ok((key_of(key)?, value.as_ref().filter(|v| !v.is_null()))))
        .collect::<Result<Vec<_>>>()?;
    let mut tx = app.db.begin().await?;
    match project_id {
        Some(p) => store::lock_project(&mut tx, p).await?,
        None => store::settings::lock_global(&mut *tx).await?,
    }
    let own: Vec<store::settings::Row> = store::settings::list(&mut *tx, project_id)
        .await?
        .into_iter()
        .filter(|r| r.project_id == project_id)
        .collect();
    for &(setting, value) in &entries {
        let stored = own
            .iter()
            .find(|r| r.key == setting.as_str())
            .and_then(|r| r.value.as_ref());
        if setting.kind() != SettingKind::Url || stored == value {
            continue;
        }
        for secret in setting.secrets_sent_here() {
            let set_here = entries.iter().any(|&(k, v)| k == secret && v.is_some());
            if !set_here {
                store::settings::clear(&mut *tx, project_id, secret.as_str()).await?;
            }
        }
    }
    for (setting, value) in entries {
        let key = setting.as_str();
        match value {
            None => store::settings::clear(&mut *tx, project_id, key).await?,
            Some(v) => {
                check_value(app, key, setting.kind(), v)?;
                if setting.is_secret() {
                    let sealed = secret_box(app)?.seal(v.as_str().unwrap_or_default(), &secret_aad(project_id, key));
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

fn secret_box(app: &App) -> Result<&SecretBox> {
    app.secrets.as_deref().ok_or_else(|| {
        Error::Unavailable("secrets cannot be stored or read: TERARCHITECT_SECRET_KEY is not configured".into())
    })
}

/// The associated data a secret is sealed with: its scope and key, so a sealed value
/// copied to another project's row or another key does not open.
fn secret_aad(project_id: Option<ProjectId>, key: &str) -> Vec<u8> {
    match project_id {
        None => format!("terarchitect/setting/global/{key}"),
        Some(p) => format!("terarchitect/setting/project/{p}/{key}"),
    }
    .into_bytes()
}

/// Opens a row's secret (None when the row holds a plain value).
fn open_row(b: &SecretBox, r: &store::settings::Row) -> Result<Option<String>> {
    let Some(sealed) = r.sealed() else { return Ok(None) };
    b.open(&sealed, &secret_aad(r.project_id, &r.key))
        .map(Some)
        .map_err(|e| {
            let scope = r.project_id.map_or("global".to_string(), |p| format!("project {p}"));
            // The configuration is wrong (or the row was tampered with), not the request.
            Error::Unavailable(format!("the stored secret {} ({scope}) cannot be opened: {e}", r.key))
        })
}

/// What a key rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The id of the key every secret is now sealed with.
    pub key_id: String,
    /// Secrets stored, in every scope.
    pub total: usize,
    /// Of those, the ones re-sealed now (under a previous key, or from before key ids).
    pub resealed: usize,
}

/// Re-seals every stored secret with the current key, bound to its scope and key, in one
/// transaction. Idempotent: secrets already under the current key are only checked. A secret
/// that opens with none of the configured keys fails the rotation and nothing changes.
pub async fn rotate_secrets(app: &App) -> Result<Rotation> {
    let b = secret_box(app)?;
    let mut tx = app.db.begin().await?;
    let rows = store::settings::all_secrets_for_update(&mut *tx).await?;
    let mut resealed = 0;
    for r in &rows {
        let (Some(sealed), Some(plain)) = (r.sealed(), open_row(b, r)?) else {
            continue;
        };
        if !b.is_current(&sealed) {
            let again = b.seal(&plain, &secret_aad(r.project_id, &r.key));
            store::settings::reseal(&mut *tx, r.project_id, &r.key, &again).await?;
            resealed += 1;
        }
    }
    tx.commit().await?;
    Ok(Rotation {
        key_id: b.key_id().to_string(),
        total: rows.len(),
        resealed,
    })
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

    /// The project's own row for `key`, else the global one; but never the global secret
    /// for an endpoint whose URL the project sets itself.
    fn get(&self, key: SettingKey) -> Option<&store::settings::Row> {
        let row = |key: SettingKey, own: bool| {
            self.rows
                .iter()
                .find(|r| r.key == key.as_str() && r.project_id.is_some() == own)
        };
        if let Some(own) = row(key, true) {
            return Some(own);
        }
        if key.sent_to().is_some_and(|url| row(url, true).is_some()) {
            return None;
        }
        row(key, false)
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
        if r.secret.is_some() {
            return open_row(secret_box(app)?, r);
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

impl std::fmt::Debug for GitHubAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubAccess")
            .field("api_url", &self.api_url)
            .field("token", &terarchitect_protocol::Redacted::opt(&self.token))
            .finish()
    }
}

pub async fn github_access(app: &App, project_id: ProjectId, reviewer: bool) -> Result<GitHubAccess> {
    github_access_in(app, Some(project_id), reviewer).await
}

/// [`github_access`] for a project, or for none (the global settings alone).
pub async fn github_access_in(app: &App, project_id: Option<ProjectId>, reviewer: bool) -> Result<GitHubAccess> {
    let effective = Effective::load(app, project_id).await?;
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

/// The project's `egress_allow` entries, normalised (`HostPattern`'s form).
pub async fn egress_allow(app: &App, project_id: ProjectId) -> Result<Vec<String>> {
    let effective = Effective::load(app, Some(project_id)).await?;
    let list = effective.text(app, SettingKey::EgressAllow)?.unwrap_or_default();
    // Checked when set; an entry that no longer parses allows nothing.
    Ok(HostPattern::entries(&list)
        .filter_map(|e| HostPattern::parse(e).ok())
        .map(|p| p.to_string())
        .collect())
}

/// A project's LLM budgets (`None`: no limit), per ticket and for the project, in tokens
/// and in money, and the prices its calls are costed at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Budget {
    pub ticket_tokens: Option<i64>,
    pub project_tokens: Option<i64>,
    pub ticket_nano_usd: Option<i64>,
    pub project_nano_usd: Option<i64>,
    pub prices: PriceTable,
}

pub async fn budget(app: &App, project_id: ProjectId) -> Result<Budget> {
    Effective::load(app, Some(project_id)).await?.budget()
}

impl Effective {
    fn budget(&self) -> Result<Budget> {
        let tokens = |k| Some(self.int(k)).filter(|n| *n > 0);
        let usd = |k| {
            self.get(k)
                .and_then(|r| r.value.as_ref())
                .and_then(Value::as_f64)
                .map(usd_to_nano)
                .filter(|n| *n > 0)
        };
        let prices = self
            .get(SettingKey::LlmPrices)
            .and_then(|r| r.value.as_ref())
            .and_then(Value::as_str)
            .map(PriceTable::parse)
            .transpose()
            .map_err(|e| Error::Internal(format!("the stored setting llm_prices cannot be read: {e}")))?;
        Ok(Budget {
            ticket_tokens: tokens(SettingKey::TicketBudgetTokens),
            project_tokens: tokens(SettingKey::ProjectBudgetTokens),
            ticket_nano_usd: usd(SettingKey::TicketBudgetUsd),
            project_nano_usd: usd(SettingKey::ProjectBudgetUsd),
            prices: prices.unwrap_or_default(),
        })
    }
}

/// Where the gateway sends a job's LLM call, and the key it adds (decrypted). `Debug`
/// redacts the key.
pub struct LlmEndpoint {
    /// The base: `…/v1` for OpenAI chat completions, the host (without `/v1`) for Anthropic.
    pub url: String,
    pub key: Option<String>,
}

impl std::fmt::Debug for LlmEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmEndpoint")
            .field("url", &self.url)
            .field("key", &terarchitect_protocol::Redacted::opt(&self.key))
            .finish()
    }
}

/// The upstream for `role` speaking `api`. OpenAI: the role's URL and key; the Worker
/// falls back to the Director's endpoint when it has no URL of its own. Anthropic: the
/// deployment's Anthropic API with `anthropic_key`, else the role's key. Only the one key
/// needed is decrypted.
/// A gateway call's endpoint and the project's budgets, from one read of the settings.
pub async fn llm_endpoint(
    app: &App,
    project_id: ProjectId,
    role: super::gateway::Role,
    api: super::gateway::Api,
) -> Result<(LlmEndpoint, Budget)> {
    let effective = Effective::load(app, Some(project_id)).await?;
    Ok((endpoint_of(app, &effective, role, api)?, effective.budget()?))
}

fn endpoint_of(
    app: &App,
    effective: &Effective,
    role: super::gateway::Role,
    api: super::gateway::Api,
) -> Result<LlmEndpoint> {
    use super::gateway::{Api, Role};
    use SettingKey as K;
    let (url_key, secret) = match role {
        Role::Worker if effective.get(K::WorkerLlmUrl).is_some() => (K::WorkerLlmUrl, K::WorkerLlmKey),
        _ => (K::DirectorLlmUrl, K::DirectorLlmKey),
    };
    if api == Api::Anthropic {
        let key = match effective.text(app, K::AnthropicKey)? {
            Some(k) => Some(k),
            None => effective.text(app, secret)?,
        };
        return Ok(LlmEndpoint {
            url: app.anthropic_api_url.clone(),
            key,
        });
    }
    let url = effective
        .text(app, url_key)?
        .ok_or_else(|| Error::Conflict(format!("the {} LLM is not configured: set `{url_key}`", role.as_str())))?;
    Ok(LlmEndpoint {
        url,
        key: effective.text(app, secret)?,
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

/// Resolved settings with secrets decrypted, for the control plane's own calls (memory,
/// the settings check). `project_id` None: the global values alone.
pub async fn agent_settings(app: &App, project_id: Option<ProjectId>) -> Result<AgentSettings> {
    resolve(app, project_id, true).await
}

/// What a job's agent gets (`GET /agent/context`): no secret. The gateway adds the LLM and
/// embedding keys to the agent's calls, the API opens its PR (`review::agent`), and the
/// worker host's git proxy adds the GitHub token to its pushes.
pub async fn agent_context_settings(app: &App, project_id: ProjectId) -> Result<AgentSettings> {
    resolve(app, Some(project_id), false).await
}

async fn resolve(app: &App, project_id: Option<ProjectId>, secrets: bool) -> Result<AgentSettings> {
    let effective = Effective::load(app, project_id).await?;
    let text = |k: SettingKey| effective.text(app, k);
    let key = |k: SettingKey| if secrets { text(k) } else { Ok(None) };
    let int = |k: SettingKey| effective.int(k);
    use SettingKey as K;
    Ok(AgentSettings {
        director_llm_url: text(K::DirectorLlmUrl)?,
        director_llm_model: text(K::DirectorLlmModel)?,
        director_llm_key: key(K::DirectorLlmKey)?,
        worker_mode: effective.worker_mode()?,
        worker_llm_url: text(K::WorkerLlmUrl)?,
        worker_llm_model: text(K::WorkerLlmModel)?,
        worker_llm_key: key(K::WorkerLlmKey)?,
        anthropic_key: key(K::AnthropicKey)?,
        github_token: key(K::GithubToken)?,
        github_api_url: text(K::GithubApiUrl)?.or_else(|| Some(app.github_api_url.clone())),
        embedding_url: text(K::EmbeddingUrl)?,
        embedding_model: text(K::EmbeddingModel)?,
        embedding_key: key(K::EmbeddingKey)?,
        max_review_rounds: int(K::MaxReviewRounds),
        review_trusted_logins: text(K::ReviewTrustedLogins)?,
        summarize_every_turns: int(K::SummarizeEveryTurns),
        git_author_name: text(K::GitAuthorName)?,
        git_author_email: text(K::GitAuthorEmail)?,
    })
}

/// The settings a run of this project cannot start without that are not set (checked by
/// presence; nothing is decrypted): the Director's endpoint and model, and what the
/// worker mode needs on top (`opencode` its own endpoint and model, `claude-code` a key),
/// and the GitHub token when the run pushes from a container (`needs_github`).
pub async fn missing_for_run(
    db: &mut sqlx::PgConnection,
    project_id: ProjectId,
    needs_github: bool,
) -> Result<Vec<SettingKey>> {
    use SettingKey as K;
    let effective = Effective {
        rows: store::settings::list(db, Some(project_id)).await?,
    };
    // Stored values are never empty (updates check them; a null deletes), so a row is a
    // value, as the settings page's `is_set` says.
    let set = |k: SettingKey| effective.get(k).is_some();
    let mut missing: Vec<SettingKey> = [K::DirectorLlmUrl, K::DirectorLlmModel]
        .into_iter()
        .filter(|&k| !set(k))
        .collect();
    match effective.worker_mode()? {
        WorkerMode::Native => {}
        WorkerMode::Opencode => missing.extend([K::WorkerLlmUrl, K::WorkerLlmModel].into_iter().filter(|&k| !set(k))),
        // The gateway sends Claude Code to Anthropic with `anthropic_key`, else the
        // Worker's (or, without a Worker URL, the Director's) key.
        WorkerMode::ClaudeCode => {
            let role_key = if set(K::WorkerLlmUrl) {
                K::WorkerLlmKey
            } else {
                K::DirectorLlmKey
            };
            if !set(K::AnthropicKey) && !set(role_key) {
                missing.push(K::AnthropicKey);
            }
        }
    }
    if needs_github && !set(K::GithubToken) {
        missing.push(K::GithubToken);
    }
    Ok(missing)
}

/// Tests that the configured endpoints answer: each LLM's `GET {url}/models` with its key,
/// the embedding endpoint with a one-word embedding, and GitHub's API with the token.
/// Reports per item; never fails as a whole because one endpoint is down. Each item says
/// only reachable, key refused, not allowed or not reachable: a check that told timeouts,
/// refused connections and status codes apart would map a network for whoever sets URLs.
pub async fn check(app: &App, project_id: Option<ProjectId>) -> Result<SettingsCheck> {
    let s = agent_settings(app, project_id).await?;
    let mut items = Vec::new();
    let director = match &s.director_llm_url {
        None => not_set_up("director LLM"),
        Some(url) => probe_llm(app, "director LLM", url, &s.director_llm_key).await,
    };
    let worker = match &s.worker_llm_url {
        Some(url) => probe_llm(app, "worker LLM", url, &s.worker_llm_key).await,
        // The native Worker falls back to the Director's endpoint (the CLIs do not).
        None if s.worker_mode == WorkerMode::Native && director.configured => CheckItem {
            name: "worker LLM".into(),
            detail: "uses the Director's endpoint".into(),
            ..director.clone()
        },
        None => not_set_up("worker LLM"),
    };
    items.extend([director, worker]);
    items.push(match &s.embedding_url {
        None => not_set_up("embeddings"),
        Some(url) => {
            let url = format!("{}/embeddings", url.trim_end_matches('/'));
            let body = serde_json::json!({"model": s.embedding_model.clone().unwrap_or_default(), "input": ["ping"]});
            probe(app, "embeddings", &url, |http| http.post(&url).json(&body)).await
        }
    });
    // The deployment's default GitHub URL with no token is nothing the user set up.
    let github_set_up = s.github_token.is_some() || s.github_api_url.as_deref() != Some(app.github_api_url.as_str());
    items.push(match &s.github_api_url {
        Some(api) if github_set_up => {
            let url = format!("{}/rate_limit", api.trim_end_matches('/'));
            probe(app, "GitHub API", &url, |http| {
                let req = http.get(&url).header("user-agent", "terarchitect");
                match &s.github_token {
                    Some(t) => req.bearer_auth(t),
                    None => req,
                }
            })
            .await
        }
        _ => not_set_up("GitHub API"),
    });
    Ok(SettingsCheck { items })
}

fn not_set_up(name: &str) -> CheckItem {
    CheckItem {
        name: name.into(),
        ok: false,
        configured: false,
        detail: "not set up".into(),
    }
}

/// An OpenAI-compatible endpoint answers `GET /models` with the key.
async fn probe_llm(app: &App, name: &str, url: &str, key: &Option<String>) -> CheckItem {
    let url = format!("{}/models", url.trim_end_matches('/'));
    probe(app, name, &url, |http| {
        let req = http.get(&url);
        match key {
            Some(k) => req.bearer_auth(k),
            None => req,
        }
    })
    .await
}

/// One request to `url` (built by `request` on the policy's client), summed up in one of
/// four words.
async fn probe(
    app: &App,
    name: &str,
    url: &str,
    request: impl FnOnce(&reqwest::Client) -> reqwest::RequestBuilder,
) -> CheckItem {
    let (ok, detail) = match app.outbound.client_for(url).await {
        Err(e) => (false, format!("not allowed: {e}")),
        Ok(http) => match request(&http).timeout(std::time::Duration::from_secs(5)).send().await {
            Ok(r) if r.status().is_success() => (true, "reachable".to_string()),
            Ok(r) if matches!(r.status().as_u16(), 401 | 403) => (false, "reachable, but the key was refused".into()),
            // A refusal by the resolver at connect time (the name's addresses changed).
            Err(e) if super::outbound::find_refusal(&e).is_some() => (false, "not allowed".into()),
            _ => (false, "not reachable".into()),
        },
    };
    CheckItem {
        name: name.into(),
        ok,
        configured: true,
        detail,
    }
}
