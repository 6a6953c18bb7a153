//! Gateway overhead: 1,000 non-streamed chat completions against a local LLM stand-in,
//! straight to it and through the worker API's gateway (job-token check, settings read
//! and key decryption, outbound check, usage recorded), sequentially; p50/p99 of each
//! and the difference. The worker API runs in-process over HTTP on loopback.
//!
//!     ./dev bench

use std::time::{Duration, Instant};

use serde_json::json;
use terarchitect_functions::domain::{self, App, JobQueue};
use terarchitect_functions::{http, store};
use terarchitect_protocol::{ColumnRole, ExecutionMode, NewProject, NewTicket, SettingsUpdate};
use terarchitect_testkit::llm::{LlmStandIn, Reply};
use terarchitect_testkit::{TestDb, TestQueue};

const CALLS: usize = 1_000;
/// A job token may write 600 times a minute: the calls are spread over jobs.
const CALLS_PER_JOB: usize = 500;

async fn timed(http: &reqwest::Client, url: &str, token: &str) -> Duration {
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let t = Instant::now();
    let r = http.post(url).bearer_auth(token).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.bytes().await.unwrap();
    t.elapsed()
}

fn percentiles(mut lat: Vec<Duration>) -> (f64, f64) {
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (ms(lat[lat.len() / 2]), ms(lat[lat.len() * 99 / 100]))
}

#[tokio::main]
async fn main() {
    let db = TestDb::new().await;
    store::migrate(&db.pool).await.unwrap();
    let queue = TestQueue::new().await;
    let app = App::for_tests(
        db.pool.clone(),
        JobQueue::new(queue.client.clone(), queue.url.clone()),
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        Duration::from_secs(600),
        terarchitect_testkit::stack::functions::LOCAL_OUTBOUND_ALLOW,
    );
    let llm = LlmStandIn::start(vec![]).await;
    llm.push((0..2 * CALLS).map(|_| Reply::text("ok")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let router = http::worker_router(app.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });

    let project = domain::projects::create(
        &app,
        &NewProject {
            name: "bench".into(),
            repo_url: "https://example.com/a/b.git".into(),
            default_branch: "main".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let settings: SettingsUpdate = [
        ("director_llm_url", json!(llm.url)),
        ("director_llm_model", json!("m")),
        ("director_llm_key", json!("sk-bench")),
        // What a run needs to be queued at all (pre-flight); never called here.
        ("github_token", json!("ghp_bench")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Some(v)))
    .collect();
    domain::settings::update(&app, Some(project.id), &settings)
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for i in 0..CALLS.div_ceil(CALLS_PER_JOB) {
        let ticket = domain::tickets::create(
            &app,
            project.id,
            &NewTicket {
                title: format!("t{i}"),
                whole_graph: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let mv = domain::tickets::move_to_role(&app, project.id, ticket.id, ColumnRole::InProgress)
            .await
            .unwrap();
        let claim = domain::jobs::claim(&app, mv.job.unwrap().id, "bench", ExecutionMode::Docker)
            .await
            .unwrap();
        tokens.push(claim.job_token);
    }

    let http = reqwest::Client::new();
    let direct_url = format!("{}/chat/completions", llm.url);
    let gateway_url = format!("{api}/gateway/director/v1/chat/completions");
    // Warm both paths (connections, the pool, the first settings read).
    timed(&http, &direct_url, "sk-bench").await;
    timed(&http, &gateway_url, &tokens[0]).await;
    let mut direct = Vec::with_capacity(CALLS);
    let mut gateway = Vec::with_capacity(CALLS);
    for i in 0..CALLS - 1 {
        direct.push(timed(&http, &direct_url, "sk-bench").await);
        gateway.push(timed(&http, &gateway_url, &tokens[i / CALLS_PER_JOB]).await);
    }
    let (d50, d99) = percentiles(direct);
    let (g50, g99) = percentiles(gateway);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("\nTerarchitect gateway benchmark: {CALLS} sequential chat completions each way, {cores} cores");
    println!("direct to the stand-in   p50 {d50:>7.2} ms   p99 {d99:>7.2} ms");
    println!("through the gateway      p50 {g50:>7.2} ms   p99 {g99:>7.2} ms");
    println!(
        "gateway overhead         p50 {:>7.2} ms   p99 {:>7.2} ms",
        g50 - d50,
        g99 - d99
    );
}
