//! Cancel latency: from the stop request (a ticket moved out of In Progress) to the agent's
//! run ending, with a Worker LLM call held in flight. 20 runs against the real API and
//! Postgres, the LLM a stand-in that never answers in time. In a container the agent's exit
//! is the container's stop. `./dev bench` runs it (needs TERARCHITECT_TEST_PG_URL/SQS_URL).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Env, Setup, python_repo};
use serde_json::json;
use terarchitect_testkit::llm::Reply;

const RUNS: usize = 20;

#[tokio::main]
async fn main() {
    let mut took = Vec::new();
    for _ in 0..RUNS {
        let director = vec![Reply::json(json!({"action": "approve_plan"}))];
        let worker = vec![Reply::Delay(Duration::from_secs(600), Box::new(Reply::text("late")))];
        let env = Env::new(python_repo(), Setup::default(), director, worker).await;
        let mut cfg = env.config();
        // The shipped poll interval, not the tests' shortened one.
        cfg.cancel_poll = terarchitect_agent::job::Config::new("http://x", "t", "/tmp".into()).cancel_poll;
        cfg.llm_retry.timeout = Duration::from_secs(600);
        let run = tokio::spawn(terarchitect_agent::run(cfg));
        terarchitect_testkit::eventually("a Worker call in flight", Duration::from_secs(60), || async {
            (!env.worker.requests().is_empty()).then_some(())
        })
        .await;
        let asked = Instant::now();
        terarchitect_functions::domain::jobs::cancel(&env.app, env.project_id, env.job_id)
            .await
            .unwrap();
        let ended = tokio::time::timeout(Duration::from_secs(120), run).await;
        assert!(ended.is_ok(), "a run did not end within 120 s of its cancel");
        took.push(asked.elapsed());
    }
    took.sort();
    let at = |q: f64| took[((took.len() as f64 * q).ceil() as usize).saturating_sub(1)];
    println!(
        "cancel latency over {RUNS} runs (LLM call in flight): p50 {:.2} s, p95 {:.2} s, max {:.2} s",
        at(0.50).as_secs_f64(),
        at(0.95).as_secs_f64(),
        took[took.len() - 1].as_secs_f64()
    );
}
