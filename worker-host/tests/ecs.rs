//! The ecs runtime against moto, which only records tasks (nothing runs): a job is
//! started as a task with the right overrides and tags, found again by host id, and
//! stopped on cancel.

mod common;

use aws_sdk_ecs::types::{ContainerDefinition, LaunchType};
use clap::Parser;
use common::*;
use terarchitect_functions::domain;
use terarchitect_protocol::{JobId, JobStatus, ProjectId};
use terarchitect_testkit::eventually;
use terarchitect_worker_host::Config;
use terarchitect_worker_host::runtime::ecs::EcsSettings;
use terarchitect_worker_host::runtime::{AgentSpec, EcsRuntime, ExistingState, Runtime};
use uuid::Uuid;

async fn ecs_client(endpoint: &str) -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(&terarchitect_testkit::stack::emulator_config(endpoint).await)
}

/// A cluster and task definition of their own on moto.
async fn cluster(client: &aws_sdk_ecs::Client) -> String {
    let name = format!("c-{}", &Uuid::new_v4().simple().to_string()[..8]);
    client
        .create_cluster()
        .cluster_name(&name)
        .send()
        .await
        .expect("create cluster");
    client
        .register_task_definition()
        .family(&name)
        .container_definitions(
            ContainerDefinition::builder()
                .name("agent")
                .image("agent")
                .memory(128)
                .build(),
        )
        .send()
        .await
        .expect("register task definition");
    name
}

fn settings(name: &str) -> EcsSettings {
    EcsSettings {
        cluster: name.into(),
        task_definition: name.into(),
        container_name: "agent".into(),
        // moto's EC2 launch type needs registered container instances; FARGATE does not.
        launch_type: LaunchType::Fargate.as_str().into(),
        subnets: vec![],
        security_groups: vec![],
    }
}

#[tokio::test]
async fn ecs_runtime_runs_finds_and_stops_tasks() {
    let endpoint = std::env::var("TERARCHITECT_TEST_SQS_URL").expect("TERARCHITECT_TEST_SQS_URL (moto)");
    let client = ecs_client(&endpoint).await;
    let name = cluster(&client).await;
    let rt = EcsRuntime::connect(settings(&name), Some(&endpoint), "us-east-1")
        .await
        .with_poll_interval(std::time::Duration::from_millis(200));
    rt.ping().await.expect("ping");
    let job_id = JobId::new();
    let spec = AgentSpec {
        job_id,
        project_id: ProjectId::new(),
        attempt: 1,
        host_id: "host-a".into(),
        env: vec![("TERARCHITECT_JOB_ID".into(), job_id.to_string())],
        local_path: None,
        egress: Default::default(),
    };
    let arn = rt.start(&spec).await.expect("run task");
    let own = rt.list_own("host-a").await.unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(
        (own[0].id.as_str(), own[0].job_id, own[0].state),
        (arn.as_str(), job_id, ExistingState::Running)
    );
    assert!(
        rt.list_own("host-b").await.unwrap().is_empty(),
        "other hosts' tasks are not ours"
    );
    let task = client
        .describe_tasks()
        .cluster(&name)
        .tasks(&arn)
        .send()
        .await
        .unwrap()
        .tasks
        .unwrap()
        .remove(0);
    let env = task
        .overrides
        .unwrap()
        .container_overrides
        .unwrap()
        .remove(0)
        .environment
        .unwrap();
    assert_eq!(env[0].value.as_deref(), Some(job_id.to_string().as_str()));
    rt.stop(&arn, std::time::Duration::from_secs(1)).await.unwrap();
    let code = tokio::time::timeout(secs(20), rt.wait(&arn))
        .await
        .expect("wait ends")
        .unwrap();
    assert_eq!(code, 0, "moto reports exit code 0 for stopped tasks");
}

#[tokio::test]
async fn a_host_on_ecs_runs_a_job_as_a_task_and_cancels_it() {
    let env = Env::new().await;
    let client = ecs_client(&env.queue.endpoint).await;
    let name = cluster(&client).await;
    let mut args = env.args(1);
    args.extend([
        "--runtime=ecs".to_string(),
        format!("--ecs-cluster={name}"),
        format!("--ecs-task-definition={name}"),
        "--ecs-launch-type=FARGATE".into(),
        "--ecs-poll-secs=1".into(),
    ]);
    let cfg = Config::parse_from(args);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let host = tokio::spawn(terarchitect_worker_host::run(cfg, async move {
        let _ = rx.await;
    }));
    let job = env.queue_job("anything").await;
    let arn = eventually("a task for the job", secs(60), || async {
        let out = client.list_tasks().cluster(&name).send().await.ok()?;
        out.task_arns?.into_iter().next()
    })
    .await;
    eventually("job running", secs(30), || async {
        (env.job(job).await.status == JobStatus::Running).then_some(())
    })
    .await;
    domain::jobs::cancel(&env.app, env.project.id, job).await.unwrap();
    eventually("job cancelled", secs(60), || async {
        (env.job(job).await.status == JobStatus::Cancelled).then_some(())
    })
    .await;
    let task = client
        .describe_tasks()
        .cluster(&name)
        .tasks(&arn)
        .send()
        .await
        .unwrap()
        .tasks
        .unwrap()
        .remove(0);
    assert_eq!(task.last_status.as_deref(), Some("STOPPED"));
    let _ = tx.send(());
    host.await.unwrap().unwrap();
}
