//! `Idempotency-Key`: a request repeated with the same key (per token) gets the first
//! response again instead of running twice; the same key with a different request is a
//! 409, and so is one whose first request is still running. A failed request frees its
//! key, so the caller may retry it; so does a request that died without an answer, once
//! a minute has passed. Keys expire after a day (`store::tokens`).

use std::future::Future;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::State;
use super::extract::Json;
use crate::domain::crypto;
use crate::store::tokens::{self, ApiToken, Idempotent};
use crate::{Error, Result};

/// Runs `run` at most once per `Idempotency-Key` header value of `token` (every time
/// without the header). `request` identifies the request (ids and body) so a key reused
/// for another one is refused.
pub async fn once<T: Serialize>(
    s: &State,
    token: &ApiToken,
    headers: &HeaderMap,
    request: &impl Serialize,
    run: impl Future<Output = Result<T>>,
) -> Result<Response> {
    let key = headers.get("idempotency-key").map(|v| v.to_str().map(str::to_owned));
    let Some(key) = key else {
        return Ok(Json(run.await?).into_response());
    };
    let key = key.map_err(|_| Error::invalid("Idempotency-Key", "must be visible ASCII"))?;
    if key.is_empty() || key.len() > 200 {
        return Err(Error::invalid("Idempotency-Key", "must be 1 to 200 characters"));
    }
    let request = serde_json::to_vec(request).map_err(|e| Error::Internal(e.to_string()))?;
    let mut conn = s.db.acquire().await?;
    match tokens::begin_idempotent(&mut conn, token.id, &key, &crypto::hash_bytes(&request)).await? {
        Idempotent::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            Ok((status, axum::Json(body)).into_response())
        }
        Idempotent::New => match run.await {
            Ok(outcome) => {
                let body = serde_json::to_value(&outcome).map_err(|e| Error::Internal(e.to_string()))?;
                tokens::save_response(&mut *conn, token.id, &key, 200, &body).await?;
                Ok(axum::Json(body).into_response())
            }
            Err(e) => {
                tokens::forget(&mut *conn, token.id, &key).await?;
                Err(e)
            }
        },
    }
}
