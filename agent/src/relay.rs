//! A loopback relay to the LLM gateway for the Worker CLIs (opencode, Claude Code). They
//! call it without a credential and it adds the job token, so the token stays inside the
//! agent's process, which the CLIs and the commands they run (another user, see
//! `sandbox`) cannot read. What they can do through it is what the gateway allows the
//! Worker: LLM calls, metered to this job. Only the gateway's two call paths are relayed,
//! so no path trick reaches another API route with the token.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;

/// The gateway paths a CLI may call (OpenAI chat completions, Anthropic messages).
const RELAYED: &[&str] = &["/v1/chat/completions", "/v1/messages"];
/// Request headers passed on; anything else (a CLI's own `authorization`) is dropped.
const PASSED: &[&str] = &["content-type", "accept", "anthropic-version", "anthropic-beta"];
/// The largest request relayed (the API's own limit).
const MAX_BODY: usize = 2 * 1024 * 1024;

#[derive(Clone)]
struct Upstream {
    http: reqwest::Client,
    /// The Worker's gateway, `{api}/gateway/worker`.
    base: String,
    token: String,
}

/// The running relay; dropping it stops it.
pub struct Relay {
    /// `http://127.0.0.1:{port}`: the CLIs' base URL (Anthropic's; OpenAI's adds `/v1`).
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    pub async fn start(http: reqwest::Client, gateway: &str, token: &str) -> std::io::Result<Relay> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let upstream = Upstream {
            http,
            base: gateway.trim_end_matches('/').to_string(),
            token: token.to_string(),
        };
        let app = axum::Router::new()
            .fallback(relay)
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
            .with_state(upstream);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Relay { url, task })
    }
}

async fn relay(State(up): State<Upstream>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if method != Method::POST || !RELAYED.contains(&uri.path()) {
        return (StatusCode::NOT_FOUND, "only the LLM gateway's calls are relayed").into_response();
    }
    let mut req = up
        .http
        .post(format!("{}{}", up.base, uri.path()))
        .bearer_auth(&up.token)
        .body(body);
    for name in PASSED {
        if let Some(v) = headers.get(*name) {
            req = req.header(*name, v);
        }
    }
    match req.send().await {
        Ok(res) => {
            let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let content_type = res.headers().get("content-type").cloned();
            // Streamed replies (SSE) pass through as they come.
            let stream = res.bytes_stream().map_err(std::io::Error::other);
            let mut out = Response::new(Body::from_stream(stream));
            *out.status_mut() = status;
            if let Some(ct) = content_type {
                out.headers_mut().insert("content-type", ct);
            }
            out
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            format!("the gateway could not be reached: {e}"),
        )
            .into_response(),
    }
}
