//! Process configuration, read once in `main` from the environment.
//!
//! Locally every value is a plain variable. In AWS the two secrets are not in the
//! function's environment at all: it names them by ARN and they are read from Secrets
//! Manager at cold start ([`Config::resolve`]).

use std::time::Duration;

#[derive(Clone, Debug)]
pub enum DatabaseSource {
    /// `DATABASE_URL`
    Url(String),
    /// `DATABASE_SECRET_ARN` (the RDS-managed `{"username","password"}` secret) with
    /// `DATABASE_HOST`, `DATABASE_PORT` (5432) and `DATABASE_NAME`; over TLS.
    RdsSecret {
        arn: String,
        host: String,
        port: u16,
        name: String,
        /// `DATABASE_SSLMODE`, `require` unless set.
        sslmode: String,
    },
}

#[derive(Clone, Debug)]
pub enum SecretKeySource {
    /// `TERARCHITECT_SECRET_KEY`
    Value(String),
    /// `TERARCHITECT_SECRET_KEY_ARN`: a Secrets Manager secret holding the same base64 key.
    SecretArn(String),
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database: DatabaseSource,
    /// SQS queue that receives `{job_id}` messages.
    pub job_queue_url: String,
    /// `JOB_DLQ_URL`: the job queue's dead-letter queue, which the scheduler drains.
    pub job_dead_letter_url: Option<String>,
    /// 32-byte key (base64) for secrets at rest.
    pub secret_key: Option<SecretKeySource>,
    pub lease: Duration,
    pub github_api_url: String,
    /// `TERARCHITECT_OUTBOUND_ALLOW`: internal networks and hosts that user-set URLs may
    /// reach (plain http only to these); empty, the default, allows public https only.
    pub outbound_allow: crate::domain::outbound::Allowlist,
}

/// The secrets of a [`Config`], fetched.
pub struct Resolved {
    pub database_url: String,
    pub secret_key: Option<String>,
}

fn var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let secret_key = match (var("TERARCHITECT_SECRET_KEY"), var("TERARCHITECT_SECRET_KEY_ARN")) {
            (Some(v), _) => Some(SecretKeySource::Value(v)),
            (None, Some(arn)) => Some(SecretKeySource::SecretArn(arn)),
            (None, None) => None,
        };
        Ok(Config {
            database: DatabaseSource::from_env()?,
            job_queue_url: var("JOB_QUEUE_URL").ok_or_else(|| anyhow::anyhow!("JOB_QUEUE_URL is not set"))?,
            job_dead_letter_url: var("JOB_DLQ_URL"),
            secret_key,
            lease: Duration::from_secs(var("JOB_LEASE_SECONDS").map(|v| v.parse()).transpose()?.unwrap_or(120)),
            github_api_url: var("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
            outbound_allow: crate::domain::outbound::Allowlist::parse(
                &var(crate::domain::outbound::ALLOW_VAR).unwrap_or_default(),
            )
            .map_err(anyhow::Error::msg)?,
        })
    }

    /// Fetches what lives in Secrets Manager (one client, built only when needed).
    pub async fn resolve(&self) -> anyhow::Result<Resolved> {
        let secrets = SecretReader::default();
        let secret_key = match &self.secret_key {
            None => None,
            Some(SecretKeySource::Value(v)) => Some(v.clone()),
            Some(SecretKeySource::SecretArn(arn)) => Some(secrets.read(arn).await?.trim().to_string()),
        };
        Ok(Resolved {
            database_url: self.database.resolve(&secrets).await?,
            secret_key,
        })
    }
}

impl DatabaseSource {
    pub fn from_env() -> anyhow::Result<Self> {
        if let Some(url) = var("DATABASE_URL") {
            return Ok(DatabaseSource::Url(url));
        }
        let Some(arn) = var("DATABASE_SECRET_ARN") else {
            anyhow::bail!("set DATABASE_URL, or DATABASE_SECRET_ARN with DATABASE_HOST and DATABASE_NAME");
        };
        Ok(DatabaseSource::RdsSecret {
            arn,
            host: var("DATABASE_HOST").ok_or_else(|| anyhow::anyhow!("DATABASE_HOST is not set"))?,
            port: var("DATABASE_PORT").map(|p| p.parse()).transpose()?.unwrap_or(5432),
            name: var("DATABASE_NAME").unwrap_or_else(|| "terarchitect".into()),
            sslmode: var("DATABASE_SSLMODE").unwrap_or_else(|| "require".into()),
        })
    }

    pub async fn resolve(&self, secrets: &SecretReader) -> anyhow::Result<String> {
        match self {
            DatabaseSource::Url(url) => Ok(url.clone()),
            DatabaseSource::RdsSecret {
                arn,
                host,
                port,
                name,
                sslmode,
            } => {
                #[derive(serde::Deserialize)]
                struct Credentials {
                    username: String,
                    password: String,
                }
                let c: Credentials = serde_json::from_str(&secrets.read(arn).await?).map_err(|e| {
                    anyhow::anyhow!("the database secret is not {{\"username\",\"password\"}} JSON: {e}")
                })?;
                Ok(format!(
                    "postgres://{}:{}@{host}:{port}/{name}?sslmode={sslmode}",
                    percent_encode(&c.username),
                    percent_encode(&c.password)
                ))
            }
        }
    }
}

/// Reads Secrets Manager secrets through one client, built (AWS config loaded) on the
/// first read only: a cold start pays for it once, and not at all locally.
#[derive(Default)]
pub struct SecretReader {
    client: tokio::sync::OnceCell<aws_sdk_secretsmanager::Client>,
}

impl SecretReader {
    pub async fn read(&self, arn: &str) -> anyhow::Result<String> {
        let client = self
            .client
            .get_or_init(|| async {
                let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                aws_sdk_secretsmanager::Client::new(&aws)
            })
            .await;
        read_secret(client, arn).await
    }
}

async fn read_secret(client: &aws_sdk_secretsmanager::Client, arn: &str) -> anyhow::Result<String> {
    let out = client.get_secret_value().secret_id(arn).send().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot read secret {arn}: {}",
            aws_sdk_secretsmanager::error::DisplayErrorContext(e)
        )
    })?;
    out.secret_string
        .ok_or_else(|| anyhow::anyhow!("secret {arn} has no string value"))
}

/// Percent-encodes everything but RFC 3986 unreserved characters (URL userinfo).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_encoded_for_urls() {
        assert_eq!(super::percent_encode("a:b@c/d?é"), "a%3Ab%40c%2Fd%3F%C3%A9");
        assert_eq!(super::percent_encode("Plain-1_2.3~"), "Plain-1_2.3~");
    }
}
