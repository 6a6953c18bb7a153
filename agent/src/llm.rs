//! An OpenAI-compatible chat-completions client with retries and back-off.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Message {
    pub role: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    pub fn system(s: impl Into<String>) -> Message {
        Message::new("system", s)
    }
    pub fn user(s: impl Into<String>) -> Message {
        Message::new("user", s)
    }
    pub fn assistant(s: impl Into<String>) -> Message {
        Message::new("assistant", s)
    }
    pub fn tool(id: &str, s: impl Into<String>) -> Message {
        Message {
            tool_call_id: Some(id.into()),
            ..Message::new("tool", s)
        }
    }
    fn new(role: &str, s: impl Into<String>) -> Message {
        Message {
            role: role.into(),
            content: Some(s.into()),
            ..Default::default()
        }
    }
    pub fn text(&self) -> &str {
        self.content.as_deref().unwrap_or_default()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function() -> String {
    "function".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FunctionCall {
    pub name: String,
    /// A JSON document as a string, per the OpenAI wire format.
    pub arguments: String,
}

#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub input_tokens: i64,
    pub output_tokens: i64,
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: i64,
    #[serde(default)]
    completion_tokens: i64,
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base_delay: Duration,
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

#[derive(Clone)]
pub struct ChatClient {
    /// For messages: which endpoint failed ("Director", "Worker").
    pub name: String,
    url: String,
    model: String,
    key: Option<String>,
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl ChatClient {
    pub fn new(name: &str, url: &str, model: &str, key: Option<&str>, retry: RetryPolicy) -> ChatClient {
        ChatClient {
            name: name.into(),
            url: format!("{}/chat/completions", url.trim_end_matches('/')),
            model: model.into(),
            key: key.map(str::to_owned),
            http: reqwest::Client::builder()
                .timeout(retry.timeout)
                .build()
                .expect("http client"),
            retry,
        }
    }

    /// One completion; 429, 5xx, timeouts and unreadable bodies are retried with back-off.
    pub async fn chat(&self, messages: &[Message], tools: Option<&Value>) -> Result<(Message, Usage)> {
        let mut body = serde_json::json!({
            "model": self.model,
            "messages": messages,
            "temperature": 0.2,
        });
        if let Some(t) = tools {
            body["tools"] = t.clone();
        }
        let mut last = String::new();
        for attempt in 0..self.retry.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(self.retry.base_delay * 2u32.pow(attempt - 1)).await;
            }
            let mut req = self.http.post(&self.url).json(&body);
            if let Some(k) = &self.key {
                req = req.bearer_auth(k);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    last = if e.is_timeout() {
                        format!("timed out after {:?}", self.retry.timeout)
                    } else {
                        format!("unreachable ({e})")
                    };
                    continue;
                }
            };
            let status = resp.status();
            let text = match resp.text().await {
                Ok(t) => t,
                Err(e) => {
                    last = format!("reading the reply failed ({e})");
                    continue;
                }
            };
            if status.as_u16() == 429 || status.is_server_error() {
                last = format!("HTTP {status}: {}", crate::events::cap(&text, 300));
                continue;
            }
            if !status.is_success() {
                return Err(Error::Llm(format!(
                    "{} endpoint refused the request: HTTP {status}: {}",
                    self.name,
                    crate::events::cap(&text, 300)
                )));
            }
            match serde_json::from_str::<Completion>(&text) {
                Ok(c) if !c.choices.is_empty() => {
                    let usage = c.usage.map_or_else(Usage::default, |u| Usage {
                        input_tokens: u.prompt_tokens,
                        output_tokens: u.completion_tokens,
                    });
                    let msg = c.choices.into_iter().next().unwrap().message;
                    return Ok((msg, usage));
                }
                _ => last = format!("not a chat completion: {}", crate::events::cap(&text, 200)),
            }
        }
        Err(Error::Llm(format!(
            "{} endpoint failed after {} attempts: {last}",
            self.name, self.retry.attempts
        )))
    }
}
