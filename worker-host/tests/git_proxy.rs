//! The git proxy with real git against the real worker API and a GitHub stand-in serving
//! the repository over smart HTTP: the job token opens its own job's repository, the
//! GitHub token is added on the way (and only where it may go), and only the job's
//! `ticket-{id}` branch can be pushed.

mod common;

use std::process::{Command, Output};
use std::sync::Arc;

use common::*;
use terarchitect_functions::domain;
use terarchitect_protocol::{ExecutionMode, ProjectPatch, SettingsUpdate};
use terarchitect_testkit::git::{TempRepo, git};
use terarchitect_worker_host::api::WorkerApi;
use terarchitect_worker_host::git_proxy::GitProxy;

const GITHUB_TOKEN: &str = "ghp_proxy_only_secret_0123";

/// git without any credential helper or prompt: what it is given is all it has.
fn run_git(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new("git")
        .args([
            "-c",
            "credential.helper=",
            "-c",
            "user.name=A",
            "-c",
            "user.email=a@example.com",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("run git")
}

fn says(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn proxy(env: &Env, plain_http_hosts: &[&str]) -> String {
    let api = WorkerApi::new(&format!("http://127.0.0.1:{}", env.port), &env.worker_token);
    let proxy = GitProxy::new(api, plain_http_hosts.iter().map(|h| h.to_string()).collect());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(Arc::clone(&proxy).serve(listener));
    url
}

/// A job of the env's project on the stand-in's `acme/shop`, claimed by the env's host:
/// `(job id, ticket branch, job token)`.
async fn claimed_job(env: &Env) -> (terarchitect_protocol::JobId, String, String) {
    let job = env.queue_job("push through the proxy").await;
    let claim = domain::jobs::claim(&env.app, job, &env.host_id, ExecutionMode::Docker)
        .await
        .unwrap();
    (job, format!("ticket-{}", claim.job.ticket_id), claim.job_token)
}

// git runs blocking on the test's thread while the proxy and the API serve on others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_jobs_own_branch_is_pushed_with_a_token_the_agent_never_holds() {
    let env = Env::new().await;
    let repo = TempRepo::python_project();
    env.github.serve_repo("acme", "shop", &repo.remote);
    env.github.require_push_token(GITHUB_TOKEN);
    let patch = ProjectPatch {
        repo_url: Some(env.github.repo_url("acme", "shop")),
        ..Default::default()
    };
    domain::projects::update(&env.app, env.project.id, &patch)
        .await
        .unwrap();
    let token: SettingsUpdate = [("github_token".to_string(), Some(serde_json::json!(GITHUB_TOKEN)))].into();
    domain::settings::update(&env.app, Some(env.project.id), &token)
        .await
        .unwrap();
    let (job, branch, job_token) = claimed_job(&env).await;
    let base = proxy(&env, &["127.0.0.1"]).await;
    let dir = tempfile::tempdir().unwrap();
    let at = |password: &str| {
        format!(
            "{}/git/{job}.git",
            base.replacen("http://", &format!("http://agent:{password}@"), 1)
        )
    };

    // Without the job token, or with a wrong one: nothing.
    for url in [format!("{base}/git/{job}.git"), at("tj_wrong")] {
        let out = run_git(dir.path(), &["clone", &url, "nope"]);
        assert!(!out.status.success(), "{}", says(&out));
    }
    // With it: a clone, and a push of the ticket's branch, which the remote took with the
    // GitHub token the proxy added.
    let out = run_git(dir.path(), &["clone", &at(&job_token), "work"]);
    assert!(out.status.success(), "{}", says(&out));
    let work = dir.path().join("work");
    assert!(work.join("calc.py").exists());
    let main_before = git(&repo.remote, &["rev-parse", "main"]);
    run_git(&work, &["checkout", "-b", &branch]);
    std::fs::write(work.join("calc.py"), "def add(a, b):\n    return a + b\n").unwrap();
    assert!(run_git(&work, &["commit", "-qam", "Fix add()"]).status.success());
    let out = run_git(&work, &["push", "origin", &branch]);
    assert!(out.status.success(), "{}", says(&out));
    assert_eq!(
        git(&repo.remote, &["rev-parse", &branch]),
        git(&work, &["rev-parse", "HEAD"])
    );
    assert_eq!(env.github.refused_pushes(), 0, "the remote got the GitHub token");

    // Anything else is refused before the remote sees it: another branch, a tag, a delete.
    assert!(run_git(&work, &["tag", "v9"]).status.success());
    for spec in ["HEAD:main", "HEAD:refs/heads/other", "v9", &format!(":{branch}")] {
        let out = run_git(&work, &["push", "origin", spec]);
        assert!(!out.status.success(), "{spec} was pushed: {}", says(&out));
    }
    assert_eq!(git(&repo.remote, &["rev-parse", "main"]), main_before, "main untouched");
    let refs = git(&repo.remote, &["for-each-ref", "--format=%(refname)"]);
    assert!(
        !refs.contains("refs/tags/v9") && !refs.contains("refs/heads/other"),
        "{refs}"
    );
    assert!(refs.contains(&format!("refs/heads/{branch}")), "{refs}");
    let refused: Vec<String> = env
        .events(job)
        .await
        .into_iter()
        .filter(|e| e.step == "git_refused")
        .map(|e| e.summary)
        .collect();
    assert_eq!(refused.len(), 4, "{refused:?}");
    assert!(refused[0].contains("refs/heads/main may not be pushed"), "{refused:?}");
    assert!(refused[3].contains("may not be deleted"), "{refused:?}");

    // Nothing of the GitHub token is in what the agent side has.
    let config = std::fs::read_to_string(work.join(".git/config")).unwrap();
    assert!(!config.contains(GITHUB_TOKEN));

    // A proxy that may not send the token over plain http does not: the push is refused
    // by the remote instead.
    let strict = proxy(&env, &[]).await;
    let url = format!(
        "{}/git/{job}.git",
        strict.replacen("http://", &format!("http://agent:{job_token}@"), 1)
    );
    let out = run_git(&work, &["push", &url, &format!("HEAD:{branch}")]);
    assert!(!out.status.success(), "{}", says(&out));
    assert!(env.github.refused_pushes() >= 1);

    // Once the job is being cancelled its token opens nothing, at once (nothing is kept
    // in the proxy that served it a moment ago), and after the job is over neither.
    domain::jobs::cancel(&env.app, env.project.id, job).await.unwrap();
    let url = format!(
        "{}/git/{job}.git",
        base.replacen("http://", &format!("http://agent:{job_token}@"), 1)
    );
    let out = run_git(dir.path(), &["clone", &url, "cancelled"]);
    assert!(!out.status.success(), "{}", says(&out));
    let req = terarchitect_protocol::FinishRequest {
        host_id: None,
        outcome: terarchitect_protocol::Outcome::Cancelled,
        exit_code: Some(130),
        reason: None,
        agent_started: Some(true),
    };
    domain::jobs::finish(&env.app, job, &env.host_id, &req).await.unwrap();
    let out = run_git(dir.path(), &["clone", &url, "late"]);
    assert!(!out.status.success(), "{}", says(&out));
}
