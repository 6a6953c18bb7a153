//! The whole chain, driven from a headless browser and then only observed: a ticket
//! dragged to In Progress ends as a pull request on a branch whose tests pass, with the
//! card in In Review; a review comment brings the agent back for a follow-up commit. A
//! second run kills the worker host mid-job and restarts it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use terarchitect_system_tests::*;
use terarchitect_testkit::eventually;
use terarchitect_testkit::llm::Reply;
use terarchitect_web_e2e::{Browser, Locator};

const RUN: Duration = Duration::from_secs(240);

/// Everything a user does: sign in, create the project, draw one component, write a
/// ticket attached to it and drag it to In Progress. Returns (project id, ticket id) and
/// the instant of the drop.
async fn user_files_a_ticket(sys: &System, b: &Browser) -> (String, String, Instant) {
    b.client.goto(&sys.ui).await.unwrap();
    b.type_into("#token", &sys.user_token).await.unwrap();
    b.click("#sign-in").await.unwrap();
    b.click("#new-project").await.unwrap();
    b.type_into(".project-form input[name=name]", "Calculator")
        .await
        .unwrap();
    b.type_into(".project-form input[name=repo_url]", &sys.repo_url)
        .await
        .unwrap();
    b.click(".project-form button[type=submit]").await.unwrap();
    b.wait_js(
        "the project card",
        "return [...document.querySelectorAll('.project-card h2 a')].some(a => a.textContent === 'Calculator')",
    )
    .await
    .unwrap();
    let pid = sys.api("GET", "/api/projects", None).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    b.click(".project-card h2 a").await.unwrap();
    b.click(&format!(".tabs a[href=\"/projects/{pid}/graph\"]"))
        .await
        .unwrap();
    b.wait_for("svg.graph-canvas").await.unwrap();
    b.click("#add-node:not([disabled])").await.unwrap();
    b.type_into(".item-editor input[name=label]", "calc module")
        .await
        .unwrap();
    b.type_into(".item-editor input[name=technology]", "Python")
        .await
        .unwrap();
    b.click("#save-item").await.unwrap();
    b.wait_for(".node[data-label=\"calc module\"]").await.unwrap();
    eventually("the node saved", Duration::from_secs(20), || async {
        let g = sys.api("GET", &format!("/api/projects/{pid}/graph"), None).await;
        (g["nodes"].as_array()?.len() == 1).then_some(())
    })
    .await;
    b.screenshot("system-01-graph.png").await.unwrap();

    b.click(&format!(".tabs a[href=\"/projects/{pid}\"]")).await.unwrap();
    b.click("#new-ticket").await.unwrap();
    b.type_into(".new-ticket input[name=title]", "Fix add()").await.unwrap();
    b.type_into(
        ".new-ticket textarea[name=description]",
        "add(2, 3) returns -1; it must return the sum. `make test` must pass.",
    )
    .await
    .unwrap();
    b.click(".new-ticket input[name=node]").await.unwrap();
    b.click(".new-ticket button[type=submit]").await.unwrap();
    let tid = eventually("the new ticket", Duration::from_secs(20), || async {
        let board = sys.api("GET", &format!("/api/projects/{pid}/board"), None).await;
        board["columns"][0]["tickets"]
            .as_array()?
            .iter()
            .find(|t| t["title"] == "Fix add()" && t["node_ids"].as_array().is_some_and(|n| n.len() == 1))
            .and_then(|t| t["id"].as_str().map(str::to_owned))
    })
    .await;
    let card = format!("[data-ticket-id=\"{tid}\"]");
    b.wait_for(&card).await.unwrap();
    b.drag_card(&card, "in_progress").await.unwrap();
    let dropped = Instant::now();
    (pid, tid, dropped)
}

async fn ticket(sys: &System, pid: &str, tid: &str) -> Value {
    sys.api("GET", &format!("/api/projects/{pid}/tickets/{tid}"), None)
        .await
}

async fn jobs(sys: &System, pid: &str, tid: &str) -> Vec<Value> {
    sys.api("GET", &format!("/api/projects/{pid}/tickets/{tid}/jobs"), None)
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits for the ticket's first job's container; returns (job id, time from the drop).
async fn container_started(sys: &System, pid: &str, tid: &str, dropped: Instant) -> (String, Duration) {
    let job = eventually("the job to be queued", Duration::from_secs(30), || async {
        ticket(sys, pid, tid).await["job"]["id"].as_str().map(str::to_owned)
    })
    .await;
    eventually("the agent container", RUN, || async {
        (!sys.containers(&job).is_empty()).then_some(())
    })
    .await;
    (job, dropped.elapsed())
}

async fn in_review_with_pr(sys: &System, b: &Browser, pid: &str, tid: &str) -> Value {
    let card = format!(".column[data-role=in_review] [data-ticket-id=\"{tid}\"]");
    b.client.goto(&format!("{}/projects/{pid}", sys.ui)).await.unwrap();
    eventually("the card in In Review with its PR link", RUN, || async {
        b.client.find(Locator::Css(&format!("{card} .pr-link"))).await.ok()
    })
    .await;
    ticket(sys, pid, tid).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dragged_ticket_becomes_a_reviewed_pull_request() {
    let (director, worker) = implement_script();
    let mut sys = System::start(director, worker).await;
    let b = Browser::start().await.unwrap();

    let (pid, tid, dropped) = user_files_a_ticket(&sys, &b).await;
    // The move queued exactly one job, on the board at once.
    b.wait_for(&format!(
        ".column[data-role=in_progress] [data-ticket-id=\"{tid}\"] [data-job-status]"
    ))
    .await
    .unwrap();
    b.screenshot("system-02-queued.png").await.unwrap();
    let (job, to_container) = container_started(&sys, &pid, &tid, dropped).await;

    // The ticket view follows the log as it streams.
    b.client
        .goto(&format!("{}/projects/{pid}/tickets/{tid}", sys.ui))
        .await
        .unwrap();
    b.wait_js(
        "log events streaming in",
        "return document.querySelectorAll('.log .event').length >= 3",
    )
    .await
    .unwrap();
    b.screenshot("system-03-live-log.png").await.unwrap();
    eventually("the pull request", RUN, || async {
        (!sys.github.pulls().is_empty()).then_some(())
    })
    .await;
    let to_pr = dropped.elapsed();
    b.wait_for("#log-status[data-job-status=succeeded]").await.ok();
    let log_calls = b
        .js(
            "return performance.getEntriesByType('resource').filter(e => e.name.includes('/events')).length",
            vec![],
        )
        .await
        .unwrap();

    let t = in_review_with_pr(&sys, &b, &pid, &tid).await;
    b.screenshot("system-04-in-review.png").await.unwrap();
    let branch = format!("ticket-{tid}");
    let pulls = sys.github.pulls();
    assert_eq!(pulls.len(), 1, "one PR");
    assert_eq!(
        (pulls[0].head.as_str(), pulls[0].base.as_str()),
        (branch.as_str(), "main")
    );
    assert_eq!(t["pr_number"], json!(pulls[0].number));
    assert!(
        t["pr_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/pull/{}", pulls[0].number))
    );
    // A real change on the branch, whose tests pass; main untouched.
    assert!(
        sys.remote_git(&["show", &format!("{branch}:calc.py")])
            .contains("return a + b")
    );
    assert!(sys.remote_git(&["show", "main:calc.py"]).contains("return a - b"));
    assert!(sys.tests_pass_on(&branch), "make test passes on {branch}");
    let first_head = sys.remote_git(&["rev-parse", &branch]);
    // The Worker's probe found no secret anywhere in the container and could push
    // neither main nor a tag (it holds no credential; only the agent's own push went
    // through the host's git proxy, which adds the GitHub token).
    let probe = sys
        .worker
        .requests()
        .iter()
        .map(|r| r.to_string())
        .find(|r| r.contains("PROBE-END"))
        .expect("the probe ran");
    for want in [
        "PROBE env-hits 0",
        "PROBE proc-hits 0",
        "PROBE main refused",
        "PROBE tag refused",
        // Behind the egress proxy: GitHub only through the git proxy.
        "PROBE direct GitHub refused",
    ] {
        assert!(probe.contains(want), "{want} not in the probe's output: {probe}");
    }
    assert!(
        // ("FOUND-IN /" starts a line of its output only; the command has "FOUND-IN |".)
        !probe.contains("FOUND-IN /") && !probe.contains("PROBE uid 0"),
        "{probe}"
    );
    assert!(!sys.remote_git(&["tag"]).contains("probe-tag"));
    let log = sys
        .api(
            "GET",
            &format!("/api/projects/{pid}/jobs/{job}/events?limit=1000"),
            None,
        )
        .await
        .to_string();
    assert!(log.contains("PROBE-END"), "the probe's output is in the log");
    assert!(
        log.contains("egress_refused") && log.contains("github.com:443"),
        "the direct call's refusal is in the log"
    );
    for secret in [GITHUB_TOKEN, "sk-director", "sk-worker"] {
        assert!(!log.contains(secret), "a secret is in the job log");
    }
    // The review summary the UI shows, read from GitHub (the stand-in over the real remote).
    let summary = sys
        .api("GET", &format!("/api/projects/{pid}/tickets/{tid}/review"), None)
        .await;
    assert_eq!(summary["state"], "open");
    assert_eq!(summary["commits"].as_array().map(Vec::len), Some(1), "{summary}");
    let done = jobs(&sys, &pid, &tid).await;
    assert_eq!(done.len(), 1);
    assert_eq!(
        (done[0]["id"].as_str().unwrap(), done[0]["status"].as_str().unwrap()),
        (job.as_str(), "succeeded")
    );

    // A reviewer comments on the PR; the scheduler notices and the agent comes back.
    sys.github
        .add_review_comment(pulls[0].number, "alice", "calc.py", "Please add a docstring to add().");
    let (director, worker) = review_script();
    sys.director.push(director);
    sys.worker.push(worker);
    let review = eventually("a review job", Duration::from_secs(60), || async {
        jobs(&sys, &pid, &tid).await.into_iter().find(|j| j["kind"] == "review")
    })
    .await;
    let review_id = review["id"].as_str().unwrap().to_string();
    eventually("the follow-up commit", RUN, || async {
        let head = sys.remote_git(&["rev-parse", &branch]);
        (head != first_head).then_some(())
    })
    .await;
    assert!(
        sys.remote_git(&["show", &format!("{branch}:calc.py")])
            .contains("Return the sum of a and b.")
    );
    assert_eq!(
        sys.remote_git(&["rev-parse", &format!("{branch}~1")]),
        first_head,
        "a new commit on top"
    );
    assert!(sys.tests_pass_on(&branch));
    eventually("the review job to succeed", RUN, || async {
        jobs(&sys, &pid, &tid)
            .await
            .iter()
            .any(|j| j["id"] == review_id.as_str() && j["status"] == "succeeded")
            .then_some(())
    })
    .await;
    let t = in_review_with_pr(&sys, &b, &pid, &tid).await;
    assert_eq!(sys.github.pulls().len(), 1, "the same PR, no second one");
    assert_eq!(t["pr_number"], json!(pulls[0].number));
    b.screenshot("system-05-after-review.png").await.unwrap();

    println!(
        "FIGURES drag→container {:?}, drag→PR {:?}, UI log requests while following: {log_calls}",
        to_container, to_pr
    );
    b.close().await;
    drop(sys.host.take());
    sys.remove_containers(&[job, review_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_host_killed_mid_job_still_ends_in_review_exactly_once() {
    let (director, mut worker) = implement_script();
    // The Worker's first answer is a command that takes a while: the host is killed and
    // restarted meanwhile, so the agent is certainly mid-run. (Not an LLM call held open:
    // the agent's calls go through the host's egress proxy, which dies with the host, so
    // a call in flight is cut off and retried, and a scripted stand-in would answer the
    // retry with its next reply.)
    worker.insert(0, Reply::tool("run_command", json!({"command": "sleep 12"})));
    let mut sys = System::start(director, worker).await;
    let b = Browser::start().await.unwrap();
    let (pid, tid, dropped) = user_files_a_ticket(&sys, &b).await;
    let (job, _) = container_started(&sys, &pid, &tid, dropped).await;
    eventually("the agent to ask the Worker", RUN, || async {
        (!sys.worker.requests().is_empty()).then_some(())
    })
    .await;

    // SIGKILL the host (its containers belong to dockerd and live on), then restart it.
    drop(sys.host.take());
    sys.start_host();
    assert_eq!(jobs(&sys, &pid, &tid).await[0]["status"], "running", "mid-job");
    assert!(sys.container_running(&job), "the agent lives on without its host");

    let t = in_review_with_pr(&sys, &b, &pid, &tid).await;
    assert_eq!(sys.github.pulls().len(), 1, "exactly one PR");
    assert!(t["pr_url"].is_string());
    let all = jobs(&sys, &pid, &tid).await;
    assert_eq!(all.len(), 1, "no second job: {all:?}");
    assert_eq!(all[0]["status"], "succeeded");
    let board = sys.api("GET", &format!("/api/projects/{pid}/board"), None).await;
    let placements: Vec<&str> = board["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["tickets"].as_array().unwrap().iter().any(|t| t["id"] == tid.as_str()))
        .map(|c| c["role"].as_str().unwrap_or("custom"))
        .collect();
    assert_eq!(placements, ["in_review"], "on the board once, in In Review");
    assert!(sys.tests_pass_on(&format!("ticket-{tid}")));
    b.close().await;
    drop(sys.host.take());
    sys.remove_containers(&[job]);
}
