//! The worker host: pulls jobs from SQS while it has capacity, claims them through the
//! worker API, and runs one isolated agent (container, ECS task or local process) per job,
//! heartbeating its lease and reporting its outcome.

pub mod api;
pub mod config;
pub mod egress;
pub mod git_proxy;
pub mod host;
pub mod queue;
pub mod runtime;

pub use config::{Config, EgressMode, Isolation, RuntimeKind};
pub use host::Host;

use runtime::docker::DockerSettings;
use runtime::ecs::EcsSettings;
use runtime::{DockerRuntime, EcsRuntime, LocalRuntime, RuntimeError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// The AWS SDK's configuration: the default chain, `region` when none is set, and an
/// endpoint override (an emulator) when given.
pub async fn aws_config(endpoint: Option<&str>, region: &str) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(
        aws_config::meta::region::RegionProviderChain::default_provider()
            .or_else(aws_config::Region::new(region.to_string())),
    );
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
    }
    loader.load().await
}

pub(crate) fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

/// Docker settings from the configuration.
pub fn docker_settings(cfg: &Config) -> DockerSettings {
    DockerSettings {
        image: cfg.agent_image.clone(),
        args: cfg.agent_args(),
        isolation: cfg.isolation,
        cpus: cfg.agent_cpus,
        memory_mb: cfg.agent_memory_mb,
        pids_limit: cfg.agent_pids_limit,
        disk_mb: cfg.agent_disk_mb,
    }
}

/// The docker runtime as configured; with `AGENT_EGRESS=allowlist`, its egress proxy
/// and the host guard installed.
pub async fn docker_runtime(cfg: &Config) -> Result<DockerRuntime, Error> {
    let rt = DockerRuntime::connect(cfg.docker_host.as_deref(), docker_settings(cfg))?;
    if cfg.egress == EgressMode::Open {
        return Ok(rt);
    }
    let api = api::WorkerApi::new(&cfg.api_url, &cfg.worker_token);
    let egress = egress::Egress::new(api, cfg.egress_proxy_port, &cfg.egress_subnets).map_err(RuntimeError::Start)?;
    egress.install_guard().await.map_err(RuntimeError::Start)?;
    Ok(rt.with_egress(egress))
}

/// Builds the configured runtime and runs the host until `shutdown` completes (then drains).
pub async fn run(cfg: Config, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    let queue = queue::Queue::connect(&cfg.queue_url, cfg.aws_endpoint_url.as_deref(), &cfg.aws_region).await;
    match cfg.runtime {
        RuntimeKind::Docker => {
            let rt = docker_runtime(&cfg).await?;
            Host::new(cfg, rt, queue).run(shutdown).await;
        }
        RuntimeKind::Ecs => {
            let settings = EcsSettings {
                cluster: cfg.ecs_cluster.clone(),
                task_definition: cfg.ecs_task_definition.clone(),
                container_name: cfg.ecs_container_name.clone(),
                launch_type: cfg.ecs_launch_type.clone(),
                subnets: list(&cfg.ecs_subnets),
                security_groups: list(&cfg.ecs_security_groups),
            };
            let rt = EcsRuntime::connect(settings, cfg.aws_endpoint_url.as_deref(), &cfg.aws_region)
                .await
                .with_poll_interval(std::time::Duration::from_secs(cfg.ecs_poll_secs.max(1)));
            Host::new(cfg, rt, queue).run(shutdown).await;
        }
        RuntimeKind::Local => {
            let rt = LocalRuntime::new(&cfg.local_agent_bin, cfg.agent_args());
            Host::new(cfg, rt, queue).run(shutdown).await;
        }
    }
    Ok(())
}
