//! Implement jobs end to end: real API over HTTP, real Postgres, real git, real tests run
//! by the agent; the Director and Worker LLMs and GitHub are scripted stand-ins.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use terarchitect_agent::Error;
use terarchitect_testkit::git::git;
use terarchitect_testkit::llm::Reply;

fn research_and_plan() -> Vec<Reply> {
    vec![
        Reply::tool("list_files", json!({})),
        Reply::tool("read_file", json!({"path": "../remote.git/config"})), // refused: outside the workspace
        Reply::text("calc.py defines add(), which subtracts. test_calc.py tests it; `make test` runs unittest."),
        Reply::text("Plan v1: change calc.py."),
        Reply::text("Plan v2:\n1. In calc.py make add() return a + b.\n2. Run `make test` and check it passes."),
    ]
}

fn fix_with_tools() -> Vec<Reply> {
    vec![
        Reply::tool("read_file", json!({"path": "calc.py"})),
        Reply::tool(
            "replace",
            json!({"path": "calc.py", "old": "return a - b", "new": "return a + b"}),
        ),
        Reply::tool("run_command", json!({"command": "make test"})),
        Reply::text("Changed add() in calc.py to return a + b; `make test` passes (1 test OK)."),
    ]
}

/// The real binary, with only the three variables the host provides.
async fn run_binary(env: &Env) -> std::process::Output {
    tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_terarchitect-agent"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("TERARCHITECT_API_URL", &env.api_url)
            .env("TERARCHITECT_JOB_ID", env.job_id.to_string())
            .env("TERARCHITECT_JOB_TOKEN", &env.token)
            .output(),
    )
    .await
    .expect("agent finished in time")
    .unwrap()
}

const APPROVED: &str = "1. Fix add() in calc.py to return a + b\n2. Run make test";

#[tokio::test]
async fn implement_job_fixes_the_bug_pushes_the_branch_and_opens_a_pr() {
    let director = vec![
        Reply::text("The plan looks fine to me."), // not JSON: corrected, not fatal
        Reply::json(json!({"action": "revise_plan", "feedback": "Say which file changes and how the tests prove it."})),
        Reply::json(json!({"action": "approve_plan", "plan": APPROVED})),
        Reply::json(
            json!({"action": "done", "summary": "Fixed add() in calc.py to return the sum of its arguments.", "test_command": "make test"}),
        ),
        // Memory extraction of what the run learned (the API asks the director LLM).
        Reply::json(json!({"entities": ["add()", "calc.py"], "triples": [["add()", "is defined in", "calc.py"]]})),
    ];
    let mut worker = research_and_plan();
    worker.extend(fix_with_tools());
    let embeddings = terarchitect_testkit::llm::LlmStandIn::start(vec![]).await;
    let setup = Setup {
        settings: json!({"embedding_url": embeddings.url}),
        ..Setup::default()
    };
    let env = Env::new(python_repo(), setup, director, worker).await;

    let out = run_binary(&env).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "agent failed: {stdout}\n{stderr}");
    let pr_lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("TERARCHITECT_PR_URL="))
        .collect();
    let want = "TERARCHITECT_PR_URL=https://github.example/acme/shop/pull/1";
    assert_eq!(pr_lines, [want], "exactly one PR line");
    assert!(stdout.contains("TERARCHITECT_PR_NUMBER=1"));

    // The fix is on the remote branch, the default branch untouched.
    let branch = env.branch();
    assert!(env.repo.remote_branches().contains(&branch));
    assert!(env.remote_file(&branch, "calc.py").contains("return a + b"));
    assert!(env.remote_file("main", "calc.py").contains("return a - b"));
    let log = git(&env.repo.remote, &["log", "-1", "--format=%an <%ae>%n%B", &branch]);
    assert!(log.starts_with("Agent Smith <agent@example.com>\nFix add()"), "{log}");
    assert!(!git(&env.repo.remote, &["ls-tree", "-r", "--name-only", &branch]).contains("__pycache__"));

    // What the run learned is in the project's memory.
    let (memory,): (String,) = sqlx::query_as("SELECT content FROM memory_passages WHERE project_id = $1")
        .bind(env.project_id)
        .fetch_one(&env.db.pool)
        .await
        .unwrap();
    assert!(
        memory.contains("Fix add()") && memory.contains("calc.py") && memory.contains("/pull/1"),
        "{memory}"
    );

    // The PR exists with a body that says what happened.
    let pulls = env.github.pulls();
    assert_eq!(pulls.len(), 1);
    let pr = &pulls[0];
    assert_eq!(
        (pr.head.as_str(), pr.base.as_str(), pr.title.as_str()),
        (branch.as_str(), "main", "Fix add()")
    );
    for part in [
        "## Ticket",
        "add(2, 3) returns -1",
        "## Approved plan",
        APPROVED,
        "## What was accomplished",
        "Fixed add() in calc.py",
        "`calc.py`",
        "## Tests",
        "`make test` passed",
        "OK",
    ] {
        assert!(pr.body.contains(part), "PR body lacks {part:?}:\n{}", pr.body);
    }
    assert!(
        env.github
            .requests()
            .iter()
            .filter(|(what, _)| what.contains("/repos/"))
            .all(|(_, authed)| *authed),
        "the API sent the token"
    );
    // The run's PR is the one the API opened, recorded on the job.
    let job = env.job().await;
    assert_eq!(
        (job.pr_url.as_deref(), job.pr_number),
        (Some("https://github.example/acme/shop/pull/1"), Some(1))
    );

    // The escape attempt was refused and the model was told why.
    let refused = env.worker.requests()[2]["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(refused["role"], "tool");
    assert!(
        refused["content"].as_str().unwrap().contains("`..` is not allowed"),
        "{refused}"
    );

    // The plan was sent back once, then approved; the malformed reply was corrected.
    let reqs = env.director.requests();
    assert!(request_text(&reqs[1]).contains("not a valid decision"));
    assert!(request_text(&reqs[2]).contains("Plan v2"));
    assert!(request_text(&reqs[3]).contains(APPROVED), "the approved plan is pinned");

    // Every phase is in the job's log, read back from the database.
    let steps = env.steps().await;
    for (phase, step) in [
        ("setup", "context_loaded"),
        ("setup", "branch"),
        ("research", "worker_reply"),
        ("plan", "worker_reply"),
        ("plan_review", "director_invalid"),
        ("plan_review", "plan_rejected"),
        ("plan_review", "plan_approved"),
        ("worker", "tool_call"),
        ("execution", "director"),
        ("tests", "test_run"),
        ("finalise", "commit"),
        ("finalise", "push"),
        ("finalise", "pr_opened"),
        ("finalise", "finished"),
    ] {
        assert!(
            steps.contains(&(phase.into(), step.into())),
            "no {phase}/{step} in {steps:?}"
        );
    }
    let job = env.job().await;
    assert!(job.input_tokens > 0, "token counts roll up");
    env.assert_no_secret_leaked().await;
}

#[tokio::test]
async fn summarising_the_director_keeps_ticket_plan_and_tests() {
    let director = vec![
        Reply::json(json!({"action": "approve_plan", "plan": APPROVED})),
        Reply::json(json!({"action": "continue", "prompt": "Now fix add() in calc.py."})),
        Reply::text("Summary: the Worker studied the repo; the Director asked for the fix."),
        Reply::json(json!({"action": "done", "summary": "Fixed add().", "test_command": "make test"})),
    ];
    let worker = vec![
        Reply::text("Found calc.py."),
        Reply::text("Plan: fix add."),
        Reply::text("I looked at calc.py."),
        Reply::tool(
            "replace",
            json!({"path": "calc.py", "old": "return a - b", "new": "return a + b"}),
        ),
        Reply::text("Fixed."),
        Reply::text("Worker summary."),
    ];
    let setup = Setup {
        settings: json!({"summarize_every_turns": 2}),
        ..Default::default()
    };
    let env = Env::new(python_repo(), setup, director, worker).await;
    let out = terarchitect_agent::run(env.config()).await.expect("job succeeds");
    assert_eq!(out.pr_number, 1);
    let reqs = env.director.requests();
    assert!(request_text(&reqs[2]).contains("Summarise this conversation"));
    // The decision after the summary: one pinned message with ticket, plan and summary,
    // and none of the folded history.
    let after = &reqs[3];
    let pinned = after["messages"][1]["content"].as_str().unwrap();
    for part in [
        "## Ticket",
        "add(2, 3) returns -1",
        "## Approved plan (pinned)",
        APPROVED,
        "## Earlier conversation (summary)",
        "the Director asked for the fix",
    ] {
        assert!(pinned.contains(part), "pinned block lacks {part:?}: {pinned}");
    }
    assert_eq!(
        after["messages"].as_array().unwrap().len(),
        3,
        "system, pinned, new question"
    );
    assert!(env.steps().await.contains(&("director".into(), "summarised".into())));
    assert_eq!(
        env.director.remaining() + env.worker.remaining(),
        0,
        "both summaries happened"
    );
}

#[tokio::test]
async fn a_cancelled_run_stops_promptly_and_pushes_nothing() {
    let director = vec![Reply::json(json!({"action": "approve_plan"}))];
    // An LLM call that would hold the run for ten minutes.
    let worker = vec![Reply::Delay(
        Duration::from_secs(600),
        Box::new(Reply::text("researching...")),
    )];
    let env = Env::new(python_repo(), Setup::default(), director, worker).await;
    let mut cfg = env.config();
    cfg.llm_retry.timeout = Duration::from_secs(600);
    let run = tokio::spawn(terarchitect_agent::run(cfg));
    terarchitect_testkit::eventually("the worker to be busy", Duration::from_secs(30), || async {
        (!env.worker.requests().is_empty()).then_some(())
    })
    .await;
    terarchitect_functions::domain::jobs::cancel(&env.app, env.project_id, env.job_id)
        .await
        .unwrap();
    // The call in flight is abandoned: the run does not wait for its answer.
    let err = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the cancel ended the run without waiting for the LLM call")
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_eq!(err.exit_code(), 130);
    assert_eq!(env.repo.remote_branches(), ["main"]);
    assert!(env.github.pulls().is_empty());
    assert!(env.director.requests().is_empty(), "no Director turn after the cancel");
    assert!(env.steps().await.contains(&("finalise".into(), "cancelled".into())));
}

/// The job is taken from this run (its token no longer accepted) while the Worker is busy:
/// the gateway refuses the next LLM call (and the look before a commit would get no clear
/// "not cancelled"), so nothing is pushed.
#[tokio::test]
async fn a_run_whose_job_token_died_commits_and_pushes_nothing() {
    let director = vec![
        Reply::json(json!({"action": "revise_plan", "feedback": "Say which file changes."})),
        Reply::json(json!({"action": "approve_plan", "plan": APPROVED})),
        Reply::json(json!({"action": "done", "summary": "Fixed add().", "test_command": "make test"})),
    ];
    let mut worker = research_and_plan();
    worker.extend(fix_with_tools());
    let last = worker.pop().unwrap();
    worker.push(Reply::Delay(Duration::from_secs(3), Box::new(last)));
    let replies = worker.len();
    let env = Env::new(python_repo(), Setup::default(), director, worker).await;
    let run = tokio::spawn(terarchitect_agent::run(env.config()));
    terarchitect_testkit::eventually("the Worker's last turn", Duration::from_secs(60), || async {
        (env.worker.requests().len() == replies).then_some(())
    })
    .await;
    sqlx::query("UPDATE jobs SET job_token_hash = sha256('another run') WHERE id = $1")
        .bind(env.job_id)
        .execute(&env.db.pool)
        .await
        .unwrap();
    let err = run.await.unwrap().unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("Director endpoint refused the request: answered HTTP 401")
            || matches!(&err, Error::Api(m) if m.contains("could not confirm the job is still wanted")),
        "{err}"
    );
    assert_eq!(env.repo.remote_branches(), ["main"]);
    assert!(env.github.pulls().is_empty());
}

#[tokio::test]
async fn llm_errors_are_retried_then_fail_clearly() {
    // 429, 500, garbage and a timeout are retried; the third good-looking reply wins.
    let flaky = vec![
        Reply::Status(429, "slow down".into()),
        Reply::Status(500, "oops".into()),
        Reply::json(json!({"action": "approve_plan"})),
    ];
    let env = Env::new(
        python_repo(),
        Setup::default(),
        flaky,
        vec![
            Reply::text("found it"),
            Reply::text("plan"),
            Reply::Garbage("<html>bad gateway</html>".into()),
            Reply::Delay(Duration::from_secs(6), Box::new(Reply::text("too late"))),
            Reply::Status(503, "down".into()),
        ],
    )
    .await;
    let mut cfg = env.config();
    cfg.llm_retry.timeout = Duration::from_secs(2);
    let err = terarchitect_agent::run(cfg).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Llm(_)), "{msg}");
    assert!(
        msg.contains("Worker endpoint failed after 3 attempts") && msg.contains("503"),
        "{msg}"
    );
    assert_eq!(
        env.director.requests().len(),
        3,
        "the Director call survived 429 and 500"
    );
    assert_eq!(env.worker.requests().len(), 5);
    assert_eq!(env.repo.remote_branches(), ["main"]);
    let events = env.events().await;
    let last = events.last().unwrap();
    assert_eq!((last.phase.as_str(), last.step.as_str()), ("finalise", "failed"));
    assert!(last.summary.contains("after 3 attempts"));
}

#[tokio::test]
async fn tests_that_never_pass_fail_the_job_without_pushing() {
    let director = vec![
        Reply::json(json!({"action": "approve_plan"})),
        Reply::json(json!({"action": "done", "summary": "done", "test_command": "make test"})),
        Reply::json(json!({"action": "done", "summary": "really done"})),
    ];
    let worker = vec![
        Reply::text("found"),
        Reply::text("plan"),
        Reply::text("I did nothing."),
        Reply::text("Still nothing."),
    ];
    let env = Env::new(python_repo(), Setup::default(), director, worker).await;
    let mut cfg = env.config();
    cfg.max_turns = 2;
    let err = terarchitect_agent::run(cfg).await.unwrap_err();
    assert!(matches!(err, Error::TestsFailed(_)), "{err}");
    assert!(err.to_string().contains("make test"), "{err}");
    assert_eq!(
        env.repo.remote_branches(),
        ["main"],
        "a failing branch is not pushed as done"
    );
    assert!(env.github.pulls().is_empty());
    // The Worker was shown the failing output the second time.
    let second = request_text(env.worker.requests().last().unwrap());
    assert!(
        second.contains("The tests fail. `make test` printed") && second.contains("AssertionError"),
        "{second}"
    );
}

#[tokio::test]
async fn a_rejected_push_fails_the_job_and_opens_no_pr() {
    let director = vec![
        Reply::json(json!({"action": "approve_plan"})),
        Reply::json(json!({"action": "done", "summary": "Fixed add().", "test_command": "make test"})),
    ];
    let mut worker = vec![Reply::text("found"), Reply::text("plan")];
    let mut fix = fix_with_tools();
    // The first execution reply waits, so the concurrent push below surely lands first.
    fix[0] = Reply::Delay(Duration::from_secs(3), Box::new(fix[0].clone()));
    worker.extend(fix);
    let env = Env::with(python_repo(), Setup::default(), director, worker, |repo, tid| {
        // The branch exists already, so the agent resumes it...
        git(&repo.work, &["checkout", "-b", &format!("ticket-{tid}")]);
        std::fs::write(repo.work.join("NOTES.md"), "start\n").unwrap();
        git(&repo.work, &["add", "-A"]);
        git(&repo.work, &["commit", "-m", "start"]);
        git(&repo.work, &["push", "origin", "HEAD"]);
    })
    .await;
    let run = tokio::spawn(terarchitect_agent::run(env.config()));
    // ...and someone else pushes to it while the agent works.
    terarchitect_testkit::eventually("the agent to start executing", Duration::from_secs(30), || async {
        (env.worker.requests().len() >= 3).then_some(())
    })
    .await;
    std::fs::write(env.repo.work.join("NOTES.md"), "someone else\n").unwrap();
    git(&env.repo.work, &["commit", "-am", "concurrent change"]);
    git(&env.repo.work, &["push", "origin", "HEAD"]);
    let err = run.await.unwrap().unwrap_err();
    assert!(
        matches!(err, Error::Git(_)) && err.to_string().contains("push rejected"),
        "{err}"
    );
    assert!(env.github.pulls().is_empty());
    assert_eq!(env.remote_file(&env.branch(), "NOTES.md"), "someone else");
}

#[tokio::test]
async fn a_director_repeating_itself_is_stopped() {
    let same = json!({"action": "continue", "prompt": "Try again."});
    let director = vec![
        Reply::json(json!({"action": "approve_plan"})),
        Reply::json(same.clone()),
        Reply::json(same.clone()),
        Reply::json(same),
    ];
    let worker = (0..6).map(|i| Reply::text(format!("attempt {i}"))).collect();
    let env = Env::new(python_repo(), Setup::default(), director, worker).await;
    let err = terarchitect_agent::run(env.config()).await.unwrap_err();
    assert!(
        matches!(err, Error::Budget(_)) && err.to_string().contains("stuck"),
        "{err}"
    );
    assert_eq!(env.repo.remote_branches(), ["main"]);
}

#[tokio::test]
async fn budgets_end_the_job_cleanly() {
    let director = vec![Reply::json(json!({"action": "approve_plan"}))];
    let worker = vec![Reply::text("found"), Reply::text("plan"), Reply::text("working")];
    let env = Env::new(python_repo(), Setup::default(), director, worker).await;
    let mut cfg = env.config();
    cfg.max_tokens = 40; // the stand-in reports 15 tokens a call
    let err = terarchitect_agent::run(cfg).await.unwrap_err();
    assert!(
        matches!(err, Error::Budget(_)) && err.to_string().contains("token limit"),
        "{err}"
    );
    assert_eq!(env.repo.remote_branches(), ["main"]);
    let last = env.events().await.pop().unwrap();
    assert_eq!(
        (last.step.as_str(), last.summary.contains("token limit")),
        ("failed", true)
    );
}

#[tokio::test]
async fn a_spent_ticket_budget_stops_the_run_as_budget_exhausted_with_nothing_pushed() {
    // The gateway meters 15 tokens a call: the third call finds 30 of 25 spent.
    let director = vec![Reply::json(json!({"action": "approve_plan"}))];
    let worker = vec![Reply::text("found"), Reply::text("plan"), Reply::text("working")];
    let setup = Setup {
        settings: json!({"ticket_budget_tokens": 25}),
        ..Setup::default()
    };
    let env = Env::new(python_repo(), setup, director, worker).await;
    let err = terarchitect_agent::run(env.config()).await.unwrap_err();
    assert!(
        matches!(err, Error::Budget(_)) && err.to_string().contains("budget_exhausted"),
        "{err}"
    );
    assert!(
        err.to_string().contains("ticket's budget of 25 tokens is spent"),
        "{err}"
    );
    assert_eq!(
        env.worker.requests().len(),
        2,
        "no call past the budget reached the LLM"
    );
    assert_eq!(env.repo.remote_branches(), ["main"], "nothing pushed");
    assert!(env.github.pulls().is_empty());
    let last = env.events().await.pop().unwrap();
    assert_eq!(
        (last.step.as_str(), last.summary.contains("budget_exhausted")),
        ("failed", true)
    );
}

#[tokio::test]
async fn a_resumed_ticket_continues_its_branch_and_updates_the_open_pr() {
    let director = vec![
        Reply::json(json!({"action": "approve_plan", "plan": APPROVED})),
        Reply::json(json!({"action": "done", "summary": "Finished the fix.", "test_command": "make test"})),
    ];
    let mut worker = vec![Reply::text("found"), Reply::text("plan")];
    worker.extend(fix_with_tools());
    let env = Env::with(python_repo(), Setup::default(), director, worker, |repo, tid| {
        // A previous attempt pushed work in progress and opened the PR.
        git(&repo.work, &["checkout", "-b", &format!("ticket-{tid}")]);
        std::fs::write(repo.work.join("NOTES.md"), "work in progress\n").unwrap();
        git(&repo.work, &["add", "-A"]);
        git(&repo.work, &["commit", "-m", "wip"]);
        git(&repo.work, &["push", "origin", "HEAD"]);
    })
    .await;
    let number = env.github.open_pull("old title", &env.branch(), "main");
    let wip = git(&env.repo.remote, &["rev-parse", &env.branch()]);
    let out = terarchitect_agent::run(env.config()).await.expect("job succeeds");
    assert_eq!(out.pr_number, number);
    let pulls = env.github.pulls();
    assert_eq!(pulls.len(), 1, "updated, not duplicated");
    assert_eq!(pulls[0].title, "Fix add()");
    assert!(pulls[0].body.contains("Finished the fix.") && pulls[0].body.contains("`NOTES.md`"));
    assert_eq!(
        git(&env.repo.remote, &["rev-parse", &format!("{}^", env.branch())]),
        wip,
        "built on the earlier work"
    );
    assert!(env.steps().await.contains(&("finalise".into(), "pr_updated".into())));
}

#[tokio::test]
async fn a_run_that_changes_nothing_pushes_nothing_and_opens_no_pr() {
    let director = vec![
        Reply::json(json!({"action": "approve_plan"})),
        Reply::json(json!({"action": "done", "summary": "Nothing to do.", "test_command": "make test"})),
    ];
    let worker = vec![
        Reply::text("found"),
        Reply::text("plan"),
        Reply::text("All good already."),
    ];
    let repo = terarchitect_testkit::git::TempRepo::with_files(&[("Makefile", "test:\n\ttrue\n")]);
    let env = Env::new(repo, Setup::default(), director, worker).await;
    let err = terarchitect_agent::run(env.config()).await.unwrap_err();
    assert!(err.to_string().contains("changed nothing"), "{err}");
    assert_eq!(env.repo.remote_branches(), ["main"]);
    assert!(env.github.pulls().is_empty());
}

#[tokio::test]
async fn the_binary_fails_with_a_clear_last_line_when_its_token_is_refused() {
    let (app, _db, _q) = new_app().await;
    let api = serve_api(app).await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_terarchitect-agent"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("TERARCHITECT_API_URL", &api)
        .env("TERARCHITECT_JOB_ID", uuid::Uuid::new_v4().to_string())
        .env("TERARCHITECT_JOB_TOKEN", "jt_not_a_real_token")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("TERARCHITECT_ERROR=") && last.contains("401"),
        "{stdout}"
    );
    assert!(!stdout.contains("TERARCHITECT_PR_URL") && !stdout.contains("jt_not_a_real_token"));
}

#[tokio::test]
async fn a_missing_setting_is_a_clear_configuration_failure() {
    let setup = Setup {
        settings: json!({"director_llm_url": null}),
        ..Default::default()
    };
    let env = Env::new(python_repo(), setup, vec![], vec![]).await;
    let err = terarchitect_agent::run(env.config()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the project's settings are incomplete: setting `director_llm_url` is not set"
    );
    assert_eq!(err.exit_code(), 2);
    let last = env.events().await.pop().unwrap();
    assert_eq!(
        (last.step.as_str(), last.summary.as_str()),
        ("failed", err.to_string().as_str())
    );
}

#[tokio::test]
async fn the_same_failure_three_times_stops_the_run() {
    let done = json!({"action": "done", "summary": "done", "test_command": "make test"});
    let director = vec![
        Reply::json(json!({"action": "approve_plan"})),
        Reply::json(done.clone()),
        Reply::json(done.clone()),
        Reply::json(done),
    ];
    let worker = (0..5).map(|i| Reply::text(format!("reply {i}"))).collect();
    let env = Env::new(python_repo(), Setup::default(), director, worker).await;
    let err = terarchitect_agent::run(env.config()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("stuck: `make test` failed the same way three times"),
        "{err}"
    );
    assert_eq!(env.repo.remote_branches(), ["main"]);
    assert_eq!(env.director.remaining() + env.worker.remaining(), 0);
    let nudged = request_text(env.worker.requests().last().unwrap());
    assert!(
        nudged.contains("exactly as before: the last change did not help"),
        "{nudged}"
    );
}

#[tokio::test]
async fn a_memory_write_larger_than_one_request_is_split_and_stored_whole() {
    use terarchitect_protocol::validate::{MAX_INDEX_DOCS, MAX_TEXT};
    let lessons: Vec<String> = (0..2 * MAX_INDEX_DOCS + 3)
        .map(|i| format!("lesson {i}: {}", "y".repeat(6_000)))
        .collect();
    let long = format!("long: {}", "z".repeat(MAX_TEXT)); // over one document's limit: two pieces
    let mut docs = lessons.clone();
    docs.push(long.clone());
    let extraction = Reply::json(json!({"entities": [], "triples": []}));
    let embeddings = terarchitect_testkit::llm::LlmStandIn::start(vec![]).await;
    let setup = Setup {
        settings: json!({"embedding_url": embeddings.url}),
        ..Setup::default()
    };
    let env = Env::new(python_repo(), setup, vec![extraction; docs.len() + 1], vec![]).await;
    let api = terarchitect_agent::api::ApiClient::new(terarchitect_agent::http_client(), &env.api_url, &env.token);
    api.remember(docs)
        .await
        .expect("every request under the bound is accepted");

    let stored: Vec<(String,)> =
        sqlx::query_as("SELECT content FROM memory_passages WHERE project_id = $1 ORDER BY created_at, content")
            .bind(env.project_id)
            .fetch_all(&env.db.pool)
            .await
            .unwrap();
    let stored: Vec<String> = stored.into_iter().map(|r| r.0).collect();
    for l in &lessons {
        assert!(stored.contains(l), "{} missing", &l[..10]);
    }
    let pieces: Vec<&String> = stored.iter().filter(|s| !s.starts_with("lesson")).collect();
    assert_eq!(pieces.len(), 2, "the long document in two pieces");
    assert_eq!(pieces.iter().map(|p| p.len()).sum::<usize>(), long.len());
    assert_eq!(
        env.director.requests().len(),
        lessons.len() + 2,
        "one extraction per piece"
    );
}

#[tokio::test]
async fn only_what_the_worker_meant_is_committed_under_a_one_line_subject() {
    // No .gitignore: the test run leaves __pycache__ and a report behind.
    let files: Vec<(&str, &str)> = terarchitect_testkit::git::PYTHON_PROJECT
        .iter()
        .copied()
        .filter(|(f, _)| *f != ".gitignore")
        .map(|(f, c)| {
            if f == "Makefile" {
                // Bytecode written whatever the environment says.
                (
                    f,
                    "test:\n\tenv -u PYTHONDONTWRITEBYTECODE python3 -m unittest -q\n\techo ok > test-report.txt\n",
                )
            } else {
                (f, c)
            }
        })
        .collect();
    let repo = terarchitect_testkit::git::TempRepo::with_files(&files);
    let director = vec![
        Reply::json(json!({"action": "approve_plan", "plan": APPROVED})),
        Reply::json(json!({"action": "done", "summary": "Fixed add().", "test_command": "make test"})),
    ];
    let worker = vec![
        Reply::text("calc.py has the bug."),
        Reply::text("Plan: fix add()."),
        Reply::tool(
            "replace",
            json!({"path": "calc.py", "old": "return a - b", "new": "return a + b"}),
        ),
        Reply::tool(
            "run_command",
            json!({"command": "make test && echo draft > CHANGES.md"}),
        ),
        // Output of a command that the Worker then writes itself: meant, so committed.
        Reply::tool(
            "write_file",
            json!({"path": "CHANGES.md", "content": "add() returns the sum\n"}),
        ),
        Reply::tool("write_file", json!({"path": "docs/calc.md", "content": "# calc\n"})),
        Reply::tool("run_command", json!({"command": "exit 4"})),
        Reply::text("Fixed add(), documented it."),
    ];
    let setup = Setup {
        title: "Crème brûlée:   make add() return the sum of both arguments, as the menu's price calculator expects",
        ..Setup::default()
    };
    let env = Env::new(repo, setup, director, worker).await;
    terarchitect_agent::run(env.config()).await.expect("the run succeeds");

    let branch = env.branch();
    let tree = git(&env.repo.remote, &["ls-tree", "-r", "--name-only", &branch]);
    let tree: Vec<&str> = tree.lines().collect();
    for f in ["calc.py", "CHANGES.md", "docs/calc.md"] {
        assert!(tree.contains(&f), "{f} not committed: {tree:?}");
    }
    assert!(
        !tree
            .iter()
            .any(|f| f.contains("__pycache__") || *f == "test-report.txt"),
        "artifacts committed: {tree:?}"
    );
    let events = env.events().await;
    let left = events.iter().find(|e| e.step == "left_out").expect("a left_out event");
    let raw = left.raw_output.as_deref().unwrap_or_default();
    assert!(raw.contains("__pycache__/") && raw.contains("test-report.txt"), "{raw}");
    assert!(!raw.contains("CHANGES.md"), "{raw}");

    // The subject is the head of the title, one line of at most 72 characters.
    let message = git(&env.repo.remote, &["log", "-1", "--format=%B", &branch]);
    let subject = message.lines().next().unwrap();
    assert!(
        subject.starts_with("Crème brûlée: make add() return the sum"),
        "{message}"
    );
    assert!(subject.chars().count() <= 72 && subject.ends_with('…'), "{subject}");
    assert!(message.contains("as the menu's price calculator expects"), "{message}");

    // A failing command is logged as failed, with its exit status.
    let failed = events
        .iter()
        .find(|e| e.step == "tool_failed")
        .expect("a tool_failed event");
    assert!(failed.summary.ends_with("→ exit code 4"), "{}", failed.summary);
    assert!(
        !events
            .iter()
            .any(|e| e.step == "tool_call" && e.summary.contains("exit 4"))
    );
}

#[tokio::test]
async fn the_workers_commands_cannot_read_the_agents_job_token() {
    let director = vec![
        Reply::json(json!({"action": "approve_plan", "plan": APPROVED})),
        Reply::json(json!({"action": "done", "summary": "Fixed add().", "test_command": "make test"})),
    ];
    // What a prompt-injected Worker would try: its identity, the agent's environment and
    // every process's, and its own.
    let probe = "id -u; cat /proc/$PPID/environ; cat /proc/*/environ | tr '\\0' '\\n' | grep TERARCHITECT; env";
    let worker = vec![
        Reply::text("calc.py has the bug."),
        Reply::text("Plan: fix add()."),
        Reply::tool("run_command", json!({"command": probe})),
        Reply::tool(
            "replace",
            json!({"path": "calc.py", "old": "return a - b", "new": "return a + b"}),
        ),
        Reply::text("Fixed add()."),
    ];
    let env = Env::new(python_repo(), Setup::default(), director, worker).await;
    // The real binary, the token in its environment as the host passes it.
    let out = run_binary(&env).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The probe's output, as the Worker LLM received it.
    let seen = env.worker.requests()[3]["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(seen.contains("$ id -u"), "{seen}");
    assert!(!seen.contains(&env.token), "the job token reached the Worker: {seen}");
    assert!(
        !seen.contains("TERARCHITECT_"),
        "the agent's variables reached the Worker: {seen}"
    );
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let uid = seen.lines().nth(1).unwrap_or_default();
        assert_eq!(uid, "1000", "the Worker's commands run as the worker user: {seen}");
    }
    // And the Worker could still change the repository and the tests ran.
    assert!(env.remote_file(&env.branch(), "calc.py").contains("return a + b"));
}
