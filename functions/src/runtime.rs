//! Process start-up shared by the binaries: logging, and serving a router either on the
//! Lambda runtime or (outside Lambda) on a plain TCP listener.

use axum::Router;

/// JSON logs on Lambda (CloudWatch), human-readable elsewhere; `RUST_LOG` filters.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    if std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok() || std::env::var("LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().without_time().init();
    } else {
        builder.init();
    }
}

/// On Lambda (or under `cargo lambda watch`) hands the router to `lambda_http::run`;
/// with `LISTEN_ADDR` set serves it over plain HTTP instead (benchmarks, containers).
pub async fn serve(router: Router) -> anyhow::Result<()> {
    match std::env::var("LISTEN_ADDR") {
        Ok(addr) if std::env::var("AWS_LAMBDA_RUNTIME_API").is_err() => {
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            tracing::info!(addr = %listener.local_addr()?, "listening");
            axum::serve(listener, router).with_graceful_shutdown(shutdown()).await?;
            Ok(())
        }
        _ => lambda_http::run(router).await.map_err(|e| anyhow::anyhow!(e)),
    }
}

async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
