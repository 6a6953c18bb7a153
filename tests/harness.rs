//! The whole stack on one machine, as `./dev up` runs it: a fresh Postgres database and
//! SQS queue (`./dev services`/`./dev test`), both functions under `cargo lambda watch`,
//! the UI served by the `api` binary, the scheduler, a worker host with the Docker
//! runtime running the `terarchitect-agent` image (`./dev agent-image`), a real bare git
//! repository the GitHub stand-in serves over smart HTTP, and the LLM and GitHub stand-ins. Everything the
//! agent containers reach listens on the Docker bridge gateway, which both the host and
//! the containers can address.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use terarchitect_testkit::git::{PYTHON_PROJECT, git};
use terarchitect_testkit::github::GitHubStandIn;
use terarchitect_testkit::llm::{LlmStandIn, Reply};
use terarchitect_testkit::process::ProcessGroup;
use terarchitect_testkit::stack::functions::{Functions, Holder, LOCAL_OUTBOUND_ALLOW, worker_host};
use terarchitect_testkit::stack::{Env, Log, free_port, wait_http};
use terarchitect_testkit::{TestDb, TestQueue};

/// The project's GitHub token: only the API and the worker host's git proxy hold it.
pub const GITHUB_TOKEN: &str = "ghp_system_test_secret";

pub const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const AGENT_IMAGE: &str = "terarchitect-agent:latest";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Where `cargo build` put the binaries (./dev exports CARGO_TARGET_DIR).
pub fn bin_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let dir = target.join("debug");
    for name in ["migrate", "admin", "api", "scheduler", "worker-host"] {
        let p = dir.join(name);
        assert!(
            p.exists(),
            "{} is missing: `cargo build --workspace --bins` first",
            p.display()
        );
    }
    dir
}

pub fn artifacts() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn output(cmd: &mut Command) -> String {
    terarchitect_testkit::stack::functions::output(cmd).unwrap_or_else(|e| panic!("{e}"))
}

/// The Docker bridge's gateway: the host's address as containers see it.
pub fn docker_gateway() -> String {
    let inspect = |format: &str| output(Command::new("docker").args(["network", "inspect", "bridge", "-f", format]));
    let gw = inspect("{{range .IPAM.Config}}{{.Gateway}}{{end}}");
    if !gw.is_empty() {
        return gw;
    }
    // Some engines leave the gateway out of IPAM: read the bridge interface's address.
    let dev = inspect("{{index .Options \"com.docker.network.bridge.name\"}}");
    let dev = if dev.is_empty() { "docker0".to_string() } else { dev };
    let addr = output(Command::new("ip").args(["-4", "-o", "addr", "show", "dev", &dev]));
    addr.split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("cannot tell the Docker bridge address from: {addr}"))
}

/// What a prompt-injected Worker would run inside the container: look for the project's
/// secrets (GitHub token, LLM keys) and any job token in its environment, every process's
/// environment and command line, and every writable place of the filesystem, then try to
/// push `main` and a tag. It prints only counts and paths: the secrets are put together
/// at run time, so this text holds none of them, and the processes are read before any
/// command has one among its arguments.
pub const PROBE: &str = r#"S1=$(printf '%s%s' ghp_system_test _secret); S2=$(printf '%s%s' sk-dir ector); S3=$(printf '%s%s' sk-wor ker); S4=$(printf '%s%s' TERARCHITECT_JOB_TOK EN=tj)
echo "PROBE uid $(id -u)"
env > /tmp/probe-env
for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do tr '\0' '\n' < "$f" 2>/dev/null; echo; done > /tmp/probe-proc
echo "PROBE env-hits $(grep -c -e "$S1" -e "$S2" -e "$S3" -e "$S4" /tmp/probe-env)"
echo "PROBE proc-hits $(grep -c -e "$S1" -e "$S2" -e "$S3" -e "$S4" /tmp/probe-proc)"
rm -f /tmp/probe-env /tmp/probe-proc
timeout 120 grep -rIl -e "$S1" -e "$S2" -e "$S3" /tmp /workspace /home /root /var /etc /run 2>/dev/null | sed 's|^|FOUND-IN |'
git push origin HEAD:main >/dev/null 2>&1 && echo "PROBE pushed main" || echo "PROBE main refused"
git tag probe-tag && (git push origin probe-tag >/dev/null 2>&1 && echo "PROBE pushed a tag" || echo "PROBE tag refused")
git ls-remote https://github.com/acme/shop.git >/dev/null 2>&1 && echo "PROBE reached GitHub directly" || echo "PROBE direct GitHub refused"
echo PROBE-END"#;

/// The Director's and the Worker's side of an implement run that fixes `add` (the Worker
/// running [`PROBE`] on the way), then of a review run that adds a docstring.
pub fn implement_script() -> (Vec<Reply>, Vec<Reply>) {
    let director = vec![
        Reply::json(
            json!({"action": "approve_plan", "plan": "1. Make add() in calc.py return a + b\n2. Run make test"}),
        ),
        Reply::json(
            json!({"action": "done", "summary": "Fixed add() in calc.py to return the sum.", "test_command": "make test"}),
        ),
        Reply::json(json!({"entities": ["add()", "calc.py"], "triples": [["add()", "is defined in", "calc.py"]]})),
    ];
    let worker = vec![
        Reply::tool("list_files", json!({})),
        Reply::text("calc.py defines add(), which subtracts; test_calc.py tests it with `make test`."),
        Reply::text("Plan:\n1. In calc.py make add() return a + b.\n2. Run `make test`."),
        Reply::tool(
            "replace",
            json!({"path": "calc.py", "old": "return a - b", "new": "return a + b"}),
        ),
        Reply::tool("run_command", json!({"command": PROBE})),
        Reply::tool("run_command", json!({"command": "make test"})),
        Reply::text("Changed add() to return a + b; `make test` passes."),
    ];
    (director, worker)
}

pub fn review_script() -> (Vec<Reply>, Vec<Reply>) {
    let director = vec![
        Reply::json(
            json!({"action": "done", "summary": "Added the docstring asked for.", "test_command": "make test"}),
        ),
        Reply::json(json!({"entities": ["add()"], "triples": [["add()", "has", "a docstring"]]})),
    ];
    let worker = vec![
        Reply::tool(
            "replace",
            json!({"path": "calc.py", "old": "def add(a, b):\n", "new": "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n"}),
        ),
        Reply::tool("run_command", json!({"command": "make test"})),
        Reply::text("Added a docstring to add(); `make test` passes."),
    ];
    (director, worker)
}

pub struct System {
    pub db: TestDb,
    pub queue: TestQueue,
    pub gateway: String,
    pub director: LlmStandIn,
    pub worker: LlmStandIn,
    pub embeddings: LlmStandIn,
    pub github: GitHubStandIn,
    /// The project's remote, as served to the agent.
    pub remote: PathBuf,
    pub repo_url: String,
    /// The UI (and the same API code) on one origin.
    pub ui: String,
    pub user_token: String,
    worker_token: String,
    lambda_port: u16,
    host_id: String,
    pub host: Option<ProcessGroup>,
    git_proxy_port: u16,
    _procs: Vec<ProcessGroup>,
    _dir: tempfile::TempDir,
}

impl System {
    pub async fn start(director: Vec<Reply>, worker: Vec<Reply>) -> System {
        terarchitect_testkit::docker::require_engine();
        let image = Command::new("docker")
            .args(["image", "inspect", AGENT_IMAGE])
            .output()
            .unwrap();
        assert!(
            image.status.success(),
            "the agent image is missing: run `./dev agent-image`"
        );
        let db = TestDb::new().await;
        let queue = TestQueue::new().await;
        let gateway = docker_gateway();
        let dir = tempfile::tempdir().unwrap();
        let logs = artifacts();
        let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();

        // The project's remote: a bare repository that the GitHub stand-in serves over
        // smart HTTP (pushes only with the project's token, which the host's git proxy adds).
        let remote = dir.path().join("git/acme/shop.git");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&remote).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        git(&remote, &["init", "--bare", "--initial-branch=main", "."]);
        git(&work, &["init", "--initial-branch=main", "."]);
        for (path, content) in PYTHON_PROJECT {
            std::fs::write(work.join(path), content).unwrap();
        }
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-m", "initial"]);
        git(&work, &["push", remote.to_str().unwrap(), "main"]);
        let mut procs = Vec::new();

        let director = LlmStandIn::start_at(&gateway, director).await;
        let worker = LlmStandIn::start_at(&gateway, worker).await;
        let embeddings = LlmStandIn::start_at(&gateway, vec![]).await;
        let github = GitHubStandIn::start_at(&gateway).await;
        // Pull requests' commits and files come from the real remote, which git reaches
        // over smart HTTP.
        github.serve_repo("acme", "shop", remote.clone());
        github.require_push_token(GITHUB_TOKEN);
        let repo_url = github.repo_url("acme", "shop");

        let env = Env::functions(&db.url, &queue.url, &queue.endpoint, SECRET_KEY)
            .set("GITHUB_API_URL", &github.url)
            // The stand-ins listen on the Docker bridge, a private address.
            .set(
                "TERARCHITECT_OUTBOUND_ALLOW",
                format!("{LOCAL_OUTBOUND_ALLOW},{gateway}"),
            )
            .set("RUST_LOG", "info");
        let functions = Functions::new(bin_dir(), env);
        functions.migrate().unwrap();
        let user_token = functions.mint_test_token("system-user", Holder::User).unwrap();
        let host_id = format!("system-{tag}");
        let worker_token = functions
            .mint_test_token("system-worker", Holder::Host(&host_id))
            .unwrap();

        // Both functions under the Lambda runtime emulation, on the gateway so agents reach it.
        let lambda_port = free_port();
        let lambda_log = Log::File(logs.join(format!("lambda-{tag}.log")));
        procs.push(
            functions
                .lambda_watch(&root().join("functions"), &gateway, lambda_port, &lambda_log)
                .unwrap(),
        );

        let ui_port = free_port();
        let (dist, ui_log) = (root().join("web/dist"), Log::File(logs.join(format!("ui-{tag}.log"))));
        procs.push(
            functions
                .api(&format!("127.0.0.1:{ui_port}"), Some(&dist), &ui_log)
                .unwrap(),
        );
        assert!(dist.join("index.html").exists(), "build the UI first (web_build)");

        let every_second = [("SCHEDULER_EVERY_SECONDS", "1"), ("REVIEW_POLL_EVERY_SECONDS", "1")];
        let scheduler_log = Log::File(logs.join(format!("scheduler-{tag}.log")));
        procs.push(functions.scheduler(&every_second, &scheduler_log).unwrap());

        let mut sys = System {
            db,
            queue,
            director,
            worker,
            embeddings,
            github,
            remote,
            repo_url,
            ui: format!("http://127.0.0.1:{ui_port}"),
            user_token,
            worker_token,
            lambda_port,
            host_id,
            host: None,
            git_proxy_port: free_port(),
            gateway,
            _procs: procs,
            _dir: dir,
        };
        for url in [
            format!("{}/api/health", sys.ui),
            sys.lambda_url("worker-api", "/worker/health"),
        ] {
            // The first request through cargo lambda watch builds and starts the function.
            let (ten_minutes, minute) = (Duration::from_secs(600), Duration::from_secs(60));
            let answered = wait_http(&url, Some(&sys.user_token), ten_minutes, minute, |s| s < 500).await;
            answered.unwrap_or_else(|e| panic!("{e}"));
        }
        sys.configure().await;
        sys.start_host();
        sys
    }

    pub fn lambda_url(&self, function: &str, path: &str) -> String {
        format!(
            "http://{}:{}/lambda-url/{function}{path}",
            self.gateway, self.lambda_port
        )
    }

    /// Global settings: the stand-ins, keys and git identity, through the API.
    async fn configure(&self) {
        let settings = json!({
            "director_llm_url": self.director.url, "director_llm_model": "director", "director_llm_key": "sk-director",
            "worker_llm_url": self.worker.url, "worker_llm_model": "worker", "worker_llm_key": "sk-worker",
            "embedding_url": self.embeddings.url, "embedding_model": "embed",
            "github_token": GITHUB_TOKEN, "github_api_url": self.github.url,
            "git_author_name": "Terarchitect Agent", "git_author_email": "agent@example.com",
        });
        self.api("PUT", "/api/settings", Some(settings)).await;
    }

    /// Starts (or restarts) the worker host; the same host id and git proxy port after a
    /// restart (the running agents keep their proxy URL).
    pub fn start_host(&mut self) {
        let env = Env::queue(&self.queue.url, &self.queue.endpoint)
            .set("TERARCHITECT_API_URL", self.lambda_url("worker-api", ""))
            .set("TERARCHITECT_WORKER_TOKEN", &self.worker_token)
            .set("WORKER_HOST_ID", &self.host_id)
            .set("WORKER_RUNTIME", "docker")
            .set("AGENT_IMAGE", AGENT_IMAGE)
            // This engine refuses --privileged, so no Docker-in-Docker here.
            .set("AGENT_ISOLATION", "plain")
            .set("MAX_CONCURRENT_AGENTS", "2")
            .set("HEARTBEAT_INTERVAL_SECS", "2")
            .set("POLL_WAIT_SECS", "1")
            // The stand-in serves git over plain http on the Docker bridge.
            .set("GIT_PROXY_PLAIN_HTTP_HOSTS", &self.gateway)
            // Loopback only: agents reach it through their job's egress proxy.
            .set("GIT_PROXY_LISTEN", format!("127.0.0.1:{}", self.git_proxy_port))
            .set("RUST_LOG", "info");
        let log = Log::Append(artifacts().join(format!("{}.log", self.host_id)));
        self.host = Some(worker_host(&bin_dir().join("worker-host"), &env, &log).unwrap());
    }

    /// A UI API call with the user token; panics on failure.
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = reqwest::Client::new()
            .request(m, format!("{}{path}", self.ui))
            .bearer_auth(&self.user_token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Ids of this job's agent containers (running or not).
    pub fn containers(&self, job_id: &str) -> Vec<String> {
        output(Command::new("docker").args([
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!("label=terarchitect.job-id={job_id}"),
        ]))
        .lines()
        .map(str::to_owned)
        .collect()
    }

    /// Whether one of this job's agent containers is running.
    pub fn container_running(&self, job_id: &str) -> bool {
        !output(Command::new("docker").args([
            "ps",
            "-q",
            "--filter",
            &format!("label=terarchitect.job-id={job_id}"),
            "--filter",
            "status=running",
        ]))
        .trim()
        .is_empty()
    }

    pub fn remote_git(&self, args: &[&str]) -> String {
        git(&self.remote, args)
    }

    /// Runs the project's tests on a fresh checkout of `branch`.
    pub fn tests_pass_on(&self, branch: &str) -> bool {
        let dir = tempfile::tempdir().unwrap();
        git(
            dir.path(),
            &["clone", "-q", "--branch", branch, self.remote.to_str().unwrap(), "."],
        );
        Command::new("make")
            .arg("test")
            .current_dir(dir.path())
            .status()
            .unwrap()
            .success()
    }

    /// Removes this system's agent containers (the worker host normally does).
    pub fn remove_containers(&self, job_ids: &[String]) {
        for j in job_ids {
            for c in self.containers(j) {
                let _ = Command::new("docker").args(["rm", "-f", &c]).output();
            }
        }
    }
}
