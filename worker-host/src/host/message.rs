//! One queue message: claim its job, settle duplicates and lost claims, and delete the
//! message once the outcome is recorded (or let it come back sooner when it is not).

use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Duration;

use terarchitect_protocol::{JobId, JobMessage, Outcome};
use tokio::sync::OwnedSemaphorePermit;

use super::Inner;
use crate::api::ApiError;
use crate::queue::Message;
use crate::runtime::Runtime;

/// The claim's 409 code for a job whose project runs agents the other way.
const WRONG_EXECUTION_MODE: &str = "wrong_execution_mode";
/// When another runtime's job comes back into view: soon, so a matching host picks it up
/// without waiting a visibility timeout, but not at once, so this host does not spin on it.
const OTHER_RUNTIME_RETRY: Duration = Duration::from_secs(2);

impl<R: Runtime> Inner<R> {
    pub(super) async fn handle_message(self: Arc<Self>, m: Message, permit: OwnedSemaphorePermit) {
        let job_id = match serde_json::from_str::<JobMessage>(&m.body) {
            Ok(j) => j.job_id,
            Err(e) => {
                // It can never be processed: dropping it beats redelivering it forever.
                let body: String = m.body.chars().take(200).collect();
                tracing::error!(error = %e, body, "malformed queue message: deleting it");
                self.delete(&m.receipt).await;
                return;
            }
        };
        if !self.begin_claim(job_id, &m) {
            return;
        }
        let claim = self
            .api
            .claim(job_id, &self.host_id, self.runtime.execution_mode())
            .await;
        if claim.is_err() {
            self.jobs.lock().expect("jobs").remove(&job_id);
        }
        match claim {
            Ok(claim) => {
                self.healthy();
                self.run_job(claim, permit).await;
            }
            Err(ApiError::NotFound) => {
                tracing::warn!(%job_id, "job no longer exists: deleting its message");
                self.delete(&m.receipt).await;
            }
            Err(e @ ApiError::Conflict(_)) if e.conflict_code().as_deref() == Some(WRONG_EXECUTION_MODE) => {
                // Another runtime's job: its message goes back to the queue (not deleted)
                // for a host that runs it.
                self.healthy();
                tracing::info!(%job_id, error = %e, "job is for another runtime: handing its message back");
                self.retry_later(&m.receipt, OTHER_RUNTIME_RETRY).await;
            }
            Err(ApiError::Conflict(why)) => {
                self.healthy();
                self.on_conflict(job_id, &m.receipt, &why).await;
            }
            Err(e) => {
                let d = self.note_outage();
                tracing::warn!(%job_id, error = %e, retry_in = ?d, "cannot claim: keeping the message for later");
                self.retry_later(&m.receipt, d).await;
            }
        }
    }

    /// Registers the message's job as this host's before claiming it, so that a duplicate
    /// arriving while the claim is in flight is not mistaken for a run lost in an earlier
    /// life. False when the job is already known here: the message is settled instead.
    fn begin_claim(&self, job_id: JobId, m: &Message) -> bool {
        let mut jobs = self.jobs.lock().expect("jobs");
        let known = match jobs.entry(job_id) {
            Entry::Vacant(v) => {
                v.insert(Some((m.message_id.clone(), m.receipt.clone())));
                return true;
            }
            Entry::Occupied(o) => o.into_mut(),
        };
        match known {
            None => {
                // Re-attached after a restart: this is its message now.
                *known = Some((m.message_id.clone(), m.receipt.clone()));
                tracing::info!(%job_id, "re-attached job's message came back: adopted");
            }
            Some((id, r)) if *id == m.message_id => {
                // Our own message came back (visibility ran out): only the newest receipt
                // can extend or delete it.
                *r = m.receipt.clone();
            }
            Some(_) => {
                drop(jobs);
                self.delete_duplicate(job_id, &m.receipt);
            }
        }
        false
    }

    /// The message comes back sooner than the visibility timeout would allow.
    async fn retry_later(&self, receipt: &str, after: Duration) {
        let secs = after.as_secs().clamp(1, 43_200) as i32;
        if let Err(e) = self.queue.set_visibility(receipt, secs).await {
            tracing::debug!(error = %e, "could not shorten the message's visibility");
        }
    }

    pub(super) async fn delete(&self, receipt: &str) {
        if let Err(e) = self.queue.delete(receipt).await {
            // It comes back after its visibility timeout and is settled again then.
            tracing::warn!(error = %e, "could not delete a queue message");
        }
    }

    /// A claim lost by a job this host does not run: the job is done, cancelled, held by
    /// another host, or held by us in an earlier life.
    async fn on_conflict(&self, job_id: JobId, receipt: &str, why: &str) {
        // Held by us with nothing running: a run lost in an earlier life (container gone).
        match self.api.heartbeat(job_id, &self.host_id).await {
            Ok(hb) => {
                let outcome = if hb.cancel_requested {
                    Outcome::Cancelled
                } else {
                    Outcome::Released
                };
                tracing::warn!(%job_id, ?outcome, "this host held the job but no longer runs it: handing it back");
                let req = self.finish_request(
                    outcome,
                    None,
                    Some("the worker host restarted and lost the agent".into()),
                );
                if self.finish(job_id, &req).await {
                    self.delete(receipt).await;
                } else {
                    self.retry_later(receipt, self.cfg.max_backoff()).await;
                }
            }
            Err(ApiError::Conflict(_)) | Err(ApiError::NotFound) => {
                tracing::info!(%job_id, reason = why, "job is not claimable: deleting its message");
                self.delete(receipt).await;
            }
            Err(e) => {
                let d = self.note_outage();
                tracing::warn!(%job_id, error = %e, "cannot check the job: keeping the message for later");
                self.retry_later(receipt, d).await;
            }
        }
    }

    fn delete_duplicate(&self, job_id: JobId, receipt: &str) {
        tracing::info!(%job_id, "duplicate message for a job this host runs: deleting it");
        let queue = self.queue.clone();
        let receipt = receipt.to_string();
        tokio::spawn(async move {
            if let Err(e) = queue.delete(&receipt).await {
                tracing::warn!(error = %e, "could not delete a duplicate message");
            }
        });
    }

    /// Stops tracking the job; its message's receipt, when it came from one.
    pub(super) fn forget(&self, job_id: JobId) -> Option<String> {
        self.jobs
            .lock()
            .expect("jobs")
            .remove(&job_id)
            .flatten()
            .map(|(_, r)| r)
    }

    /// Deletes the job's message once its outcome is recorded; otherwise lets it come back.
    pub(super) async fn settle_message(&self, job_id: JobId, recorded: bool) {
        if let Some(r) = self.forget(job_id) {
            if recorded {
                self.delete(&r).await;
            } else {
                self.retry_later(&r, self.cfg.max_backoff()).await;
            }
        }
    }

    pub(super) async fn extend_visibility(&self, job_id: JobId) {
        let receipt = self
            .jobs
            .lock()
            .expect("jobs")
            .get(&job_id)
            .cloned()
            .flatten()
            .map(|(_, r)| r);
        if let Some(r) = receipt
            && let Err(e) = self.queue.set_visibility(&r, self.cfg.visibility_timeout_secs).await
        {
            tracing::warn!(%job_id, error = %e, "could not extend the message's visibility");
        }
    }
}
