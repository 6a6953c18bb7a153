//! Keyset pagination for list routes. Every list is ordered by `(created_at, id)` (jobs:
//! newest first), so a page continues after the last row the caller saw: rows added or
//! removed meanwhile never shift another row onto or off a page the caller has not read.
//!
//! The cursor is opaque to callers (base64url of the last row's key); one that does not
//! decode is the caller's mistake (400 `invalid_input`, field `cursor`), never a 500. A
//! `limit` outside `1..=MAX_LIMIT` is refused the same way (field `limit`) rather than
//! quietly clamped, so a client never mistakes a short page for the end.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{Error, Result};

/// Rows per page unless the caller asks for fewer or more.
pub const DEFAULT_LIMIT: i64 = 50;
/// The most rows one page may hold.
pub const MAX_LIMIT: i64 = 200;

/// The sort key of a row: where the next page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Key {
    pub fn new(created_at: DateTime<Utc>, id: impl Into<Uuid>) -> Self {
        Key {
            created_at,
            id: id.into(),
        }
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}.{}", self.created_at.timestamp_micros(), self.id))
    }

    pub fn decode(cursor: &str) -> Result<Self> {
        let broken = || Error::invalid("cursor", "not a cursor this API handed out; start again without one");
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| broken())?;
        let text = String::from_utf8(bytes).map_err(|_| broken())?;
        let (micros, id) = text.split_once('.').ok_or_else(broken)?;
        let micros: i64 = micros.parse().map_err(|_| broken())?;
        Ok(Key {
            created_at: DateTime::from_timestamp_micros(micros).ok_or_else(broken)?,
            id: id.parse().map_err(|_| broken())?,
        })
    }
}

/// Which rows a store query returns: those after `after` (all from the start when
/// `None`), at most `limit`.
#[derive(Debug, Clone, Copy)]
pub struct Slice {
    pub after: Option<Key>,
    pub limit: i64,
}

impl Slice {
    /// Every row (for internal callers that need the whole list, e.g. the agent's context).
    pub const ALL: Slice = Slice {
        after: None,
        limit: i64::MAX,
    };
}

/// A page size the caller asked for, if it is from 1 to `max` (the same rule for every
/// paged route, the job log included).
pub fn check_limit(limit: i64, max: i64) -> Result<i64> {
    if !(1..=max).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be from 1 to {max}")));
    }
    Ok(limit)
}

/// A caller's page request, checked.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    after: Option<Key>,
    limit: i64,
}

impl PageRequest {
    pub fn new(limit: Option<i64>, cursor: Option<&str>) -> Result<Self> {
        let limit = check_limit(limit.unwrap_or(DEFAULT_LIMIT), MAX_LIMIT)?;
        let after = cursor.map(Key::decode).transpose()?;
        Ok(PageRequest { after, limit })
    }

    pub fn limit(&self) -> i64 {
        self.limit
    }

    /// Whether this is the list's first page (no cursor).
    pub fn is_first(&self) -> bool {
        self.after.is_none()
    }

    /// One row more than the page, to learn whether another page follows.
    pub fn slice(&self) -> Slice {
        Slice {
            after: self.after,
            limit: self.limit + 1,
        }
    }

    /// Cuts the rows `slice()` fetched to the page and names the next page's cursor.
    pub fn page<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> Key) -> Page<T> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next = if more {
            rows.last().map(|r| key(r).encode())
        } else {
            None
        };
        Page { items: rows, next }
    }
}

/// One page of a list and the cursor of the next one, if any.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_broken_ones_are_refused() {
        let k = Key::new(
            DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            Uuid::new_v4(),
        );
        assert_eq!(Key::decode(&k.encode()).unwrap(), k);
        for bad in ["", "!!", "bm90LWEtY3Vyc29y", &URL_SAFE_NO_PAD.encode("1.not-a-uuid")] {
            assert!(
                matches!(Key::decode(bad), Err(Error::Invalid(f)) if f.field == "cursor"),
                "{bad}"
            );
        }
    }

    #[test]
    fn limits_outside_the_range_are_refused() {
        assert!(PageRequest::new(Some(MAX_LIMIT), None).is_ok());
        for bad in [0, -1, MAX_LIMIT + 1] {
            assert!(matches!(PageRequest::new(Some(bad), None), Err(Error::Invalid(f)) if f.field == "limit"));
        }
    }
}
