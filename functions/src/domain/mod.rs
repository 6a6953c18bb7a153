//! Domain rules over the store: what a move, a claim or a finish means.

pub mod cache;
pub mod columns;
pub mod comments;
pub mod crypto;
pub mod gateway;
pub mod github;
pub mod graph;
pub mod hosts;
pub mod jobs;
pub mod lifecycle;
pub mod memory;
pub mod notes;
pub mod ops;
pub mod outbound;
pub mod page;
pub mod pagerank;
pub mod preflight;
pub mod projects;
pub mod queue;
pub mod repository;
pub mod review;
pub mod settings;
pub mod test_files;
pub mod tickets;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

pub use crypto::SecretBox;
pub use queue::JobQueue;

/// An LLM or embedding service's failure as the API reports it: `what` names the service
/// ("LLM unreachable: …").
pub(crate) fn llm_unavailable(what: &'static str) -> impl Fn(terarchitect_llm::Error) -> crate::Error {
    move |e| crate::Error::Unavailable(format!("{what} {e}"))
}

/// What one job token may write per minute by default (events, memory, gateway calls).
pub const AGENT_WRITES_PER_MINUTE: i32 = 600;

/// Everything a request needs, built once per process in `main`.
#[derive(Clone)]
pub struct App {
    pub db: PgPool,
    pub queue: JobQueue,
    pub secrets: Option<Arc<SecretBox>>,
    pub lease: Duration,
    /// Writes per minute one job token may make.
    pub agent_writes_per_minute: i32,
    pub github_api_url: String,
    /// The Anthropic API's base (without `/v1`), for the gateway's messages route.
    pub anthropic_api_url: String,
    /// Outgoing HTTP to user-set URLs (LLMs, embeddings, GitHub, the settings check), only
    /// through its check of the URL; each call sets its own timeout. Clones share the
    /// connection pools.
    pub outbound: outbound::Outbound,
}

impl App {
    /// An `App` for tests and benchmarks: `allow` as `TERARCHITECT_OUTBOUND_ALLOW`, and
    /// GitHub and Anthropic at an address nothing answers at.
    pub fn for_tests(db: PgPool, queue: JobQueue, secret_key: &str, lease: Duration, allow: &str) -> App {
        let parsed = outbound::Allowlist::parse(allow).expect("a valid allowlist");
        App {
            db,
            queue,
            secrets: Some(Arc::new(SecretBox::from_key(secret_key).expect("a valid secret key"))),
            lease,
            agent_writes_per_minute: AGENT_WRITES_PER_MINUTE,
            github_api_url: "http://127.0.0.1:1".into(),
            anthropic_api_url: "http://127.0.0.1:1".into(),
            outbound: outbound::Outbound::new(parsed).expect("an HTTP client"),
        }
    }

    pub async fn from_config(cfg: &crate::config::Config, max_connections: u32) -> anyhow::Result<Self> {
        let resolved = cfg.resolve().await?;
        let db = crate::store::connect(resolved.database, max_connections);
        let queue = JobQueue::from_env(cfg.job_queue_url.clone())
            .await
            .with_dead_letters(cfg.job_dead_letter_url.clone());
        let previous: Vec<&str> = resolved.previous_secret_keys.iter().map(String::as_str).collect();
        let secrets = resolved
            .secret_key
            .as_deref()
            .map(|current| SecretBox::with_previous(current, &previous))
            .transpose()?
            .map(Arc::new);
        let outbound = outbound::Outbound::new(cfg.outbound_allow.clone())?;
        Ok(App {
            db,
            queue,
            secrets,
            lease: cfg.lease,
            agent_writes_per_minute: cfg.agent_writes_per_minute,
            github_api_url: cfg.github_api_url.clone(),
            anthropic_api_url: cfg.anthropic_api_url.clone(),
            outbound,
        })
    }
}
