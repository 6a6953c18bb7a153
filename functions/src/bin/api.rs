//! The UI-facing API function.
use terarchitect_functions::{config::Config, domain::App, http, runtime};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    runtime::init_tracing();
    let app = App::from_config(&Config::from_env()?, 10).await?;
    // STATIC_DIR: also serve the built UI on the same origin (not used on Lambda).
    let router = match std::env::var_os("STATIC_DIR") {
        Some(dir) => http::api_router_with_ui(app, std::path::Path::new(&dir)),
        None => http::api_router(app),
    };
    runtime::serve(router).await
}
