//! The processes of the stack: the functions (as plain binaries or under
//! `cargo lambda watch`), the scheduler, the UI and the worker host.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Result;
use crate::process::{ProcessGroup, cargo};

/// What user-set URLs may reach locally (`TERARCHITECT_OUTBOUND_ALLOW`): the loopback
/// stand-ins and services of the development stack and the tests. A deployment lists
/// nothing.
pub const LOCAL_OUTBOUND_ALLOW: &str = "127.0.0.0/8,::1/128,localhost";

/// Environment variables for a child process, on top of what it inherits.
#[derive(Clone, Debug, Default)]
pub struct Env(Vec<(String, OsString)>);

impl Env {
    /// The job queue on the emulator at `endpoint`, with its test credentials.
    pub fn queue(queue_url: &str, endpoint: &str) -> Env {
        Env::default()
            .set("JOB_QUEUE_URL", queue_url)
            .set("AWS_ENDPOINT_URL", endpoint)
            .set("AWS_ACCESS_KEY_ID", "test")
            .set("AWS_SECRET_ACCESS_KEY", "test")
            .set("AWS_REGION", "us-east-1")
    }

    /// What the functions need: the database, the queue, the secrets key, and outbound
    /// requests allowed to loopback ([`LOCAL_OUTBOUND_ALLOW`]).
    pub fn functions(database_url: &str, queue_url: &str, endpoint: &str, secret_key: &str) -> Env {
        Env::queue(queue_url, endpoint)
            .set("DATABASE_URL", database_url)
            .set("TERARCHITECT_SECRET_KEY", secret_key)
            .set("TERARCHITECT_OUTBOUND_ALLOW", LOCAL_OUTBOUND_ALLOW)
    }

    /// Sets (or replaces) `name`.
    pub fn set(mut self, name: &str, value: impl AsRef<OsStr>) -> Env {
        self.0.retain(|(n, _)| n != name);
        self.0.push((name.to_string(), value.as_ref().to_os_string()));
        self
    }

    pub fn get(&self, name: &str) -> Option<&OsStr> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_os_str())
    }

    /// Sets the variables on `cmd`; a process started here is never in a Lambda runtime.
    pub fn apply<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        for (n, v) in &self.0 {
            cmd.env(n, v);
        }
        cmd.env_remove("AWS_LAMBDA_RUNTIME_API")
    }
}

/// Where a process's stdout and stderr go.
pub enum Log {
    /// A new (truncated) file.
    File(PathBuf),
    /// The end of a file kept across restarts.
    Append(PathBuf),
    Null,
}

impl Log {
    fn attach(&self, cmd: &mut Command) -> std::io::Result<()> {
        let file = match self {
            Log::File(p) => std::fs::File::create(p)?,
            Log::Append(p) => std::fs::OpenOptions::new().create(true).append(true).open(p)?,
            Log::Null => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
                return Ok(());
            }
        };
        cmd.stdout(file.try_clone()?).stderr(file);
        Ok(())
    }
}

/// Spawns `cmd` with `env` and `log` in a process group of its own.
pub fn spawn(mut cmd: Command, env: &Env, log: &Log) -> Result<ProcessGroup> {
    env.apply(&mut cmd);
    log.attach(&mut cmd)?;
    let what = format!("{:?}", cmd.get_program());
    ProcessGroup::spawn(cmd).map_err(|e| format!("spawn {what}: {e}").into())
}

/// Runs `cmd` to completion; its trimmed stdout, or an error with its stderr.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Who a minted token is for.
#[derive(Debug, Clone, Copy)]
pub enum Holder<'a> {
    /// A person (or the UI): a `user` token.
    User,
    /// The worker host with this `WORKER_HOST_ID`: a `worker` token that acts as it only.
    Host(&'a str),
}

/// The functions' binaries (`api`, `worker-api`, `scheduler`, `migrate`, `admin`) in
/// `bins`, run with `env`.
pub struct Functions {
    pub bins: PathBuf,
    pub env: Env,
}

impl Functions {
    pub fn new(bins: impl Into<PathBuf>, env: Env) -> Functions {
        Functions { bins: bins.into(), env }
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.bins.join(name)
    }

    fn command(&self, name: &str) -> Command {
        let mut c = Command::new(self.bin(name));
        self.env.apply(&mut c);
        c
    }

    /// Applies the database migrations.
    pub fn migrate(&self) -> Result<()> {
        output(&mut self.command("migrate")).map(drop)
    }

    /// Mints an API token named `name` for `holder`.
    pub fn mint_token(&self, name: &str, holder: Holder) -> Result<String> {
        self.mint(name, holder, &[])
    }

    /// [`Functions::mint_token`] for a test suite, which writes faster than the per-token
    /// limits meant for people and hosts allow.
    pub fn mint_test_token(&self, name: &str, holder: Holder) -> Result<String> {
        self.mint(name, holder, &["--writes-per-minute", "1000000"])
    }

    fn mint(&self, name: &str, holder: Holder, extra: &[&str]) -> Result<String> {
        let mut c = self.command("admin");
        c.args(["mint-token", "--name", name]);
        match holder {
            Holder::User => c.args(["--kind", "user"]),
            Holder::Host(host) => c.args(["--kind", "worker", "--host", host]),
        };
        let out = output(c.args(extra))?;
        Ok(out.lines().last().unwrap_or_default().trim().to_string())
    }

    /// The UI's API on `listen` (host:port); with `static_dir`, also the built UI on the
    /// same origin (what CloudFront does in AWS).
    pub fn api(&self, listen: &str, static_dir: Option<&Path>, log: &Log) -> Result<ProcessGroup> {
        let mut env = self.env.clone().set("LISTEN_ADDR", listen);
        if let Some(d) = static_dir {
            env = env.set("STATIC_DIR", d);
        }
        spawn(Command::new(self.bin("api")), &env, log)
    }

    /// The worker API on `listen` (host:port).
    pub fn worker_api(&self, listen: &str, log: &Log) -> Result<ProcessGroup> {
        let env = self.env.clone().set("LISTEN_ADDR", listen);
        spawn(Command::new(self.bin("worker-api")), &env, log)
    }

    /// The scheduler, with `extra` variables (its periods).
    pub fn scheduler(&self, extra: &[(&str, &str)], log: &Log) -> Result<ProcessGroup> {
        let env = extra.iter().fold(self.env.clone(), |e, (n, v)| e.set(n, v));
        spawn(Command::new(self.bin("scheduler")), &env, log)
    }

    /// Both functions under `cargo lambda watch` on `addr`:`port`, built from
    /// `functions_dir` on the first request to each:
    /// `http://addr:port/lambda-url/{api,worker-api}/…`.
    pub fn lambda_watch(&self, functions_dir: &Path, addr: &str, port: u16, log: &Log) -> Result<ProcessGroup> {
        let mut watch = cargo();
        watch
            .args(["lambda", "watch", "-A", addr, "-P", &port.to_string()])
            .current_dir(functions_dir);
        spawn(watch, &self.env, log).map_err(|e| format!("{e} (cargo lambda is installed by ./dev)").into())
    }
}

/// A worker host (`bin`), configured by `env` (TERARCHITECT_API_URL, the token, the queue…).
pub fn worker_host(bin: &Path, env: &Env, log: &Log) -> Result<ProcessGroup> {
    spawn(Command::new(bin), env, log)
}
