//! The functions' own database login: a role that reads and writes the tables and does
//! nothing else (no DDL, no roles, owns nothing). `migrate`, connected as the master
//! user, sets it up after the migrations on every deploy.

use sqlx::PgPool;

use crate::{Error, Result};

/// Run in order after the role exists. Postgres `format()`s each with the role (`%1$I`)
/// and the database (`%2$I`), so no name is quoted here.
const GRANTS: &[&str] = &[
    // Before Postgres 15 every role may create tables in `public`.
    "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    "GRANT CONNECT ON DATABASE %2$I TO %1$I",
    "GRANT USAGE ON SCHEMA public TO %1$I",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %1$I",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %1$I",
    // Only `migrate` records migrations.
    "REVOKE INSERT, UPDATE, DELETE ON TABLE _sqlx_migrations FROM %1$I",
    // Tables and sequences that later migrations create (as this user).
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %1$I",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %1$I",
];

/// Creates login `role` with `password`, or sets the password of the existing one, and
/// grants it the tables. Idempotent; safe to run from two deploys at once.
pub async fn ensure_app_role(db: &PgPool, role: &str, password: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('terarchitect app role'))")
        .execute(&mut *tx)
        .await?;
    let (is_current, exists): (bool, bool) =
        sqlx::query_as("SELECT $1 = current_user, EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(role)
            .fetch_one(&mut *tx)
            .await?;
    if is_current {
        // Setting its password would lock the master user out of its own secret.
        return Err(Error::Internal(format!(
            "the app database role {role:?} is the user running the migrations"
        )));
    }
    let login = if exists {
        "ALTER ROLE %1$I WITH LOGIN PASSWORD %3$L"
    } else {
        "CREATE ROLE %1$I WITH LOGIN PASSWORD %3$L"
    };
    for template in std::iter::once(login).chain(GRANTS.iter().copied()) {
        let statement: String = sqlx::query_scalar("SELECT format($1, $2::text, current_database(), $3::text)")
            .bind(template)
            .bind(role)
            .bind(password)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut *tx).await?;
    }
    // A role someone gave more to is refused rather than handed to the functions.
    let (excess,): (bool,) = sqlx::query_as(
        "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls \
         OR EXISTS (SELECT 1 FROM pg_auth_members WHERE member = r.oid) \
         FROM pg_roles r WHERE rolname = $1",
    )
    .bind(role)
    .fetch_one(&mut *tx)
    .await?;
    if excess {
        return Err(Error::Internal(format!(
            "the app database role {role:?} has attributes or memberships beyond its grants; remove them"
        )));
    }
    tx.commit().await?;
    Ok(())
}
