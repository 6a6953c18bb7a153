//! Memory benchmark: 10,000 passages with synthetic 384-dimensional embeddings (plus
//! their entities and facts) stored through the real store functions, then:
//! - indexing throughput excluding LLM time (passages/s through the store, with links);
//! - retrieve latency p50/p99 for one query through `domain::memory::retrieve`
//!   (query embedding from a local OpenAI-compatible stand-in, fact search on the HNSW
//!   index, dense scores, personalised PageRank over the cached graph).
//!
//!     ./dev bench

#[path = "../tests/common/openai.rs"]
#[allow(dead_code)]
mod openai;

use std::time::{Duration, Instant};

use pgvector::Vector;
use rand::{Rng, SeedableRng};
use terarchitect_functions::domain::{App, JobQueue, memory, settings};
use terarchitect_functions::store;
use terarchitect_protocol::{MemoryQuery, NewProject};
use terarchitect_testkit::{TestDb, TestQueue};

const PASSAGES: usize = 10_000;
const ENTITIES: usize = 4_000;
const DIMS: usize = 384;
const QUERIES: usize = 200;

fn random_unit(rng: &mut impl Rng) -> Vector {
    let v: Vec<f32> = (0..DIMS).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    Vector::from(v.into_iter().map(|x| x / n).collect::<Vec<_>>())
}

#[tokio::main]
async fn main() {
    let db = TestDb::new().await;
    store::migrate(&db.pool).await.unwrap();
    let queue = TestQueue::new().await;
    let ai = openai::OpenAi::start().await;
    let app = App::for_tests(
        db.pool.clone(),
        JobQueue::new(queue.client.clone(), queue.url.clone()),
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        Duration::from_secs(60),
        terarchitect_testkit::stack::functions::LOCAL_OUTBOUND_ALLOW,
    );
    let project = terarchitect_protocol::ProjectId::new();
    let p = NewProject {
        name: "bench".into(),
        repo_url: "https://h/a/b.git".into(),
        default_branch: "main".into(),
        ..Default::default()
    };
    store::projects::insert(&db.pool, project, &p).await.unwrap();
    let update = [("embedding_url".to_string(), Some(serde_json::json!(ai.url)))]
        .into_iter()
        .collect();
    settings::update(&app, Some(project), &update).await.unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    store::memory::ensure_space(&mut conn, project, DIMS as i32, "synthetic")
        .await
        .unwrap();
    drop(conn);

    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let entity_vectors: Vec<Vector> = (0..ENTITIES).map(|_| random_unit(&mut rng)).collect();
    let mut entity_ids = vec![None; ENTITIES];

    // Indexing, excluding the LLM: each passage stores its vector, mentions 3 entities
    // and states 2 facts between them, in one transaction per passage as `index` does.
    let t0 = Instant::now();
    for i in 0..PASSAGES {
        let mut tx = db.pool.begin().await.unwrap();
        store::memory::lock_space(&mut tx, project).await.unwrap();
        let v = random_unit(&mut rng);
        let hash = format!("passage-{i}").into_bytes();
        let passage = store::memory::upsert_passage(&mut *tx, project, &format!("Synthetic passage {i}"), &hash, &v)
            .await
            .unwrap();
        let picked: Vec<usize> = (0..3).map(|_| rng.random_range(0..ENTITIES)).collect();
        let mut ids = Vec::new();
        for &e in &picked {
            let (id, _) = store::memory::upsert_entity(&mut *tx, project, &format!("entity {e}"), &entity_vectors[e])
                .await
                .unwrap();
            entity_ids[e] = Some(id);
            store::memory::link_entity(&mut *tx, project, id, passage)
                .await
                .unwrap();
            ids.push(id);
        }
        for (a, b) in [(0, 1), (1, 2)] {
            if ids[a] != ids[b] {
                let f =
                    store::memory::upsert_fact(&mut *tx, project, ids[a], "relates to", ids[b], &random_unit(&mut rng))
                        .await
                        .unwrap();
                store::memory::link_fact(&mut *tx, project, f, passage).await.unwrap();
            }
        }
        store::memory::bump_version(&mut *tx, project).await.unwrap();
        tx.commit().await.unwrap();
    }
    let index_time = t0.elapsed();
    sqlx::query("ANALYZE").execute(&db.pool).await.unwrap();

    // Retrieval: the first call loads the graph into the cache; then one query at a time.
    let query = |i: usize| MemoryQuery {
        queries: vec![format!("which entity {i} relates to the payment service")],
        num_to_retrieve: 5,
    };
    let t = Instant::now();
    let first = memory::retrieve(&app, project, &query(0)).await.unwrap();
    let cold = t.elapsed();
    assert_eq!(first.results[0].passages.len(), 5);
    let mut lat = Vec::with_capacity(QUERIES);
    for i in 0..QUERIES {
        let t = Instant::now();
        let r = memory::retrieve(&app, project, &query(i)).await.unwrap();
        lat.push(t.elapsed());
        assert_eq!(r.results[0].passages.len(), 5);
    }
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("\nTerarchitect memory benchmark: {PASSAGES} passages, {ENTITIES} entities, {DIMS} dims, {cores} cores");
    println!(
        "indexing (no LLM)     {:>8.0} passages/s   ({PASSAGES} in {:.1} s, 3 entities + 2 facts each)",
        PASSAGES as f64 / index_time.as_secs_f64(),
        index_time.as_secs_f64()
    );
    println!("retrieve, cold cache  {:>8.2} ms (graph load)", ms(cold));
    println!(
        "retrieve, 1 query     p50 {:>6.2} ms   p99 {:>6.2} ms   ({QUERIES} queries)",
        ms(lat[QUERIES / 2]),
        ms(lat[QUERIES * 99 / 100])
    );
}
