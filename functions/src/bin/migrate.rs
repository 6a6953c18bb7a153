//! Applies the database migrations (deploy step; `./dev up`). Safe to run concurrently.
use terarchitect_functions::{runtime, store};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    runtime::init_tracing();
    let url = std::env::var("DATABASE_URL").map_err(|_| anyhow::anyhow!("DATABASE_URL is not set"))?;
    let pool = store::connect(&url, 2).await?;
    store::migrate(&pool).await?;
    tracing::info!("migrations applied");
    Ok(())
}
