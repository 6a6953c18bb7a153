//! The OpenCode and Claude Code backends against stand-ins of their documented protocols
//! (their CLIs come from npm, which this machine cannot reach), and event delivery
//! through a briefly unreachable API.

mod common;

use common::{Env, Setup, python_repo};
use terarchitect_testkit::llm::Reply;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{delete, post};
use serde_json::{Value, json};
use terarchitect_agent::worker::Worker;
use terarchitect_agent::worker::claude::ClaudeWorker;
use terarchitect_agent::worker::opencode::OpencodeWorker;

type Log = Arc<Mutex<Vec<(String, Value)>>>;

/// `opencode serve`'s session API, recording calls; a message also edits a file in the
/// session's directory, as the real Worker would.
async fn opencode_stand_in() -> (String, Log) {
    let log: Log = Arc::default();
    async fn create(
        State(l): State<Log>,
        Query(q): Query<Value>,
        axum::Json(b): axum::Json<Value>,
    ) -> axum::Json<Value> {
        l.lock()
            .unwrap()
            .push(("create".into(), json!({"query": q, "body": b})));
        axum::Json(json!({"id": "ses_1", "title": b["title"], "directory": q["directory"]}))
    }
    async fn message(
        State(l): State<Log>,
        Path(id): Path<String>,
        Query(q): Query<Value>,
        axum::Json(b): axum::Json<Value>,
    ) -> axum::Json<Value> {
        l.lock().unwrap().push((format!("message {id}"), b.clone()));
        let dir = q["directory"].as_str().unwrap_or_default();
        let dir = std::path::Path::new(dir);
        std::fs::write(dir.join("DONE.txt"), "edited by opencode\n").unwrap();
        if let Ok(code) = std::fs::read_to_string(dir.join("calc.py")) {
            std::fs::write(dir.join("calc.py"), code.replace("a - b", "a + b")).unwrap();
        }
        let text = b["parts"][0]["text"].as_str().unwrap_or_default();
        axum::Json(json!({
            "info": {"id": "msg_1", "role": "assistant", "sessionID": id, "tokens": {"input": 12, "output": 3}},
            "parts": [
                {"type": "reasoning", "text": "thinking"},
                {"type": "tool", "tool": "write"},
                {"type": "text", "text": format!("did: {text}")}
            ]
        }))
    }
    async fn summarize(
        State(l): State<Log>,
        Path(id): Path<String>,
        axum::Json(b): axum::Json<Value>,
    ) -> axum::Json<bool> {
        l.lock().unwrap().push((format!("summarize {id}"), b));
        axum::Json(true)
    }
    async fn remove(State(l): State<Log>, Path(id): Path<String>) -> axum::Json<bool> {
        l.lock().unwrap().push((format!("delete {id}"), Value::Null));
        axum::Json(true)
    }
    let app = Router::new()
        .route("/session", post(create))
        .route("/session/{id}/message", post(message))
        .route("/session/{id}/summarize", post(summarize))
        .route("/session/{id}", delete(remove))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (format!("http://{addr}"), log)
}

#[tokio::test]
async fn opencode_backend_speaks_the_session_api() {
    let (url, log) = opencode_stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let mut w = OpencodeWorker::connect(
        terarchitect_agent::http_client(),
        &url,
        dir.path().to_path_buf(),
        "qwen-coder",
        Duration::from_secs(10),
    );
    w.start().await.unwrap();
    let r = w.send("fix the bug").await.unwrap();
    assert_eq!(r.text, "did: fix the bug", "only text parts");
    assert_eq!((r.input_tokens, r.output_tokens), (12, 3));
    assert!(
        dir.path().join("DONE.txt").exists(),
        "the session works in our directory"
    );
    w.summarise().await.unwrap();
    w.stop().await.unwrap();
    let calls = log.lock().unwrap().clone();
    let names: Vec<&str> = calls.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["create", "message ses_1", "summarize ses_1", "delete ses_1"]);
    assert_eq!(calls[0].1["query"]["directory"], dir.path().display().to_string());
    assert_eq!(
        calls[1].1["model"],
        json!({"providerID": "terarchitect", "modelID": "qwen-coder"})
    );
    assert_eq!(calls[1].1["parts"], json!([{"type": "text", "text": "fix the bug"}]));
    assert_eq!(
        calls[2].1,
        json!({"providerID": "terarchitect", "modelID": "qwen-coder"})
    );
}

#[tokio::test]
async fn opencode_http_errors_are_clear_worker_errors() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there.
    let mut w = OpencodeWorker::connect(
        terarchitect_agent::http_client(),
        "http://127.0.0.1:9",
        dir.path().to_path_buf(),
        "m",
        Duration::from_secs(2),
    );
    let err = w.send("hi").await.unwrap_err().to_string();
    assert!(err.starts_with("the coding agent failed: opencode /session"), "{err}");
}

/// A `claude` executable that behaves like `claude -p --output-format json`.
fn fake_claude(dir: &std::path::Path) -> String {
    // Run as the agent's child user (when the tests run as root): it logs into `dir`.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let bin = dir.join("claude");
    let source = dir.join("claude.sh");
    std::fs::write(
        &source,
        r#"#!/bin/sh
prompt=$(cat)
LOG="$(dirname "$0")/log"
echo "$*" >> "$LOG.args"
echo "base=$ANTHROPIC_BASE_URL token=$ANTHROPIC_AUTH_TOKEN key=$ANTHROPIC_API_KEY job=$TERARCHITECT_JOB_TOKEN" >> "$LOG.env"
case "$prompt" in
  fail*) echo '{"type":"result","is_error":true,"result":"model overloaded"}'; exit 1;;
esac
echo "$prompt" > "$PWD/FROM_CLAUDE.txt"
[ -f calc.py ] && sed -i 's/a - b/a + b/' calc.py
printf '{"type":"result","subtype":"success","is_error":false,"result":"done: %s","session_id":"sess-42","usage":{"input_tokens":7,"output_tokens":2}}\n' "$prompt"
"#,
    )
    .unwrap();
    // Installed by another process: a script this process wrote itself can fail to run
    // with "text file busy" while a concurrent test's fork still holds the write handle.
    let installed = std::process::Command::new("install")
        .args(["-m", "755"])
        .arg(&source)
        .arg(&bin)
        .status()
        .unwrap();
    assert!(installed.success());
    bin.display().to_string()
}

#[tokio::test]
async fn claude_code_backend_runs_headless_and_resumes_its_session() {
    let tools = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    terarchitect_agent::sandbox::give(ws.path()).unwrap(); // as a job's setup does
    let bin = fake_claude(tools.path());
    let logp = tools.path().join("log");
    let mut w = ClaudeWorker::new(
        &bin,
        ws.path().to_path_buf(),
        Some("sonnet".into()),
        "http://api.test/gateway/worker",
        "job-token-123",
        Duration::from_secs(10),
    );
    w.start().await.unwrap();
    let r = w.send("add a test").await.unwrap();
    assert_eq!(
        (r.text.as_str(), r.input_tokens, r.output_tokens),
        ("done: add a test", 7, 2)
    );
    assert_eq!(
        std::fs::read_to_string(ws.path().join("FROM_CLAUDE.txt")).unwrap(),
        "add a test\n"
    );
    w.send("now refactor").await.unwrap();
    w.summarise().await.unwrap();
    let args = std::fs::read_to_string(format!("{}.args", logp.display())).unwrap();
    let lines: Vec<&str> = args.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("-p --output-format json --allowedTools") && lines[0].contains("--model sonnet"));
    assert!(!lines[0].contains("--resume"), "a new session first");
    assert!(lines[1].ends_with("--resume sess-42") && lines[2].ends_with("--resume sess-42"));
    assert!(
        !args.contains("add a test") && !args.contains("job-token-123"),
        "prompt and key stay off the command line"
    );
    let env = std::fs::read_to_string(format!("{}.env", logp.display())).unwrap();
    assert!(
        env.lines()
            .all(|l| l == "base=http://api.test/gateway/worker token=job-token-123 key= job="),
        "{env}"
    );
    let err = w.send("fail now").await.unwrap_err().to_string();
    assert!(
        err.contains("claude exited") && err.contains("model overloaded"),
        "{err}"
    );
}

#[tokio::test]
async fn events_are_delivered_after_the_api_was_briefly_unreachable() {
    use terarchitect_functions::domain;
    let (app, _db, _q) = common::new_app().await;
    // A claimed job to log to.
    let p = domain::projects::create(
        &app,
        &terarchitect_protocol::NewProject {
            name: "p".into(),
            repo_url: "file:///tmp/x.git".into(),
            default_branch: "main".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let t = domain::tickets::create(
        &app,
        p.id,
        &terarchitect_protocol::NewTicket {
            title: "t".into(),
            whole_graph: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // What a run needs to start (nothing calls these).
    let runnable = [
        ("director_llm_url", "https://llm.invalid/v1"),
        ("director_llm_model", "m"),
        ("github_token", "ghp_placeholder"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Some(serde_json::json!(v))))
    .collect();
    domain::settings::update(&app, Some(p.id), &runnable).await.unwrap();
    let board = domain::projects::board(&app, p.id).await.unwrap();
    let col = board.columns[1].column.id;
    let job = domain::tickets::move_ticket(
        &app,
        p.id,
        t.id,
        &terarchitect_protocol::TicketMove {
            column_id: col,
            position: None,
        },
    )
    .await
    .unwrap()
    .job
    .unwrap();
    let claim = domain::jobs::claim(&app, job.id, "h", terarchitect_protocol::ExecutionMode::Docker)
        .await
        .unwrap();

    // The API is down: reserve a port, close it, log, then bring the API up there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = terarchitect_agent::api::ApiClient::new(
        terarchitect_agent::http_client(),
        &format!("http://127.0.0.1:{port}"),
        &claim.job_token,
    );
    let log = terarchitect_agent::events::EventLog::start(api);
    log.redact(["hunter2-secret".to_string()]);
    for i in 0..5 {
        log.log_raw(
            "execution",
            "worker_reply",
            format!("reply {i}"),
            "password hunter2-secret",
        );
    }
    assert!(
        !log.flush(Duration::from_millis(300)).await,
        "nothing can be delivered yet"
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let router = terarchitect_functions::http::worker_router(app.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    assert!(
        log.flush(Duration::from_secs(30)).await,
        "delivered once the API is back"
    );
    assert!(
        log.flush(Duration::from_secs(5)).await,
        "re-flushing sends nothing twice"
    );
    let events = domain::jobs::events(&app, job.id, 0, 100).await.unwrap().events;
    let summaries: Vec<&str> = events.iter().map(|e| e.summary.as_str()).collect();
    assert_eq!(
        summaries,
        ["reply 0", "reply 1", "reply 2", "reply 3", "reply 4"],
        "all, once, in order"
    );
    assert_eq!(events[0].raw_output.as_deref(), Some("password [redacted]"));
}

fn director_approves_then_done() -> Vec<Reply> {
    vec![
        Reply::json(json!({"action": "approve_plan", "plan": "1. fix add()"})),
        Reply::json(json!({"action": "done", "summary": "Fixed add().", "test_command": "make test"})),
    ]
}

#[tokio::test]
async fn a_job_runs_end_to_end_on_the_opencode_backend() {
    let (url, log) = opencode_stand_in().await;
    let setup = Setup {
        settings: json!({"worker_mode": "opencode"}),
        ..Default::default()
    };
    let env = Env::new(python_repo(), setup, director_approves_then_done(), vec![]).await;
    let mut cfg = env.config();
    cfg.opencode_url = Some(url);
    let out = terarchitect_agent::run(cfg).await.expect("job succeeds");
    assert_eq!(out.pr_number, 1);
    assert!(env.remote_file(&env.branch(), "calc.py").contains("a + b"));
    let names: Vec<String> = log.lock().unwrap().iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(
        names,
        [
            "create",
            "message ses_1",
            "message ses_1",
            "message ses_1",
            "delete ses_1"
        ]
    );
    assert!(env.worker.requests().is_empty(), "the native worker LLM was not used");
}

#[tokio::test]
async fn a_job_runs_end_to_end_on_the_claude_code_backend() {
    let tools = tempfile::tempdir().unwrap();
    let bin = fake_claude(tools.path());
    let setup = Setup {
        settings: json!({"worker_mode": "claude-code", "anthropic_key": "sk-ant-job-key"}),
        ..Default::default()
    };
    let env = Env::new(python_repo(), setup, director_approves_then_done(), vec![]).await;
    let mut cfg = env.config();
    cfg.claude_bin = bin;
    let out = terarchitect_agent::run(cfg).await.expect("job succeeds");
    assert_eq!(out.pr_number, 1);
    assert!(env.remote_file(&env.branch(), "calc.py").contains("a + b"));
    let args = std::fs::read_to_string(tools.path().join("log.args")).unwrap();
    assert_eq!(args.lines().count(), 3, "research, plan, execution");
    let envs = std::fs::read_to_string(tools.path().join("log.env")).unwrap();
    // The CLI calls the agent's loopback relay with a placeholder: neither the job token
    // nor the Anthropic key is in its environment.
    assert!(
        envs.lines()
            .all(|l| l.starts_with("base=http://127.0.0.1:") && l.ends_with(" token=terarchitect-relay key= job=")),
        "the relay and a placeholder in env: {envs}"
    );
    assert!(!envs.contains(&env.token) && !envs.contains("sk-ant-job-key"), "{envs}");
    assert!(!env.github.pulls()[0].body.contains("sk-ant"));
}

/// What reached the stand-in gateway: (path, authorization, body).
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

#[tokio::test]
async fn the_relay_adds_the_job_token_to_the_gateways_two_calls_and_nothing_else() {
    use axum::http::{HeaderMap, Uri};
    let seen: Seen = Default::default();
    let record = seen.clone();
    let gateway = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: String| {
        let record = record.clone();
        async move {
            let auth = headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            record.lock().unwrap().push((uri.path().to_string(), auth, body));
            ([("content-type", "text/event-stream")], "data: {\"ok\":true}\n\n")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/gateway/worker", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, gateway).await.unwrap() });
    let relay = terarchitect_agent::relay::Relay::start(reqwest::Client::new(), &base, "jt_only_the_agent_knows")
        .await
        .unwrap();

    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/v1/messages", relay.url))
        .header("authorization", "Bearer terarchitect-relay")
        .header("content-type", "application/json")
        .body(r#"{"model":"m","stream":true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert_eq!(r.text().await.unwrap(), "data: {\"ok\":true}\n\n");
    http.post(format!("{}/v1/chat/completions", relay.url))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        seen.lock().unwrap().clone(),
        [
            (
                "/gateway/worker/v1/messages".to_string(),
                "Bearer jt_only_the_agent_knows".to_string(),
                r#"{"model":"m","stream":true}"#.to_string()
            ),
            (
                "/gateway/worker/v1/chat/completions".to_string(),
                "Bearer jt_only_the_agent_knows".to_string(),
                "{}".to_string()
            ),
        ]
    );

    // Nothing else is relayed: not another route, not a dot-segment trick, not a GET.
    for (method, path) in [
        (reqwest::Method::POST, "/agent/context"),
        (reqwest::Method::POST, "/v1/../../../agent/context"),
        (reqwest::Method::POST, "/v1/%2e%2e/%2e%2e/agent/context"),
        (reqwest::Method::GET, "/v1/messages"),
    ] {
        let r = http
            .request(method.clone(), format!("{}{path}", relay.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
    }
    assert_eq!(seen.lock().unwrap().len(), 2, "nothing more reached the gateway");
}
