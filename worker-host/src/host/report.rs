//! What the host tells the API: a job's outcome (retried through outages), host events in
//! the job's log, and how an agent's exit is judged.

use std::time::Duration;

use backon::Retryable;
use terarchitect_protocol::{FinishRequest, JobId, NewJobEvent, Outcome};
use uuid::Uuid;

use super::Inner;
use super::logs::LogSummary;
use crate::api::ApiError;
use crate::runtime::Runtime;

impl<R: Runtime> Inner<R> {
    pub(super) fn finish_request(&self, outcome: Outcome, code: Option<i64>, reason: Option<String>) -> FinishRequest {
        FinishRequest {
            host_id: Some(self.host_id.clone()),
            outcome,
            exit_code: code.map(|c| c.clamp(i32::MIN as i64, i32::MAX as i64) as i32),
            reason: reason.map(|r| r.chars().take(10_000).collect()),
            agent_started: None,
        }
    }

    /// Reports the outcome, retrying through API outages for a while. True when the API
    /// recorded it (or had already settled the job otherwise).
    pub(super) async fn finish(&self, job_id: JobId, req: &FinishRequest) -> bool {
        let reported = (|| self.api.finish(job_id, req))
            .retry(self.cfg.backoff(Duration::from_millis(500)).with_max_times(11))
            .when(ApiError::is_transient)
            .notify(|e, d| tracing::warn!(%job_id, error = %e, retry_in = ?d, "cannot report the outcome yet"))
            .await;
        match reported {
            Ok(job) => {
                tracing::debug!(%job_id, status = job.status.as_str(), "outcome recorded");
                true
            }
            Err(e @ ApiError::Conflict(_)) => {
                let code = e.conflict_code().unwrap_or_default();
                tracing::info!(%job_id, code, error = %e, "job already settled; nothing to report");
                true
            }
            Err(ApiError::NotFound) => true,
            Err(ApiError::Rejected { status, body }) => {
                tracing::error!(%job_id, status, body, "the API rejected the outcome");
                false
            }
            Err(e) => {
                tracing::error!(%job_id, error = %e, "gave up reporting the outcome; the job's lease will expire and it is retried");
                false
            }
        }
    }

    pub(super) async fn host_event(&self, job_id: JobId, step: &str, summary: String) {
        let ev = NewJobEvent {
            event_id: Some(Uuid::new_v4()),
            phase: "host".into(),
            step: step.into(),
            summary,
            ..Default::default()
        };
        if let Err(e) = self.api.events(job_id, vec![ev]).await {
            tracing::warn!(%job_id, error = %e, "could not log a host event");
        }
    }
}

/// How an exit reads. Exit 0 is a claimed success: the API grants it only when it opened
/// (or verified) the run's pull request. A failure's reason is a sentence for a person:
/// the agent's own when it gave one; the output is in the log.
pub(super) fn judge(code: i64, logs: &LogSummary) -> (Outcome, Option<String>) {
    let reason = match (code, &logs.error) {
        (0, _) => return (Outcome::Succeeded, None),
        // The agent saw the cancel first and stopped (its contract: exit 130).
        (130, _) => return (Outcome::Cancelled, Some("stopped on request".into())),
        (_, Some(error)) => error.clone(),
        (137 | 143, None) => "the agent was stopped".to_string(),
        (c, None) => format!("the agent stopped unexpectedly (exit code {c}); its output is in the log"),
    };
    (Outcome::Failed, Some(reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judging_exits() {
        let mut logs = LogSummary::default();
        // The API, not the host, decides whether a claimed success had its PR.
        assert_eq!(judge(0, &logs), (Outcome::Succeeded, None));
        assert_eq!(judge(143, &logs).1.as_deref(), Some("the agent was stopped"));
        assert_eq!(
            judge(130, &logs),
            (Outcome::Cancelled, Some("stopped on request".into()))
        );
        logs.error = Some("the tests still fail: 2 failed".into());
        assert_eq!(
            judge(1, &logs),
            (Outcome::Failed, Some("the tests still fail: 2 failed".into()))
        );
        assert_eq!(judge(0, &logs), (Outcome::Succeeded, None));
        assert_eq!(judge(2, &logs).0, Outcome::Failed);
    }
}
