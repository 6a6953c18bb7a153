//! The schema and the data layer against a real Postgres with pgvector.

use terarchitect_functions::{Error, store};
use terarchitect_protocol::*;
use terarchitect_testkit::TestDb;
use uuid::Uuid;

async fn fresh() -> TestDb {
    let db = TestDb::new().await;
    store::migrate(&db.pool).await.unwrap();
    db
}

async fn project(db: &TestDb) -> ProjectId {
    let id = ProjectId::new();
    let p = NewProject {
        name: "Shop".into(),
        repo_url: "https://h/a/b.git".into(),
        default_branch: "main".into(),
        ..Default::default()
    };
    store::projects::insert(&db.pool, id, &p).await.unwrap();
    let mut tx = db.pool.begin().await.unwrap();
    store::board::create_defaults(&mut tx, id).await.unwrap();
    tx.commit().await.unwrap();
    id
}

/// A ticket in the project's backlog with a queued job: the ticket's id and the job.
async fn queued_job(db: &TestDb, p: ProjectId) -> (TicketId, Job) {
    let backlog = store::board::by_role(&db.pool, p, ColumnRole::Backlog)
        .await
        .unwrap()
        .id;
    let t = TicketId::new();
    let mut tx = db.pool.begin().await.unwrap();
    let ticket = NewTicket {
        title: "x".into(),
        ..Default::default()
    };
    store::tickets::insert(&mut tx, p, t, backlog, &ticket).await.unwrap();
    let job = store::jobs::insert_queued(&mut tx, p, t, JobKind::Implement)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (t, job)
}

#[tokio::test]
async fn migrations_are_safe_to_run_concurrently() {
    let db = TestDb::new().await;
    let runs = (0..4).map(|_| {
        let pool = db.pool.clone();
        tokio::spawn(async move { store::migrate(&pool).await })
    });
    for r in runs {
        r.await.unwrap().unwrap();
    }
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n as usize, store::MIGRATOR.iter().count());
    let (ext,): (String,) = sqlx::query_as("SELECT extname::text FROM pg_extension WHERE extname = 'vector'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(ext, "vector");
}

#[tokio::test]
async fn project_round_trip_and_cascade() {
    let db = fresh().await;
    let id = project(&db).await;
    let p = store::projects::get(&db.pool, id).await.unwrap();
    assert_eq!(
        (p.name.as_str(), p.default_branch.as_str(), p.execution_mode),
        ("Shop", "main", ExecutionMode::Docker)
    );
    let patch = ProjectPatch {
        execution_mode: Some(ExecutionMode::Local),
        local_path: Some(Some("/srv/shop".into())),
        ..Default::default()
    };
    store::projects::update(&db.pool, id, &patch).await.unwrap();
    let p = store::projects::get(&db.pool, id).await.unwrap();
    assert_eq!(p.local_path.as_deref(), Some("/srv/shop"));
    // local mode without a path is unrepresentable
    let clear = ProjectPatch {
        local_path: Some(None),
        ..Default::default()
    };
    assert!(matches!(
        store::projects::update(&db.pool, id, &clear).await,
        Err(Error::Invalid(_))
    ));
    store::projects::delete(&db.pool, id).await.unwrap();
    assert!(matches!(
        store::projects::get(&db.pool, id).await,
        Err(Error::NotFound("project"))
    ));
    let (cols,): (i64,) = sqlx::query_as("SELECT count(*) FROM board_columns")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(cols, 0, "columns go with their project");
}

fn node(id: NodeId, label: &str) -> NodeInput {
    NodeInput {
        id,
        label: label.into(),
        kind: "service".into(),
        technology: "Rust".into(),
        description: String::new(),
        x: 1.0,
        y: 2.0,
    }
}

#[tokio::test]
async fn graph_edges_stay_inside_their_project() {
    let db = fresh().await;
    let (a, b) = (project(&db).await, project(&db).await);
    let (n1, n2, foreign) = (NodeId::new(), NodeId::new(), NodeId::new());
    let mut tx = db.pool.begin().await.unwrap();
    store::graph::upsert_nodes(&mut tx, a, &[node(n1, "api"), node(n2, "db")])
        .await
        .unwrap();
    store::graph::upsert_nodes(&mut tx, b, &[node(foreign, "other")])
        .await
        .unwrap();
    store::graph::upsert_edges(
        &mut tx,
        a,
        &[EdgeInput {
            id: EdgeId::new(),
            source: n1,
            target: n2,
            label: "reads".into(),
            protocol: "SQL".into(),
        }],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut tx = db.pool.begin().await.unwrap();
    let cross = EdgeInput {
        id: EdgeId::new(),
        source: n1,
        target: foreign,
        label: String::new(),
        protocol: String::new(),
    };
    let err = store::graph::upsert_edges(&mut tx, a, &[cross]).await.unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(f) if f.field == "edges.target"),
        "{err:?}"
    );
    drop(tx);

    // A node id of project b cannot be hijacked by an upsert in project a.
    let mut tx = db.pool.begin().await.unwrap();
    assert!(matches!(
        store::graph::upsert_nodes(&mut tx, a, &[node(foreign, "stolen")]).await,
        Err(Error::Conflict(_))
    ));
    drop(tx);

    let mut conn = db.pool.acquire().await.unwrap();
    let g = store::graph::get(&mut conn, a).await.unwrap();
    assert_eq!(g.nodes.len(), 2);
    assert_eq!(g.edges[0].protocol, "SQL");
    // deleting a node removes its edges
    let mut tx = db.pool.begin().await.unwrap();
    store::graph::delete_nodes(&mut tx, a, &[n2]).await.unwrap();
    tx.commit().await.unwrap();
    let g = store::graph::get(&mut conn, a).await.unwrap();
    assert_eq!((g.nodes.len(), g.edges.len()), (1, 0));
}

#[tokio::test]
async fn ticket_positions_stay_dense_through_moves() {
    let db = fresh().await;
    let p = project(&db).await;
    let backlog = store::board::by_role(&db.pool, p, ColumnRole::Backlog)
        .await
        .unwrap()
        .id;
    let done = store::board::by_role(&db.pool, p, ColumnRole::Done).await.unwrap().id;
    let mut ids = vec![];
    let mut tx = db.pool.begin().await.unwrap();
    for i in 0..5 {
        let id = TicketId::new();
        store::tickets::insert(
            &mut tx,
            p,
            id,
            backlog,
            &NewTicket {
                title: format!("t{i}"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        ids.push(id);
    }
    // within a column: t4 to the top; across: t1 to done
    store::tickets::move_to(&mut tx, p, ids[4], backlog, Some(0))
        .await
        .unwrap();
    store::tickets::move_to(&mut tx, p, ids[1], done, Some(7))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let all = store::tickets::list(&db.pool, p).await.unwrap();
    let order: Vec<(String, i32)> = all
        .iter()
        .filter(|t| t.column_id == backlog)
        .map(|t| (t.title.clone(), t.position))
        .collect();
    assert_eq!(
        order,
        vec![("t4".into(), 0), ("t0".into(), 1), ("t2".into(), 2), ("t3".into(), 3)]
    );
    let moved = all.iter().find(|t| t.id == ids[1]).unwrap();
    assert_eq!((moved.column_id, moved.position), (done, 0));
}

#[tokio::test]
async fn random_moves_keep_every_column_in_the_order_a_list_model_predicts() {
    let db = fresh().await;
    let p = project(&db).await;
    let columns: Vec<ColumnId> = store::board::list(&db.pool, p)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    let mut model: Vec<Vec<TicketId>> = vec![Vec::new(); columns.len()];
    let mut tx = db.pool.begin().await.unwrap();
    for i in 0..12 {
        let id = TicketId::new();
        let t = NewTicket {
            title: format!("t{i}"),
            ..Default::default()
        };
        store::tickets::insert(&mut tx, p, id, columns[i % 2], &t)
            .await
            .unwrap();
        model[i % 2].push(id);
    }
    tx.commit().await.unwrap();
    // A fixed xorshift sequence: moves within and across columns, up, down, in place,
    // past the end and to the end.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..150 {
        let nonempty: Vec<usize> = (0..columns.len()).filter(|&c| !model[c].is_empty()).collect();
        let from = nonempty[next(nonempty.len())];
        let index = next(model[from].len());
        let id = model[from].remove(index);
        let to = next(columns.len());
        let position = match next(4) {
            0 => None,
            _ => Some(next(model[to].len() + 3) as i32),
        };
        let at = position.map_or(model[to].len(), |p| (p as usize).min(model[to].len()));
        model[to].insert(at, id);
        let mut tx = db.pool.begin().await.unwrap();
        let came_from = store::tickets::move_to(&mut tx, p, id, columns[to], position)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(came_from, columns[from]);
        let all = store::tickets::list(&db.pool, p).await.unwrap();
        for (c, expected) in columns.iter().zip(&model) {
            let mut placed: Vec<(i32, TicketId)> = all
                .iter()
                .filter(|t| t.column_id == *c)
                .map(|t| (t.position, t.id))
                .collect();
            placed.sort();
            let positions: Vec<i32> = placed.iter().map(|(p, _)| *p).collect();
            assert_eq!(positions, (0..expected.len() as i32).collect::<Vec<_>>(), "dense");
            let ids: Vec<TicketId> = placed.into_iter().map(|(_, id)| id).collect();
            assert_eq!(&ids, expected);
        }
    }
}

#[tokio::test]
async fn one_active_job_per_ticket_and_lease_rules() {
    let db = fresh().await;
    let p = project(&db).await;
    let (t, job) = queued_job(&db, p).await;

    let mut tx = db.pool.begin().await.unwrap();
    let err = store::jobs::insert_queued(&mut tx, p, t, JobKind::Implement)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict(m) if m.contains("active job")),
        "{err:?}"
    );
    drop(tx);

    // running without a lease is unrepresentable
    let err: Error = sqlx::query("UPDATE jobs SET status = 'running' WHERE id = $1")
        .bind(job.id)
        .execute(&db.pool)
        .await
        .unwrap_err()
        .into();
    assert!(
        matches!(&err, Error::Invalid(f) if f.field == "jobs_lease_iff_running"),
        "{err:?}"
    );
    // succeeded without a PR is unrepresentable
    let err: Error = sqlx::query("UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = $1")
        .bind(job.id)
        .execute(&db.pool)
        .await
        .unwrap_err()
        .into();
    assert!(
        matches!(&err, Error::Invalid(f) if f.field == "jobs_success_has_pr"),
        "{err:?}"
    );

    let claimed = store::jobs::claim(
        &db.pool,
        job.id,
        "h1",
        ExecutionMode::Docker,
        std::time::Duration::from_secs(30),
        b"hash1",
    )
    .await
    .unwrap();
    assert_eq!(claimed.unwrap().attempt, 1);
    // a live lease cannot be taken
    assert!(
        store::jobs::claim(
            &db.pool,
            job.id,
            "h2",
            ExecutionMode::Docker,
            std::time::Duration::from_secs(30),
            b"hash2"
        )
        .await
        .unwrap()
        .is_none()
    );
    assert!(
        store::jobs::heartbeat(&db.pool, job.id, "h2", std::time::Duration::from_secs(30))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store::jobs::heartbeat(&db.pool, job.id, "h1", std::time::Duration::from_secs(30))
            .await
            .unwrap()
            .is_some()
    );
}

const LIMITS: store::jobs::LogLimits = store::jobs::LogLimits::DEFAULT;

#[tokio::test]
async fn a_jobs_log_stops_at_its_limits_and_says_how_much_it_dropped() {
    let db = fresh().await;
    let p = project(&db).await;
    let (t, job) = queued_job(&db, p).await;
    let ev = |summary: &str| NewJobEvent {
        phase: "p".into(),
        step: "s".into(),
        summary: summary.into(),
        input_tokens: 1,
        ..Default::default()
    };
    // 10 events or 40 bytes ("p" + "s" + the summary per event).
    let limits = store::jobs::LogLimits {
        max_events: 10,
        max_bytes: 40,
    };
    let append = |batch: Vec<NewJobEvent>| {
        let pool = db.pool.clone();
        async move {
            let mut tx = pool.begin().await.unwrap();
            let n = store::jobs::append_events(&mut tx, job.id, &batch, limits)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            n
        }
    };
    assert_eq!(append(vec![ev("12345678"), ev("12345678")]).await, 2); // 20 bytes
    // The second line would pass 40 bytes: it and every later one are dropped.
    assert_eq!(append(vec![ev("1234"), ev("123456789012345678"), ev("1")]).await, 1);
    let all = store::jobs::events(&db.pool, job.id, 0, 100).await.unwrap();
    assert_eq!(all.len(), 4, "{all:#?}");
    assert_eq!(all[3].step, "log-limit");
    assert!(all[3].summary.contains("2 later lines dropped"), "{}", all[3].summary);
    // Later batches only grow the count.
    assert_eq!(append(vec![ev("1"), ev("2"), ev("3")]).await, 0);
    let all = store::jobs::events(&db.pool, job.id, 0, 100).await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(all[3].summary.contains("5 later lines dropped"), "{}", all[3].summary);
    let ticket = store::tickets::get(&db.pool, p, t).await.unwrap();
    assert_eq!(
        ticket.input_tokens, 0,
        "reported tokens are never totals (the gateway meters)"
    );

    // The line limit: 9 lines and the marker.
    let (_, other) = queued_job(&db, project(&db).await).await;
    let mut tx = db.pool.begin().await.unwrap();
    let many: Vec<NewJobEvent> = (0..15).map(|_| ev("")).collect();
    let limits = store::jobs::LogLimits {
        max_events: 10,
        max_bytes: 1 << 20,
    };
    assert_eq!(
        store::jobs::append_events(&mut tx, other.id, &many, limits)
            .await
            .unwrap(),
        9
    );
    tx.commit().await.unwrap();
    let all = store::jobs::events(&db.pool, other.id, 0, 100).await.unwrap();
    assert_eq!(all.len(), 10);
    assert!(all[9].summary.contains("6 later lines dropped"), "{}", all[9].summary);
}

#[tokio::test]
async fn events_are_ordered_deduplicated_and_their_tokens_are_not_totals() {
    let db = fresh().await;
    let p = project(&db).await;
    let (t, job) = queued_job(&db, p).await;
    let ev = |step: &str, id: Option<Uuid>| NewJobEvent {
        event_id: id,
        phase: "plan".into(),
        step: step.into(),
        summary: "s".into(),
        input_tokens: 10,
        output_tokens: 1,
        ..Default::default()
    };
    let dup = Uuid::new_v4();
    let mut tx = db.pool.begin().await.unwrap();
    assert_eq!(
        store::jobs::append_events(&mut tx, job.id, &[ev("a", Some(dup)), ev("b", None)], LIMITS)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store::jobs::append_events(&mut tx, job.id, &[ev("a", Some(dup)), ev("c", None)], LIMITS)
            .await
            .unwrap(),
        1
    );
    tx.commit().await.unwrap();
    let all = store::jobs::events(&db.pool, job.id, 0, 100).await.unwrap();
    let steps: Vec<(i64, &str)> = all.iter().map(|e| (e.seq, e.step.as_str())).collect();
    assert_eq!(steps, vec![(1, "a"), (2, "b"), (3, "c")]);
    assert_eq!(store::jobs::events(&db.pool, job.id, 2, 100).await.unwrap().len(), 1);
    assert_eq!(all[0].input_tokens, 10, "each event keeps what it reported");
    // The totals are the gateway's metering alone: the agent's report is not trusted.
    let ticket = store::tickets::get(&db.pool, p, t).await.unwrap();
    assert_eq!((ticket.input_tokens, ticket.output_tokens), (0, 0));
}

#[tokio::test]
async fn notes_settings_tokens_round_trip() {
    let db = fresh().await;
    let p = project(&db).await;
    let note = store::notes::insert(
        &db.pool,
        p,
        &NewNote {
            body: "cache it".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    store::notes::update(&db.pool, p, note.id, "cache it in redis")
        .await
        .unwrap();
    assert_eq!(
        store::notes::list(&db.pool, p, terarchitect_functions::domain::page::Slice::ALL)
            .await
            .unwrap()[0]
            .body,
        "cache it in redis"
    );
    let bad = NewNote {
        body: "x".into(),
        node_id: Some(NodeId::new()),
        edge_id: None,
    };
    assert!(matches!(store::notes::insert(&db.pool, p, &bad).await, Err(Error::Invalid(f)) if f.field == "node_id"));

    store::settings::put_value(&db.pool, None, "worker_mode", &serde_json::json!("native"))
        .await
        .unwrap();
    store::settings::put_value(&db.pool, Some(p), "worker_mode", &serde_json::json!("opencode"))
        .await
        .unwrap();
    store::settings::put_secret(
        &db.pool,
        None,
        "github_token",
        &terarchitect_functions::domain::crypto::Sealed {
            key_id: Some("0123456789abcdef".into()),
            bytes: b"sealed-bytes-here-xxxxxxxxxxxxxxxxxxxx".to_vec(),
        },
    )
    .await
    .unwrap();
    store::settings::put_value(&db.pool, None, "worker_mode", &serde_json::json!("claude-code"))
        .await
        .unwrap();
    let rows = store::settings::list(&db.pool, Some(p)).await.unwrap();
    assert_eq!(rows.len(), 3, "upsert keeps one row per scope and key: {rows:?}");
    let err = store::settings::put_value(&db.pool, None, "Bad Key", &serde_json::json!(1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)));

    let id = store::tokens::insert(&db.pool, "ci", TokenKind::Worker, Some("ci-host"), b"h")
        .await
        .unwrap();
    assert_eq!(
        store::tokens::find(&db.pool, b"h").await.unwrap().unwrap().kind,
        TokenKind::Worker
    );
    store::tokens::revoke(&db.pool, id).await.unwrap();
    assert!(store::tokens::find(&db.pool, b"h").await.unwrap().is_none());
}

#[tokio::test]
async fn vector_search_uses_the_hnsw_index() {
    let db = fresh().await;
    let p = project(&db).await;
    let mut conn = db.pool.acquire().await.unwrap();
    store::memory::ensure_space(&mut conn, p, 384, "test-model")
        .await
        .unwrap();
    assert!(matches!(
        store::memory::ensure_space(&mut conn, p, 768, "other").await,
        Err(Error::Conflict(_))
    ));
    // 300 passages on a circle-ish spread; the query is closest to passage 42.
    let vec_for = |i: usize| -> Vec<f32> {
        (0..384)
            .map(|d| ((i * 7 + d * 13) % 97) as f32 / 97.0 + if d == i % 384 { 5.0 } else { 0.0 })
            .collect()
    };
    for i in 0..300 {
        let v = pgvector::Vector::from(vec_for(i));
        store::memory::upsert_passage(&mut *conn, p, &format!("passage {i}"), format!("h{i}").as_bytes(), &v)
            .await
            .unwrap();
    }
    sqlx::query("ANALYZE memory_passages")
        .execute(&mut *conn)
        .await
        .unwrap();
    let q = pgvector::Vector::from(vec_for(42));
    let hits = store::memory::nearest_passages(&mut *conn, p, &q, 3).await.unwrap();
    assert_eq!(hits[0].1, "passage 42");
    assert!(hits[0].2 > 0.99);
    // The HNSW index serves this query shape (with this few rows the planner would
    // rather scan the project's rows, so take the other plans away).
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("SET enable_bitmapscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("SET enable_sort = off").execute(&mut *conn).await.unwrap();
    let plan: Vec<(String,)> = sqlx::query_as(
        "EXPLAIN SELECT id FROM memory_passages WHERE project_id = $1 AND dims = 384 \
         ORDER BY embedding::vector(384) <=> $2::vector(384) LIMIT 3",
    )
    .bind(p)
    .bind(&q)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let plan = plan
        .into_iter()
        .map(|r| r.0)
        .filter(|l| !l.contains('['))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(plan.contains("Index Scan using memory_passages_hnsw_384"), "{plan}");
}

/// A stored enum value this version does not know is an error naming the column and the
/// value, never quietly read as some default (e.g. a job as `failed`).
#[tokio::test]
async fn an_unknown_enum_value_in_the_database_is_an_error_naming_it() {
    let db = fresh().await;
    let p = project(&db).await;
    let (t, job) = queued_job(&db, p).await;

    // The CHECKs forbid such values; drop them to stand for a row written by another version.
    for sql in [
        "ALTER TABLE jobs DROP CONSTRAINT jobs_status_check",
        "ALTER TABLE tickets DROP CONSTRAINT tickets_priority_check",
    ] {
        sqlx::query(sql).execute(&db.pool).await.unwrap();
    }
    let set = |sql: &'static str, id: Uuid| sqlx::query(sql).bind(id).execute(&db.pool);
    set("UPDATE jobs SET status = 'paused' WHERE id = $1", job.id.0)
        .await
        .unwrap();
    set("UPDATE tickets SET priority = 'urgent' WHERE id = $1", t.0)
        .await
        .unwrap();

    let unreadable = |r: Result<_, Error>, column: &str, value: &str| match r {
        Err(Error::Internal(m)) => assert!(
            m.contains(&format!("\"{column}\"")) && m.contains(&format!("\"{value}\"")),
            "{m}"
        ),
        Err(e) => panic!("expected an internal error naming {column} = {value}, got {e:?}"),
        Ok(_) => panic!("{column} = {value} was read as some default"),
    };
    unreadable(store::jobs::get(&db.pool, job.id).await.map(|_| ()), "status", "paused");
    unreadable(
        store::tickets::get(&db.pool, p, t).await.map(|_| ()),
        "priority",
        "urgent",
    );
    set("UPDATE tickets SET priority = 'low' WHERE id = $1", t.0)
        .await
        .unwrap();
    unreadable(
        store::tickets::get(&db.pool, p, t).await.map(|_| ()),
        "job_status",
        "paused",
    );
}

/// The scheduler finds a lease that ran out, but the host heartbeats before the scheduler
/// takes the row lock: the job stays with its host (the release rechecks the lease).
#[tokio::test]
async fn a_heartbeat_between_the_expiry_scan_and_the_release_keeps_the_job() {
    let db = fresh().await;
    let p = project(&db).await;
    let (_, job) = queued_job(&db, p).await;
    let lease = std::time::Duration::from_secs(30);
    store::jobs::claim(&db.pool, job.id, "h1", ExecutionMode::Docker, lease, b"hash1")
        .await
        .unwrap()
        .unwrap();
    sqlx::query("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(job.id)
        .execute(&db.pool)
        .await
        .unwrap();

    // The scheduler's scan sees the expired lease...
    let expired = store::jobs::expired_leases(&db.pool, 100).await.unwrap();
    assert_eq!(expired.iter().map(|j| j.id).collect::<Vec<_>>(), [job.id]);
    // ...the host heartbeats on its own connection...
    assert!(
        store::jobs::heartbeat(&db.pool, job.id, "h1", lease)
            .await
            .unwrap()
            .is_some()
    );
    // ...and then the scheduler locks the row and tries to release or fail it.
    let mut tx = db.pool.begin().await.unwrap();
    let (_, state) = store::jobs::lock_state(&mut tx, job.id).await.unwrap();
    assert_eq!(state.status, JobStatus::Running);
    let released = store::jobs::release(&mut tx, job.id, None, Some("lease expired"), false)
        .await
        .unwrap();
    assert!(released.is_none(), "a renewed lease was released: {released:?}");
    let failed = store::jobs::finish(&mut tx, job.id, None, JobStatus::Failed, None, Some("lease expired"))
        .await
        .unwrap();
    assert!(failed.is_none(), "a renewed lease was failed: {failed:?}");
    tx.commit().await.unwrap();

    let now = store::jobs::get(&db.pool, job.id).await.unwrap();
    assert_eq!(
        (now.status, now.lease_owner.as_deref()),
        (JobStatus::Running, Some("h1"))
    );
}

/// A key whose request died mid-way (neither saved nor forgotten) is taken over once that
/// request must have timed out; a finished key is replayed for a day, then free again and
/// purged.
#[tokio::test]
async fn idempotency_keys_expire_and_a_dead_requests_key_is_reclaimed() {
    use store::tokens::{Idempotent, begin_idempotent, purge_expired_idempotency_keys, save_response};
    let db = fresh().await;
    let token = store::tokens::insert(&db.pool, "idem", TokenKind::User, None, b"idem-hash")
        .await
        .unwrap();
    // Makes a key look as if its request began `by` ago.
    let age = |key: &'static str, by: &'static str| {
        sqlx::query("UPDATE idempotency_keys SET created_at = now() - $3::interval WHERE token_id = $1 AND key = $2")
            .bind(token)
            .bind(key)
            .bind(by)
            .execute(&db.pool)
    };
    let mut conn = db.pool.acquire().await.unwrap();

    // A request began and died: its key is "in progress" until it is old enough.
    assert!(matches!(
        begin_idempotent(&mut conn, token, "k1", b"req-a").await,
        Ok(Idempotent::New)
    ));
    let err = begin_idempotent(&mut conn, token, "k1", b"req-a").await.unwrap_err();
    assert!(
        matches!(&err, Error::Conflict(m) if m.contains("still in progress")),
        "{err:?}"
    );
    age("k1", "10 seconds").await.unwrap();
    assert!(
        begin_idempotent(&mut conn, token, "k1", b"req-a").await.is_err(),
        "too young to reclaim"
    );
    age("k1", "2 minutes").await.unwrap();
    assert!(matches!(
        begin_idempotent(&mut conn, token, "k1", b"req-a").await,
        Ok(Idempotent::New)
    ));

    // A finished request is replayed, and its key refused for another request, for a day.
    save_response(&mut *conn, token, "k1", 200, &serde_json::json!({"n": 1}))
        .await
        .unwrap();
    age("k1", "23 hours").await.unwrap();
    assert!(matches!(
        begin_idempotent(&mut conn, token, "k1", b"req-a").await,
        Ok(Idempotent::Replay { status: 200, .. })
    ));
    assert!(begin_idempotent(&mut conn, token, "k1", b"req-b").await.is_err());
    assert_eq!(purge_expired_idempotency_keys(&db.pool).await.unwrap(), 0);
    age("k1", "25 hours").await.unwrap();
    assert!(matches!(
        begin_idempotent(&mut conn, token, "k1", b"req-b").await,
        Ok(Idempotent::New)
    ));

    // The scheduler's purge drops what expired and keeps the rest.
    assert!(matches!(
        begin_idempotent(&mut conn, token, "k2", b"req-c").await,
        Ok(Idempotent::New)
    ));
    age("k2", "25 hours").await.unwrap();
    assert_eq!(purge_expired_idempotency_keys(&db.pool).await.unwrap(), 1);
    let left: Vec<(String,)> = sqlx::query_as("SELECT key FROM idempotency_keys WHERE token_id = $1")
        .bind(token)
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, [("k1".to_string(),)]);
}
