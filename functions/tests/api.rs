//! Black-box tests of the UI-facing API: real router, real database, real tokens.

mod common;

use axum::http::{Method, StatusCode};
use common::{Resp, TestApp};
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn every_route_needs_a_valid_token() {
    let t = TestApp::new().await;
    for (method, path) in [
        (Method::GET, "/api/projects"),
        (Method::POST, "/api/projects"),
        (Method::GET, "/api/settings"),
    ] {
        let r = TestApp::call(&t.api, method.clone(), path, None, Some(json!({})), &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(r.code(), "unauthenticated");
        let r = TestApp::call(&t.api, method.clone(), path, Some("tt_forged"), Some(json!({})), &[]).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a forged token"
        );
    }
    // worker-host tokens cannot use the UI API, user tokens cannot claim jobs
    let r = TestApp::call(&t.api, Method::GET, "/api/projects", Some(&t.worker_token), None, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = TestApp::call(
        &t.worker,
        Method::POST,
        &format!("/worker/jobs/{}/claim", Uuid::new_v4()),
        Some(&t.user_token),
        Some(json!({"host_id": "h", "execution_mode": "docker"})),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// Load balancers and `./dev` ask without a token; the answer holds nothing secret.
#[tokio::test]
async fn health_answers_without_a_token_and_says_only_ok() {
    let t = TestApp::new().await;
    let r = TestApp::call(&t.api, Method::GET, "/api/health", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.ok();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["status", "version"], "{body}");
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn project_lifecycle_with_setup_ticket_and_default_columns() {
    let t = TestApp::new().await;
    let p = t.project("Shop").await;
    let pid = p["id"].as_str().unwrap();
    assert_eq!(p["default_branch"], "main");
    assert_eq!(p["ticket_count"], 1);
    let board = t.board(pid).await;
    let titles: Vec<&str> = board["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Backlog", "In Progress", "In Review", "Done"]);
    let setup = &board["columns"][0]["tickets"][0];
    assert_eq!(setup["title"], "Project setup");
    assert!(
        setup["description"].as_str().unwrap().contains("no application code")
            || setup["description"]
                .as_str()
                .unwrap()
                .contains("Do not write any application code")
    );
    assert_eq!(setup["whole_graph"], true);

    let r = t
        .patch(
            &format!("/api/projects/{pid}"),
            json!({"name": "Shop 2", "execution_mode": "local", "local_path": "/srv/shop"}),
        )
        .await
        .ok();
    assert_eq!(
        (r["name"].as_str(), r["execution_mode"].as_str()),
        (Some("Shop 2"), Some("local"))
    );
    assert_eq!(t.get("/api/projects").await.ok().as_array().unwrap().len(), 1);
    assert_eq!(
        t.delete(&format!("/api/projects/{pid}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.get(&format!("/api/projects/{pid}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.get(&format!("/api/projects/{pid}/board")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bad_input_is_a_named_4xx_and_changes_nothing() {
    let t = TestApp::new().await;
    let cases = [
        (json!({"name": "", "repo_url": "https://h/a/b"}), "name"),
        (json!({"name": "x", "repo_url": "not a url"}), "repo_url"),
        (
            json!({"name": "x", "repo_url": "https://h/a/b", "default_branch": "a..b"}),
            "default_branch",
        ),
        (
            json!({"name": "x", "repo_url": "https://h/a/b", "execution_mode": "local"}),
            "local_path",
        ),
        (json!({"name": "x".repeat(201), "repo_url": "https://h/a/b"}), "name"),
    ];
    for (body, field) in cases {
        let r = t.post("/api/projects", body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.code(), "invalid_input");
        assert_eq!(r.body["error"]["field"], field, "{body}");
    }
    // malformed JSON, wrong enum, unknown field, wrong type, missing content type
    for body in [
        json!({"name": "x", "repo_url": "https://h/a", "execution_mode": "cloud"}),
        json!({"name": 5, "repo_url": "https://h/a"}),
        json!({"name": "x", "repo_url": "https://h/a", "extra": 1}),
    ] {
        let r = t.post("/api/projects", body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.code(), "invalid_json");
        assert!(!r.body["error"]["message"].as_str().unwrap().is_empty());
    }
    let r = TestApp::call(
        &t.api,
        Method::POST,
        "/api/projects",
        Some(&t.user_token),
        None,
        &[("content-type", "application/json")],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = TestApp::call(&t.api, Method::POST, "/api/projects", Some(&t.user_token), None, &[]).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // malformed ids and unknown routes
    assert_eq!(t.get("/api/projects/not-a-uuid").await.code(), "invalid_path");
    assert_eq!(
        t.get(&format!("/api/projects/{}", Uuid::new_v4())).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(t.get("/api/nothing-here").await.status, StatusCode::NOT_FOUND);
    // oversized body
    let huge = json!({"name": "x", "repo_url": "https://h/a", "description": "y".repeat(3 * 1024 * 1024)});
    assert_eq!(
        t.post("/api/projects", huge).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        t.get("/api/projects").await.ok().as_array().unwrap().len(),
        0,
        "nothing was created"
    );
}

#[tokio::test]
async fn graph_replace_patch_and_version_conflicts() {
    let t = TestApp::new().await;
    let pid = t.project("g").await["id"].as_str().unwrap().to_string();
    let (a, b, c, e1) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let g = t
        .put(
            &format!("/api/projects/{pid}/graph"),
            json!({"expected_version": 0, "nodes": [
                {"id": a, "label": "Web", "kind": "frontend", "technology": "Leptos", "x": 10, "y": 20},
                {"id": b, "label": "API", "technology": "Rust"}],
              "edges": [{"id": e1, "source": a, "target": b, "label": "calls", "protocol": "HTTPS"}]}),
        )
        .await
        .ok();
    assert_eq!(g["version"], 1);
    assert_eq!(g["nodes"].as_array().unwrap().len(), 2);
    // a stale version is refused
    let r = t
        .patch(
            &format!("/api/projects/{pid}/graph"),
            json!({"expected_version": 0, "nodes": [{"id": c, "label": "DB"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // patch: add a node, move one, delete the edge
    let g = t
        .patch(
            &format!("/api/projects/{pid}/graph"),
            json!({"expected_version": 1, "nodes": [{"id": c, "label": "DB", "kind": "database"}, {"id": a, "label": "Web", "x": 99, "y": 1}], "delete_edges": [e1]}),
        )
        .await
        .ok();
    assert_eq!(
        (
            g["version"].as_i64(),
            g["nodes"].as_array().unwrap().len(),
            g["edges"].as_array().unwrap().len()
        ),
        (Some(2), 3, 0)
    );
    let web = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == a.to_string())
        .unwrap();
    assert_eq!(web["x"], 99.0);
    // edges must join nodes of this project
    let r = t
        .patch(
            &format!("/api/projects/{pid}/graph"),
            json!({"edges": [{"id": Uuid::new_v4(), "source": a, "target": Uuid::new_v4()}]}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("edges.target"))
    );
    let r = t
        .patch(
            &format!("/api/projects/{pid}/graph"),
            json!({"edges": [{"id": Uuid::new_v4(), "source": a, "target": a}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = t
        .patch(
            &format!("/api/projects/{pid}/graph"),
            json!({"nodes": [{"id": c, "label": "x", "x": 1e300}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // replace drops what is not listed
    let g = t
        .put(
            &format!("/api/projects/{pid}/graph"),
            json!({"nodes": [{"id": b, "label": "API"}]}),
        )
        .await
        .ok();
    assert_eq!(g["nodes"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn columns_add_rename_reorder_delete() {
    let t = TestApp::new().await;
    let pid = t.project("c").await["id"].as_str().unwrap().to_string();
    let qa = t
        .post(
            &format!("/api/projects/{pid}/columns"),
            json!({"title": "QA", "position": 3}),
        )
        .await
        .ok();
    let qa_id = qa["id"].as_str().unwrap();
    let titles = |b: serde_json::Value| {
        b["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["title"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        titles(t.board(&pid).await),
        ["Backlog", "In Progress", "In Review", "QA", "Done"]
    );
    t.patch(
        &format!("/api/projects/{pid}/columns/{qa_id}"),
        json!({"title": "Testing", "position": 0}),
    )
    .await
    .ok();
    assert_eq!(
        titles(t.board(&pid).await),
        ["Testing", "Backlog", "In Progress", "In Review", "Done"]
    );
    // built-in columns cannot go; non-empty ones neither
    let backlog = t.column(&pid, "backlog").await;
    assert_eq!(
        t.delete(&format!("/api/projects/{pid}/columns/{backlog}")).await.status,
        StatusCode::CONFLICT
    );
    let tk = t
        .post(
            &format!("/api/projects/{pid}/tickets"),
            json!({"title": "t", "column_id": qa_id}),
        )
        .await
        .ok();
    let r = t.delete(&format!("/api/projects/{pid}/columns/{qa_id}")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    t.delete(&format!("/api/projects/{pid}/tickets/{}", tk["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        t.delete(&format!("/api/projects/{pid}/columns/{qa_id}")).await.status,
        StatusCode::NO_CONTENT
    );
    let positions: Vec<i64> = t.board(&pid).await["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, [0, 1, 2, 3]);
    // a column of another project is not ours
    let other = t.project("other").await["id"].as_str().unwrap().to_string();
    assert_eq!(
        t.patch(
            &format!("/api/projects/{other}/columns/{backlog}"),
            json!({"title": "x"})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn tickets_crud_attachments_and_comments() {
    let t = TestApp::new().await;
    let pid = t.project("t").await["id"].as_str().unwrap().to_string();
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    t.put(
        &format!("/api/projects/{pid}/graph"),
        json!({"nodes": [{"id": a, "label": "A"}, {"id": b, "label": "B"}]}),
    )
    .await
    .ok();
    let tk = t
        .post(
            &format!("/api/projects/{pid}/tickets"),
            json!({"title": "Add cache", "priority": "high", "node_ids": [a, b]}),
        )
        .await
        .ok();
    let tid = tk["id"].as_str().unwrap();
    assert_eq!(tk["priority"], "high");
    assert_eq!(tk["node_ids"].as_array().unwrap().len(), 2);
    assert_eq!(tk["position"], 1, "after the setup ticket");
    let r = t
        .patch(
            &format!("/api/projects/{pid}/tickets/{tid}"),
            json!({"priority": "critical", "node_ids": [a], "description": "Use redis"}),
        )
        .await
        .ok();
    assert_eq!(
        (r["priority"].as_str(), r["node_ids"].as_array().unwrap().len()),
        (Some("critical"), 1)
    );
    assert_eq!(
        t.patch(
            &format!("/api/projects/{pid}/tickets/{tid}"),
            json!({"priority": "urgent"})
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let r = t
        .patch(
            &format!("/api/projects/{pid}/tickets/{tid}"),
            json!({"node_ids": [Uuid::new_v4()]}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("node_ids"))
    );
    let c = t
        .post(
            &format!("/api/projects/{pid}/tickets/{tid}/comments"),
            json!({"body": "Looks good"}),
        )
        .await
        .ok();
    assert_eq!(c["author"], "alice");
    assert_eq!(
        t.get(&format!("/api/projects/{pid}/tickets/{tid}/comments"))
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // notes on nodes
    let n = t
        .post(
            &format!("/api/projects/{pid}/notes"),
            json!({"body": "stateless", "node_id": a}),
        )
        .await
        .ok();
    let nid = n["id"].as_str().unwrap();
    assert_eq!(
        t.patch(
            &format!("/api/projects/{pid}/notes/{nid}"),
            json!({"body": "stateless!"})
        )
        .await
        .ok()["body"],
        "stateless!"
    );
    assert_eq!(
        t.post(
            &format!("/api/projects/{pid}/notes"),
            json!({"body": "x", "node_id": a, "edge_id": b})
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        t.delete(&format!("/api/projects/{pid}/notes/{nid}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.delete(&format!("/api/projects/{pid}/tickets/{tid}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.get(&format!("/api/projects/{pid}/tickets/{tid}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn secrets_are_write_only_and_encrypted_at_rest() {
    let t = TestApp::new().await;
    let pid = t.project("s").await["id"].as_str().unwrap().to_string();
    let views = t.put("/api/settings", json!({"github_token": "ghp_supersecret", "director_llm_url": "http://127.0.0.1:9/v1", "max_review_rounds": 5})).await.ok();
    let gh = views
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "github_token")
        .unwrap();
    assert_eq!(
        (gh["is_set"].as_bool(), gh["secret"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(gh["value"].is_null());
    assert!(!views.to_string().contains("supersecret"));
    // Every setting says what it is for; the reviewers' token is a secret of its own.
    let views = views.as_array().unwrap();
    assert!(
        views.iter().all(|v| v["help"].as_str().is_some_and(|h| h.len() > 10)),
        "{views:?}"
    );
    let review = views.iter().find(|v| v["key"] == "github_review_token").unwrap();
    assert_eq!(
        (review["secret"].as_bool(), review["is_set"].as_bool()),
        (Some(true), Some(false))
    );
    // Keys travel in HTTP headers: a line break or a space is refused, naming the key.
    for bad in ["ghp_a\nb", "ghp a", "ghp_\u{7f}"] {
        let r = t.put("/api/settings", json!({ "github_token": bad })).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "invalid_input"),
            "{}",
            r.body
        );
        assert!(r.body.to_string().contains("github_token"));
    }
    let (raw,): (Vec<u8>,) = sqlx::query_as("SELECT secret FROM settings WHERE key = 'github_token'")
        .fetch_one(&t.db.pool)
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains("supersecret"));
    // project override and reset
    let views = t
        .put(
            &format!("/api/projects/{pid}/settings"),
            json!({"max_review_rounds": 1, "worker_mode": "claude-code"}),
        )
        .await
        .ok();
    let rounds = views
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "max_review_rounds")
        .unwrap();
    assert_eq!(
        (rounds["value"].as_i64(), rounds["source"].as_str()),
        (Some(1), Some("project"))
    );
    let views = t
        .put(
            &format!("/api/projects/{pid}/settings"),
            json!({"max_review_rounds": null}),
        )
        .await
        .ok();
    let rounds = views
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "max_review_rounds")
        .unwrap();
    assert_eq!(
        (rounds["value"].as_i64(), rounds["source"].as_str()),
        (Some(5), Some("global"))
    );
    for bad in [
        json!({"nope": 1}),
        json!({"max_review_rounds": -1}),
        json!({"worker_mode": "vim"}),
        json!({"director_llm_url": "ftp://x"}),
    ] {
        assert_eq!(
            t.put("/api/settings", bad.clone()).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn the_ui_can_be_served_on_the_same_origin() {
    let t = TestApp::new().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<html>terarchitect</html>").unwrap();
    std::fs::write(dir.path().join("app.js"), "console.log(1)").unwrap();
    let router = terarchitect_functions::http::api_router_with_ui(t.app.clone(), dir.path());
    let text = |path: &'static str| {
        let router = router.clone();
        async move {
            use http_body_util::BodyExt;
            use tower::ServiceExt;
            let res = router
                .oneshot(axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap())
                .await
                .unwrap();
            let status = res.status();
            (
                status,
                String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap(),
            )
        }
    };
    assert_eq!(text("/").await, (StatusCode::OK, "<html>terarchitect</html>".into()));
    assert_eq!(text("/app.js").await.1, "console.log(1)");
    assert_eq!(
        text("/projects/42/board").await.1,
        "<html>terarchitect</html>",
        "UI routes survive a reload"
    );
    let (status, body) = text("/api/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("not_found"));
    let r = TestApp::call(&router, Method::GET, "/api/projects", Some(&t.user_token), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = TestApp::call(&router, Method::GET, "/api/projects", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn check_settings_reports_each_endpoint() {
    let t = TestApp::new().await;
    // A real HTTP server standing in for an OpenAI-compatible provider that wants a key.
    let provider = axum::Router::new().route(
        "/v1/models",
        axum::routing::get(|h: axum::http::HeaderMap| async move {
            if h.get("authorization").is_some_and(|v| v == "Bearer sk-good") {
                (StatusCode::OK, "{\"data\":[]}")
            } else {
                (StatusCode::UNAUTHORIZED, "{}")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, provider).await.unwrap() });
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/v1", l.local_addr().unwrap())
    };
    t.put("/api/settings", json!({"director_llm_url": url, "director_llm_key": "sk-good", "worker_llm_url": url, "worker_llm_key": "sk-bad", "embedding_url": closed}))
        .await
        .ok();
    let report = t.post("/api/settings/check", json!({})).await.ok();
    let item = |name: &str| {
        report["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(item("director LLM")["ok"], true);
    assert_eq!(item("worker LLM")["ok"], false);
    assert!(
        item("worker LLM")["detail"]
            .as_str()
            .unwrap()
            .contains("key was refused")
    );
    assert_eq!(item("embeddings")["detail"], "not reachable");
    assert_eq!(item("embeddings")["configured"], true);
    // No GitHub setting was ever made: nothing to check, not a problem.
    assert_eq!(
        (
            item("GitHub API")["configured"].clone(),
            item("GitHub API")["detail"].clone()
        ),
        (json!(false), json!("not set up"))
    );
    assert!(!report.to_string().contains("sk-good"), "keys never come back");
    // A project override applies to the project's check only.
    let pid = t.project("p").await["id"].as_str().unwrap().to_string();
    t.put(
        &format!("/api/projects/{pid}/settings"),
        json!({"worker_llm_key": "sk-good"}),
    )
    .await
    .ok();
    let report = t
        .post(&format!("/api/projects/{pid}/settings/check"), json!({}))
        .await
        .ok();
    assert_eq!(report["items"][1]["ok"], true, "{report}");

    // Without a Worker endpoint the native Worker uses the Director's: said so, judged by it.
    t.put("/api/settings", json!({"worker_llm_url": null, "worker_llm_key": null}))
        .await
        .ok();
    let report = t.post("/api/settings/check", json!({})).await.ok();
    let worker = &report["items"][1];
    assert_eq!(
        (&worker["name"], &worker["ok"], &worker["detail"]),
        (
            &json!("worker LLM"),
            &json!(true),
            &json!("uses the Director's endpoint")
        ),
        "{report}"
    );
}

#[tokio::test]
async fn the_board_has_an_etag_that_moves_with_every_change() {
    let t = TestApp::new().await;
    let pid = t.project("etag").await["id"].as_str().unwrap().to_string();
    let path = format!("/api/projects/{pid}/board");
    let etag = |t: &TestApp| {
        let (api, token, path) = (t.api.clone(), t.user_token.clone(), path.clone());
        async move {
            use tower::ServiceExt;
            let req = axum::http::Request::get(&path)
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            api.oneshot(req).await.unwrap().headers()["etag"]
                .to_str()
                .unwrap()
                .to_string()
        }
    };
    let first = etag(&t).await;
    let r = TestApp::call(
        &t.api,
        Method::GET,
        &path,
        Some(&t.user_token),
        None,
        &[("if-none-match", first.as_str())],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    // Each kind of change shows: a new ticket, a move that queues a job, a job state change.
    let tid = t.ticket(&pid, "x").await["id"].as_str().unwrap().to_string();
    let second = etag(&t).await;
    assert_ne!(first, second);
    let board = t.board(&pid).await;
    assert_eq!(
        board["columns"][0]["tickets"].as_array().unwrap().len(),
        2,
        "the cached board is not stale"
    );
    let jid = t.move_to(&pid, &tid, "in_progress").await.ok()["job"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let third = etag(&t).await;
    assert_ne!(second, third);
    t.worker_post(
        &format!("/worker/jobs/{jid}/claim"),
        json!({"host_id": "h", "execution_mode": "docker"}),
    )
    .await
    .ok();
    assert_ne!(third, etag(&t).await);
    assert_eq!(
        t.board(&pid).await["columns"][1]["tickets"][0]["job"]["status"],
        "running"
    );
    let r = TestApp::call(
        &t.api,
        Method::GET,
        &path,
        Some(&t.user_token),
        None,
        &[("if-none-match", first.as_str())],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn the_graph_is_sent_with_an_etag_and_never_stale() {
    let t = TestApp::new().await;
    let pid = t.project("graph-etag").await["id"].as_str().unwrap().to_string();
    let path = format!("/api/projects/{pid}/graph");
    let get = |tag: Option<String>| {
        let (api, token, path) = (t.api.clone(), t.user_token.clone(), path.clone());
        async move {
            let headers: Vec<(&str, &str)> = tag.iter().map(|v| ("if-none-match", v.as_str())).collect();
            TestApp::call(&api, Method::GET, &path, Some(&token), None, &headers).await
        }
    };
    let first = get(None).await;
    assert_eq!(first.status, StatusCode::OK);
    let tag = first.headers["etag"].to_str().unwrap().to_string();
    assert_eq!(tag, "\"g0\"");
    assert_eq!(get(Some(tag.clone())).await.status, StatusCode::NOT_MODIFIED);
    // A change right after a read shows at once, under a new tag.
    let node = Uuid::new_v4();
    t.patch(&path, json!({"nodes": [{"id": node, "label": "Queue"}]}))
        .await
        .ok();
    let second = get(Some(tag.clone())).await;
    assert_eq!(second.status, StatusCode::OK, "the cached graph is not stale");
    assert_eq!(second.headers["etag"], "\"g1\"");
    assert_eq!(second.body["nodes"][0]["label"], "Queue");
    assert_eq!(get(None).await.body, second.body, "the cached body is the graph");
    let missing = format!("/api/projects/{}/graph", Uuid::new_v4());
    let r = TestApp::call(&t.api, Method::GET, &missing, Some(&t.user_token), None, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_project_list_is_sent_with_an_etag_that_moves_with_what_it_shows() {
    let t = TestApp::new().await;
    let get = |tag: Option<String>| {
        let (api, token) = (t.api.clone(), t.user_token.clone());
        async move {
            let headers: Vec<(&str, &str)> = tag.iter().map(|v| ("if-none-match", v.as_str())).collect();
            TestApp::call(&api, Method::GET, "/api/projects", Some(&token), None, &headers).await
        }
    };
    let tag_of = |r: &Resp| r.headers["etag"].to_str().unwrap().to_string();
    let pid = t.project("listed").await["id"].as_str().unwrap().to_string();
    let first = get(None).await;
    let tag = tag_of(&first);
    let count = first.body[0]["ticket_count"].as_i64().unwrap();
    assert_eq!(get(Some(tag.clone())).await.status, StatusCode::NOT_MODIFIED);
    // What the list shows moves it: a ticket (its count), a rename, a new project.
    let tid = t.ticket(&pid, "counted").await["id"].as_str().unwrap().to_string();
    let r = get(Some(tag.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "the cached list is not stale");
    assert_eq!(r.body[0]["ticket_count"].as_i64(), Some(count + 1));
    let tag = tag_of(&r);
    // A move shows on the board only: the list stays as it was.
    t.move_to(&pid, &tid, "in_progress").await;
    assert_eq!(get(Some(tag.clone())).await.status, StatusCode::NOT_MODIFIED);
    t.patch(&format!("/api/projects/{pid}"), json!({"name": "renamed"}))
        .await
        .ok();
    let r = get(Some(tag.clone())).await;
    assert_eq!(
        (r.status, r.body[0]["name"].as_str()),
        (StatusCode::OK, Some("renamed"))
    );
    t.project("second").await;
    let r = get(Some(tag_of(&r))).await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(2));
    // Later pages are read afresh and linked as before.
    let r = TestApp::call(
        &t.api,
        Method::GET,
        "/api/projects?limit=1",
        Some(&t.user_token),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body[0]["name"], "renamed");
    let link = r.headers["link"].to_str().unwrap().to_string();
    let next = link.trim_start_matches('<').split('>').next().unwrap().to_string();
    let r = TestApp::call(&t.api, Method::GET, &next, Some(&t.user_token), None, &[]).await;
    assert_eq!(r.body[0]["name"], "second");
}

#[tokio::test]
async fn the_committed_openapi_spec_is_current_and_served() {
    let generated = terarchitect_functions::http::openapi::json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is stale: UPDATE_OPENAPI=1 cargo test -p terarchitect-functions --test api openapi"
    );
    let spec: serde_json::Value = serde_json::from_str(&generated).unwrap();
    for (path, method) in [
        ("/api/projects/{pid}/tickets/{tid}/move", "post"),
        ("/worker/jobs/{jid}/claim", "post"),
        ("/agent/context", "get"),
    ] {
        assert!(spec["paths"][path][method].is_object(), "{method} {path} is documented");
    }
    assert!(spec["components"]["schemas"]["Ticket"].is_object());
    let t = TestApp::new().await;
    assert_eq!(t.get("/api/openapi.json").await.ok(), spec);
}

#[tokio::test]
async fn a_token_writing_too_fast_gets_429_with_retry_after_and_others_do_not() {
    use terarchitect_protocol::TokenKind;
    let t = TestApp::new().await;
    let pid = t.project("p").await["id"].as_str().unwrap().to_string();
    let tid = t.ticket(&pid, "x").await["id"].as_str().unwrap().to_string();
    let limited = common::mint(&t.db, "bob", TokenKind::User).await;
    let patch = |n: usize| {
        let (api, token, path) = (
            t.api.clone(),
            limited.clone(),
            format!("/api/projects/{pid}/tickets/{tid}"),
        );
        async move {
            TestApp::call(
                &api,
                Method::PATCH,
                &path,
                Some(&token),
                Some(json!({"title": format!("t{n}")})),
                &[],
            )
            .await
        }
    };
    // The limit counts per calendar minute: start early in one so it does not roll over.
    let into_minute = || chrono::Utc::now().timestamp() % 60;
    if into_minute() > 30 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(35);
        while into_minute() > 30 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    for n in 0..240 {
        assert_eq!(patch(n).await.status, StatusCode::OK, "write {n} is within the limit");
    }
    let over = patch(240).await;
    assert_eq!(over.status, StatusCode::TOO_MANY_REQUESTS, "{}", over.body);
    assert_eq!(over.code(), "rate_limited");
    let after: u64 = over.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&after), "retry after {after}");
    // Reads are not limited, nor is another token.
    let read = TestApp::call(
        &t.api,
        Method::GET,
        &format!("/api/projects/{pid}/board"),
        Some(&limited),
        None,
        &[],
    )
    .await;
    assert_eq!(read.status, StatusCode::OK);
    t.patch(
        &format!("/api/projects/{pid}/tickets/{tid}"),
        json!({"title": "by alice"}),
    )
    .await
    .ok();
}

#[tokio::test]
async fn the_ui_and_its_api_are_served_with_the_security_headers() {
    let t = TestApp::new().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<!doctype html><title>ui</title>").unwrap();
    let router = terarchitect_functions::http::api_router_with_ui(t.app.clone(), dir.path());
    for path in ["/", "/projects/some/board", "/api/projects"] {
        let r = TestApp::call(&router, Method::GET, path, Some(&t.user_token), None, &[]).await;
        for (name, value) in terarchitect_functions::http::SECURITY_HEADERS {
            assert_eq!(r.headers[name], value, "{name} on {path}");
        }
    }
}
