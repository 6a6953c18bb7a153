//! After a restart: agents an earlier life of this host left behind are re-attached while
//! they still own their job, or stopped and removed.

use std::sync::Arc;
use std::time::Duration;

use terarchitect_protocol::Outcome;

use super::Inner;
use super::redact::Redactor;
use crate::api::ApiError;
use crate::runtime::{Existing, ExistingState, Runtime};

impl<R: Runtime> Inner<R> {
    /// Settles agents left by an earlier life of this host. False when it must be retried.
    pub(super) async fn reconcile(self: Arc<Self>) -> bool {
        let found = match self.runtime.list_own(&self.host_id).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list agents from an earlier run; will retry");
                return false;
            }
        };
        let mut complete = true;
        for Existing { id, job_id, state } in found {
            if self.jobs.lock().expect("jobs").contains_key(&job_id) {
                continue;
            }
            if state == ExistingState::Dead {
                tracing::info!(%job_id, agent = id, "removing a dead agent from an earlier run");
                self.remove(&id).await;
                continue; // its lease, if still ours, is settled when its message returns
            }
            match self.api.heartbeat(job_id, &self.host_id).await {
                Ok(_) => {
                    let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                        tracing::warn!(%job_id, "more agents than capacity after restart: releasing this one");
                        self.stop(&id, self.cfg.stop_grace()).await;
                        let req = self.finish_request(Outcome::Released, None, Some("host capacity lowered".into()));
                        if self.finish(job_id, &req).await {
                            self.remove(&id).await;
                        }
                        continue;
                    };
                    tracing::info!(%job_id, agent = id, ?state, "re-attaching to an agent from an earlier run");
                    self.jobs.lock().expect("jobs").insert(job_id, None);
                    let token = self.runtime.job_token(&id).await;
                    let secrets = Redactor::new(token.into_iter().chain([self.cfg.worker_token.clone()]));
                    tokio::spawn(self.clone().supervise(job_id, id, permit, true, secrets));
                }
                Err(ApiError::Conflict(_)) | Err(ApiError::NotFound) => {
                    tracing::info!(%job_id, agent = id, "agent from an earlier run no longer owns its job: removing it");
                    self.stop(&id, Duration::from_secs(1)).await;
                    self.remove(&id).await;
                }
                Err(e) => {
                    tracing::warn!(%job_id, error = %e, "cannot check a job from an earlier run; will retry");
                    self.note_outage();
                    complete = false;
                }
            }
        }
        complete
    }
}
