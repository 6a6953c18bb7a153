//! Token and money budgets in the browser: real `api` and `worker-api` (whose gateway meters and
//! refuses), real Postgres, an LLM stand-in answering with known usage, headless
//! Chromium. The board card, the ticket page, its run list and its log agree on the
//! metered figures at every step, and show what is left of the budgets.

use serde_json::{Value, json};
use terarchitect_testkit::llm::{LlmStandIn, Reply};
use terarchitect_web_e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_shows_on_the_board_and_the_ticket_page() -> Res<()> {
    in_browser("budget", budget_flow).await
}

async fn budget_flow(s: &Stack, b: &Browser) -> Res<()> {
    let llm = LlmStandIn::start(vec![
        Reply::text("a plan").with_usage(50, 10),
        Reply::text("more").with_usage(30, 30),
    ])
    .await;
    let p = s
        .api(
            "POST",
            "/api/projects",
            Some(json!({"name": "Budgeted", "repo_url": "https://github.com/acme/budget.git"})),
        )
        .await?;
    let pid = p["id"].as_str().ok_or("no project id")?.to_string();
    let settings = json!({
        "director_llm_url": llm.url, "director_llm_model": "d", "github_token": "ghp_placeholder",
        "ticket_budget_tokens": 100, "project_budget_tokens": 1000,
        // $1000 / $2000 per million tokens: 50 in and 10 out cost $0.07.
        "llm_prices": "d=1000/2000", "ticket_budget_usd": 1, "project_budget_usd": 10,
    });
    s.api("PUT", &format!("/api/projects/{pid}/settings"), Some(settings))
        .await?;
    let t = s
        .api(
            "POST",
            &format!("/api/projects/{pid}/tickets"),
            Some(json!({"title": "Spend tokens", "whole_graph": true})),
        )
        .await?;
    let tid = t["id"].as_str().ok_or("no ticket id")?.to_string();
    let cols = s.api("GET", &format!("/api/projects/{pid}/columns"), None).await?;
    let in_progress = cols
        .as_array()
        .and_then(|a| a.iter().find(|c| c["role"] == "in_progress"))
        .and_then(|c| c["id"].as_str())
        .ok_or("no In Progress column")?
        .to_string();
    let moved = s
        .api(
            "POST",
            &format!("/api/projects/{pid}/tickets/{tid}/move"),
            Some(json!({"column_id": in_progress})),
        )
        .await?;
    let jid = moved["job"]["id"].as_str().ok_or("no job")?.to_string();
    let claim = s
        .call(
            &s.worker_base,
            &s.worker_token,
            "POST",
            &format!("/worker/jobs/{jid}/claim"),
            Some(json!({"host_id": "e2e-host", "execution_mode": "docker"})),
        )
        .await?;
    let job_token = claim["job_token"].as_str().ok_or("no job token")?.to_string();
    // The agent's LLM calls, through the gateway with its job token.
    let chat = || {
        let job_token = job_token.clone();
        async move {
            let body = json!({"model": "d", "messages": [{"role": "user", "content": "go"}]});
            let r = s
                .http
                .post(format!("{}/gateway/director/v1/chat/completions", s.worker_base))
                .bearer_auth(&job_token)
                .json(&body)
                .send()
                .await?;
            let status = r.status().as_u16();
            let body: Value = r.json().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body))
        }
    };

    b.sign_in(s).await?;
    b.client.goto(&format!("{}/projects/{pid}", s.base)).await?;
    let card = format!("[data-ticket-id=\"{tid}\"]");
    b.wait_for(&format!("{card} .card-budget")).await?;
    board_says(
        b,
        &card,
        "0 / 100 tokens · $0 / $1.00",
        "0 tokens ($0) used, 1,000 of 1,000 tokens and $10.00 of $10.00 left",
    )
    .await?;

    // 60 tokens metered: the board follows on its own.
    assert_eq!(chat().await?.0, 200);
    b.wait_js(
        "the card's 60 tokens",
        &format!(
            "return document.querySelector('{card} .card-budget').textContent === '60 / 100 tokens · $0.0700 / $1.00'"
        ),
    )
    .await?;
    b.wait_js(
        "the project's 60 tokens",
        "return document.querySelector('#project-usage').textContent === '60 tokens ($0.0700) used, 940 of 1,000 tokens and $9.93 of $10.00 left'",
    )
    .await?;

    // The ticket page says the same in its header, its run list and its log.
    b.click(&format!("{card} .card-title")).await?;
    b.wait_for("#ticket-budget").await?;
    assert_eq!(
        b.text_of("#ticket-budget").await?,
        "40 of 100 tokens and $0.9300 of $1.00 left"
    );
    let header = b.text_of(".page-head").await?;
    assert!(
        header.contains("50 in / 10 out tokens · $0.0700 (all runs)"),
        "{header}"
    );
    b.wait_for(".log-head").await?;
    b.wait_js(
        "the log's metered tokens",
        "return document.querySelector('.log-head .muted').textContent === '50 in / 10 out tokens · $0.0700'",
    )
    .await?;
    assert!(b.text_of(".job-row").await?.contains("50 in / 10 out tokens · $0.0700"));

    // Past the budget: the next call goes through (60 < 100), the one after is refused.
    assert_eq!(chat().await?.0, 200);
    let (status, refused) = chat().await?;
    assert_eq!(status, 402, "{refused}");
    assert_eq!(refused["error"]["code"], "budget_exhausted");
    assert_eq!(llm.requests().len(), 2, "the refused call never reached the LLM");
    // The agent stops the run with the gateway's reason.
    let reason = format!(
        "the budget ran out: budget_exhausted: {}",
        refused["error"]["message"].as_str().unwrap_or_default()
    );
    s.call(
        &s.worker_base,
        &s.worker_token,
        "POST",
        &format!("/worker/jobs/{jid}/finish"),
        Some(json!({"host_id": "e2e-host", "outcome": "failed", "exit_code": 1, "reason": reason})),
    )
    .await?;
    b.wait_for("#log-status[data-job-status=failed]").await?;
    b.wait_js(
        "the ticket's budget spent",
        "const e = document.querySelector('#ticket-budget'); return !!e && e.textContent === 'its budget of 100 tokens is spent'",
    )
    .await?;
    b.wait_js(
        "the run's reason and metered tokens",
        "const t = document.querySelector('.job-row').textContent; return t.includes('budget_exhausted') && t.includes('80 in / 40 out tokens · $0.1600')",
    )
    .await?;
    let header = b.text_of(".page-head").await?;
    assert!(
        header.contains("80 in / 40 out tokens · $0.1600 (all runs)"),
        "{header}"
    );
    b.screenshot("20-ticket-budget-spent.png").await?;

    b.client.goto(&format!("{}/projects/{pid}", s.base)).await?;
    b.wait_for(&format!("{card} .card-budget.spent")).await?;
    board_says(
        b,
        &card,
        "120 / 100 tokens · $0.1600 / $1.00: budget spent",
        "120 tokens ($0.1600) used, 880 of 1,000 tokens and $9.84 of $10.00 left",
    )
    .await?;
    b.screenshot("21-board-budget-spent.png").await?;
    Ok(())
}

/// The card's budget line and the project's usage line read exactly so.
async fn board_says(b: &Browser, card: &str, card_text: &str, usage_text: &str) -> Res<()> {
    assert_eq!(b.text_of(&format!("{card} .card-budget")).await?, card_text);
    assert_eq!(b.text_of("#project-usage").await?, usage_text);
    Ok(())
}
