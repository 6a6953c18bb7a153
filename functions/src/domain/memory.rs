//! Project memory, HippoRAG-style. Indexing extracts entities and (subject, relation,
//! object) facts from each document with the configured LLM, embeds passages, entities
//! and facts, and links them into an entity graph (facts join entities, mentions join
//! entities to passages, close embeddings join synonyms). Retrieval seeds a personalised
//! PageRank from the entities of the facts closest to the query, plus a little of each
//! passage's dense similarity, and ranks passages by the result.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use futures_util::future::try_join_all;
use pgvector::Vector;
use serde::Deserialize;
use serde_json::Value;
use terarchitect_protocol::{
    MemoryDeleted, MemoryDocs, MemoryIndexed, MemoryQuery, MemoryResult, MemoryResults, ProjectId, RetrievedPassage,
    Validate,
};
use uuid::Uuid;

use terarchitect_llm::{Client, Message};

use super::{App, crypto, llm_unavailable, pagerank};
use crate::store;
use crate::{Error, Result};

/// Entities at least this cosine-similar are linked as synonyms.
const SYNONYM_THRESHOLD: f64 = 0.9;
/// Facts that seed the walk, per query.
const SEED_FACTS: i64 = 5;
/// Weight of dense passage similarity in the restart distribution (HippoRAG 2 uses 0.05).
const PASSAGE_WEIGHT: f64 = 0.05;
/// HippoRAG's damping: the walker follows an edge half the time.
const DAMPING: f64 = 0.5;
const EXTRACTION_ATTEMPTS: usize = 3;

struct Endpoints {
    /// The director LLM, when asked for.
    llm: Option<Client>,
    embedding: Client,
}

/// Clients for the configured endpoints, their URLs checked by the outbound policy.
async fn endpoints(app: &App, project_id: Option<ProjectId>, need_llm: bool) -> Result<Endpoints> {
    let s = super::settings::agent_settings(app, project_id).await?;
    let missing = |what: &str| Error::Conflict(format!("project memory needs `{what}` in settings"));
    let embedding_url = s.embedding_url.ok_or_else(|| missing("embedding_url"))?;
    let embedding = Client::new(
        app.outbound.client_for(&embedding_url).await?,
        &embedding_url,
        &s.embedding_model.unwrap_or_default(),
        s.embedding_key.as_deref(),
    );
    let llm = match (s.director_llm_url, need_llm) {
        (_, false) => None,
        (None, true) => return Err(missing("director_llm_url")),
        (Some(url), true) => Some(Client::new(
            app.outbound.client_for(&url).await?,
            &url,
            &s.director_llm_model.unwrap_or_default(),
            s.director_llm_key.as_deref(),
        )),
    };
    Ok(Endpoints { llm, embedding })
}

// ------------------------------------------------------------------ extraction

#[derive(Debug, Default, PartialEq)]
pub struct Extraction {
    pub entities: Vec<String>,
    pub triples: Vec<(String, String, String)>,
}

#[derive(Deserialize)]
struct RawExtraction {
    entities: Vec<String>,
    triples: Vec<Vec<String>>,
}

fn clean(s: &str) -> Option<String> {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    (!s.is_empty() && s.chars().count() <= 200).then_some(s)
}

/// Validates an LLM extraction reply; entities named in triples are added to entities.
pub fn parse_extraction(reply: &str) -> std::result::Result<Extraction, String> {
    let raw: RawExtraction = serde_json::from_str(reply.trim())
        .map_err(|e| format!("expected {{\"entities\": [string], \"triples\": [[s, r, o]]}}: {e}"))?;
    let mut out = Extraction::default();
    let mut seen = HashSet::new();
    let mut add = |e: String, out: &mut Extraction| {
        if seen.insert(e.clone()) {
            out.entities.push(e);
        }
    };
    for e in raw.entities.iter().take(100) {
        if let Some(e) = clean(e) {
            add(e, &mut out);
        }
    }
    for t in raw.triples.iter().take(200) {
        let [s, r, o] = t.as_slice() else {
            return Err(format!("every triple needs exactly 3 strings, got {}", t.len()));
        };
        let (Some(s), Some(r), Some(o)) = (clean(s), clean(r), clean(o)) else {
            continue;
        };
        add(s.clone(), &mut out);
        add(o.clone(), &mut out);
        out.triples.push((s, r, o));
    }
    Ok(out)
}

const EXTRACTION_PROMPT: &str = "Extract the named entities and the facts stated in the document. Entities are \
specific named things: components, services, technologies, files, people, organisations. Facts are \
(subject, relation, object) triples whose subject and object are entities. Reply with only a JSON object: \
{\"entities\": [\"...\"], \"triples\": [[\"subject\", \"relation\", \"object\"]]}.";

async fn extract(llm: &Client, doc: &str) -> Result<Extraction> {
    let mut messages = vec![Message::system(EXTRACTION_PROMPT), Message::user(doc)];
    let mut last_error = String::new();
    for _ in 0..EXTRACTION_ATTEMPTS {
        let reply = llm.chat_json(&messages).await.map_err(llm_unavailable("LLM"))?;
        match parse_extraction(&reply) {
            Ok(x) => return Ok(x),
            Err(e) => {
                tracing::warn!(error = %e, "malformed extraction; asking again");
                messages.push(Message::assistant(reply));
                messages.push(Message::user(format!(
                    "That reply was not valid: {e}. Reply with only the JSON object."
                )));
                last_error = e;
            }
        }
    }
    Err(Error::Unavailable(format!(
        "the LLM gave no valid extraction after {EXTRACTION_ATTEMPTS} attempts: {last_error}"
    )))
}

// ------------------------------------------------------------------ index / delete

fn content_hash(doc: &str) -> Vec<u8> {
    crypto::hash_bytes(doc.as_bytes())
}

fn fact_text(s: &str, r: &str, o: &str) -> String {
    format!("{s} {r} {o}")
}

/// Embeds the documents, their entities and their facts in one batch; answers the texts
/// with their vectors, in the same order.
async fn embed_all(
    embedding: &Client,
    docs: &[&String],
    extractions: &[Extraction],
) -> Result<(Vec<String>, Vec<Vec<f32>>)> {
    let mut texts: Vec<String> = docs.iter().map(|d| d.to_string()).collect();
    let entity_names: HashSet<&String> = extractions.iter().flat_map(|x| x.entities.iter()).collect();
    texts.extend(entity_names.into_iter().cloned());
    texts.extend(
        extractions
            .iter()
            .flat_map(|x| x.triples.iter().map(|(s, r, o)| fact_text(s, r, o))),
    );
    let vectors = embedding
        .embed(&texts)
        .await
        .map_err(llm_unavailable("embedding service"))?;
    Ok((texts, vectors))
}

/// How long an index request may spend on the LLM and the embedding service: what is
/// left of the function's 29 s timeout covers the write (under a second for
/// `MAX_INDEX_DOCS` documents at the 70 passages/s the memory bench measures).
const INDEX_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// Bounded so it finishes inside the function timeout: at most `MAX_INDEX_DOCS` documents
/// and `MAX_INDEX_BYTES` of text (`validate_index`), extracted concurrently, the LLM and
/// embedding calls given `INDEX_BUDGET` together; past it nothing is written (503).
pub async fn index(app: &App, project_id: ProjectId, input: &MemoryDocs) -> Result<MemoryIndexed> {
    input.validate_index()?;
    store::projects::get(&app.db, project_id).await?;
    let mut docs: Vec<&String> = Vec::new();
    let mut hashes = HashSet::new();
    for d in &input.docs {
        if hashes.insert(content_hash(d)) {
            docs.push(d);
        }
    }
    let all: Vec<Vec<u8>> = docs.iter().map(|d| content_hash(d)).collect();
    let known: HashSet<Vec<u8>> = store::memory::known_hashes(&app.db, project_id, &all)
        .await?
        .into_iter()
        .collect();
    let fresh: Vec<&String> = docs.into_iter().filter(|d| !known.contains(&content_hash(d))).collect();
    if fresh.is_empty() {
        return Ok(MemoryIndexed {
            indexed: 0,
            unchanged: input.docs.len(),
        });
    }
    let ep = endpoints(app, Some(project_id), true).await?;
    let llm = ep
        .llm
        .as_ref()
        .ok_or_else(|| Error::Internal("the director LLM was asked for".into()))?;

    // The slow part (LLM and embeddings) happens before taking the project's write lock.
    let slow = async {
        // All at once: `validate_index` keeps them few.
        let extractions = try_join_all(fresh.iter().map(|d| extract(llm, d))).await?;
        let (texts, vectors) = embed_all(&ep.embedding, &fresh, &extractions).await?;
        Ok::<_, Error>((extractions, texts, vectors))
    };
    let (extractions, texts, vectors) = tokio::time::timeout(INDEX_BUDGET, slow).await.map_err(|_| {
        Error::Unavailable(format!(
            "the LLM and embedding service took over {} s for these documents; nothing was stored, send fewer or shorter ones",
            INDEX_BUDGET.as_secs()
        ))
    })??;
    let dims = vectors[0].len() as i32;
    let vector_of: HashMap<&str, Vector> = texts
        .iter()
        .map(String::as_str)
        .zip(vectors.into_iter().map(Vector::from))
        .collect();

    let mut tx = app.db.begin().await?;
    store::memory::lock_space(&mut tx, project_id).await?;
    store::memory::ensure_space(&mut tx, project_id, dims, ep.embedding.model()).await?;
    let mut indexed = 0;
    for (doc, x) in fresh.iter().zip(&extractions) {
        let hash = content_hash(doc);
        // Another request may have stored it while we were extracting.
        if !store::memory::known_hashes(&mut *tx, project_id, std::slice::from_ref(&hash))
            .await?
            .is_empty()
        {
            continue;
        }
        let passage = store::memory::upsert_passage(&mut *tx, project_id, doc, &hash, &vector_of[doc.as_str()]).await?;
        let mut ids = HashMap::new();
        for name in &x.entities {
            let v = &vector_of[name.as_str()];
            let (id, new) = store::memory::upsert_entity(&mut *tx, project_id, name, v).await?;
            store::memory::link_entity(&mut *tx, project_id, id, passage).await?;
            if new {
                store::memory::link_synonyms(&mut tx, project_id, id, v, SYNONYM_THRESHOLD).await?;
            }
            ids.insert(name.as_str(), id);
        }
        for (s, r, o) in &x.triples {
            let v = &vector_of[fact_text(s, r, o).as_str()];
            let fact = store::memory::upsert_fact(&mut *tx, project_id, ids[s.as_str()], r, ids[o.as_str()], v).await?;
            store::memory::link_fact(&mut *tx, project_id, fact, passage).await?;
        }
        indexed += 1;
    }
    store::memory::bump_version(&mut *tx, project_id).await?;
    tx.commit().await?;
    Ok(MemoryIndexed {
        indexed,
        unchanged: input.docs.len() - indexed,
    })
}

pub async fn delete(app: &App, project_id: ProjectId, input: &MemoryDocs) -> Result<MemoryDeleted> {
    input.validate()?;
    store::projects::get(&app.db, project_id).await?;
    let hashes: Vec<Vec<u8>> = input.docs.iter().map(|d| content_hash(d)).collect();
    let mut tx = app.db.begin().await?;
    store::memory::lock_space(&mut tx, project_id).await?;
    let deleted = store::memory::delete_passages(&mut tx, project_id, &hashes).await?;
    store::memory::bump_version(&mut *tx, project_id).await?;
    tx.commit().await?;
    Ok(MemoryDeleted {
        deleted: deleted as usize,
    })
}

// ------------------------------------------------------------------ retrieve

/// A project's entity graph ready for PageRank, with passage texts and vectors.
struct Cached {
    version: i64,
    graph: pagerank::Graph,
    entity_index: HashMap<Uuid, usize>,
    /// Passages occupy nodes `entities..entities + passages.len()`.
    entities: usize,
    passages: Vec<(Uuid, String)>,
    passage_index: HashMap<Uuid, usize>,
    /// How many passages mention each entity (node specificity).
    mentions: Vec<usize>,
}

impl Cached {
    /// The PageRank graph over entities then passages. A row naming an id the load did not
    /// return is skipped, never indexed blindly (a panic would fail every retrieval).
    fn build(version: i64, rows: store::memory::GraphRows) -> Cached {
        let entity_index: HashMap<Uuid, usize> = rows.entities.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let e = rows.entities.len();
        let passage_index: HashMap<Uuid, usize> = rows
            .passages
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id, e + i))
            .collect();
        let entity = |id: &Uuid| entity_index.get(id).copied();
        let mut edges = Vec::with_capacity(rows.facts.len() + rows.mentions.len() + rows.synonyms.len());
        for (s, o) in &rows.facts {
            if let (Some(s), Some(o)) = (entity(s), entity(o))
                && s != o
            {
                edges.push((s as u32, o as u32, 1.0));
            }
        }
        let mut mentions = vec![0usize; e];
        for (ent, p) in &rows.mentions {
            if let (Some(ent), Some(&p)) = (entity(ent), passage_index.get(p)) {
                mentions[ent] += 1;
                edges.push((ent as u32, p as u32, 1.0));
            }
        }
        for (a, b, sim) in &rows.synonyms {
            if let (Some(a), Some(b)) = (entity(a), entity(b)) {
                edges.push((a as u32, b as u32, f64::from(*sim)));
            }
        }
        Cached {
            version,
            graph: pagerank::Graph::new(e + rows.passages.len(), &edges),
            entity_index,
            entities: e,
            passages: rows.passages,
            passage_index,
            mentions,
        }
    }
}

fn cache() -> &'static Mutex<HashMap<ProjectId, Arc<Cached>>> {
    static CACHE: OnceLock<Mutex<HashMap<ProjectId, Arc<Cached>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

async fn graph(app: &App, project_id: ProjectId, version: i64) -> Result<Arc<Cached>> {
    if let Some(c) = cache()
        .lock()
        .expect("cache lock")
        .get(&project_id)
        .filter(|c| c.version == version)
    {
        return Ok(c.clone());
    }
    let mut conn = app.db.acquire().await?;
    let rows = store::memory::load_graph(&mut conn, project_id).await?;
    let cached = Arc::new(Cached::build(version, rows));
    let mut c = cache().lock().expect("cache lock");
    if c.len() > 64 {
        c.clear(); // bounded: a cold project simply reloads
    }
    c.insert(project_id, cached.clone());
    Ok(cached)
}

pub async fn retrieve(app: &App, project_id: ProjectId, input: &MemoryQuery) -> Result<MemoryResults> {
    input.validate()?;
    store::projects::get(&app.db, project_id).await?;
    let Some((_, version)) = store::memory::space(&app.db, project_id).await? else {
        let results = input
            .queries
            .iter()
            .map(|q| MemoryResult {
                query: q.clone(),
                passages: vec![],
            })
            .collect();
        return Ok(MemoryResults { results });
    };
    let ep = endpoints(app, Some(project_id), false).await?;
    let vectors = ep
        .embedding
        .embed(&input.queries)
        .await
        .map_err(llm_unavailable("embedding service"))?;
    let g = graph(app, project_id, version).await?;
    let mut results = Vec::with_capacity(input.queries.len());
    for (query, v) in input.queries.iter().zip(vectors) {
        let v = Vector::from(v);
        let mut tx = app.db.begin().await?;
        // Keep scanning the HNSW index until enough rows of this project turn up.
        sqlx::query("SET LOCAL hnsw.iterative_scan = relaxed_order")
            .execute(&mut *tx)
            .await?;
        let facts = store::memory::nearest_facts(&mut *tx, project_id, &v, SEED_FACTS).await?;
        let dense = store::memory::passage_similarities(&mut *tx, project_id, &v).await?;
        tx.commit().await?;
        let passages = rank(&g, &facts, &dense, input.num_to_retrieve);
        results.push(MemoryResult {
            query: query.clone(),
            passages,
        });
    }
    Ok(MemoryResults { results })
}

fn rank(g: &Cached, facts: &[(Uuid, Uuid, f64)], dense: &[(Uuid, f64)], k: usize) -> Vec<RetrievedPassage> {
    let mut reset = vec![0.0; g.graph.len()];
    let mut seeded = false;
    for (s, o, score) in facts.iter().filter(|f| f.2 > 0.0) {
        for e in [s, o] {
            if let Some(&i) = g.entity_index.get(e) {
                // Rarer entities say more (HippoRAG's node specificity).
                reset[i] += score / g.mentions[i].max(1) as f64;
                seeded = true;
            }
        }
    }
    for (p, sim) in dense {
        if let Some(&i) = g.passage_index.get(p) {
            reset[i] += PASSAGE_WEIGHT * sim.max(0.0);
        }
    }
    let scores: Vec<(usize, f64)> = if seeded {
        let pr = g.graph.personalized_pagerank(&reset, DAMPING, 100, 1e-10);
        (0..g.passages.len()).map(|i| (i, pr[g.entities + i])).collect()
    } else {
        // No facts to walk from: dense similarity alone.
        dense
            .iter()
            .filter_map(|(p, s)| g.passage_index.get(p).map(|&i| (i - g.entities, *s)))
            .collect()
    };
    let mut scores = scores;
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    scores
        .into_iter()
        .take(k)
        .map(|(i, score)| RetrievedPassage {
            text: g.passages[i].1.clone(),
            score,
        })
        .collect()
}

// ------------------------------------------------------------------ embeddings adapter

/// The largest upstream body `/v1/embeddings` passes on: it is held in memory and must
/// fit in a Lambda response (6 MB).
pub const FORWARD_MAX_BODY: usize = 4 * 1024 * 1024;

/// `POST /v1/embeddings`: forwards to the configured embedding service; a reply over
/// [`FORWARD_MAX_BODY`] is an error and none of it is passed on.
pub async fn forward_embeddings(app: &App, project_id: Option<ProjectId>, body: Value) -> Result<(u16, Value)> {
    let ep = endpoints(app, project_id, false).await?;
    match ep
        .embedding
        .with_max_body(FORWARD_MAX_BODY)
        .forward_embeddings(body)
        .await
    {
        Err(e @ terarchitect_llm::Error::TooLarge(_)) => Err(Error::UpstreamTooLarge(format!(
            "the embedding service {e}, more than this API passes on"
        ))),
        other => other.map_err(llm_unavailable("embedding service")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extraction_is_validated_and_normalised() {
        let x = parse_extraction(r#"{"entities": ["Checkout  Service", "", "Postgres"], "triples": [["checkout service", "uses", "Redis"]]}"#).unwrap();
        assert_eq!(x.entities, ["checkout service", "postgres", "redis"]);
        assert_eq!(x.triples, [("checkout service".into(), "uses".into(), "redis".into())]);
        assert!(parse_extraction("not json").is_err());
        assert!(parse_extraction(r#"{"entities": [], "triples": [["a", "b"]]}"#).is_err());
        assert!(parse_extraction(r#"{"entities": "x", "triples": []}"#).is_err());
    }

    /// Rows naming ids the load did not return (what a torn read produced) are skipped.
    #[test]
    fn a_row_naming_an_id_that_was_not_loaded_is_skipped_not_a_panic() {
        let (a, b, ghost, p, lost) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let rows = store::memory::GraphRows {
            entities: vec![a, b],
            passages: vec![(p, "a uses b".into())],
            facts: vec![(a, b), (a, ghost), (ghost, b)],
            mentions: vec![(a, p), (ghost, p), (b, lost)],
            synonyms: vec![(a, ghost, 0.9)],
        };
        let c = Cached::build(7, rows);
        assert_eq!((c.version, c.entities, c.passages.len()), (7, 2, 1));
        assert_eq!(c.mentions, [1, 0], "only a's mention of p counts");
    }
}
