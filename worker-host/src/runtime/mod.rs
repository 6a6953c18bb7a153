//! Where agents run: one isolated unit (container, ECS task, process) per job.

pub mod docker;
pub mod ecs;
pub mod local;

use std::future::Future;
use std::time::Duration;
use terarchitect_protocol::{ExecutionMode, JobId, ProjectId};

use futures_util::stream::BoxStream;

pub use docker::DockerRuntime;
pub use ecs::EcsRuntime;
pub use local::LocalRuntime;

/// Labels (docker) / tags (ECS) that let a restarted host find its own agents.
pub const LABEL_JOB: &str = "terarchitect.job-id";
pub const LABEL_PROJECT: &str = "terarchitect.project-id";
pub const LABEL_HOST: &str = "terarchitect.host-id";
pub const LABEL_ATTEMPT: &str = "terarchitect.attempt";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The engine/cluster cannot be reached: an outage, retry later.
    #[error("runtime unavailable: {0}")]
    Unavailable(String),
    /// The agent could not be started for a reason tied to the job or setup (no image,
    /// no local path, bad task definition).
    #[error("agent could not be started: {0}")]
    Start(String),
    #[error("{0}")]
    Other(String),
}

/// What to run for one job.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    pub job_id: JobId,
    pub project_id: ProjectId,
    pub attempt: i32,
    pub host_id: String,
    /// Exactly TERARCHITECT_API_URL, TERARCHITECT_JOB_ID, TERARCHITECT_JOB_TOKEN and, when
    /// the git proxy listens, TERARCHITECT_GIT_URL.
    pub env: Vec<(String, String)>,
    /// The project's directory on this host (local runtime).
    pub local_path: Option<String>,
    /// Where the agent may connect (enforced by runtimes that isolate the network).
    pub egress: crate::egress::Policy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone)]
pub struct LogLine {
    pub stream: Stream,
    pub text: String,
}

/// An agent this host started in an earlier life.
#[derive(Debug, Clone)]
pub struct Existing {
    pub id: String,
    pub job_id: JobId,
    pub state: ExistingState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingState {
    Running,
    /// Ran and stopped: its exit code and logs are still there.
    Exited,
    /// Never started (or cannot be inspected): nothing to salvage.
    Dead,
}

/// Implementations must be cheap to share (`Arc`) between job tasks.
pub trait Runtime: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// The projects this runtime can run (the claim says it; the API hands out only their
    /// jobs): containers for `docker` projects, host processes for `local` ones.
    fn execution_mode(&self) -> ExecutionMode;
    /// Answers when the engine can take work.
    fn ping(&self) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Starts the agent; returns its id (container id, task ARN, pid).
    fn start(&self, spec: &AgentSpec) -> impl Future<Output = Result<String, RuntimeError>> + Send;
    /// stdout/stderr lines from the start until the agent ends.
    fn logs(&self, id: &str) -> BoxStream<'static, LogLine>;
    /// The last `lines` lines of output, read afresh after the end (a fallback when the
    /// followed stream broke, e.g. the engine restarted). Empty when not supported.
    fn output_tail(&self, id: &str, lines: usize) -> impl Future<Output = Vec<String>> + Send {
        let _ = (id, lines);
        async { Vec::new() }
    }
    /// The job token agent `id` was started with, when the engine still tells (so the
    /// output of an agent re-attached after a host restart is redacted too). None when not
    /// supported.
    fn job_token(&self, id: &str) -> impl Future<Output = Option<String>> + Send {
        let _ = id;
        async { None }
    }
    /// Waits for the end; the exit code.
    fn wait(&self, id: &str) -> impl Future<Output = Result<i64, RuntimeError>> + Send;
    /// SIGTERM, then SIGKILL after `grace`.
    fn stop(&self, id: &str, grace: Duration) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Frees what is left (container, task record). Idempotent.
    fn remove(&self, id: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Agents labelled with `host_id`, for reconciliation after a restart.
    fn list_own(&self, host_id: &str) -> impl Future<Output = Result<Vec<Existing>, RuntimeError>> + Send;
}
