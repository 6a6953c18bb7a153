//! A deterministic OpenAI-compatible server for memory tests: embeddings are hashed
//! bags of words (so lexical overlap is cosine similarity), and chat completions answer
//! extraction requests from a table keyed by document text. It records what it got.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};

pub const DIMS: usize = terarchitect_testkit::llm::EMBEDDING_DIMS;

#[derive(Default)]
pub struct Script {
    /// Document text → extraction JSON to answer with.
    pub extractions: HashMap<String, Value>,
    /// Replies served (in order) before the table is used: e.g. malformed ones.
    pub first_replies: Vec<String>,
    pub chat_requests: Vec<Value>,
    pub embedding_requests: Vec<Value>,
}

pub struct OpenAi {
    pub url: String,
    pub script: Arc<Mutex<Script>>,
}

pub use terarchitect_testkit::llm::embed_text;

async fn embeddings(State(s): State<Arc<Mutex<Script>>>, Json(body): Json<Value>) -> Json<Value> {
    s.lock().unwrap().embedding_requests.push(body.clone());
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
    Json(json!({"object": "list", "data": data, "model": body["model"]}))
}

async fn chat(State(s): State<Arc<Mutex<Script>>>, Json(body): Json<Value>) -> Json<Value> {
    let mut s = s.lock().unwrap();
    s.chat_requests.push(body.clone());
    let content = if s.first_replies.is_empty() {
        let doc = body["messages"][1]["content"].as_str().unwrap_or_default();
        s.extractions
            .get(doc)
            .cloned()
            .unwrap_or(json!({"entities": [], "triples": []}))
            .to_string()
    } else {
        s.first_replies.remove(0)
    };
    Json(
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}),
    )
}

impl OpenAi {
    pub async fn start() -> OpenAi {
        let script = Arc::new(Mutex::new(Script::default()));
        let app = axum::Router::new()
            .route("/v1/embeddings", post(embeddings))
            .route("/v1/chat/completions", post(chat))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        OpenAi { url, script }
    }
}
