//! `./dev up`: Postgres, moto, the functions under `cargo lambda watch`, the scheduler,
//! the UI and a worker host, on fixed ports, logs in `.dev/`; Ctrl-C stops everything.

use std::process::{Command, Stdio};
use std::time::Duration;

use terarchitect_stack::functions::{Functions, Holder, LOCAL_OUTBOUND_ALLOW, worker_host};
use terarchitect_stack::process::cargo;
use terarchitect_stack::{
    Env, Log, Moto, Postgres, ProcessGroup, Result, create_queue_with_dead_letters, sqs_client, wait_http,
};

use crate::{Paths, Signals, agent_image, env_or, log, port, run};

/// A fixed development key (base64 of `terarchitect-local-dev-key-32byt`); production
/// reads it from Secrets Manager/KMS.
const DEV_SECRET_KEY: &str = "dGVyYXJjaGl0ZWN0LWxvY2FsLWRldi1rZXktMzJieXQ=";
const QUEUE: &str = "terarchitect-jobs";

/// The environment of every process of the `up` stack.
fn up_env(pg_port: u16, moto_port: u16) -> Env {
    let endpoint = format!("http://127.0.0.1:{moto_port}");
    Env::functions(
        &format!("postgres://postgres@127.0.0.1:{pg_port}/terarchitect"),
        &format!("{endpoint}/123456789012/{QUEUE}"),
        &endpoint,
        &env_or("TERARCHITECT_SECRET_KEY", DEV_SECRET_KEY),
    )
    .set("JOB_DLQ_URL", format!("{endpoint}/123456789012/{QUEUE}-dlq"))
    // Loopback unless the developer lists more (an LLM on the LAN, say).
    .set(
        "TERARCHITECT_OUTBOUND_ALLOW",
        env_or("TERARCHITECT_OUTBOUND_ALLOW", LOCAL_OUTBOUND_ALLOW),
    )
}

/// `./dev admin ARGS` and `./dev token`: the operator CLI against the `up` stack.
pub fn admin(args: &[String]) -> Result<()> {
    let env = up_env(port("PG_PORT", 54329)?, port("SQS_PORT", 54330)?);
    let mut c = cargo();
    c.args(["run", "-q", "-p", "terarchitect-functions", "--bin", "admin", "--"])
        .args(args);
    run(env.apply(&mut c))
}

/// What runs, stopped in order when dropped (also on an error half-way).
#[derive(Default)]
struct Running {
    procs: Vec<ProcessGroup>,
    moto: Option<Moto>,
    pg: Option<Postgres>,
}

impl Drop for Running {
    fn drop(&mut self) {
        log("stopping");
        let grace = Duration::from_secs(5);
        for p in self.procs.drain(..) {
            p.terminate(grace);
        }
        if let Some(m) = self.moto.take() {
            m.group.terminate(grace);
        }
        self.pg.take();
        log("stopped");
    }
}

/// The services of localstack-compose.yml (LocalStack, pgvector) on the same ports.
async fn compose(paths: &Paths, pg_port: u16, moto_port: u16) -> Result<Env> {
    log("using the services of localstack-compose.yml");
    let plugin = Command::new("docker")
        .args(["compose", "version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let mut c = if plugin {
        let mut c = Command::new("docker");
        c.arg("compose");
        c
    } else {
        Command::new("docker-compose")
    };
    run(c.args(["-f", "localstack-compose.yml", "up", "-d"]))?;
    let database_url = format!("postgres://postgres:postgres@127.0.0.1:{pg_port}/terarchitect");
    let env = up_env(pg_port, moto_port).set("DATABASE_URL", &database_url);
    let health = format!("http://127.0.0.1:{moto_port}/_localstack/health");
    for _ in 0..120 {
        let ready = answers_ok(&health)
            && Command::new(paths.pg_bin.join("psql"))
                .args(["-q", &database_url, "-c", "SELECT 1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(env)
}

/// Whether a GET answers with a success (curl -sf).
fn answers_ok(url: &str) -> bool {
    Command::new("curl")
        .args(["-sf", "-o", "/dev/null", url])
        .status()
        .is_ok_and(|s| s.success())
}

pub async fn up() -> Result<()> {
    let paths = Paths::new()?;
    let mut signals = Signals::new()?;
    std::fs::create_dir_all(&paths.state)?;
    let (pg_port, moto_port) = (port("PG_PORT", 54329)?, port("SQS_PORT", 54330)?);
    let (api_port, ui_port) = (port("API_PORT", 9000)?, port("UI_PORT", 8080)?);
    let mut running = Running::default();
    let env = if env_or("TERARCHITECT_SERVICES", "embedded") == "compose" {
        compose(&paths, pg_port, moto_port).await?
    } else {
        let pg = running
            .pg
            .insert(Postgres::start(&paths.pg_bin, &paths.state.join("pgdata"), pg_port)?);
        pg.ensure_database("terarchitect")?;
        let moto_server = paths.venv.join("bin/moto_server");
        running.moto = Some(Moto::start(&moto_server, moto_port, &paths.state.join("moto.log")).await?);
        up_env(pg_port, moto_port)
    };
    let endpoint = format!("http://127.0.0.1:{moto_port}");
    // As deployed (infra/template.yaml): five receives, then the dead-letter queue.
    create_queue_with_dead_letters(&sqs_client(&endpoint).await, QUEUE, 120, 5).await?;
    log("building the functions");
    crate::cargo_with(&env, &["build", "-p", "terarchitect-functions", "--bins"])?;
    let functions = Functions::new(paths.target.join("debug"), env.clone());
    functions.migrate()?;
    log("building the worker host and the agent image");
    crate::cargo_with(
        &env,
        &[
            "build",
            "-p",
            "terarchitect-worker-host",
            "-p",
            "terarchitect-agent",
            "--bins",
        ],
    )?;
    if run(&mut agent_image(&paths)).is_err() {
        log("the agent image could not be built: agents will run as local processes");
    }
    log("building the web UI");
    let build_sh = paths.root.join("web/build.sh");
    run(Command::new("bash").arg(&build_sh).arg("web_install"))?;
    run(Command::new("bash").arg(&build_sh).arg("web_build"))?;

    // Agent containers reach the API through the Docker host gateway, so with the docker
    // runtime the emulator listens on all interfaces (every route still needs a token).
    let image = env_or("AGENT_IMAGE", "terarchitect-agent:latest");
    let has_image = Command::new("docker")
        .args(["image", "inspect", &image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let (runtime, listen, agent_api) = if has_image {
        (
            "docker",
            "0.0.0.0",
            format!("http://host.docker.internal:{api_port}/lambda-url/worker-api"),
        )
    } else {
        (
            "local",
            "127.0.0.1",
            format!("http://127.0.0.1:{api_port}/lambda-url/worker-api"),
        )
    };
    log(&format!(
        "starting the API under cargo lambda watch, the scheduler, the UI and the worker host ({runtime} runtime)"
    ));
    let logs = ["api", "scheduler", "ui", "worker-host"].map(|n| paths.state.join(format!("{n}.log")));
    let [api_log, scheduler_log, ui_log] = [&logs[0], &logs[1], &logs[2]].map(|l| Log::File(l.clone()));
    let host_log = logs[3].clone();
    running
        .procs
        .push(functions.lambda_watch(&paths.root.join("functions"), listen, api_port, &api_log)?);
    running.procs.push(functions.scheduler(&[], &scheduler_log)?);
    // The UI and the same API code on one origin (what CloudFront does in AWS).
    let dist = paths.root.join("web/dist");
    running
        .procs
        .push(functions.api(&format!("127.0.0.1:{ui_port}"), Some(&dist), &ui_log)?);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    // One host id per checkout: stacks sharing a Docker engine never touch each other's agents.
    let host_id = dev_host_id(&paths.root);
    let worker_token = functions.mint_token(&format!("dev-worker-host-{now}"), Holder::Host(&host_id))?;
    let host_env = env
        .clone()
        .set(
            "TERARCHITECT_API_URL",
            format!("http://127.0.0.1:{api_port}/lambda-url/worker-api"),
        )
        .set("TERARCHITECT_AGENT_API_URL", &agent_api)
        .set("TERARCHITECT_WORKER_TOKEN", &worker_token)
        .set("WORKER_HOST_ID", &host_id)
        .set("WORKER_RUNTIME", runtime)
        .set("AGENT_ISOLATION", env_or("AGENT_ISOLATION", "plain"))
        .set("AGENT_EGRESS", egress_mode())
        .set("LOCAL_AGENT_BIN", paths.debug("terarchitect-agent"));
    let host_bin = paths.debug("worker-host");
    // Appended to: what the host said before it died stays readable after a restart.
    let host_file = Log::Append(host_log.clone());
    let mut host = Supervised::start("the worker host", &host_log, move || {
        worker_host(&host_bin, &host_env, &host_file)
    })?;

    let health = format!("http://127.0.0.1:{api_port}/lambda-url/api/api/health");
    let answers = wait_http(&health, None, Duration::from_secs(600), Duration::from_secs(10), |s| {
        s == 200
    });
    tokio::select! {
        r = answers => if r.is_err() {
            let api = std::fs::read_to_string(&logs[0]).unwrap_or_default();
            let lines: Vec<&str> = api.lines().collect();
            println!("{}", lines[lines.len().saturating_sub(30)..].join("\n"));
            return Err("API did not come up".into());
        },
        _ = signals.recv() => return Ok(()),
    }
    let queue_url = env.get("JOB_QUEUE_URL").unwrap_or_default().to_string_lossy();
    println!(
        "
  Terarchitect is up.
    UI          http://127.0.0.1:{ui_port}/   (sign in with a token from ./dev token NAME)
    API         http://127.0.0.1:{api_port}/lambda-url/api/api/...    (e.g. GET /lambda-url/api/api/projects)
    Worker API  http://127.0.0.1:{api_port}/lambda-url/worker-api/worker/...
    Postgres    postgres://postgres@127.0.0.1:{pg_port}/terarchitect
    SQS (moto)  http://127.0.0.1:{moto_port}   queue: {queue_url}
    Worker host {runtime} runtime (docker when the image {image} exists; it runs {runtime} projects only)
    Logs        {}/*.log
  Mint an API token:  ./dev token my-laptop
  Ctrl-C stops everything.
",
        paths.state.display()
    );
    let mut tail = Command::new("tail");
    tail.args(["-n", "+1", "-F"]).args(&logs);
    running.procs.push(ProcessGroup::spawn(tail)?);
    tokio::select! {
        _ = signals.recv() => {}
        r = host.keep_running() => r?,
    }
    host.stop();
    Ok(())
}

/// The worker host's id under `./dev up`: one per checkout, so that two stacks on one
/// Docker engine never reconcile (stop and remove) each other's agent containers.
pub fn dev_host_id(root: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    format!(
        "dev-{:08x}",
        terarchitect_stack::fnv1a(root.as_os_str().as_bytes()) as u32
    )
}

/// A process that `./dev up` restarts when it dies, saying so loudly; it gives up when it
/// keeps dying (5 times within a minute).
pub struct Supervised<F> {
    name: &'static str,
    log: std::path::PathBuf,
    start: F,
    proc: Option<ProcessGroup>,
    deaths: Vec<std::time::Instant>,
}

impl<F: FnMut() -> Result<ProcessGroup>> Supervised<F> {
    pub fn start(name: &'static str, log: &std::path::Path, mut start: F) -> Result<Self> {
        let proc = Some(start()?);
        Ok(Supervised {
            name,
            log: log.to_path_buf(),
            start,
            proc,
            deaths: Vec::new(),
        })
    }

    /// Returns only when the process keeps dying (an error) or cannot be started again.
    pub async fn keep_running(&mut self) -> Result<()> {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let Some(status) = self.proc.as_mut().and_then(|p| p.child().try_wait().ok().flatten()) else {
                continue;
            };
            let now = std::time::Instant::now();
            self.deaths.retain(|t| now.duration_since(*t) < Duration::from_secs(60));
            self.deaths.push(now);
            eprintln!(
                "\n\x1b[1;31m[dev] {} DIED ({status}); see {}\x1b[0m",
                self.name,
                self.log.display()
            );
            if self.deaths.len() >= 5 {
                self.proc = None;
                return Err(format!("{} died 5 times within a minute; not restarting it", self.name).into());
            }
            eprintln!("\x1b[1;31m[dev] restarting {}\x1b[0m\n", self.name);
            self.proc = Some((self.start)()?);
        }
    }

    pub fn stop(&mut self) {
        if let Some(p) = self.proc.take() {
            p.terminate(Duration::from_secs(5));
        }
    }

    #[cfg(test)]
    fn restarts(&self) -> usize {
        self.deaths.len()
    }
}

/// `AGENT_EGRESS` for the local worker host: the allowlist needs iptables, so root; as
/// another user, agents may connect anywhere, and `up` says so.
fn egress_mode() -> String {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let mode = env_or("AGENT_EGRESS", if root { "allowlist" } else { "open" });
    if mode == "open" {
        log("AGENT_EGRESS=open: agent containers may connect anywhere (the egress allowlist needs root)");
    }
    mode
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_checkout_has_its_own_stable_host_id() {
        let a = dev_host_id(std::path::Path::new("/home/ann/terarchitect"));
        assert_eq!(a, dev_host_id(std::path::Path::new("/home/ann/terarchitect")));
        assert_ne!(a, dev_host_id(std::path::Path::new("/home/ann/terarchitect-2")));
        assert!(a.starts_with("dev-") && a.len() == 12, "{a}");
    }

    #[tokio::test]
    async fn a_dying_process_is_restarted_until_it_keeps_dying() {
        let dir = tempfile::tempdir().unwrap();
        let starts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = starts.clone();
        let mut p = Supervised::start("a test process", &dir.path().join("log"), move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(ProcessGroup::spawn(Command::new("false"))?)
        })
        .unwrap();
        let err = tokio::time::timeout(Duration::from_secs(30), p.keep_running())
            .await
            .expect("gives up in time")
            .unwrap_err();
        assert!(err.to_string().contains("died 5 times"), "{err}");
        assert_eq!((p.restarts(), starts.load(std::sync::atomic::Ordering::SeqCst)), (5, 5));
    }
}
