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
pub mod github;
pub mod job;
pub mod llm;
pub mod testrun;
pub mod tools;
pub mod worker;

pub use error::{Error, Result};
pub use job::{Config, Outcome, run};
