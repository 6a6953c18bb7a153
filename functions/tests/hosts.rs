//! Per-host worker credentials: a worker token acts as the one host it was minted for,
//! revoking it stops only that host, and a host claims only jobs its runtime can run.

mod common;

use axum::http::StatusCode;
use common::{TestApp, admin};
use serde_json::{Value, json};
use terarchitect_functions::domain::{crypto, hosts};
use terarchitect_functions::store;
use terarchitect_protocol::TokenKind;

/// A project (`docker` unless `local_path` is given) with one ticket moved to In Progress;
/// returns the queued job's id.
async fn queued_job(t: &TestApp, local_path: Option<&str>) -> String {
    let mut body = json!({"name": "hosts", "repo_url": "https://example.com/acme/shop.git"});
    if let Some(p) = local_path {
        body["execution_mode"] = json!("local");
        body["local_path"] = json!(p);
    }
    let pid = t.post("/api/projects", body).await.ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let tid = t.ticket(&pid, "Add a cache").await["id"].as_str().unwrap().to_string();
    t.move_to(&pid, &tid, "in_progress").await.ok()["job"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn claim_body(mode: &str) -> Value {
    json!({"execution_mode": mode})
}

async fn job(t: &TestApp, jid: &str) -> (String, Option<String>, i32) {
    sqlx::query_as("SELECT status, lease_owner, attempt FROM jobs WHERE id = $1::uuid")
        .bind(jid)
        .fetch_one(&t.db.pool)
        .await
        .unwrap()
}

fn event(summary: &str) -> Value {
    json!({"events": [{"phase": "host", "step": "note", "summary": summary}]})
}

#[tokio::test]
async fn a_host_cannot_heartbeat_finish_or_log_into_another_hosts_job() {
    let t = TestApp::new().await;
    let jid = queued_job(&t, None).await;
    let (a, b) = (t.token_of("host-a").await, t.token_of("host-b").await);
    let path = |what: &str| format!("/worker/jobs/{jid}/{what}");
    // The lease owner is the token's host, not anything in the body.
    let c = t.worker_post_with(&a, &path("claim"), claim_body("docker")).await.ok();
    assert_eq!(c["job"]["lease_owner"], "host-a");

    // Host B with its own token: every call is refused, and no answer names host A.
    for (what, body) in [
        ("heartbeat", json!({})),
        ("finish", json!({"outcome": "failed", "exit_code": 1})),
        ("events", event("forged by b")),
        ("claim", claim_body("docker")),
    ] {
        let r = t.worker_post_with(&b, &path(what), body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "lease_lost"),
            "{what}: {}",
            r.body
        );
        assert!(!r.body.to_string().contains("host-a"), "{what}: {}", r.body);
    }
    // ... nor when its body claims to be host A.
    for (what, body) in [
        ("heartbeat", json!({"host_id": "host-a"})),
        (
            "finish",
            json!({"host_id": "host-a", "outcome": "failed", "exit_code": 1}),
        ),
        ("claim", json!({"host_id": "host-a", "execution_mode": "docker"})),
    ] {
        let r = t.worker_post_with(&b, &path(what), body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {}", r.body);
    }
    assert_eq!(job(&t, &jid).await, ("running".into(), Some("host-a".into()), 1));
    let log = t
        .get(&format!(
            "/api/projects/{}/jobs/{jid}/events",
            c["job"]["project_id"].as_str().unwrap()
        ))
        .await
        .ok();
    assert!(!log.to_string().contains("forged by b"), "{log}");

    // Host A goes on: log, heartbeat (body host id optional, and its own when given), finish.
    t.worker_post_with(&a, &path("events"), event("from a")).await.ok();
    t.worker_post_with(&a, &path("heartbeat"), json!({})).await.ok();
    t.worker_post_with(&a, &path("heartbeat"), json!({"host_id": "host-a"}))
        .await
        .ok();
    let done = t
        .worker_post_with(&a, &path("finish"), json!({"outcome": "failed", "exit_code": 1}))
        .await
        .ok();
    assert_eq!(done["status"], "failed");
    // A finished job's log is closed to hosts, its own included.
    let r = t.worker_post_with(&a, &path("events"), event("late")).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "job_finished"));
}

#[tokio::test]
async fn a_revoked_host_token_gets_401_while_other_hosts_go_on() {
    let t = TestApp::new().await;
    // Minted as operators do; a worker token without a host is refused at minting.
    let (ok, out, _) = admin(&t, &["mint-token", "--name", "a", "--kind", "worker"]);
    assert!(!ok && out.contains("--host"), "{out}");
    let mint = |host: &str| {
        let (ok, out, token) = admin(&t, &["mint-token", "--name", host, "--kind", "worker", "--host", host]);
        assert!(ok, "{out}");
        token.trim().to_string()
    };
    let (a, b) = (mint("host-a"), mint("host-b"));
    let (ja, jb) = (queued_job(&t, None).await, queued_job(&t, None).await);
    t.worker_post_with(&a, &format!("/worker/jobs/{ja}/claim"), claim_body("docker"))
        .await
        .ok();
    t.worker_post_with(&b, &format!("/worker/jobs/{jb}/claim"), claim_body("docker"))
        .await
        .ok();

    let (ok, out, _) = admin(&t, &["revoke-token", "--host", "host-a"]);
    assert!(ok && out.contains("revoked 1 token"), "{out}");
    for (what, body) in [("heartbeat", json!({})), ("events", event("x"))] {
        let r = t.worker_post_with(&a, &format!("/worker/jobs/{ja}/{what}"), body).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.body);
    }
    t.worker_post_with(&b, &format!("/worker/jobs/{jb}/heartbeat"), json!({}))
        .await
        .ok();
    t.record_pr(&jb, 1).await;
    let done = t
        .worker_post_with(
            &b,
            &format!("/worker/jobs/{jb}/finish"),
            json!({"outcome": "succeeded", "exit_code": 0}),
        )
        .await
        .ok();
    assert_eq!(done["status"], "succeeded");
    // Nothing left to revoke says so.
    let (ok, out, _) = admin(&t, &["revoke-token", "--host", "host-a"]);
    assert!(!ok && out.contains("no live token"), "{out}");
}

#[tokio::test]
async fn a_worker_token_without_a_host_acts_for_no_host() {
    let t = TestApp::new().await;
    let jid = queued_job(&t, None).await;
    // As tokens minted before host binding are: no host.
    let token = crypto::new_token("tw_");
    store::tokens::insert(
        &t.db.pool,
        "fleet",
        TokenKind::Worker,
        None,
        &crypto::hash_token(&token),
    )
    .await
    .unwrap();
    for (what, body) in [
        ("claim", json!({"host_id": "h", "execution_mode": "docker"})),
        ("heartbeat", json!({"host_id": "h"})),
        ("events", event("x")),
    ] {
        let r = t
            .worker_post_with(&token, &format!("/worker/jobs/{jid}/{what}"), body)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {}", r.body);
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains("--host"),
            "{}",
            r.body
        );
    }
    assert_eq!(job(&t, &jid).await, ("queued".into(), None, 0));
    // A user token cannot be bound to a host.
    let err = store::tokens::insert(&t.db.pool, "u", TokenKind::User, Some("h"), b"user-hash").await;
    assert!(err.is_err());
}

#[tokio::test]
async fn a_host_claims_only_jobs_whose_project_runs_its_way() {
    let t = TestApp::new().await;
    let docker_job = queued_job(&t, None).await;
    let local_job = queued_job(&t, Some("/srv/shop")).await;
    let claim = |jid: &str, mode: &str| {
        let (t, path) = (&t, format!("/worker/jobs/{jid}/claim"));
        let body = claim_body(mode);
        async move { t.worker_post(&path, body).await }
    };

    for (jid, wrong, right) in [(&docker_job, "local", "docker"), (&local_job, "docker", "local")] {
        let r = claim(jid, wrong).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "wrong_execution_mode"),
            "{}",
            r.body
        );
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("{right} mode")) && message.contains("stays queued"),
            "{message}"
        );
        // Untouched: still queued, no attempt used, for a host that matches.
        assert_eq!(job(&t, jid).await, ("queued".into(), None, 0));
        let c = claim(jid, right).await.ok();
        assert_eq!(c["job"]["status"], "running");
        assert_eq!(c["project"]["execution_mode"], right);
    }
    // A claim must say how the host runs agents.
    let third = queued_job(&t, None).await;
    let r = t
        .worker_post(&format!("/worker/jobs/{third}/claim"), json!({"host_id": "h"}))
        .await;
    assert!(
        r.status.is_client_error() && r.status != StatusCode::CONFLICT,
        "{}",
        r.body
    );
    assert_eq!(job(&t, &third).await, ("queued".into(), None, 0));
}

/// What AWS does with a worker instance (infra/template.yaml: the group's launch and
/// terminate events run `register-host` and `retire-host`), against moto's Secrets Manager.
#[tokio::test]
async fn an_instance_gets_a_token_of_its_own_at_launch_and_loses_it_at_termination() {
    let t = TestApp::new().await;
    let aws = terarchitect_testkit::stack::emulator_config(&t.queue.endpoint).await;
    let sm = aws_sdk_secretsmanager::Client::new(&aws);
    let prefix = format!("stack-{}/worker-host/", uuid::Uuid::new_v4().simple());
    let (host, arn) = ("i-0abc", "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc");
    let secret = format!("{prefix}{host}");
    let register = [
        "register-host",
        "--host",
        host,
        "--secret-prefix",
        &prefix,
        "--host-arn",
        arn,
    ];
    let token_in_secret = || async {
        sm.get_secret_value()
            .secret_id(&secret)
            .send()
            .await
            .unwrap()
            .secret_string
            .unwrap()
    };

    let (ok, out, _) = admin(&t, &register);
    assert!(ok, "{out}");
    // Only the instance with this ARN may read it (the worker role's condition).
    let described = sm.describe_secret().secret_id(&secret).send().await.unwrap();
    let tags: Vec<_> = described.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [(Some(hosts::HOST_ARN_TAG), Some(arn))]);
    let first = token_in_secret().await;
    let jid = queued_job(&t, None).await;
    let path = format!("/worker/jobs/{jid}/claim");
    let c = t.worker_post_with(&first, &path, claim_body("docker")).await.ok();
    assert_eq!(c["job"]["lease_owner"], host);

    // The launch event delivered twice: the secret holds the newer token, which works.
    let (ok, out, _) = admin(&t, &register);
    assert!(ok, "{out}");
    let second = token_in_secret().await;
    assert_ne!(first, second);
    let beat = format!("/worker/jobs/{jid}/heartbeat");
    t.worker_post_with(&second, &beat, json!({})).await.ok();

    // Terminated: every token of the host dies and its secret goes.
    let (ok, out, _) = admin(&t, &["retire-host", "--host", host, "--secret-prefix", &prefix]);
    assert!(ok && out.contains("2 token(s) revoked"), "{out}");
    for token in [&first, &second] {
        assert_eq!(
            t.worker_post_with(token, &beat, json!({})).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert!(sm.describe_secret().secret_id(&secret).send().await.is_err());
    // Retiring again has nothing left to do, and says so without failing.
    let (ok, out, _) = admin(&t, &["retire-host", "--host", host, "--secret-prefix", &prefix]);
    assert!(ok && out.contains("0 token(s) revoked"), "{out}");
}

#[tokio::test]
async fn the_agents_router_serves_no_worker_host_route() {
    use axum::http::Method;
    let t = TestApp::new().await;
    let jid = queued_job(&t, None).await;
    let agents = terarchitect_functions::http::agent_router(t.app.clone());
    // A worker token on the agents' router: the host routes are not there at all.
    let claim = format!("/worker/jobs/{jid}/claim");
    let r = TestApp::call(
        &agents,
        Method::POST,
        &claim,
        Some(&t.worker_token),
        Some(claim_body("docker")),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = TestApp::call(&agents, Method::GET, "/worker/health", Some(&t.worker_token), None, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The job's agent reaches its own routes there.
    let token = t.worker_post(&claim, claim_body("docker")).await.ok()["job_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = TestApp::call(&agents, Method::GET, "/agent/context", Some(&token), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}
