//! Minimal OpenAI-compatible clients: chat completions (for memory extraction) and
//! embeddings. Keys go in the Authorization header only, never in logs or errors.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Error, Result};

#[derive(Clone)]
pub struct Endpoint {
    pub url: String,
    pub model: String,
    pub key: Option<String>,
    /// The process's client (`App::http`).
    pub http: reqwest::Client,
}

/// How long one request may take, from connecting to the end of the body.
const TIMEOUT: Duration = Duration::from_secs(60);

async fn post(endpoint: &Endpoint, path: &str, body: &Value) -> Result<Value> {
    let mut req = endpoint
        .http
        .post(format!("{}/{path}", endpoint.url.trim_end_matches('/')))
        .timeout(TIMEOUT)
        .json(body);
    if let Some(k) = &endpoint.key {
        req = req.bearer_auth(k);
    }
    let what = if path == "embeddings" {
        "embedding service"
    } else {
        "LLM"
    };
    let res = req
        .send()
        .await
        .map_err(|e| Error::Unavailable(format!("{what} unreachable: {}", e.without_url())))?;
    let status = res.status();
    if !status.is_success() {
        return Err(Error::Unavailable(format!("{what} answered {status}")));
    }
    res.json()
        .await
        .map_err(|_| Error::Unavailable(format!("{what} answered with something other than JSON")))
}

/// One chat completion asking for a JSON object; returns the message content.
pub async fn chat_json(endpoint: &Endpoint, messages: &[Value]) -> Result<String> {
    let body = json!({"model": endpoint.model, "messages": messages, "temperature": 0,
                      "response_format": {"type": "json_object"}});
    let v = post(endpoint, "chat/completions", &body).await?;
    v["choices"][0]["message"]["content"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::Unavailable("LLM reply has no message content".into()))
}

#[derive(Deserialize)]
struct EmbeddingData {
    index: usize,
    embedding: Vec<f32>,
}

const EMBED_BATCH: usize = 64;

/// Embeddings for `inputs`, in order, requested in batches.
pub async fn embed(endpoint: &Endpoint, inputs: &[String]) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(inputs.len());
    for batch in inputs.chunks(EMBED_BATCH) {
        let v = post(
            endpoint,
            "embeddings",
            &json!({"model": endpoint.model, "input": batch}),
        )
        .await?;
        let mut data: Vec<EmbeddingData> = serde_json::from_value(v["data"].clone())
            .map_err(|_| Error::Unavailable("embedding service reply has no `data` list".into()))?;
        if data.len() != batch.len() {
            return Err(Error::Unavailable(format!(
                "embedding service returned {} vectors for {} inputs",
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
            return Err(Error::Unavailable(
                "embedding service returned vectors of mixed sizes or non-numbers".into(),
            ));
        }
        out.extend(data.into_iter().map(|d| d.embedding));
    }
    Ok(out)
}

/// Forwards an OpenAI embeddings request body as is; returns the upstream status and body.
pub async fn forward_embeddings(endpoint: &Endpoint, mut body: Value) -> Result<(u16, Value)> {
    if body.get("model").is_none_or(Value::is_null) {
        body["model"] = json!(endpoint.model);
    }
    let mut req = endpoint
        .http
        .post(format!("{}/embeddings", endpoint.url.trim_end_matches('/')))
        .timeout(TIMEOUT)
        .json(&body);
    if let Some(k) = &endpoint.key {
        req = req.bearer_auth(k);
    }
    let res = req
        .send()
        .await
        .map_err(|e| Error::Unavailable(format!("embedding service unreachable: {}", e.without_url())))?;
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| json!({"error": {"code": "upstream_error", "message": text}}));
    Ok((status, body))
}
