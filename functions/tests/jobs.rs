//! The job flow through the API and the worker API, with the real SQS emulator.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};
use terarchitect_functions::domain::jobs;

async fn ticket_in_progress(t: &TestApp) -> (String, String, String) {
    let pid = t.project("jobs").await["id"].as_str().unwrap().to_string();
    let tid = t.ticket(&pid, "Add a cache").await["id"].as_str().unwrap().to_string();
    let mv = t.move_to(&pid, &tid, "in_progress").await.ok();
    let jid = mv["job"]["id"].as_str().unwrap().to_string();
    (pid, tid, jid)
}

/// A move or retry that would queue a run checks first what the run needs; when something
/// is missing it is a 409 `not_ready` naming it all, and nothing is written or queued.
#[tokio::test]
async fn a_run_that_could_not_start_is_refused_before_anything_is_queued() {
    let t = TestApp::new().await;
    let pid = t.project("p").await["id"].as_str().unwrap().to_string();
    let tid = t
        .post(
            &format!("/api/projects/{pid}/tickets"),
            json!({"title": "No components"}),
        )
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let backlog = t.column(&pid, "backlog").await;
    let in_progress = t.column(&pid, "in_progress").await;
    let move_in = || async {
        t.post(
            &format!("/api/projects/{pid}/tickets/{tid}/move"),
            json!({"column_id": in_progress}),
        )
        .await
    };
    let refused = |r: common::Resp, want: &[&str]| {
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert_eq!(r.code(), "not_ready");
        assert_eq!(r.body["error"]["missing"], json!(want), "{}", r.body);
        let message = r.body["error"]["message"].as_str().unwrap().to_string();
        assert_eq!(message, format!("Required settings missing: {}", want.join(", ")));
    };
    refused(
        move_in().await,
        &["director_llm_url", "director_llm_model", "github_token", "components"],
    );
    // Nothing moved, nothing queued.
    let ticket = t.get(&format!("/api/projects/{pid}/tickets/{tid}")).await.ok();
    assert_eq!(
        (ticket["column_id"].as_str(), &ticket["job"]),
        (Some(backlog.as_str()), &Value::Null)
    );
    assert!(t.queued_job_ids().await.is_empty());

    // Global values count; each worker mode adds its own needs.
    t.put(
        "/api/settings",
        json!({"director_llm_url": "https://llm.invalid/v1", "director_llm_model": "m", "worker_mode": "opencode"}),
    )
    .await
    .ok();
    t.patch(
        &format!("/api/projects/{pid}/tickets/{tid}"),
        json!({"whole_graph": true}),
    )
    .await
    .ok();
    refused(move_in().await, &["worker_llm_url", "worker_llm_model", "github_token"]);
    t.put(
        &format!("/api/projects/{pid}/settings"),
        json!({"worker_mode": "claude-code"}),
    )
    .await
    .ok();
    refused(move_in().await, &["anthropic_key", "github_token"]);
    t.put(
        &format!("/api/projects/{pid}/settings"),
        json!({"director_llm_key": "sk-d", "github_token": "ghp_x"}),
    )
    .await
    .ok();
    let jid = move_in().await.ok()["job"]["id"].as_str().unwrap().to_string();
    assert_eq!(t.queued_job_ids().await, [jid.as_str()]);

    // A retry checks too: the run failed, then the token was removed.
    claim(&t, &jid, "h").await.ok();
    t.worker_post(
        &format!("/worker/jobs/{jid}/finish"),
        json!({"outcome": "failed", "exit_code": 1}),
    )
    .await
    .ok();
    t.put(&format!("/api/projects/{pid}/settings"), json!({"github_token": null}))
        .await
        .ok();
    refused(
        t.post(&format!("/api/projects/{pid}/jobs/{jid}/retry"), json!({}))
            .await,
        &["github_token"],
    );
    let jobs = t.get(&format!("/api/projects/{pid}/tickets/{tid}/jobs")).await.ok();
    assert_eq!(jobs.as_array().unwrap().len(), 1, "no second job: {jobs}");
}

/// The scheduler's timing with no grace for unsent outbox rows.
fn no_outbox_grace() -> jobs::RepairTiming {
    jobs::RepairTiming {
        outbox_grace: Duration::ZERO,
        ..Default::default()
    }
}

async fn claim(t: &TestApp, jid: &str, host: &str) -> common::Resp {
    t.worker_post(
        &format!("/worker/jobs/{jid}/claim"),
        json!({"host_id": host, "execution_mode": "docker"}),
    )
    .await
}

/// Host `h` reports how job `jid` ended (`body`: the finish request).
async fn finish(t: &TestApp, jid: &str, body: Value) -> common::Resp {
    t.worker_post(&format!("/worker/jobs/{jid}/finish"), body).await
}

#[tokio::test]
async fn moving_to_in_progress_queues_exactly_one_job_even_when_retried() {
    let t = TestApp::new().await;
    let pid = t.project("p").await["id"].as_str().unwrap().to_string();
    let tid = t.ticket(&pid, "Add a cache").await["id"].as_str().unwrap().to_string();
    t.make_runnable(&pid).await;
    let col = t.column(&pid, "in_progress").await;
    let path = format!("/api/projects/{pid}/tickets/{tid}/move");
    // The same request three times with an idempotency key, then twice without.
    let mut replies = vec![];
    for _ in 0..3 {
        let r = TestApp::call(
            &t.api,
            axum::http::Method::POST,
            &path,
            Some(&t.user_token),
            Some(json!({"column_id": col})),
            &[("idempotency-key", "move-1")],
        )
        .await;
        replies.push(r.ok());
    }
    assert_eq!(replies[0], replies[2], "a replay returns the first response");
    let r = TestApp::call(
        &t.api,
        axum::http::Method::POST,
        &path,
        Some(&t.user_token),
        Some(json!({"column_id": col, "position": 0})),
        &[("idempotency-key", "move-1")],
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "same key, different body");
    for _ in 0..2 {
        t.post(&path, json!({"column_id": col})).await.ok();
    }
    let job = &replies[0]["job"];
    assert_eq!(job["status"], "queued");
    assert_eq!(job["kind"], "implement");
    assert_eq!(t.queued_job_ids().await, vec![job["id"].as_str().unwrap().to_string()]);
    let jobs = t.get(&format!("/api/projects/{pid}/tickets/{tid}/jobs")).await.ok();
    assert_eq!(jobs.as_array().unwrap().len(), 1);
    // the board shows the job on the card
    let board = t.board(&pid).await;
    assert_eq!(board["columns"][1]["tickets"][0]["job"]["status"], "queued");
}

#[tokio::test]
async fn unsent_outbox_rows_are_resent_by_the_scheduler() {
    let t = TestApp::new().await;
    let pid = t.project("p").await["id"].as_str().unwrap().to_string();
    let tid = t.ticket(&pid, "x").await["id"].as_str().unwrap().to_string();
    // Simulate the API dying between commit and send: create the job the same way,
    // but never send.
    let mut tx = t.db.pool.begin().await.unwrap();
    let job = terarchitect_functions::store::jobs::insert_queued(
        &mut tx,
        pid.parse().unwrap(),
        tid.parse().unwrap(),
        terarchitect_protocol::JobKind::Implement,
    )
    .await
    .unwrap();
    terarchitect_functions::store::jobs::insert_outbox(&mut tx, job.id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(t.queued_job_ids().await.is_empty());
    let r = jobs::repair(&t.app, no_outbox_grace()).await.unwrap();
    assert_eq!(r.resent, 1);
    assert_eq!(
        jobs::repair(&t.app, no_outbox_grace()).await.unwrap().resent,
        0,
        "sent rows are not sent again"
    );
    assert_eq!(t.queued_job_ids().await, vec![job.id.to_string()]);
}

/// Moves the job's last sends `minutes` into the past.
async fn sent_minutes_ago(t: &TestApp, jid: &str, minutes: i32) {
    sqlx::query("UPDATE outbox SET sent_at = now() - make_interval(mins => $2) WHERE job_id = $1::uuid")
        .bind(jid)
        .bind(minutes)
        .execute(&t.db.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_queued_job_whose_message_was_lost_is_sent_again_less_and_less_often() {
    let t = TestApp::new().await;
    let (_, _, jid) = ticket_in_progress(&t).await;
    // The message is lost (a host deleted it and died, the queue was purged...).
    t.queue
        .client
        .purge_queue()
        .queue_url(&t.queue.url)
        .send()
        .await
        .unwrap();
    let timing = jobs::RepairTiming::default(); // resend after 10 minutes
    assert_eq!(
        jobs::repair(&t.app, timing).await.unwrap().unclaimed,
        0,
        "sent just now"
    );

    sent_minutes_ago(&t, &jid, 11).await;
    assert_eq!(jobs::repair(&t.app, timing).await.unwrap().unclaimed, 1);
    assert_eq!(t.queued_job_ids().await, vec![jid.clone()]);

    // The second send waits twice as long.
    sent_minutes_ago(&t, &jid, 11).await;
    assert_eq!(jobs::repair(&t.app, timing).await.unwrap().unclaimed, 0);
    sent_minutes_ago(&t, &jid, 21).await;
    assert_eq!(jobs::repair(&t.app, timing).await.unwrap().unclaimed, 1);

    // A claimed job is not sent again, however old its messages.
    claim(&t, &jid, "h1").await.ok();
    sent_minutes_ago(&t, &jid, 600).await;
    assert_eq!(jobs::repair(&t.app, timing).await.unwrap().unclaimed, 0);
}

#[tokio::test]
async fn concurrent_claims_let_exactly_one_host_win() {
    let t = TestApp::new().await;
    let (_, _, jid) = ticket_in_progress(&t).await;
    let mut tokens = vec![];
    for i in 0..8 {
        tokens.push(t.token_of(&format!("host-{i}")).await);
    }
    let results = futures_join((0..8).map(|i| {
        let worker = t.worker.clone();
        let token = tokens[i].clone();
        let jid = jid.clone();
        async move {
            TestApp::call(
                &worker,
                axum::http::Method::POST,
                &format!("/worker/jobs/{jid}/claim"),
                Some(&token),
                Some(json!({"host_id": format!("host-{i}"), "execution_mode": "docker"})),
                &[],
            )
            .await
            .status
        }
    }))
    .await;
    assert_eq!(
        results.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{results:?}"
    );
    assert_eq!(results.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 7);
}

async fn futures_join<F: Future<Output = StatusCode> + Send + 'static>(fs: impl Iterator<Item = F>) -> Vec<StatusCode> {
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = vec![];
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn an_expired_lease_can_be_reclaimed_and_the_old_host_loses_it() {
    let t = TestApp::new().await;
    let (_, _, jid) = ticket_in_progress(&t).await;
    let first = claim(&t, &jid, "h1").await.ok();
    assert_eq!(first["job"]["attempt"], 1);
    sqlx::query("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1::uuid")
        .bind(&jid)
        .execute(&t.db.pool)
        .await
        .unwrap();
    let second = claim(&t, &jid, "h2").await.ok();
    assert_eq!(second["job"]["attempt"], 2);
    assert_ne!(first["job_token"], second["job_token"]);
    // h1 can no longer heartbeat or finish; its job token is dead
    assert_eq!(
        t.worker_post(&format!("/worker/jobs/{jid}/heartbeat"), json!({"host_id": "h1"}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    let r = t
        .worker_post(
            &format!("/worker/jobs/{jid}/finish"),
            json!({"host_id": "h1", "outcome": "failed", "exit_code": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        t.agent_get("/agent/context", first["job_token"].as_str().unwrap())
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.agent_get("/agent/context", second["job_token"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_dead_host_is_noticed_by_the_scheduler_and_the_job_requeued() {
    let t = TestApp::new().await;
    let (_, _, jid) = ticket_in_progress(&t).await;
    t.queued_job_ids().await; // take the first message off the visible queue
    claim(&t, &jid, "h1").await.ok();
    sqlx::query("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1::uuid")
        .bind(&jid)
        .execute(&t.db.pool)
        .await
        .unwrap();
    let r = jobs::repair(&t.app, no_outbox_grace()).await.unwrap();
    assert_eq!((r.requeued, r.resent), (1, 1));
    assert_eq!(t.queued_job_ids().await, vec![jid.clone()]);
    let again = claim(&t, &jid, "h2").await.ok();
    assert_eq!(again["job"]["attempt"], 2);
}

#[tokio::test]
async fn job_tokens_see_only_their_own_job() {
    let t = TestApp::new().await;
    let (pid, tid, jid) = ticket_in_progress(&t).await;
    let (pid2, _, jid2) = ticket_in_progress(&t).await;
    let a = claim(&t, &jid, "h").await.ok()["job_token"]
        .as_str()
        .unwrap()
        .to_string();
    let b = claim(&t, &jid2, "h").await.ok()["job_token"]
        .as_str()
        .unwrap()
        .to_string();
    let ctx = t.agent_get("/agent/context", &a).await.ok();
    assert_eq!(
        (
            ctx["job"]["id"].as_str(),
            ctx["project"]["id"].as_str(),
            ctx["ticket"]["id"].as_str()
        ),
        (Some(jid.as_str()), Some(pid.as_str()), Some(tid.as_str()))
    );
    let ctx2 = t.agent_get("/agent/context", &b).await.ok();
    assert_eq!(ctx2["project"]["id"].as_str(), Some(pid2.as_str()));
    // a job token is not a user or worker token
    let r = TestApp::call(&t.api, axum::http::Method::GET, "/api/projects", Some(&a), None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = TestApp::call(
        &t.worker,
        axum::http::Method::POST,
        &format!("/worker/jobs/{jid2}/claim"),
        Some(&a),
        Some(json!({"host_id": "x", "execution_mode": "docker"})),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // and dies with its job
    t.worker_post(
        &format!("/worker/jobs/{jid}/finish"),
        json!({"host_id": "h", "outcome": "failed", "exit_code": 3, "reason": "tests failed"}),
    )
    .await
    .ok();
    assert_eq!(t.agent_get("/agent/context", &a).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn worker_context_carries_graph_part_and_settings_but_no_llm_key() {
    let t = TestApp::new().await;
    let pid = t.project("ctx").await["id"].as_str().unwrap().to_string();
    let (a, b, c, e) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    t.put(&format!("/api/projects/{pid}/graph"), json!({"nodes": [{"id": a, "label": "A"}, {"id": b, "label": "B"}, {"id": c, "label": "C"}], "edges": [{"id": e, "source": a, "target": b, "protocol": "gRPC"}]})).await.ok();
    t.put(
        "/api/settings",
        json!({"director_llm_key": "sk-director", "worker_mode": "opencode", "github_review_token": "ghp_human_reviewer",
               "worker_llm_url": "https://llm.invalid/v1", "worker_llm_model": "w"}),
    )
    .await
    .ok();
    let tid = t
        .post(
            &format!("/api/projects/{pid}/tickets"),
            json!({"title": "x", "edge_ids": [e]}),
        )
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let jid = t.move_to(&pid, &tid, "in_progress").await.ok()["job"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = claim(&t, &jid, "h").await.ok()["job_token"]
        .as_str()
        .unwrap()
        .to_string();
    let ctx = t.agent_get("/agent/context", &token).await.ok();
    let labels: Vec<&str> = ctx["graph"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["A", "B"], "the edge brings its two ends, not C");
    assert_eq!(ctx["settings"]["director_llm_key"], Value::Null, "the gateway adds it");
    assert!(!ctx.to_string().contains("sk-director"));
    assert_eq!(ctx["settings"]["worker_mode"], "opencode");
    assert!(
        !ctx.to_string().contains("ghp_human_reviewer"),
        "the reviewers' token never reaches an agent"
    );
    assert_eq!(ctx["board"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn success_moves_the_ticket_to_in_review_with_its_pr_once() {
    let t = TestApp::new().await;
    let (pid, tid, jid) = ticket_in_progress(&t).await;
    let token = claim(&t, &jid, "h").await.ok()["job_token"]
        .as_str()
        .unwrap()
        .to_string();
    let batch = json!({"events": [
        {"event_id": uuid::Uuid::new_v4(), "phase": "plan", "step": "director", "summary": "planned", "input_tokens": 100, "output_tokens": 20},
        {"phase": "execute", "step": "worker", "summary": "edited 2 files", "raw_output": "diff --git ..."}]});
    assert_eq!(t.agent_post("/agent/events", &token, batch).await.ok()["appended"], 2);
    // A host cannot name the PR: that is the API's record of what it opened for the agent.
    let r = t
        .worker_post(
            &format!("/worker/jobs/{jid}/finish"),
            json!({"host_id": "h", "outcome": "succeeded", "exit_code": 0, "pr_url": "https://evil.example/1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    t.record_pr(&jid, 7).await;
    let done = t
        .worker_post(
            &format!("/worker/jobs/{jid}/finish"),
            json!({"host_id": "h", "outcome": "succeeded", "exit_code": 0}),
        )
        .await
        .ok();
    assert_eq!(done["status"], "succeeded");
    let again = t
        .worker_post(
            &format!("/worker/jobs/{jid}/finish"),
            json!({"host_id": "h", "outcome": "succeeded", "exit_code": 0}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "a job completes once");
    let ticket = t.get(&format!("/api/projects/{pid}/tickets/{tid}")).await.ok();
    assert_eq!(ticket["column_id"].as_str().unwrap(), t.column(&pid, "in_review").await);
    assert_eq!(
        (ticket["pr_url"].as_str(), ticket["pr_number"].as_i64()),
        (Some("https://github.example/acme/shop/pull/7"), Some(7))
    );
    assert_eq!(
        (ticket["input_tokens"].as_i64(), ticket["output_tokens"].as_i64()),
        (Some(0), Some(0)),
        "tokens an agent reports are not totals: only the gateway's metering counts"
    );
    let page = t
        .get(&format!("/api/projects/{pid}/jobs/{jid}/events?after=1"))
        .await
        .ok();
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
    assert_eq!(
        (page["next_after"].as_i64(), page["job_status"].as_str()),
        (Some(2), Some("succeeded"))
    );
    assert_eq!(
        t.get(&format!("/api/projects/{pid}/jobs/{jid}/events?after=x"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_success_without_the_pr_the_api_opened_is_a_failure() {
    let t = TestApp::new().await;
    let (pid, tid, jid) = ticket_in_progress(&t).await;
    claim(&t, &jid, "h").await.ok();
    let done = finish(
        &t,
        &jid,
        json!({"host_id": "h", "outcome": "succeeded", "exit_code": 0}),
    )
    .await
    .ok();
    assert_eq!(
        (done["status"].as_str(), done["failure_reason"].as_str()),
        (Some("failed"), Some(jobs::NO_PR))
    );
    let ticket = t.get(&format!("/api/projects/{pid}/tickets/{tid}")).await.ok();
    assert!(ticket["pr_url"].is_null());
    assert_ne!(ticket["column_id"].as_str().unwrap(), t.column(&pid, "in_review").await);

    // A PR an earlier attempt had opened is not the next attempt's: each run opens (or
    // updates) its own through the API before it may succeed.
    let tid2 = t.ticket(&pid, "Second").await["id"].as_str().unwrap().to_string();
    let jid2 = t.move_to(&pid, &tid2, "in_progress").await.ok()["job"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    claim(&t, &jid2, "h").await.ok();
    t.record_pr(&jid2, 3).await;
    let released = finish(
        &t,
        &jid2,
        json!({"host_id": "h", "outcome": "released", "reason": "host draining"}),
    )
    .await
    .ok();
    assert_eq!(released["status"], "queued");
    let again = claim(&t, &jid2, "h").await.ok();
    assert!(again["job"]["pr_url"].is_null(), "{again}");
    let done = finish(
        &t,
        &jid2,
        json!({"host_id": "h", "outcome": "succeeded", "exit_code": 0}),
    )
    .await
    .ok();
    assert_eq!(done["status"], "failed", "{done}");
}

#[tokio::test]
async fn cancelling_and_moving_out_stop_jobs_and_a_cancelled_run_never_succeeds() {
    let t = TestApp::new().await;
    // queued: moving out cancels at once
    let (pid, tid, jid) = ticket_in_progress(&t).await;
    let out = t.move_to(&pid, &tid, "backlog").await.ok();
    assert_eq!(out["cancel_requested"], true);
    assert_eq!(
        t.get(&format!("/api/projects/{pid}/jobs/{jid}")).await.ok()["status"],
        "cancelled"
    );
    assert_eq!(claim(&t, &jid, "h").await.status, StatusCode::CONFLICT);
    // running: the host learns it from the heartbeat; a "success" after that is a cancel
    let mv = t.move_to(&pid, &tid, "in_progress").await.ok();
    let jid2 = mv["job"]["id"].as_str().unwrap().to_string();
    assert_ne!(jid2, jid);
    claim(&t, &jid2, "h").await.ok();
    let c = t
        .post(&format!("/api/projects/{pid}/jobs/{jid2}/cancel"), json!({}))
        .await
        .ok();
    assert_eq!(
        (c["status"].as_str(), c["cancel_requested"].as_bool()),
        (Some("running"), Some(true))
    );
    let hb = t
        .worker_post(&format!("/worker/jobs/{jid2}/heartbeat"), json!({"host_id": "h"}))
        .await
        .ok();
    assert_eq!(hb["cancel_requested"], true);
    let f = t
        .worker_post(
            &format!("/worker/jobs/{jid2}/finish"),
            json!({"host_id": "h", "outcome": "succeeded"}),
        )
        .await
        .ok();
    assert_eq!(f["status"], "cancelled");
    let ticket: Value = t.get(&format!("/api/projects/{pid}/tickets/{tid}")).await.ok();
    assert!(ticket["pr_url"].is_null());
    // retry queues a fresh job
    let retried = t
        .post(&format!("/api/projects/{pid}/jobs/{jid2}/retry"), json!({}))
        .await
        .ok();
    assert_eq!(retried["status"], "queued");
    assert_eq!(
        t.post(
            &format!("/api/projects/{pid}/jobs/{}/retry", retried["id"].as_str().unwrap()),
            json!({})
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
}

#[tokio::test]
async fn released_jobs_go_back_to_the_queue_until_attempts_run_out() {
    let t = TestApp::new().await;
    let (pid, _, jid) = ticket_in_progress(&t).await;
    t.queued_job_ids().await;
    for attempt in 1..=3 {
        let c = claim(&t, &jid, "h").await.ok();
        assert_eq!(c["job"]["attempt"], attempt);
        // The agent ran (its first call), so each release counts.
        t.agent_get("/agent/context", c["job_token"].as_str().unwrap())
            .await
            .ok();
        let f = t
            .worker_post(
                &format!("/worker/jobs/{jid}/finish"),
                json!({"host_id": "h", "outcome": "released", "reason": "docker unavailable"}),
            )
            .await
            .ok();
        let expected = if attempt < 3 { "queued" } else { "failed" };
        assert_eq!(f["status"], expected, "attempt {attempt}");
    }
    assert_eq!(
        t.get(&format!("/api/projects/{pid}/jobs/{jid}")).await.ok()["failure_reason"],
        "docker unavailable"
    );
}

#[tokio::test]
async fn a_released_job_that_was_asked_to_stop_ends_cancelled() {
    let t = TestApp::new().await;
    let (pid, _, jid) = ticket_in_progress(&t).await;
    claim(&t, &jid, "h").await.ok();
    t.post(&format!("/api/projects/{pid}/jobs/{jid}/cancel"), json!({}))
        .await
        .ok();
    let f = t
        .worker_post(
            &format!("/worker/jobs/{jid}/finish"),
            json!({"host_id": "h", "outcome": "released", "reason": "host draining"}),
        )
        .await
        .ok();
    assert_eq!(f["status"], "cancelled");
}

#[tokio::test]
async fn a_release_before_the_agent_started_costs_no_attempt() {
    let t = TestApp::new().await;
    let (pid, _, jid) = ticket_in_progress(&t).await;
    let release = |reason: &'static str, started: Option<bool>| {
        let (t, jid) = (&t, jid.clone());
        async move {
            let mut body = json!({"host_id": "h", "outcome": "released", "reason": reason});
            if let Some(s) = started {
                body["agent_started"] = json!(s);
            }
            t.worker_post(&format!("/worker/jobs/{jid}/finish"), body).await.ok()
        }
    };
    // More releases than attempts, each before the host started the agent: still queued.
    for _ in 0..5 {
        let c = claim(&t, &jid, "h").await.ok();
        assert_eq!(c["job"]["attempt"], 1);
        let f = release("could not start the agent: engine unavailable", Some(false)).await;
        assert_eq!((f["status"].as_str(), f["attempt"].as_i64()), (Some("queued"), Some(0)));
    }
    // After the agent started (or when the host does not say), a release counts.
    claim(&t, &jid, "h").await.ok();
    let f = release("host draining", Some(true)).await;
    assert_eq!((f["status"].as_str(), f["attempt"].as_i64()), (Some("queued"), Some(1)));
    claim(&t, &jid, "h").await.ok();
    let f = release("host draining", None).await;
    assert_eq!((f["status"].as_str(), f["attempt"].as_i64()), (Some("queued"), Some(2)));
    // Free releases are bounded: a host that can never start agents does not bounce a job
    // forever.
    for _ in 5..20 {
        claim(&t, &jid, "h").await.ok();
        release("engine unavailable", Some(false)).await;
    }
    claim(&t, &jid, "h").await.ok();
    let f = release("engine unavailable", Some(false)).await;
    assert_eq!((f["status"].as_str(), f["attempt"].as_i64()), (Some("failed"), Some(3)));
    assert_eq!(
        t.get(&format!("/api/projects/{pid}/jobs/{jid}")).await.ok()["failure_reason"],
        "engine unavailable"
    );
}

#[tokio::test]
async fn worker_conflicts_say_whether_the_lease_was_lost_or_the_job_finished_or_cancelled() {
    let t = TestApp::new().await;
    let code = |r: common::Resp| (r.status, r.code().to_string());
    let lost = (StatusCode::CONFLICT, "lease_lost".to_string());
    let finished = (StatusCode::CONFLICT, "job_finished".to_string());
    let cancelled = (StatusCode::CONFLICT, "job_cancelled".to_string());
    let heartbeat = |jid: &str, host: &'static str| {
        let (t, jid) = (&t, jid.to_string());
        async move {
            t.worker_post(&format!("/worker/jobs/{jid}/heartbeat"), json!({"host_id": host}))
                .await
        }
    };
    let finish = |jid: &str, host: &'static str, outcome: &'static str| {
        let (t, jid) = (&t, jid.to_string());
        async move {
            t.worker_post(
                &format!("/worker/jobs/{jid}/finish"),
                json!({"host_id": host, "outcome": outcome, "exit_code": 1}),
            )
            .await
        }
    };

    // Held by h1: h2 can neither claim, heartbeat nor finish it.
    let (pid, tid, jid) = ticket_in_progress(&t).await;
    claim(&t, &jid, "h1").await.ok();
    let r = claim(&t, &jid, "h2").await;
    let message = r.body["error"]["message"].as_str().unwrap();
    // One host learns nothing about another.
    assert!(
        message.contains("another host holds its lease") && !message.contains("h1"),
        "{}",
        r.body
    );
    assert_eq!(code(r), lost);
    assert_eq!(code(heartbeat(&jid, "h2").await), lost);
    assert_eq!(code(finish(&jid, "h2", "failed").await), lost);
    // Released: h1's lease is gone too.
    finish(&jid, "h1", "released").await.ok();
    assert_eq!(code(heartbeat(&jid, "h1").await), lost);

    // Finished.
    claim(&t, &jid, "h1").await.ok();
    finish(&jid, "h1", "failed").await.ok();
    assert_eq!(code(claim(&t, &jid, "h1").await), finished);
    assert_eq!(code(heartbeat(&jid, "h1").await), finished);
    assert_eq!(code(finish(&jid, "h1", "failed").await), finished);

    // Cancelled while queued; and being stopped while running (claim refused, heartbeat fine).
    let jid2 = t
        .post(&format!("/api/projects/{pid}/jobs/{jid}/retry"), json!({}))
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    t.post(&format!("/api/projects/{pid}/jobs/{jid2}/cancel"), json!({}))
        .await
        .ok();
    assert_eq!(code(claim(&t, &jid2, "h1").await), cancelled);
    assert_eq!(code(heartbeat(&jid2, "h1").await), cancelled);
    assert_eq!(code(finish(&jid2, "h1", "cancelled").await), cancelled);
    let jid3 = t.move_to(&pid, &tid, "in_progress").await.ok()["job"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    claim(&t, &jid3, "h1").await.ok();
    t.post(&format!("/api/projects/{pid}/jobs/{jid3}/cancel"), json!({}))
        .await
        .ok();
    sqlx::query("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1::uuid")
        .bind(&jid3)
        .execute(&t.db.pool)
        .await
        .unwrap();
    assert_eq!(code(claim(&t, &jid3, "h2").await), cancelled);
}

#[tokio::test]
async fn a_full_events_page_read_again_shows_the_jobs_figures_as_they_are_now() {
    let t = TestApp::new().await;
    let (pid, _, jid) = ticket_in_progress(&t).await;
    let token = t.claimed(&jid).await;
    let event = |n: usize| json!({"event_id": uuid::Uuid::new_v4(), "phase": "execute", "step": "worker", "summary": format!("e{n}")});
    let batch = json!({"events": (0..3).map(event).collect::<Vec<_>>()});
    t.agent_post("/agent/events", &token, batch).await.ok();
    let page = |q: &str| {
        let path = format!("/api/projects/{pid}/jobs/{jid}/events?{q}");
        let t = &t;
        async move { t.get(&path).await }
    };
    // A full page (kept), and the page after it, short (read afresh each time).
    let full = page("limit=2").await.ok();
    assert_eq!(
        (full["next_after"].as_i64(), full["job_status"].as_str()),
        (Some(2), Some("running"))
    );
    let short = page("after=2&limit=2").await.ok();
    assert_eq!(short["events"].as_array().unwrap().len(), 1);
    // More events and a finished job: the kept page keeps its events and shows the job now.
    let batch = json!({"events": [event(3)]});
    t.agent_post("/agent/events", &token, batch).await.ok();
    let body = json!({"host_id": "h", "outcome": "failed", "exit_code": 1});
    finish(&t, &jid, body).await.ok();
    let again = page("limit=2").await.ok();
    assert_eq!(again["events"], full["events"]);
    assert_eq!(
        (again["next_after"].as_i64(), again["job_status"].as_str()),
        (Some(2), Some("failed"))
    );
    let grown = page("after=2&limit=2").await.ok();
    let summaries: Vec<&str> = grown["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries, ["e2", "e3"], "a short page is never served stale");
}
