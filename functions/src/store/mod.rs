//! All SQL lives here, one module per aggregate. Queries are checked at run time
//! (`sqlx::query_as` + `FromRow`) and every one of them is exercised by the integration
//! tests against a real Postgres; see docs/development.md for why not `query!`.

/// `format!` for SQL assembled from constants of this module (never from input).
macro_rules! sql {
    ($($t:tt)*) => { sqlx::AssertSqlSafe(format!($($t)*)) };
}

pub mod board;
pub mod graph;
pub mod jobs;
pub mod memory;
pub mod notes;
pub mod projects;
pub mod reviews;
pub mod roles;
pub mod settings;
pub mod tickets;
pub mod tokens;
pub mod usage;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

pub type Tx<'a> = Transaction<'a, Postgres>;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// A pool that connects on first use: a function that cold-starts while the database is
/// down still starts, and answers 503 `unavailable` until the database is back.
pub fn connect(opts: PgConnectOptions, max_connections: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(opts)
}

/// Applies pending migrations. Safe to call from several processes at once: sqlx holds a
/// Postgres advisory lock while it migrates.
pub async fn migrate(pool: &PgPool) -> crate::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| crate::Error::Internal(format!("migration failed: {e}")))
}

/// SQL for one `Slice` of a list in `(created_at, id)` order of the table aliased
/// `alias` (`"t."`, or `""`), newest first when `newest_first`: the rows after the slice's
/// key, at most its limit. Reads the key and the limit from `$n`, `$n+1`, `$n+2`
/// (bound by [`bind_slice`]).
fn keyset(alias: &str, n: usize, newest_first: bool) -> String {
    let (cmp, dir) = if newest_first { ("<", " DESC") } else { (">", "") };
    format!(
        "(${n}::timestamptz IS NULL OR ({alias}created_at, {alias}id) {cmp} (${n}, ${})) \
         ORDER BY {alias}created_at{dir}, {alias}id{dir} LIMIT ${}",
        n + 1,
        n + 2
    )
}

type QueryAs<'q, O> = sqlx::query::QueryAs<'q, Postgres, O, sqlx::postgres::PgArguments>;

/// Binds the parameters [`keyset`] reads.
fn bind_slice<O>(q: QueryAs<'_, O>, slice: crate::domain::page::Slice) -> QueryAs<'_, O> {
    q.bind(slice.after.map(|k| k.created_at))
        .bind(slice.after.map(|k| k.id))
        .bind(slice.limit)
}

pub async fn ping(db: &PgPool) -> crate::Result<()> {
    sqlx::query("SELECT 1").execute(db).await?;
    Ok(())
}

/// Serialises changes to one project's board (positions, moves, job creation).
pub async fn lock_project(tx: &mut Tx<'_>, project_id: terarchitect_protocol::ProjectId) -> crate::Result<()> {
    let found: Option<(terarchitect_protocol::ProjectId,)> =
        sqlx::query_as("SELECT id FROM projects WHERE id = $1 FOR UPDATE")
            .bind(project_id)
            .fetch_optional(&mut **tx)
            .await?;
    found.map(|_| ()).ok_or(crate::Error::NotFound("project"))
}
