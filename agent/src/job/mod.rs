//! One job from context to pull request: clone, branch, research → plan → plan review →
//! execution → tests → commit → push → PR (or, for review jobs, address the PR thread).
//!
//! - this module: the configuration, [`run`], and the steps every kind of job shares
//!   (budget checks, Worker turns, commit, push, the GitHub client);
//! - `setup`: clone the repository, check out the branch, build the Director and Worker;
//! - `implement`: research, plan and plan review, then the pull request;
//! - `execute`: Worker turns judged by the Director until done and tested;
//! - `review`: address the new comments on a ticket's pull request;
//! - `prompts`: what the Director, the Worker and the pull request are told.

mod execute;
mod implement;
mod prompts;
mod review;
mod setup;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use terarchitect_protocol::{JobKind, WorkerContext};

use crate::api::ApiClient;
use crate::cancel::Cancel;
use crate::director::Director;
use crate::error::{Error, Result};
use crate::events::{EventLog, cap};
use crate::git::{self, GitAuth};
use crate::llm::RetryPolicy;
use crate::tools::CommandOutputs;
use crate::worker::Worker;

pub use prompts::brief;

/// `Debug` prints the job token as `[redacted]`.
#[derive(Clone)]
pub struct Config {
    pub api_url: String,
    pub job_token: String,
    /// The repository is cloned into `work_dir/repo`.
    pub work_dir: PathBuf,
    /// Worker turns in the execution phase.
    pub max_turns: usize,
    pub max_plan_rounds: usize,
    pub wall_clock: Duration,
    /// Director and Worker tokens together.
    pub max_tokens: i64,
    pub test_timeout: Duration,
    pub command_timeout: Duration,
    pub worker_timeout: Duration,
    pub cancel_poll: Duration,
    pub llm_retry: RetryPolicy,
    /// An already running `opencode serve`; when `None` the agent starts `opencode_bin`.
    pub opencode_url: Option<String>,
    /// The worker host's git proxy for this job (`TERARCHITECT_GIT_URL`): cloned and
    /// pushed with the job token. None: the project's remote, without credentials.
    pub git_url: Option<String>,
    pub opencode_bin: String,
    pub claude_bin: String,
    /// The process's one HTTP client ([`crate::http_client`]).
    pub http: reqwest::Client,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Config {
            api_url,
            job_token: _,
            work_dir,
            max_turns,
            max_plan_rounds,
            wall_clock,
            max_tokens,
            test_timeout,
            command_timeout,
            worker_timeout,
            cancel_poll,
            llm_retry,
            opencode_url,
            git_url,
            opencode_bin,
            claude_bin,
            http: _,
        } = self;
        f.debug_struct("Config")
            .field("api_url", api_url)
            .field("job_token", &terarchitect_protocol::Redacted)
            .field("work_dir", work_dir)
            .field("max_turns", max_turns)
            .field("max_plan_rounds", max_plan_rounds)
            .field("wall_clock", wall_clock)
            .field("max_tokens", max_tokens)
            .field("test_timeout", test_timeout)
            .field("command_timeout", command_timeout)
            .field("worker_timeout", worker_timeout)
            .field("cancel_poll", cancel_poll)
            .field("llm_retry", llm_retry)
            .field("opencode_url", opencode_url)
            .field("git_url", git_url)
            .field("opencode_bin", opencode_bin)
            .field("claude_bin", claude_bin)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn new(api_url: &str, job_token: &str, work_dir: PathBuf) -> Config {
        Config {
            api_url: api_url.into(),
            job_token: job_token.into(),
            work_dir,
            max_turns: 60,
            max_plan_rounds: 5,
            wall_clock: Duration::from_secs(3 * 3600),
            max_tokens: 20_000_000,
            test_timeout: Duration::from_secs(30 * 60),
            command_timeout: Duration::from_secs(10 * 60),
            worker_timeout: Duration::from_secs(30 * 60),
            cancel_poll: Duration::from_secs(2),
            llm_retry: RetryPolicy::default(),
            opencode_url: None,
            git_url: None,
            opencode_bin: "opencode".into(),
            claude_bin: "claude".into(),
            http: crate::http_client(),
        }
    }
}

/// A finished job: what the worker host needs to mark it succeeded.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub pr_url: String,
    pub pr_number: u64,
}

/// Runs the job; every step is logged, and the log is flushed before returning.
pub async fn run(cfg: Config) -> Result<Outcome> {
    crate::sandbox::harden_self();
    let api = ApiClient::new(cfg.http.clone(), &cfg.api_url, &cfg.job_token);
    let log = EventLog::start(api.clone());
    log.redact([cfg.job_token.clone()]);
    let cancel = Cancel::watch(api.clone(), cfg.cancel_poll);
    let result = async {
        let ctx = api.context().await?;
        let s = &ctx.settings;
        log.redact(
            [
                &s.director_llm_key,
                &s.worker_llm_key,
                &s.anthropic_key,
                &s.github_token,
                &s.embedding_key,
            ]
            .into_iter()
            .flatten()
            .cloned(),
        );
        log.log(
            "setup",
            "context_loaded",
            format!(
                "{} job for ticket \"{}\" in {} (worker: {:?})",
                ctx.job.kind.as_str(),
                ctx.ticket.title,
                ctx.project.name,
                s.worker_mode
            ),
        );
        let job = async {
            Job::new(&cfg, api.clone(), ctx, log.clone(), cancel.clone())
                .await?
                .run()
                .await
        };
        // A cancel abandons whatever is in flight (an LLM call, a Worker command: their
        // processes are killed on drop); steps already check it before anything irreversible.
        tokio::select! {
            r = job => r,
            () = cancel.cancelled() => Err(Error::Cancelled),
        }
    }
    .await;
    cancel.stop();
    match &result {
        Ok(o) => log.log("finalise", "finished", format!("pull request {}", o.pr_url)),
        Err(Error::Cancelled) => log.log("finalise", "cancelled", "stopped on request; nothing was pushed"),
        Err(e) => log.log("finalise", "failed", e.to_string()),
    }
    if !log.flush(Duration::from_secs(30)).await {
        eprintln!("warning: some log events could not be delivered");
    }
    result
}

struct Job<'c> {
    cfg: &'c Config,
    api: ApiClient,
    ctx: WorkerContext,
    log: EventLog,
    cancel: Cancel,
    auth: GitAuth,
    repo_dir: PathBuf,
    branch: String,
    started: Instant,
    director: Director,
    worker: Box<dyn Worker>,
    worker_turns: usize,
    worker_tokens: i64,
    /// Files that commands produced: left out of the commit.
    outputs: CommandOutputs,
    /// The Worker CLIs' way to the gateway (opencode, Claude Code); lives as long as the job.
    _relay: Option<crate::relay::Relay>,
}

impl<'c> Job<'c> {
    async fn run(mut self) -> Result<Outcome> {
        let r = match self.ctx.job.kind {
            JobKind::Implement => self.implement().await,
            JobKind::Review => self.review().await,
        };
        let _ = self.worker.stop().await;
        r
    }

    fn step(&self) -> Result<()> {
        self.cancel.check()?;
        if self.started.elapsed() > self.cfg.wall_clock {
            return Err(Error::Budget(format!(
                "wall-clock limit of {:?} reached",
                self.cfg.wall_clock
            )));
        }
        let spent = self.director.tokens_used + self.worker_tokens;
        if spent > self.cfg.max_tokens {
            return Err(Error::Budget(format!(
                "token limit reached: {spent} of {} tokens used",
                self.cfg.max_tokens
            )));
        }
        Ok(())
    }

    async fn ask_worker(&mut self, phase: &str, prompt: &str) -> Result<String> {
        self.step()?;
        self.log.log_raw(phase, "worker_prompt", cap(prompt, 300), prompt);
        let reply = self.worker.send(prompt).await?;
        self.worker_turns += 1;
        self.worker_tokens += reply.input_tokens + reply.output_tokens;
        self.log.log_full(
            phase,
            "worker_reply",
            format!("{} worker: {}", self.worker.name(), cap(reply.text.trim(), 300)),
            Some(&reply.text),
            reply.input_tokens,
            reply.output_tokens,
        );
        if self
            .worker_turns
            .is_multiple_of(self.ctx.settings.summarize_every_turns.max(2) as usize)
        {
            self.worker.summarise().await?;
            self.log.log(phase, "worker_summarised", "worker session compacted");
        }
        self.step()?;
        Ok(reply.text)
    }

    /// Commits what the Worker changed (not the artifacts and outputs of commands).
    /// Returns whether there was anything to commit.
    async fn commit(&self, message: String) -> Result<bool> {
        self.cancel.check_now().await?;
        let (dir, a, outputs) = (self.repo_dir.clone(), self.auth.clone(), self.outputs.snapshot());
        let done = blocking(move || {
            let repo = git2::Repository::open(&dir)?;
            git::commit_all(&repo, &message, &a, &outputs)
        })
        .await?;
        if !done.left_out.is_empty() {
            self.log.log_raw(
                "finalise",
                "left_out",
                format!(
                    "left {} new file{} out of the commit as build or test output",
                    done.left_out.len(),
                    if done.left_out.len() == 1 { "" } else { "s" }
                ),
                done.left_out.join("\n"),
            );
        }
        if let Some(oid) = done.oid {
            self.log.log("finalise", "commit", format!("committed {oid}"));
        }
        // What git (as the agent) wrote stays the Worker's to change in a later round.
        crate::sandbox::give(&self.repo_dir)?;
        Ok(done.oid.is_some())
    }

    /// Pushes the branch, unless cancelled: the last look happens right before.
    async fn push(&self) -> Result<()> {
        self.cancel.check_now().await?;
        let (dir, a, b) = (self.repo_dir.clone(), self.auth.clone(), self.branch.clone());
        blocking(move || {
            let repo = git2::Repository::open(&dir)?;
            git::push(&repo, &b, &a)
        })
        .await?;
        self.log.log("finalise", "push", format!("pushed {}", self.branch));
        Ok(())
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Git(format!("git task failed: {e}")))?
}

/// Where to clone when none is given: `/workspace` in the container, else a temp dir.
pub fn default_work_dir() -> std::io::Result<PathBuf> {
    let ws = Path::new("/workspace");
    if ws.is_dir() {
        let d = ws.join(format!("job-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&d)?;
        return Ok(d);
    }
    Ok(tempfile::Builder::new().prefix("terarchitect-job-").tempdir()?.keep())
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_redacts_the_job_token() {
        let cfg = super::Config::new("http://api", "tj_job-secret", "/tmp/w".into());
        let text = format!("{cfg:?}");
        assert!(!text.contains("tj_job-secret") && text.contains("[redacted]"), "{text}");
    }
}
