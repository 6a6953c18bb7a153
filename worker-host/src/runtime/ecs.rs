//! ECS runtime: one task per job (RunTask on an EC2-backed cluster). The agent's output
//! goes to the task definition's log driver (CloudWatch), so `logs` yields nothing here.

use std::time::Duration;
use terarchitect_protocol::JobId;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, ContainerOverride, KeyValuePair, LaunchType, NetworkConfiguration, Tag, TaskField,
    TaskOverride,
};
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};

use super::*;

#[derive(Debug, Clone)]
pub struct EcsSettings {
    pub cluster: String,
    pub task_definition: String,
    pub container_name: String,
    pub launch_type: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
}

pub struct EcsRuntime {
    client: Client,
    settings: EcsSettings,
    poll: Duration,
}

fn unavailable(e: impl std::error::Error) -> RuntimeError {
    RuntimeError::Unavailable(format!("{e}: {e:?}").chars().take(600).collect())
}

impl EcsRuntime {
    pub async fn connect(settings: EcsSettings, endpoint: Option<&str>, region: &str) -> EcsRuntime {
        let conf = crate::aws_config(endpoint, region).await;
        EcsRuntime {
            client: Client::new(&conf),
            settings,
            poll: Duration::from_secs(5),
        }
    }

    /// How often `wait` asks ECS for the task's state.
    pub fn with_poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    async fn describe(&self, arns: Vec<String>) -> Result<Vec<aws_sdk_ecs::types::Task>, RuntimeError> {
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .client
            .describe_tasks()
            .cluster(&self.settings.cluster)
            .set_tasks(Some(arns))
            .include(TaskField::Tags)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.tasks.unwrap_or_default())
    }
}

/// ECS limits startedBy to 36 characters.
fn started_by(host_id: &str) -> String {
    host_id.chars().take(36).collect()
}

impl Runtime for EcsRuntime {
    fn name(&self) -> &'static str {
        "ecs"
    }

    fn execution_mode(&self) -> ExecutionMode {
        ExecutionMode::Docker
    }

    async fn ping(&self) -> Result<(), RuntimeError> {
        self.client
            .describe_clusters()
            .clusters(&self.settings.cluster)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn start(&self, spec: &AgentSpec) -> Result<String, RuntimeError> {
        let s = &self.settings;
        let env = spec
            .env
            .iter()
            .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
            .collect();
        let overrides = TaskOverride::builder()
            .container_overrides(
                ContainerOverride::builder()
                    .name(&s.container_name)
                    .set_environment(Some(env))
                    .build(),
            )
            .build();
        let tag = |k: &str, v: String| Tag::builder().key(k).value(v).build();
        let mut req = self
            .client
            .run_task()
            .cluster(&s.cluster)
            .task_definition(&s.task_definition)
            .launch_type(LaunchType::from(s.launch_type.as_str()))
            .started_by(started_by(&spec.host_id))
            .overrides(overrides)
            .tags(tag(LABEL_JOB, spec.job_id.to_string()))
            .tags(tag(LABEL_PROJECT, spec.project_id.to_string()))
            .tags(tag(LABEL_HOST, spec.host_id.clone()))
            .tags(tag(LABEL_ATTEMPT, spec.attempt.to_string()));
        if !s.subnets.is_empty() {
            let vpc = AwsVpcConfiguration::builder()
                .set_subnets(Some(s.subnets.clone()))
                .set_security_groups(Some(s.security_groups.clone()))
                .build()
                .map_err(|e| RuntimeError::Start(e.to_string()))?;
            req = req.network_configuration(NetworkConfiguration::builder().awsvpc_configuration(vpc).build());
        }
        let out = req.send().await.map_err(|e| {
            let msg = format!("{e:?}");
            // Service-side rejections (bad task definition, no capacity) are not outages.
            if msg.contains("ServiceError") {
                RuntimeError::Start(msg.chars().take(600).collect())
            } else {
                unavailable(e)
            }
        })?;
        if let Some(f) = out.failures.as_ref().and_then(|f| f.first()) {
            return Err(RuntimeError::Start(format!(
                "RunTask failed: {} {}",
                f.reason.as_deref().unwrap_or("?"),
                f.detail.as_deref().unwrap_or("")
            )));
        }
        out.tasks
            .unwrap_or_default()
            .into_iter()
            .find_map(|t| t.task_arn)
            .ok_or_else(|| RuntimeError::Start("RunTask returned no task".into()))
    }

    fn logs(&self, _id: &str) -> BoxStream<'static, LogLine> {
        stream::empty().boxed()
    }

    async fn wait(&self, id: &str) -> Result<i64, RuntimeError> {
        loop {
            let tasks = self.describe(vec![id.to_string()]).await?;
            let Some(task) = tasks.into_iter().next() else {
                return Err(RuntimeError::Other("task vanished".into()));
            };
            if task.last_status.as_deref() == Some("STOPPED") {
                let code = task
                    .containers
                    .unwrap_or_default()
                    .into_iter()
                    .find(|c| c.name.as_deref() == Some(self.settings.container_name.as_str()))
                    .and_then(|c| c.exit_code)
                    .map(i64::from)
                    .unwrap_or(-1);
                return Ok(code);
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    async fn stop(&self, id: &str, _grace: Duration) -> Result<(), RuntimeError> {
        // ECS sends SIGTERM, then SIGKILL after the container's stopTimeout.
        self.client
            .stop_task()
            .cluster(&self.settings.cluster)
            .task(id)
            .reason("stopped by the Terarchitect worker host")
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn remove(&self, _id: &str) -> Result<(), RuntimeError> {
        // ECS forgets stopped tasks by itself.
        Ok(())
    }

    async fn list_own(&self, host_id: &str) -> Result<Vec<Existing>, RuntimeError> {
        let out = self
            .client
            .list_tasks()
            .cluster(&self.settings.cluster)
            .started_by(started_by(host_id))
            .send()
            .await
            .map_err(unavailable)?;
        let tasks = self.describe(out.task_arns.unwrap_or_default()).await?;
        Ok(tasks
            .into_iter()
            .filter_map(|t| {
                let tags = t.tags.clone().unwrap_or_default();
                let tag = |k: &str| {
                    tags.iter()
                        .find(|x| x.key.as_deref() == Some(k))
                        .and_then(|x| x.value.clone())
                };
                if tag(LABEL_HOST).as_deref() != Some(host_id) {
                    return None;
                }
                let job_id = tag(LABEL_JOB)?.parse::<JobId>().ok()?;
                let state = match t.last_status.as_deref() {
                    Some("STOPPED") => ExistingState::Exited,
                    Some(_) => ExistingState::Running,
                    None => ExistingState::Dead,
                };
                Some(Existing {
                    id: t.task_arn?,
                    job_id,
                    state,
                })
            })
            .collect())
    }
}
