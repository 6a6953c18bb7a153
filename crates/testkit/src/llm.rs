//! An OpenAI-compatible chat-completions server (and Anthropic messages, at `/v1/messages`)
//! that replays a script and records every request, so tests drive the agent's real HTTP
//! client without a paid LLM. A request with `"stream": true` gets its reply as SSE events
//! in the provider's shape, with usage where the provider puts it (OpenAI: a last chunk,
//! only when `stream_options.include_usage` asks; Anthropic: `message_start` and
//! `message_delta`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// Dimension of the stand-in's embeddings.
pub const EMBEDDING_DIMS: usize = 384;

/// A deterministic embedding: words hashed into a bag of 384 buckets, L2-normalised, so
/// cosine similarity is lexical overlap. Embedding requests do not consume the script.
pub fn embed_text(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; EMBEDDING_DIMS];
    for word in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let h = word.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
        });
        v[(h % EMBEDDING_DIMS as u64) as usize] += 1.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter().map(|x| x / norm).collect()
}

async fn embeddings(axum::Json(body): axum::Json<Value>) -> axum::Json<Value> {
    let inputs: Vec<String> = match &body["input"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(a) => a.iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect(),
        _ => vec![],
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": embed_text(t)}))
        .collect();
    axum::Json(json!({"object": "list", "data": data, "model": body["model"]}))
}

/// One scripted reply, consumed in order.
#[derive(Debug, Clone)]
pub enum Reply {
    /// An assistant message with this text.
    Text(String),
    /// An assistant message asking for tool calls: `(name, arguments)`.
    Tools(Vec<(String, Value)>),
    /// An error status with a body.
    Status(u16, String),
    /// A 200 whose body is not a chat completion.
    Garbage(String),
    /// Waits before answering (for client timeouts).
    Delay(Duration, Box<Reply>),
    /// Answers only once the test opens the gate (to act while an agent is mid-run).
    Held(Gate, Box<Reply>),
    /// The reply, reporting this usage (input, output) instead of the default 10 and 5.
    Usage(i64, i64, Box<Reply>),
}

/// Holds [`Reply::Held`] replies until [`Gate::open`].
#[derive(Debug, Clone)]
pub struct Gate(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Gate {
    fn default() -> Self {
        Gate(Arc::new(tokio::sync::watch::channel(false).0))
    }
}

impl Gate {
    pub fn open(&self) {
        self.0.send_replace(true);
    }

    async fn passed(&self) {
        let _ = self.0.subscribe().wait_for(|open| *open).await;
    }
}

impl Reply {
    pub fn text(s: impl Into<String>) -> Reply {
        Reply::Text(s.into())
    }
    /// The text of `v` serialised (Director decisions).
    pub fn json(v: Value) -> Reply {
        Reply::Text(v.to_string())
    }
    pub fn tool(name: &str, args: Value) -> Reply {
        Reply::Tools(vec![(name.to_string(), args)])
    }
    /// This reply with `input` and `output` tokens in its usage.
    pub fn with_usage(self, input: i64, output: i64) -> Reply {
        Reply::Usage(input, output, Box::new(self))
    }
}

/// Which provider's wire format a request came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    OpenAi,
    Anthropic,
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Reply>,
    requests: Vec<Value>,
    /// The credential each request carried: `Authorization`, else `x-api-key`.
    credentials: Vec<Option<String>>,
    served: usize,
}

/// A running stand-in; `url` is the base to configure (`{url}/chat/completions`).
#[derive(Clone)]
pub struct LlmStandIn {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl LlmStandIn {
    pub async fn start(script: Vec<Reply>) -> LlmStandIn {
        Self::start_at("127.0.0.1", script).await
    }

    /// Listens on `ip` (e.g. the Docker bridge gateway, so containers can reach it too).
    pub async fn start_at(ip: &str, script: Vec<Reply>) -> LlmStandIn {
        let inner = Arc::new(Mutex::new(Inner {
            script: script.into(),
            ..Default::default()
        }));
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/chat/completions", post(chat))
            .route("/v1/messages", post(messages))
            .route("/v1/embeddings", post(embeddings))
            .route("/embeddings", post(embeddings))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        LlmStandIn {
            url: format!("http://{addr}/v1"),
            inner,
        }
    }

    /// Appends replies to the script.
    pub fn push(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.lock().unwrap().script.extend(replies);
    }

    /// Every request body received, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The credential of every request, in order: its `Authorization` header, else its
    /// `x-api-key`.
    pub fn credentials(&self) -> Vec<Option<String>> {
        self.inner.lock().unwrap().credentials.clone()
    }

    /// Scripted replies not consumed yet.
    pub fn remaining(&self) -> usize {
        self.inner.lock().unwrap().script.len()
    }
}

async fn chat(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: String) -> Response {
    serve(inner, headers, body, Shape::OpenAi).await
}

async fn messages(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: String) -> Response {
    serve(inner, headers, body, Shape::Anthropic).await
}

async fn serve(inner: Arc<Mutex<Inner>>, headers: HeaderMap, body: String, shape: Shape) -> Response {
    let request = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let (reply, n) = {
        let mut g = inner.lock().unwrap();
        let credential = ["authorization", "x-api-key"]
            .iter()
            .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()).map(str::to_owned));
        g.credentials.push(credential);
        g.requests.push(request.clone());
        g.served += 1;
        (g.script.pop_front(), g.served)
    };
    let Some(reply) = reply else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "llm stand-in: script exhausted").into_response();
    };
    render(reply, n, (10, 5), shape, request).await
}

fn render(
    reply: Reply,
    n: usize,
    usage: (i64, i64),
    shape: Shape,
    request: Value,
) -> std::pin::Pin<Box<dyn Future<Output = Response> + Send>> {
    Box::pin(async move {
        let message = match reply {
            Reply::Delay(d, inner) => {
                tokio::time::sleep(d).await;
                return render(*inner, n, usage, shape, request).await;
            }
            Reply::Held(gate, inner) => {
                gate.passed().await;
                return render(*inner, n, usage, shape, request).await;
            }
            Reply::Usage(i, o, inner) => return render(*inner, n, (i, o), shape, request).await,
            Reply::Status(code, body) => {
                return (StatusCode::from_u16(code).unwrap(), body).into_response();
            }
            Reply::Garbage(body) => return (StatusCode::OK, body).into_response(),
            Reply::Text(t) => json!({"role": "assistant", "content": t}),
            Reply::Tools(calls) => json!({
                "role": "assistant",
                "content": null,
                "tool_calls": calls.iter().enumerate().map(|(i, (name, args))| json!({
                    "id": format!("call_{n}_{i}"),
                    "type": "function",
                    "function": {"name": name, "arguments": args.to_string()},
                })).collect::<Vec<_>>(),
            }),
        };
        let streamed = request["stream"] == true;
        match (shape, streamed) {
            (Shape::OpenAi, false) => axum::Json(openai_completion(n, message, usage)).into_response(),
            (Shape::OpenAi, true) => {
                let with_usage = request["stream_options"]["include_usage"] == true;
                sse(openai_chunks(n, &message, usage, with_usage))
            }
            (Shape::Anthropic, false) => axum::Json(anthropic_message(n, &message, usage)).into_response(),
            (Shape::Anthropic, true) => sse(anthropic_events(n, &message, usage)),
        }
    })
}

fn openai_completion(n: usize, message: Value, (input, output): (i64, i64)) -> Value {
    let finish = if message.get("tool_calls").is_some() {
        "tool_calls"
    } else {
        "stop"
    };
    json!({
        "id": format!("chatcmpl-{n}"),
        "object": "chat.completion",
        "created": 0,
        "model": "stand-in",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output},
    })
}

/// The reply's text in two deltas, a finish chunk, and (when asked) a usage chunk.
fn openai_chunks(
    n: usize,
    message: &Value,
    (input, output): (i64, i64),
    with_usage: bool,
) -> Vec<(Option<&'static str>, Value)> {
    let text = message["content"].as_str().unwrap_or_default();
    let (a, b) = text.split_at(text.len() / 2);
    let chunk = |delta: Value, finish: Value| {
        json!({"id": format!("chatcmpl-{n}"), "object": "chat.completion.chunk", "model": "stand-in",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": null})
    };
    let mut out = vec![
        (None, chunk(json!({"role": "assistant", "content": a}), Value::Null)),
        (None, chunk(json!({"content": b}), Value::Null)),
        (None, chunk(json!({}), json!("stop"))),
    ];
    if with_usage {
        out.push((
            None,
            json!({"id": format!("chatcmpl-{n}"), "object": "chat.completion.chunk", "choices": [],
            "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}}),
        ));
    }
    out
}

fn anthropic_message(n: usize, message: &Value, (input, output): (i64, i64)) -> Value {
    json!({
        "id": format!("msg_{n}"),
        "type": "message",
        "role": "assistant",
        "model": "stand-in",
        "content": [{"type": "text", "text": message["content"].as_str().unwrap_or_default()}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": input, "output_tokens": output},
    })
}

/// Anthropic's event sequence: input in `message_start`, a running output count in
/// `message_delta` (the last one is the total).
fn anthropic_events(n: usize, message: &Value, (input, output): (i64, i64)) -> Vec<(Option<&'static str>, Value)> {
    let text = message["content"].as_str().unwrap_or_default();
    vec![
        (
            Some("message_start"),
            json!({"type": "message_start", "message": {"id": format!("msg_{n}"), "type": "message",
            "role": "assistant", "content": [], "model": "stand-in", "usage": {"input_tokens": input, "output_tokens": 1}}}),
        ),
        (
            Some("content_block_start"),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        (
            Some("content_block_delta"),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        ),
        (
            Some("content_block_stop"),
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            Some("message_delta"),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": output}}),
        ),
        (Some("message_stop"), json!({"type": "message_stop"})),
    ]
}

/// Events as `text/event-stream`, each in its own chunk (OpenAI's end with `[DONE]`).
fn sse(events: Vec<(Option<&'static str>, Value)>) -> Response {
    let openai = events.iter().all(|(name, _)| name.is_none());
    let mut chunks: Vec<String> = events
        .into_iter()
        .map(|(name, data)| match name {
            Some(e) => format!("event: {e}\ndata: {data}\n\n"),
            None => format!("data: {data}\n\n"),
        })
        .collect();
    if openai {
        chunks.push("data: [DONE]\n\n".into());
    }
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::convert::Infallible>));
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(axum::body::Body::from_stream(stream))
        .unwrap()
}
