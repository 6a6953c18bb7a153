//! One way to start the stack. `cargo xtask` (behind `./dev up`, `./dev services`,
//! `./dev test`), the system tests (`tests/harness.rs`) and the browser tests
//! (`web/e2e`) start their services through this crate:
//!
//! - [`Postgres`]: initdb on first use, `pg_ctl start`, stopped on drop;
//! - [`Moto`]: the SQS emulator, and [`create_queue`] on it;
//! - [`functions`]: the `api` and `worker-api` binaries, `cargo lambda watch`, the
//!   scheduler, the UI (the `api` binary serving `web/dist`) and the worker host, each a
//!   [`ProcessGroup`] killed with its children on drop.

pub mod functions;
pub mod process;
pub mod services;

use std::time::Duration;

pub use functions::{Env, Log};
pub use process::ProcessGroup;
pub use services::{Moto, Postgres, create_queue, create_queue_with_dead_letters, emulator_config, sqs_client};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, Error>;

/// FNV-1a of `bytes`: a short name that is the same on every run and toolchain (std's
/// hasher promises neither), for ids and tags derived from paths or file contents.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Polls `check` until it returns `Some`, or returns [`TimedOut`] after `timeout`.
pub async fn try_eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> std::result::Result<T, TimedOut>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(TimedOut(format!("timed out after {timeout:?} waiting for {what}")));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What [`try_eventually`] returns when the condition never held.
#[derive(Debug)]
pub struct TimedOut(String);

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TimedOut {}

/// Waits until `url` answers (a GET, with `token` as bearer when given) with a status
/// `accept` takes; each try may take up to `per_try`. The first request through
/// `cargo lambda watch` builds and starts the function, hence the caller's time-outs.
pub async fn wait_http(
    url: &str,
    token: Option<&str>,
    timeout: Duration,
    per_try: Duration,
    accept: impl Fn(u16) -> bool,
) -> std::result::Result<(), TimedOut> {
    let http = reqwest::Client::new();
    let (http, accept) = (&http, &accept);
    try_eventually(&format!("{url} to answer"), timeout, || async move {
        let mut r = http.get(url).timeout(per_try);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let status = r.send().await.ok()?.status().as_u16();
        accept(status).then_some(())
    })
    .await
}
