//! Docker engine runtime (bollard): one labelled container per job.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use terarchitect_protocol::JobId;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, HostConfig, Ipam, IpamConfig,
    NetworkCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, ListContainersOptions, ListNetworksOptions, LogsOptions,
    RemoveContainerOptions, StopContainerOptions, WaitContainerOptions,
};
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, stream};

use super::*;
use crate::config::Isolation;
use crate::egress::{BRIDGE_PREFIX, Egress, Policy};

/// The egress policy a container was started with (JSON), so that a restarted host can
/// serve its proxy again.
const LABEL_EGRESS: &str = "terarchitect.egress";

#[derive(Debug, Clone)]
pub struct DockerSettings {
    pub image: String,
    pub args: Vec<String>,
    pub isolation: Isolation,
    pub cpus: f64,
    pub memory_mb: i64,
    pub pids_limit: i64,
    /// Writable space, MiB; 0: no limit.
    pub disk_mb: i64,
}

/// What the agent (root in its container) needs and nothing more: to hand the repository
/// to the unprivileged user its children run as (chown, setuid/setgid), to work in files
/// that user owns, and to stop that user's processes.
const AGENT_CAPABILITIES: &[&str] = &["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL"];

impl DockerSettings {
    /// Limits and privileges of an agent container. `plain`: every capability dropped but
    /// [`AGENT_CAPABILITIES`], no privilege gained through exec; `dind` runs privileged
    /// (its own dockerd needs it), so only the limits apply.
    pub fn host_config(&self) -> HostConfig {
        let plain = self.isolation != Isolation::Dind;
        HostConfig {
            privileged: Some(!plain),
            cap_drop: plain.then(|| vec!["ALL".into()]),
            cap_add: plain.then(|| AGENT_CAPABILITIES.iter().map(|c| c.to_string()).collect()),
            security_opt: plain.then(|| vec!["no-new-privileges:true".into()]),
            nano_cpus: Some((self.cpus * 1e9) as i64),
            memory: Some(self.memory_mb * 1024 * 1024),
            pids_limit: Some(self.pids_limit),
            storage_opt: (self.disk_mb > 0)
                .then(|| HashMap::from([("size".to_string(), format!("{}M", self.disk_mb))])),
            extra_hosts: Some(vec!["host.docker.internal:host-gateway".into()]),
            ..Default::default()
        }
    }
}

pub struct DockerRuntime {
    address: Option<String>,
    /// The client pinned to the engine's API version, once the engine has answered.
    negotiated: std::sync::OnceLock<Docker>,
    settings: DockerSettings,
    /// With an egress proxy, each job gets its own internal network (named like its
    /// container) whose only way out is the proxy.
    egress: Option<Arc<Egress>>,
    /// The proxy serving each job network, by network name.
    proxies: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    /// Job networks being set up by `start` right now (never swept as orphans).
    starting: Mutex<std::collections::HashSet<String>>,
}

fn classify(e: DockerError) -> RuntimeError {
    match e {
        DockerError::DockerResponseServerError { status_code, message } if status_code < 500 => {
            RuntimeError::Start(format!("{status_code}: {message}"))
        }
        e => RuntimeError::Unavailable(e.to_string()),
    }
}

fn not_found(e: &DockerError) -> bool {
    matches!(e, DockerError::DockerResponseServerError { status_code: 404, .. })
}

impl DockerRuntime {
    /// Connects with the usual defaults (`DOCKER_HOST` or the local socket). Does not
    /// contact the engine: `ping` does, so a host can start while Docker is down.
    /// Does not contact the engine (`ping` does), so a host can start while Docker is down.
    /// `address`: unix:///path or tcp://host:port; None: DOCKER_HOST or the local socket.
    pub fn connect(address: Option<&str>, settings: DockerSettings) -> Result<DockerRuntime, RuntimeError> {
        Ok(DockerRuntime {
            address: address.map(String::from),
            negotiated: std::sync::OnceLock::new(),
            settings,
            egress: None,
            proxies: Mutex::new(HashMap::new()),
            starting: Mutex::new(Default::default()),
        })
    }

    /// Runs every agent container behind `egress` (see [`crate::egress`]).
    pub fn with_egress(mut self, egress: Arc<Egress>) -> DockerRuntime {
        self.egress = Some(egress);
        self
    }

    /// Creates (or finds, from an earlier try) the job's internal network; its gateway.
    async fn job_network(&self, egress: &Egress, name: &str, host_id: &str) -> Result<Ipv4Addr, RuntimeError> {
        let docker = self.client().await?;
        if let Some(gateway) = self.gateway(name).await {
            return Ok(gateway);
        }
        let seed = hash(name);
        // Subnets taken by other networks (other hosts' jobs, say): try the next one.
        for n in 0..64 {
            let (subnet, gateway) = egress.subnet(seed.wrapping_add(n));
            let request = NetworkCreateRequest {
                name: name.to_string(),
                driver: Some("bridge".into()),
                internal: Some(true),
                ipam: Some(Ipam {
                    config: Some(vec![IpamConfig {
                        subnet: Some(subnet),
                        gateway: Some(gateway.to_string()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                options: Some(HashMap::from([(
                    "com.docker.network.bridge.name".to_string(),
                    bridge_name(name),
                )])),
                labels: Some(HashMap::from([(LABEL_HOST.to_string(), host_id.to_string())])),
                ..Default::default()
            };
            match docker.create_network(request).await {
                Ok(_) => return Ok(gateway),
                Err(e) if e.to_string().contains("overlap") => continue,
                Err(e) => return Err(classify(e)),
            }
        }
        Err(RuntimeError::Start(
            "no free subnet for the job's network: widen EGRESS_SUBNETS".into(),
        ))
    }

    /// The IPv4 gateway of network `name`, if it exists.
    async fn gateway(&self, name: &str) -> Option<Ipv4Addr> {
        let net = self.client().await.ok()?.inspect_network(name, None).await.ok()?;
        net.ipam?.config?.into_iter().find_map(|c| c.gateway?.parse().ok())
    }

    /// Serves the job's proxy at its network's `gateway` (once per network).
    async fn serve_egress(
        &self,
        egress: &Arc<Egress>,
        name: &str,
        gateway: Ipv4Addr,
        job: JobId,
        policy: &Policy,
    ) -> Result<(), RuntimeError> {
        if self.proxies.lock().expect("proxies").contains_key(name) {
            return Ok(());
        }
        let listener = tokio::net::TcpListener::bind((gateway, egress.port))
            .await
            .map_err(|e| {
                RuntimeError::Start(format!(
                    "the egress proxy cannot listen on {gateway}:{} (is the worker host in the engine's network \
                     namespace?): {e}",
                    egress.port
                ))
            })?;
        let handle = egress.spawn(listener, job, policy);
        if let Some(old) = self.proxies.lock().expect("proxies").insert(name.to_string(), handle) {
            old.abort();
        }
        Ok(())
    }

    /// Stops the job network's proxy and removes the network.
    async fn drop_network(&self, name: &str) {
        if let Some(h) = self.proxies.lock().expect("proxies").remove(name) {
            h.abort();
        }
        if self.egress.is_some()
            && let Ok(docker) = self.client().await
            && let Err(e) = docker.remove_network(name).await
            && !not_found(&e)
        {
            tracing::warn!(network = name, error = %e, "could not remove a job network");
        }
    }

    async fn start_named(&self, name: &str, spec: &AgentSpec) -> Result<String, RuntimeError> {
        let docker = self.client().await?;
        let s = &self.settings;
        let mut labels = HashMap::from([
            (LABEL_JOB.to_string(), spec.job_id.to_string()),
            (LABEL_PROJECT.to_string(), spec.project_id.to_string()),
            (LABEL_HOST.to_string(), spec.host_id.clone()),
            (LABEL_ATTEMPT.to_string(), spec.attempt.to_string()),
        ]);
        let mut host_config = s.host_config();
        let mut env: Vec<(String, String)> = spec.env.clone();
        if let Some(egress) = &self.egress {
            let gateway = self.job_network(egress, name, &spec.host_id).await?;
            self.serve_egress(egress, name, gateway, spec.job_id, &spec.egress)
                .await?;
            let proxy = format!("http://{gateway}:{}", egress.port);
            // Git straight to the job's proxy (libgit2 sends plain http through no proxy),
            // which passes it on to the git proxy.
            for (_, v) in env.iter_mut().filter(|(k, _)| k == "TERARCHITECT_GIT_URL") {
                if let Ok(mut url) = reqwest::Url::parse(v) {
                    let _ = url.set_ip_host(gateway.into());
                    let _ = url.set_port(Some(egress.port));
                    *v = url.to_string();
                }
            }
            for k in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"] {
                env.push((k.into(), proxy.clone()));
            }
            // The proxy itself is reached directly (for git); loopback stays in the container.
            for k in ["NO_PROXY", "no_proxy"] {
                env.push((k.into(), format!("localhost,127.0.0.1,::1,{gateway}")));
            }
            host_config.network_mode = Some(name.to_string());
            host_config.extra_hosts = None;
            let policy = serde_json::to_string(&spec.egress).map_err(|e| RuntimeError::Other(e.to_string()))?;
            labels.insert(LABEL_EGRESS.to_string(), policy);
        }
        let body = ContainerCreateBody {
            image: Some(s.image.clone()),
            cmd: (!s.args.is_empty()).then(|| s.args.clone()),
            env: Some(env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(labels),
            host_config: Some(host_config),
            ..Default::default()
        };
        let opts = CreateContainerOptions {
            name: Some(name.to_string()),
            ..Default::default()
        };
        let created = match docker.create_container(Some(opts.clone()), body.clone()).await {
            Ok(c) => c,
            Err(DockerError::DockerResponseServerError { status_code: 409, .. }) => {
                // Left over from a run whose finish we already reported: replace it.
                self.remove_container(name).await?;
                docker.create_container(Some(opts), body).await.map_err(classify)?
            }
            Err(e) => return Err(classify(e)),
        };
        if let Err(e) = docker.start_container(&created.id, None).await {
            let _ = self.remove_container(&created.id).await;
            let msg = e.to_string();
            if s.isolation == Isolation::Dind && msg.contains("operation not permitted") {
                // Seen on engines that run inside restricted containers themselves.
                return Err(RuntimeError::Start(format!(
                    "{msg} (this engine refuses privileged containers: set AGENT_ISOLATION=plain)"
                )));
            }
            return Err(classify(e));
        }
        Ok(created.id)
    }

    /// The engine's view of container `id`; None when the engine cannot be reached.
    async fn inspect(&self, id: &str) -> Option<Result<ContainerInspectResponse, DockerError>> {
        let docker = self.client().await.ok()?;
        Some(docker.inspect_container(id, None::<InspectContainerOptions>).await)
    }

    /// The container's name (its network's too), without the leading `/`.
    async fn container_name(&self, id: &str) -> Option<String> {
        match self.inspect(id).await? {
            Ok(i) => i.name.map(|n| n.trim_start_matches('/').to_string()),
            // Gone already: `id` may be the name, and its network may still be there.
            Err(e) if not_found(&e) && id.starts_with("terarchitect-job-") => Some(id.to_string()),
            Err(_) => None,
        }
    }

    /// Removes this host's job networks that no container uses any more (a host that died
    /// between creating a job's network and its container, say), except those being set
    /// up or served now.
    async fn sweep_networks(&self, host_id: &str, agents: &[Existing]) {
        if self.egress.is_none() {
            return;
        }
        let Ok(docker) = self.client().await else { return };
        let opts = ListNetworksOptions {
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![format!("{LABEL_HOST}={host_id}")],
            )])),
        };
        let Ok(networks) = docker.list_networks(Some(opts)).await else {
            return;
        };
        let mut names = Vec::new();
        for a in agents {
            names.extend(self.container_name(&a.id).await);
        }
        for name in networks.into_iter().filter_map(|n| n.name) {
            let busy = names.contains(&name)
                || self.starting.lock().expect("starting").contains(&name)
                || self.proxies.lock().expect("proxies").contains_key(&name);
            if !busy {
                tracing::info!(network = name, "removing a job network no agent uses");
                self.drop_network(&name).await;
            }
        }
    }

    /// Removes the container only (its network stays).
    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError> {
        let opts = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match self.client().await?.remove_container(id, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            // 409: removal already in progress.
            Err(DockerError::DockerResponseServerError { status_code: 409, .. }) => Ok(()),
            Err(e) => Err(RuntimeError::Unavailable(e.to_string())),
        }
    }

    fn base(&self) -> Result<Docker, RuntimeError> {
        match self.address.as_deref() {
            Some(a) if a.starts_with("unix://") => Docker::connect_with_unix(a, 120, bollard::API_DEFAULT_VERSION),
            Some(a) => Docker::connect_with_http(a, 120, bollard::API_DEFAULT_VERSION),
            None => Docker::connect_with_defaults(),
        }
        .map(|d| d.with_timeout(Duration::from_secs(7 * 24 * 3600)))
        .map_err(|e| RuntimeError::Unavailable(e.to_string()))
    }

    /// The client speaking the engine's API version (older engines refuse newer clients).
    async fn client(&self) -> Result<Docker, RuntimeError> {
        if let Some(d) = self.negotiated.get() {
            return Ok(d.clone());
        }
        // The client timeout also bounds `wait` and followed logs: agents run for hours.
        let d = self
            .base()?
            .negotiate_version()
            .await
            .map_err(|e| RuntimeError::Unavailable(e.to_string()))?;
        Ok(self.negotiated.get_or_init(|| d).clone())
    }
}

impl Runtime for DockerRuntime {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn execution_mode(&self) -> ExecutionMode {
        ExecutionMode::Docker
    }

    async fn ping(&self) -> Result<(), RuntimeError> {
        let docker = self.client().await?;
        docker
            .ping()
            .await
            .map_err(|e| RuntimeError::Unavailable(e.to_string()))?;
        Ok(())
    }

    async fn start(&self, spec: &AgentSpec) -> Result<String, RuntimeError> {
        // One name per job attempt: the engine itself refuses a second container for it.
        let name = format!("terarchitect-job-{}-{}", spec.job_id, spec.attempt);
        self.starting.lock().expect("starting").insert(name.clone());
        let started = self.start_named(&name, spec).await;
        if started.is_err() {
            self.drop_network(&name).await;
        }
        self.starting.lock().expect("starting").remove(&name);
        started
    }

    fn logs(&self, id: &str) -> BoxStream<'static, LogLine> {
        let opts = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        // `start` (or reconcile's `list_own`) has negotiated by now.
        let Some(docker) = self.negotiated.get() else {
            return stream::empty().boxed();
        };
        let raw = docker.logs(id, Some(opts));
        let mut lines = LineSplitter::default();
        raw.take_while(|r| futures_util::future::ready(r.is_ok()))
            .map(Some)
            .chain(stream::once(async { None }))
            .flat_map(move |item| {
                let out = match item {
                    Some(Ok(chunk)) => match chunk {
                        LogOutput::StdErr { message } => lines.push(true, &message),
                        LogOutput::StdOut { message } | LogOutput::Console { message } => lines.push(false, &message),
                        LogOutput::StdIn { .. } => Vec::new(),
                    },
                    Some(Err(_)) => Vec::new(),
                    None => lines.finish(),
                };
                stream::iter(out)
            })
            .boxed()
    }

    async fn output_tail(&self, id: &str, lines: usize) -> Vec<String> {
        let Ok(docker) = self.client().await else {
            return Vec::new();
        };
        let opts = LogsOptions {
            follow: false,
            stdout: true,
            stderr: true,
            tail: lines.to_string(),
            ..Default::default()
        };
        let chunks: Vec<_> = docker.logs(id, Some(opts)).collect().await;
        let text: String = chunks
            .into_iter()
            .filter_map(Result::ok)
            .map(|c| String::from_utf8_lossy(&c.into_bytes()).into_owned())
            .collect();
        text.lines().map(String::from).collect()
    }

    async fn job_token(&self, id: &str) -> Option<String> {
        let info = self.inspect(id).await?.ok()?;
        info.config?
            .env?
            .into_iter()
            .find_map(|e| e.strip_prefix("TERARCHITECT_JOB_TOKEN=").map(str::to_owned))
    }

    async fn wait(&self, id: &str) -> Result<i64, RuntimeError> {
        let mut s = self.client().await?.wait_container(id, None::<WaitContainerOptions>);
        match s.next().await {
            Some(Ok(r)) => Ok(r.status_code),
            // bollard reports non-zero exits as this error.
            Some(Err(DockerError::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) if not_found(&e) => Err(RuntimeError::Other("container vanished".into())),
            Some(Err(e)) => Err(RuntimeError::Unavailable(e.to_string())),
            None => Err(RuntimeError::Unavailable("wait stream ended".into())),
        }
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<(), RuntimeError> {
        let opts = StopContainerOptions {
            t: Some(grace.as_secs().min(i32::MAX as u64) as i32),
            signal: None,
        };
        match self.client().await?.stop_container(id, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            // 304: already stopped.
            Err(DockerError::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(RuntimeError::Unavailable(e.to_string())),
        }
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        let name = match self.egress {
            Some(_) => self.container_name(id).await,
            None => None,
        };
        self.remove_container(id).await?;
        if let Some(name) = name {
            self.drop_network(&name).await;
        }
        Ok(())
    }

    async fn list_own(&self, host_id: &str) -> Result<Vec<Existing>, RuntimeError> {
        let opts = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![format!("{LABEL_HOST}={host_id}")],
            )])),
            ..Default::default()
        };
        let list = self
            .client()
            .await?
            .list_containers(Some(opts))
            .await
            .map_err(|e| RuntimeError::Unavailable(e.to_string()))?;
        let mut out = Vec::new();
        for c in list {
            let Some(id) = c.id else { continue };
            let job_id = c
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_JOB))
                .and_then(|j| j.parse::<JobId>().ok());
            let Some(job_id) = job_id else { continue };
            let state = match self
                .client()
                .await?
                .inspect_container(&id, None::<InspectContainerOptions>)
                .await
            {
                Ok(i) => match i.state.and_then(|s| s.status) {
                    Some(ContainerStateStatusEnum::RUNNING)
                    | Some(ContainerStateStatusEnum::RESTARTING)
                    | Some(ContainerStateStatusEnum::PAUSED) => ExistingState::Running,
                    Some(ContainerStateStatusEnum::EXITED) => ExistingState::Exited,
                    _ => ExistingState::Dead,
                },
                Err(_) => ExistingState::Dead,
            };
            // A running agent of an earlier life keeps its network: serve its proxy again.
            let policy = c.labels.as_ref().and_then(|l| l.get(LABEL_EGRESS));
            let name = c
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map(|n| n.trim_start_matches('/'));
            if let (Some(egress), ExistingState::Running, Some(policy), Some(name)) =
                (&self.egress, state, policy, name)
            {
                let served = match serde_json::from_str::<Policy>(policy) {
                    Ok(p) => match self.gateway(name).await {
                        Some(gateway) => self.serve_egress(egress, name, gateway, job_id, &p).await,
                        None => Err(RuntimeError::Other(format!("the job network {name} is gone"))),
                    },
                    Err(e) => Err(RuntimeError::Other(e.to_string())),
                };
                if let Err(e) = served {
                    tracing::error!(%job_id, error = %e, "cannot serve a re-attached agent's egress proxy: it is cut off");
                }
            }
            out.push(Existing { id, job_id, state });
        }
        self.sweep_networks(host_id, &out).await;
        Ok(out)
    }
}

fn hash(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// The bridge interface of a job network: `tj-` and 12 hex digits (Linux allows 15
/// characters), which the host guard matches.
fn bridge_name(network: &str) -> String {
    format!("{BRIDGE_PREFIX}{:012x}", hash(network) & 0xffff_ffff_ffff)
}

/// Chunks are not lines: joins each stream's chunks and cuts them at newlines, keeping a
/// partial line per stream until its end arrives (so a line, and a secret in it, is never
/// cut where a chunk ended).
#[derive(Default)]
pub(crate) struct LineSplitter {
    partial: HashMap<bool, String>,
}

impl LineSplitter {
    pub(crate) fn push(&mut self, is_err: bool, bytes: &[u8]) -> Vec<LogLine> {
        let buf = self.partial.entry(is_err).or_default();
        buf.push_str(&String::from_utf8_lossy(bytes));
        let mut out = Vec::new();
        while let Some(pos) = buf.find('\n') {
            let line: String = buf.drain(..=pos).collect();
            out.push(line_of(is_err, line.trim_end_matches(['\n', '\r'])));
        }
        out
    }

    /// The partial lines left when the output ends.
    pub(crate) fn finish(&mut self) -> Vec<LogLine> {
        self.partial
            .drain()
            .filter(|(_, rest)| !rest.is_empty())
            .map(|(is_err, rest)| line_of(is_err, &rest))
            .collect()
    }
}

fn line_of(is_err: bool, text: &str) -> LogLine {
    LogLine {
        stream: if is_err { Stream::Stderr } else { Stream::Stdout },
        text: text.to_string(),
    }
}
