//! The UI end to end: real `api` serving the release build, real Postgres and SQS
//! emulator, real headless Chromium.

use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use serde_json::{Value, json};
use terarchitect_web_e2e::*;

const LEFT: char = '\u{E012}';
const UP: char = '\u{E013}';
const RIGHT: char = '\u{E014}';

async fn press(b: &Browser, key: char) -> Res<()> {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    b.client.perform_actions(keys).await?;
    Ok(())
}

/// The pull request the API opens for the flow's ticket on the GitHub stand-in.
const PR_URL: &str = "https://github.example/acme/shop/pull/1";

/// A repository whose HEAD is `trunk` (and a `feature` branch), served by the GitHub
/// stand-in as `acme/shop`.
async fn served_shop() -> (
    terarchitect_testkit::git::TempRepo,
    terarchitect_testkit::github::GitHubStandIn,
) {
    let repo = terarchitect_testkit::git::TempRepo::on_trunk();
    let gh = terarchitect_testkit::github::GitHubStandIn::start().await;
    gh.serve_repo("acme", "shop", &repo.remote);
    (repo, gh)
}

async fn node(b: &Browser, label: &str) -> Res<fantoccini::elements::Element> {
    b.wait_for(&format!(".node[data-label=\"{label}\"] circle")).await
}

async fn graph(s: &Stack, pid: &str) -> Res<Value> {
    s.api("GET", &format!("/api/projects/{pid}/graph"), None).await
}

/// Polls the API until `check` accepts the graph.
async fn graph_until(s: &Stack, pid: &str, what: &str, check: impl Fn(&Value) -> bool) -> Res<Value> {
    let g = try_eventually(what, Duration::from_secs(20), || async {
        graph(s, pid).await.ok().filter(|g| check(g))
    })
    .await?;
    Ok(g)
}

fn labels(g: &Value) -> Vec<String> {
    let mut v: Vec<String> = g["nodes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| n["label"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn column_of(board: &Value, ticket: &str) -> Option<(String, usize)> {
    board["columns"].as_array()?.iter().find_map(|c| {
        c["tickets"]
            .as_array()?
            .iter()
            .position(|t| t["id"] == ticket)
            .map(|i| (c["role"].as_str().unwrap_or("custom").to_string(), i))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_in_a_browser() -> Res<()> {
    in_browser("flow", flow).await
}

async fn flow(s: &Stack, b: &Browser) -> Res<()> {
    // ---- sign in: a wrong token is refused in plain words, the right one gets in
    b.client.goto(&s.base).await?;
    b.type_into("#token", "tt_not_a_real_token").await?;
    b.click("#sign-in").await?;
    let msg = b.text_of(".signin .error").await?;
    assert!(msg.contains("not accepted"), "{msg}");
    b.screenshot("00-sign-in.png").await?;
    b.type_into("#token", &s.token).await?;
    b.click("#sign-in").await?;
    b.wait_for("#new-project").await?;

    // ---- create a project, with inline validation from the shared protocol crate
    b.click("#new-project").await?;
    b.type_into(".project-form input[name=name]", "Shop").await?;
    b.type_into(".project-form input[name=repo_url]", "github.com/acme/shop")
        .await?;
    let err = b.text_of(".field-error[data-field=repo_url]").await?;
    assert!(err.contains("must be a git remote URL"), "{err}");
    // The repository as GitHub serves it (smart HTTP), its HEAD on `trunk`: the form
    // checks it before saving and takes the default branch from it.
    let (_shop, gh) = served_shop().await;
    let shop_url = format!("{}/acme/shop.git", gh.url);
    b.type_into(".project-form input[name=repo_url]", &shop_url).await?;
    b.wait_js(
        "the repo error to go",
        "return !document.querySelector('.field-error[data-field=repo_url]')",
    )
    .await?;
    b.click(".project-form button[type=submit]").await?;
    b.wait_js(
        "the new project card",
        "return [...document.querySelectorAll('.project-card h2 a')].some(a => a.textContent === 'Shop')",
    )
    .await?;
    let projects = s.api("GET", "/api/projects", None).await?;
    let pid = projects[0]["id"].as_str().ok_or("no project")?.to_string();
    assert_eq!(
        (projects[0]["repo_url"].as_str(), projects[0]["default_branch"].as_str()),
        (Some(shop_url.as_str()), Some("trunk")),
        "the default branch comes from the remote's HEAD"
    );
    assert_eq!(b.text_of(".project-card .ticket-count").await?, "1");
    b.screenshot("01-projects.png").await?;

    // ---- the graph: add two components, connect, move, rename, undo an addition
    b.click(".project-card h2 a").await?;
    b.wait_for(".column[data-role=backlog] .ticket-card").await?;
    b.click(&format!(".tabs a[href=\"/projects/{pid}/graph\"]")).await?;
    b.wait_for("svg.graph-canvas").await?;
    for label in ["Web app", "Database"] {
        b.click("#add-node:not([disabled])").await?;
        b.type_into(".item-editor input[name=label]", label).await?;
        b.type_into(".item-editor input[name=technology]", "Rust").await?;
        b.click("#save-item").await?;
        node(b, label).await?;
    }
    graph_until(s, &pid, "two saved nodes", |g| labels(g) == ["Database", "Web app"]).await?;

    // select one, shift-click the other, connect
    node(b, "Web app").await?.click().await?;
    let db = node(b, "Database").await?;
    b.with_shift(vec![
        PointerAction::MoveToElement {
            element: db.clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        },
        PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        },
        PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        },
    ])
    .await?;
    b.wait_js(
        "two selected nodes",
        "return document.querySelectorAll('.node.selected').length === 2",
    )
    .await?;
    b.click("#connect").await?;
    b.wait_for(".edge").await?;
    graph_until(s, &pid, "a saved edge", |g| {
        g["edges"].as_array().is_some_and(|e| e.len() == 1)
    })
    .await?;

    // a click on the background clears the selection; shift-drag a box around both
    // components selects them again
    let at = b
        .js(
            "const c = document.querySelector('svg.graph-canvas').getBoundingClientRect();
             const ns = [...document.querySelectorAll('.node')].map(n => n.getBoundingClientRect());
             return [c.left + 8, c.top + 8, Math.min(...ns.map(r => r.left)) - 12, Math.min(...ns.map(r => r.top)) - 12,
                     Math.max(...ns.map(r => r.right)) + 12, Math.max(...ns.map(r => r.bottom)) + 12];",
            vec![],
        )
        .await?;
    let at: Vec<f64> = serde_json::from_value(at)?;
    let click_background = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo {
            duration: None,
            x: at[0],
            y: at[1],
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    b.client.perform_actions(click_background).await?;
    b.client.release_actions().await?;
    b.wait_js(
        "nothing selected",
        "return document.querySelectorAll('.node.selected').length === 0",
    )
    .await?;
    b.with_shift(vec![
        PointerAction::MoveTo {
            duration: None,
            x: at[2],
            y: at[3],
        },
        PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        },
        PointerAction::MoveTo {
            duration: Some(Duration::from_millis(100)),
            x: (at[2] + at[4]) / 2.0,
            y: (at[3] + at[5]) / 2.0,
        },
        PointerAction::MoveTo {
            duration: Some(Duration::from_millis(100)),
            x: at[4],
            y: at[5],
        },
        PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        },
    ])
    .await?;
    b.wait_js(
        "both nodes box-selected",
        "return document.querySelectorAll('.node.selected').length === 2 && !document.querySelector('.select-box')",
    )
    .await?;

    // drag "Web app" with the pointer
    let before = graph(s, &pid).await?;
    let x_of = |g: &Value, l: &str| {
        g["nodes"]
            .as_array()
            .and_then(|a| a.iter().find(|n| n["label"] == l))
            .map(|n| (n["x"].as_f64().unwrap_or(0.0), n["y"].as_f64().unwrap_or(0.0)))
    };
    let (x0, y0) = x_of(&before, "Web app").ok_or("no Web app")?;
    let web = node(b, "Web app").await?;
    let drag = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: web,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(150)),
            x: 60.0,
            y: 20.0,
        })
        .then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(150)),
            x: 60.0,
            y: 20.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    b.client.perform_actions(drag).await?;
    b.client.release_actions().await?;
    graph_until(s, &pid, "the moved node saved", |g| {
        x_of(g, "Web app").is_some_and(|(x, y)| x > x0 + 40.0 && y > y0 + 10.0)
    })
    .await?;

    // double-click "Database" to rename it
    let db = node(b, "Database").await?;
    let dbl = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: db,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    b.client.perform_actions(dbl).await?;
    b.client.release_actions().await?;
    b.wait_js(
        "the editor for Database",
        "const i = document.querySelector('.item-editor input[name=label]'); return i && i.value === 'Database'",
    )
    .await?;
    b.type_into(".item-editor input[name=label]", "Postgres").await?;
    b.type_into(".item-editor input[name=technology]", "PostgreSQL 18")
        .await?;
    b.type_into(".item-editor input[name=kind]", "database").await?;
    b.click("#save-item").await?;
    node(b, "Postgres").await?;
    graph_until(s, &pid, "the rename saved", |g| labels(g) == ["Postgres", "Web app"]).await?;

    // an addition, undone
    b.click("#add-node:not([disabled])").await?;
    b.click(".item-editor .btn.ghost").await?;
    graph_until(s, &pid, "a third node", |g| labels(g).len() == 3).await?;
    b.click("#undo").await?;
    graph_until(s, &pid, "the addition undone", |g| labels(g) == ["Postgres", "Web app"]).await?;
    b.wait_js(
        "two nodes on screen",
        "return document.querySelectorAll('.node').length === 2",
    )
    .await?;
    b.wait_js(
        "the saved state",
        "return document.querySelector('#graph-save-state').dataset.state === 'saved'",
    )
    .await?;
    // double-click the connection to give it a protocol
    let edge = b.wait_for(".edge .edge-hit").await?;
    let dbl = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: edge,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    b.client.perform_actions(dbl).await?;
    b.client.release_actions().await?;
    b.type_into(".item-editor input[name=label]", "orders").await?;
    b.type_into(".item-editor input[name=protocol]", "SQL").await?;
    b.click("#save-item").await?;
    graph_until(s, &pid, "the edge's protocol saved", |g| {
        g["edges"][0]["protocol"] == "SQL" && g["edges"][0]["label"] == "orders"
    })
    .await?;
    // add a component and delete it again with "Delete selected"
    b.click("#add-node:not([disabled])").await?;
    b.type_into(".item-editor input[name=label]", "Scratch").await?;
    b.click("#save-item").await?;
    node(b, "Scratch").await?.click().await?;
    b.click("#delete-selected").await?;
    graph_until(s, &pid, "the scratch node deleted", |g| {
        labels(g) == ["Postgres", "Web app"]
    })
    .await?;

    // a note on the selected component
    node(b, "Postgres").await?.click().await?;
    b.type_into(".notes textarea[name=note]", "Holds orders and users.")
        .await?;
    b.click(".notes button[type=submit]").await?;
    b.wait_for(".notes .note").await?;
    let notes = s.api("GET", &format!("/api/projects/{pid}/notes"), None).await?;
    assert_eq!(notes.as_array().map(|n| n.len()), Some(1));
    assert!(notes[0]["node_id"].is_string());
    // the component carries a badge counting its notes; the note is edited in place
    b.wait_js(
        "a note badge on Postgres",
        "const t = document.querySelector('.node[data-label=Postgres] .note-badge text'); return t && t.textContent === '1'",
    )
    .await?;
    b.click(".notes .note .note-edit").await?;
    b.type_into(
        ".notes .note textarea[name=note_body]",
        "Holds orders, users and carts.",
    )
    .await?;
    b.click(".notes .note .note-form button[type=submit]").await?;
    b.wait_js(
        "the edited note shown",
        "const p = document.querySelector('.notes .note p'); return p && p.textContent === 'Holds orders, users and carts.'",
    )
    .await?;
    let notes = s.api("GET", &format!("/api/projects/{pid}/notes"), None).await?;
    assert_eq!(notes[0]["body"], "Holds orders, users and carts.");
    b.screenshot("02-graph.png").await?;

    // ---- a ticket attached to both components
    b.click(&format!(".tabs a[href=\"/projects/{pid}\"]")).await?;
    b.click("#new-ticket").await?;
    b.type_into(".new-ticket input[name=title]", "Checkout page").await?;
    b.type_into(".new-ticket textarea[name=description]", "Let users pay for the cart.")
        .await?;
    b.wait_js(
        "node checkboxes",
        "return document.querySelectorAll('.new-ticket input[name=node]').length === 2",
    )
    .await?;
    for cb in b.client.find_all(Locator::Css(".new-ticket input[name=node]")).await? {
        cb.click().await?;
    }
    b.click(".new-ticket button[type=submit]").await?;
    let board = try_eventually("the new ticket", Duration::from_secs(20), || async {
        let board = s.api("GET", &format!("/api/projects/{pid}/board"), None).await.ok()?;
        board["columns"][0]["tickets"]
            .as_array()?
            .iter()
            .find(|t| t["title"] == "Checkout page")
            .cloned()
    })
    .await?;
    let tid = board["id"].as_str().ok_or("no ticket id")?.to_string();
    assert_eq!(board["node_ids"].as_array().map(|n| n.len()), Some(2));
    let card = format!("[data-ticket-id=\"{tid}\"]");
    b.wait_js(
        "the card's component chips",
        &format!("const c = document.querySelector('{card}'); return c && c.textContent.includes('Web app') && c.textContent.includes('Postgres')"),
    )
    .await?;

    // ---- drag it to In Progress before anything is set up: refused, saying what a run
    // lacks; the card goes back and nothing is queued
    b.drag_card(&card, "in_progress").await?;
    let banner = b.text_of(".not-ready .not-ready-text").await?;
    assert_eq!(
        banner,
        "Required settings missing: director_llm_url, director_llm_model, github_token."
    );
    b.wait_for(&format!(".column[data-role=backlog] {card} .card-not-ready"))
        .await?;
    let t = s
        .api("GET", &format!("/api/projects/{pid}/tickets/{tid}"), None)
        .await?;
    assert!(t["job"].is_null(), "no run for a ticket that cannot start: {t}");
    assert!(s.queue.drain_bodies().await.is_empty(), "nothing queued");
    b.screenshot("03a-board-not-ready.png").await?;
    // The banner leads to the project's settings: set what a run needs there.
    b.click(".not-ready a.not-ready-settings").await?;
    b.type_into("tr[data-key=director_llm_url] input", "https://llm.invalid/v1")
        .await?;
    b.type_into("tr[data-key=director_llm_model] input", "director-model")
        .await?;
    b.type_into("tr[data-key=github_token] input", "ghp_e2e_project")
        .await?;
    b.click("#save-settings").await?;
    b.wait_js(
        "the project's settings saved",
        "return document.querySelector('#settings-state').textContent === 'Saved'",
    )
    .await?;
    b.client.goto(&format!("{}/projects/{pid}", s.base)).await?;

    // ---- drag it to In Progress again: the job shows as queued and lands in SQS
    b.wait_for(&format!(".column[data-role=backlog] {card}")).await?;
    b.drag_card(&card, "in_progress").await?;
    b.wait_for(&format!(
        ".column[data-role=in_progress] {card} [data-job-status=queued]"
    ))
    .await?;
    let ticket = s
        .api("GET", &format!("/api/projects/{pid}/tickets/{tid}"), None)
        .await?;
    let jid = ticket["job"]["id"].as_str().ok_or("no job on the ticket")?.to_string();
    try_eventually("the job message in SQS", Duration::from_secs(20), || async {
        s.queue
            .drain_bodies()
            .await
            .iter()
            .any(|m| m.contains(&jid))
            .then_some(())
    })
    .await?;
    b.wait_js(
        "the queued time ticking",
        &format!("const j = document.querySelector('{card} [data-job-status=queued]'); return j && /queued [1-9]/.test(j.textContent) && j.textContent"),
    )
    .await?;
    b.screenshot("03-board.png").await?;

    // ---- keyboard moves: "Project setup" right, up, then left again
    let setup = s.api("GET", &format!("/api/projects/{pid}/board"), None).await?["columns"][0]["tickets"][0]["id"]
        .as_str()
        .ok_or("no setup ticket")?
        .to_string();
    let setup_card = format!("[data-ticket-id=\"{setup}\"]");
    b.js("document.querySelector(arguments[0]).focus()", vec![json!(setup_card)])
        .await?;
    press(b, RIGHT).await?;
    let board_at = |want: (&'static str, usize)| {
        let setup = setup.clone();
        let pid = pid.clone();
        async move {
            try_eventually(
                &format!("the setup ticket at {want:?}"),
                Duration::from_secs(20),
                || async {
                    let board = s.api("GET", &format!("/api/projects/{pid}/board"), None).await.ok()?;
                    (column_of(&board, &setup)? == (want.0.to_string(), want.1)).then_some(())
                },
            )
            .await
        }
    };
    // The card is drawn anew when the server's answer arrives (its version changed): a key
    // pressed before that lands on the copy about to go. Press the next key only once the
    // copy on screen shows what the server holds.
    let settled = || async {
        let board = s.api("GET", &format!("/api/projects/{pid}/board"), None).await?;
        let updated_at = board["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["tickets"].as_array().into_iter().flatten())
            .find(|t| t["id"] == setup.as_str())
            .and_then(|t| t["updated_at"].as_str())
            .ok_or("setup ticket not on the board")?
            .to_string();
        b.wait_js(
            "the moved card redrawn from the server's answer",
            &format!(
                "const c = document.querySelector('{setup_card}'); \
                 return c && c.dataset.version === String(Date.parse('{updated_at}'))"
            ),
        )
        .await
        .map(|_| ())
    };
    board_at(("in_progress", 1)).await?;
    settled().await?;
    b.wait_js(
        "focus kept on the moved card",
        &format!("return document.activeElement && document.activeElement.matches('{setup_card}')"),
    )
    .await?;
    press(b, UP).await?;
    board_at(("in_progress", 0)).await?;
    settled().await?;
    b.wait_js(
        "focus kept",
        &format!("return document.activeElement && document.activeElement.matches('{setup_card}')"),
    )
    .await?;
    press(b, LEFT).await?;
    board_at(("backlog", 0)).await?;

    // ---- edit columns: add, rename, move left, delete (empty custom columns only)
    b.click("#edit-columns").await?;
    b.type_into(".column-editor input[name=new_column]", "QA").await?;
    b.click(".column-editor form button[type=submit]").await?;
    b.wait_for(".column[aria-label=QA]").await?;
    let qa_row = ".column-editor .column-row:last-child";
    b.type_into(&format!("{qa_row} input.column-title"), "Quality").await?;
    b.click(&format!("{qa_row} button:nth-of-type(1)")).await?;
    b.wait_for(".column[aria-label=Quality]").await?;
    b.click(&format!("{qa_row} button[aria-label='Move column left']"))
        .await?;
    try_eventually("Quality before Done", Duration::from_secs(20), || async {
        let cols = s.api("GET", &format!("/api/projects/{pid}/columns"), None).await.ok()?;
        let titles: Vec<String> = cols
            .as_array()?
            .iter()
            .map(|c| c["title"].as_str().unwrap_or("").to_string())
            .collect();
        (titles == ["Backlog", "In Progress", "In Review", "Quality", "Done"]).then_some(())
    })
    .await?;
    b.wait_js(
        "the built-in column's delete disabled",
        "return document.querySelector('.column-editor .column-row:first-child .danger').disabled",
    )
    .await?;
    b.screenshot("03b-columns.png").await?;
    b.wait_js(
        "Quality fourth on screen",
        "const r = document.querySelector('.column-editor .column-row:nth-child(4)'); return r && r.querySelector('input').value === 'Quality' && !r.querySelector('.danger').disabled",
    )
    .await?;
    b.click(".column-editor .column-row:nth-child(4) .danger").await?;
    b.wait_js(
        "Quality gone",
        "return !document.querySelector('.column[aria-label=Quality]')",
    )
    .await?;
    b.click("#edit-columns").await?;

    // ---- the ticket page follows the run's log live
    let claim = s
        .call(
            &s.worker_base,
            &s.worker_token,
            "POST",
            &format!("/worker/jobs/{jid}/claim"),
            Some(json!({"host_id": "e2e-host", "execution_mode": "docker"})),
        )
        .await?;
    let job_token = claim["job_token"].as_str().ok_or("no job token")?.to_string();
    // the board follows on its own: the claimed run shows as running without a reload
    b.wait_for(&format!("{card} [data-job-status=running]")).await?;
    b.click(&format!("{card} .card-title")).await?;
    b.wait_for("#log-status[data-job-status=running]").await?;
    let append = |events: Value| {
        let job_token = job_token.clone();
        async move {
            s.call(
                &s.worker_base,
                &job_token,
                "POST",
                "/agent/events",
                Some(json!({ "events": events })),
            )
            .await
        }
    };
    append(json!([
        {"phase": "plan", "step": "read context", "summary": "Read the ticket, 2 components and 1 connection.", "input_tokens": 1200, "output_tokens": 300},
        {"phase": "plan", "step": "write plan", "summary": "Add a checkout route, a payment client and tests.", "input_tokens": 800, "output_tokens": 450}
    ]))
    .await?;
    b.wait_js(
        "two live log entries",
        "return document.querySelectorAll('.log .event').length === 2",
    )
    .await?;
    append(json!([
        {"phase": "execute", "step": "run tests", "summary": "cargo test: 12 passed", "raw_output": "running 12 tests\ntest checkout::total ... ok\n\ntest result: ok. 12 passed", "input_tokens": 500, "output_tokens": 50}
    ]))
    .await?;
    b.wait_js(
        "a third entry in a second phase",
        "return document.querySelectorAll('.log .event').length === 3 && document.querySelectorAll('.log details.phase').length === 2",
    )
    .await?;
    // The header counts what the gateway metered for the run (nothing yet), not what the
    // events say they used (shown with each event).
    let tokens = b.text_of(".log-head .muted").await?;
    assert_eq!(tokens, "0 in / 0 out tokens");
    // The log spans the page, below the runs and the ticket (its lines are long).
    let wide = b
        .js(
            "const w = s => document.querySelector(s).getBoundingClientRect().width; \
             return w('.log') >= 0.9 * w('.ticket-layout')",
            vec![],
        )
        .await?;
    assert_eq!(wide, json!(true), "the log uses the page's width");
    // A failing step is marked as such.
    append(json!([
        {"phase": "worker", "step": "tool_failed", "summary": "run_command pytest → exit code 1"}
    ]))
    .await?;
    b.wait_js(
        "the failed step marked",
        "const f = document.querySelector('.log .event.failed'); return !!f && f.textContent.includes('exit code 1')",
    )
    .await?;
    b.click(".log details.raw summary").await?;
    b.wait_js(
        "raw output open",
        "return document.querySelector('.log details.raw').open",
    )
    .await?;
    b.screenshot("04-ticket-live-log.png").await?;

    // ---- Stop reaches the worker; the host reports the run cancelled; Retry appears
    b.click("#stop-job").await?;
    b.wait_for("#stop-note").await?;
    try_eventually("cancel requested", Duration::from_secs(20), || async {
        let hb = s
            .call(
                &s.worker_base,
                &s.worker_token,
                "POST",
                &format!("/worker/jobs/{jid}/heartbeat"),
                Some(json!({"host_id": "e2e-host"})),
            )
            .await
            .ok()?;
        hb["cancel_requested"].as_bool().filter(|c| *c)
    })
    .await?;
    s.call(
        &s.worker_base,
        &s.worker_token,
        "POST",
        &format!("/worker/jobs/{jid}/finish"),
        Some(json!({"host_id": "e2e-host", "outcome": "cancelled", "reason": "stopped by a user"})),
    )
    .await?;
    b.wait_for("#log-status[data-job-status=cancelled]").await?;
    b.wait_for("#retry-job").await?;
    b.wait_for(".job-row .job-cancelled").await?;

    assert!(b.text_of("#log-status").await? == "cancelled");

    // Retry queues a fresh run; a host finishes it with a pull request
    b.click("#retry-job").await?;
    b.wait_js(
        "two runs listed",
        "return document.querySelectorAll('.job-row').length === 2",
    )
    .await?;
    b.wait_for("#log-status[data-job-status=queued]").await?;
    let jobs = s
        .api("GET", &format!("/api/projects/{pid}/tickets/{tid}/jobs"), None)
        .await?;
    let jid2 = jobs[0]["id"].as_str().ok_or("no retried job")?.to_string();
    assert_ne!(jid2, jid);
    let claim = s
        .call(
            &s.worker_base,
            &s.worker_token,
            "POST",
            &format!("/worker/jobs/{jid2}/claim"),
            Some(json!({"host_id": "e2e-host", "execution_mode": "docker"})),
        )
        .await?;
    let job_token = claim["job_token"].as_str().ok_or("no job token")?;
    // The agent has the API open its pull request on GitHub (the stand-in serving the
    // project's repository); that PR, not anything the host says, is the run's.
    let github = json!({"github_api_url": gh.url, "github_token": "ghp_e2e_project"});
    s.api("PUT", &format!("/api/projects/{pid}/settings"), Some(github))
        .await?;
    let pr = s
        .call(
            &s.worker_base,
            job_token,
            "PUT",
            "/agent/pull-request",
            Some(json!({"title": "Checkout page", "body": "Adds the checkout."})),
        )
        .await?;
    assert_eq!(pr["url"], PR_URL, "{pr}");
    s.call(
        &s.worker_base,
        &s.worker_token,
        "POST",
        &format!("/worker/jobs/{jid2}/finish"),
        Some(json!({"host_id": "e2e-host", "outcome": "succeeded", "exit_code": 0})),
    )
    .await?;
    b.wait_for("#log-status[data-job-status=succeeded]").await?;
    b.wait_for(&format!(".page-head a.pr-link[href='{PR_URL}']")).await?;

    // edit the ticket's title (an empty one is refused inline first)
    b.wait_for(".ticket-form input[name=title]").await?.clear().await?;
    b.type_into(".ticket-form input[name=title]", " ").await?;
    let err = b.text_of(".ticket-form .field-error").await?;
    assert_eq!(err, "must not be empty");
    b.type_into(".ticket-form input[name=title]", "Checkout page with Stripe")
        .await?;
    b.click("#save-ticket").await?;
    try_eventually("the title saved", Duration::from_secs(20), || async {
        let t = s
            .api("GET", &format!("/api/projects/{pid}/tickets/{tid}"), None)
            .await
            .ok()?;
        (t["title"] == "Checkout page with Stripe").then_some(())
    })
    .await?;
    b.wait_js(
        "the heading updated",
        "return document.querySelector('#ticket-title').textContent === 'Checkout page with Stripe'",
    )
    .await?;
    b.screenshot("05-ticket-stopped.png").await?;

    // the card on the board links the pull request and shows the finished run
    b.click(".crumb").await?;
    b.wait_for(&format!("{card} a.pr-link[href='{PR_URL}']")).await?;
    b.wait_for(&format!("{card} [data-job-status=succeeded]")).await?;
    b.screenshot("05b-board-pr.png").await?;
    b.click(&format!(".tabs a[href=\"/projects/{pid}/review\"]")).await?;
    b.wait_for(&format!(".review-list a.pr-link[href='{PR_URL}']")).await?;

    // ---- the ticket page moves the ticket as the board does: into In Progress queues
    // a run (shown at once), on to Done cancels it while still queued
    b.client
        .goto(&format!("{}/projects/{pid}/tickets/{tid}", s.base))
        .await?;
    let option_of = |role: &'static str| async move {
        let o = b.wait_for(&format!("#ticket-column option[data-role={role}]")).await?;
        let value: Res<String> = o.attr("value").await?.ok_or_else(|| format!("no {role} option").into());
        value
    };
    let in_progress = option_of("in_progress").await?;
    let done = option_of("done").await?;
    b.wait_js(
        "the ticket loaded",
        "return document.querySelectorAll('.job-row').length === 2",
    )
    .await?;
    b.wait_for("#ticket-column:not([disabled])")
        .await?
        .select_by_value(&in_progress)
        .await?;
    b.wait_for("#log-status[data-job-status=queued]").await?;
    assert_eq!(b.text_of("#move-note").await?, "Moved to In Progress: a run is queued.");
    b.wait_js(
        "three runs listed, newest first",
        "const r = document.querySelectorAll('.job-row'); return r.length === 3 && r[0].cells[0].textContent.trim() === '#3 implement'",
    )
    .await?;
    let jobs = s
        .api("GET", &format!("/api/projects/{pid}/tickets/{tid}/jobs"), None)
        .await?;
    let jid3 = jobs[0]["id"].as_str().ok_or("no third job")?.to_string();
    assert_eq!(jobs[0]["status"], "queued");
    b.wait_for("#ticket-column:not([disabled])")
        .await?
        .select_by_value(&done)
        .await?;
    b.wait_js(
        "the move to Done",
        "const n = document.querySelector('#move-note'); return n && n.textContent === 'Moved to Done: its queued run was cancelled.'",
    )
    .await?;
    b.wait_for(&format!(".job-row[data-job-id=\"{jid3}\"] .job-cancelled"))
        .await?;
    let t = s
        .api("GET", &format!("/api/projects/{pid}/tickets/{tid}"), None)
        .await?;
    assert_eq!(t["column_id"], done.as_str());
    b.screenshot("05c-ticket-moved.png").await?;
    b.click(".crumb").await?;
    b.wait_for(&format!(".column[data-role=done] {card}")).await?;

    // ---- settings: a secret is write-only and shows as set
    b.click(".topbar nav a[href=\"/settings\"]").await?;
    b.type_into("tr[data-key=github_token] input", "ghp_e2e_secret").await?;
    b.type_into("tr[data-key=worker_llm_model] input", "qwen3-coder")
        .await?;
    b.type_into("tr[data-key=max_review_rounds] input", "99").await?;
    b.click("#save-settings").await?;
    let err = b.text_of(".settings-form .field-error").await?;
    assert!(err.contains("whole number"), "{err}");
    b.type_into("tr[data-key=max_review_rounds] input", "5").await?;
    b.click("#save-settings").await?;
    b.wait_js(
        "the secret shown as set",
        "const e = document.querySelector('tr[data-key=github_token] .secret-state'); return e && e.textContent === 'set'",
    )
    .await?;
    let settings = s.api("GET", "/api/settings", None).await?;
    let gh = settings
        .as_array()
        .and_then(|a| a.iter().find(|x| x["key"] == "github_token"))
        .ok_or("no github_token")?;
    assert_eq!(gh["is_set"], true);
    assert!(gh["value"].is_null(), "secrets never come back");
    let page = b.client.source().await?;
    assert!(!page.contains("ghp_e2e_secret"), "the secret must not be in the page");
    b.screenshot("06-settings.png").await?;
    // Editing the URL the saved token is sent to warns, before saving, that it clears it.
    b.type_into("tr[data-key=github_api_url] input", "https://ghe.example.com/api/v3")
        .await?;
    let row = b.text_of("tr[data-key=github_api_url] .url-warning").await?;
    assert!(
        row.contains("Changing this URL clears the saved key: GitHub token"),
        "{row}"
    );
    let warning = b.text_of("#settings-warning").await?;
    assert!(warning.contains("GitHub token"), "{warning}");
    b.screenshot("06b-settings-url-warning.png").await?;

    // ---- project settings tab
    b.client.goto(&format!("{}/projects/{pid}/settings", s.base)).await?;
    b.wait_for(".settings-form tr[data-key=github_token]").await?;
    b.wait_js(
        "the project form",
        "return !!document.querySelector('.project-form input[name=name]')",
    )
    .await?;
    b.screenshot("07-project-settings.png").await?;

    // ---- edit the project from the list, then delete it (two clicks)
    b.click(".topbar nav a[href=\"/\"]").await?;
    b.click(".project-card .row .btn:not(.danger)").await?;
    b.type_into(".project-card .project-form input[name=default_branch]", "bad..branch")
        .await?;
    let err = b
        .text_of(".project-card .field-error[data-field=default_branch]")
        .await?;
    assert!(err.contains("not a valid git branch name"), "{err}");
    b.type_into(".project-card .project-form input[name=default_branch]", "release")
        .await?;
    b.type_into(".project-card .project-form input[name=name]", "Shop 2")
        .await?;
    // A branch the remote does not have: warned about, saved on the second click.
    b.click(".project-card .project-form button[type=submit]").await?;
    let warning = b.text_of(".project-card .repo-warning").await?;
    assert!(
        warning.contains("no branch \"release\"") && warning.contains("feature, trunk"),
        "{warning}"
    );
    assert_eq!(
        b.text_of(".project-card .project-form button[type=submit]").await?,
        "Save anyway"
    );
    b.screenshot("07b-project-branch-warning.png").await?;
    b.click(".project-card .project-form button[type=submit]").await?;
    b.wait_js(
        "the renamed project",
        "return [...document.querySelectorAll('.project-card h2 a')].some(a => a.textContent === 'Shop 2')",
    )
    .await?;
    let p = s.api("GET", &format!("/api/projects/{pid}"), None).await?;
    assert_eq!(
        (p["name"].as_str(), p["default_branch"].as_str()),
        (Some("Shop 2"), Some("release"))
    );
    b.click(".project-card .btn.danger").await?;
    b.wait_js(
        "the delete confirmation",
        "return document.querySelector('.project-card .btn.danger').textContent.includes('Really')",
    )
    .await?;
    b.click(".project-card .btn.danger").await?;
    b.wait_js("the card gone", "return !document.querySelector('.project-card')")
        .await?;
    assert_eq!(s.api("GET", "/api/projects", None).await?, json!([]));

    // ---- sign out
    b.click("#sign-out").await?;
    b.wait_for("#token").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_of_500_tickets_renders_fast() -> Res<()> {
    in_browser("500", big_board).await
}

async fn big_board(s: &Stack, b: &Browser) -> Res<()> {
    let p = s
        .api(
            "POST",
            "/api/projects",
            Some(json!({"name": "Big", "repo_url": "https://github.com/acme/big.git"})),
        )
        .await?;
    let pid = p["id"].as_str().ok_or("no id")?.to_string();
    let mut set = tokio::task::JoinSet::new();
    for chunk in 0..10 {
        let http = s.http.clone();
        let base = s.base.clone();
        let token = s.token.clone();
        let pid = pid.clone();
        set.spawn(async move {
            for i in 0..50 {
                let n = chunk * 50 + i;
                let prio = ["low", "medium", "high", "critical"][n % 4];
                let r = http
                    .post(format!("{base}/api/projects/{pid}/tickets"))
                    .bearer_auth(&token)
                    .json(
                        &json!({"title": format!("Ticket number {n}"), "description": "Generated.", "priority": prio}),
                    )
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !r.status().is_success() {
                    return Err(format!("create ticket: {}", r.status()));
                }
            }
            Ok::<_, String>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    b.client.goto(&s.base).await?;
    b.js(
        "sessionStorage.setItem('terarchitect.token', arguments[0])",
        vec![json!(s.token)],
    )
    .await?;
    let mut times = vec![];
    for _ in 0..3 {
        b.client.goto(&format!("{}/projects/{pid}", s.base)).await?;
        let ms = b
            .wait_js(
                "the 501-ticket board",
                "const e = document.querySelector('.board[data-ticket-count=\"501\"]'); return e && e.dataset.renderMs",
            )
            .await?;
        let ms: f64 = ms.as_str().unwrap_or("0").parse()?;
        assert_eq!(
            b.js("return document.querySelectorAll('.ticket-card').length", vec![])
                .await?,
            json!(501)
        );
        times.push(ms);
    }
    b.screenshot("08-board-500.png").await?;
    let line = format!("board of 501 tickets rendered in {times:?} ms (first load, two reloads)\n");
    println!("{line}");
    std::fs::write(artifacts().join("board-500-render-ms.txt"), line)?;
    // A figure, not a verdict (target: under 200 ms): wall-clock time is reported, never
    // asserted, so a loaded machine cannot fail the suite.
    assert!(
        times.iter().all(|t| *t > 0.0),
        "the board reported its render time: {times:?}"
    );
    Ok(())
}
