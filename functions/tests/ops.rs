//! The operator CLI (`admin`) as operators run it, against a real database and queue, and
//! configuration read from Secrets Manager (moto).

mod common;

use std::process::Command;

use common::{TestApp, admin};
use serde_json::json;
use terarchitect_functions::domain;
use terarchitect_protocol::{
    EventBatch, FinishRequest, JobId, MemoryDocs, NewJobEvent, NewProject, NewTicket, Outcome, ProjectId,
    SettingsUpdate, TicketId,
};
use terarchitect_testkit::llm::{LlmStandIn, Reply};
use uuid::Uuid;

async fn project_and_ticket(t: &TestApp) -> (ProjectId, TicketId) {
    let p = domain::projects::create(
        &t.app,
        &NewProject {
            name: "ops".into(),
            repo_url: "https://github.com/acme/ops.git".into(),
            default_branch: "main".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let ticket = domain::tickets::create(
        &t.app,
        p.id,
        &NewTicket {
            title: "Add a health check".into(),
            whole_graph: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    t.make_runnable(&p.id.to_string()).await;
    (p.id, ticket.id)
}

#[tokio::test]
async fn requeue_ticket_queues_resends_and_retries_but_never_doubles_a_running_job() {
    let t = TestApp::new().await;
    let (pid, tid) = project_and_ticket(&t).await;

    let (ok, out, _) = admin(&t, &["requeue-ticket", &tid.to_string()]);
    assert!(ok, "{out}");
    assert!(out.starts_with("queued: job "), "{out}");
    let job_id: JobId = out.split_whitespace().nth(2).unwrap().parse().unwrap();
    let msg = json!({ "job_id": job_id }).to_string();
    assert_eq!(t.queue.drain_bodies().await, std::slice::from_ref(&msg));
    let ticket = terarchitect_functions::store::tickets::get(&t.app.db, pid, tid)
        .await
        .unwrap();
    let board = domain::projects::board(&t.app, pid).await.unwrap();
    let progress = board
        .columns
        .iter()
        .find(|c| c.column.role == Some(terarchitect_protocol::ColumnRole::InProgress))
        .unwrap();
    assert_eq!(ticket.column_id, progress.column.id, "the card moved to In Progress");

    // A queued job whose message was lost: sent again, still one job.
    let (ok, out, _) = admin(&t, &["requeue-ticket", &tid.to_string()]);
    assert!(ok && out.starts_with(&format!("resent: job {job_id}")), "{out}");
    assert_eq!(t.queue.drain_bodies().await, [msg]);

    // Running: refused with the reason, nothing sent.
    domain::jobs::claim(&t.app, job_id, "h1", terarchitect_protocol::ExecutionMode::Docker)
        .await
        .unwrap();
    let (ok, out, _) = admin(&t, &["requeue-ticket", &tid.to_string()]);
    assert!(!ok && out.contains("is running on h1"), "{out}");
    assert!(t.queue.drain_bodies().await.is_empty());

    // Cancelled: a new job.
    domain::jobs::cancel(&t.app, pid, job_id).await.unwrap();
    domain::jobs::finish(
        &t.app,
        job_id,
        "h1",
        &FinishRequest {
            host_id: None,
            outcome: Outcome::Cancelled,
            exit_code: Some(130),
            reason: None,
            agent_started: Some(true),
        },
    )
    .await
    .unwrap();
    let (ok, out, _) = admin(&t, &["requeue-ticket", &tid.to_string()]);
    assert!(ok, "{out}");
    assert!(out.starts_with("retried: job "), "{out}");
    assert!(!out.contains(&job_id.to_string()), "a new job: {out}");

    let (ok, out, _) = admin(&t, &["requeue-ticket", &Uuid::new_v4().to_string()]);
    assert!(!ok && out.contains("ticket"), "{out}");
}

#[tokio::test]
async fn dump_logs_prints_every_job_with_its_events() {
    let t = TestApp::new().await;
    let (_, tid) = project_and_ticket(&t).await;
    let (_, out, _) = admin(&t, &["requeue-ticket", &tid.to_string()]);
    let job_id: JobId = out.split_whitespace().nth(2).unwrap().parse().unwrap();
    let events: Vec<NewJobEvent> = (0..1205)
        .map(|i| NewJobEvent {
            phase: "execution".into(),
            step: "worker_reply".into(),
            summary: format!("turn {i}"),
            ..Default::default()
        })
        .collect();
    for chunk in events.chunks(500) {
        domain::jobs::append_events(&t.app, job_id, &EventBatch { events: chunk.to_vec() })
            .await
            .unwrap();
    }
    let (ok, out, _) = admin(&t, &["dump-logs", &tid.to_string()]);
    assert!(ok, "{out}");
    assert!(
        out.starts_with(&format!("== job {job_id} implement attempt 0 queued")),
        "{out}"
    );
    assert!(out.contains("#1 [execution] worker_reply: turn 0\n"));
    assert!(
        out.contains("#1205 [execution] worker_reply: turn 1204\n"),
        "all pages are read"
    );
    let (ok, json, _) = admin(&t, &["dump-logs", &tid.to_string(), "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["events"].as_array().unwrap().len(), 1205);
}

// Multi-threaded: the LLM stand-in answers while this thread waits for `admin`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dump_memory_and_smoke_llm_use_the_configured_endpoints() {
    let t = TestApp::new().await;
    let (pid, _) = project_and_ticket(&t).await;
    let llm = LlmStandIn::start(vec![
        Reply::json(
            json!({"entities": ["checkout", "Postgres"], "triples": [["checkout", "stores orders in", "Postgres"]]}),
        ),
        Reply::json(json!({"ok": true})),
    ])
    .await;
    let settings: SettingsUpdate = [
        ("director_llm_url", json!(llm.url)),
        ("director_llm_model", json!("director")),
        ("embedding_url", json!(llm.url)),
        ("embedding_model", json!("embed")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Some(v)))
    .collect();
    domain::settings::update(&t.app, Some(pid), &settings).await.unwrap();
    domain::memory::index(
        &t.app,
        pid,
        &MemoryDocs {
            docs: vec!["The checkout service stores orders in Postgres.".into()],
        },
    )
    .await
    .unwrap();

    let (ok, out, _) = admin(&t, &["dump-memory", &pid.to_string()]);
    assert!(ok, "{out}");
    assert!(out.starts_with("1 passages, 1 facts"), "{out}");
    assert!(out.contains("The checkout service stores orders in Postgres."));
    assert!(
        out.contains("fact: checkout | stores orders in | postgres")
            || out.contains("fact: checkout | stores orders in | Postgres"),
        "{out}"
    );

    let (ok, out, _) = admin(&t, &["smoke-llm", "--project", &pid.to_string()]);
    assert!(ok, "{out}");
    assert!(out.contains("ok   director"), "{out}");
    assert!(out.contains("{\"ok\":true}"), "the reply is shown: {out}");
    assert!(
        out.contains("ok   embeddings") && out.contains("384 dimensions"),
        "{out}"
    );

    // Nothing configured globally: a clear refusal; an unreachable endpoint: FAIL and exit 1.
    let (ok, out, _) = admin(&t, &["smoke-llm"]);
    assert!(
        !ok && out.contains("no LLM or embedding endpoint is configured"),
        "{out}"
    );
    let down: SettingsUpdate = [
        ("director_llm_url", Some(json!("http://127.0.0.1:9"))),
        ("director_llm_model", Some(json!("m"))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    domain::settings::update(&t.app, None, &down).await.unwrap();
    let (ok, out, _) = admin(&t, &["smoke-llm"]);
    assert!(
        !ok && out.contains("FAIL director") && out.contains("unreachable"),
        "{out}"
    );
}

#[tokio::test]
async fn functions_read_their_secrets_from_secrets_manager() {
    let t = TestApp::new().await;
    let aws = terarchitect_testkit::stack::emulator_config(&t.queue.endpoint).await;
    let sm = aws_sdk_secretsmanager::Client::new(&aws);
    // The RDS-managed secret shape, with a password that needs URL encoding.
    let url: url_parts::Parts = url_parts::parse(&t.db.url);
    let name = Uuid::new_v4().simple().to_string();
    let db_secret = sm
        .create_secret()
        .name(format!("db-{name}"))
        .secret_string(json!({"username": url.user, "password": url.password}).to_string())
        .send()
        .await
        .unwrap();
    let key_secret = sm
        .create_secret()
        .name(format!("key-{name}"))
        .secret_string(common::SECRET_KEY)
        .send()
        .await
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_admin"))
        .args(["mint-token", "--name", "from-secrets"])
        .env_remove("DATABASE_URL")
        .env_remove("TERARCHITECT_SECRET_KEY")
        .env("DATABASE_SECRET_ARN", db_secret.arn().unwrap())
        .env("DATABASE_HOST", &url.host)
        .env("DATABASE_PORT", url.port.to_string())
        .env("DATABASE_NAME", &url.database)
        .env("DATABASE_SSLMODE", "disable")
        .env("TERARCHITECT_SECRET_KEY_ARN", key_secret.arn().unwrap())
        .env("JOB_QUEUE_URL", &t.queue.url)
        .env("AWS_ENDPOINT_URL", &t.queue.endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.trim().starts_with("tt_"));
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM api_tokens WHERE name = 'from-secrets'")
        .fetch_one(&t.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "the token was written to the database named by the secret");
}

/// The pieces of a `postgres://user[:password]@host:port/db` test URL.
mod url_parts {
    pub struct Parts {
        pub user: String,
        pub password: String,
        pub host: String,
        pub port: u16,
        pub database: String,
    }
    pub fn parse(url: &str) -> Parts {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .unwrap();
        let (auth, rest) = rest.split_once('@').unwrap();
        let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
        let (hostport, database) = rest.split_once('/').unwrap();
        let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
        Parts {
            user: user.into(),
            password: password.into(),
            host: host.into(),
            port: port.parse().unwrap(),
            database: database.split('?').next().unwrap().into(),
        }
    }
}

#[tokio::test]
async fn recent_logs_purge_logs_and_setup_tickets() {
    let t = TestApp::new().await;
    let (pid, tid) = project_and_ticket(&t).await;
    let (other, other_tid) = project_and_ticket(&t).await;
    let mut jobs = Vec::new();
    for (ticket, word) in [(tid, "old"), (other_tid, "new")] {
        let (_, out, _) = admin(&t, &["requeue-ticket", &ticket.to_string()]);
        let job_id: JobId = out.split_whitespace().nth(2).unwrap().parse().unwrap();
        let events = (0..3)
            .map(|i| NewJobEvent {
                phase: "execution".into(),
                step: "worker_reply".into(),
                summary: format!("{word} {i}"),
                ..Default::default()
            })
            .collect();
        domain::jobs::append_events(&t.app, job_id, &EventBatch { events })
            .await
            .unwrap();
        jobs.push(job_id);
    }
    // The first job failed ten days ago.
    domain::jobs::claim(&t.app, jobs[0], "h1", terarchitect_protocol::ExecutionMode::Docker)
        .await
        .unwrap();
    let failed = FinishRequest {
        host_id: None,
        outcome: Outcome::Failed,
        exit_code: Some(1),
        reason: None,
        agent_started: Some(true),
    };
    domain::jobs::finish(&t.app, jobs[0], "h1", &failed).await.unwrap();
    sqlx::query("UPDATE jobs SET finished_at = now() - interval '10 days' WHERE id = $1")
        .bind(jobs[0])
        .execute(&t.db.pool)
        .await
        .unwrap();

    // Newest first, with the ticket; one project's alone; the limit is checked.
    let (ok, out, _) = admin(&t, &["recent-logs", "--limit", "2"]);
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].ends_with("worker_reply: new 2") && lines[1].ends_with("worker_reply: new 1"),
        "{out}"
    );
    assert!(lines[0].contains("\"Add a health check\" #3"), "{out}");
    let (ok, out, _) = admin(&t, &["recent-logs", "--project", &pid.to_string()]);
    assert!(ok && out.lines().count() == 3 && !out.contains("new "), "{out}");
    let (ok, out, _) = admin(&t, &["recent-logs", "--limit", "0"]);
    assert!(!ok && out.contains("limit"), "{out}");

    // Only the logs of jobs finished before the cutoff go; the jobs stay.
    let (ok, out, _) = admin(&t, &["purge-logs", "--older-than-days", "0"]);
    assert!(!ok && out.contains("at least 1"), "{out}");
    let (ok, out, _) = admin(&t, &["purge-logs", "--older-than-days", "11"]);
    assert_eq!((ok, out.trim()), (true, "removed 0 log lines of 0 finished jobs"));
    let (ok, out, _) = admin(&t, &["purge-logs", "--older-than-days", "7"]);
    assert_eq!((ok, out.trim()), (true, "removed 3 log lines of 1 finished jobs"));
    let logs = domain::ops::ticket_logs(&t.app, tid).await.unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].job.status, terarchitect_protocol::JobStatus::Failed);
    assert!(logs[0].events.is_empty());
    assert_eq!(
        domain::ops::ticket_logs(&t.app, other_tid).await.unwrap()[0]
            .events
            .len(),
        3
    );

    // A new setup ticket, as a new project gets, in the Backlog.
    let (ok, out, _) = admin(&t, &["setup-ticket", &other.to_string()]);
    assert!(ok && out.contains("\"Project setup\" added to the Backlog"), "{out}");
    let board = domain::projects::board(&t.app, other).await.unwrap();
    let setups: Vec<_> = board.columns[0]
        .tickets
        .iter()
        .filter(|t| t.title == "Project setup")
        .collect();
    assert_eq!(setups.len(), 2);
    assert!(setups.iter().all(|t| t.whole_graph));
    let (ok, out, _) = admin(&t, &["setup-ticket", &Uuid::new_v4().to_string()]);
    assert!(!ok && out.contains("project"), "{out}");
}
