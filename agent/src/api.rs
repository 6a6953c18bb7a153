//! The worker API as the agent sees it: context, events, cancel, memory, and its pull
//! request, which the API opens and answers on GitHub for it.

use std::time::Duration;

use backon::Retryable;
use serde::Deserialize;
use terarchitect_protocol::{
    AgentPullRequest, EventBatch, MemoryDocs, PullRequestDraft, PullRequestReply, PullRequestThread, WorkerContext,
};

use crate::error::{Error, Result};

#[derive(Clone)]
pub struct ApiClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// How long a call may take unless it says otherwise.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A failed context fetch: worth another try, or final.
enum Fetch {
    Retry(String),
    Fail(Error),
}

#[derive(Deserialize)]
struct CancelState {
    cancel_requested: bool,
}

impl ApiClient {
    /// `http`: the process's client ([`crate::http_client`]).
    pub fn new(http: reqwest::Client, base: &str, token: &str) -> ApiClient {
        ApiClient {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http,
        }
    }

    /// The job's context; retried for about half a minute since nothing works without it
    /// (and the egress proxy it goes through is down while its worker host restarts).
    pub async fn context(&self) -> Result<WorkerContext> {
        let fetch = || async {
            match self.get("/agent/context").await {
                Ok(r) if r.status().is_success() => r
                    .json()
                    .await
                    .map_err(|e| Fetch::Fail(Error::Api(format!("bad context: {e}")))),
                // A dead token will not come back to life.
                Ok(r) if r.status().is_client_error() => {
                    Err(Fetch::Fail(Error::Api(format!("context refused: {}", r.status()))))
                }
                Ok(r) => Err(Fetch::Retry(format!("status {}", r.status()))),
                Err(e) => Err(Fetch::Retry(e.to_string())),
            }
        };
        fetch
            .retry(crate::backoff(Duration::from_millis(500)).with_max_times(6))
            .when(|e| matches!(e, Fetch::Retry(_)))
            .await
            .map_err(|e| match e {
                Fetch::Retry(last) => Error::Api(format!("could not fetch the context: {last}")),
                Fetch::Fail(e) => e,
            })
    }

    pub async fn cancel_requested(&self) -> Result<bool> {
        let r = self.get("/agent/cancel").await.map_err(|e| Error::Api(e.to_string()))?;
        if !r.status().is_success() {
            return Err(Error::Api(format!("cancel check: {}", r.status())));
        }
        let s: CancelState = r.json().await.map_err(|e| Error::Api(e.to_string()))?;
        Ok(s.cancel_requested)
    }

    /// Sends a batch. `Ok(Err(reason))` means the API refused it for good (bad token,
    /// invalid event): re-sending cannot help. Transport errors and 5xx are `Err`.
    pub async fn post_events(&self, batch: &EventBatch) -> Result<std::result::Result<(), String>> {
        let r = self
            .http
            .post(format!("{}/agent/events", self.base))
            .timeout(TIMEOUT)
            .bearer_auth(&self.token)
            .json(batch)
            .send()
            .await
            .map_err(|e| Error::Api(e.to_string()))?;
        let status = r.status();
        if status.is_success() {
            Ok(Ok(()))
        } else if status.is_client_error() && status.as_u16() != 429 {
            Ok(Err(format!("events refused: {status}")))
        } else {
            Err(Error::Api(format!("events: {status}")))
        }
    }

    /// Writes documents into the project's memory (`/agent/memory/index`), as many
    /// requests as the API's bound per request takes (`MemoryDocs::batches`: a long
    /// document is cut into pieces).
    pub async fn remember(&self, docs: Vec<String>) -> Result<()> {
        for batch in MemoryDocs::batches(docs) {
            self.index(&batch).await?;
        }
        Ok(())
    }

    async fn index(&self, batch: &MemoryDocs) -> Result<()> {
        let r = self
            .http
            .post(format!("{}/agent/memory/index", self.base))
            .bearer_auth(&self.token)
            .json(batch)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| Error::Api(e.to_string()))?;
        if r.status().is_success() {
            return Ok(());
        }
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        Err(Error::Api(format!(
            "memory refused ({status}): {}",
            body["error"]["message"].as_str().unwrap_or("no reason given")
        )))
    }

    /// Opens the ticket's PR (or updates the open one); the API records it as the run's.
    pub async fn open_pull_request(&self, draft: &PullRequestDraft) -> Result<AgentPullRequest> {
        let r = self.http.put(format!("{}/agent/pull-request", self.base)).json(draft);
        github_answer(self.send(r).await?).await
    }

    /// The ticket's PR conversation, trusted reviewers only (the API checks the PR is the
    /// ticket's own).
    pub async fn pull_request_thread(&self) -> Result<PullRequestThread> {
        let r = self.http.get(format!("{}/agent/pull-request/thread", self.base));
        github_answer(self.send(r).await?).await
    }

    pub async fn reply(&self, reply: &PullRequestReply) -> Result<()> {
        let r = self
            .http
            .post(format!("{}/agent/pull-request/replies", self.base))
            .json(reply);
        let _: serde_json::Value = github_answer(self.send(r).await?).await?;
        Ok(())
    }

    /// GitHub calls through the API: a minute, since the API makes several of its own.
    /// A refused connection reached nobody, so it is tried again for about half a minute
    /// (the egress proxy is down while its worker host restarts).
    async fn send(&self, r: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let r = r.bearer_auth(&self.token).timeout(Duration::from_secs(60));
        // None: a body that cannot be sent twice (agent requests hold theirs in memory).
        let attempt = || async { r.try_clone().ok_or(None)?.send().await.map_err(Some) };
        attempt
            .retry(crate::backoff(Duration::from_millis(500)).with_max_times(6))
            .when(|e| e.as_ref().is_some_and(reqwest::Error::is_connect))
            .await
            .map_err(|e| Error::Api(e.map_or("the request cannot be sent again".into(), |e| e.to_string())))
    }

    async fn get(&self, path: &str) -> reqwest::Result<reqwest::Response> {
        self.http
            .get(format!("{}{path}", self.base))
            .timeout(TIMEOUT)
            .bearer_auth(&self.token)
            .send()
            .await
    }
}

/// A GitHub call's answer: its JSON, or the API's message (GitHub's refusal, or ours).
async fn github_answer<T: serde::de::DeserializeOwned>(r: reqwest::Response) -> Result<T> {
    let status = r.status();
    if status.is_success() {
        return r.json().await.map_err(|e| Error::Api(format!("bad answer: {e}")));
    }
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or("no reason given")
        .to_string();
    Err(match status.as_u16() {
        401 | 403 => Error::Api(format!("refused ({status}): {message}")),
        _ => Error::GitHub(message),
    })
}
