//! Secrets bound to where they go: a changed endpoint URL clears the secrets sent to the
//! old one, a project that points an endpoint elsewhere never gets the global secret, and
//! the master key rotates (`admin rotate-secrets`) with every secret still opening. Through
//! the real HTTP API and the admin binary, against the real database.

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::TestApp;
use serde_json::{Value, json};
use terarchitect_functions::domain::{App, SecretBox, crypto, settings};
use terarchitect_functions::store;
use terarchitect_protocol::ProjectId;

/// An HTTP endpoint that answers 200 `{"data":[]}` to everything and records each
/// request's `Authorization` header.
struct Recorder {
    url: String,
    seen: Arc<Mutex<Vec<Option<String>>>>,
}

impl Recorder {
    async fn start() -> Recorder {
        let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |h: HeaderMap| {
            let log = log.clone();
            async move {
                let auth = h.get("authorization").map(|v| v.to_str().unwrap().to_string());
                log.lock().unwrap().push(auth);
                (StatusCode::OK, "{\"data\":[]}")
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Recorder { url, seen }
    }

    fn auth_headers(&self) -> Vec<Option<String>> {
        self.seen.lock().unwrap().clone()
    }
}

/// `key` → (is_set, source) in a settings view.
fn state(views: &Value, key: &str) -> (bool, String) {
    let v = views
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {views}"));
    (
        v["is_set"].as_bool().unwrap(),
        v["source"].as_str().unwrap().to_string(),
    )
}

fn is_set(views: &Value, key: &str) -> bool {
    state(views, key).0
}

#[tokio::test]
async fn changing_an_endpoint_url_clears_the_secrets_sent_to_it() {
    let t = TestApp::new().await;
    let all = json!({
        "director_llm_url": "https://director.example/v1", "director_llm_key": "sk-director",
        "worker_llm_url": "https://worker.example/v1", "worker_llm_key": "sk-worker",
        "embedding_url": "https://embed.example/v1", "embedding_key": "sk-embed",
        "github_api_url": "https://ghe.example/api/v3", "github_token": "ghp-agent", "github_review_token": "ghp-me",
        "anthropic_key": "sk-ant",
    });
    let v = t.put("/api/settings", all.clone()).await.ok();
    for k in [
        "director_llm_key",
        "worker_llm_key",
        "embedding_key",
        "github_token",
        "github_review_token",
    ] {
        assert!(is_set(&v, k), "{k}");
    }

    // The same URL again is no change.
    let v = t
        .put(
            "/api/settings",
            json!({"director_llm_url": "https://director.example/v1"}),
        )
        .await
        .ok();
    assert!(is_set(&v, "director_llm_key"));

    // A new URL clears the key that went to the old one, and only that key.
    let v = t
        .put(
            "/api/settings",
            json!({"director_llm_url": "https://elsewhere.example/v1"}),
        )
        .await
        .ok();
    assert!(!is_set(&v, "director_llm_key"));
    assert!(is_set(&v, "worker_llm_key") && is_set(&v, "embedding_key") && is_set(&v, "github_token"));

    // ...unless the same update sets it.
    let v = t
        .put(
            "/api/settings",
            json!({"worker_llm_url": "https://worker2.example/v1", "worker_llm_key": "sk-worker2"}),
        )
        .await
        .ok();
    assert!(is_set(&v, "worker_llm_key"));
    let s = settings::agent_settings(&t.app, None).await.unwrap();
    assert_eq!(s.worker_llm_key.as_deref(), Some("sk-worker2"));

    // Clearing the URL clears its key too.
    let v = t.put("/api/settings", json!({"embedding_url": null})).await.ok();
    assert!(!is_set(&v, "embedding_key"));

    // GitHub's API URL carries both GitHub tokens; the Anthropic key goes to a fixed place.
    let v = t
        .put(
            "/api/settings",
            json!({"github_api_url": "https://evil.example/api/v3"}),
        )
        .await
        .ok();
    assert!(!is_set(&v, "github_token") && !is_set(&v, "github_review_token"));
    assert!(is_set(&v, "anthropic_key") && is_set(&v, "worker_llm_key"));

    // Projects: a URL set (or changed) at project level clears the project's key, not the
    // global one; a global change leaves a project's own key alone.
    t.put("/api/settings", all.clone()).await.ok();
    let pid = t.project("p").await["id"].as_str().unwrap().to_string();
    let project = format!("/api/projects/{pid}/settings");
    let v = t
        .put(
            &project,
            json!({"director_llm_key": "sk-p", "worker_llm_url": "https://pw.example/v1", "worker_llm_key": "sk-pw"}),
        )
        .await
        .ok();
    assert_eq!(state(&v, "director_llm_key"), (true, "project".into()));
    let v = t
        .put(&project, json!({"director_llm_url": "https://p-director.example/v1"}))
        .await
        .ok();
    assert_eq!(state(&v, "director_llm_key"), (false, "default".into()));
    let v = t.get("/api/settings").await.ok();
    assert!(is_set(&v, "director_llm_key"), "the global key stays");
    t.put("/api/settings", json!({"worker_llm_url": "https://worker3.example/v1"}))
        .await
        .ok();
    let v = t.get(&project).await.ok();
    assert_eq!(state(&v, "worker_llm_key"), (true, "project".into()));
    let v = t.put(&project, json!({"worker_llm_url": null})).await.ok();
    assert_eq!(
        state(&v, "worker_llm_key"),
        (false, "default".into()),
        "the project's key went with its URL; the global key was cleared by the global change"
    );
}

#[tokio::test]
async fn a_project_url_override_never_receives_the_global_key() {
    let t = TestApp::new().await;
    let global = Recorder::start().await;
    let own = Recorder::start().await;
    t.put(
        "/api/settings",
        json!({"director_llm_url": global.url, "director_llm_key": "sk-global",
               "worker_llm_url": global.url, "worker_llm_key": "sk-global-worker",
               "github_token": "ghp-global"}),
    )
    .await
    .ok();
    let pid = t.project("p").await["id"].as_str().unwrap().to_string();
    let path = format!("/api/projects/{pid}/settings");
    let v = t
        .put(&path, json!({"director_llm_url": own.url, "github_api_url": own.url}))
        .await
        .ok();
    // The view says what the project really has.
    assert_eq!(state(&v, "director_llm_key"), (false, "default".into()));
    assert_eq!(state(&v, "github_token"), (false, "default".into()));
    assert_eq!(state(&v, "worker_llm_key"), (true, "global".into()));

    // The check sends nothing to the project's endpoint but its own (absent) key.
    let report = t
        .post(&format!("/api/projects/{pid}/settings/check"), json!({}))
        .await
        .ok();
    assert_eq!(report["items"][0]["ok"], true, "{report}");
    let sent = own.auth_headers();
    assert!(!sent.is_empty() && sent.iter().all(Option::is_none), "{sent:?}");
    assert!(
        global.auth_headers().contains(&Some("Bearer sk-global-worker".into())),
        "the worker endpoint is still the global one, with the global key"
    );

    // The agent's settings.
    let tid = t.ticket(&pid, "t").await["id"].as_str().unwrap().to_string();
    let jid = t.move_to(&pid, &tid, "in_progress").await.ok()["job"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let claim = t
        .worker_post(
            &format!("/worker/jobs/{jid}/claim"),
            json!({"host_id": "h", "execution_mode": "docker"}),
        )
        .await
        .ok();
    let ctx = t
        .agent_get("/agent/context", claim["job_token"].as_str().unwrap())
        .await
        .ok();
    let s = &ctx["settings"];
    assert_eq!(s["director_llm_url"], own.url.as_str());
    assert!(s["director_llm_key"].is_null(), "{s}");
    assert!(s["worker_llm_key"].is_null(), "LLM keys never reach the agent: {s}");
    // Its LLM calls through the gateway: the project's endpoint gets no key, the global
    // Worker endpoint its global key.
    let token = claim["job_token"].as_str().unwrap();
    let (own_before, global_before) = (own.auth_headers().len(), global.auth_headers().len());
    for role in ["director", "worker"] {
        t.agent_post(
            &format!("/gateway/{role}/v1/chat/completions"),
            token,
            json!({"messages": []}),
        )
        .await
        .ok();
    }
    assert_eq!(own.auth_headers()[own_before..], [None]);
    assert_eq!(
        global.auth_headers()[global_before..],
        [Some("Bearer sk-global-worker".to_string())]
    );

    // GitHub calls for the project (the review page): no token of its own (the one its
    // run needed is gone since), none at all.
    t.put(&format!("/api/projects/{pid}/settings"), json!({"github_token": null}))
        .await
        .ok();
    t.record_pr(&jid, 7).await;
    t.worker_post(
        &format!("/worker/jobs/{jid}/finish"),
        json!({"host_id": "h", "outcome": "succeeded", "exit_code": 0}),
    )
    .await
    .ok();
    let r = t.get(&format!("/api/projects/{pid}/tickets/{tid}/review")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "github_not_configured"),
        "{}",
        r.body
    );
    let before = own.auth_headers().len();
    // With its own token, that token (and only it) goes to the project's GitHub.
    t.put(&path, json!({"github_token": "ghp-own"})).await.ok();
    t.get(&format!("/api/projects/{pid}/tickets/{tid}/review")).await;
    let sent = own.auth_headers().split_off(before);
    assert!(!sent.is_empty(), "the project's GitHub was called");
    assert!(sent.iter().all(|a| a.as_deref() == Some("Bearer ghp-own")), "{sent:?}");
    assert!(
        !global
            .auth_headers()
            .iter()
            .chain(&own.auth_headers())
            .any(|a| a.as_deref() == Some("Bearer ghp-global"))
    );
}

const KEY_A: &str = common::SECRET_KEY;

fn key_b() -> String {
    STANDARD.encode([42u8; 32])
}

/// Runs `admin rotate-secrets` with `current` and, when given, `previous` keys.
fn rotate(t: &TestApp, current: &str, previous: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_admin"));
    cmd.arg("rotate-secrets")
        .env("DATABASE_URL", &t.db.url)
        .env("JOB_QUEUE_URL", &t.queue.url)
        .env("AWS_ENDPOINT_URL", &t.queue.endpoint)
        .env("TERARCHITECT_SECRET_KEY", current)
        .env_remove("TERARCHITECT_SECRET_KEY_PREVIOUS")
        .env_remove("AWS_LAMBDA_RUNTIME_API");
    if let Some(p) = previous {
        cmd.env("TERARCHITECT_SECRET_KEY_PREVIOUS", p);
    }
    let out = cmd.output().expect("run admin");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The test app's state with other keys configured.
fn with_keys(t: &TestApp, current: &str, previous: &[&str]) -> App {
    App {
        secrets: Some(Arc::new(SecretBox::with_previous(current, previous).unwrap())),
        ..t.app.clone()
    }
}

async fn key_ids(t: &TestApp) -> Vec<Option<String>> {
    sqlx::query_scalar("SELECT secret_key_id FROM settings WHERE secret IS NOT NULL ORDER BY key")
        .fetch_all(&t.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn rotating_the_master_key_reseals_every_secret_and_keeps_them_bound() {
    let t = TestApp::new().await;
    let p = t.project("p").await["id"].as_str().unwrap().to_string();
    let q = t.project("q").await["id"].as_str().unwrap().to_string();
    let (p_id, q_id): (ProjectId, ProjectId) = (p.parse().unwrap(), q.parse().unwrap());
    // Sealed with key A: one global secret, one per project...
    t.put("/api/settings", json!({"director_llm_key": "sk-global"}))
        .await
        .ok();
    t.put(&format!("/api/projects/{p}/settings"), json!({"github_token": "ghp-p"}))
        .await
        .ok();
    // ...and one as deployments stored them before key ids: nonce || ct, no associated data.
    let legacy = {
        let cipher = Aes256Gcm::new_from_slice(&STANDARD.decode(KEY_A).unwrap()).unwrap();
        let mut bytes = vec![9u8; 12];
        bytes.extend(
            cipher
                .encrypt(Nonce::from_slice(&[9u8; 12]), b"sk-embed-q".as_ref())
                .unwrap(),
        );
        bytes
    };
    sqlx::query("INSERT INTO settings (project_id, key, secret) VALUES ($1, 'embedding_key', $2)")
        .bind(q_id)
        .bind(&legacy)
        .execute(&t.db.pool)
        .await
        .unwrap();
    let a_id = crypto::key_id(&STANDARD.decode(KEY_A).unwrap());
    let b_id = crypto::key_id(&STANDARD.decode(key_b()).unwrap());
    assert_eq!(key_ids(&t).await, [Some(a_id.clone()), None, Some(a_id.clone())]);
    // The legacy row opens as it is.
    let s = settings::agent_settings(&t.app, Some(q_id)).await.unwrap();
    assert_eq!(s.embedding_key.as_deref(), Some("sk-embed-q"));

    // Current B, previous A: everything is re-sealed with B, in one go.
    let (ok, out) = rotate(&t, &key_b(), Some(KEY_A));
    assert!(ok, "{out}");
    assert_eq!(
        out.trim(),
        format!("3 secrets: 3 re-sealed, 0 already sealed with key {b_id}")
    );
    assert_eq!(key_ids(&t).await, vec![Some(b_id.clone()); 3]);
    // Idempotent.
    let (ok, out) = rotate(&t, &key_b(), Some(KEY_A));
    assert!(ok, "{out}");
    assert_eq!(
        out.trim(),
        format!("3 secrets: 0 re-sealed, 3 already sealed with key {b_id}")
    );

    // Only B configured: every secret still opens.
    let only_b = with_keys(&t, &key_b(), &[]);
    let s = settings::agent_settings(&only_b, Some(p_id)).await.unwrap();
    assert_eq!(
        (s.director_llm_key.as_deref(), s.github_token.as_deref()),
        (Some("sk-global"), Some("ghp-p"))
    );
    let s = settings::agent_settings(&only_b, Some(q_id)).await.unwrap();
    assert_eq!(s.embedding_key.as_deref(), Some("sk-embed-q"));
    // Only A: a clear error naming the secret and the key, not a panic; the API answers 503.
    let e = settings::agent_settings(&t.app, Some(p_id))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("director_llm_key") && e.contains(&b_id), "{e}");
    let r = t.post(&format!("/api/projects/{p}/settings/check"), json!({})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        "{}",
        r.body
    );
    // A rotation that cannot open a secret changes nothing.
    let (ok, out) = rotate(&t, KEY_A, None);
    assert!(!ok && out.contains("cannot be opened"), "{out}");
    assert_eq!(key_ids(&t).await, vec![Some(b_id.clone()); 3]);

    // A sealed value copied to another project's row, or to another key, does not open.
    let (p_token, p_key_id): (Vec<u8>, String) =
        sqlx::query_as("SELECT secret, secret_key_id FROM settings WHERE project_id = $1 AND key = 'github_token'")
            .bind(p_id)
            .fetch_one(&t.db.pool)
            .await
            .unwrap();
    for (project, key) in [(q_id, "github_token"), (p_id, "worker_llm_key")] {
        sqlx::query(
            "INSERT INTO settings (project_id, key, secret, secret_key_id) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (project_id, key) DO UPDATE SET secret = EXCLUDED.secret, secret_key_id = EXCLUDED.secret_key_id",
        )
        .bind(project)
        .bind(key)
        .bind(&p_token)
        .bind(&p_key_id)
        .execute(&t.db.pool)
        .await
        .unwrap();
        let e = settings::agent_settings(&only_b, Some(project))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(key) && e.contains("sealed for another setting or project"),
            "{e}"
        );
        store::settings::clear(&t.db.pool, Some(project), key).await.unwrap();
    }
}
