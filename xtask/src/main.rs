//! `cargo xtask COMMAND`: the stack's commands. `./dev` installs the tools (apt, rustup,
//! the Python venv, cargo tools, Docker, the Postgres user) and hands over here:
//!
//!   services  Postgres and the SQS emulator for `cargo test` by hand; prints the exports
//!   up        the whole stack (./dev up)
//!   test      every check and test, with throw-away services (./dev test)
//!   bench     the benchmark programs against throw-away services (./dev bench)
//!   admin     the operator CLI against the `up` stack (./dev admin, ./dev token)
//!
//! Services are started through `terarchitect-stack`, as the system and browser tests do.

mod up;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use terarchitect_stack::process::{cargo, set_by_cargo};
use terarchitect_stack::{Env, Moto, Postgres, Result, free_port};

pub fn log(msg: &str) {
    eprintln!("\x1b[1;34m[dev]\x1b[0m {msg}");
}

/// Where things are: the checkout, cargo's target, and what ./dev installed.
pub struct Paths {
    pub root: PathBuf,
    pub target: PathBuf,
    pub venv: PathBuf,
    pub pg_bin: PathBuf,
    /// Project-local runtime state (database files, logs).
    pub state: PathBuf,
}

impl Paths {
    fn new() -> Result<Paths> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .ok_or("no root")?
            .to_path_buf();
        let from_dev = |name: &str| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .ok_or_else(|| format!("{name} is not set: run this through ./dev"))
        };
        Ok(Paths {
            target: std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("target")),
            venv: from_dev("TERARCHITECT_VENV")?,
            pg_bin: from_dev("TERARCHITECT_PG_BIN")?,
            state: root.join(".dev"),
            root,
        })
    }

    pub fn debug(&self, bin: &str) -> PathBuf {
        self.target.join("debug").join(bin)
    }
}

pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

pub fn port(name: &str, default: u16) -> Result<u16> {
    match std::env::var(name) {
        Ok(p) => Ok(p.parse().map_err(|_| format!("{name}={p} is not a port"))?),
        Err(_) => Ok(default),
    }
}

/// Runs `cmd`; an error when it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    if !status.success() {
        return Err(format!("{cmd:?} failed ({status})").into());
    }
    Ok(())
}

/// `cargo ARGS` with `env`.
pub fn cargo_with(env: &Env, args: &[&str]) -> Result<()> {
    run(env.apply(cargo().args(args)))
}

/// Ctrl-C or SIGTERM. Created before the services start, so that a signal meanwhile
/// stops them instead of killing this process past its clean-up.
pub struct Signals(tokio::signal::unix::Signal, tokio::signal::unix::Signal);

impl Signals {
    pub fn new() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals(
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        ))
    }

    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.0.recv() => {}
            _ = self.1.recv() => {}
        }
    }
}

/// The SQS emulator and Postgres of `./dev services`, `./dev test` and `./dev bench`.
struct Services {
    moto: Moto,
    pg: Postgres,
}

impl Services {
    async fn start(paths: &Paths, pg_data: &Path, pg_port: u16, moto_port: u16, moto_log: &Path) -> Result<Services> {
        let pg = Postgres::start(&paths.pg_bin, pg_data, pg_port)?;
        let moto = Moto::start(&paths.venv.join("bin/moto_server"), moto_port, moto_log).await?;
        Ok(Services { moto, pg })
    }

    /// What the test kit reads.
    fn test_env(&self) -> Env {
        Env::default()
            .set("TERARCHITECT_TEST_PG_URL", self.pg.url("postgres"))
            .set("TERARCHITECT_TEST_SQS_URL", &self.moto.endpoint)
            .set("AWS_ACCESS_KEY_ID", "test")
            .set("AWS_SECRET_ACCESS_KEY", "test")
            .set("AWS_REGION", "us-east-1")
    }
}

/// Postgres and moto for running `cargo test` by hand, until Ctrl-C.
async fn services() -> Result<()> {
    let paths = Paths::new()?;
    let mut signals = Signals::new()?;
    std::fs::create_dir_all(&paths.state)?;
    let (pg_port, moto_port) = (port("PG_PORT", 54329)?, port("SQS_PORT", 54330)?);
    let mut s = Services::start(
        &paths,
        &paths.state.join("pgdata"),
        pg_port,
        moto_port,
        &paths.state.join("moto.log"),
    )
    .await?;
    println!("export TERARCHITECT_TEST_PG_URL={}", s.pg.url("postgres"));
    println!("export TERARCHITECT_TEST_SQS_URL={}", s.moto.endpoint);
    println!("export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1");
    log("services up; Ctrl-C stops them");
    let moto = s.moto.group.child();
    tokio::select! {
        _ = signals.recv() => {}
        _ = async { while matches!(moto.try_wait(), Ok(None)) { tokio::time::sleep(Duration::from_millis(500)).await } } => {}
    }
    Ok(())
}

/// Runs `body` with a throw-away Postgres and moto (in a fresh directory under /tmp),
/// passing the variables the test kit reads; stops them afterwards.
async fn with_test_services(body: impl AsyncFnOnce(&Paths, &Env) -> Result<()>) -> Result<()> {
    let paths = Paths::new()?;
    let _signals = Signals::new()?;
    let run = tempfile::Builder::new()
        .prefix("terarchitect-test.")
        .tempdir_in("/tmp")?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(run.path(), std::fs::Permissions::from_mode(0o755))?;
    }
    let (pg_port, moto_port) = (free_port(), free_port());
    let services = Services::start(
        &paths,
        &run.path().join("pg"),
        pg_port,
        moto_port,
        &run.path().join("moto.log"),
    )
    .await?;
    log(&format!("Postgres on :{pg_port}, moto on :{moto_port}"));
    let result = body(&paths, &services.test_env()).await;
    drop(services);
    drop(run);
    result
}

/// fmt, clippy, machete, deny, the OpenAPI and CloudFormation checks, then every test.
async fn test() -> Result<()> {
    let paths = Paths::new()?;
    let none = Env::default();
    log("cargo fmt --check");
    cargo_with(&none, &["fmt", "--all", "--", "--check"])?;
    log("cargo clippy -D warnings");
    cargo_with(
        &none,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    log("cargo machete (unused dependencies)");
    // The root workspace's members; web/ is its own.
    cargo_with(
        &none,
        &[
            "machete",
            "functions",
            "worker-host",
            "agent",
            "crates",
            "tests",
            "xtask",
        ],
    )?;
    log("cargo deny (licences, duplicate versions, sources; advisories need the internet)");
    let deny = ["deny", "--log-level", "error", "check", "licenses", "bans", "sources"];
    cargo_with(&none, &deny)?;
    let web = ["--manifest-path", "web/Cargo.toml"];
    cargo_with(&none, &[&deny[..3], &web[..], &deny[3..]].concat())?;
    log("validating the committed OpenAPI document");
    run(Command::new(paths.venv.join("bin/openapi-spec-validator")).arg("docs/openapi.json"))?;
    log("cfn-lint infra/template.yaml");
    run(Command::new(paths.venv.join("bin/cfn-lint")).arg("infra/template.yaml"))?;
    log("building tests");
    // The same package selection as the test run: features unify per selection, so any
    // other selection would build every dependency again.
    cargo_with(
        &none,
        &[
            "test",
            "--workspace",
            "--locked",
            "--exclude",
            "terarchitect-system-tests",
            "--no-run",
        ],
    )?;
    // What `cargo lambda watch` builds (the functions alone, their own feature set), for
    // the tests that start it: built here, not inside their timeouts.
    cargo_with(&none, &["build", "--locked", "-p", "terarchitect-functions", "--bins"])?;
    with_test_services(async |paths, env| run_all_tests(paths, env)).await
}

/// Every Rust test of the workspace, then the UI's own checks and its browser tests, then
/// the system tests.
fn run_all_tests(paths: &Paths, env: &Env) -> Result<()> {
    let threads = format!("--test-threads={}", env_or("TEST_THREADS", "4"));
    cargo_with(
        env,
        &[
            "test",
            "--workspace",
            "--locked",
            "--exclude",
            "terarchitect-system-tests",
            "--",
            &threads,
        ],
    )?;
    log("web UI: install, build, fmt, clippy, unit and browser tests");
    run(env.apply(
        Command::new("bash")
            .arg(paths.root.join("web/build.sh"))
            .arg("web_test"),
    ))?;
    log(
        "the whole system end to end (tests/): browser, functions under cargo lambda watch, worker host, agent containers",
    );
    cargo_with(env, &["build", "--workspace", "--locked", "--bins"])?;
    // As above; relinks what `--workspace` replaced.
    cargo_with(env, &["build", "--locked", "-p", "terarchitect-functions", "--bins"])?;
    run(env.apply(&mut agent_image(paths)))?;
    cargo_with(
        env,
        &[
            "test",
            "--locked",
            "-p",
            "terarchitect-system-tests",
            "--",
            "--nocapture",
        ],
    )
}

/// `./dev agent-image`: the agent image, built without a registry (bash: debootstrap,
/// docker import).
pub fn agent_image(paths: &Paths) -> Command {
    let mut c = Command::new(paths.root.join("dev"));
    c.arg("agent-image");
    c
}

async fn bench() -> Result<()> {
    with_test_services(async |_, env| {
        cargo_with(
            env,
            &[
                "bench",
                "--locked",
                "-p",
                "terarchitect-functions",
                "-p",
                "terarchitect-agent",
            ],
        )
    })
    .await
}

fn main() -> ExitCode {
    // Started by `cargo run`: drop what cargo set for this binary, or every cargo below
    // would see a changed environment and rerun build scripts (see `process::cargo`).
    // rustup's resolved toolchain goes too, so web/ picks its own (unless the user chose one).
    let toolchain_from_user = std::env::var("RUSTUP_TOOLCHAIN_SOURCE").is_ok_and(|s| s == "env");
    let inherited: Vec<_> = std::env::vars_os()
        .filter_map(|(n, _)| n.into_string().ok())
        .filter(|n| set_by_cargo(n) || (!toolchain_from_user && n.starts_with("RUSTUP_TOOLCHAIN")))
        .collect();
    for name in inherited {
        // SAFETY: no other thread exists yet (the runtime starts below).
        unsafe { std::env::remove_var(name) };
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Relative paths (docs/openapi.json, localstack-compose.yml) are the checkout's.
    if let Some(root) = Path::new(env!("CARGO_MANIFEST_DIR")).parent() {
        let _ = std::env::set_current_dir(root);
    }
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let result = runtime.block_on(async {
        match args.first().map(String::as_str) {
            Some("services") => services().await,
            Some("up") => up::up().await,
            Some("test") => test().await,
            Some("bench") => bench().await,
            Some("admin") => up::admin(&args[1..]),
            _ => Err("usage: cargo xtask services|up|test|bench|admin ARGS".into()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\x1b[1;31m[dev]\x1b[0m {e}");
            ExitCode::FAILURE
        }
    }
}
