//! The Director's and the Worker's chat endpoints: the shared OpenAI-compatible client
//! with the agent's retry policy (429, 5xx, timeouts and unreadable replies are retried
//! with back-off).

use std::time::Duration;

use backon::Retryable;
use serde_json::Value;
pub use terarchitect_llm::{FunctionCall, Message, ToolCall, Usage};

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Requests in all, the first included.
    pub attempts: u32,
    /// The pause before the first retry; each later one doubles it.
    pub base_delay: Duration,
    /// How long one request may take.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_secs(2),
            timeout: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self) -> backon::ExponentialBuilder {
        crate::backoff(self.base_delay).with_max_times(self.attempts.max(1) as usize - 1)
    }
}

#[derive(Clone)]
pub struct ChatClient {
    /// For messages: which endpoint failed ("Director", "Worker").
    pub name: String,
    client: terarchitect_llm::Client,
    retry: RetryPolicy,
}

impl ChatClient {
    pub fn new(
        http: reqwest::Client,
        name: &str,
        url: &str,
        model: &str,
        key: Option<&str>,
        retry: RetryPolicy,
    ) -> ChatClient {
        ChatClient {
            name: name.into(),
            client: terarchitect_llm::Client::new(http, url, model, key).with_timeout(retry.timeout),
            retry,
        }
    }

    /// One completion; 429, 5xx, timeouts and unreadable bodies are retried with back-off.
    pub async fn chat(&self, messages: &[Message], tools: Option<&Value>) -> Result<(Message, Usage)> {
        let retried =
            |e: &terarchitect_llm::Error| e.is_transient() || matches!(e, terarchitect_llm::Error::Malformed(_));
        (|| self.client.chat(messages, tools, 0.2))
            .retry(self.retry.backoff())
            .when(retried)
            .await
            .map_err(|e| {
                // The gateway's budget refusal: the run ends here, nothing half-done pushed.
                if let terarchitect_llm::Error::Status { status, body } = &e
                    && status.as_u16() == 402
                {
                    let why: Value = serde_json::from_str(body).unwrap_or_default();
                    let message = why["error"]["message"].as_str().unwrap_or("the LLM budget is spent");
                    return Error::Budget(format!("budget_exhausted: {message}"));
                }
                Error::Llm(if retried(&e) {
                    format!(
                        "{} endpoint failed after {} attempts: {e}",
                        self.name, self.retry.attempts
                    )
                } else {
                    format!("{} endpoint refused the request: {e}", self.name)
                })
            })
    }
}
