//! The worker host against the real worker API, Postgres, the SQS emulator and the Docker
//! engine. Agents are the stand-in `test-agent` in a FROM scratch image; each job's ticket
//! title is its script (see test-agent/main.rs).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use terarchitect_functions::domain;
use terarchitect_protocol::{JobId, JobStatus};
use terarchitect_testkit::docker::{containers_with_label, running_with_label};
use terarchitect_testkit::eventually;
use uuid::Uuid;

async fn wait_status(env: &Env, job: JobId, status: JobStatus, within: u64) -> terarchitect_protocol::Job {
    eventually(&format!("job {job} {status:?}"), secs(within), || async {
        let j = env.job(job).await;
        (j.status == status).then_some(j)
    })
    .await
}

async fn no_containers_left(env: &Env) {
    let label = env.label();
    eventually("no container left", secs(20), || async {
        containers_with_label(&label).is_empty().then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_queued_job_runs_in_a_container_and_its_logs_reach_the_api() {
    let env = Env::new().await;
    let host = RunningHost::docker(env.config(3)).await;
    let ok = env.queue_job("--lines 4 --caps --pr pr-7").await;
    let no_pr = env.queue_job("--lines 1").await;
    // A container claiming a PR it never opened through the API gets nothing for it.
    let claims_pr = env.queue_job("--say TERARCHITECT_PR_URL=https://evil.example/1").await;
    let crash = env.queue_job("--lines 2 --exit 3").await;
    let leak = env.queue_job("--leak-token --exit 4").await;

    let job = wait_status(&env, ok, JobStatus::Succeeded, 60).await;
    // The PR the API opened for the agent (the only one), not anything it printed.
    let pr = env
        .github
        .pulls()
        .into_iter()
        .find(|p| p.title == "pr-7")
        .expect("the PR was opened");
    let url = format!("https://github.example/acme/shop/pull/{}", pr.number);
    assert_eq!(
        (job.pr_url.as_deref(), job.pr_number),
        (Some(url.as_str()), Some(pr.number as i64))
    );
    assert_eq!(job.exit_code, Some(0));
    assert_eq!(job.attempt, 1);
    let events = env.events(ok).await;
    let has = |step: &str, text: &str| events.iter().any(|e| e.step == step && e.summary.contains(text));
    // The agent reached the API with its job token via host.docker.internal.
    assert!(has("stdout", "context: --lines 4"), "{events:#?}");
    assert!(has("stdout", "line 1 of job"), "{events:#?}");
    // Only the capabilities the agent needs (chown, dac_override, fowner, kill, setgid,
    // setuid = 0xeb), and no privilege to gain through exec.
    assert!(has("stdout", "status CapEff: 00000000000000eb"), "{events:#?}");
    assert!(has("stdout", "status NoNewPrivs: 1"), "{events:#?}");
    assert!(has("stderr", "line 2 of job"), "{events:#?}");
    assert!(has("stdout", "TERARCHITECT_PR_URL="), "{events:#?}");
    assert!(has("start", "started on"), "{events:#?}");
    assert!(has("finish", "Succeeded"), "{events:#?}");
    let ticket = terarchitect_functions::store::tickets::get(&env.db.pool, env.project.id, job.ticket_id)
        .await
        .unwrap();
    assert_eq!(ticket.pr_number, Some(pr.number as i64));

    // Exit 0 alone is not success.
    let job = wait_status(&env, no_pr, JobStatus::Failed, 60).await;
    let reason = job.failure_reason.unwrap();
    // A sentence for a person; the output stays in the log, not in the reason.
    assert_eq!(reason, domain::jobs::NO_PR);
    let job = wait_status(&env, claims_pr, JobStatus::Failed, 60).await;
    assert_eq!(
        (job.pr_url, job.failure_reason.as_deref()),
        (None, Some(domain::jobs::NO_PR))
    );
    let ticket = terarchitect_functions::store::tickets::get(&env.db.pool, env.project.id, job.ticket_id)
        .await
        .unwrap();
    assert_eq!((ticket.pr_url, ticket.pr_number), (None, None));
    assert!(
        env.events(claims_pr)
            .await
            .iter()
            .any(|e| e.summary.contains("evil.example")),
        "the claim is in the log, for people to see"
    );
    let job = wait_status(&env, crash, JobStatus::Failed, 60).await;
    assert_eq!(job.exit_code, Some(3));
    assert_eq!(
        job.failure_reason.as_deref(),
        Some("the agent stopped unexpectedly (exit code 3); its output is in the log")
    );

    // An agent printing its job token (split over two writes, and on stderr): the host
    // redacts it from the job's log and from the failure reason (its error line).
    let job = wait_status(&env, leak, JobStatus::Failed, 60).await;
    let reason = job.failure_reason.unwrap();
    let events = env.events(leak).await;
    let mut lines: Vec<&str> = events
        .iter()
        .filter(|e| e.summary.starts_with("job token"))
        .map(|e| e.summary.as_str())
        .collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        ["job token again: [redacted]", "job token: [redacted]"],
        "{events:#?}"
    );
    assert_eq!(reason, "could not go on with [redacted]");
    let leaked = |s: &str| s.contains("jt_");
    assert!(
        !leaked(&reason)
            && !events
                .iter()
                .any(|e| leaked(&e.summary) || e.raw_output.as_deref().is_some_and(leaked)),
        "{reason} {events:#?}"
    );

    no_containers_left(&env).await;
    eventually("queue empty", secs(20), || async {
        (env.messages_in_queue().await == 0).then_some(())
    })
    .await;
    host.stop().await;
}

#[tokio::test]
async fn never_more_agents_than_max_concurrent_agents() {
    let env = Env::new().await;
    let host = RunningHost::docker(env.config(2)).await;
    let mut jobs = Vec::new();
    for i in 0..6 {
        jobs.push(env.queue_job(&format!("--sleep 1.5 --lines 1 --pr pr-{i}")).await);
    }
    // Sample the engine and the host while they work.
    let max_seen = Arc::new(AtomicUsize::new(0));
    let sampling = {
        let (label, max_seen, h) = (env.label(), max_seen.clone(), host.host.clone());
        tokio::spawn(async move {
            loop {
                let label = label.clone();
                let n = tokio::task::spawn_blocking(move || running_with_label(&label))
                    .await
                    .unwrap();
                max_seen.fetch_max(n.max(h.running_jobs().len()), Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
    };
    for j in &jobs {
        let job = wait_status(&env, *j, JobStatus::Succeeded, 120).await;
        assert_eq!(job.attempt, 1, "each job ran once");
    }
    sampling.abort();
    let max = max_seen.load(Ordering::SeqCst);
    assert!(max <= 2, "saw {max} agents at once");
    assert_eq!(max, 2, "two ran side by side");
    no_containers_left(&env).await;
    host.stop().await;
}

#[tokio::test]
async fn cancel_stops_the_container_within_the_grace_period() {
    let env = Env::new().await;
    let host = RunningHost::docker(env.config(2)).await;
    let polite = env.queue_job("--hang").await;
    let stubborn = env.queue_job("--ignore-term --hang").await;
    // Running is not enough: the stubborn agent must have set SIGTERM aside first, which
    // it has once it says it hangs.
    for job in [polite, stubborn] {
        eventually("the agent hanging", secs(60), || async {
            let events = env.events(job).await;
            events
                .iter()
                .any(|e| e.step == "stdout" && e.summary.contains("hanging until SIGTERM"))
                .then_some(())
        })
        .await;
    }
    domain::jobs::cancel(&env.app, env.project.id, polite).await.unwrap();
    domain::jobs::cancel(&env.app, env.project.id, stubborn).await.unwrap();

    let job = wait_status(&env, polite, JobStatus::Cancelled, 30).await;
    assert_eq!(job.exit_code, Some(143), "stopped by SIGTERM");
    let job = wait_status(&env, stubborn, JobStatus::Cancelled, 30).await;
    assert_eq!(job.exit_code, Some(137), "killed after the grace period");
    no_containers_left(&env).await;
    host.stop().await;
}

#[tokio::test]
async fn draining_releases_running_jobs_back_to_the_queue() {
    let env = Env::new().await;
    let host = RunningHost::docker(env.config(1)).await;
    let job = env.queue_job("--hang").await;
    wait_status(&env, job, JobStatus::Running, 60).await;
    let label = env.label();
    eventually("agent running", secs(30), || async {
        (running_with_label(&label) == 1).then_some(())
    })
    .await;
    host.stop().await; // drain grace 2 s, then release
    let j = env.job(job).await;
    assert_eq!(j.status, JobStatus::Queued, "released, not failed");
    assert_eq!(j.attempt, 1);
    assert!(j.failure_reason.unwrap_or_default().contains("shut down"));
    assert!(containers_with_label(&label).is_empty(), "container removed on drain");
    // The API re-queued it: the next host can take it.
    eventually("job back in the queue", secs(10), || async {
        (env.messages_in_queue().await >= 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn malformed_messages_unknown_jobs_and_an_api_outage_lose_nothing() {
    let env = Env::without_api().await;
    env.send_raw("this is not json").await;
    env.send_raw(r#"{"job_id": "not-a-uuid"}"#).await;
    env.send_raw(&format!(r#"{{"job_id": "{}"}}"#, Uuid::new_v4())).await;
    let job = env.queue_job("--pr pr-1").await;
    let host = RunningHost::docker(env.config(1)).await;

    // The API is down: the host backs off and keeps the job's message.
    eventually("host notices the outage", secs(30), || async {
        (host.host.outages() >= 2).then_some(())
    })
    .await;
    assert!(host.is_alive());
    let j = env.job(job).await;
    assert_eq!((j.status, j.attempt), (JobStatus::Queued, 0));
    assert!(env.messages_in_queue().await >= 1, "the job's message is still there");

    // The API comes back: the job runs; the unknown job's message is dropped.
    let env = env.start_api().await;
    wait_status(&env, job, JobStatus::Succeeded, 60).await;
    eventually("every message settled", secs(30), || async {
        (env.messages_in_queue().await == 0).then_some(())
    })
    .await;
    assert!(host.is_alive());
    host.stop().await;
}

#[tokio::test]
async fn a_job_whose_message_went_to_the_dead_letter_queue_in_an_outage_runs_once_after_it() {
    let queue = terarchitect_testkit::TestQueue::with_dead_letters(2).await;
    let dlq = queue.dead_letter_url.clone().unwrap();
    let env = Env::without_api_on(queue).await;
    let job = env.queue_job("--pr pr-3").await;
    let host = RunningHost::docker(env.config(1)).await;

    // The API stays down for longer than two receives: the message is parked.
    eventually("the message reaches the dead-letter queue", secs(60), || async {
        (env.messages_in_queue().await == 0 && env.queue.count(&dlq).await == 1).then_some(())
    })
    .await;
    assert_eq!(env.job(job).await.status, JobStatus::Queued);

    // The API is back; the scheduler's pass redrives the dead letter.
    let env = env.start_api().await;
    let r = domain::jobs::repair(&env.app, domain::jobs::RepairTiming::default())
        .await
        .unwrap();
    assert_eq!(r.redriven, 1, "{r:?}");
    let done = wait_status(&env, job, JobStatus::Succeeded, 60).await;
    assert_eq!(done.attempt, 1, "ran once");
    assert_eq!(env.queue.count(&dlq).await, 0);
    eventually("every message settled", secs(30), || async {
        (env.messages_in_queue().await == 0).then_some(())
    })
    .await;
    // Nothing left to redrive, nothing to resend.
    let again = domain::jobs::repair(&env.app, domain::jobs::RepairTiming::default())
        .await
        .unwrap();
    assert_eq!((again.redriven, again.unclaimed), (0, 0));
    host.stop().await;
}

#[tokio::test]
async fn an_unreachable_docker_engine_leaves_the_job_queued() {
    let env = Env::new().await;
    let mut cfg = env.config(1);
    cfg.docker_host = Some("unix:///nonexistent/docker.sock".into());
    let host = RunningHost::docker(cfg).await;
    let job = env.queue_job("--pr pr-1").await;
    eventually("host notices the outage", secs(30), || async {
        (host.host.outages() >= 3).then_some(())
    })
    .await;
    assert!(host.is_alive());
    let j = env.job(job).await;
    assert_eq!((j.status, j.attempt), (JobStatus::Queued, 0), "never claimed");
    host.stop().await;
    // Nothing lost: a host with a working engine runs it.
    let host = RunningHost::docker(env.config(1)).await;
    wait_status(&env, job, JobStatus::Succeeded, 60).await;
    host.stop().await;
}

#[tokio::test]
async fn sigkilled_host_restarts_reattaches_or_reruns_each_job_once() {
    use terarchitect_testkit::process::ProcessGroup;
    let env = Env::new().await;
    let spawn = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_worker-host"));
        cmd.args(&env.args(2)[1..])
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null());
        ProcessGroup::spawn(cmd).expect("spawn worker-host")
    };
    // `kept` survives the host; `lost` loses its container with the host.
    let kept = env.queue_job("--sleep 6 --lines 2 --pr pr-1").await;
    let lost = env.queue_job("--sleep 6 --pr pr-2").await;
    let first = spawn();
    let label = env.label();
    let found = eventually("both agents running", secs(60), || async {
        let c = containers_with_label(&label);
        (c.iter().filter(|c| c.state == "running").count() == 2).then_some(c)
    })
    .await;
    first.signal(libc::SIGKILL);
    drop(first);
    let lost_label = format!("terarchitect.job-id={lost}");
    let lost_container = containers_with_label(&lost_label);
    assert_eq!(lost_container.len(), 1, "{found:?}");
    std::process::Command::new("docker")
        .args(["rm", "-f", &lost_container[0].id])
        .output()
        .unwrap();

    let second = spawn();
    let k = wait_status(&env, kept, JobStatus::Succeeded, 90).await;
    let l = wait_status(&env, lost, JobStatus::Succeeded, 90).await;
    assert_eq!(k.attempt, 1, "re-attached, not re-run");
    assert_eq!(l.attempt, 2, "re-run once");
    for job in [kept, lost] {
        let finishes = env.events(job).await.into_iter().filter(|e| e.step == "finish").count();
        assert_eq!(finishes, 1, "job {job} completed once");
    }
    // Output read again after re-attaching is not duplicated.
    let lines = env
        .events(kept)
        .await
        .into_iter()
        .filter(|e| e.summary.starts_with("line 1 of job"))
        .count();
    assert_eq!(lines, 1);
    no_containers_left(&env).await;
    second.signal(libc::SIGTERM);
    let mut second = second;
    let status = tokio::task::spawn_blocking(move || second.child().wait().map(|s| s.code()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, Some(0), "drained and exited cleanly");
    eventually("every message settled", secs(30), || async {
        (env.messages_in_queue().await == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn local_runtime_runs_the_agent_in_the_project_directory() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("test-agent");
    terarchitect_testkit::docker::build_static_binary(&agent_source(), &bin);
    let work = dir.path().join("repo");
    std::fs::create_dir(&work).unwrap();
    let project = env.local_project(&work.to_string_lossy()).await;
    let mut cfg = env.config(1);
    cfg.agent_api_url = None; // the process sees the API on loopback
    let queue =
        terarchitect_worker_host::queue::Queue::connect(&cfg.queue_url, cfg.aws_endpoint_url.as_deref(), "us-east-1")
            .await;
    let rt = terarchitect_worker_host::runtime::LocalRuntime::new(&bin.to_string_lossy(), cfg.agent_args());
    let host = Arc::new(terarchitect_worker_host::Host::new(cfg, rt, queue));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn({
        let h = host.clone();
        async move {
            h.run(async move {
                let _ = rx.await;
            })
            .await
        }
    });
    // A docker project's job first: a local host never runs it.
    let docker_job = env.queue_job("--pr pr-9").await;
    let ok = env.queue_job_in(project.id, "--lines 2 --pr pr-3").await;
    let hang = env.queue_job_in(project.id, "--hang").await;
    let job = wait_status(&env, ok, JobStatus::Succeeded, 60).await;
    assert!(
        job.pr_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://github.example/acme/local/pull/")),
        "{job:?}"
    );
    assert!(env.events(ok).await.iter().any(|e| e.summary.contains("line 2 of job")));
    wait_status(&env, hang, JobStatus::Running, 60).await;
    domain::jobs::cancel(&env.app, project.id, hang).await.unwrap();
    let job = wait_status(&env, hang, JobStatus::Cancelled, 30).await;
    assert_eq!(job.exit_code, Some(143));
    // Never claimed, and its message handed back to the queue for a docker host.
    let j = env.job(docker_job).await;
    assert_eq!((j.status, j.started_at, j.attempt), (JobStatus::Queued, None, 0));
    assert_eq!(env.messages_in_queue().await, 1);
    let _ = tx.send(());
    task.await.unwrap();
}

#[tokio::test]
async fn an_agent_that_cannot_start_does_not_use_up_the_jobs_attempts() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().unwrap();
    let project = env.local_project(&dir.path().to_string_lossy()).await;
    let mut cfg = env.config(1);
    cfg.agent_api_url = None;
    let queue =
        terarchitect_worker_host::queue::Queue::connect(&cfg.queue_url, cfg.aws_endpoint_url.as_deref(), "us-east-1")
            .await;
    let missing = dir.path().join("no-such-agent").to_string_lossy().into_owned();
    let rt = terarchitect_worker_host::runtime::LocalRuntime::new(&missing, cfg.agent_args());
    let host = Arc::new(terarchitect_worker_host::Host::new(cfg, rt, queue));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn({
        let h = host.clone();
        async move {
            h.run(async move {
                let _ = rx.await;
            })
            .await
        }
    });
    let job = env.queue_job_in(project.id, "--pr pr-4").await;
    // Every start fails and the host hands the job back saying so: those releases are free
    // up to the API's bound, then the three attempts are used and the job fails.
    let j = wait_status(&env, job, JobStatus::Failed, 180).await;
    assert_eq!(j.attempt, 3);
    assert!(j.failure_reason.unwrap_or_default().contains("no-such-agent"));
    let (free,): (i32,) = sqlx::query_as("SELECT free_releases FROM jobs WHERE id = $1")
        .bind(job)
        .fetch_one(&env.db.pool)
        .await
        .unwrap();
    assert_eq!(free, terarchitect_functions::store::jobs::MAX_FREE_RELEASES);
    let _ = tx.send(());
    task.await.unwrap();
}

#[tokio::test]
async fn a_duplicate_message_never_runs_a_job_twice() {
    let env = Env::new().await;
    let host = RunningHost::docker(env.config(2)).await;
    let job = env.queue_job("--sleep 2 --pr pr-9").await;
    // The outbox may send a job twice.
    env.send_raw(&format!(r#"{{"job_id": "{job}"}}"#)).await;
    let j = wait_status(&env, job, JobStatus::Succeeded, 60).await;
    assert_eq!(j.attempt, 1, "claimed once");
    let events = env.events(job).await;
    assert_eq!(events.iter().filter(|e| e.step == "start").count(), 1, "{events:#?}");
    assert_eq!(events.iter().filter(|e| e.step == "finish").count(), 1, "{events:#?}");
    eventually("both messages settled", secs(30), || async {
        (env.messages_in_queue().await == 0).then_some(())
    })
    .await;
    no_containers_left(&env).await;
    host.stop().await;
}
