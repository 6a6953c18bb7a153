//! The UI-facing API function.
use terarchitect_functions::{config::Config, domain::App, http, runtime};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    runtime::init_tracing();
    let app = App::from_config(&Config::from_env()?, 10).await?;
    runtime::serve(http::api_router(app)).await
}
