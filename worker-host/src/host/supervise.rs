//! One agent's run: start it for a claimed job, follow it with heartbeats until it exits,
//! is cancelled, loses its lease or the host drains, then report and clean up.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use backon::Retryable;
use terarchitect_protocol::{Claim, JobId, Outcome};
use tokio::sync::{OwnedSemaphorePermit, watch};
use uuid::Uuid;

use super::Inner;
use super::logs::{collect, error_line, pump_logs};
use super::redact::Redactor;
use super::report::judge;
use crate::api::ApiError;
use crate::egress::Policy;
use crate::runtime::{AgentSpec, Runtime, RuntimeError};

/// How an agent's run ended, as far as the host is concerned.
enum End {
    Exited(i64),
    Vanished(String),
    Cancel,
    Lost,
    Release,
}

impl<R: Runtime> Inner<R> {
    /// Starts the agent for a job whose message `begin_claim` registered.
    pub(super) async fn run_job(self: Arc<Self>, claim: Claim, permit: OwnedSemaphorePermit) {
        let job_id = claim.job.id;
        let mut env = vec![
            ("TERARCHITECT_API_URL".into(), self.cfg.agent_api_url().to_string()),
            ("TERARCHITECT_JOB_ID".into(), job_id.to_string()),
            ("TERARCHITECT_JOB_TOKEN".into(), claim.job_token.clone()),
        ];
        // Terarchitect's endpoints, as the agent names them and where this host reaches them.
        let mut control = vec![(self.cfg.agent_api_url().to_string(), self.cfg.api_url.clone())];
        let mut git_proxy = None;
        if let Some((git, local)) = self.git_url.get() {
            env.push(("TERARCHITECT_GIT_URL".into(), format!("{git}/git/{job_id}.git")));
            control.push((git.clone(), local.clone()));
            git_proxy = Some(local.clone());
        }
        let spec = AgentSpec {
            job_id,
            project_id: claim.project.id,
            attempt: claim.job.attempt,
            host_id: self.host_id.clone(),
            env,
            local_path: claim.project.local_path.clone(),
            egress: Policy {
                control,
                allow: claim.egress_allow.clone(),
                git: git_proxy,
            },
        };
        tracing::info!(%job_id, attempt = claim.job.attempt, project = %claim.project.id, "job claimed: starting the agent");
        match self.runtime.start(&spec).await {
            Ok(agent) => {
                let secrets = Redactor::new([claim.job_token.clone(), self.cfg.worker_token.clone()]);
                self.supervise(job_id, agent, permit, false, secrets).await
            }
            Err(e) => {
                // Environmental (engine down, image missing): hand it back. The agent never
                // started, so the API does not count the attempt (up to a bound per job).
                tracing::error!(%job_id, error = %e, "could not start the agent: releasing the job");
                if matches!(e, RuntimeError::Unavailable(_)) {
                    self.note_outage();
                }
                let mut req = self.finish_request(Outcome::Released, None, Some(e.to_string()));
                req.agent_started = Some(false);
                let done = self.finish(job_id, &req).await;
                self.settle_message(job_id, done).await;
                drop(permit);
            }
        }
    }

    /// Follows one agent to its end and reports it.
    pub(super) async fn supervise(
        self: Arc<Self>,
        job_id: JobId,
        agent: String,
        permit: OwnedSemaphorePermit,
        reattached: bool,
        secrets: Redactor,
    ) {
        let short: String = agent.chars().take(12).collect();
        let (step, what) = if reattached {
            ("reattach", "re-attached to agent")
        } else {
            ("start", "agent")
        };
        let started = if reattached { "after a host restart" } else { "started" };
        self.host_event(
            job_id,
            step,
            format!("{what} {short} {started} on {} ({})", self.host_id, self.runtime.name()),
        )
        .await;
        // Event ids derive from the agent id and line number: a re-attached host re-reads
        // the whole output without duplicating it in the job's log.
        let ns = Uuid::new_v5(&Uuid::NAMESPACE_OID, agent.as_bytes());
        let logs = tokio::spawn(pump_logs(
            self.api.clone(),
            job_id,
            ns,
            self.runtime.logs(&agent),
            secrets.clone(),
        ));

        let end = {
            let mut wait = pin!(self.wait_for_exit(&agent));
            let mut beat = tokio::time::interval(self.cfg.heartbeat_interval());
            let mut release = pin!(released(self.release_all.subscribe()));
            loop {
                tokio::select! {
                    r = &mut wait => break match r {
                        Ok(code) => End::Exited(code),
                        Err(e) => End::Vanished(e.to_string()),
                    },
                    _ = beat.tick() => match self.api.heartbeat(job_id, &self.host_id).await {
                        Ok(hb) if hb.cancel_requested => break End::Cancel,
                        Ok(_) => self.extend_visibility(job_id).await,
                        Err(ApiError::Conflict(_)) | Err(ApiError::NotFound) => break End::Lost,
                        Err(e) => {
                            // The lease outlives a few missed beats; keep the message hidden meanwhile.
                            tracing::warn!(%job_id, error = %e, "heartbeat failed; will retry");
                            self.extend_visibility(job_id).await;
                        }
                    },
                    _ = &mut release => break End::Release,
                }
            }
        };

        let grace = self.cfg.stop_grace();
        let (outcome, code, reason) = match end {
            End::Exited(code) => {
                let mut summary = collect(logs).await;
                if code != 0 && summary.error.is_none() {
                    // The followed stream may have broken before the end: read the tail again.
                    for line in self.runtime.output_tail(&agent, 200).await {
                        if let Some(e) = error_line(&secrets.redact(&line)) {
                            summary.error = Some(e);
                        }
                    }
                }
                let (outcome, reason) = judge(code, &summary);
                let req = self.finish_request(outcome, Some(code), reason.clone());
                self.end_event(job_id, outcome, Some(code)).await;
                let done = self.finish(job_id, &req).await;
                self.close(job_id, &agent, done, outcome).await;
                drop(permit);
                return;
            }
            End::Vanished(why) => (Outcome::Released, None, format!("the agent disappeared: {why}")),
            End::Cancel => {
                tracing::info!(%job_id, "cancel requested: stopping the agent");
                self.host_event(job_id, "cancel", format!("stopping the agent (grace {grace:?})"))
                    .await;
                let code = self.stop(&agent, grace).await;
                (Outcome::Cancelled, code, "stopped on request".to_string())
            }
            End::Release => {
                tracing::info!(%job_id, "host shutting down: stopping and releasing the job");
                let code = self.stop(&agent, grace).await;
                (Outcome::Released, code, "the worker host shut down".to_string())
            }
            End::Lost => {
                tracing::warn!(%job_id, "lease lost (job finished or taken elsewhere): stopping the agent");
                self.stop(&agent, grace).await;
                logs.abort();
                if let Some(r) = self.forget(job_id) {
                    self.delete(&r).await;
                }
                self.remove(&agent).await;
                drop(permit);
                return;
            }
        };
        // Its output stays in the log; the reason says what happened.
        collect(logs).await;
        let req = self.finish_request(outcome, code, Some(reason));
        self.end_event(job_id, outcome, code).await;
        let done = self.finish(job_id, &req).await;
        self.close(job_id, &agent, done, outcome).await;
        drop(permit);
    }

    /// Logged before the outcome: readers stop following a job's log once it is final.
    async fn end_event(&self, job_id: JobId, outcome: Outcome, code: Option<i64>) {
        let code = code.map_or("none".to_string(), |c| c.to_string());
        self.host_event(
            job_id,
            "finish",
            format!("agent ended (exit code {code}); outcome {outcome:?}"),
        )
        .await;
    }

    /// Settles the message and frees the agent; keeps the container when the outcome
    /// could not be recorded, for the next life to report.
    async fn close(&self, job_id: JobId, agent: &str, recorded: bool, outcome: Outcome) {
        tracing::info!(%job_id, ?outcome, recorded, "job finished");
        self.settle_message(job_id, recorded).await;
        if recorded {
            self.remove(agent).await;
        }
    }

    pub(super) async fn remove(&self, agent: &str) {
        if let Err(e) = self.runtime.remove(agent).await {
            tracing::warn!(agent, error = %e, "could not remove the agent; the next start-up removes it");
        }
    }

    pub(super) async fn stop(&self, agent: &str, grace: Duration) -> Option<i64> {
        if let Err(e) = self.runtime.stop(agent, grace).await {
            tracing::warn!(agent, error = %e, "could not stop the agent");
        }
        tokio::time::timeout(Duration::from_secs(10), self.runtime.wait(agent))
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// Waits through runtime outages (an engine restart does not end the agent's run).
    async fn wait_for_exit(&self, agent: &str) -> Result<i64, RuntimeError> {
        (|| self.runtime.wait(agent))
            .retry(self.cfg.backoff(Duration::from_secs(2)))
            .when(|e| matches!(e, RuntimeError::Unavailable(_)))
            .notify(|e, d| tracing::warn!(agent, error = %e, retry_in = ?d, "lost contact with the agent runtime"))
            .await
    }
}

/// Completes once the host decides to release all jobs.
async fn released(mut rx: watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
