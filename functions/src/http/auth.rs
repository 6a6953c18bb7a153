//! Bearer authentication: user tokens (UI), worker-host tokens, and job tokens (agents).

use axum::extract::FromRequestParts;
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

async fn api_token(parts: &Parts, state: &State, kind: TokenKind) -> Result<ApiToken> {
    let token = bearer(parts)?;
    let found = tokens::find(&state.db, &crypto::hash_token(token))
        .await?
        .ok_or(Error::Unauthenticated)?;
    if found.kind != kind {
        return Err(Error::Forbidden("this token may not call this API"));
    }
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
        jobs::authenticate_job_token(state, bearer(parts)?).await.map(JobAgent)
    }
}
