//! One job from context to pull request: clone, branch, research → plan → plan review →
//! execution → tests → commit → push → PR (or, for review jobs, address the PR thread).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use terarchitect_protocol::{JobKind, WorkerContext, WorkerMode};

use crate::api::ApiClient;
use crate::cancel::Cancel;
use crate::director::{Decision, Director, Phase};
use crate::error::{Error, Result};
use crate::events::{EventLog, cap};
use crate::git::{self, GitAuth};
use crate::github::GitHub;
use crate::llm::{ChatClient, RetryPolicy};
use crate::testrun;
use crate::tools::{CommandOutput, Workspace};
use crate::worker::Worker;
use crate::worker::claude::ClaudeWorker;
use crate::worker::native::NativeWorker;
use crate::worker::opencode::OpencodeWorker;

#[derive(Debug, Clone)]
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
    pub opencode_bin: String,
    pub claude_bin: String,
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
            opencode_bin: "opencode".into(),
            claude_bin: "claude".into(),
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
    let api = ApiClient::new(&cfg.api_url, &cfg.job_token);
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
        Job::new(&cfg, api.clone(), ctx, log.clone(), cancel.clone())
            .await?
            .run()
            .await
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
}

fn required(v: &Option<String>, name: &str) -> Result<String> {
    v.clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| Error::Config(format!("setting `{name}` is not set")))
}

impl<'c> Job<'c> {
    async fn new(
        cfg: &'c Config,
        api: ApiClient,
        ctx: WorkerContext,
        log: EventLog,
        cancel: Cancel,
    ) -> Result<Job<'c>> {
        let s = ctx.settings.clone();
        let director_llm = ChatClient::new(
            "Director",
            &required(&s.director_llm_url, "director_llm_url")?,
            &required(&s.director_llm_model, "director_llm_model")?,
            s.director_llm_key.as_deref(),
            cfg.llm_retry.clone(),
        );
        let auth = GitAuth {
            token: s.github_token.clone(),
            author_name: s.git_author_name.clone().unwrap_or_else(|| "Terarchitect Agent".into()),
            author_email: s
                .git_author_email
                .clone()
                .unwrap_or_else(|| "agent@terarchitect.local".into()),
        };
        let branch = format!("ticket-{}", ctx.ticket.id);
        let repo_dir = cfg.work_dir.join("repo");
        cancel.check()?;
        let (url, dir, a, b, base) = (
            ctx.project.repo_url.clone(),
            repo_dir.clone(),
            auth.clone(),
            branch.clone(),
            ctx.project.default_branch.clone(),
        );
        let existed = blocking(move || {
            let repo = git::clone(&git::clone_url(&url), &dir, &a)?;
            git::checkout_branch(&repo, &b, &base)
        })
        .await?;
        log.log(
            "setup",
            "branch",
            format!(
                "cloned {} and {} {branch}",
                ctx.project.repo_url,
                if existed { "resumed" } else { "created" }
            ),
        );
        let mut ws = Workspace::new(&repo_dir)?;
        ws.command_timeout = cfg.command_timeout;
        let worker: Box<dyn Worker> = match s.worker_mode {
            WorkerMode::Native => {
                // The Worker may share the Director's endpoint when it has none of its own.
                let url = s.worker_llm_url.clone().or(s.director_llm_url.clone());
                let model = s.worker_llm_model.clone().or(s.director_llm_model.clone());
                let key = if s.worker_llm_url.is_some() {
                    &s.worker_llm_key
                } else {
                    &s.director_llm_key
                };
                let llm = ChatClient::new(
                    "Worker",
                    &required(&url, "worker_llm_url")?,
                    &required(&model, "worker_llm_model")?,
                    key.as_deref(),
                    cfg.llm_retry.clone(),
                );
                Box::new(NativeWorker::new(llm, ws, log.clone()))
            }
            WorkerMode::Opencode => {
                let model = required(&s.worker_llm_model, "worker_llm_model")?;
                match &cfg.opencode_url {
                    Some(u) => Box::new(OpencodeWorker::connect(u, repo_dir.clone(), &model, cfg.worker_timeout)),
                    None => Box::new(
                        OpencodeWorker::spawn(
                            &cfg.opencode_bin,
                            repo_dir.clone(),
                            &required(&s.worker_llm_url, "worker_llm_url")?,
                            &model,
                            s.worker_llm_key.as_deref(),
                            cfg.worker_timeout,
                        )
                        .await?,
                    ),
                }
            }
            WorkerMode::ClaudeCode => {
                let key = s.anthropic_key.clone().or(s.worker_llm_key.clone());
                required(&key, "anthropic_key")?;
                Box::new(ClaudeWorker::new(
                    &cfg.claude_bin,
                    repo_dir.clone(),
                    s.worker_llm_model.clone(),
                    key,
                    cfg.worker_timeout,
                ))
            }
        };
        let director = Director::new(
            director_llm,
            log.clone(),
            brief(&ctx),
            s.summarize_every_turns.max(2) as usize,
        );
        Ok(Job {
            cfg,
            api,
            ctx,
            log,
            cancel,
            auth,
            repo_dir,
            branch,
            started: Instant::now(),
            director,
            worker,
            worker_turns: 0,
            worker_tokens: 0,
        })
    }

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

    async fn implement(&mut self) -> Result<Outcome> {
        self.worker.start().await?;
        let t = &self.ctx.ticket;
        let intro = format!("Ticket: {}\n\n{}", t.title, t.description);
        self.ask_worker(
            "research",
            &format!(
                "{intro}\n\nStudy the repository for this ticket: find the relevant code and tests and how tests are run. \
                 Do not change anything yet. Reply with a short summary of your findings."
            ),
        )
        .await?;
        let mut plan = self
            .ask_worker(
                "plan",
                "Now write a step-by-step plan for the ticket: which files change, which tests prove it, in which order. \
                 Do not implement yet. Reply with the plan only.",
            )
            .await?;
        let mut approved = None;
        for round in 1..=self.cfg.max_plan_rounds {
            self.step()?;
            let d = self
                .director
                .decide(
                    Phase::PlanReview,
                    format!("The Worker's plan (round {round}):\n\n{}", cap(&plan, 12_000)),
                )
                .await?;
            match d {
                Decision::ApprovePlan { plan: refined } => {
                    approved = Some(refined.filter(|p| !p.trim().is_empty()).unwrap_or(plan.clone()));
                    break;
                }
                Decision::RevisePlan { feedback } => {
                    self.log.log("plan_review", "plan_rejected", cap(&feedback, 500));
                    plan = self
                        .ask_worker(
                            "plan",
                            &format!(
                                "The reviewer sent the plan back:\n{feedback}\n\nReply with the full revised plan only."
                            ),
                        )
                        .await?;
                }
                _ => unreachable!("phase-checked"),
            }
        }
        let plan = approved.ok_or_else(|| {
            Error::Budget(format!(
                "the plan was not approved after {} rounds",
                self.cfg.max_plan_rounds
            ))
        })?;
        self.log.log_raw("plan_review", "plan_approved", cap(&plan, 300), &plan);
        self.director.plan = Some(plan.clone());
        let (summary, tests) = self
            .execute(format!(
                "The plan is approved:\n{plan}\n\nImplement it now, step by step, and run the tests. Report what you changed and the test results."
            ))
            .await?;
        self.finalise_implement(&plan, &summary, tests.as_ref()).await
    }

    /// Worker turns judged by the Director until it says done and the tests pass.
    async fn execute(&mut self, first: String) -> Result<(String, Option<CommandOutput>)> {
        let mut prompt = first;
        let mut repeats = 0;
        let mut last_tests: Option<CommandOutput> = None;
        let mut same_failures = 0;
        for turn in 1..=self.cfg.max_turns {
            let reply = self.ask_worker("execution", &prompt).await?;
            let d = self
                .director
                .decide(
                    Phase::Execution,
                    format!("Worker reply (turn {turn}):\n\n{}", cap(&reply, 12_000)),
                )
                .await?;
            match d {
                Decision::Continue { prompt: next } => {
                    // The original re-sent one prompt for hours: notice and stop.
                    repeats = if next.trim() == prompt.trim() { repeats + 1 } else { 0 };
                    if repeats >= 2 {
                        return Err(Error::Budget(
                            "stuck: the Director repeated the same instruction three times".into(),
                        ));
                    }
                    prompt = next;
                }
                Decision::Done { summary, test_command } => {
                    let cmd = test_command
                        .filter(|c| !c.trim().is_empty())
                        .or_else(|| testrun::detect(&self.repo_dir));
                    let Some(cmd) = cmd else {
                        self.log.log("tests", "no_tests", "no test command given or detected");
                        return Ok((summary, None));
                    };
                    self.step()?;
                    let out = testrun::run(&self.repo_dir, &cmd, self.cfg.test_timeout).await;
                    let verdict = if out.success() { "passed" } else { "FAILED" };
                    self.log
                        .log_raw("tests", "test_run", format!("`{cmd}` {verdict}"), out.render());
                    self.director.last_tests = Some(format!("`{cmd}` {verdict}\n{}", cap(&out.output, 3000)));
                    if out.success() {
                        return Ok((summary, Some(out)));
                    }
                    // The same failure again and again means the Worker is stuck: nudge once, then stop.
                    let same = last_tests
                        .as_ref()
                        .is_some_and(|t| fingerprint(&t.output) == fingerprint(&out.output));
                    same_failures = if same { same_failures + 1 } else { 0 };
                    if same_failures >= 2 {
                        return Err(Error::TestsFailed(format!(
                            "stuck: `{cmd}` failed the same way three times: {}",
                            cap(out.output.trim(), 300)
                        )));
                    }
                    let nudge = if same {
                        " exactly as before: the last change did not help, try a different approach"
                    } else {
                        ""
                    };
                    prompt = format!(
                        "The tests fail{nudge}. `{cmd}` printed:\n{}\n\nFix the code so that they pass, then report.",
                        cap(&out.output, 6000)
                    );
                    last_tests = Some(out);
                }
                _ => unreachable!("phase-checked"),
            }
        }
        Err(match last_tests {
            Some(t) => Error::TestsFailed(format!(
                "`{}` still failing after {} turns: {}",
                t.command,
                self.cfg.max_turns,
                cap(t.output.trim(), 300)
            )),
            None => Error::Budget(format!("the ticket was not done within {} turns", self.cfg.max_turns)),
        })
    }

    /// Commits everything and pushes the branch, unless cancelled. Returns whether a commit was made.
    /// Commits everything the Worker changed. Returns whether there was anything to commit.
    async fn commit(&self, message: String) -> Result<bool> {
        self.cancel.check_now().await?;
        let (dir, a) = (self.repo_dir.clone(), self.auth.clone());
        let oid = blocking(move || {
            let repo = git2::Repository::open(&dir)?;
            git::commit_all(&repo, &message, &a)
        })
        .await?;
        if let Some(oid) = oid {
            self.log.log("finalise", "commit", format!("committed {oid}"));
        }
        Ok(oid.is_some())
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

    fn github(&self) -> Result<GitHub> {
        let (owner, repo) = git::owner_repo(&self.ctx.project.repo_url)
            .ok_or_else(|| Error::Config(format!("cannot tell owner/repo from {}", self.ctx.project.repo_url)))?;
        let api = self
            .ctx
            .settings
            .github_api_url
            .clone()
            .unwrap_or_else(|| "https://api.github.com".into());
        GitHub::new(&api, self.ctx.settings.github_token.as_deref(), &owner, &repo)
    }

    async fn finalise_implement(
        &mut self,
        plan: &str,
        summary: &str,
        tests: Option<&CommandOutput>,
    ) -> Result<Outcome> {
        let t = &self.ctx.ticket;
        let test_line = tests.map_or("no test command found".to_string(), |o| {
            format!("`{}` passed", o.command)
        });
        let message = format!(
            "{}\n\n{}\n\nTicket: {}\nTests: {test_line}",
            cap(&t.title, 200),
            summary.trim(),
            t.id
        );
        let (dir, base) = (self.repo_dir.clone(), self.ctx.project.default_branch.clone());
        self.commit(message).await?;
        let files = blocking(move || {
            let repo = git2::Repository::open(&dir)?;
            git::changed_files(&repo, &base)
        })
        .await?;
        if files.is_empty() {
            return Err(Error::Worker(
                "the Worker changed nothing; no pull request to open".into(),
            ));
        }
        self.push().await?;
        // Test output comes from the repository; keep any secret out of the PR anyway.
        let body = self.log.scrub(&pr_body(&self.ctx, plan, summary, &files, tests));
        let gh = self.github()?;
        self.cancel.check_now().await?;
        let (pr, created) = gh
            .upsert_pr(
                &self.branch,
                &self.ctx.project.default_branch,
                &cap_start(&t.title, 256),
                &body,
            )
            .await?;
        self.log.log(
            "finalise",
            if created { "pr_opened" } else { "pr_updated" },
            format!("#{} {}", pr.number, pr.url),
        );
        self.remember(summary, &files, &pr.url).await;
        Ok(Outcome {
            pr_url: pr.url,
            pr_number: pr.number,
        })
    }

    /// What this run learned goes into project memory for later jobs. Best effort: memory
    /// needs an embedding service in the settings, and a PR is worth more than a note.
    async fn remember(&self, summary: &str, files: &[String], pr_url: &str) {
        let t = &self.ctx.ticket;
        let doc = self.log.scrub(&format!(
            "Ticket \"{}\" was implemented in {pr_url}. {}\nFiles changed: {}.",
            t.title,
            summary.trim(),
            files.join(", ")
        ));
        match self.api.remember(vec![doc]).await {
            Ok(()) => self
                .log
                .log("finalise", "memory_written", "summary stored in project memory"),
            Err(e) => self.log.log("finalise", "memory_skipped", e.to_string()),
        }
    }

    async fn review(&mut self) -> Result<Outcome> {
        let number = self
            .ctx
            .ticket
            .pr_number
            .ok_or_else(|| Error::Config("review job for a ticket without a pull request".into()))?
            as u64;
        let gh = self.github()?;
        let pr = gh.get_pr(number).await?;
        // Work on the branch the PR really merges from (normally ticket-{id}), fetched in full.
        if pr.head != self.branch {
            let (dir, head, base) = (
                self.repo_dir.clone(),
                pr.head.clone(),
                self.ctx.project.default_branch.clone(),
            );
            let existed = blocking(move || {
                let repo = git2::Repository::open(&dir)?;
                git::checkout_branch(&repo, &head, &base)
            })
            .await?;
            if !existed {
                return Err(Error::Git(format!("the PR branch {} is not on the remote", pr.head)));
            }
            self.log
                .log("review", "branch", format!("checked out the PR branch {}", pr.head));
            self.branch = pr.head.clone();
        } else {
            let (dir, b) = (self.repo_dir.clone(), self.branch.clone());
            let on_remote = blocking(move || {
                let repo = git2::Repository::open(&dir)?;
                Ok(repo
                    .find_branch(&format!("origin/{b}"), git2::BranchType::Remote)
                    .is_ok())
            })
            .await?;
            if !on_remote {
                return Err(Error::Git(format!(
                    "the PR branch {} is not on the remote",
                    self.branch
                )));
            }
        }
        let thread = gh.review_thread(number).await?;
        self.log.log(
            "review",
            "thread",
            format!(
                "PR #{number}: {} new comments to address, {} earlier, {} earlier rounds",
                thread.new.len(),
                thread.earlier.len(),
                thread.our_replies
            ),
        );
        let cap_rounds = self.ctx.settings.max_review_rounds.max(0) as usize;
        if thread.our_replies >= cap_rounds {
            return Err(Error::Budget(format!(
                "review round limit reached ({cap_rounds}); the PR goes back to a human"
            )));
        }
        if thread.new.is_empty() {
            return Ok(Outcome {
                pr_url: pr.url,
                pr_number: number,
            });
        }
        let render = |cs: &[crate::github::ThreadComment]| -> String {
            cs.iter()
                .enumerate()
                .map(|(i, c)| {
                    let place = c.path.as_deref().map(|p| format!(" on `{p}`")).unwrap_or_default();
                    format!("{}. {}{place}: {}\n", i + 1, c.author, c.body.trim())
                })
                .collect()
        };
        let mut listed = render(&thread.new);
        if !thread.earlier.is_empty() {
            listed.push_str(&format!(
                "\nEarlier comments, already addressed (context only):\n{}",
                render(&thread.earlier)
            ));
        }
        self.director.plan = Some(format!("Address every review comment on PR #{number}:\n{listed}"));
        self.worker.start().await?;
        let (summary, tests) = self
            .execute(format!(
                "Reviewers left these comments on the pull request for this branch:\n{listed}\nAddress each of them, run the tests, and report what you changed per comment."
            ))
            .await?;
        let committed = self
            .commit(format!(
                "Address review comments on #{number}\n\n{}\n\nTicket: {}",
                summary.trim(),
                self.ctx.ticket.id
            ))
            .await?;
        self.push().await?;
        let tests_line = tests.map_or("no test command found".into(), |o| format!("`{}` passed", o.command));
        let reply = format!(
            "{}\n\n{}\n\nTests: {tests_line}",
            if committed {
                "Addressed the review in a new commit:"
            } else {
                "No code change was needed:"
            },
            summary.trim()
        );
        gh.reply(number, &self.log.scrub(&reply), &thread.new).await?;
        self.log.log("review", "replied", format!("replied on PR #{number}"));
        Ok(Outcome {
            pr_url: pr.url,
            pr_number: number,
        })
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Git(format!("git task failed: {e}")))?
}

/// Test output without digits (timings, counts of seconds), to spot a repeated failure.
fn fingerprint(output: &str) -> String {
    output.chars().filter(|c| !c.is_ascii_digit()).collect()
}

fn cap_start(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The ticket and its context as the Director and the Worker see it: no settings, no secrets.
pub fn brief(ctx: &WorkerContext) -> String {
    let t = &ctx.ticket;
    let mut s = format!(
        "Project: {} — {}\nTicket: {} (priority {})\n{}\n",
        ctx.project.name,
        ctx.project.description,
        t.title,
        t.priority.as_str(),
        t.description
    );
    if !ctx.graph.nodes.is_empty() {
        s.push_str("\nArchitecture (relevant part):\n");
        for n in &ctx.graph.nodes {
            s.push_str(&format!(
                "- {} [{}; {}]: {}\n",
                n.label, n.kind, n.technology, n.description
            ));
        }
        for e in &ctx.graph.edges {
            let name = |id| {
                ctx.graph
                    .nodes
                    .iter()
                    .find(|n| n.id == id)
                    .map_or("?".to_string(), |n| n.label.clone())
            };
            s.push_str(&format!(
                "- {} → {} ({}, {})\n",
                name(e.source),
                name(e.target),
                e.label,
                e.protocol
            ));
        }
    }
    if !ctx.notes.is_empty() {
        s.push_str("\nNotes:\n");
        for n in &ctx.notes {
            s.push_str(&format!("- {}\n", cap(&n.body, 1000)));
        }
    }
    if !ctx.comments.is_empty() {
        s.push_str("\nTicket comments:\n");
        for c in &ctx.comments {
            s.push_str(&format!("- {}: {}\n", c.author, cap(&c.body, 1000)));
        }
    }
    s
}

fn pr_body(ctx: &WorkerContext, plan: &str, summary: &str, files: &[String], tests: Option<&CommandOutput>) -> String {
    let t = &ctx.ticket;
    let tests = match tests {
        Some(o) => format!(
            "`{}` passed.\n\n<details><summary>Output</summary>\n\n```\n{}\n```\n</details>",
            o.command,
            cap(o.output.trim(), 4000)
        ),
        None => "No test command was found in the repository.".into(),
    };
    let files: String = files.iter().map(|f| format!("- `{f}`\n")).collect();
    let body = format!(
        "## Ticket\n**{}**\n\n{}\n\n## Approved plan\n{}\n\n## What was accomplished\n{}\n\nFiles changed:\n{files}\n## Tests\n{tests}\n\n---\nOpened by Terarchitect for ticket `{}` (job `{}`).",
        t.title,
        cap(&t.description, 4000),
        cap(plan, 8000),
        summary.trim(),
        t.id,
        ctx.job.id
    );
    cap_start(&body, 60_000)
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
