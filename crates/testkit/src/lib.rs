//! The harness every crate's tests use to reach real services.
//!
//! `./dev test` starts one Postgres (with pgvector) and one moto (SQS) server per test
//! run and exports `TERARCHITECT_TEST_PG_URL` and `TERARCHITECT_TEST_SQS_URL`; this crate
//! hands each test its own fresh database and queue on them. To run `cargo test` by
//! hand, start them with `./dev services` and export what it prints.

pub mod docker;
pub mod git;
pub mod github;
pub mod llm;

/// Starting the functions, the UI and the worker host (the system and browser tests).
pub use terarchitect_stack as stack;
/// Process groups and `cargo` for tests, from the stack crate (their home).
pub use terarchitect_stack::process;
pub use terarchitect_stack::{TimedOut, sqs_client, try_eventually};

use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests with `./dev test`, or start `./dev services` and export what it prints"
        )
    })
}

/// A database of its own for one test.
pub struct TestDb {
    pub url: String,
    pub name: String,
    pub pool: PgPool,
}

impl TestDb {
    /// Creates an empty database (with the `vector` extension available, not installed).
    pub async fn new() -> TestDb {
        let admin_url = env("TERARCHITECT_TEST_PG_URL");
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to the test Postgres");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.ok();
        let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin_url);
        let url = format!("{base}/{name}");
        let pool = PgPoolOptions::new()
            .max_connections(20)
            .connect(&url)
            .await
            .expect("connect to test database");
        TestDb { url, name, pool }
    }

    /// Closes the pool and drops the database, ending any connection still open to it
    /// (best effort: errors are ignored).
    pub async fn drop_database(self) {
        self.pool.close().await;
        let Ok(mut admin) = PgConnection::connect(&env("TERARCHITECT_TEST_PG_URL")).await else {
            return;
        };
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&mut admin).await.ok();
        admin.close().await.ok();
    }
}

/// A fresh standard queue on the SQS emulator.
pub struct TestQueue {
    pub client: aws_sdk_sqs::Client,
    pub url: String,
    pub endpoint: String,
    /// Set by [`TestQueue::with_dead_letters`].
    pub dead_letter_url: Option<String>,
}

impl TestQueue {
    pub async fn new() -> TestQueue {
        let endpoint = env("TERARCHITECT_TEST_SQS_URL");
        let client = sqs_client(&endpoint).await;
        let url = terarchitect_stack::create_queue(&client, &Self::name(), 30)
            .await
            .expect("create queue on the SQS emulator");
        TestQueue {
            client,
            url,
            endpoint,
            dead_letter_url: None,
        }
    }

    /// A queue that parks a message received `max_receive_count` times in a dead-letter
    /// queue, as deployed.
    pub async fn with_dead_letters(max_receive_count: u32) -> TestQueue {
        let endpoint = env("TERARCHITECT_TEST_SQS_URL");
        let client = sqs_client(&endpoint).await;
        let (url, dlq) =
            terarchitect_stack::create_queue_with_dead_letters(&client, &Self::name(), 30, max_receive_count)
                .await
                .expect("create queues on the SQS emulator");
        TestQueue {
            client,
            url,
            endpoint,
            dead_letter_url: Some(dlq),
        }
    }

    fn name() -> String {
        format!("jobs-{}", uuid::Uuid::new_v4().simple())
    }

    /// Messages in the queue at `url`, visible or not.
    pub async fn count(&self, url: &str) -> i64 {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes");
        let attrs = out.attributes.unwrap_or_default();
        [A::ApproximateNumberOfMessages, A::ApproximateNumberOfMessagesNotVisible]
            .iter()
            .map(|k| attrs.get(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0))
            .sum()
    }

    /// Receives everything currently visible (short polls until one comes back empty),
    /// without deleting: the messages become visible again after the timeout.
    pub async fn drain_bodies(&self) -> Vec<String> {
        let mut bodies = Vec::new();
        loop {
            let out = self
                .client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive");
            let msgs = out.messages.unwrap_or_default();
            if msgs.is_empty() {
                return bodies;
            }
            bodies.extend(msgs.into_iter().filter_map(|m| m.body));
        }
    }
}

/// Polls `check` until it returns `Some`, or panics after `timeout` with `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: std::time::Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    try_eventually(what, timeout, check)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_dropped_database_is_gone() {
        let db = TestDb::new().await;
        let name = db.name.clone();
        db.drop_database().await;
        let mut admin = PgConnection::connect(&env("TERARCHITECT_TEST_PG_URL")).await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        assert_eq!(left, 0);
    }

    #[tokio::test]
    async fn try_eventually_returns_the_value_or_the_time_out() {
        let mut calls = 0;
        let v = try_eventually("the third call", Duration::from_secs(5), || {
            calls += 1;
            std::future::ready((calls == 3).then_some(calls))
        })
        .await
        .unwrap();
        assert_eq!(v, 3);
        let e = try_eventually("nothing", Duration::from_millis(100), || std::future::ready(None::<()>))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "timed out after 100ms waiting for nothing");
    }
}
