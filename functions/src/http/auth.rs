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
/// --writes-per-minute`): a person's (the UI's) is generous for their use; a worker host's
/// covers its agents' log streams. A job's agent gets `App::agent_writes_per_minute`.
fn writes_per_minute(kind: TokenKind) -> i32 {
    match kind {
        TokenKind::User => 240,
        TokenKind::Worker => 3000,
    }
}

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

/// A worker host: may claim, heartbeat and finish jobs, as the host its token is bound to
/// (the lease owner), whatever a request body says.
pub struct WorkerHost {
    pub token: ApiToken,
    pub host_id: String,
}

impl WorkerHost {
    /// Checks a host id a request body names (optional, kept for older hosts): it must be
    /// this token's host, so a host configured with another host's token is told at once.
    pub fn check_body(&self, body_host: Option<&str>) -> Result<&str> {
        match body_host {
            Some(h) if h != self.host_id => Err(Error::Forbidden(
                "host_id does not name the host this worker token was minted for",
            )),
            _ => Ok(&self.host_id),
        }
    }
}

impl FromRequestParts<State> for WorkerHost {
    type Rejection = Error;
    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self> {
        let token = api_token(parts, state, TokenKind::Worker).await?;
        // Tokens from before host binding (one token for every host) act for no host.
        let host_id = token.host_id.clone().ok_or(Error::Forbidden(
            "this worker token is not bound to a host: mint one per host with \
             `admin mint-token --kind worker --host HOST_ID`",
        ))?;
        Ok(WorkerHost { token, host_id })
    }
}

/// An agent: its job token names exactly one running job.
pub struct JobAgent(pub Job);

impl FromRequestParts<State> for JobAgent {
    type Rejection = Error;
    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self> {
        let token = bearer(parts)?;
        let job = jobs::authenticate_job_token(state, token).await?;
        limit_writes(parts, state, &crypto::hash_token(token), state.agent_writes_per_minute).await?;
        Ok(JobAgent(job))
    }
}
