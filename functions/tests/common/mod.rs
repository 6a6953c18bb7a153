//! Black-box harness: a fresh database and queue per test, the real routers, real tokens.
#![allow(dead_code)]

pub mod openai;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use terarchitect_functions::domain::outbound::{Allowlist, Outbound};
use terarchitect_functions::domain::{App, JobQueue, SecretBox, crypto};
use terarchitect_functions::{http, store};
use terarchitect_protocol::TokenKind;
use terarchitect_testkit::{TestDb, TestQueue};
use tower::ServiceExt;

pub const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub struct TestApp {
    pub app: App,
    pub api: Router,
    pub worker: Router,
    pub db: TestDb,
    pub queue: TestQueue,
    pub user_token: String,
    /// A worker token bound to host [`HOST`].
    pub worker_token: String,
    /// Tokens of other hosts, minted on first use by [`TestApp::worker_post`].
    host_tokens: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// The host the test app's worker token is bound to.
pub const HOST: &str = "h";

pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn ok(self) -> Value {
        assert!(
            self.status.is_success(),
            "expected success, got {} {}",
            self.status,
            self.body
        );
        self.body
    }
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

impl TestApp {
    /// Outbound requests allowed to loopback, where the stand-ins listen.
    pub async fn new() -> TestApp {
        TestApp::with_outbound_allow(terarchitect_testkit::stack::functions::LOCAL_OUTBOUND_ALLOW).await
    }

    /// `allow` as `TERARCHITECT_OUTBOUND_ALLOW` ("" for a deployment's default).
    pub async fn with_outbound_allow(allow: &str) -> TestApp {
        let db = TestDb::new().await;
        store::migrate(&db.pool).await.expect("migrate");
        let queue = TestQueue::new().await;
        let app = App {
            db: db.pool.clone(),
            queue: JobQueue::new(queue.client.clone(), queue.url.clone()),
            secrets: Some(std::sync::Arc::new(SecretBox::from_key(SECRET_KEY).unwrap())),
            lease: Duration::from_secs(60),
            agent_writes_per_minute: terarchitect_functions::domain::AGENT_WRITES_PER_MINUTE,
            github_api_url: "http://127.0.0.1:1".into(),
            anthropic_api_url: "http://127.0.0.1:1".into(),
            outbound: Outbound::new(Allowlist::parse(allow).unwrap()).unwrap(),
        };
        // Tests write far faster than people: no rate limit for these two.
        let user_token = mint_with_limit(&db, "alice", TokenKind::User, Some(i32::MAX)).await;
        let worker_token = mint_with_limit(&db, HOST, TokenKind::Worker, Some(i32::MAX)).await;
        TestApp {
            api: http::api_router(app.clone()),
            worker: http::worker_router(app.clone()),
            app,
            db,
            queue,
            user_token,
            worker_token,
            host_tokens: Default::default(),
        }
    }

    pub async fn call(
        router: &Router,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = router.clone().oneshot(req).await.expect("router never fails");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let html = headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
        let body = if bytes.is_empty() {
            Value::Null
        } else if html {
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("non-JSON body ({status}): {}", String::from_utf8_lossy(&bytes)))
        };
        Resp { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Resp {
        Self::call(&self.api, Method::GET, path, Some(&self.user_token), None, &[]).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        Self::call(&self.api, Method::POST, path, Some(&self.user_token), Some(body), &[]).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Resp {
        Self::call(&self.api, Method::PUT, path, Some(&self.user_token), Some(body), &[]).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        Self::call(&self.api, Method::PATCH, path, Some(&self.user_token), Some(body), &[]).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        Self::call(&self.api, Method::DELETE, path, Some(&self.user_token), None, &[]).await
    }
    /// A worker-route POST as the host the body's `host_id` names (with that host's own
    /// token), or as [`HOST`].
    pub async fn worker_post(&self, path: &str, body: Value) -> Resp {
        let token = match body["host_id"].as_str() {
            Some(h) if h != HOST => self.token_of(h).await,
            _ => self.worker_token.clone(),
        };
        self.worker_post_with(&token, path, body).await
    }
    /// `host`'s worker token, the same on every call.
    pub async fn token_of(&self, host: &str) -> String {
        let known = self.host_tokens.lock().unwrap().get(host).cloned();
        match known {
            Some(t) => t,
            None => {
                let t = self.host_token(host).await;
                self.host_tokens.lock().unwrap().insert(host.into(), t.clone());
                t
            }
        }
    }
    /// A worker token of its own for `host` (no write limit).
    pub async fn host_token(&self, host: &str) -> String {
        mint_with_limit(&self.db, host, TokenKind::Worker, Some(i32::MAX)).await
    }
    /// A worker-route POST with another host's token (see [`TestApp::host_token`]).
    pub async fn worker_post_with(&self, token: &str, path: &str, body: Value) -> Resp {
        Self::call(&self.worker, Method::POST, path, Some(token), Some(body), &[]).await
    }
    pub async fn agent_get(&self, path: &str, job_token: &str) -> Resp {
        Self::call(&self.worker, Method::GET, path, Some(job_token), None, &[]).await
    }
    pub async fn agent_post(&self, path: &str, job_token: &str, body: Value) -> Resp {
        Self::call(&self.worker, Method::POST, path, Some(job_token), Some(body), &[]).await
    }

    /// A project on a placeholder remote; returns its JSON.
    pub async fn project(&self, name: &str) -> Value {
        self.post(
            "/api/projects",
            serde_json::json!({"name": name, "repo_url": "https://example.com/acme/shop.git"}),
        )
        .await
        .ok()
    }

    pub async fn board(&self, pid: &str) -> Value {
        self.get(&format!("/api/projects/{pid}/board")).await.ok()
    }

    /// The id of the column with `role`.
    pub async fn column(&self, pid: &str, role: &str) -> String {
        let board = self.board(pid).await;
        board["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["role"] == role)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn ticket(&self, pid: &str, title: &str) -> Value {
        self.post(
            &format!("/api/projects/{pid}/tickets"),
            serde_json::json!({"title": title, "whole_graph": true}),
        )
        .await
        .ok()
    }

    pub async fn move_to(&self, pid: &str, tid: &str, role: &str) -> Resp {
        if role == "in_progress" {
            self.make_runnable(pid).await;
        }
        let col = self.column(pid, role).await;
        self.post(
            &format!("/api/projects/{pid}/tickets/{tid}/move"),
            serde_json::json!({"column_id": col}),
        )
        .await
    }

    /// Sets, on the project, a placeholder for each setting a run needs that is not set
    /// yet (globally or on the project), so that a move into In Progress queues a job.
    /// Nothing calls the placeholders; a test that does sets its own values first.
    pub async fn make_runnable(&self, pid: &str) {
        let views = self.get(&format!("/api/projects/{pid}/settings")).await.ok();
        let placeholders = serde_json::json!({
            "director_llm_url": "https://llm.invalid/v1",
            "director_llm_model": "placeholder-model",
            "github_token": "ghp_placeholder",
        });
        let unset: serde_json::Map<String, Value> = placeholders
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| {
                let view = views.as_array().unwrap().iter().find(|v| v["key"] == k.as_str());
                !view.is_some_and(|v| v["is_set"] == true)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !unset.is_empty() {
            self.put(&format!("/api/projects/{pid}/settings"), Value::Object(unset))
                .await
                .ok();
        }
    }

    /// Host `h` claims job `jid`: the job token its agent gets.
    pub async fn claimed(&self, jid: &str) -> String {
        self.worker_post(
            &format!("/worker/jobs/{jid}/claim"),
            serde_json::json!({"host_id": "h", "execution_mode": "docker"}),
        )
        .await
        .ok()["job_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Records PR `number` of `acme/shop` on running job `jid`, as the API does once it
    /// opened or verified the PR for the agent (`PUT /agent/pull-request`): for tests
    /// about what follows a success rather than about opening it.
    pub async fn record_pr(&self, jid: &str, number: u64) {
        let url = format!("https://github.example/acme/shop/pull/{number}");
        let recorded = store::jobs::record_pr(&self.app.db, jid.parse().unwrap(), &url, number as i64)
            .await
            .unwrap();
        assert!(recorded, "job {jid} is not running");
    }

    /// Job ids currently in the queue (not deleted), in arrival order.
    pub async fn queued_job_ids(&self) -> Vec<String> {
        self.queue
            .drain_bodies()
            .await
            .into_iter()
            .map(|b| {
                serde_json::from_str::<Value>(&b).unwrap()["job_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }
}

pub async fn mint(db: &TestDb, name: &str, kind: TokenKind) -> String {
    mint_with_limit(db, name, kind, None).await
}

/// A token with its own writes-per-minute limit; a worker token is bound to the host `name`.
pub async fn mint_with_limit(db: &TestDb, name: &str, kind: TokenKind, writes_per_minute: Option<i32>) -> String {
    let token = crypto::new_token("tt_");
    let host = (kind == TokenKind::Worker).then_some(name);
    let id = store::tokens::insert(&db.pool, name, kind, host, &crypto::hash_token(&token))
        .await
        .unwrap();
    store::tokens::set_writes_per_minute(&db.pool, id, writes_per_minute)
        .await
        .unwrap();
    token
}

/// Runs the operator CLI (`admin ARGS`) as operators do, with the test app's database and
/// queue: (success, stdout + stderr, stdout).
pub fn admin(t: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_admin"))
        .args(args)
        .env("DATABASE_URL", &t.db.url)
        .env("JOB_QUEUE_URL", &t.queue.url)
        .env("AWS_ENDPOINT_URL", &t.queue.endpoint)
        .env("TERARCHITECT_SECRET_KEY", SECRET_KEY)
        .env(
            "TERARCHITECT_OUTBOUND_ALLOW",
            terarchitect_testkit::stack::functions::LOCAL_OUTBOUND_ALLOW,
        )
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .expect("run admin");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    (out.status.success(), all, stdout)
}
