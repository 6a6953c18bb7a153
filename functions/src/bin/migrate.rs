//! Applies the database migrations (deploy step; `./dev up`). Safe to run concurrently.
//! In AWS it is a function that deploy.sh invokes once per deploy; elsewhere it runs once.
//! With `DATABASE_APP_SECRET_ARN` (AWS) it then creates or updates the functions' own
//! least-privilege login from that secret (`store::roles`).
use lambda_runtime::{LambdaEvent, service_fn};
use terarchitect_functions::config::{DatabaseSource, Login, SecretReader};
use terarchitect_functions::{runtime, store};

async fn migrate(database: &DatabaseSource) -> anyhow::Result<()> {
    let secrets = SecretReader::default();
    let pool = store::connect(database.resolve(&secrets).await?, 2);
    store::migrate(&pool).await?;
    tracing::info!("migrations applied");
    if let Some(arn) = Login::app_secret_arn() {
        let app = Login::read(&secrets, &arn).await?;
        store::roles::ensure_app_role(&pool, &app.username, &app.password).await?;
        tracing::info!(role = %app.username, "app database role set up");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    runtime::init_tracing();
    let database = DatabaseSource::from_env()?;
    if std::env::var("AWS_LAMBDA_RUNTIME_API").is_ok() {
        let database = &database;
        return lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
            migrate(database).await.map_err(lambda_runtime::Error::from)?;
            Ok::<_, lambda_runtime::Error>(serde_json::json!({"migrated": true}))
        }))
        .await
        .map_err(|e| anyhow::anyhow!(e));
    }
    migrate(&database).await
}
