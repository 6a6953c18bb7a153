//! Real services for the worker host: a fresh database and queue, the real worker API
//! served over HTTP in-process, jobs queued through the real domain, the real Docker engine.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use terarchitect_functions::domain::{self, App, JobQueue, SecretBox, crypto};
use terarchitect_functions::{http, store};
use terarchitect_protocol::{
    ColumnRole, ExecutionMode, Job, JobEvent, JobId, NewProject, NewTicket, Project, ProjectId, TokenKind,
};
use terarchitect_testkit::docker::{LabelGuard, scratch_image_from_source};
use terarchitect_testkit::{TestDb, TestQueue};
use terarchitect_worker_host::Config;
use uuid::Uuid;

pub const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const AGENT_IMAGE: &str = "terarchitect-test-agent";

pub fn agent_source() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-agent/main.rs")
}

/// The stand-in agent image (built once per test process).
pub fn agent_image() -> String {
    scratch_image_from_source(AGENT_IMAGE, &agent_source())
}

pub struct Env {
    pub app: App,
    pub db: TestDb,
    pub queue: TestQueue,
    pub worker_token: String,
    pub port: u16,
    pub host_id: String,
    pub project: Project,
    /// Where the API opens the scripted agents' PRs (`--pr`).
    pub github: terarchitect_testkit::github::GitHubStandIn,
    server: Option<tokio::task::JoinHandle<()>>,
    _guard: LabelGuard,
}

/// A listener every container can reach through host.docker.internal.
async fn listen(port: u16) -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind(("0.0.0.0", port))
        .await
        .expect("bind the test API")
}

pub fn serve(app: &App, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
    let router = http::worker_router(app.clone());
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve the worker API");
    })
}

impl Env {
    /// Everything up, the API served.
    pub async fn new() -> Env {
        let env = Env::without_api().await;
        env.start_api().await
    }

    /// Everything but the API: its port is reserved but nothing answers there.
    pub async fn without_api() -> Env {
        Env::without_api_on(TestQueue::new().await).await
    }

    /// [`Env::without_api`] on the given queue.
    pub async fn without_api_on(queue: TestQueue) -> Env {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("terarchitect_worker_host=debug")
            .try_init();
        agent_image();
        let db = TestDb::new().await;
        store::migrate(&db.pool).await.expect("migrate");
        let github = terarchitect_testkit::github::GitHubStandIn::start().await;
        let app = App {
            db: db.pool.clone(),
            queue: JobQueue::new(queue.client.clone(), queue.url.clone())
                .with_dead_letters(queue.dead_letter_url.clone()),
            secrets: Some(std::sync::Arc::new(SecretBox::from_key(SECRET_KEY).unwrap())),
            lease: Duration::from_secs(60),
            agent_writes_per_minute: domain::AGENT_WRITES_PER_MINUTE,
            github_api_url: github.url.clone(),
            anthropic_api_url: "http://127.0.0.1:1".into(),
            outbound: domain::outbound::Outbound::new(
                domain::outbound::Allowlist::parse(terarchitect_testkit::stack::functions::LOCAL_OUTBOUND_ALLOW)
                    .unwrap(),
            )
            .unwrap(),
        };
        let host_id = format!("test-{}", &Uuid::new_v4().simple().to_string()[..10]);
        let token = crypto::new_token("wt_");
        store::tokens::insert(
            &db.pool,
            "host",
            TokenKind::Worker,
            Some(&host_id),
            &crypto::hash_token(&token),
        )
        .await
        .unwrap();
        let port = listen(0).await.local_addr().unwrap().port();
        let project = domain::projects::create(
            &app,
            &NewProject {
                name: "shop".into(),
                repo_url: "https://example.com/acme/shop.git".into(),
                default_branch: "main".into(),
                ..Default::default()
            },
        )
        .await
        .expect("create project");
        // What a run needs, so that moves queue jobs (the scripted agents call nothing).
        let runnable: terarchitect_protocol::SettingsUpdate = [
            ("director_llm_url", "https://llm.invalid/v1"),
            ("director_llm_model", "placeholder-model"),
            ("github_token", "ghp_placeholder"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Some(serde_json::json!(v))))
        .collect();
        domain::settings::update(&app, None, &runnable).await.expect("settings");
        Env {
            app,
            db,
            queue,
            worker_token: token,
            port,
            _guard: LabelGuard(format!("terarchitect.host-id={host_id}")),
            host_id,
            project,
            github,
            server: None,
        }
    }

    pub async fn start_api(mut self) -> Env {
        let listener = listen(self.port).await;
        self.server = Some(serve(&self.app, listener));
        self
    }

    pub fn label(&self) -> String {
        format!("terarchitect.host-id={}", self.host_id)
    }

    /// Host settings for tests: fast heartbeats, short timeouts, plain isolation.
    pub fn args(&self, max: u32) -> Vec<String> {
        [
            "worker-host".to_string(),
            format!("--api-url=http://127.0.0.1:{}", self.port),
            format!("--agent-api-url=http://host.docker.internal:{}", self.port),
            format!("--worker-token={}", self.worker_token),
            format!("--queue-url={}", self.queue.url),
            format!("--aws-endpoint-url={}", self.queue.endpoint),
            format!("--host-id={}", self.host_id),
            format!("--max-concurrent-agents={max}"),
            format!("--agent-image={}", agent_image()),
            "--agent-args=--from-title".into(),
            "--isolation=plain".into(),
            // Many hosts at once in the tests: each its own port.
            "--git-proxy-listen=127.0.0.1:0".into(),
            "--agent-cpus=0.5".into(),
            "--agent-memory-mb=64".into(),
            "--agent-pids-limit=64".into(),
            "--heartbeat-interval-secs=1".into(),
            "--visibility-timeout-secs=5".into(),
            "--poll-wait-secs=2".into(),
            "--stop-grace-secs=3".into(),
            "--drain-grace-secs=2".into(),
            "--max-backoff-secs=2".into(),
        ]
        .into()
    }

    pub fn config(&self, max: u32) -> Config {
        Config::parse_from(self.args(max))
    }

    /// A ticket whose title is the agent's script, moved to In Progress: returns the job.
    pub async fn queue_job(&self, script: &str) -> JobId {
        self.queue_job_in(self.project.id, script).await
    }

    pub async fn queue_job_in(&self, project_id: ProjectId, script: &str) -> JobId {
        let ticket = domain::tickets::create(
            &self.app,
            project_id,
            &NewTicket {
                title: script.into(),
                whole_graph: true,
                ..Default::default()
            },
        )
        .await
        .expect("create ticket");
        let out = domain::tickets::move_to_role(&self.app, project_id, ticket.id, ColumnRole::InProgress)
            .await
            .expect("move ticket");
        out.job.expect("a job was queued").id
    }

    /// A project whose agents run as local processes in `dir`.
    pub async fn local_project(&self, dir: &str) -> Project {
        domain::projects::create(
            &self.app,
            &NewProject {
                name: "local".into(),
                repo_url: "https://example.com/acme/local.git".into(),
                default_branch: "main".into(),
                execution_mode: ExecutionMode::Local,
                local_path: Some(dir.into()),
                ..Default::default()
            },
        )
        .await
        .expect("create local project")
    }

    pub async fn job(&self, id: JobId) -> Job {
        store::jobs::get(&self.db.pool, id).await.unwrap()
    }

    pub async fn events(&self, id: JobId) -> Vec<JobEvent> {
        domain::jobs::events(&self.app, id, 0, 1000).await.unwrap().events
    }

    /// Messages in the queue, visible or not.
    pub async fn messages_in_queue(&self) -> i64 {
        self.queue.count(&self.queue.url).await
    }

    pub async fn send_raw(&self, body: &str) {
        self.queue
            .client
            .send_message()
            .queue_url(&self.queue.url)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }
}

/// A host running in this process until `stop` (which drains it).
pub struct RunningHost {
    pub host: std::sync::Arc<terarchitect_worker_host::Host<terarchitect_worker_host::runtime::DockerRuntime>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningHost {
    pub async fn docker(cfg: Config) -> RunningHost {
        let rt = terarchitect_worker_host::docker_runtime(&cfg).await.unwrap();
        let queue = terarchitect_worker_host::queue::Queue::connect(
            &cfg.queue_url,
            cfg.aws_endpoint_url.as_deref(),
            &cfg.aws_region,
        )
        .await;
        let host = std::sync::Arc::new(terarchitect_worker_host::Host::new(cfg, rt, queue));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let h = host.clone();
        let task = tokio::spawn(async move {
            h.run(async move {
                let _ = rx.await;
            })
            .await;
        });
        RunningHost {
            host,
            stop: Some(tx),
            task,
        }
    }

    pub fn is_alive(&self) -> bool {
        !self.task.is_finished()
    }

    /// Asks it to drain and waits for it to return.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(60), &mut self.task)
            .await
            .expect("host drained in time")
            .expect("host task did not panic");
    }
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
