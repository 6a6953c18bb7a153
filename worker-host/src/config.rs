//! Settings: every option has an environment fallback so the systemd unit can use an
//! `EnvironmentFile`.

use std::time::Duration;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuntimeKind {
    /// One container per job on the local Docker engine.
    Docker,
    /// One ECS task per job (RunTask on an EC2-backed cluster).
    Ecs,
    /// The agent binary as a process in the project's `local_path`.
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Isolation {
    /// Privileged container running its own dockerd (Docker-in-Docker): the agent can run
    /// the repository's containers without touching the host's engine.
    Dind,
    /// Plain unprivileged container (no nested Docker).
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EgressMode {
    /// Each agent container alone on an internal network whose only way out is this host's
    /// egress proxy: Terarchitect itself and the project's `egress_allow` hosts.
    Allowlist,
    /// Containers on Docker's default bridge, free to connect anywhere.
    Open,
}

/// The Terarchitect worker host: pulls jobs from SQS and runs one isolated agent per job.
#[derive(Debug, Clone, Parser)]
#[command(name = "worker-host", version)]
pub struct Config {
    /// Base URL of the worker API (the host's own view), e.g. https://api.example.com/worker-api
    #[arg(long, env = "TERARCHITECT_API_URL")]
    pub api_url: String,

    /// Base URL of the worker API as the agent sees it (default: --api-url). Useful when the
    /// API listens on the host's loopback: http://host.docker.internal:PORT
    #[arg(long, env = "TERARCHITECT_AGENT_API_URL")]
    pub agent_api_url: Option<String>,

    /// Worker token (kind `worker`) used for claim/heartbeat/finish/events, minted for this
    /// host's id (`admin mint-token --kind worker --host ID`): it acts as that host only.
    #[arg(long, env = "TERARCHITECT_WORKER_TOKEN", hide_env_values = true)]
    pub worker_token: String,

    /// URL of the SQS job queue.
    #[arg(long, env = "JOB_QUEUE_URL")]
    pub queue_url: String,

    /// Endpoint override for AWS (SQS/ECS emulators such as moto or LocalStack).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,

    /// AWS region when none is configured otherwise.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub aws_region: String,

    /// Stable name of this host: the lease owner, and the label that finds its containers
    /// after a restart. Defaults to the machine's hostname.
    #[arg(long, env = "WORKER_HOST_ID")]
    pub host_id: Option<String>,

    /// Most agents running at once on this host.
    #[arg(long, env = "MAX_CONCURRENT_AGENTS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub max_concurrent_agents: u32,

    /// Where agents run.
    #[arg(long, env = "WORKER_RUNTIME", value_enum, default_value_t = RuntimeKind::Docker)]
    pub runtime: RuntimeKind,

    /// Agent image (docker runtime).
    #[arg(long, env = "AGENT_IMAGE", default_value = "terarchitect-agent:latest")]
    pub agent_image: String,

    /// Arguments for the agent, whitespace-separated (docker: the container command;
    /// local: the binary's arguments). Empty: the image's default.
    #[arg(long, env = "AGENT_ARGS", default_value = "", allow_hyphen_values = true)]
    pub agent_args: String,

    /// Docker engine address (unix:///path or tcp://host:port); default: the usual
    /// DOCKER_HOST / local socket.
    #[arg(long, env = "DOCKER_HOST")]
    pub docker_host: Option<String>,

    /// Container isolation (docker runtime). `dind` needs a engine that allows --privileged.
    #[arg(long, env = "AGENT_ISOLATION", value_enum, default_value_t = Isolation::Dind)]
    pub isolation: Isolation,

    /// CPU limit per agent container (cores).
    #[arg(long, env = "AGENT_CPUS", default_value_t = 2.0)]
    pub agent_cpus: f64,

    /// Memory limit per agent container, MiB.
    #[arg(long, env = "AGENT_MEMORY_MB", default_value_t = 4096)]
    pub agent_memory_mb: i64,

    /// Process limit per agent container.
    #[arg(long, env = "AGENT_PIDS_LIMIT", default_value_t = 4096)]
    pub agent_pids_limit: i64,

    /// Writable space per agent container, MiB (0: no limit). Needs an engine whose storage
    /// driver enforces `--storage-opt size` (overlay2 on xfs with pquota, btrfs, zfs).
    #[arg(long, env = "AGENT_DISK_MB", default_value_t = 0)]
    pub agent_disk_mb: i64,

    /// Agent binary for the local runtime.
    #[arg(long, env = "LOCAL_AGENT_BIN", default_value = "terarchitect-agent")]
    pub local_agent_bin: String,

    /// ECS cluster (ecs runtime).
    #[arg(long, env = "ECS_CLUSTER", default_value = "terarchitect")]
    pub ecs_cluster: String,

    /// ECS task definition (family[:revision] or ARN).
    #[arg(long, env = "ECS_TASK_DEFINITION", default_value = "terarchitect-agent")]
    pub ecs_task_definition: String,

    /// Name of the agent container inside the task definition.
    #[arg(long, env = "ECS_CONTAINER_NAME", default_value = "agent")]
    pub ecs_container_name: String,

    /// ECS launch type.
    #[arg(long, env = "ECS_LAUNCH_TYPE", default_value = "EC2")]
    pub ecs_launch_type: String,

    /// Subnets for awsvpc networking, comma-separated (empty: the task definition's mode).
    #[arg(long, env = "ECS_SUBNETS", default_value = "")]
    pub ecs_subnets: String,

    /// Security groups for awsvpc networking, comma-separated.
    #[arg(long, env = "ECS_SECURITY_GROUPS", default_value = "")]
    pub ecs_security_groups: String,

    /// How often the ecs runtime asks ECS whether a task stopped, seconds.
    #[arg(long, env = "ECS_POLL_SECS", default_value_t = 5)]
    pub ecs_poll_secs: u64,

    /// Seconds between heartbeats (lease and message visibility are extended each time).
    #[arg(long, env = "HEARTBEAT_INTERVAL_SECS", default_value_t = 30)]
    pub heartbeat_interval_secs: u64,

    /// Visibility timeout given to a message on receive and on every heartbeat, seconds.
    #[arg(long, env = "VISIBILITY_TIMEOUT_SECS", default_value_t = 120)]
    pub visibility_timeout_secs: i32,

    /// SQS long-poll wait, seconds (max 20).
    #[arg(long, env = "POLL_WAIT_SECS", default_value_t = 20, value_parser = clap::value_parser!(i32).range(0..=20))]
    pub poll_wait_secs: i32,

    /// Grace between SIGTERM and SIGKILL when stopping an agent, seconds.
    #[arg(long, env = "STOP_GRACE_SECS", default_value_t = 30)]
    pub stop_grace_secs: u64,

    /// On SIGTERM: how long running jobs may continue before they are released, seconds.
    #[arg(long, env = "DRAIN_GRACE_SECS", default_value_t = 60)]
    pub drain_grace_secs: u64,

    /// Longest back-off after an outage (API, queue or runtime unreachable), seconds.
    #[arg(long, env = "MAX_BACKOFF_SECS", default_value_t = 30)]
    pub max_backoff_secs: u64,

    /// Where the git proxy listens: agents clone and push only through it, and it adds the
    /// project's GitHub token (which no container sees) and refuses pushes to any ref but
    /// the job's `ticket-{id}` branch. Keep the port across restarts: running agents keep
    /// the URL they were started with (port 0, any free port, only suits a host that is
    /// never restarted under running agents, such as tests'). Default: `127.0.0.1:7311`
    /// behind the egress allowlist (agents reach it through their job's proxy, nothing else
    /// needs to), `0.0.0.0:7311` otherwise.
    #[arg(long, env = "GIT_PROXY_LISTEN")]
    pub git_proxy_listen: Option<String>,

    /// The git proxy's base URL as agents reach it. Default: http://host.docker.internal:PORT
    /// (docker runtime), http://127.0.0.1:PORT (local). The ecs runtime needs it set (the
    /// host's private address, with GIT_PROXY_LISTEN on a fixed port).
    #[arg(long, env = "GIT_PROXY_URL")]
    pub git_proxy_url: Option<String>,

    /// Hosts of plain-http remotes the git proxy may still send the GitHub token to,
    /// comma-separated (test stand-ins; https remotes always get it).
    #[arg(long, env = "GIT_PROXY_PLAIN_HTTP_HOSTS", default_value = "")]
    pub git_proxy_plain_http_hosts: String,

    /// Where agent containers may connect (docker runtime). `allowlist` needs iptables
    /// (root or CAP_NET_ADMIN) and the host in the engine's network namespace; ECS tasks
    /// are bounded by their security groups instead, local agents not at all.
    #[arg(long, env = "AGENT_EGRESS", value_enum, default_value_t = EgressMode::Allowlist)]
    pub egress: EgressMode,

    /// The port each job's egress proxy listens on, at its network's gateway address.
    #[arg(long, env = "EGRESS_PROXY_PORT", default_value_t = 7312)]
    pub egress_proxy_port: u16,

    /// The IPv4 range job networks take their /28 subnets from (keep it clear of your own
    /// networks and Docker's address pools).
    #[arg(long, env = "EGRESS_SUBNETS", default_value = "10.213.0.0/16")]
    pub egress_subnets: String,

    /// Log as JSON lines (for journald/CloudWatch) instead of text.
    #[arg(long, env = "WORKER_LOG_JSON")]
    pub log_json: bool,
}

impl Config {
    pub fn host_id(&self) -> String {
        self.host_id.clone().unwrap_or_else(hostname)
    }
    /// Where the git proxy listens (see `git_proxy_listen`).
    pub fn git_proxy_listen(&self) -> String {
        let behind_egress = self.runtime == RuntimeKind::Docker && self.egress == EgressMode::Allowlist;
        let default = if behind_egress {
            "127.0.0.1:7311"
        } else {
            "0.0.0.0:7311"
        };
        self.git_proxy_listen.clone().unwrap_or_else(|| default.into())
    }

    pub fn agent_api_url(&self) -> &str {
        self.agent_api_url.as_deref().unwrap_or(&self.api_url)
    }
    pub fn agent_args(&self) -> Vec<String> {
        self.agent_args.split_whitespace().map(String::from).collect()
    }
    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_secs(self.heartbeat_interval_secs.max(1))
    }
    pub fn stop_grace(&self) -> Duration {
        Duration::from_secs(self.stop_grace_secs)
    }
    pub fn drain_grace(&self) -> Duration {
        Duration::from_secs(self.drain_grace_secs)
    }
    pub fn max_backoff(&self) -> Duration {
        Duration::from_secs(self.max_backoff_secs.max(1))
    }
    /// The host's one back-off policy after an outage: `first`, then doubling up to
    /// [`Config::max_backoff`], for as long as the caller's `with_max_times` allows.
    pub fn backoff(&self, first: Duration) -> backon::ExponentialBuilder {
        backon::ExponentialBuilder::default()
            .with_min_delay(first.min(self.max_backoff()))
            .with_factor(2.0)
            .with_max_delay(self.max_backoff())
            .without_max_times()
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "worker-host".into())
}
