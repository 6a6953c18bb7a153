//! Reviewing a pull request in the browser: real `api` and `worker-api`, real Postgres
//! and SQS emulator, the GitHub stand-in serving a real bare git repository, headless
//! Chromium. Also the ticket page's comments.

use std::time::Duration;

use serde_json::{Value, json};
use terarchitect_protocol::pr_thread::{CommentKind, agent_reply_footer};
use terarchitect_testkit::git::{TempRepo, git};
use terarchitect_testkit::github::GitHubStandIn;
use terarchitect_web_e2e::*;

const CHECKOUT_TESTS: &str = "use shop::total;\n\n#[test]\nfn total_adds_up_the_cart() {\n    assert_eq!(total(&[2, 3]), 5);\n}\n\n\
fn cart() -> Vec<i64> {\n    vec![]\n}\n\n#[test]\nfn an_empty_cart_costs_nothing() {\n    assert_eq!(total(&cart()), 0);\n}\n";

/// A bare remote whose `main` has a library and whose `branch` adds a checkout with its
/// tests and a large price list in two commits.
fn repo_with_branch(branch: &str) -> TempRepo {
    let repo = TempRepo::with_files(&[("src/lib.rs", "pub fn hello() {}\n"), ("README.md", "# Shop\n")]);
    let w = &repo.work;
    git(w, &["checkout", "-b", branch]);
    std::fs::write(
        w.join("src/lib.rs"),
        "pub fn hello() {}\n\npub fn total(items: &[i64]) -> i64 {\n    items.iter().sum()\n}\n",
    )
    .expect("write lib.rs");
    git(w, &["add", "-A"]);
    git(w, &["commit", "-m", "Add the cart total\n\nSums the items."]);
    std::fs::create_dir_all(w.join("tests")).expect("tests dir");
    std::fs::write(w.join("tests/checkout.rs"), CHECKOUT_TESTS).expect("write tests");
    // A large file: its diff starts folded.
    std::fs::create_dir_all(w.join("data")).expect("data dir");
    let prices: String = (1..=400).map(|i| format!("item-{i},{}\n", i * 3)).collect();
    std::fs::write(w.join("data/prices.csv"), prices).expect("write prices");
    git(w, &["add", "-A"]);
    git(w, &["commit", "-m", "Test the checkout total"]);
    git(w, &["push", "origin", branch]);
    repo
}

async fn column_id(s: &Stack, pid: &str, role: &str) -> Res<String> {
    let cols = s.api("GET", &format!("/api/projects/{pid}/columns"), None).await?;
    cols.as_array()
        .and_then(|a| a.iter().find(|c| c["role"] == role))
        .and_then(|c| c["id"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("no {role} column").into())
}

/// A ticket brought to In Review the real way: moved to In Progress, claimed by a worker
/// host and finished with pull request `pr`.
async fn ticket_in_review(s: &Stack, gh: &GitHubStandIn, pid: &str, title: &str, pr: u64) -> Res<String> {
    let t = s
        .api(
            "POST",
            &format!("/api/projects/{pid}/tickets"),
            Some(json!({"title": title, "description": "Let users pay for the cart.", "whole_graph": true})),
        )
        .await?;
    let tid = t["id"].as_str().ok_or("no ticket id")?.to_string();
    let col = column_id(s, pid, "in_progress").await?;
    // What a run needs to start and to open its PR, removed again once it has: the review
    // page is tested below with GitHub and the LLMs not set up.
    let settings = format!("/api/projects/{pid}/settings");
    let needs = json!({"director_llm_url": "https://llm.invalid/v1", "director_llm_model": "m",
                       "github_token": "ghp_placeholder", "github_api_url": gh.url});
    s.api("PUT", &settings, Some(needs)).await?;
    let moved = s
        .api(
            "POST",
            &format!("/api/projects/{pid}/tickets/{tid}/move"),
            Some(json!({"column_id": col})),
        )
        .await?;
    let jid = moved["job"]["id"].as_str().ok_or("no job")?.to_string();
    let worker = |path: String, body: Value| async move {
        s.call(&s.worker_base, &s.worker_token, "POST", &path, Some(body)).await
    };
    let claim = worker(
        format!("/worker/jobs/{jid}/claim"),
        json!({"host_id": "e2e-host", "execution_mode": "docker"}),
    )
    .await?;
    // The agent's PR is the ticket's own branch's: the API finds it open and records it.
    gh.edit_pull(pr, |p| p.head = format!("ticket-{tid}"));
    let token = claim["job_token"].as_str().ok_or("no job token")?;
    let body = json!({"title": title, "body": "Opened by the agent."});
    let opened = s
        .call(&s.worker_base, token, "PUT", "/agent/pull-request", Some(body))
        .await?;
    assert_eq!(
        (opened["number"].as_u64(), opened["created"].as_bool()),
        (Some(pr), Some(false))
    );
    worker(
        format!("/worker/jobs/{jid}/finish"),
        json!({"host_id": "e2e-host", "outcome": "succeeded", "exit_code": 0}),
    )
    .await?;
    let unset =
        json!({"director_llm_url": null, "director_llm_model": null, "github_token": null, "github_api_url": null});
    s.api("PUT", &settings, Some(unset)).await?;
    Ok(tid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewing_a_pull_request_in_the_browser() -> Res<()> {
    let gh = GitHubStandIn::start().await;
    in_browser("review", async |s, b| review_flow(s, b, &gh).await).await
}

async fn review_flow(s: &Stack, b: &Browser, gh: &GitHubStandIn) -> Res<()> {
    // ---- a project on acme/shop whose ticket's agent opened PR #1 from a real branch
    let repo = repo_with_branch("ticket-checkout");
    gh.serve_repo("acme", "shop", &repo.remote);
    // The token configured below is a reviewer's: GitHub refuses approving one's own PR.
    gh.set_login("alice");
    let pr = gh.open_pull("Checkout page", "ticket-checkout", "main");
    let p = s
        .api(
            "POST",
            "/api/projects",
            Some(json!({"name": "Shop", "repo_url": "https://github.com/acme/shop.git"})),
        )
        .await?;
    let pid = p["id"].as_str().ok_or("no project id")?.to_string();
    let tid = ticket_in_review(s, gh, &pid, "Checkout page", pr).await?;
    gh.edit_pull(pr, |p| {
        p.body = "## What was accomplished\n\nA cart total with **two tests**.\n\n- sums the items\n- an empty cart costs nothing\n\n```rust\nlet t = total(&[2, 3]);\n```\n\n<details><summary>Test output</summary>\n\nall green\n\n</details>\n\n<script>document.title = 'owned'</script>".into()
    });
    let carol = gh.add_issue_comment(pr, "carol", "Looks promising.");
    let footer = agent_reply_footer(&[(CommentKind::Issue, carol)]);
    gh.add_issue_comment(pr, "terarchitect-bot", &format!("Tightened the total.\n\n{footer}"));
    // The agent's branch is named after its ticket, and approve and merge check that.
    let branch = format!("ticket-{tid}");
    git(&repo.work, &["push", "origin", &format!("ticket-checkout:{branch}")]);

    // ---- before GitHub is set up, the Review tab and the review page say so and link
    // to Settings
    b.sign_in(s).await?;
    b.client.goto(&format!("{}/projects/{pid}/review", s.base)).await?;
    let row = format!(".review-row[data-ticket-id=\"{tid}\"]");
    let e = b.text_of(&format!("{row} .row-error")).await?;
    assert!(e.contains("No GitHub token is configured"), "{e}");
    b.wait_for("#review-list-hint a.settings-link").await?;
    b.click(&format!("{row} .review-open")).await?;
    let err = b.text_of(".error[data-code=github_not_configured]").await?;
    assert!(err.contains("GitHub token"), "{err}");
    b.screenshot("10-review-not-configured.png").await?;
    b.click(".error[data-code=github_not_configured] a.settings-link")
        .await?;
    // "Check connections" calls GitHub with the saved settings: without the token it is
    // refused, with it it answers; the LLMs are reported as not set up.
    gh.require_token("ghp_e2e_review");
    b.type_into("tr[data-key=github_api_url] input", &gh.url).await?;
    b.click("#save-settings").await?;
    b.wait_js(
        "the URL saved",
        "return document.querySelector('#settings-state').textContent === 'Saved'",
    )
    .await?;
    let github_check = "#check-results li[data-check='GitHub API']";
    b.click("#check-settings").await?;
    b.wait_for(&format!("{github_check}[data-ok=false]")).await?;
    let refused = b.text_of(github_check).await?;
    assert!(refused.contains("key was refused"), "{refused}");
    let llm = b
        .text_of("#check-results li[data-check='director LLM'][data-state=unset]")
        .await?;
    assert!(llm.contains("not set up"), "{llm}");
    b.type_into("tr[data-key=github_token] input", "ghp_e2e_review").await?;
    b.click("#save-settings").await?;
    b.wait_js(
        "the token shown as set",
        "const e = document.querySelector('tr[data-key=github_token] .secret-state'); return e && e.textContent === 'set'",
    )
    .await?;
    b.click("#check-settings").await?;
    b.wait_for(&format!("{github_check}[data-ok=true]")).await?;
    b.js("document.querySelector('#check-results').scrollIntoView()", vec![])
        .await?;
    b.screenshot("10b-settings-check.png").await?;

    // ---- the Review tab lists the ticket with its PR's state and comment count
    b.client.goto(&format!("{}/projects/{pid}", s.base)).await?;
    b.click(&format!(".tabs a[href=\"/projects/{pid}/review\"]")).await?;
    b.wait_for(&format!("{row} [data-pr-state=open]")).await?;
    assert_eq!(b.text_of(&format!("{row} .comment-count")).await?, "2");
    assert_eq!(b.text_of(&format!("{row} .approved")).await?, "not yet");
    b.screenshot("11-review-list.png").await?;

    // ---- the review page: summary, commits, the test file and its tests, the conversation
    b.click(&format!("{row} .review-open")).await?;
    b.wait_for(".review-page [data-pr-state=open]").await?;
    assert_eq!(b.text_of("#review-title").await?, "Checkout page");
    // The description as Markdown: heading, bold, list, code block, <details>; no script.
    let body = b.text_of(".pr-body").await?;
    assert!(body.contains("A cart total with two tests."), "{body}");
    assert_eq!(b.text_of(".pr-body h2").await?, "What was accomplished");
    assert_eq!(b.text_of(".pr-body strong").await?, "two tests");
    let md = b
        .js(
            "const q = s => document.querySelectorAll('.pr-body ' + s).length; \
             return [q('li'), q('pre code'), q('details summary'), q('script')]",
            vec![],
        )
        .await?;
    assert_eq!(md, json!([2, 1, 1, 0]), "list items, code block, details, scripts");
    assert_ne!(b.js("return document.title", vec![]).await?, json!("owned"));
    // The diff: three files, the large one folded, lines marked and highlighted.
    let files = b
        .wait_js(
            "three changed files",
            "const f = [...document.querySelectorAll('#pr-diff .diff-file')]; \
             return f.length === 3 && f.map(d => [d.dataset.path, d.open])",
        )
        .await?;
    assert_eq!(
        files,
        json!([
            ["data/prices.csv", false],
            ["src/lib.rs", true],
            ["tests/checkout.rs", true]
        ])
    );
    let lib = "#pr-diff .diff-file[data-path=\"src/lib.rs\"]";
    let added = b
        .js(
            "return [...document.querySelectorAll(arguments[0] + ' tr.add td.code')].map(e => e.textContent)",
            vec![json!(lib)],
        )
        .await?;
    assert_eq!(
        added,
        json!([
            "",
            "pub fn total(items: &[i64]) -> i64 {",
            "    items.iter().sum()",
            "}"
        ])
    );
    assert_eq!(b.text_of(&format!("{lib} tr.add .tok-kw")).await?, "pub");
    b.screenshot("12b-review-diff.png").await?;
    // A comment on a line of the diff becomes a review comment on that line on GitHub, and
    // the conversation shows it with its place.
    b.click(&format!("{lib} tr[data-new-line=\"3\"] .line-comment")).await?;
    b.type_into(
        &format!("{lib} .line-comment-form textarea"),
        "Should an empty cart be 0?",
    )
    .await?;
    b.click(&format!("{lib} .line-comment-form button[type=submit]"))
        .await?;
    let on_line = try_eventually("the line comment on GitHub", Duration::from_secs(20), || async {
        gh.review_comments(pr).into_iter().next()
    })
    .await?;
    assert_eq!(
        (on_line.path.as_deref(), on_line.line, on_line.body.as_str()),
        (Some("src/lib.rs"), Some(3), "Should an empty cart be 0?")
    );
    b.wait_js(
        "the line comment in the conversation",
        "return [...document.querySelectorAll('.pr-comment.kind-review')].some(c => c.textContent.includes('src/lib.rs:3'))",
    )
    .await?;
    let commits = b
        .wait_js(
            "two commits",
            "const c = [...document.querySelectorAll('.commit .commit-msg')].map(e => e.textContent); return c.length === 2 && c",
        )
        .await?;
    assert_eq!(commits, json!(["Add the cart total", "Test the checkout total"]));
    let file = ".test-file[data-path=\"tests/checkout.rs\"]";
    b.wait_for(file).await?;
    let tests = b
        .js(
            "return [...document.querySelectorAll(arguments[0] + ' .test-name')].map(e => e.textContent)",
            vec![json!(file)],
        )
        .await?;
    assert_eq!(tests, json!(["total_adds_up_the_cart", "an_empty_cart_costs_nothing"]));
    assert_eq!(
        b.js("return document.querySelectorAll('.test-file').length", vec![])
            .await?,
        json!(1),
        "src/lib.rs is no test file"
    );
    let convo = b.text_of(".conversation").await?;
    assert!(convo.contains("carol") && convo.contains("Looks promising."), "{convo}");
    // The agent's reply is labelled, its hidden lines are not shown.
    let agent = b
        .wait_js(
            "the agent's reply labelled",
            "const c = [...document.querySelectorAll('.pr-comment')].find(c => c.textContent.includes('Tightened the total.')); \
             return c && [c.querySelector('.badge')?.textContent, /answered:|<!--/.test(c.textContent)]",
        )
        .await?;
    assert_eq!(agent, json!(["agent", false]));
    b.screenshot("12-review-page.png").await?;

    // ---- comment: an empty one is refused inline; a real one appears here and on GitHub
    b.click("#post-comment").await?;
    let e = b.text_of("#pr-comment-form .field-error").await?;
    assert!(e.contains("Write a comment"), "{e}");
    let words = "Please also cover a cart with one item.";
    b.type_into("textarea[name=pr_comment]", words).await?;
    b.click("#post-comment").await?;
    b.wait_js(
        "the posted comment",
        &format!(
            "return [...document.querySelectorAll('.pr-comment')].some(c => c.textContent.includes({}))",
            json!(words)
        ),
    )
    .await?;
    b.wait_js(
        "the box emptied",
        "return document.querySelector('textarea[name=pr_comment]').value === ''",
    )
    .await?;
    assert!(
        gh.issue_comments(pr).iter().any(|c| c.body.contains(words)),
        "the comment reached GitHub: {:?}",
        gh.issue_comments(pr)
    );

    // ---- approve
    b.click("#approve").await?;
    b.wait_for("#approved-badge").await?;
    assert!(
        gh.reviews(pr).iter().any(|r| r.state == "APPROVED"),
        "an approving review on GitHub: {:?}",
        gh.reviews(pr)
    );
    b.wait_for(".pr-comment.kind-verdict .badge.ok").await?;

    // ---- merge: pick the method, confirm, and the ticket is done
    b.js(
        "const s = document.querySelector('#merge-method'); s.value = 'merge'; s.dispatchEvent(new Event('change', {bubbles: true}))",
        vec![],
    )
    .await?;
    b.click("#merge").await?;
    let confirm = b.text_of("#merge").await?;
    assert_eq!(confirm, "Really merge into main?");
    b.screenshot("13-review-approved.png").await?;
    b.click("#merge").await?;
    let notice = b.text_of("#review-notice").await?;
    assert!(notice.contains("Merged"), "{notice}");
    b.wait_for(".review-page .pr-meta [data-pr-state=merged]").await?;
    b.wait_js(
        "no merge button and approve disabled once merged",
        "return !document.querySelector('#merge') && document.querySelector('#approve').disabled",
    )
    .await?;
    let pull = gh.pull(pr).ok_or("no pull")?;
    assert!(pull.merged, "merged on GitHub: {pull:?}");
    let main_log = git(&repo.remote, &["log", "--format=%s", "main"]);
    assert!(main_log.contains("Test the checkout total"), "{main_log}");
    b.screenshot("14-review-merged.png").await?;

    // the board shows the ticket in Done (back up the long page first: the sticky top bar
    // would take a click on the crumb half under it)
    b.js("window.scrollTo(0, 0); return true", vec![]).await?;
    b.click(".review-page .crumb").await?;
    b.click(&format!(".tabs a[href=\"/projects/{pid}\"]")).await?;
    b.wait_for(&format!(".column[data-role=done] [data-ticket-id=\"{tid}\"]"))
        .await?;
    b.screenshot("15-board-done.png").await?;

    // ---- the ticket page: its review link, and its comments
    b.click(&format!("[data-ticket-id=\"{tid}\"] .card-title")).await?;
    b.wait_for(&format!(
        ".page-head a.review-link[href=\"/projects/{pid}/tickets/{tid}/review\"]"
    ))
    .await?;
    b.wait_for(".comments .empty").await?;
    b.click("#add-comment").await?;
    let e = b.text_of("#comment-form .field-error").await?;
    assert_eq!(e, "must not be empty");
    b.type_into(
        "#comment-form textarea[name=comment]",
        "Merged after review; follow up on taxes.",
    )
    .await?;
    b.click("#add-comment").await?;
    b.wait_js(
        "the comment listed",
        "const c = document.querySelector('.comments .comment'); return c && c.textContent.includes('follow up on taxes')",
    )
    .await?;
    let comments = s
        .api("GET", &format!("/api/projects/{pid}/tickets/{tid}/comments"), None)
        .await?;
    assert_eq!(comments[0]["body"], "Merged after review; follow up on taxes.");
    assert_eq!(comments[0]["author"], "e2e-user");
    // it survives a reload
    b.client.refresh().await?;
    b.wait_js(
        "the comment after a reload",
        "const c = document.querySelector('.comments .comment'); return c && c.textContent.includes('follow up on taxes')",
    )
    .await?;
    b.js("document.querySelector('.comments').scrollIntoView()", vec![])
        .await?;
    b.screenshot("16-ticket-comments.png").await?;

    // ---- GitHub down: the page says so in words
    gh.fail_requests("/pulls/", 503);
    b.client
        .goto(&format!("{}/projects/{pid}/tickets/{tid}/review", s.base))
        .await?;
    let e = try_eventually("a GitHub error", Duration::from_secs(20), || async {
        let t = b.text_of(".review-page .error").await.ok()?;
        (!t.is_empty()).then_some(t)
    })
    .await?;
    assert!(e.contains("GitHub"), "{e}");
    gh.clear_failures();
    Ok(())
}
