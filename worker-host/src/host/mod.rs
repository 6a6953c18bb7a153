//! The daemon's core: poll while there is capacity, claim, run, heartbeat, finish,
//! reconcile after a restart, drain on shutdown.
//!
//! - this module: the [`Host`] and its poll loop, back-off and drain;
//! - `message`: one queue message, from claim to deletion (duplicates, conflicts);
//! - `supervise`: one agent's run, from start to its end (exit, cancel, lost lease, drain);
//! - `report`: outcomes and host events sent to the API, and how an exit is judged;
//! - `reconcile`: agents left by an earlier life of the host;
//! - `logs`: the agent's output streamed into the job's log, with its PR line and tail;
//! - `redact`: the secrets the host knows of, removed from that output before it leaves.

mod logs;
mod message;
mod reconcile;
mod redact;
mod report;
mod supervise;

use std::collections::HashMap;
use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use terarchitect_protocol::JobId;

use backon::BackoffBuilder;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use crate::api::WorkerApi;
use crate::config::Config;
use crate::queue::Queue;
use crate::runtime::Runtime;

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
    jobs: Mutex<HashMap<JobId, Option<(String, String)>>>,
    /// Set when the drain grace is over: running jobs are released.
    release_all: watch::Sender<bool>,
    failures: AtomicU32,
    outages: AtomicU32,
    paused_until: Mutex<Option<Instant>>,
    /// The git proxy's base URL for agents and where this host reaches it, once it listens.
    git_url: std::sync::OnceLock<(String, String)>,
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
                git_url: std::sync::OnceLock::new(),
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
        me.start_git_proxy().await;
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
    pub fn running_jobs(&self) -> Vec<JobId> {
        self.inner.jobs.lock().expect("jobs").keys().copied().collect()
    }
}

impl<R: Runtime> Inner<R> {
    /// Starts the git proxy agents clone and push through (`git_proxy`).
    async fn start_git_proxy(&self) {
        let listen = self.cfg.git_proxy_listen();
        let listener = match tokio::net::TcpListener::bind(&listen).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(%listen, error = %e, "the git proxy cannot listen: agents will not reach their repositories");
                return;
            }
        };
        let Ok(bound) = listener.local_addr() else { return };
        let port = bound.port();
        // A listener on every address is reached on loopback.
        let local = match bound.ip().is_unspecified() {
            true => format!("http://127.0.0.1:{port}"),
            false => format!("http://{bound}"),
        };
        let url = match (&self.cfg.git_proxy_url, self.runtime.name()) {
            (Some(u), _) => u.trim_end_matches('/').to_string(),
            (None, "local") => format!("http://127.0.0.1:{port}"),
            (None, "docker") => format!("http://host.docker.internal:{port}"),
            (None, other) => {
                tracing::error!(
                    runtime = other,
                    "set GIT_PROXY_URL: agents will not reach their repositories"
                );
                return;
            }
        };
        let proxy = crate::git_proxy::GitProxy::new(
            WorkerApi::new(&self.cfg.api_url, &self.cfg.worker_token),
            crate::list(&self.cfg.git_proxy_plain_http_hosts),
        );
        tokio::spawn(proxy.serve(listener));
        tracing::info!(%url, "git proxy listening");
        let _ = self.git_url.set((url, local));
    }

    fn note_outage(&self) -> Duration {
        self.outages.fetch_add(1, Ordering::Relaxed);
        let n = self.failures.fetch_add(1, Ordering::Relaxed).min(16) as usize;
        let d = (self.cfg.backoff(Duration::from_millis(500)).build().nth(n)).unwrap_or_else(|| self.cfg.max_backoff());
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
}
