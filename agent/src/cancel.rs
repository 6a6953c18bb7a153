//! Cancellation: a background poll of `/agent/cancel` sets a flag that every step checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backon::Retryable;

use crate::api::ApiClient;
use crate::error::{Error, Result};

#[derive(Clone)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    api: Option<ApiClient>,
    poller: Option<tokio::task::AbortHandle>,
}

impl Cancel {
    /// Polls every `every` until the flag is set.
    pub fn watch(api: ApiClient, every: Duration) -> Cancel {
        let flag = Arc::new(AtomicBool::new(false));
        let (f, a) = (flag.clone(), api.clone());
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                // An unreachable API is not a cancellation; the next poll tries again.
                if let Ok(true) = a.cancel_requested().await {
                    f.store(true, Ordering::SeqCst);
                    return;
                }
            }
        });
        Cancel {
            flag,
            api: Some(api),
            poller: Some(task.abort_handle()),
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
                Err(Error::Cancelled)
            }
            Err(e) => Err(Error::Api(format!(
                "stopped before an irreversible step: could not confirm the job is still wanted ({e})"
            ))),
        }
    }
}
