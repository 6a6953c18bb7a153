//! An OpenAI-compatible chat-completions server that replays a script and records every
//! request, so tests drive the agent's real HTTP client without a paid LLM.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
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
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Reply>,
    requests: Vec<Value>,
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

    /// Scripted replies not consumed yet.
    pub fn remaining(&self) -> usize {
        self.inner.lock().unwrap().script.len()
    }
}

async fn chat(State(inner): State<Arc<Mutex<Inner>>>, body: String) -> Response {
    let (reply, n) = {
        let mut g = inner.lock().unwrap();
        g.requests
            .push(serde_json::from_str(&body).unwrap_or(Value::String(body)));
        g.served += 1;
        (g.script.pop_front(), g.served)
    };
    let Some(reply) = reply else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "llm stand-in: script exhausted").into_response();
    };
    render(reply, n).await
}

fn render(reply: Reply, n: usize) -> std::pin::Pin<Box<dyn Future<Output = Response> + Send>> {
    Box::pin(async move {
        let message = match reply {
            Reply::Delay(d, inner) => {
                tokio::time::sleep(d).await;
                return render(*inner, n).await;
            }
            Reply::Held(gate, inner) => {
                gate.passed().await;
                return render(*inner, n).await;
            }
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
        let finish = if message.get("tool_calls").is_some() {
            "tool_calls"
        } else {
            "stop"
        };
        axum::Json(json!({
            "id": format!("chatcmpl-{n}"),
            "object": "chat.completion",
            "created": 0,
            "model": "stand-in",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }))
        .into_response()
    })
}
