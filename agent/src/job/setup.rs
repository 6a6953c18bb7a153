//! Setting a job up: the repository cloned and the ticket's branch checked out (resumed
//! when it exists), the Director and the configured Worker built from the settings.

use std::time::Instant;

use terarchitect_protocol::{WorkerContext, WorkerMode};

use super::prompts::brief;
use super::{Config, Job, blocking};
use crate::api::ApiClient;
use crate::cancel::Cancel;
use crate::director::Director;
use crate::error::{Error, Result};
use crate::events::EventLog;
use crate::git::{self, GitAuth};
use crate::llm::ChatClient;
use crate::relay::Relay;
use crate::tools::Workspace;
use crate::worker::Worker;
use crate::worker::claude::ClaudeWorker;
use crate::worker::native::NativeWorker;
use crate::worker::opencode::OpencodeWorker;

/// What the Worker CLIs present as their key: the relay ignores it and adds the job token.
const RELAY_KEY: &str = "terarchitect-relay";

fn required(v: &Option<String>, name: &str) -> Result<String> {
    v.clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| Error::Config(format!("setting `{name}` is not set")))
}

impl<'c> Job<'c> {
    pub(super) async fn new(
        cfg: &'c Config,
        api: ApiClient,
        ctx: WorkerContext,
        log: EventLog,
        cancel: Cancel,
    ) -> Result<Job<'c>> {
        let s = ctx.settings.clone();
        // Every LLM call goes through the API's gateway with the job token: it adds the
        // project's key (which this process never sees) and meters the call.
        let gateway = |role: &str| format!("{}/gateway/{role}", cfg.api_url.trim_end_matches('/'));
        let token = Some(cfg.job_token.as_str());
        required(&s.director_llm_url, "director_llm_url")?;
        let director_llm = ChatClient::new(
            cfg.http.clone(),
            "Director",
            &format!("{}/v1", gateway("director")),
            &required(&s.director_llm_model, "director_llm_model")?,
            token,
            cfg.llm_retry.clone(),
        );
        // In a worker host's container the repository is reached through the host's git
        // proxy with the job token; the proxy adds the GitHub token, which never comes here.
        let (origin, password) = match &cfg.git_url {
            Some(proxy) => (proxy.clone(), Some(cfg.job_token.clone())),
            None => (terarchitect_protocol::https_remote(&ctx.project.repo_url), None),
        };
        let auth = GitAuth {
            token: password,
            origin,
            proxied: cfg.git_url.is_some(),
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
            auth.origin.clone(),
            repo_dir.clone(),
            auth.clone(),
            branch.clone(),
            ctx.project.default_branch.clone(),
        );
        let existed = blocking(move || {
            let repo = git::clone(&url, &dir, &a)?;
            let existed = git::checkout_branch(&repo, &b, &base)?;
            // The Worker's commands run as another user: the clone is theirs to change.
            crate::sandbox::prepare(dir.parent().unwrap_or(&dir))?;
            crate::sandbox::give(&dir)?;
            Ok(existed)
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
        let outputs = ws.outputs.clone();
        // The CLIs reach the gateway through a loopback relay that adds the job token, so
        // the token is never in their environment (nor in that of the commands they run).
        let relay = match s.worker_mode {
            WorkerMode::Native => None,
            WorkerMode::Opencode | WorkerMode::ClaudeCode => {
                Some(Relay::start(cfg.http.clone(), &gateway("worker"), &cfg.job_token).await?)
            }
        };
        let relayed = relay.as_ref().map(|r| r.url.clone()).unwrap_or_default();
        let worker: Box<dyn Worker> = match s.worker_mode {
            WorkerMode::Native => {
                // The Worker may share the Director's endpoint when it has none of its own
                // (the gateway does the same with the URL and key).
                let model = s.worker_llm_model.clone().or(s.director_llm_model.clone());
                let llm = ChatClient::new(
                    cfg.http.clone(),
                    "Worker",
                    &format!("{}/v1", gateway("worker")),
                    &required(&model, "worker_llm_model")?,
                    token,
                    cfg.llm_retry.clone(),
                );
                Box::new(NativeWorker::new(llm, ws, log.clone()))
            }
            WorkerMode::Opencode => {
                let model = required(&s.worker_llm_model, "worker_llm_model")?;
                required(&s.worker_llm_url, "worker_llm_url")?;
                match &cfg.opencode_url {
                    Some(u) => Box::new(OpencodeWorker::connect(
                        cfg.http.clone(),
                        u,
                        repo_dir.clone(),
                        &model,
                        cfg.worker_timeout,
                    )),
                    None => Box::new(
                        OpencodeWorker::spawn(
                            cfg.http.clone(),
                            &cfg.opencode_bin,
                            repo_dir.clone(),
                            &format!("{relayed}/v1"),
                            &model,
                            Some(RELAY_KEY),
                            cfg.worker_timeout,
                        )
                        .await?,
                    ),
                }
            }
            WorkerMode::ClaudeCode => Box::new(ClaudeWorker::new(
                &cfg.claude_bin,
                repo_dir.clone(),
                s.worker_llm_model.clone(),
                &relayed,
                RELAY_KEY,
                cfg.worker_timeout,
            )),
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
            outputs,
            _relay: relay,
        })
    }
}
