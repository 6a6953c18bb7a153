//! Process configuration, read once in `main` from the environment.
//!
//! Locally every value is a plain variable. In AWS the two secrets are not in the
//! function's environment at all: it names them by ARN and they are read from Secrets
//! Manager at cold start ([`Config::resolve`]).

use std::path::PathBuf;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

#[derive(Clone)]
pub enum DatabaseSource {
    /// `DATABASE_URL`
    Url(String),
    /// `DATABASE_SECRET_ARN` (a `{"username","password"}` secret: the functions' own
    /// login, or the RDS-managed master secret for `migrate`) with `DATABASE_HOST`,
    /// `DATABASE_PORT` (5432) and `DATABASE_NAME`.
    RdsSecret {
        arn: String,
        host: String,
        port: u16,
        name: String,
        /// `DATABASE_SSLMODE`, `verify-full` unless set: the server's certificate must
        /// chain to `ca_file` and name `host`.
        sslmode: PgSslMode,
        /// `DATABASE_CA_FILE`: the root certificates the server's certificate is checked
        /// against (in AWS, Amazon RDS's global bundle shipped with the functions).
        ca_file: Option<PathBuf>,
    },
}

// The URL may carry a password: Debug names the source, never the URL.
impl std::fmt::Debug for DatabaseSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseSource::Url(_) => f.write_str("Url([redacted])"),
            DatabaseSource::RdsSecret {
                arn,
                host,
                port,
                name,
                sslmode,
                ca_file,
            } => f
                .debug_struct("RdsSecret")
                .field("arn", arn)
                .field("host", host)
                .field("port", port)
                .field("name", name)
                .field("sslmode", sslmode)
                .field("ca_file", ca_file)
                .finish(),
        }
    }
}

#[derive(Clone)]
pub enum SecretKeySource {
    /// `TERARCHITECT_SECRET_KEY` (or, for previous keys, `TERARCHITECT_SECRET_KEY_PREVIOUS`).
    Value(String),
    /// `TERARCHITECT_SECRET_KEY_ARN` (`…_PREVIOUS_ARN`): a Secrets Manager secret holding
    /// the same text.
    SecretArn(String),
}

impl std::fmt::Debug for SecretKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretKeySource::Value(_) => f.write_str("Value([redacted])"),
            SecretKeySource::SecretArn(arn) => f.debug_tuple("SecretArn").field(arn).finish(),
        }
    }
}

impl SecretKeySource {
    fn from_env(name: &str) -> Option<Self> {
        match (var(name), var(&format!("{name}_ARN"))) {
            (Some(v), _) => Some(SecretKeySource::Value(v)),
            (None, Some(arn)) => Some(SecretKeySource::SecretArn(arn)),
            (None, None) => None,
        }
    }

    async fn resolve(&self, secrets: &SecretReader) -> anyhow::Result<String> {
        Ok(match self {
            SecretKeySource::Value(v) => v.clone(),
            SecretKeySource::SecretArn(arn) => secrets.read(arn).await?.trim().to_string(),
        })
    }
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
    /// Keys secrets were sealed with before a rotation (comma-separated base64): they
    /// only open, until `admin rotate-secrets` has re-sealed everything with `secret_key`.
    pub previous_secret_keys: Option<SecretKeySource>,
    pub lease: Duration,
    /// `AGENT_WRITES_PER_MINUTE`: what one job token may write (events, memory, gateway
    /// calls) per minute; 600 unless set (benchmarks lift it).
    pub agent_writes_per_minute: i32,
    pub github_api_url: String,
    /// `ANTHROPIC_API_URL`: where the gateway sends Anthropic messages calls.
    pub anthropic_api_url: String,
    /// `TERARCHITECT_OUTBOUND_ALLOW`: internal networks and hosts that user-set URLs may
    /// reach (plain http only to these); empty, the default, allows public https only.
    pub outbound_allow: crate::domain::outbound::Allowlist,
}

/// The secrets of a [`Config`], fetched.
pub struct Resolved {
    pub database: PgConnectOptions,
    pub secret_key: Option<String>,
    pub previous_secret_keys: Vec<String>,
}

fn var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let secret_key = SecretKeySource::from_env("TERARCHITECT_SECRET_KEY");
        let previous_secret_keys = SecretKeySource::from_env("TERARCHITECT_SECRET_KEY_PREVIOUS");
        anyhow::ensure!(
            secret_key.is_some() || previous_secret_keys.is_none(),
            "TERARCHITECT_SECRET_KEY_PREVIOUS is set without TERARCHITECT_SECRET_KEY"
        );
        Ok(Config {
            database: DatabaseSource::from_env()?,
            job_queue_url: var("JOB_QUEUE_URL").ok_or_else(|| anyhow::anyhow!("JOB_QUEUE_URL is not set"))?,
            job_dead_letter_url: var("JOB_DLQ_URL"),
            secret_key,
            previous_secret_keys,
            lease: Duration::from_secs(var("JOB_LEASE_SECONDS").map(|v| v.parse()).transpose()?.unwrap_or(120)),
            agent_writes_per_minute: var("AGENT_WRITES_PER_MINUTE")
                .map(|v| v.parse())
                .transpose()?
                .unwrap_or(crate::domain::AGENT_WRITES_PER_MINUTE),
            github_api_url: var("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
            anthropic_api_url: var("ANTHROPIC_API_URL").unwrap_or_else(|| "https://api.anthropic.com".into()),
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
            Some(source) => Some(source.resolve(&secrets).await?),
        };
        let previous_secret_keys = match &self.previous_secret_keys {
            None => Vec::new(),
            Some(source) => source
                .resolve(&secrets)
                .await?
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect(),
        };
        Ok(Resolved {
            database: self.database.resolve(&secrets).await?,
            secret_key,
            previous_secret_keys,
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
        let sslmode = match var("DATABASE_SSLMODE") {
            Some(mode) => mode
                .parse()
                .map_err(|e| anyhow::anyhow!("DATABASE_SSLMODE {mode:?}: {e}"))?,
            None => PgSslMode::VerifyFull,
        };
        let ca_file = var("DATABASE_CA_FILE").map(PathBuf::from);
        // Checked at start: a missing bundle fails the cold start naming the file, not
        // every connection with an unknown-issuer error.
        match &ca_file {
            Some(file) => anyhow::ensure!(file.is_file(), "DATABASE_CA_FILE {} is not a file", file.display()),
            None => anyhow::ensure!(
                !matches!(sslmode, PgSslMode::VerifyCa | PgSslMode::VerifyFull),
                "DATABASE_CA_FILE is not set: the database's certificate cannot be verified \
                 (set it to the root certificate bundle, or DATABASE_SSLMODE to a mode that does not verify)"
            ),
        }
        Ok(DatabaseSource::RdsSecret {
            arn,
            host: var("DATABASE_HOST").ok_or_else(|| anyhow::anyhow!("DATABASE_HOST is not set"))?,
            port: var("DATABASE_PORT").map(|p| p.parse()).transpose()?.unwrap_or(5432),
            name: var("DATABASE_NAME").unwrap_or_else(|| "terarchitect".into()),
            sslmode,
            ca_file,
        })
    }

    /// How to connect: the URL, or the secret's login with the TLS settings.
    pub async fn resolve(&self, secrets: &SecretReader) -> anyhow::Result<PgConnectOptions> {
        match self {
            DatabaseSource::Url(url) => Ok(url.parse()?),
            DatabaseSource::RdsSecret {
                arn,
                host,
                port,
                name,
                sslmode,
                ca_file,
            } => {
                let login = Login::read(secrets, arn).await?;
                let options = PgConnectOptions::new_without_pgpass()
                    .host(host)
                    .port(*port)
                    .database(name)
                    .username(&login.username)
                    .password(&login.password)
                    .ssl_mode(*sslmode);
                Ok(match ca_file {
                    Some(file) => options.ssl_root_cert(file),
                    None => options,
                })
            }
        }
    }
}

/// A database login as Secrets Manager holds it: the RDS-managed master secret and the
/// functions' own secret (`AppDatabaseSecret` in the template) share this shape.
#[derive(serde::Deserialize)]
pub struct Login {
    pub username: String,
    pub password: String,
}

impl Login {
    pub async fn read(secrets: &SecretReader, arn: &str) -> anyhow::Result<Login> {
        serde_json::from_str(&secrets.read(arn).await?)
            .map_err(|e| anyhow::anyhow!("secret {arn} is not {{\"username\",\"password\"}} JSON: {e}"))
    }

    /// `DATABASE_APP_SECRET_ARN` (the `migrate` function only): the login the other
    /// functions use, which `migrate` creates or updates as a least-privilege role.
    pub fn app_secret_arn() -> Option<String> {
        var("DATABASE_APP_SECRET_ARN")
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

#[cfg(test)]
mod tests {
    #[test]
    fn debug_never_prints_keys_or_database_urls() {
        let cfg = super::Config {
            database: super::DatabaseSource::Url("postgres://app:hunter2@db/terarchitect".into()),
            job_queue_url: "q".into(),
            job_dead_letter_url: None,
            secret_key: Some(super::SecretKeySource::Value("c2VjcmV0LWtleQ==".into())),
            previous_secret_keys: Some(super::SecretKeySource::Value("b2xkLWtleQ==".into())),
            lease: std::time::Duration::from_secs(1),
            agent_writes_per_minute: 600,
            github_api_url: "https://api.github.com".into(),
            anthropic_api_url: "https://api.anthropic.com".into(),
            outbound_allow: Default::default(),
        };
        let text = format!("{cfg:?}");
        for secret in ["hunter2", "c2VjcmV0LWtleQ==", "b2xkLWtleQ=="] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("[redacted]"), "{text}");
    }
}
