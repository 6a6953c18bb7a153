//! Process configuration, read once in `main` from the environment.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    /// SQS queue that receives `{job_id}` messages.
    pub job_queue_url: String,
    /// 32-byte key (base64) for secrets at rest.
    pub secret_key: Option<String>,
    pub lease: Duration,
    pub github_api_url: String,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Ok(Config {
            database_url: var("DATABASE_URL").ok_or_else(|| anyhow::anyhow!("DATABASE_URL is not set"))?,
            job_queue_url: var("JOB_QUEUE_URL").ok_or_else(|| anyhow::anyhow!("JOB_QUEUE_URL is not set"))?,
            secret_key: var("TERARCHITECT_SECRET_KEY"),
            lease: Duration::from_secs(var("JOB_LEASE_SECONDS").map(|v| v.parse()).transpose()?.unwrap_or(120)),
            github_api_url: var("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
        })
    }
}
