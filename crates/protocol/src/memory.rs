//! Project memory: indexing documents and retrieving passages.

use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemoryDocs {
    pub docs: Vec<String>,
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
