//! An OpenAI-compatible client: chat completions (free text with tools, or a JSON object)
//! and embeddings. It uses the caller's `reqwest::Client` (one per process) and sets its
//! timeout per request. Keys go in the Authorization header only, never in errors.
//!
//! Errors read as the tail of a sentence whose subject the caller names ("LLM",
//! "embedding service", "Worker endpoint"): `format!("LLM {e}")` → "LLM unreachable: …".

use std::time::Duration;

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Inputs per embeddings request.
pub const EMBED_BATCH: usize = 64;

/// The largest reply body read unless [`Client::with_max_body`] says otherwise: far
/// above a batch of embeddings, far below what would exhaust a small function's memory.
pub const DEFAULT_MAX_BODY: usize = 32 * 1024 * 1024;

/// How a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// No answer: the connection failed or broke.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The reply's body could not be read to its end.
    #[error("reply could not be read: {0}")]
    Body(String),
    /// The reply body is larger than the client reads; nothing of it is used.
    #[error("answered with more than {0} bytes")]
    TooLarge(usize),
    #[error("answered HTTP {status}: {body}")]
    Status { status: StatusCode, body: String },
    /// A successful status with a body that is not what the API promises.
    #[error("{0}")]
    Malformed(String),
}

impl Error {
    /// Worth trying again later: timeouts, connection and transfer errors, 429 and 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout(_) | Error::Unreachable(_) | Error::Body(_) => true,
            Error::Status { status, .. } => *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error(),
            Error::Malformed(_) | Error::TooLarge(_) => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Message {
    #[serde(default)]
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

#[derive(Deserialize)]
struct EmbeddingData {
    index: usize,
    embedding: Vec<f32>,
}

/// One endpoint (base URL, model, key) reached through the caller's client. `Debug`
/// prints the key as `[redacted]`.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    model: String,
    key: Option<String>,
    timeout: Duration,
    max_body: usize,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("model", &self.model)
            .field("key", &self.key.as_ref().map(|_| format_args!("[redacted]")))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// `url` is the API's base (`…/v1`); each request may take a minute unless
    /// [`Client::with_timeout`] says otherwise.
    pub fn new(http: reqwest::Client, url: &str, model: &str, key: Option<&str>) -> Client {
        Client {
            http,
            base: url.trim_end_matches('/').to_string(),
            model: model.into(),
            key: key.map(str::to_owned),
            timeout: Duration::from_secs(60),
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// The largest reply body read; a longer one is [`Error::TooLarge`].
    pub fn with_max_body(mut self, bytes: usize) -> Client {
        self.max_body = bytes;
        self
    }

    /// How long one request may take, from connecting to the end of the body.
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// Posts `body` to `{base}/{path}`; the status and the whole reply body.
    async fn post(&self, path: &str, body: &Value) -> Result<(StatusCode, String)> {
        let mut req = self
            .http
            .post(format!("{}/{path}", self.base))
            .timeout(self.timeout)
            .json(body);
        if let Some(k) = &self.key {
            req = req.bearer_auth(k);
        }
        let mut res = req.send().await.map_err(|e| self.transport(e))?;
        let status = res.status();
        if res.content_length().is_some_and(|n| n > self.max_body as u64) {
            return Err(Error::TooLarge(self.max_body));
        }
        // Read in chunks so that a reply without a length (or lying about it) stops at the cap.
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| match self.transport(e) {
            Error::Unreachable(e) => Error::Body(e),
            other => other,
        })? {
            if body.len() + chunk.len() > self.max_body {
                return Err(Error::TooLarge(self.max_body));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    fn transport(&self, e: reqwest::Error) -> Error {
        if e.is_timeout() {
            Error::Timeout(self.timeout)
        } else {
            Error::Unreachable(e.without_url().to_string())
        }
    }

    /// Like [`Client::post`], but only a successful status with a JSON body is an answer.
    async fn post_json(&self, path: &str, body: &Value) -> Result<Value> {
        let (status, text) = self.post(path, body).await?;
        if !status.is_success() {
            return Err(Error::Status {
                status,
                body: snippet(&text, 300),
            });
        }
        serde_json::from_str(&text).map_err(|_| {
            Error::Malformed(format!(
                "answered with something other than JSON: {}",
                snippet(&text, 200)
            ))
        })
    }

    /// One chat completion: the reply message and the tokens it took.
    pub async fn chat(
        &self,
        messages: &[Message],
        tools: Option<&Value>,
        temperature: f64,
    ) -> Result<(Message, Usage)> {
        let mut body = json!({"model": self.model, "messages": messages, "temperature": temperature});
        if let Some(t) = tools {
            body["tools"] = t.clone();
        }
        self.complete(&body).await
    }

    /// One chat completion asking for a JSON object (`response_format: json_object`,
    /// temperature 0); returns the object as the model wrote it.
    pub async fn chat_json(&self, messages: &[Message]) -> Result<String> {
        let body = json!({"model": self.model, "messages": messages, "temperature": 0,
                          "response_format": {"type": "json_object"}});
        let (message, _) = self.complete(&body).await?;
        message
            .content
            .ok_or_else(|| Error::Malformed("reply has no message content".into()))
    }

    async fn complete(&self, body: &Value) -> Result<(Message, Usage)> {
        let v = self.post_json("chat/completions", body).await?;
        let not_a_completion = || {
            Error::Malformed(format!(
                "answered with something other than a chat completion: {}",
                snippet(&v.to_string(), 200)
            ))
        };
        let c: Completion = serde_json::from_value(v.clone()).map_err(|_| not_a_completion())?;
        let usage = c.usage.map_or_else(Usage::default, |u| Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
        });
        let message = c.choices.into_iter().next().ok_or_else(not_a_completion)?.message;
        Ok((message, usage))
    }

    /// Embeddings for `inputs`, in order, requested [`EMBED_BATCH`] at a time.
    pub async fn embed(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(inputs.len());
        for batch in inputs.chunks(EMBED_BATCH) {
            let v = self
                .post_json("embeddings", &json!({"model": self.model, "input": batch}))
                .await?;
            let mut data: Vec<EmbeddingData> = serde_json::from_value(v["data"].clone())
                .map_err(|_| Error::Malformed("reply has no `data` list".into()))?;
            if data.len() != batch.len() {
                return Err(Error::Malformed(format!(
                    "returned {} vectors for {} inputs",
                    data.len(),
                    batch.len()
                )));
            }
            data.sort_by_key(|d| d.index);
            let dims = data[0].embedding.len();
            if data
                .iter()
                .any(|d| d.embedding.len() != dims || d.embedding.iter().any(|x| !x.is_finite()))
            {
                return Err(Error::Malformed(
                    "returned vectors of mixed sizes or non-numbers".into(),
                ));
            }
            out.extend(data.into_iter().map(|d| d.embedding));
        }
        Ok(out)
    }

    /// Forwards an embeddings request body as is (the model defaults to this client's);
    /// returns the upstream status and body, a non-JSON body wrapped as an error object.
    pub async fn forward_embeddings(&self, mut body: Value) -> Result<(u16, Value)> {
        if body.get("model").is_none_or(Value::is_null) {
            body["model"] = json!(self.model);
        }
        let (status, text) = self.post("embeddings", &body).await?;
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| json!({"error": {"code": "upstream_error", "message": text}}));
        Ok((status.as_u16(), body))
    }
}

/// The first `max` bytes of `s` (cut on a char boundary), marked when cut.
fn snippet(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}[… {} bytes cut]", &s[..end], s.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors() {
        let status = |s: u16| Error::Status {
            status: StatusCode::from_u16(s).unwrap(),
            body: String::new(),
        };
        assert!(status(429).is_transient());
        assert!(status(503).is_transient());
        assert!(!status(400).is_transient());
        assert!(!status(401).is_transient());
        assert!(Error::Timeout(Duration::from_secs(1)).is_transient());
        assert!(Error::Unreachable("refused".into()).is_transient());
        assert!(!Error::Malformed("x".into()).is_transient());
        assert_eq!(status(503).to_string(), "answered HTTP 503 Service Unavailable: ");
    }

    #[test]
    fn debug_redacts_the_key() {
        let c = Client::new(
            reqwest::Client::new(),
            "https://llm.example/v1",
            "m",
            Some("sk-live-123"),
        );
        let text = format!("{c:?}");
        assert!(!text.contains("sk-live-123") && text.contains("[redacted]"), "{text}");
        assert!(text.contains("https://llm.example/v1"), "{text}");
    }

    #[test]
    fn snippets_cut_on_char_boundaries() {
        assert_eq!(snippet("abc", 5), "abc");
        assert_eq!(snippet("ééé", 3), "é[… 4 bytes cut]");
    }
}
