//! OpenCode through the HTTP API of `opencode serve`: `POST /session`,
//! `POST /session/{id}/message`, `POST /session/{id}/summarize`, `DELETE /session/{id}`.
//! The agent starts the server itself when no URL is given, with the Worker's endpoint in
//! `OPENCODE_CONFIG_CONTENT` (environment, never the command line).

use std::path::PathBuf;
use std::time::Duration;

use backon::{ConstantBuilder, Retryable};
use serde_json::{Value, json};

use super::{BoxFut, Worker, WorkerReply};
use crate::error::{Error, Result};
use crate::events::cap_tail;

const PROVIDER: &str = "terarchitect";

pub struct OpencodeWorker {
    base: String,
    directory: PathBuf,
    model: String,
    http: reqwest::Client,
    /// How long one request to the server may take.
    timeout: Duration,
    session: Option<String>,
    /// The server we started, killed with the worker.
    child: Option<tokio::process::Child>,
}

impl OpencodeWorker {
    /// Talks to a server that is already running at `base`, through the process's client.
    pub fn connect(
        http: reqwest::Client,
        base: &str,
        directory: PathBuf,
        model: &str,
        timeout: Duration,
    ) -> OpencodeWorker {
        OpencodeWorker {
            base: base.trim_end_matches('/').to_string(),
            directory,
            model: model.to_string(),
            http,
            timeout,
            session: None,
            child: None,
        }
    }

    /// Starts `opencode serve` on a free local port and waits until it answers.
    pub async fn spawn(
        http: reqwest::Client,
        bin: &str,
        directory: PathBuf,
        llm_url: &str,
        model: &str,
        key: Option<&str>,
        timeout: Duration,
    ) -> Result<OpencodeWorker> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let config = json!({
            "$schema": "https://opencode.ai/config.json",
            "provider": {PROVIDER: {
                "npm": "@ai-sdk/openai-compatible",
                "options": {"baseURL": llm_url, "apiKey": key.unwrap_or("none")},
                "models": {model: {"tool_call": true}},
            }},
            "model": format!("{PROVIDER}/{model}"),
        });
        let mut cmd = tokio::process::Command::new(bin);
        crate::sandbox::confine(&mut cmd);
        let child = cmd
            .args(["serve", "--hostname", "127.0.0.1", "--port", &port.to_string()])
            .current_dir(&directory)
            .env("OPENCODE_CONFIG_CONTENT", config.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::Worker(format!("cannot start `{bin} serve`: {e}")))?;
        let mut w = OpencodeWorker::connect(http, &format!("http://127.0.0.1:{port}"), directory, model, timeout);
        w.child = Some(child);
        // Every 200 ms for 30 s.
        let ready = || async {
            let r = w.request(reqwest::Method::GET, "/config").send().await;
            if r.is_ok_and(|r| r.status().is_success()) {
                Ok(())
            } else {
                Err(())
            }
        };
        ready
            .retry(
                ConstantBuilder::new()
                    .with_delay(Duration::from_millis(200))
                    .with_max_times(150),
            )
            .await
            .map_err(|()| Error::Worker("opencode serve did not answer within 30 s".into()))?;
        Ok(w)
    }

    /// A request to the server at `path`, with the worker's timeout.
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .timeout(self.timeout)
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let r = self
            .request(reqwest::Method::POST, path)
            .query(&[("directory", self.directory.display().to_string())])
            .json(&body)
            .send()
            .await
            .map_err(|e| Error::Worker(format!("opencode {path}: {e}")))?;
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(Error::Worker(format!(
                "opencode {path}: HTTP {status}: {}",
                cap_tail(&text, 500)
            )));
        }
        serde_json::from_str(&text)
            .map_err(|_| Error::Worker(format!("opencode {path}: not JSON: {}", cap_tail(&text, 200))))
    }

    fn model_ref(&self) -> Value {
        json!({"providerID": PROVIDER, "modelID": self.model})
    }

    async fn ensure_session(&mut self) -> Result<String> {
        if let Some(s) = &self.session {
            return Ok(s.clone());
        }
        let v = self.post("/session", json!({"title": "terarchitect"})).await?;
        let id = v["id"]
            .as_str()
            .ok_or_else(|| Error::Worker("opencode returned a session without id".into()))?
            .to_string();
        self.session = Some(id.clone());
        Ok(id)
    }
}

/// The reply text: the `text` parts of the assistant message.
pub fn reply_text(v: &Value) -> WorkerReply {
    let v = v.as_array().and_then(|a| a.last()).unwrap_or(v);
    let text = v["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["type"] == "text")
        .filter_map(|p| p["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    WorkerReply {
        text,
        input_tokens: v["info"]["tokens"]["input"].as_i64().unwrap_or(0),
        output_tokens: v["info"]["tokens"]["output"].as_i64().unwrap_or(0),
    }
}

impl Worker for OpencodeWorker {
    fn name(&self) -> &'static str {
        "opencode"
    }

    fn start(&mut self) -> BoxFut<'_, Result<()>> {
        Box::pin(async move {
            self.session = None;
            self.ensure_session().await.map(|_| ())
        })
    }

    fn send<'a>(&'a mut self, prompt: &'a str) -> BoxFut<'a, Result<WorkerReply>> {
        Box::pin(async move {
            let id = self.ensure_session().await?;
            let body = json!({"model": self.model_ref(), "parts": [{"type": "text", "text": prompt}]});
            let v = self.post(&format!("/session/{id}/message"), body).await?;
            if let Some(err) = v["info"].get("error").filter(|e| !e.is_null()) {
                return Err(Error::Worker(format!(
                    "opencode reported an error: {}",
                    cap_tail(&err.to_string(), 500)
                )));
            }
            Ok(reply_text(&v))
        })
    }

    fn summarise(&mut self) -> BoxFut<'_, Result<()>> {
        Box::pin(async move {
            let Some(id) = self.session.clone() else { return Ok(()) };
            self.post(&format!("/session/{id}/summarize"), self.model_ref())
                .await
                .map(|_| ())
        })
    }

    fn stop(&mut self) -> BoxFut<'_, Result<()>> {
        Box::pin(async move {
            if let Some(id) = self.session.take() {
                let _ = self
                    .request(reqwest::Method::DELETE, &format!("/session/{id}"))
                    .send()
                    .await;
            }
            if let Some(mut c) = self.child.take() {
                let _ = c.kill().await;
            }
            Ok(())
        })
    }
}
