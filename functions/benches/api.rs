//! API benchmark: loads a project with 500 tickets and a graph of 50 nodes and 49 edges, then measures
//! requests/second and p50/p99 latency for get-board, get-graph, get-projects (20), move-ticket,
//! append-log-events, get-ticket, get-review-list and a page of 1,000 events
//! against the release `api` and `worker-api` binaries served over HTTP, and the time
//! from starting the `api` process to its first answered request.
//!
//!     ./dev bench            (starts Postgres and the SQS emulator, then runs this)

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use terarchitect_functions::domain::crypto;
use terarchitect_functions::store;
use terarchitect_protocol::TokenKind;
use terarchitect_testkit::process::ProcessGroup;
use terarchitect_testkit::stack::free_port;
use terarchitect_testkit::{TestDb, TestQueue};

const CONCURRENCY: usize = 16;
const DURATION: Duration = Duration::from_secs(10);
const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn start(bin: &str, port: u16, db: &TestDb, queue: &TestQueue) -> ProcessGroup {
    let mut cmd = Command::new(bin);
    cmd.env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", &db.url)
        .env("JOB_QUEUE_URL", &queue.url)
        .env("AWS_ENDPOINT_URL", &queue.endpoint)
        .env("TERARCHITECT_SECRET_KEY", SECRET_KEY)
        // The path is measured, not the per-job write limit (600 a minute by default).
        .env("AGENT_WRITES_PER_MINUTE", "100000000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    ProcessGroup::spawn(cmd).expect("start binary")
}

async fn mint(db: &TestDb, kind: TokenKind) -> String {
    let token = crypto::new_token("tt_");
    // A worker token is the host "bench"'s.
    let host = (kind == TokenKind::Worker).then_some("bench");
    let id = store::tokens::insert(&db.pool, "bench", kind, host, &crypto::hash_token(&token))
        .await
        .unwrap();
    // A benchmark writes far faster than the default per-token limit allows.
    store::tokens::set_writes_per_minute(&db.pool, id, Some(i32::MAX))
        .await
        .unwrap();
    token
}

struct Figures {
    requests: usize,
    errors: usize,
    rps: f64,
    p50: Duration,
    p99: Duration,
}

/// Runs `op` from CONCURRENCY tasks for DURATION; `op` gets a distinct counter per call.
/// [`load`] of a GET that must answer 200.
async fn load_get(http: &reqwest::Client, token: &str, url: String) -> Figures {
    let (h, t) = (http.clone(), token.to_string());
    load(move |_| {
        let (h, t, url) = (h.clone(), t.clone(), url.clone());
        async move { h.get(url).bearer_auth(t).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await
}

async fn load<F, Fut>(op: F) -> Figures
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|w| {
            let op = op.clone();
            tokio::spawn(async move {
                let (mut lat, mut errors, mut i) = (Vec::new(), 0, 0);
                while start.elapsed() < DURATION {
                    let t = Instant::now();
                    if !op(w * 1_000_000 + i).await {
                        errors += 1;
                    }
                    lat.push(t.elapsed());
                    i += 1;
                }
                (lat, errors)
            })
        })
        .collect();
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    let elapsed = start.elapsed();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Figures {
        requests: all.len(),
        errors,
        rps: all.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

fn report(name: &str, f: &Figures) {
    println!(
        "{name:<22} {:>7.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} requests, {} errors, concurrency {CONCURRENCY})",
        f.rps,
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3,
        f.requests,
        f.errors
    );
}

async fn post(http: &reqwest::Client, token: &str, url: String, body: Value) -> Value {
    let r = http.post(url).bearer_auth(token).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

#[tokio::main]
async fn main() {
    let db = TestDb::new().await;
    store::migrate(&db.pool).await.unwrap();
    let queue = TestQueue::new().await;
    let user = mint(&db, TokenKind::User).await;
    let worker = mint(&db, TokenKind::Worker).await;
    let http = reqwest::Client::new();

    // Cold start: process start to first answered request.
    let port = free_port();
    let health = format!("http://127.0.0.1:{port}/api/health");
    let t0 = Instant::now();
    let _api = start(env!("CARGO_BIN_EXE_api"), port, &db, &queue);
    loop {
        if let Ok(r) = http.get(&health).bearer_auth(&user).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "api did not answer");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let first_answer = t0.elapsed();
    let wport = free_port();
    let _worker_api = start(env!("CARGO_BIN_EXE_worker-api"), wport, &db, &queue);

    // Data: one project (with its setup ticket), 50 nodes, 499 more tickets.
    let base = format!("http://127.0.0.1:{port}/api");
    let project = post(
        &http,
        &user,
        format!("{base}/projects"),
        json!({"name": "bench", "repo_url": "https://h/a/b.git"}),
    )
    .await;
    let pid = project["id"].as_str().unwrap().to_string();
    // 20 projects in the list.
    for i in 1..20 {
        let other = json!({"name": format!("other-{i}"), "repo_url": "https://h/a/b.git"});
        post(&http, &user, format!("{base}/projects"), other).await;
    }
    let nodes: Vec<Value> = (0..50)
        .map(|i| json!({"id": uuid::Uuid::new_v4(), "label": format!("svc-{i}"), "x": i * 10, "y": i}))
        .collect();
    let node_ids: Vec<Value> = nodes.iter().map(|n| n["id"].clone()).collect();
    // 49 connections: each service calls the next.
    let edges: Vec<Value> = node_ids
        .windows(2)
        .map(|w| json!({"id": uuid::Uuid::new_v4(), "source": w[0], "target": w[1], "label": "calls"}))
        .collect();
    let r = http
        .put(format!("{base}/projects/{pid}/graph"))
        .bearer_auth(&user)
        .json(&json!({"nodes": nodes, "edges": edges}))
        .send();
    assert!(r.await.unwrap().status().is_success());
    // What a run needs to be queued (pre-flight); nothing here calls it.
    let runnable =
        json!({"director_llm_url": "https://llm.invalid/v1", "director_llm_model": "m", "github_token": "ghp_bench"});
    let r = http
        .put(format!("{base}/projects/{pid}/settings"))
        .bearer_auth(&user)
        .json(&runnable)
        .send();
    assert!(r.await.unwrap().status().is_success());
    let mut tickets = Vec::new();
    for i in 0..499 {
        let body = json!({"title": format!("Ticket {i}"), "description": "x".repeat(200),
                          "node_ids": [node_ids[i % 50], node_ids[(i + 7) % 50]]});
        let t = post(&http, &user, format!("{base}/projects/{pid}/tickets"), body).await;
        tickets.push(t["id"].as_str().unwrap().to_string());
    }
    let board: Value = http
        .get(format!("{base}/projects/{pid}/board"))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cols = board["columns"].as_array().unwrap();
    let count: usize = cols.iter().map(|c| c["tickets"].as_array().unwrap().len()).sum();
    let columns: Vec<String> = cols
        .iter()
        .filter(|c| c["role"] != "in_progress")
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();

    // A running job to append events to, claimed through the worker API.
    let setup = cols[0]["tickets"][0]["id"].as_str().unwrap().to_string();
    let moved = post(
        &http,
        &user,
        format!("{base}/projects/{pid}/tickets/{setup}/move"),
        json!({"column_id": cols[1]["id"]}),
    )
    .await;
    let job = moved["job"]["id"].as_str().unwrap().to_string();
    let claim = post(
        &http,
        &worker,
        format!("http://127.0.0.1:{wport}/worker/jobs/{job}/claim"),
        json!({"host_id": "bench", "execution_mode": "docker"}),
    )
    .await;
    let job_token = claim["job_token"].as_str().unwrap().to_string();

    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("\nTerarchitect API benchmark: {count} tickets, 50 nodes, {cores} cores, release build over HTTP");
    println!(
        "{:<22} {:>7.1} ms",
        "api first answer",
        first_answer.as_secs_f64() * 1e3
    );

    for what in ["board", "graph"] {
        let f = load_get(&http, &user, format!("{base}/projects/{pid}/{what}")).await;
        report(&format!("get-{what}"), &f);
    }
    let f = load_get(&http, &user, format!("{base}/projects")).await;
    report("get-projects", &f);

    // Read after the writes below: the ticket with its job, the review list, and a page
    // of 1,000 of the job's events.
    let reads = [
        ("get-ticket", format!("{base}/projects/{pid}/tickets/{setup}")),
        ("get-review-list", format!("{base}/projects/{pid}/review")),
        (
            "get-events (1000)",
            format!("{base}/projects/{pid}/jobs/{job}/events?limit=1000"),
        ),
    ];
    let (h, u) = (http.clone(), user.clone());
    let (tickets, columns) = (Arc::new(tickets), Arc::new(columns));
    let f = load(move |i| {
        let (h, u) = (h.clone(), u.clone());
        let url = format!("{base}/projects/{pid}/tickets/{}/move", tickets[i % tickets.len()]);
        let body = json!({"column_id": columns[(i / 7) % columns.len()], "position": i % 5});
        async move {
            h.post(url)
                .bearer_auth(u)
                .json(&body)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        }
    })
    .await;
    report("move-ticket", &f);

    let events_url = format!("http://127.0.0.1:{wport}/agent/events");
    let (h, t) = (http.clone(), job_token);
    let f = load(move |i| {
        let (h, t, url) = (h.clone(), t.clone(), events_url.clone());
        let events: Vec<Value> = (0..10)
            .map(|k| {
                json!({"event_id": uuid::Uuid::new_v4(), "phase": "execute", "step": "worker",
                       "summary": format!("event {i}-{k}"), "input_tokens": 12, "output_tokens": 3})
            })
            .collect();
        async move {
            h.post(url)
                .bearer_auth(t)
                .json(&json!({"events": events}))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        }
    })
    .await;
    report("append-events (10/req)", &f);

    for (name, url) in reads {
        let f = load_get(&http, &user, url).await;
        report(name, &f);
    }
}
