//! Cancellation: a background poll of `/agent/cancel` sets a flag that every step checks,
//! and wakes [`Cancel::cancelled`], which the run races against so that an LLM call or a
//! Worker command in flight is abandoned at once (cancel in seconds, not at the next step).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backon::Retryable;

use crate::api::ApiClient;
use crate::error::{Error, Result};

#[derive(Clone)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    /// Told when the flag is set.
    wake: Arc<tokio::sync::Notify>,
    api: Option<ApiClient>,
    poller: Option<tokio::task::AbortHandle>,
}

impl Cancel {
    /// Polls every `every` until the flag is set.
    pub fn watch(api: ApiClient, every: Duration) -> Cancel {
        let flag = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(tokio::sync::Notify::new());
        let (f, w, a) = (flag.clone(), wake.clone(), api.clone());
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                // An unreachable API is not a cancellation; the next poll tries again.
                if let Ok(true) = a.cancel_requested().await {
                    f.store(true, Ordering::SeqCst);
                    w.notify_waiters();
                    return;
                }
            }
        });
        Cancel {
            flag,
            wake,
            api: Some(api),
            poller: Some(task.abort_handle()),
        }
    }

    /// Completes once the job is cancelled (never, for [`Cancel::never`]).
    pub async fn cancelled(&self) {
        loop {
            let woken = self.wake.notified();
            if self.is_cancelled() {
                return;
            }
            woken.await;
        }
    }

    /// Ends the background poll (the job is over).
    pub fn stop(&self) {
        if let Some(p) = &self.poller {
            p.abort();
        }
    }

    /// Never cancelled (unit tests).
    pub fn never() -> Cancel {
        Cancel {
            flag: Arc::default(),
            wake: Arc::default(),
            api: None,
            poller: None,
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Between steps: cheap, uses the background poll.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Before anything irreversible (commit, push, PR, reply): asks the API right now and
    /// goes on only on a clear "not cancelled". A cancel, a refused job token (the job was
    /// taken from this run) or no clear answer after a few tries stops the run: fails closed.
    pub async fn check_now(&self) -> Result<()> {
        self.check()?;
        let Some(api) = &self.api else {
            return Ok(());
        };
        let asked = (|| api.cancel_requested())
            .retry(crate::backoff(Duration::from_millis(200)).with_max_times(3))
            .await;
        match asked {
            Ok(false) => Ok(()),
            Ok(true) => {
                self.flag.store(true, Ordering::SeqCst);
                self.wake.notify_waiters();
                Err(Error::Cancelled)
            }
            Err(e) => Err(Error::Api(format!(
                "stopped before an irreversible step: could not confirm the job is still wanted ({e})"
            ))),
        }
    }
}
