//! API tokens (stored as SHA-256 hashes) and idempotency keys.

use std::time::Duration;

use sqlx::PgExecutor;
use terarchitect_protocol::TokenKind;
use uuid::Uuid;

use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    pub kind: TokenKind,
    /// Its own write limit per minute (None: its kind's default).
    pub writes_per_minute: Option<i32>,
    /// A worker token's host: the only lease owner it may act as.
    pub host_id: Option<String>,
}

/// Stores a token's hash. `host`: the worker host it is bound to (worker tokens only).
pub async fn insert(
    db: impl PgExecutor<'_>,
    name: &str,
    kind: TokenKind,
    host: Option<&str>,
    hash: &[u8],
) -> Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO api_tokens (id, name, kind, host_id, token_hash) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(name)
        .bind(kind)
        .bind(host)
        .bind(hash)
        .execute(db)
        .await?;
    Ok(id)
}

pub async fn find(db: impl PgExecutor<'_>, hash: &[u8]) -> Result<Option<ApiToken>> {
    Ok(sqlx::query_as(
        "SELECT id, name, kind, writes_per_minute, host_id FROM api_tokens \
         WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(db)
    .await?)
}

/// Gives a token its own write limit per minute (None: its kind's default).
pub async fn set_writes_per_minute(db: impl PgExecutor<'_>, id: Uuid, limit: Option<i32>) -> Result<()> {
    sqlx::query("UPDATE api_tokens SET writes_per_minute = $2 WHERE id = $1")
        .bind(id)
        .bind(limit)
        .execute(db)
        .await?;
    Ok(())
}

/// Counts one write by the token with hash `hash` in the current minute. Returns the
/// minute's count so far and the seconds until the next minute begins.
pub async fn count_write(db: impl PgExecutor<'_>, hash: &[u8]) -> Result<(i32, f64)> {
    Ok(sqlx::query_as(
        "INSERT INTO rate_windows (token_hash, window_start, hits) VALUES ($1, date_trunc('minute', now()), 1) \
         ON CONFLICT (token_hash, window_start) DO UPDATE SET hits = rate_windows.hits + 1 \
         RETURNING hits, extract(epoch FROM window_start + interval '1 minute' - now())::float8",
    )
    .bind(hash)
    .fetch_one(db)
    .await?)
}

/// Drops rate windows that ended minutes ago.
pub async fn purge_rate_windows(db: impl PgExecutor<'_>) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM rate_windows WHERE window_start < now() - interval '5 minutes'")
            .execute(db)
            .await?
            .rows_affected(),
    )
}

/// Which live tokens [`revoke_matching`] revokes.
#[derive(Debug, Clone, Copy)]
pub enum Revoke<'a> {
    /// Every token with this name.
    Name(&'a str),
    /// Every token bound to this worker host.
    Host(&'a str),
}

/// Revokes the live tokens `which` names; how many (0: none matched).
pub async fn revoke_matching(db: impl PgExecutor<'_>, which: Revoke<'_>) -> Result<u64> {
    let (sql, value) = match which {
        Revoke::Name(n) => (
            "UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL",
            n,
        ),
        Revoke::Host(h) => (
            "UPDATE api_tokens SET revoked_at = now() WHERE host_id = $1 AND revoked_at IS NULL",
            h,
        ),
    };
    let done = sqlx::query(sql).bind(value).execute(db).await?;
    Ok(done.rows_affected())
}

pub async fn revoke(db: impl PgExecutor<'_>, id: Uuid) -> Result<()> {
    let done = sqlx::query("UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("token"));
    }
    Ok(())
}

/// A stored response for a repeated request, or `None` when the key is new (and now
/// reserved for this request, until `save_response` or the transaction ends).
#[derive(Debug)]
pub enum Idempotent {
    New,
    Replay { status: u16, body: serde_json::Value },
}

/// How long a key's first response is replayed; after that the key is free again.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// A key still "in progress" this long after its request began belongs to a request that
/// died (a function times out after 29 s): it may be taken again.
pub const IN_PROGRESS_RECLAIM: Duration = Duration::from_secs(60);

/// Takes the key for a new request (`New`), or answers with the first response (`Replay`).
/// An expired key, or an in-progress one whose request died, is taken over.
pub async fn begin_idempotent(
    db: &mut sqlx::PgConnection,
    token_id: Uuid,
    key: &str,
    request_hash: &[u8],
) -> Result<Idempotent> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (token_id, key, request_hash) VALUES ($1, $2, $3) \
         ON CONFLICT (token_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, \
           response_status = NULL, response_body = NULL, created_at = now() \
         WHERE idempotency_keys.created_at < now() - make_interval(secs => $4) \
            OR (idempotency_keys.response_status IS NULL \
                AND idempotency_keys.created_at < now() - make_interval(secs => $5))",
    )
    .bind(token_id)
    .bind(key)
    .bind(request_hash)
    .bind(IDEMPOTENCY_TTL.as_secs_f64())
    .bind(IN_PROGRESS_RECLAIM.as_secs_f64())
    .execute(&mut *db)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Idempotent::New);
    }
    let (hash, status, body): (Vec<u8>, Option<i32>, Option<serde_json::Value>) = sqlx::query_as(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE token_id = $1 AND key = $2",
    )
    .bind(token_id)
    .bind(key)
    .fetch_one(&mut *db)
    .await?;
    if hash != request_hash {
        return Err(Error::Conflict(
            "this Idempotency-Key was used with a different request".into(),
        ));
    }
    match (status, body) {
        (Some(s), Some(b)) => Ok(Idempotent::Replay {
            status: s as u16,
            body: b,
        }),
        _ => Err(Error::Conflict(
            "a request with this Idempotency-Key is still in progress".into(),
        )),
    }
}

pub async fn save_response(
    db: impl PgExecutor<'_>,
    token_id: Uuid,
    key: &str,
    status: u16,
    body: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET response_status = $3, response_body = $4 WHERE token_id = $1 AND key = $2",
    )
    .bind(token_id)
    .bind(key)
    .bind(i32::from(status))
    .bind(body)
    .execute(db)
    .await?;
    Ok(())
}

/// Drops a key whose request failed, so the caller may retry it.
pub async fn forget(db: impl PgExecutor<'_>, token_id: Uuid, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE token_id = $1 AND key = $2 AND response_status IS NULL")
        .bind(token_id)
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes keys past their time to live (the scheduler's pass); returns how many.
pub async fn purge_expired_idempotency_keys(db: impl PgExecutor<'_>) -> Result<u64> {
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)")
        .bind(IDEMPOTENCY_TTL.as_secs_f64())
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
