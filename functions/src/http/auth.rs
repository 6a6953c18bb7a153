//! Bearer authentication: user tokens (UI), worker-host tokens, and job tokens (agents).

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::request::Parts;
use terarchitect_protocol::{Job, TokenKind};

use super::State;
use crate::domain::{crypto, jobs};
use crate::store::tokens::{self, ApiToken};
use crate::{Error, Result};

fn bearer(parts: &Parts) -> Result<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 200)
        .ok_or(Error::Unauthenticated)
}

/// Writes a token may make per minute unless it has its own limit (`mint-token
/// --writes-per-minute`): a person's (the UI's) and a job's agent's are generous for their
/// use; a worker token is shared by every host of a deployment.
fn writes_per_minute(kind: TokenKind) -> i32 {
    match kind {
        TokenKind::User => 240,
        TokenKind::Worker => 3000,
    }
}
const AGENT_WRITES_PER_MINUTE: i32 = 600;

/// Counts a write (any method but GET and HEAD) against the token's minute; over `limit`,
/// a 429 saying when the minute ends.
async fn limit_writes(parts: &Parts, state: &State, hash: &[u8], limit: i32) -> Result<()> {
    if matches!(parts.method, Method::GET | Method::HEAD) {
        return Ok(());
    }
    let (hits, secs_left) = tokens::count_write(&state.db, hash).await?;
    if hits > limit {
        return Err(Error::RateLimited(secs_left.ceil().max(1.0) as u64));
    }
    Ok(())
}

async fn api_token(parts: &Parts, state: &State, kind: TokenKind) -> Result<ApiToken> {
    let hash = crypto::hash_token(bearer(parts)?);
    let found = tokens::find(&state.db, &hash).await?.ok_or(Error::Unauthenticated)?;
    if found.kind != kind {
        return Err(Error::Forbidden("this token may not call this API"));
    }
    let limit = found.writes_per_minute.unwrap_or_else(|| writes_per_minute(kind));
    limit_writes(parts, state, &hash, limit).await?;
    Ok(found)
}

/// A person (or the UI on their behalf).
pub struct User(pub ApiToken);

impl FromRequestParts<State> for User {
    type Rejection = Error;
    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self> {
        api_token(parts, state, TokenKind::User).await.map(User)
    }
}

/// A worker host: may claim, heartbeat and finish jobs.
pub struct WorkerHost(pub ApiToken);

impl FromRequestParts<State> for WorkerHost {
    type Rejection = Error;
    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self> {
        api_token(parts, state, TokenKind::Worker).await.map(WorkerHost)
    }
}

/// An agent: its job token names exactly one running job.
pub struct JobAgent(pub Job);

impl FromRequestParts<State> for JobAgent {
    type Rejection = Error;
    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self> {
        let token = bearer(parts)?;
        let job = jobs::authenticate_job_token(state, token).await?;
        limit_writes(parts, state, &crypto::hash_token(token), AGENT_WRITES_PER_MINUTE).await?;
        Ok(JobAgent(job))
    }
}
