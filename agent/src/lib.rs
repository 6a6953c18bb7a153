//! The agent that runs inside a job's container: a Director LLM driving a Worker from
//! ticket to pull request (or through a PR's review thread), logging every step.
//!
//! Contract with the worker host: on success `main` prints `TERARCHITECT_PR_URL=<url>`
//! and exits 0; cancellation exits 130 without pushing; any other failure exits non-zero
//! with the reason on the last line.

pub mod api;
pub mod cancel;
pub mod director;
pub mod error;
pub mod events;
pub mod git;
pub mod job;
pub mod llm;
pub mod relay;
pub mod sandbox;
pub mod testrun;
pub mod tools;
pub mod worker;

use std::time::Duration;

pub use error::{Error, Result};
pub use job::{Config, Outcome, run};

/// The process's one HTTP client (the API, the LLMs, `opencode serve`); each request sets
/// its own timeout. Clones share the connection pool.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("http client")
}

/// The agent's one back-off policy: `first`, then doubling up to a minute, for as long as
/// the caller's `with_max_times` allows.
pub(crate) fn backoff(first: Duration) -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(first)
        .with_factor(2.0)
        .with_max_delay(Duration::from_secs(60))
        .without_max_times()
}
