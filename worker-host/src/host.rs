//! The daemon's core: poll while there is capacity, claim, run, heartbeat, finish,
//! reconcile after a restart, drain on shutdown.

use std::collections::{HashMap, VecDeque};
use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use terarchitect_protocol::{Claim, FinishRequest, JobMessage, NewJobEvent, Outcome};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use uuid::Uuid;

use crate::api::{ApiError, WorkerApi};
use crate::config::Config;
use crate::queue::{Message, Queue};
use crate::runtime::{AgentSpec, Existing, ExistingState, LogLine, Runtime, RuntimeError, Stream};

/// The line an agent prints to name the pull request it opened.
pub const PR_MARKER: &str = "TERARCHITECT_PR_URL=";
/// Lines of output kept for the failure reason.
const TAIL_LINES: usize = 20;
const TAIL_CHARS: usize = 4000;
const SUMMARY_CHARS: usize = 2000;
const FLUSH_EVERY: Duration = Duration::from_millis(500);
const MAX_BATCH: usize = 200;
/// Log lines kept in memory while the API is unreachable; older ones are dropped.
const MAX_PENDING_EVENTS: usize = 20_000;

pub struct Host<R: Runtime> {
    inner: Arc<Inner<R>>,
}

struct Inner<R> {
    cfg: Config,
    host_id: String,
    api: WorkerApi,
    queue: Queue,
    runtime: R,
    slots: Arc<Semaphore>,
    /// Jobs this host supervises, with their message (id, latest receipt) when known (a
    /// job re-attached after a restart learns it when the message comes back).
    jobs: Mutex<HashMap<Uuid, Option<(String, String)>>>,
    /// Set when the drain grace is over: running jobs are released.
    release_all: watch::Sender<bool>,
    failures: AtomicU32,
    outages: AtomicU32,
    paused_until: Mutex<Option<Instant>>,
}

/// How an agent's run ended, as far as the host is concerned.
enum End {
    Exited(i64),
    Vanished(String),
    Cancel,
    Lost,
    Release,
}

#[derive(Default)]
struct LogSummary {
    pr_url: Option<String>,
    tail: VecDeque<String>,
}

impl<R: Runtime> Host<R> {
    pub fn new(cfg: Config, runtime: R, queue: Queue) -> Host<R> {
        let api = WorkerApi::new(&cfg.api_url, &cfg.worker_token);
        let slots = Arc::new(Semaphore::new(cfg.max_concurrent_agents as usize));
        Host {
            inner: Arc::new(Inner {
                host_id: cfg.host_id(),
                api,
                queue,
                runtime,
                slots,
                jobs: Mutex::new(HashMap::new()),
                release_all: watch::channel(false).0,
                failures: AtomicU32::new(0),
                outages: AtomicU32::new(0),
                paused_until: Mutex::new(None),
                cfg,
            }),
        }
    }

    /// Runs until `shutdown` completes, then drains: no new work; running jobs get the
    /// drain grace to finish, then are stopped and released back to the queue.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let me = &self.inner;
        let mut shutdown = pin!(shutdown);
        let max = me.cfg.max_concurrent_agents as usize;
        tracing::info!(host_id = %me.host_id, runtime = me.runtime.name(), max_concurrent_agents = max, "worker host started");
        if me.cfg.visibility_timeout_secs as u64 <= me.cfg.heartbeat_interval_secs * 2 {
            tracing::warn!(
                visibility = me.cfg.visibility_timeout_secs,
                heartbeat = me.cfg.heartbeat_interval_secs,
                "VISIBILITY_TIMEOUT_SECS should exceed two heartbeat intervals, or running jobs' messages reappear"
            );
        }
        let mut reconciled = false;
        loop {
            // Back off while the API, queue or runtime is down.
            let pause = me.paused_until.lock().expect("pause").take();
            if let Some(until) = pause {
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => {}
                    _ = &mut shutdown => break,
                }
            }
            if let Err(e) = me.runtime.ping().await {
                let d = me.note_outage();
                tracing::warn!(error = %e, retry_in = ?d, "agent runtime unreachable: not taking work");
                continue;
            }
            if !reconciled {
                reconciled = me.clone().reconcile().await;
            }
            // Only poll with free capacity; ask for as many messages as there are slots.
            let first = tokio::select! {
                p = me.slots.clone().acquire_owned() => p.expect("semaphore never closed"),
                _ = &mut shutdown => break,
            };
            let mut permits = vec![first];
            while permits.len() < 10 {
                match me.slots.clone().try_acquire_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }
            let received = tokio::select! {
                r = me.queue.receive(permits.len() as i32, me.cfg.poll_wait_secs, me.cfg.visibility_timeout_secs) => r,
                _ = &mut shutdown => break,
            };
            match received {
                Ok(msgs) => {
                    for m in msgs {
                        let permit = permits.pop().expect("never more messages than asked for");
                        tokio::spawn(me.clone().handle_message(m, permit));
                    }
                }
                Err(e) => {
                    let d = me.note_outage();
                    tracing::warn!(error = %e, retry_in = ?d, "cannot poll the job queue");
                }
            }
        }
        me.drain(max).await;
    }

    /// How many times the host backed off because something it needs was down.
    pub fn outages(&self) -> u32 {
        self.inner.outages.load(Ordering::Relaxed)
    }

    /// Jobs currently supervised (for tests and the benchmark).
    pub fn running_jobs(&self) -> Vec<Uuid> {
        self.inner.jobs.lock().expect("jobs").keys().copied().collect()
    }
}

impl<R: Runtime> Inner<R> {
    fn note_outage(&self) -> Duration {
        self.outages.fetch_add(1, Ordering::Relaxed);
        let n = self.failures.fetch_add(1, Ordering::Relaxed).min(16);
        let d = Duration::from_millis(500u64.saturating_mul(1 << n)).min(self.cfg.max_backoff());
        *self.paused_until.lock().expect("pause") = Some(Instant::now() + d);
        d
    }

    fn healthy(&self) {
        self.failures.store(0, Ordering::Relaxed);
    }

    async fn drain(&self, max: usize) {
        let running = self.jobs.lock().expect("jobs").len();
        tracing::info!(running, grace = ?self.cfg.drain_grace(), "draining: taking no new work");
        let all = self.slots.clone().acquire_many_owned(max as u32);
        let mut all = pin!(all);
        if tokio::time::timeout(self.cfg.drain_grace(), &mut all).await.is_err() {
            tracing::info!("drain grace over: stopping and releasing running jobs");
            self.release_all.send_replace(true);
            // Bounded: a job task retries its finish for a limited time only.
            let bound = self.cfg.stop_grace() + Duration::from_secs(120);
            if tokio::time::timeout(bound, all).await.is_err() {
                tracing::error!("some jobs did not wind down in time; exiting anyway");
            }
        }
        tracing::info!("worker host stopped");
    }

    async fn handle_message(self: Arc<Self>, m: Message, permit: OwnedSemaphorePermit) {
        let job_id = match serde_json::from_str::<JobMessage>(&m.body) {
            Ok(j) => j.job_id,
            Err(e) => {
                // It can never be processed: dropping it beats redelivering it forever.
                let body: String = m.body.chars().take(200).collect();
                tracing::error!(error = %e, body, "malformed queue message: deleting it");
                self.delete(&m.receipt).await;
                return;
            }
        };
        match self.api.claim(job_id, &self.host_id).await {
            Ok(claim) => {
                self.healthy();
                self.run_job(claim, m, permit).await;
            }
            Err(ApiError::NotFound) => {
                tracing::warn!(%job_id, "job no longer exists: deleting its message");
                self.delete(&m.receipt).await;
            }
            Err(ApiError::Conflict(why)) => {
                self.healthy();
                self.on_conflict(job_id, &m, &why).await;
            }
            Err(e) => {
                let d = self.note_outage();
                tracing::warn!(%job_id, error = %e, retry_in = ?d, "cannot claim: keeping the message for later");
                self.retry_later(&m.receipt, d).await;
            }
        }
    }

    /// The message comes back sooner than the visibility timeout would allow.
    async fn retry_later(&self, receipt: &str, after: Duration) {
        let secs = after.as_secs().clamp(1, 43_200) as i32;
        if let Err(e) = self.queue.set_visibility(receipt, secs).await {
            tracing::debug!(error = %e, "could not shorten the message's visibility");
        }
    }

    async fn delete(&self, receipt: &str) {
        if let Err(e) = self.queue.delete(receipt).await {
            // It comes back after its visibility timeout and is settled again then.
            tracing::warn!(error = %e, "could not delete a queue message");
        }
    }

    /// A claim lost: the job is done, cancelled, held by another host — or held by us.
    async fn on_conflict(&self, job_id: Uuid, m: &Message, why: &str) {
        let receipt = m.receipt.as_str();
        {
            let mut jobs = self.jobs.lock().expect("jobs");
            if let Some(known) = jobs.get_mut(&job_id) {
                match known {
                    None => {
                        // Re-attached after a restart: this is its message now.
                        *known = Some((m.message_id.clone(), m.receipt.clone()));
                        tracing::info!(%job_id, "re-attached job's message came back: adopted");
                        return;
                    }
                    Some((id, r)) if *id == m.message_id => {
                        // Our own message came back (visibility ran out): only the newest
                        // receipt can extend or delete it.
                        *r = m.receipt.clone();
                        return;
                    }
                    Some(_) => {}
                }
                drop(jobs);
                return self.delete_duplicate(job_id, receipt);
            }
        }
        // Held by us with nothing running: a run lost in an earlier life (container gone).
        match self.api.heartbeat(job_id, &self.host_id).await {
            Ok(hb) => {
                let outcome = if hb.cancel_requested {
                    Outcome::Cancelled
                } else {
                    Outcome::Released
                };
                tracing::warn!(%job_id, ?outcome, "this host held the job but no longer runs it: handing it back");
                let req = self.finish_request(
                    outcome,
                    None,
                    Some("the worker host restarted and lost the agent".into()),
                );
                if self.finish(job_id, &req).await {
                    self.delete(receipt).await;
                } else {
                    self.retry_later(receipt, self.cfg.max_backoff()).await;
                }
            }
            Err(ApiError::Conflict(_)) | Err(ApiError::NotFound) => {
                tracing::info!(%job_id, reason = why, "job is not claimable: deleting its message");
                self.delete(receipt).await;
            }
            Err(e) => {
                let d = self.note_outage();
                tracing::warn!(%job_id, error = %e, "cannot check the job: keeping the message for later");
                self.retry_later(receipt, d).await;
            }
        }
    }

    fn delete_duplicate(&self, job_id: Uuid, receipt: &str) {
        tracing::info!(%job_id, "duplicate message for a job this host runs: deleting it");
        let queue = self.queue.clone();
        let receipt = receipt.to_string();
        tokio::spawn(async move {
            if let Err(e) = queue.delete(&receipt).await {
                tracing::warn!(error = %e, "could not delete a duplicate message");
            }
        });
    }

    async fn run_job(self: Arc<Self>, claim: Claim, m: Message, permit: OwnedSemaphorePermit) {
        let job_id = claim.job.id;
        self.jobs
            .lock()
            .expect("jobs")
            .insert(job_id, Some((m.message_id, m.receipt)));
        let spec = AgentSpec {
            job_id,
            project_id: claim.project.id,
            attempt: claim.job.attempt,
            host_id: self.host_id.clone(),
            env: vec![
                ("TERARCHITECT_API_URL".into(), self.cfg.agent_api_url().to_string()),
                ("TERARCHITECT_JOB_ID".into(), job_id.to_string()),
                ("TERARCHITECT_JOB_TOKEN".into(), claim.job_token.clone()),
            ],
            local_path: claim.project.local_path.clone(),
        };
        tracing::info!(%job_id, attempt = claim.job.attempt, project = %claim.project.id, "job claimed: starting the agent");
        match self.runtime.start(&spec).await {
            Ok(agent) => self.supervise(job_id, agent, permit, false).await,
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

    /// Deletes the job's message once its outcome is recorded; otherwise lets it come back.
    async fn settle_message(&self, job_id: Uuid, recorded: bool) {
        let receipt = self
            .jobs
            .lock()
            .expect("jobs")
            .remove(&job_id)
            .flatten()
            .map(|(_, r)| r);
        if let Some(r) = receipt {
            if recorded {
                self.delete(&r).await;
            } else {
                self.retry_later(&r, self.cfg.max_backoff()).await;
            }
        }
    }

    /// Follows one agent to its end and reports it.
    async fn supervise(self: Arc<Self>, job_id: Uuid, agent: String, permit: OwnedSemaphorePermit, reattached: bool) {
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
        let logs = tokio::spawn(pump_logs(self.api.clone(), job_id, ns, self.runtime.logs(&agent)));

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
                if code == 0 && summary.pr_url.is_none() {
                    // The followed stream may have broken before the end: read the tail again.
                    for line in self.runtime.output_tail(&agent, 200).await {
                        if let Some(url) = line.trim().strip_prefix(PR_MARKER) {
                            summary.pr_url = Some(url.trim().to_string()).filter(|u| !u.is_empty());
                        }
                    }
                }
                let (outcome, reason) = judge(code, &summary);
                let pr = summary.pr_url.clone();
                let mut req = self.finish_request(outcome, Some(code), reason.clone());
                if outcome == Outcome::Succeeded {
                    req.pr_number = pr.as_deref().and_then(pr_number);
                    req.pr_url = pr;
                }
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
                let receipt = self
                    .jobs
                    .lock()
                    .expect("jobs")
                    .remove(&job_id)
                    .flatten()
                    .map(|(_, r)| r);
                if let Some(r) = receipt {
                    self.delete(&r).await;
                }
                self.remove(&agent).await;
                drop(permit);
                return;
            }
        };
        let summary = collect(logs).await;
        let mut reason = reason;
        if !summary.tail.is_empty() {
            reason = format!("{reason}\n--- last output ---\n{}", tail_text(&summary));
        }
        let req = self.finish_request(outcome, code, Some(reason));
        self.end_event(job_id, outcome, code).await;
        let done = self.finish(job_id, &req).await;
        self.close(job_id, &agent, done, outcome).await;
        drop(permit);
    }

    /// Logged before the outcome: readers stop following a job's log once it is final.
    async fn end_event(&self, job_id: Uuid, outcome: Outcome, code: Option<i64>) {
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
    async fn close(&self, job_id: Uuid, agent: &str, recorded: bool, outcome: Outcome) {
        tracing::info!(%job_id, ?outcome, recorded, "job finished");
        self.settle_message(job_id, recorded).await;
        if recorded {
            self.remove(agent).await;
        }
    }

    async fn remove(&self, agent: &str) {
        if let Err(e) = self.runtime.remove(agent).await {
            tracing::warn!(agent, error = %e, "could not remove the agent; the next start-up removes it");
        }
    }

    async fn stop(&self, agent: &str, grace: Duration) -> Option<i64> {
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
        let mut failures = 0u32;
        loop {
            match self.runtime.wait(agent).await {
                Ok(code) => return Ok(code),
                Err(RuntimeError::Unavailable(e)) => {
                    failures += 1;
                    let d = Duration::from_secs(1 << failures.min(5)).min(self.cfg.max_backoff());
                    tracing::warn!(agent, error = %e, retry_in = ?d, "lost contact with the agent runtime");
                    tokio::time::sleep(d).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn extend_visibility(&self, job_id: Uuid) {
        let receipt = self
            .jobs
            .lock()
            .expect("jobs")
            .get(&job_id)
            .cloned()
            .flatten()
            .map(|(_, r)| r);
        if let Some(r) = receipt
            && let Err(e) = self.queue.set_visibility(&r, self.cfg.visibility_timeout_secs).await
        {
            tracing::warn!(%job_id, error = %e, "could not extend the message's visibility");
        }
    }

    fn finish_request(&self, outcome: Outcome, code: Option<i64>, reason: Option<String>) -> FinishRequest {
        FinishRequest {
            host_id: self.host_id.clone(),
            outcome,
            exit_code: code.map(|c| c.clamp(i32::MIN as i64, i32::MAX as i64) as i32),
            reason: reason.map(|r| r.chars().take(10_000).collect()),
            pr_url: None,
            pr_number: None,
            agent_started: None,
        }
    }

    /// Reports the outcome, retrying through API outages for a while. True when the API
    /// recorded it (or had already settled the job otherwise).
    async fn finish(&self, job_id: Uuid, req: &FinishRequest) -> bool {
        for attempt in 0..12u32 {
            match self.api.finish(job_id, req).await {
                Ok(job) => {
                    tracing::debug!(%job_id, status = job.status.as_str(), "outcome recorded");
                    return true;
                }
                Err(e @ ApiError::Conflict(_)) => {
                    let code = e.conflict_code().unwrap_or_default();
                    tracing::info!(%job_id, code, error = %e, "job already settled; nothing to report");
                    return true;
                }
                Err(ApiError::NotFound) => return true,
                Err(ApiError::Rejected { status, body }) => {
                    tracing::error!(%job_id, status, body, "the API rejected the outcome");
                    return false;
                }
                Err(e) => {
                    let d = Duration::from_millis(500 << attempt.min(6)).min(self.cfg.max_backoff());
                    tracing::warn!(%job_id, error = %e, retry_in = ?d, "cannot report the outcome yet");
                    tokio::time::sleep(d).await;
                }
            }
        }
        tracing::error!(%job_id, "gave up reporting the outcome; the job's lease will expire and it is retried");
        false
    }

    async fn host_event(&self, job_id: Uuid, step: &str, summary: String) {
        let ev = NewJobEvent {
            event_id: Some(Uuid::new_v4()),
            phase: "host".into(),
            step: step.into(),
            summary,
            ..Default::default()
        };
        if let Err(e) = self.api.events(job_id, vec![ev]).await {
            tracing::warn!(%job_id, error = %e, "could not log a host event");
        }
    }

    /// Settles agents left by an earlier life of this host. False when it must be retried.
    async fn reconcile(self: Arc<Self>) -> bool {
        let found = match self.runtime.list_own(&self.host_id).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list agents from an earlier run; will retry");
                return false;
            }
        };
        let mut complete = true;
        for Existing { id, job_id, state } in found {
            if self.jobs.lock().expect("jobs").contains_key(&job_id) {
                continue;
            }
            if state == ExistingState::Dead {
                tracing::info!(%job_id, agent = id, "removing a dead agent from an earlier run");
                self.remove(&id).await;
                continue; // its lease, if still ours, is settled when its message returns
            }
            match self.api.heartbeat(job_id, &self.host_id).await {
                Ok(_) => {
                    let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                        tracing::warn!(%job_id, "more agents than capacity after restart: releasing this one");
                        self.stop(&id, self.cfg.stop_grace()).await;
                        let req = self.finish_request(Outcome::Released, None, Some("host capacity lowered".into()));
                        if self.finish(job_id, &req).await {
                            self.remove(&id).await;
                        }
                        continue;
                    };
                    tracing::info!(%job_id, agent = id, ?state, "re-attaching to an agent from an earlier run");
                    self.jobs.lock().expect("jobs").insert(job_id, None);
                    tokio::spawn(self.clone().supervise(job_id, id, permit, true));
                }
                Err(ApiError::Conflict(_)) | Err(ApiError::NotFound) => {
                    tracing::info!(%job_id, agent = id, "agent from an earlier run no longer owns its job: removing it");
                    self.stop(&id, Duration::from_secs(1)).await;
                    self.remove(&id).await;
                }
                Err(e) => {
                    tracing::warn!(%job_id, error = %e, "cannot check a job from an earlier run; will retry");
                    self.note_outage();
                    complete = false;
                }
            }
        }
        complete
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

/// exit 0 alone is not success: the agent must name its pull request.
fn judge(code: i64, logs: &LogSummary) -> (Outcome, Option<String>) {
    match (code, &logs.pr_url) {
        (0, Some(_)) => (Outcome::Succeeded, None),
        (0, None) => (
            Outcome::Failed,
            Some(with_tail("agent exited without a pull request", logs)),
        ),
        (c, _) => (
            Outcome::Failed,
            Some(with_tail(&format!("agent exited with code {c}"), logs)),
        ),
    }
}

fn with_tail(reason: &str, logs: &LogSummary) -> String {
    if logs.tail.is_empty() {
        reason.to_string()
    } else {
        format!("{reason}\n--- last output ---\n{}", tail_text(logs))
    }
}

fn tail_text(logs: &LogSummary) -> String {
    let all: Vec<&str> = logs.tail.iter().map(String::as_str).collect();
    let text = all.join("\n");
    let skip = text.chars().count().saturating_sub(TAIL_CHARS);
    text.chars().skip(skip).collect()
}

/// `https://github.com/o/r/pull/42` → 42.
pub fn pr_number(url: &str) -> Option<i64> {
    let (_, n) = url.trim_end_matches('/').rsplit_once("/pull/")?;
    n.parse().ok()
}

async fn collect(logs: tokio::task::JoinHandle<LogSummary>) -> LogSummary {
    // The stream ends with the agent; the bound covers an engine that never closes it.
    match tokio::time::timeout(Duration::from_secs(30), logs).await {
        Ok(Ok(s)) => s,
        _ => LogSummary::default(),
    }
}

/// Streams the agent's output into the job's log in batches; remembers the PR line and
/// the tail.
async fn pump_logs(api: WorkerApi, job_id: Uuid, ns: Uuid, mut lines: BoxStream<'static, LogLine>) -> LogSummary {
    let mut summary = LogSummary::default();
    let mut pending: Vec<NewJobEvent> = Vec::new();
    let mut n: u64 = 0;
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        tokio::select! {
            line = lines.next() => match line {
                Some(l) => {
                    n += 1;
                    if let Some(url) = l.text.trim().strip_prefix(PR_MARKER) {
                        summary.pr_url = Some(url.trim().to_string()).filter(|u| !u.is_empty());
                    }
                    summary.tail.push_back(l.text.clone());
                    if summary.tail.len() > TAIL_LINES {
                        summary.tail.pop_front();
                    }
                    pending.push(event(ns, n, l));
                    if pending.len() > MAX_PENDING_EVENTS {
                        pending.drain(..pending.len() - MAX_PENDING_EVENTS);
                    }
                    if pending.len() >= MAX_BATCH {
                        flush(&api, job_id, &mut pending).await;
                    }
                }
                None => break,
            },
            _ = tick.tick() => flush(&api, job_id, &mut pending).await,
        }
    }
    for _ in 0..5 {
        flush(&api, job_id, &mut pending).await;
        if pending.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    summary
}

fn event(ns: Uuid, n: u64, l: LogLine) -> NewJobEvent {
    let step = match l.stream {
        Stream::Stdout => "stdout",
        Stream::Stderr => "stderr",
    };
    let long = l.text.chars().count() > SUMMARY_CHARS;
    NewJobEvent {
        event_id: Some(Uuid::new_v5(&ns, &n.to_be_bytes())),
        at: Some(chrono::Utc::now()),
        phase: "agent".into(),
        step: step.into(),
        summary: l.text.chars().take(SUMMARY_CHARS).collect(),
        raw_output: long.then(|| l.text.chars().take(256 * 1024).collect()),
        ..Default::default()
    }
}

async fn flush(api: &WorkerApi, job_id: Uuid, pending: &mut Vec<NewJobEvent>) {
    while !pending.is_empty() {
        let n = pending.len().min(MAX_BATCH);
        match api.events(job_id, pending[..n].to_vec()).await {
            Ok(()) => {
                pending.drain(..n);
            }
            Err(ApiError::Rejected { status, body }) => {
                // A batch the API will never take: drop it rather than block the log.
                tracing::warn!(%job_id, status, body, "log batch rejected; dropping it");
                pending.drain(..n);
            }
            Err(e) => {
                tracing::debug!(%job_id, error = %e, "log batch not sent yet");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judging_exits() {
        let mut logs = LogSummary::default();
        assert_eq!(judge(0, &logs).0, Outcome::Failed);
        assert!(judge(0, &logs).1.unwrap().contains("without a pull request"));
        logs.pr_url = Some("https://x/o/r/pull/7".into());
        assert_eq!(judge(0, &logs), (Outcome::Succeeded, None));
        assert_eq!(judge(2, &logs).0, Outcome::Failed);
        assert_eq!(pr_number("https://github.com/o/r/pull/42"), Some(42));
        assert_eq!(pr_number("https://x/merge_requests/1"), None);
    }

    #[test]
    fn event_ids_are_stable() {
        let ns = Uuid::new_v5(&Uuid::NAMESPACE_OID, b"abc");
        let l = || LogLine {
            stream: Stream::Stdout,
            text: "x".into(),
        };
        assert_eq!(event(ns, 3, l()).event_id, event(ns, 3, l()).event_id);
        assert_ne!(event(ns, 3, l()).event_id, event(ns, 4, l()).event_id);
    }
}
