//! How the functions reach the database in AWS, run for real: `migrate` (as the master
//! user) gives the other functions a role of their own that uses the tables and cannot
//! change them, and every connection checks the server's certificate and name
//! (`verify-full`) against the configured bundle. Logins come from Secrets Manager
//! (the emulator), as in AWS. The test Postgres is built without TLS, so a TLS front
//! (rustls, Postgres's `SSLRequest` handshake) stands in for the server's side; the
//! client side is the functions' own.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::TestApp;
use serde_json::json;
use terarchitect_functions::http;
use terarchitect_testkit::TestDb;

/// A secret in the Secrets Manager emulator; returns its ARN.
async fn secret(endpoint: &str, value: serde_json::Value) -> String {
    let aws = terarchitect_testkit::stack::emulator_config(endpoint).await;
    let sm = aws_sdk_secretsmanager::Client::new(&aws);
    let out = sm
        .create_secret()
        .name(format!("db-{}", uuid::Uuid::new_v4().simple()))
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap();
    out.arn().unwrap().to_string()
}

async fn put_secret(endpoint: &str, arn: &str, value: serde_json::Value) {
    let aws = terarchitect_testkit::stack::emulator_config(endpoint).await;
    aws_sdk_secretsmanager::Client::new(&aws)
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap();
}

/// The `migrate` binary configured as in AWS (`DATABASE_SECRET_ARN`, `DATABASE_HOST`, ...)
/// with `vars` on top; Secrets Manager is the emulator at `endpoint`.
fn migrate(endpoint: &str, vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_migrate"))
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_SSLMODE")
        .env_remove("DATABASE_CA_FILE")
        .env_remove("DATABASE_APP_SECRET_ARN")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Host, port and database of a `postgres://user@host:port/db` test URL.
fn location(url: &str) -> (String, String, String) {
    let rest = url.split_once('@').unwrap().1;
    let (host_port, db) = rest.split_once('/').unwrap();
    let (host, port) = host_port.split_once(':').unwrap();
    (host.into(), port.into(), db.into())
}

/// The role's stored password hash.
async fn password(db: &sqlx::PgPool, role: &str) -> String {
    sqlx::query_scalar("SELECT rolpassword FROM pg_authid WHERE rolname = $1")
        .bind(role)
        .fetch_one(db)
        .await
        .unwrap()
}

fn is_refused(result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>) -> bool {
    match result {
        Err(sqlx::Error::Database(e)) => e.code().as_deref() == Some("42501"),
        _ => false,
    }
}

#[tokio::test]
async fn migrate_gives_the_functions_a_role_that_uses_the_tables_but_cannot_change_them() {
    let mut t = TestApp::new().await;
    let endpoint = t.queue.endpoint.clone();
    let (host, port, name) = location(&t.db.url);
    // Role names are per server: one of its own for this test.
    let role = format!("app_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let master = secret(&endpoint, json!({"username": "postgres", "password": ""})).await;
    let app = secret(&endpoint, json!({"username": role, "password": "first"})).await;
    let vars = [
        ("DATABASE_SECRET_ARN", master.as_str()),
        ("DATABASE_APP_SECRET_ARN", app.as_str()),
        ("DATABASE_HOST", &host),
        ("DATABASE_PORT", &port),
        ("DATABASE_NAME", &name),
        ("DATABASE_SSLMODE", "disable"),
    ];

    let out = migrate(&endpoint, &vars);
    assert!(out.status.success(), "{}", stderr(&out));
    let first = password(&t.db.pool, &role).await;
    // Every deploy runs it again; a changed secret changes the password.
    put_secret(&endpoint, &app, json!({"username": role, "password": "second"})).await;
    let out = migrate(&endpoint, &vars);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(
        password(&t.db.pool, &role).await,
        first,
        "the password follows the secret"
    );

    let (superuser, create_role, create_db): (bool, bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1")
            .bind(&role)
            .fetch_one(&t.db.pool)
            .await
            .unwrap();
    assert!(!superuser && !create_role && !create_db);

    let as_app = sqlx::PgPool::connect(&format!("postgres://{role}:second@{host}:{port}/{name}"))
        .await
        .expect("the role logs in");
    let current: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&as_app)
        .await
        .unwrap();
    assert_eq!(current, role);

    // The API works through it: a project with its columns, a ticket, a move that
    // writes a job and an outbox row (a sequence) and sends the message.
    t.app.db = as_app.clone();
    t.api = http::api_router(t.app.clone());
    t.worker = http::worker_router(t.app.clone());
    let pid = t.project("shop").await["id"].as_str().unwrap().to_string();
    let tid = t.ticket(&pid, "Add a basket").await["id"].as_str().unwrap().to_string();
    t.move_to(&pid, &tid, "in_progress").await.ok();
    assert_eq!(t.queued_job_ids().await.len(), 1);

    for ddl in [
        "DROP TABLE projects",
        "CREATE TABLE intruder (id int)",
        "ALTER TABLE tickets ADD COLUMN intruder int",
        "TRUNCATE outbox",
        "CREATE ROLE intruder",
        "DELETE FROM _sqlx_migrations",
    ] {
        assert!(is_refused(sqlx::query(ddl).execute(&as_app).await), "{ddl} was allowed");
    }

    // What a later migration creates (as the master user) is usable before the next grant.
    sqlx::query("CREATE TABLE later (id bigserial PRIMARY KEY, note text)")
        .execute(&t.db.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO later (note) VALUES ('x')")
        .execute(&as_app)
        .await
        .expect("default privileges cover new tables and sequences");

    as_app.close().await;
    for cleanup in [format!("DROP OWNED BY {role}"), format!("DROP ROLE {role}")] {
        sqlx::query(sqlx::AssertSqlSafe(cleanup))
            .execute(&t.db.pool)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn migrate_refuses_to_hand_the_master_login_to_the_functions() {
    let t = TestApp::new().await;
    let endpoint = t.queue.endpoint.clone();
    let (host, port, name) = location(&t.db.url);
    let master = secret(&endpoint, json!({"username": "postgres", "password": ""})).await;
    let out = migrate(
        &endpoint,
        &[
            ("DATABASE_SECRET_ARN", &master),
            ("DATABASE_APP_SECRET_ARN", &master),
            ("DATABASE_HOST", &host),
            ("DATABASE_PORT", &port),
            ("DATABASE_NAME", &name),
            ("DATABASE_SSLMODE", "disable"),
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is the user running the migrations"),
        "{}",
        stderr(&out)
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
}

/// A throw-away root `{name}.pem` (key `{name}.key`).
fn root_ca(dir: &Path, name: &str) {
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &key,
            "-out",
            &pem,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// `server.crt`/`server.key` for DNS name `localhost`, signed by `ca`.
fn server_cert(dir: &Path, ca: &str) {
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
    );
}

/// Postgres's TLS in front of the test Postgres (whose build has none): answers the
/// client's `SSLRequest` with `S`, completes the handshake with `server.crt`/`server.key`
/// from `certs`, then relays the session to `backend`. Returns its port on 127.0.0.1.
async fn tls_front(certs: &Path, backend: u16) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::{self, pki_types::pem::PemObject};
    let chain = rustls::pki_types::CertificateDer::pem_file_iter(certs.join("server.crt"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(certs.join("server.key")).unwrap();
    let config =
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // Length 8, code 80877103: the protocol's SSLRequest.
                const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
                let mut request = [0u8; 8];
                if client.read_exact(&mut request).await.is_err() || request != SSL_REQUEST {
                    return;
                }
                if client.write_all(b"S").await.is_err() {
                    return;
                }
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                if let Ok(mut pg) = tokio::net::TcpStream::connect(("127.0.0.1", backend)).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut pg).await;
                }
            });
        }
    });
    port
}

// Multi-threaded: the front serves while the test waits for `migrate`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_certificate_must_chain_to_the_bundle_and_name_the_host() {
    let certs = tempfile::tempdir().unwrap();
    let certs = certs.path();
    root_ca(certs, "ca");
    root_ca(certs, "other-ca");
    server_cert(certs, "ca");
    let db = TestDb::new().await;
    let (_, backend, name) = location(&db.url);
    let port = tls_front(certs, backend.parse().unwrap()).await.to_string();

    let endpoint = std::env::var("TERARCHITECT_TEST_SQS_URL").expect("TERARCHITECT_TEST_SQS_URL");
    let login = secret(&endpoint, json!({"username": "postgres", "password": ""})).await;
    let ca = certs.join("ca.pem");
    let other_ca = certs.join("other-ca.pem");
    // `migrate` configured as in AWS, without DATABASE_SSLMODE (the default applies).
    let run = |host: &str, ca_file: Option<&Path>| {
        let mut vars = vec![
            ("DATABASE_SECRET_ARN", login.clone()),
            ("DATABASE_HOST", host.to_string()),
            ("DATABASE_PORT", port.clone()),
            ("DATABASE_NAME", name.clone()),
        ];
        if let Some(file) = ca_file {
            vars.push(("DATABASE_CA_FILE", file.display().to_string()));
        }
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        migrate(&endpoint, &vars)
    };
    let migrations = async || -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename = '_sqlx_migrations'")
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };

    // Another root: refused.
    let out = run("localhost", Some(&other_ca));
    assert!(!out.status.success(), "a certificate from another CA was accepted");
    assert!(stderr(&out).contains("UnknownIssuer"), "{}", stderr(&out));
    // The right root, but the certificate does not name the host: refused.
    let out = run("127.0.0.1", Some(&ca));
    assert!(!out.status.success(), "a certificate for another name was accepted");
    assert!(
        stderr(&out).contains("certificate not valid for name"),
        "{}",
        stderr(&out)
    );
    // No bundle, no connection (and a clear reason).
    let out = run("localhost", None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("DATABASE_CA_FILE is not set"), "{}", stderr(&out));
    assert_eq!(migrations().await, 0, "nothing reached the database");
    // The right root and name: connected, migrations applied.
    let out = run("localhost", Some(&ca));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(migrations().await, 1);
    db.drop_database().await;
}
