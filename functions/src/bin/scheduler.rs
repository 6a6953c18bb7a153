//! The scheduler: re-sends jobs whose enqueue did not complete and recovers jobs whose
//! host stopped heartbeating. On Lambda it runs once per EventBridge tick; elsewhere
//! (`./dev up`, a single box) it loops every `SCHEDULER_EVERY_SECONDS` (default 10).
use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};
use terarchitect_functions::{
    config::Config,
    domain::{App, jobs},
    runtime,
};

/// Outbox rows younger than this are still being sent by the request that wrote them.
const OUTBOX_GRACE: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    runtime::init_tracing();
    let app = App::from_config(&Config::from_env()?, 2).await?;
    if std::env::var("AWS_LAMBDA_RUNTIME_API").is_ok() {
        let app = &app;
        return lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
            let r = jobs::repair(app, OUTBOX_GRACE)
                .await
                .map_err(lambda_runtime::Error::from)?;
            tracing::info!(?r, "scheduler pass");
            Ok::<_, lambda_runtime::Error>(
                serde_json::json!({"resent": r.resent, "requeued": r.requeued, "failed": r.failed}),
            )
        }))
        .await
        .map_err(|e| anyhow::anyhow!(e));
    }
    let every = Duration::from_secs(
        std::env::var("SCHEDULER_EVERY_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10),
    );
    loop {
        match jobs::repair(&app, OUTBOX_GRACE).await {
            Ok(r) if r != jobs::Repairs::default() => tracing::info!(?r, "scheduler pass"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduler pass failed; retrying next tick"),
        }
        tokio::time::sleep(every).await;
    }
}
