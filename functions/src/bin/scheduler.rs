//! The scheduler: re-sends jobs whose enqueue did not complete, whose message went to the
//! dead-letter queue (`JOB_DLQ_URL`) or went missing (`REQUEUE_UNCLAIMED_AFTER_SECONDS`,
//! default 600), recovers jobs whose host stopped heartbeating, and polls the pull requests of tickets In Review for new reviewer
//! comments (queueing `review` jobs). On Lambda it runs once per EventBridge tick;
//! elsewhere (`./dev up`, a single box) it repairs every `SCHEDULER_EVERY_SECONDS`
//! (default 10) and polls pull requests every `REVIEW_POLL_EVERY_SECONDS` (default 60,
//! to stay well inside GitHub's rate limit).
use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};
use terarchitect_functions::{
    config::Config,
    domain::{App, jobs, review},
    runtime,
};

fn seconds(var: &str, default: u64) -> Duration {
    Duration::from_secs(std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    runtime::init_tracing();
    let app = App::from_config(&Config::from_env()?, 2).await?;
    let timing = jobs::RepairTiming {
        unclaimed_after: seconds(
            "REQUEUE_UNCLAIMED_AFTER_SECONDS",
            jobs::RepairTiming::default().unclaimed_after.as_secs(),
        ),
        ..Default::default()
    };
    if std::env::var("AWS_LAMBDA_RUNTIME_API").is_ok() {
        let app = &app;
        return lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
            let r = jobs::repair(app, timing).await.map_err(lambda_runtime::Error::from)?;
            let p = review::poll_pull_requests(app)
                .await
                .map_err(lambda_runtime::Error::from)?;
            tracing::info!(?r, ?p, "scheduler pass");
            Ok::<_, lambda_runtime::Error>(serde_json::json!({
                "resent": r.resent, "requeued": r.requeued, "failed": r.failed, "expired_keys": r.expired_keys,
                "unclaimed": r.unclaimed, "redriven": r.redriven,
                "review": p,
            }))
        }))
        .await
        .map_err(|e| anyhow::anyhow!(e));
    }
    let every = seconds("SCHEDULER_EVERY_SECONDS", 10);
    let poll_every = seconds("REVIEW_POLL_EVERY_SECONDS", 60);
    let mut next_poll = tokio::time::Instant::now();
    loop {
        match jobs::repair(&app, timing).await {
            Ok(r) if r != jobs::Repairs::default() => tracing::info!(?r, "scheduler pass"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduler pass failed; retrying next tick"),
        }
        if tokio::time::Instant::now() >= next_poll {
            next_poll = tokio::time::Instant::now() + poll_every;
            match review::poll_pull_requests(&app).await {
                Ok(p) if p.recorded > 0 || p.queued > 0 || p.capped > 0 || p.merged > 0 || p.failed > 0 => {
                    tracing::info!(?p, "review poll")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "review poll failed; retrying next time"),
            }
        }
        tokio::time::sleep(every).await;
    }
}
