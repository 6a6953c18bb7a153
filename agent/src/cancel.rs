//! Cancellation: a background poll of `/agent/cancel` sets a flag that every step checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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

    /// Before anything irreversible (push, PR): asks the API right now.
    pub async fn check_now(&self) -> Result<()> {
        if let Some(api) = &self.api
            && let Ok(true) = api.cancel_requested().await
        {
            self.flag.store(true, Ordering::SeqCst);
        }
        self.check()
    }
}
