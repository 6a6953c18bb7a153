//! Project memory: indexing documents and retrieving passages.

use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemoryDocs {
    pub docs: Vec<String>,
}

impl MemoryDocs {
    /// `docs` as index requests that each pass `validate_index`: a document longer than
    /// one request allows is cut (on character boundaries) into pieces that fit, then the
    /// pieces are packed in order. Blank documents are left out (the API refuses them).
    pub fn batches(docs: impl IntoIterator<Item = String>) -> Vec<MemoryDocs> {
        use crate::validate::{MAX_INDEX_BYTES, MAX_INDEX_DOCS, MAX_TEXT};
        let mut out: Vec<MemoryDocs> = Vec::new();
        let mut bytes = 0;
        for piece in docs.into_iter().flat_map(|d| pieces(&d, MAX_TEXT, MAX_INDEX_BYTES)) {
            let full = out
                .last()
                .is_none_or(|b| b.docs.len() == MAX_INDEX_DOCS || bytes + piece.len() > MAX_INDEX_BYTES);
            if full {
                out.push(MemoryDocs { docs: Vec::new() });
                bytes = 0;
            }
            bytes += piece.len();
            out.last_mut().expect("pushed above").docs.push(piece);
        }
        out
    }
}

/// `doc` cut into non-blank pieces of at most `chars` characters and `bytes` bytes.
fn pieces(doc: &str, chars: usize, bytes: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut n = 0;
    for c in doc.chars() {
        if n == chars || cur.len() + c.len_utf8() > bytes {
            out.push(std::mem::take(&mut cur));
            n = 0;
        }
        cur.push(c);
        n += 1;
    }
    out.push(cur);
    out.retain(|p| !p.trim().is_empty());
    out
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemoryIndexed {
    /// Newly stored documents.
    pub indexed: usize,
    /// Documents already in memory (same content), left as they were.
    pub unchanged: usize,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemoryDeleted {
    pub deleted: usize,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemoryQuery {
    pub queries: Vec<String>,
    #[serde(default = "default_num_to_retrieve")]
    pub num_to_retrieve: usize,
}

fn default_num_to_retrieve() -> usize {
    5
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemoryResults {
    /// One entry per query, in order.
    pub results: Vec<MemoryResult>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemoryResult {
    pub query: String,
    /// Best first.
    pub passages: Vec<RetrievedPassage>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RetrievedPassage {
    pub text: String,
    pub score: f64,
}
