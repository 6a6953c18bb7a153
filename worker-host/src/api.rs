//! Client for the worker API (`/worker/jobs/...`), authenticated with the worker token.

use std::time::Duration;

use terarchitect_protocol::{
    Claim, ClaimRequest, EventBatch, ExecutionMode, FinishRequest, GitAccess, GitAccessRequest, Heartbeat,
    HeartbeatRequest, Job, JobId, NewJobEvent,
};

/// How a call failed, in the terms the host acts on.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 409: the job was lost, is done or cancelled, or this host does not hold it (the
    /// body's `error.code` says which: see [`ApiError::conflict_code`]).
    #[error("conflict: {0}")]
    Conflict(String),
    /// 404: the job does not exist.
    #[error("job not found")]
    NotFound,
    /// Network error, 5xx, or auth problems: retry later, never drop work because of it.
    #[error("worker API unavailable: {0}")]
    Unavailable(String),
    /// 4xx other than the above: our request is wrong; retrying will not help.
    #[error("worker API rejected the request ({status}): {body}")]
    Rejected { status: u16, body: String },
}

impl ApiError {
    /// Worth retrying: the API, or the way to it, is down or misconfigured for now.
    pub fn is_transient(&self) -> bool {
        matches!(self, ApiError::Unavailable(_))
    }

    /// For a 409, the API's reason: `lease_lost` (another host holds the lease, or ours
    /// ended), `job_finished`, `job_cancelled` or `wrong_execution_mode` (the job is for
    /// hosts of the other runtime); None for other errors or an older API.
    pub fn conflict_code(&self) -> Option<String> {
        let ApiError::Conflict(body) = self else { return None };
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        v["error"]["code"].as_str().map(str::to_owned)
    }
}

#[derive(Clone)]
pub struct WorkerApi {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl WorkerApi {
    pub fn new(base: &str, token: &str) -> WorkerApi {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
        WorkerApi {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        }
    }

    async fn post<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .map_err(|e| ApiError::Unavailable(error_chain(&e)))?;
        let status = res.status();
        if status.is_success() {
            return res
                .json()
                .await
                .map_err(|e| ApiError::Unavailable(format!("unreadable reply: {e}")));
        }
        let body = res.text().await.unwrap_or_default();
        let body: String = body.chars().take(500).collect();
        Err(match status.as_u16() {
            409 => ApiError::Conflict(body),
            404 if body.contains("\"not_found\"") && !body.contains("no such route") => ApiError::NotFound,
            // A wrong URL or token is an operator problem: keep the work and keep retrying.
            401 | 403 => ApiError::Unavailable(format!(
                "{status} (check TERARCHITECT_WORKER_TOKEN: it must be a live `worker` token minted for \
                 this host's WORKER_HOST_ID): {body}"
            )),
            404 => ApiError::Unavailable(format!("{status} (check TERARCHITECT_API_URL): {body}")),
            408 | 429 => ApiError::Unavailable(format!("{status}: {body}")),
            s if s >= 500 => ApiError::Unavailable(format!("{status}: {body}")),
            s => ApiError::Rejected { status: s, body },
        })
    }

    /// Claims the job as `host_id` (which must be the token's host) running agents as `mode`.
    pub async fn claim(&self, job: JobId, host_id: &str, mode: ExecutionMode) -> Result<Claim, ApiError> {
        let req = ClaimRequest {
            host_id: Some(host_id.into()),
            execution_mode: mode,
        };
        self.post(&format!("/worker/jobs/{job}/claim"), &req).await
    }

    pub async fn heartbeat(&self, job: JobId, host_id: &str) -> Result<Heartbeat, ApiError> {
        let req = HeartbeatRequest {
            host_id: Some(host_id.into()),
        };
        self.post(&format!("/worker/jobs/{job}/heartbeat"), &req).await
    }

    pub async fn finish(&self, job: JobId, req: &FinishRequest) -> Result<Job, ApiError> {
        self.post(&format!("/worker/jobs/{job}/finish"), req).await
    }

    /// Job `job`'s repository access for the git proxy, for the job token its agent showed.
    pub async fn git_access(&self, job: JobId, job_token: &str) -> Result<GitAccess, ApiError> {
        let req = GitAccessRequest {
            job_token: job_token.into(),
        };
        self.post(&format!("/worker/jobs/{job}/git"), &req).await
    }

    pub async fn events(&self, job: JobId, events: Vec<NewJobEvent>) -> Result<(), ApiError> {
        let _: serde_json::Value = self
            .post(&format!("/worker/jobs/{job}/events"), &EventBatch { events })
            .await?;
        Ok(())
    }
}

/// reqwest's Display hides the cause ("error sending request"): include the chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::ApiError;

    #[test]
    fn conflict_codes_come_from_the_error_body() {
        let e = ApiError::Conflict(r#"{"error":{"code":"lease_lost","message":"h1 holds its lease"}}"#.into());
        assert_eq!(e.conflict_code().as_deref(), Some("lease_lost"));
        assert_eq!(ApiError::Conflict("not json".into()).conflict_code(), None);
        assert_eq!(ApiError::NotFound.conflict_code(), None);
    }
}
