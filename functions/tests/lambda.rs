//! The functions driven through `cargo lambda watch`, the real Lambda runtime emulation.

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use terarchitect_protocol::TokenKind;
use terarchitect_testkit::process::ProcessGroup;
use terarchitect_testkit::stack::free_port;
use terarchitect_testkit::{TestDb, TestQueue, eventually};

/// Sends a request that must succeed and returns its JSON body.
async fn send(req: reqwest::RequestBuilder) -> Value {
    let r = req.send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

#[tokio::test]
async fn api_and_worker_api_answer_through_cargo_lambda_watch() {
    let db = TestDb::new().await;
    terarchitect_functions::store::migrate(&db.pool).await.unwrap();
    let queue = TestQueue::new().await;
    let user = common::mint(&db, "lambda", TokenKind::User).await;
    let worker = common::mint(&db, "host", TokenKind::Worker).await;
    let port = free_port();

    let mut cmd = terarchitect_testkit::process::cargo();
    cmd.args(["lambda", "watch", "-A", "127.0.0.1", "-P", &port.to_string()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DATABASE_URL", &db.url)
        .env("JOB_QUEUE_URL", &queue.url)
        .env("AWS_ENDPOINT_URL", &queue.endpoint)
        .env("TERARCHITECT_SECRET_KEY", common::SECRET_KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _watch = ProcessGroup::spawn(cmd).expect("cargo lambda is installed by ./dev");

    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}/lambda-url");
    // The first request builds and starts the function.
    let health = format!("{base}/api/api/health");
    eventually("the api function to answer", Duration::from_secs(300), || async {
        let r = http
            .get(&health)
            .bearer_auth(&user)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .ok()?;
        (r.status() == 200).then_some(())
    })
    .await;

    let r = http.get(format!("{base}/api/api/projects")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");

    let body = json!({"name": "Via Lambda", "repo_url": "https://example.com/a/b.git"});
    let project = send(
        http.post(format!("{base}/api/api/projects"))
            .bearer_auth(&user)
            .json(&body),
    )
    .await;
    let pid = project["id"].as_str().unwrap();
    let runnable =
        json!({"director_llm_url": "https://llm.invalid/v1", "director_llm_model": "m", "github_token": "ghp_x"});
    send(
        http.put(format!("{base}/api/api/projects/{pid}/settings"))
            .bearer_auth(&user)
            .json(&runnable),
    )
    .await;
    let board = send(
        http.get(format!("{base}/api/api/projects/{pid}/board"))
            .bearer_auth(&user),
    )
    .await;
    let setup = board["columns"][0]["tickets"][0]["id"].as_str().unwrap();
    let in_progress = board["columns"][1]["id"].as_str().unwrap();
    let move_url = format!("{base}/api/api/projects/{pid}/tickets/{setup}/move");
    let moved = send(
        http.post(move_url)
            .bearer_auth(&user)
            .json(&json!({"column_id": in_progress})),
    )
    .await;
    let job_id = moved["job"]["id"].as_str().unwrap().to_string();
    let bodies = queue.drain_bodies().await;
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].contains(&job_id));

    // The worker-api function claims it.
    let claim_url = format!("{base}/worker-api/worker/jobs/{job_id}/claim");
    let claim: Value = eventually(
        "the worker-api function to answer",
        Duration::from_secs(300),
        || async {
            let r = http
                .post(&claim_url)
                .bearer_auth(&worker)
                .json(&json!({"execution_mode": "docker"}))
                .timeout(Duration::from_secs(30))
                .send()
                .await
                .ok()?;
            if r.status() == 200 { r.json().await.ok() } else { None }
        },
    )
    .await;
    assert_eq!(claim["job"]["status"], "running");
    let job_token = claim["job_token"].as_str().unwrap();
    let ctx = send(
        http.get(format!("{base}/worker-api/agent/context"))
            .bearer_auth(job_token),
    )
    .await;
    assert_eq!(ctx["ticket"]["title"], "Project setup");
}

/// A cold start while the database is down: the function still starts and every request
/// gets a JSON 503 `unavailable` (not a bare 500 from a failed init).
#[tokio::test]
async fn a_cold_start_with_the_database_down_answers_a_json_503() {
    let queue = TestQueue::new().await;
    let (db_port, port) = (free_port(), free_port()); // nothing listens on db_port
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_api"));
    cmd.env(
        "DATABASE_URL",
        format!("postgres://postgres@127.0.0.1:{db_port}/postgres"),
    )
    .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
    .env("JOB_QUEUE_URL", &queue.url)
    .env("AWS_ENDPOINT_URL", &queue.endpoint)
    .env("TERARCHITECT_SECRET_KEY", common::SECRET_KEY)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    let _api = ProcessGroup::spawn(cmd).unwrap();

    let http = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{port}/api/health");
    let r = eventually("the api to answer", Duration::from_secs(60), || async {
        http.get(&health)
            .bearer_auth("tt_some-token")
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .ok()
    })
    .await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    // A route behind a token: checking the token needs the database too.
    let projects = format!("http://127.0.0.1:{port}/api/projects");
    let r = http.get(&projects).bearer_auth("tt_some-token").send().await.unwrap();
    assert_eq!(r.status(), 503);
}
