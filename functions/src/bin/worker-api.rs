//! The worker-host and agent API function (`WORKER_API_ROUTES=agent`: the agents' routes only).
use terarchitect_functions::{config::Config, domain::App, http, runtime};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    runtime::init_tracing();
    let app = App::from_config(&Config::from_env()?, 10).await?;
    // WORKER_API_ROUTES=agent: only what agents call (the public function URL in AWS).
    let router = match std::env::var("WORKER_API_ROUTES").as_deref() {
        Ok("agent") => http::agent_router(app),
        Ok("all") | Err(_) => http::worker_router(app),
        Ok(other) => anyhow::bail!("WORKER_API_ROUTES must be `agent` or `all`, not `{other}`"),
    };
    runtime::serve(router).await
}
