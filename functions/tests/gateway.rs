//! The LLM gateway on the worker API: the job token in, the project's key added, the
//! upstream's answer (JSON or SSE) passed back, usage metered from the upstream's own
//! `usage` fields. Real Postgres; the LLM stand-in for the providers.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::TestApp;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use terarchitect_functions::domain::App;
use terarchitect_functions::{http, store};
use terarchitect_testkit::llm::{LlmStandIn, Reply};
use tower::ServiceExt;

const DIRECTOR_KEY: &str = "sk-director-gw-secret-1";
const WORKER_KEY: &str = "sk-worker-gw-secret-2";
const ANTHROPIC_KEY: &str = "sk-ant-gw-secret-3";
const EMBEDDING_KEY: &str = "sk-embed-gw-secret-4";

/// A reply as raw bytes: status, content type, body.
struct Raw {
    status: StatusCode,
    content_type: String,
    body: String,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.body))
    }
}

async fn post(router: &Router, path: &str, token: Option<&str>, body: Value) -> Raw {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let res = router
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Raw {
        status,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Three stand-ins (the Director's and the Worker's OpenAI endpoints, Anthropic) and a
/// worker API whose Anthropic base is the third.
struct Gw {
    t: TestApp,
    worker: Router,
    director_llm: LlmStandIn,
    worker_llm: LlmStandIn,
    anthropic: LlmStandIn,
}

impl Gw {
    async fn new() -> Gw {
        let t = TestApp::new().await;
        let director_llm = LlmStandIn::start(vec![]).await;
        let worker_llm = LlmStandIn::start(vec![]).await;
        let anthropic = LlmStandIn::start(vec![]).await;
        let app = App {
            anthropic_api_url: anthropic.url.trim_end_matches("/v1").to_string(),
            ..t.app.clone()
        };
        t.put(
            "/api/settings",
            json!({
                "director_llm_url": director_llm.url, "director_llm_model": "d", "director_llm_key": DIRECTOR_KEY,
                "worker_llm_url": worker_llm.url, "worker_llm_model": "w", "worker_llm_key": WORKER_KEY,
                "anthropic_key": ANTHROPIC_KEY,
                "embedding_url": director_llm.url, "embedding_model": "e", "embedding_key": EMBEDDING_KEY,
            }),
        )
        .await
        .ok();
        Gw {
            worker: http::worker_router(app),
            t,
            director_llm,
            worker_llm,
            anthropic,
        }
    }

    /// A new ticket in project `pid` with a claimed job: (ticket id, job id, job token).
    async fn running_job(&self, pid: &str) -> (String, String, String) {
        let tid = self.t.ticket(pid, "Use the gateway").await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let jid = self.t.move_to(pid, &tid, "in_progress").await.ok()["job"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let claim = self
            .t
            .worker_post(
                &format!("/worker/jobs/{jid}/claim"),
                json!({"host_id": "h", "execution_mode": "docker"}),
            )
            .await
            .ok();
        (tid, jid, claim["job_token"].as_str().unwrap().to_string())
    }

    async fn call(&self, token: &str, role: &str, api: &str, body: Value) -> Raw {
        let path = match api {
            "openai" => format!("/gateway/{role}/v1/chat/completions"),
            _ => format!("/gateway/{role}/v1/messages"),
        };
        post(&self.worker, &path, Some(token), body).await
    }
}

/// A 402 `budget_exhausted` whose message says `says`.
fn assert_budget_exhausted(r: &Raw, says: &str) {
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    let e = r.json();
    assert_eq!(e["error"]["code"], "budget_exhausted");
    let message = e["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{message}");
}

fn chat(stream: bool) -> Value {
    json!({"model": "any", "messages": [{"role": "user", "content": "hi"}], "stream": stream})
}

#[tokio::test]
async fn usage_totals_per_job_ticket_and_project_are_the_exact_sum_of_upstream_usage() {
    let g = Gw::new().await;
    let pid = g.t.project("metered").await["id"].as_str().unwrap().to_string();
    let (tid, jid, token) = g.running_job(&pid).await;
    g.director_llm.push([Reply::text("plan").with_usage(11, 7)]);
    g.worker_llm.push([Reply::text("streamed answer").with_usage(13, 4)]);
    g.anthropic.push([
        Reply::text("claude says").with_usage(21, 5),
        Reply::text("claude streams").with_usage(17, 9),
    ]);

    let r = g.call(&token, "director", "openai", chat(false)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["choices"][0]["message"]["content"], "plan");

    let r = g.call(&token, "worker", "openai", chat(true)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.content_type.starts_with("text/event-stream"), "{}", r.content_type);
    assert!(
        r.body.contains("\"content\":\"streame\"")
            && r.body.contains("\"content\":\"d answer\"")
            && r.body.ends_with("data: [DONE]\n\n"),
        "{}",
        r.body
    );
    assert_eq!(
        g.worker_llm.requests()[0]["stream_options"]["include_usage"],
        true,
        "a streamed OpenAI call asks for its usage"
    );

    let msg = json!({"model": "claude", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]});
    let r = g.call(&token, "worker", "anthropic", msg.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["content"][0]["text"], "claude says");
    let mut streamed = msg.clone();
    streamed["stream"] = json!(true);
    let r = g.call(&token, "worker", "anthropic", streamed).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("event: message_delta"), "{}", r.body);

    // The keys were added by the gateway, each to its own upstream, never the job token.
    assert_eq!(g.director_llm.credentials(), [Some(format!("Bearer {DIRECTOR_KEY}"))]);
    assert_eq!(g.worker_llm.credentials(), [Some(format!("Bearer {WORKER_KEY}"))]);
    assert_eq!(
        g.anthropic.credentials(),
        [Some(ANTHROPIC_KEY.to_string()), Some(ANTHROPIC_KEY.to_string())]
    );

    // A second job of the same project, on another ticket.
    let (_, _, other) = g.running_job(&pid).await;
    g.director_llm.push([Reply::text("x").with_usage(100, 1)]);
    assert_eq!(
        g.call(&other, "director", "openai", chat(false)).await.status,
        StatusCode::OK
    );

    let (input, output) = (11 + 13 + 21 + 17, 7 + 4 + 5 + 9);
    let job = g.t.get(&format!("/api/projects/{pid}/jobs/{jid}")).await.ok();
    assert_eq!(
        (job["input_tokens"].as_i64(), job["output_tokens"].as_i64()),
        (Some(input), Some(output))
    );
    let ticket = g.t.get(&format!("/api/projects/{pid}/tickets/{tid}")).await.ok();
    assert_eq!(
        (ticket["input_tokens"].as_i64(), ticket["output_tokens"].as_i64()),
        (Some(input), Some(output))
    );
    let project = g.t.get(&format!("/api/projects/{pid}/usage")).await.ok();
    assert_eq!(
        project,
        json!({"calls": 5, "input_tokens": input + 100, "output_tokens": output + 1, "budget_tokens": null,
            "ticket_budget_tokens": null, "cost_nano_usd": 0, "budget_nano_usd": null, "ticket_budget_nano_usd": null})
    );
    let other = g.t.project("unmetered").await["id"].as_str().unwrap().to_string();
    let none = g.t.get(&format!("/api/projects/{other}/usage")).await.ok();
    assert_eq!(
        none,
        json!({"calls": 0, "input_tokens": 0, "output_tokens": 0, "budget_tokens": null, "ticket_budget_tokens": null,
            "cost_nano_usd": 0, "budget_nano_usd": null, "ticket_budget_nano_usd": null})
    );
    let db = &g.t.app.db;
    let by_job = store::usage::job_totals(db, jid.parse().unwrap()).await.unwrap();
    assert_eq!(
        (by_job.calls, by_job.input_tokens, by_job.output_tokens),
        (4, input, output)
    );

    // What the agent reports about its tokens is shown in its log, never added up.
    let events = json!({"events": [{"phase": "plan", "step": "s", "summary": "x", "input_tokens": 5000, "output_tokens": 5000}]});
    TestApp::call(
        &g.worker,
        Method::POST,
        "/agent/events",
        Some(&token),
        Some(events),
        &[],
    )
    .await
    .ok();
    let job = g.t.get(&format!("/api/projects/{pid}/jobs/{jid}")).await.ok();
    assert_eq!(job["input_tokens"].as_i64(), Some(input));
}

#[tokio::test]
async fn a_spent_token_budget_refuses_the_next_call_with_budget_exhausted() {
    let g = Gw::new().await;
    let pid = g.t.project("budgeted").await["id"].as_str().unwrap().to_string();
    let settings = format!("/api/projects/{pid}/settings");
    g.t.put(&settings, json!({"ticket_budget_tokens": 100})).await.ok();
    let (tid, jid, token) = g.running_job(&pid).await;
    g.director_llm.push([
        Reply::text("one").with_usage(40, 20),
        Reply::text("two, streamed").with_usage(30, 20),
        Reply::text("three").with_usage(5, 5),
        Reply::text("four").with_usage(10, 10),
    ]);
    // 60 of 100 used: the next call still goes (and takes the ticket past its budget).
    assert_eq!(
        g.call(&token, "director", "openai", chat(false)).await.status,
        StatusCode::OK
    );
    let r = g.call(&token, "director", "openai", chat(true)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // 110 of 100: refused before the upstream is called, and nothing metered.
    let refused = g.call(&token, "director", "openai", chat(false)).await;
    assert_budget_exhausted(&refused, "ticket's budget of 100 tokens is spent (110 used)");
    assert_eq!(g.director_llm.requests().len(), 2, "the upstream was not called");
    let usage = g.t.get(&format!("/api/projects/{pid}/usage")).await.ok();
    assert_eq!(
        (
            usage["input_tokens"].as_i64(),
            usage["output_tokens"].as_i64(),
            usage["ticket_budget_tokens"].as_i64()
        ),
        (Some(70), Some(40), Some(100))
    );
    let job = g.t.get(&format!("/api/projects/{pid}/jobs/{jid}")).await.ok();
    assert_eq!(
        job["input_tokens"].as_i64().unwrap() + job["output_tokens"].as_i64().unwrap(),
        110
    );
    let ticket = g.t.get(&format!("/api/projects/{pid}/tickets/{tid}")).await.ok();
    assert_eq!(
        ticket["input_tokens"].as_i64().unwrap() + ticket["output_tokens"].as_i64().unwrap(),
        110
    );

    // Raised while the run goes on: its next call passes.
    g.t.put(&settings, json!({"ticket_budget_tokens": 200})).await.ok();
    assert_eq!(
        g.call(&token, "director", "openai", chat(false)).await.status,
        StatusCode::OK
    );
    // Another ticket has a budget of its own, but the project's (125, 120 used) stops it
    // too once spent.
    g.t.put(&settings, json!({"project_budget_tokens": 125})).await.ok();
    let (_, _, other) = g.running_job(&pid).await;
    let r = g.call(&other, "director", "openai", chat(false)).await;
    assert_eq!(r.status, StatusCode::OK, "120 of 125 used: {}", r.body);
    let r = g.call(&other, "director", "openai", chat(false)).await;
    assert_budget_exhausted(&r, "project's budget of 125 tokens");
    // Bad budgets are refused with the field named.
    let bad = g.t.put(&settings, json!({"ticket_budget_tokens": -1})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
}

#[tokio::test]
async fn calls_are_priced_as_made_and_a_spent_money_budget_refuses_the_next() {
    let g = Gw::new().await;
    let pid = g.t.project("priced").await["id"].as_str().unwrap().to_string();
    let settings = format!("/api/projects/{pid}/settings");
    // $2.50 / $10 per million tokens for "any" (the test calls' model).
    let prices = json!({"llm_prices": "any=2.50/10, other-*=1/1", "ticket_budget_usd": 0.01});
    g.t.put(&settings, prices).await.ok();
    let (tid, jid, token) = g.running_job(&pid).await;
    g.director_llm.push([
        Reply::text("one").with_usage(1000, 200),
        Reply::text("two, streamed").with_usage(2000, 300),
        Reply::text("three").with_usage(1000, 1000),
    ]);
    // 1000 × 2.5 + 200 × 10 = 4,500,000 nano-dollars; 2000 × 2.5 + 300 × 10 = 8,000,000.
    for stream in [false, true] {
        let r = g.call(&token, "director", "openai", chat(stream)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let cost = 12_500_000;
    let job = g.t.get(&format!("/api/projects/{pid}/jobs/{jid}")).await.ok();
    assert_eq!(job["cost_nano_usd"].as_i64(), Some(cost));
    let ticket = g.t.get(&format!("/api/projects/{pid}/tickets/{tid}")).await.ok();
    assert_eq!(ticket["cost_nano_usd"].as_i64(), Some(cost));
    let usage = g.t.get(&format!("/api/projects/{pid}/usage")).await.ok();
    assert_eq!(
        (
            usage["cost_nano_usd"].as_i64(),
            usage["ticket_budget_nano_usd"].as_i64()
        ),
        (Some(cost), Some(10_000_000))
    );
    let page = g.t.get(&format!("/api/projects/{pid}/jobs/{jid}/events")).await.ok();
    assert_eq!(page["job_cost_nano_usd"].as_i64(), Some(cost));
    // $0.0125 of $0.01: refused, the upstream not called.
    let refused = g.call(&token, "director", "openai", chat(false)).await;
    assert_budget_exhausted(
        &refused,
        "ticket's budget of $0.0100 is spent ($0.0125 used); raise ticket_budget_usd",
    );
    assert_eq!(g.director_llm.requests().len(), 2);
    // A price change applies to later calls only: what was spent stays as it was priced.
    g.t.put(&settings, json!({"ticket_budget_usd": null, "llm_prices": "any=0/0"}))
        .await
        .ok();
    assert_eq!(
        g.call(&token, "director", "openai", chat(false)).await.status,
        StatusCode::OK
    );
    let job = g.t.get(&format!("/api/projects/{pid}/jobs/{jid}")).await.ok();
    assert_eq!(job["cost_nano_usd"].as_i64(), Some(cost));
    // The project's money budget counts every ticket.
    g.t.put(&settings, json!({"project_budget_usd": 0.0125})).await.ok();
    let (_, _, other) = g.running_job(&pid).await;
    let r = g.call(&other, "director", "openai", chat(false)).await;
    assert_budget_exhausted(&r, "project's budget of $0.0125");
    // Bad prices and amounts are the caller's mistake, with the field named.
    for bad in [
        json!({"llm_prices": "any=cheap"}),
        json!({"ticket_budget_usd": -1}),
        json!({"ticket_budget_usd": "5"}),
    ] {
        let r = g.t.put(&settings, bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    }
}

#[tokio::test]
async fn upstream_errors_pass_through_as_json_with_their_status_and_are_not_metered() {
    let g = Gw::new().await;
    let pid = g.t.project("errors").await["id"].as_str().unwrap().to_string();
    let (_, jid, token) = g.running_job(&pid).await;
    g.director_llm.push([
        Reply::Status(429, r#"{"error":{"message":"slow down","type":"rate_limit"}}"#.into()),
        Reply::Status(500, "upstream exploded".into()),
    ]);
    g.anthropic.push([Reply::Status(
        529,
        r#"{"type":"error","error":{"type":"overloaded_error"}}"#.into(),
    )]);

    let r = g.call(&token, "director", "openai", chat(false)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        r.json(),
        json!({"error": {"message": "slow down", "type": "rate_limit"}})
    );
    let r = g.call(&token, "director", "openai", chat(true)).await;
    assert_eq!(
        r.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "the upstream's status, as JSON"
    );
    assert_eq!(r.json()["error"]["code"], "upstream_error");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("upstream exploded")
    );
    let r = g
        .call(&token, "worker", "anthropic", json!({"model": "c", "messages": []}))
        .await;
    assert_eq!(r.status.as_u16(), 529);
    assert_eq!(r.json()["error"]["type"], "overloaded_error");

    // An upstream nobody answers at: 502, ours.
    g.t.put(
        &format!("/api/projects/{pid}/settings"),
        json!({"director_llm_url": "http://127.0.0.1:1/v1"}),
    )
    .await
    .ok();
    let r = g.call(&token, "director", "openai", chat(false)).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("upstream_unavailable"))
    );
    assert!(!r.body.contains(DIRECTOR_KEY));

    let totals = store::usage::job_totals(&g.t.app.db, jid.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(totals, Default::default(), "nothing was generated, nothing is counted");
}

#[tokio::test]
async fn only_a_running_jobs_token_reaches_the_gateway() {
    let g = Gw::new().await;
    let pid = g.t.project("tokens").await["id"].as_str().unwrap().to_string();
    let (_, jid, token) = g.running_job(&pid).await;
    g.director_llm.push([Reply::text("ok")]);
    assert_eq!(
        g.call(&token, "director", "openai", chat(false)).await.status,
        StatusCode::OK
    );
    let none = post(&g.worker, "/gateway/director/v1/chat/completions", None, chat(false)).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        g.call(&g.t.worker_token, "director", "openai", chat(false))
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "a worker host's token is not a job token"
    );
    let r = g.call(&token, "reviewer", "openai", chat(false)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    // Being cancelled: no more calls.
    g.t.post(&format!("/api/projects/{pid}/jobs/{jid}/cancel"), json!({}))
        .await
        .ok();
    let r = g.call(&token, "director", "openai", chat(false)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // Finished: the token names no running job.
    g.t.worker_post(
        &format!("/worker/jobs/{jid}/finish"),
        json!({"host_id": "h", "outcome": "cancelled", "exit_code": 1}),
    )
    .await
    .ok();
    let r = g.call(&token, "director", "openai", chat(false)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(
        g.director_llm.requests().len(),
        1,
        "only the running job's call went out"
    );
}

#[tokio::test]
async fn agent_context_holds_no_llm_or_embedding_key() {
    let g = Gw::new().await;
    let pid = g.t.project("no-secrets").await["id"].as_str().unwrap().to_string();
    // Project-level keys too (they win over the global ones).
    let project_keys = ["sk-proj-director-5", "sk-proj-worker-6", "sk-proj-ant-7"];
    g.t.put(
        &format!("/api/projects/{pid}/settings"),
        json!({"director_llm_key": project_keys[0], "worker_llm_key": project_keys[1], "anthropic_key": project_keys[2]}),
    )
    .await
    .ok();
    let (_, _, token) = g.running_job(&pid).await;
    let ctx = TestApp::call(&g.worker, Method::GET, "/agent/context", Some(&token), None, &[])
        .await
        .ok();
    let text = ctx.to_string();
    for secret in [DIRECTOR_KEY, WORKER_KEY, ANTHROPIC_KEY, EMBEDDING_KEY]
        .into_iter()
        .chain(project_keys)
    {
        assert!(!text.contains(secret), "{secret} in the agent's context");
    }
    // What the agent needs to know is still there.
    assert_eq!(ctx["settings"]["director_llm_model"], "d");
    assert_eq!(ctx["settings"]["director_llm_url"], g.director_llm.url);
    // And the gateway uses the project's key.
    g.director_llm.push([Reply::text("ok")]);
    assert_eq!(
        g.call(&token, "director", "openai", chat(false)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        g.director_llm.credentials(),
        [Some(format!("Bearer {}", project_keys[0]))]
    );
}
