//! The real API (in-process, over real HTTP), real Postgres and SQS emulator, a real git
//! remote, and the two stand-ins for paid services: an LLM server and GitHub.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use terarchitect_agent::Config;
use terarchitect_agent::llm::RetryPolicy;
use terarchitect_functions::domain::{self, App, JobQueue};
use terarchitect_functions::{http, store};
use terarchitect_protocol::*;
use terarchitect_testkit::git::{TempRepo, git};
use terarchitect_testkit::github::GitHubStandIn;
use terarchitect_testkit::llm::{LlmStandIn, Reply};
use terarchitect_testkit::{TestDb, TestQueue};

pub const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const GITHUB_TOKEN: &str = "ghp_test_secret_token_0123456789";
pub const DIRECTOR_KEY: &str = "sk-director-secret-key-abc";
pub const WORKER_KEY: &str = "sk-worker-secret-key-xyz";

/// The broken Python project (`make test` fails until `add` is fixed).
pub fn python_repo() -> TempRepo {
    TempRepo::python_project()
}

pub struct Env {
    pub app: App,
    pub db: TestDb,
    _queue: TestQueue,
    pub api_url: String,
    pub repo: TempRepo,
    pub director: LlmStandIn,
    pub worker: LlmStandIn,
    pub github: GitHubStandIn,
    pub project_id: ProjectId,
    pub ticket_id: TicketId,
    pub job_id: JobId,
    pub token: String,
    pub work: tempfile::TempDir,
}

pub struct Setup {
    pub title: &'static str,
    pub description: &'static str,
    pub kind: JobKind,
    /// Extra settings on top of the stand-in URLs and keys.
    pub settings: Value,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            title: "Fix add()",
            description: "add(2, 3) returns -1; it must return the sum. `make test` must pass.",
            kind: JobKind::Implement,
            settings: json!({}),
        }
    }
}

pub async fn serve_api(app: App) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = http::worker_router(app);
    tokio::spawn(async move {
        axum::serve(listener, router).await.ok();
    });
    format!("http://{addr}")
}

pub async fn new_app() -> (App, TestDb, TestQueue) {
    let db = TestDb::new().await;
    store::migrate(&db.pool).await.expect("migrate");
    let queue = TestQueue::new().await;
    let app = App::for_tests(
        db.pool.clone(),
        JobQueue::new(queue.client.clone(), queue.url.clone()),
        SECRET_KEY,
        Duration::from_secs(600),
        terarchitect_testkit::stack::functions::LOCAL_OUTBOUND_ALLOW,
    );
    (app, db, queue)
}

impl Env {
    /// Everything up to a claimed job; `before_claim` may prepare the repository.
    pub async fn new(repo: TempRepo, setup: Setup, director: Vec<Reply>, worker: Vec<Reply>) -> Env {
        Self::with(repo, setup, director, worker, |_, _| {}).await
    }

    pub async fn with(
        repo: TempRepo,
        setup: Setup,
        director: Vec<Reply>,
        worker: Vec<Reply>,
        before_claim: impl FnOnce(&TempRepo, TicketId),
    ) -> Env {
        let (app, db, queue) = new_app().await;
        let api_url = serve_api(app.clone()).await;
        let director = LlmStandIn::start(director).await;
        let worker = LlmStandIn::start(worker).await;
        let github = GitHubStandIn::start().await;
        // The project's repository as GitHub serves it: REST for the API, git over HTTP.
        github.serve_repo("acme", "shop", repo.remote.clone());
        let project = domain::projects::create(
            &app,
            &NewProject {
                name: "calc".into(),
                description: "A calculator".into(),
                repo_url: github.repo_url("acme", "shop"),
                default_branch: "main".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let ticket = domain::tickets::create(
            &app,
            project.id,
            &NewTicket {
                title: setup.title.into(),
                description: setup.description.into(),
                whole_graph: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let settings: SettingsUpdate = [
            ("director_llm_url", json!(director.url)),
            ("director_llm_model", json!("director-model")),
            ("director_llm_key", json!(DIRECTOR_KEY)),
            ("worker_llm_url", json!(worker.url)),
            ("worker_llm_model", json!("worker-model")),
            ("worker_llm_key", json!(WORKER_KEY)),
            ("github_token", json!(GITHUB_TOKEN)),
            ("github_api_url", json!(github.url)),
            ("git_author_name", json!("Agent Smith")),
            ("git_author_email", json!("agent@example.com")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Some(v)))
        .collect();
        domain::settings::update(&app, Some(project.id), &settings)
            .await
            .unwrap();
        // A test's own settings come after the move (below): a run must start even for
        // the tests of settings it then lacks, as when they change after the move.
        let overrides: SettingsUpdate = setup
            .settings
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone()).filter(|v| !v.is_null())))
            .collect();
        before_claim(&repo, ticket.id);
        let job_id = match setup.kind {
            JobKind::Implement => {
                let mv = domain::tickets::move_to_role(&app, project.id, ticket.id, ColumnRole::InProgress)
                    .await
                    .unwrap();
                mv.job.unwrap().id
            }
            JobKind::Review => {
                let mut tx = db.pool.begin().await.unwrap();
                let job = store::jobs::insert_queued(&mut tx, project.id, ticket.id, JobKind::Review)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                job.id
            }
        };
        if !overrides.is_empty() {
            domain::settings::update(&app, Some(project.id), &overrides)
                .await
                .unwrap();
        }
        let claim = domain::jobs::claim(&app, job_id, "test-host", ExecutionMode::Docker)
            .await
            .unwrap();
        Env {
            app,
            db,
            _queue: queue,
            api_url,
            repo,
            director,
            worker,
            github,
            project_id: project.id,
            ticket_id: ticket.id,
            job_id,
            token: claim.job_token,
            work: tempfile::tempdir().unwrap(),
        }
    }

    pub fn branch(&self) -> String {
        format!("ticket-{}", self.ticket_id)
    }

    /// Fast settings for tests: short back-off, frequent cancel polls, small budgets.
    pub fn config(&self) -> Config {
        let mut c = Config::new(&self.api_url, &self.token, self.work.path().to_path_buf());
        c.cancel_poll = Duration::from_millis(100);
        c.llm_retry = RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(50),
            timeout: Duration::from_secs(10),
        };
        c.max_turns = 6;
        c.test_timeout = Duration::from_secs(60);
        c
    }

    pub fn clone_dir(&self) -> PathBuf {
        self.work.path().join("repo")
    }

    pub async fn events(&self) -> Vec<JobEvent> {
        domain::jobs::events(&self.app, self.job_id, 0, 1000)
            .await
            .unwrap()
            .events
    }

    pub async fn steps(&self) -> Vec<(String, String)> {
        self.events().await.into_iter().map(|e| (e.phase, e.step)).collect()
    }

    /// Nothing any LLM saw, no event, and no git config holds a secret.
    pub async fn assert_no_secret_leaked(&self) {
        let mut seen = serde_json::to_string(&self.director.requests()).unwrap();
        seen += &serde_json::to_string(&self.worker.requests()).unwrap();
        seen += &serde_json::to_string(&self.events().await).unwrap();
        for cfg in [self.clone_dir().join(".git/config"), self.repo.remote.join("config")] {
            seen += &std::fs::read_to_string(cfg).unwrap_or_default();
        }
        for s in [GITHUB_TOKEN, DIRECTOR_KEY, WORKER_KEY, self.token.as_str()] {
            assert!(!seen.contains(s), "a secret leaked into a prompt, event or git config");
        }
    }

    pub fn remote_file(&self, branch: &str, path: &str) -> String {
        git(&self.repo.remote, &["show", &format!("{branch}:{path}")])
    }

    pub async fn job(&self) -> Job {
        store::jobs::get(&self.db.pool, self.job_id).await.unwrap()
    }
}

/// All the text the LLM stand-in received in one request.
pub fn request_text(req: &Value) -> String {
    req["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["content"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}
