//! Requests to user-set URLs (issue 15, "Outbound requests"): internal addresses refused
//! unless allowlisted, plain http only to allowlisted hosts, redirects not followed, the
//! forwarded embeddings body capped, and a settings check that cannot scan ports.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use common::TestApp;
use serde_json::{Value, json};
use terarchitect_functions::store;
use terarchitect_testkit::github::GitHubStandIn;

/// A server on loopback that records the paths it was asked for and answers with `reply`.
struct StandIn {
    url: String,
    hits: Arc<Mutex<Vec<String>>>,
}

impl StandIn {
    async fn start(reply: fn(&Uri, &HeaderMap) -> Response) -> StandIn {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let seen = hits.clone();
        let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(uri.path().to_string());
                reply(&uri, &headers)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        StandIn { url, hits }
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

fn embeddings_reply(_: &Uri, _: &HeaderMap) -> Response {
    axum::Json(json!({"object": "list", "data": [{"index": 0, "embedding": [0.5, 0.5]}]})).into_response()
}

/// Stores a global setting as is, past the save-time check (a value saved before the
/// check existed, or a name whose DNS answer changed since).
async fn store_setting(t: &TestApp, key: &str, value: &str) {
    store::settings::put_value(&t.app.db, None, key, &json!(value))
        .await
        .unwrap();
}

async fn embed(t: &TestApp) -> common::Resp {
    t.post("/v1/embeddings", json!({"model": "m", "input": ["hello"]}))
        .await
}

#[tokio::test]
async fn without_an_allowlist_a_loopback_stand_in_is_not_allowed_and_gets_no_request() {
    let t = TestApp::with_outbound_allow("").await;
    let llm = StandIn::start(embeddings_reply).await;
    let port = llm.url.trim_start_matches("http://127.0.0.1:");

    // Saving: plain http to a host nobody listed is a clear 400.
    let e = t.put("/api/settings", json!({"embedding_url": llm.url})).await;
    assert_eq!(
        (e.status, e.code()),
        (StatusCode::BAD_REQUEST, "invalid_input"),
        "{}",
        e.body
    );
    assert!(
        e.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TERARCHITECT_OUTBOUND_ALLOW"),
        "{}",
        e.body
    );
    // So is https to a loopback literal.
    let e = t
        .put(
            "/api/settings",
            json!({"embedding_url": format!("https://127.0.0.1:{port}")}),
        )
        .await;
    assert_eq!(
        (e.status, e.code()),
        (StatusCode::BAD_REQUEST, "invalid_input"),
        "{}",
        e.body
    );

    // At request time, whatever is stored: the literal, and a name resolving to loopback.
    for url in [llm.url.clone(), format!("https://localhost:{port}")] {
        store_setting(&t, "embedding_url", &url).await;
        let e = embed(&t).await;
        assert_eq!(
            (e.status, e.code()),
            (StatusCode::CONFLICT, "outbound_refused"),
            "{url}: {}",
            e.body
        );
        let pid = t.project(&format!("p{}", url.len())).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let e = t
            .post(&format!("/api/projects/{pid}/memory/index"), json!({"docs": ["a doc"]}))
            .await;
        assert_eq!(
            (e.status, e.code()),
            (StatusCode::CONFLICT, "outbound_refused"),
            "{url}: {}",
            e.body
        );
    }
    assert_eq!(llm.hits(), Vec::<String>::new(), "the stand-in was never called");

    // With loopback listed, the same URL works.
    let t = TestApp::new().await;
    t.put("/api/settings", json!({"embedding_url": llm.url})).await.ok();
    assert_eq!(embed(&t).await.ok()["data"][0]["embedding"], json!([0.5, 0.5]));
    assert_eq!(llm.hits(), ["/v1/embeddings"]);
}

#[tokio::test]
async fn the_metadata_address_and_plain_http_to_a_public_name_are_refused() {
    // Loopback listed, as in the tests and `./dev up`: the rest stays refused.
    let t = TestApp::new().await;
    for (url, why) in [
        ("http://169.254.169.254/latest/meta-data", "TERARCHITECT_OUTBOUND_ALLOW"),
        ("https://169.254.169.254/latest/meta-data", "internal"),
        ("https://[::ffff:169.254.169.254]/v1", "internal"),
        ("https://10.0.0.7/v1", "internal"),
        ("http://api.openai.example/v1", "plain http"),
    ] {
        for key in ["director_llm_url", "embedding_url", "github_api_url"] {
            let e = t.put("/api/settings", json!({key: url})).await;
            assert_eq!(
                (e.status, e.code()),
                (StatusCode::BAD_REQUEST, "invalid_input"),
                "{key}={url}"
            );
            assert!(
                e.body["error"]["message"].as_str().unwrap().contains(why),
                "{key}={url}: {}",
                e.body
            );
        }
    }
    // Stored anyway (before this check existed): refused when used.
    store_setting(&t, "embedding_url", "https://169.254.169.254/v1").await;
    let e = embed(&t).await;
    assert_eq!(
        (e.status, e.code()),
        (StatusCode::CONFLICT, "outbound_refused"),
        "{}",
        e.body
    );
    store_setting(&t, "embedding_url", "http://api.openai.example/v1").await;
    let e = embed(&t).await;
    assert_eq!(
        (e.status, e.code()),
        (StatusCode::CONFLICT, "outbound_refused"),
        "{}",
        e.body
    );
}

fn redirect_reply(_: &Uri, _: &HeaderMap) -> Response {
    // Where the metadata service would be; any other place would do for the test.
    let target = REDIRECT_TARGET.lock().unwrap().clone();
    (StatusCode::FOUND, [("location", target)], "moved").into_response()
}

static REDIRECT_TARGET: Mutex<String> = Mutex::new(String::new());

#[tokio::test]
async fn an_allowlisted_endpoint_answering_a_redirect_is_not_followed() {
    let t = TestApp::new().await;
    let target = StandIn::start(embeddings_reply).await;
    *REDIRECT_TARGET.lock().unwrap() = format!("{}/embeddings", target.url);
    let redirecting = StandIn::start(redirect_reply).await;
    t.put(
        "/api/settings",
        json!({"embedding_url": redirecting.url, "director_llm_url": redirecting.url}),
    )
    .await
    .ok();

    let e = embed(&t).await;
    assert_eq!(
        e.status,
        StatusCode::BAD_GATEWAY,
        "a redirect is the upstream's failure: {}",
        e.body
    );
    let pid = t.project("p").await["id"].as_str().unwrap().to_string();
    let e = t
        .post(&format!("/api/projects/{pid}/memory/index"), json!({"docs": ["a doc"]}))
        .await;
    assert_eq!(
        (e.status, e.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        "{}",
        e.body
    );
    let report = t.post("/api/settings/check", json!({})).await.ok();
    assert_eq!(report["items"][2]["detail"], "not reachable", "{report}");

    // The forward, the extraction, and the check's director LLM and embeddings probes.
    assert_eq!(redirecting.hits().len(), 4, "{:?}", redirecting.hits());
    assert_eq!(target.hits(), Vec::<String>::new(), "the redirect was not followed");
}

fn oversized_reply(uri: &Uri, _: &HeaderMap) -> Response {
    // 5 MB of vector, with a length (`/v1/sized/embeddings`) or streamed without one.
    let chunk = format!("{},", "0.125,".repeat(1024 * 1024 / 6));
    let head = "{\"object\":\"list\",\"data\":[{\"index\":0,\"embedding\":[";
    let chunks: Vec<String> = std::iter::once(head.to_string())
        .chain(std::iter::repeat_n(chunk, 5))
        .chain(std::iter::once("0.5]}]}".to_string()))
        .collect();
    if uri.path().starts_with("/v1/sized") {
        return ([("content-type", "application/json")], chunks.concat()).into_response();
    }
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    ([("content-type", "application/json")], Body::from_stream(stream)).into_response()
}

#[tokio::test]
async fn an_oversized_upstream_embeddings_body_is_an_error_and_nothing_is_forwarded() {
    let t = TestApp::new().await;
    let upstream = StandIn::start(oversized_reply).await;
    for base in [format!("{}/sized", upstream.url), format!("{}/streamed", upstream.url)] {
        t.put("/api/settings", json!({"embedding_url": base})).await.ok();
        let e = embed(&t).await;
        assert_eq!(
            (e.status, e.code()),
            (StatusCode::BAD_GATEWAY, "upstream_too_large"),
            "{base}"
        );
        let text = e.body.to_string();
        assert!(
            text.len() < 1000 && !text.contains("0.125"),
            "{base}: nothing forwarded"
        );
        assert!(
            e.body["error"]["message"].as_str().unwrap().contains("bytes"),
            "{}",
            e.body
        );
    }
    assert_eq!(upstream.hits().len(), 2);
}

fn models_reply(uri: &Uri, headers: &HeaderMap) -> Response {
    match (uri.path(), headers.get("authorization").and_then(|v| v.to_str().ok())) {
        ("/v1/models", Some("Bearer sk-good")) => axum::Json(json!({"data": []})).into_response(),
        ("/v1/models", _) => (StatusCode::UNAUTHORIZED, "{}").into_response(),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
    }
}

#[tokio::test]
async fn the_settings_check_says_reachable_key_refused_not_allowed_or_not_reachable() {
    let t = TestApp::new().await;
    let llm = StandIn::start(models_reply).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/v1", l.local_addr().unwrap())
    };
    let detail = |report: &Value, name: &str| {
        report["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {report}"))["detail"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // A closed port and an endpoint answering 500: the same words, so neither tells the other apart.
    t.put("/api/settings", json!({"director_llm_url": llm.url, "director_llm_key": "sk-good", "worker_llm_url": llm.url, "worker_llm_key": "sk-bad", "embedding_url": closed, "github_api_url": llm.url}))
        .await
        .ok();
    let report = t.post("/api/settings/check", json!({})).await.ok();
    assert_eq!(detail(&report, "director LLM"), "reachable");
    assert_eq!(detail(&report, "worker LLM"), "reachable, but the key was refused");
    assert_eq!(detail(&report, "embeddings"), "not reachable");
    assert_eq!(detail(&report, "GitHub API"), "not reachable", "answered 500");

    // Not allowed: said so, and nothing sent.
    store_setting(&t, "director_llm_url", "https://169.254.169.254/v1").await;
    let before = llm.hits().len();
    let report = t.post("/api/settings/check", json!({})).await.ok();
    let d = detail(&report, "director LLM");
    assert!(d.starts_with("not allowed"), "{d}");
    assert_eq!(
        llm.hits().len(),
        before + 2,
        "only the worker LLM and GitHub were called"
    );
}

/// A real repository whose HEAD is `trunk`, with a second branch `feature`, served by the
/// GitHub stand-in as `o/r` (git's smart HTTP, answered by `git upload-pack`).
async fn served_repository() -> (terarchitect_testkit::git::TempRepo, GitHubStandIn) {
    let repo = terarchitect_testkit::git::TempRepo::on_trunk();
    let github = GitHubStandIn::start().await;
    github.serve_repo("o", "r", &repo.remote);
    (repo, github)
}

#[tokio::test]
async fn a_remote_is_checked_before_saving_and_the_token_goes_only_to_its_own_github() {
    let t = TestApp::new().await;
    let (_repo, github) = served_repository().await;
    t.put(
        "/api/settings",
        json!({"github_api_url": github.url, "github_token": "ghp_repo_check"}),
    )
    .await
    .ok();
    let check = |url: String| {
        let t = &t;
        async move { t.post("/api/repository/check", json!({"repo_url": url})).await }
    };
    let info_refs = |github: &GitHubStandIn| -> Vec<bool> {
        github
            .requests()
            .into_iter()
            .filter(|(what, _)| what.ends_with("/info/refs"))
            .map(|(_, authed)| authed)
            .collect()
    };

    // On the GitHub the token is for: the branches, HEAD's branch, and the token sent.
    let r = check(format!("{}/o/r.git", github.url)).await.ok();
    assert_eq!(
        (&r["reachable"], &r["default_branch"], &r["branches"]),
        (&json!(true), &json!("trunk"), &json!(["feature", "trunk"])),
        "{r}"
    );
    assert_eq!(info_refs(&github), [true]);

    // The same server under another name is another host: no token.
    let other = github.url.replace("127.0.0.1", "localhost");
    let r = check(format!("{other}/o/r")).await.ok();
    assert_eq!(r["reachable"], true, "{r}");
    assert_eq!(info_refs(&github), [true, false]);

    let r = check(format!("{}/o/missing.git", github.url)).await.ok();
    assert_eq!((&r["reachable"], &r["detail"]), (&json!(false), &json!("not found")));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let r = check(format!("http://{closed}/o/r.git")).await.ok();
    assert_eq!(r["detail"], "not reachable", "{r}");
    let r = check("git@github.com:o/r.git".into()).await.ok();
    assert_eq!(r["checked"], false, "{r}");
    // Outside the allowlist nothing is sent at all.
    let r = check("http://10.1.2.3/o/r.git".into()).await.ok();
    assert!(r["detail"].as_str().unwrap().starts_with("not allowed"), "{r}");
    let bad = check("not a url".into()).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
