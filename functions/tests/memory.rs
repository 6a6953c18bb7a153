//! Project memory end to end through the API: real Postgres + pgvector, a deterministic
//! OpenAI-compatible stand-in for the LLM and the embedding model.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use common::openai::OpenAi;
use serde_json::{Value, json};

const HOP_1: &str = "The checkout service calls the payment gateway for every order.";
const HOP_2: &str = "The payment gateway keeps its ledger in Postgres.";
const DISTRACTOR: &str = "Which database does the checkout service use? Nobody wrote it down.";
const QUERY: &str = "Which database does the checkout service use?";

async fn setup(t: &TestApp, ai: &OpenAi) -> String {
    {
        let mut s = ai.script.lock().unwrap();
        s.extractions.insert(
            HOP_1.into(),
            json!({"entities": ["checkout service", "payment gateway"], "triples": [["checkout service", "calls", "payment gateway"]]}),
        );
        s.extractions.insert(
            HOP_2.into(),
            json!({"entities": ["payment gateway", "Postgres"], "triples": [["payment gateway", "keeps ledger in", "postgres"]]}),
        );
    }
    t.put("/api/settings", json!({"director_llm_url": ai.url, "embedding_url": ai.url, "embedding_model": "bow-384", "embedding_key": "ek-secret"}))
        .await
        .ok();
    t.project("memory").await["id"].as_str().unwrap().to_string()
}

fn texts(v: &Value) -> Vec<String> {
    v["results"][0]["passages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_graph_walk_finds_the_second_hop_that_dense_retrieval_misses() {
    let t = TestApp::new().await;
    let ai = OpenAi::start().await;
    let pid = setup(&t, &ai).await;
    let r = t
        .post(
            &format!("/api/projects/{pid}/memory/index"),
            json!({"docs": [HOP_1, HOP_2, DISTRACTOR]}),
        )
        .await
        .ok();
    assert_eq!(r["indexed"], 3);

    // Dense retrieval alone (the same embeddings, nearest passages) misses the ledger.
    let q = pgvector::Vector::from(common::openai::embed_text(QUERY));
    let dense = terarchitect_functions::store::memory::nearest_passages(&t.db.pool, pid.parse().unwrap(), &q, 2)
        .await
        .unwrap();
    let dense: Vec<&str> = dense.iter().map(|d| d.1.as_str()).collect();
    assert!(
        !dense.contains(&HOP_2),
        "dense top-2 should miss the second hop: {dense:?}"
    );

    let r = t
        .post(
            &format!("/api/projects/{pid}/memory/retrieve"),
            json!({"queries": [QUERY], "num_to_retrieve": 2}),
        )
        .await
        .ok();
    let found = texts(&r);
    assert!(
        found.contains(&HOP_2.to_string()),
        "the walk from the checkout service reaches the ledger: {found:?}"
    );
    assert!(found.contains(&HOP_1.to_string()), "{found:?}");
    let scores: Vec<f64> = r["results"][0]["passages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["score"].as_f64().unwrap())
        .collect();
    assert!(scores[0] >= scores[1] && scores[1] > 0.0, "{scores:?}");
    // The embedding key went in the Authorization header, never into a prompt.
    let s = ai.script.lock().unwrap();
    assert!(!s.chat_requests.iter().any(|r| r.to_string().contains("ek-secret")));
}

#[tokio::test]
async fn reindexing_is_idempotent_and_delete_removes_what_only_it_supported() {
    let t = TestApp::new().await;
    let ai = OpenAi::start().await;
    let pid = setup(&t, &ai).await;
    let index = format!("/api/projects/{pid}/memory/index");
    assert_eq!(t.post(&index, json!({"docs": [HOP_1, HOP_2]})).await.ok()["indexed"], 2);
    let calls = ai.script.lock().unwrap().chat_requests.len();
    let again = t.post(&index, json!({"docs": [HOP_1, HOP_2, HOP_1]})).await.ok();
    assert_eq!(
        (again["indexed"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(
        ai.script.lock().unwrap().chat_requests.len(),
        calls,
        "nothing re-extracted"
    );
    let count = |table: &'static str| {
        let pool = t.db.pool.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&pool)
                .await
                .unwrap();
            n
        }
    };
    assert_eq!(
        (
            count("memory_passages").await,
            count("memory_entities").await,
            count("memory_facts").await
        ),
        (2, 3, 2)
    );

    let r = t
        .post(&format!("/api/projects/{pid}/memory/delete"), json!({"docs": [HOP_2]}))
        .await
        .ok();
    assert_eq!(r["deleted"], 1);
    // "postgres" and the ledger fact went with it; the shared "payment gateway" stays.
    assert_eq!(
        (
            count("memory_passages").await,
            count("memory_entities").await,
            count("memory_facts").await
        ),
        (1, 2, 1)
    );
    let r = t
        .post(
            &format!("/api/projects/{pid}/memory/retrieve"),
            json!({"queries": ["ledger postgres"], "num_to_retrieve": 5}),
        )
        .await
        .ok();
    assert_eq!(texts(&r), [HOP_1], "the deleted passage is gone from results");
}

#[tokio::test]
async fn projects_never_see_each_others_memory_and_agents_only_their_own() {
    let t = TestApp::new().await;
    let ai = OpenAi::start().await;
    let a = setup(&t, &ai).await;
    let b = t.project("other").await["id"].as_str().unwrap().to_string();
    t.post(&format!("/api/projects/{a}/memory/index"), json!({"docs": [HOP_1]}))
        .await
        .ok();
    t.post(&format!("/api/projects/{b}/memory/index"), json!({"docs": [HOP_2]}))
        .await
        .ok();
    let r = t
        .post(
            &format!("/api/projects/{b}/memory/retrieve"),
            json!({"queries": [HOP_1], "num_to_retrieve": 10}),
        )
        .await
        .ok();
    assert_eq!(texts(&r), [HOP_2]);
    // An agent of project b reads b's memory through the worker API with its job token.
    let token = job_token(&t, &b).await;
    let r = t
        .agent_post("/agent/memory/retrieve", &token, json!({"queries": [HOP_1]}))
        .await
        .ok();
    assert_eq!(texts(&r), [HOP_2]);
    let r = t
        .agent_post(
            "/agent/memory/index",
            &token,
            json!({"docs": ["The agent learned that tests run with make."]}),
        )
        .await
        .ok();
    assert_eq!(r["indexed"], 1);
    let r = t
        .post(
            &format!("/api/projects/{a}/memory/retrieve"),
            json!({"queries": ["tests run with make"], "num_to_retrieve": 10}),
        )
        .await
        .ok();
    assert_eq!(texts(&r), [HOP_1], "a's memory did not receive b's agent's write");
}

#[tokio::test]
async fn malformed_extractions_are_retried_and_bad_input_is_refused() {
    let t = TestApp::new().await;
    let ai = OpenAi::start().await;
    let pid = setup(&t, &ai).await;
    ai.script.lock().unwrap().first_replies = vec!["not json".into(), r#"{"entities": [], "triples": [["a"]]}"#.into()];
    let r = t
        .post(&format!("/api/projects/{pid}/memory/index"), json!({"docs": [HOP_1]}))
        .await
        .ok();
    assert_eq!(r["indexed"], 1);
    let requests = ai.script.lock().unwrap().chat_requests.clone();
    assert_eq!(requests.len(), 3);
    assert!(
        requests[2]["messages"].to_string().contains("not valid"),
        "the retry says what was wrong"
    );
    for bad in [json!({"docs": []}), json!({"docs": [""]}), json!({"docs": "x"})] {
        assert_eq!(
            t.post(&format!("/api/projects/{pid}/memory/index"), bad).await.status,
            StatusCode::BAD_REQUEST
        );
    }
    let r = t
        .post(
            &format!("/api/projects/{pid}/memory/retrieve"),
            json!({"queries": ["x"], "num_to_retrieve": 0}),
        )
        .await;
    assert_eq!(r.body["error"]["field"], "num_to_retrieve");
}

#[tokio::test]
async fn the_embeddings_adapter_forwards_openai_requests() {
    let t = TestApp::new().await;
    let ai = OpenAi::start().await;
    setup(&t, &ai).await;
    let r = t
        .post("/v1/embeddings", json!({"input": ["hello world"], "model": "bow-384"}))
        .await
        .ok();
    assert_eq!(
        r["data"][0]["embedding"].as_array().unwrap().len(),
        common::openai::DIMS
    );
    assert_eq!(
        ai.script.lock().unwrap().embedding_requests.last().unwrap()["input"][0],
        "hello world"
    );
    // Unconfigured or unreachable services are clear errors, not 500s.
    t.put("/api/settings", json!({"embedding_url": "http://127.0.0.1:9/v1"}))
        .await
        .ok();
    let r = t.post("/v1/embeddings", json!({"input": "x"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
}

/// The job token of a claimed job in project `pid`.
async fn job_token(t: &TestApp, pid: &str) -> String {
    let tid = t.ticket(pid, "t").await["id"].as_str().unwrap().to_string();
    let jid = t.move_to(pid, &tid, "in_progress").await.ok()["job"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    t.claimed(&jid).await
}

#[tokio::test]
async fn index_requests_over_the_bound_are_refused_and_write_nothing() {
    use terarchitect_protocol::validate::{MAX_INDEX_BYTES, MAX_INDEX_DOCS};
    let t = TestApp::new().await;
    let ai = OpenAi::start().await;
    let pid = setup(&t, &ai).await;
    let token = job_token(&t, &pid).await;
    let too_many: Vec<String> = (0..=MAX_INDEX_DOCS).map(|i| format!("document {i}")).collect();
    // Few documents, each within the per-document limit, but too many bytes together.
    let too_big = vec!["word ".repeat(4_000); MAX_INDEX_BYTES / 20_000 + 1];
    for docs in [too_many, too_big] {
        let body = json!({ "docs": docs });
        for r in [
            t.post(&format!("/api/projects/{pid}/memory/index"), body.clone()).await,
            t.agent_post("/agent/memory/index", &token, body.clone()).await,
        ] {
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::BAD_REQUEST, "invalid_input"),
                "{}",
                r.body
            );
            assert_eq!(r.body["error"]["field"], "docs");
            assert!(
                r.body["error"]["message"].as_str().unwrap().contains("split"),
                "{}",
                r.body
            );
        }
    }
    assert!(
        ai.script.lock().unwrap().chat_requests.is_empty(),
        "no LLM call for a refused request"
    );
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM memory_passages WHERE project_id = $1::uuid")
        .bind(&pid)
        .fetch_one(&t.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn a_request_at_the_bound_asks_the_llm_about_its_documents_at_once() {
    use std::time::{Duration, Instant};
    use terarchitect_protocol::validate::{MAX_INDEX_BYTES, MAX_INDEX_DOCS};
    use terarchitect_testkit::llm::{LlmStandIn, Reply};
    let t = TestApp::new().await;
    // Each extraction takes 2 s: one after the other, the request would take 16 s.
    let slow = Reply::Delay(
        Duration::from_secs(2),
        Box::new(Reply::json(json!({"entities": [], "triples": []}))),
    );
    let llm = LlmStandIn::start(vec![slow; MAX_INDEX_DOCS]).await;
    t.put(
        "/api/settings",
        json!({"director_llm_url": llm.url, "embedding_url": llm.url}),
    )
    .await
    .ok();
    let pid = t.project("memory").await["id"].as_str().unwrap().to_string();
    let per_doc = MAX_INDEX_BYTES / MAX_INDEX_DOCS;
    let docs: Vec<String> = (0..MAX_INDEX_DOCS)
        .map(|i| format!("{i:04} {}", "x".repeat(per_doc - 5)))
        .collect();
    let started = Instant::now();
    let r = t
        .post(&format!("/api/projects/{pid}/memory/index"), json!({ "docs": docs }))
        .await
        .ok();
    assert_eq!(r["indexed"], MAX_INDEX_DOCS);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "{took:?}: the extractions ran one after the other"
    );
}
