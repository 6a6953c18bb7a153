//! Input limits and checks, shared by the API (which enforces them) and the UI (which
//! shows the same messages inline before sending).

use crate::id::{EdgeId, NodeId};

use crate::*;

/// A rejected input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

pub trait Validate {
    fn validate(&self) -> Result<(), FieldError>;
}

pub const MAX_NAME: usize = 200;
pub const MAX_TEXT: usize = 20_000;
pub const MAX_URL: usize = 2_000;
pub const MAX_GRAPH_ITEMS: usize = 2_000;
pub const MAX_EVENTS_PER_BATCH: usize = 500;
pub const MAX_RAW_OUTPUT: usize = 256 * 1024;
pub const MAX_ATTACHED: usize = 500;

pub fn required(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    bounded(field, value, max)
}

pub fn bounded(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.chars().count() > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    if value.contains('\0') {
        return Err(FieldError::new(field, "must not contain NUL characters"));
    }
    Ok(())
}

/// A page the UI may link to: an http(s) URL with a host, nothing else (no `javascript:`,
/// no `data:`), however it reached us.
pub fn web_url(field: &str, url: &str) -> Result<(), FieldError> {
    required(field, url, MAX_URL)?;
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or_default();
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(FieldError::new(field, "must be an http(s) URL"));
    }
    Ok(())
}

/// A git remote the agent can clone: https://, http://, ssh://, git@host:path or file://.
pub fn repo_url(field: &str, url: &str) -> Result<(), FieldError> {
    required(field, url, MAX_URL)?;
    let ok_scheme = ["https://", "http://", "ssh://", "git://", "file:///"]
        .iter()
        .any(|p| url.starts_with(p) && url.len() > p.len());
    let scp_like = url.starts_with("git@") && url.contains(':');
    if !(ok_scheme || scp_like) || url.chars().any(char::is_whitespace) {
        return Err(FieldError::new(
            field,
            "must be a git remote URL (https://host/owner/repo.git, git@host:owner/repo.git or file:///path)",
        ));
    }
    Ok(())
}

/// A git branch name, per the rules of `git check-ref-format` that matter in practice.
pub fn branch_name(field: &str, name: &str) -> Result<(), FieldError> {
    required(field, name, 200)?;
    let bad = name.starts_with('-')
        || name.starts_with('/')
        || name.ends_with('/')
        || name.ends_with(".lock")
        || name.ends_with('.')
        || name.contains("..")
        || name.contains("//")
        || name.contains("@{")
        || name.chars().any(|c| c.is_control() || " ~^:?*[\\".contains(c));
    if bad {
        return Err(FieldError::new(field, "is not a valid git branch name"));
    }
    Ok(())
}

fn local_path(mode: ExecutionMode, path: Option<&str>) -> Result<(), FieldError> {
    match (mode, path) {
        (ExecutionMode::Local, None) => Err(FieldError::new(
            "local_path",
            "is required when execution_mode is local",
        )),
        (_, Some(p)) => {
            required("local_path", p, MAX_URL)?;
            if !p.starts_with('/') {
                return Err(FieldError::new("local_path", "must be an absolute path"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

impl Validate for NewProject {
    fn validate(&self) -> Result<(), FieldError> {
        required("name", &self.name, MAX_NAME)?;
        bounded("description", &self.description, MAX_TEXT)?;
        repo_url("repo_url", &self.repo_url)?;
        branch_name("default_branch", &self.default_branch)?;
        local_path(self.execution_mode, self.local_path.as_deref())
    }
}

impl Validate for RepoCheckRequest {
    fn validate(&self) -> Result<(), FieldError> {
        repo_url("repo_url", &self.repo_url)
    }
}

impl Validate for ProjectPatch {
    fn validate(&self) -> Result<(), FieldError> {
        if let Some(v) = &self.name {
            required("name", v, MAX_NAME)?;
        }
        if let Some(v) = &self.description {
            bounded("description", v, MAX_TEXT)?;
        }
        if let Some(v) = &self.repo_url {
            repo_url("repo_url", v)?;
        }
        if let Some(v) = &self.default_branch {
            branch_name("default_branch", v)?;
        }
        if let Some(Some(p)) = &self.local_path {
            local_path(ExecutionMode::Local, Some(p))?;
        }
        Ok(())
    }
}

impl Validate for NodeInput {
    fn validate(&self) -> Result<(), FieldError> {
        required("nodes.label", &self.label, MAX_NAME)?;
        bounded("nodes.kind", &self.kind, MAX_NAME)?;
        bounded("nodes.technology", &self.technology, MAX_NAME)?;
        bounded("nodes.description", &self.description, MAX_TEXT)?;
        if !self.x.is_finite() || !self.y.is_finite() || self.x.abs() > 1e7 || self.y.abs() > 1e7 {
            return Err(FieldError::new(
                "nodes.x",
                "coordinates must be finite numbers within ±10,000,000",
            ));
        }
        Ok(())
    }
}

impl Validate for EdgeInput {
    fn validate(&self) -> Result<(), FieldError> {
        bounded("edges.label", &self.label, MAX_NAME)?;
        bounded("edges.protocol", &self.protocol, MAX_NAME)?;
        if self.source == self.target {
            return Err(FieldError::new(
                "edges.target",
                "an edge must connect two different nodes",
            ));
        }
        Ok(())
    }
}

impl Validate for GraphChange {
    fn validate(&self) -> Result<(), FieldError> {
        let total = self.nodes.len() + self.edges.len() + self.delete_nodes.len() + self.delete_edges.len();
        if total > MAX_GRAPH_ITEMS * 2 {
            return Err(FieldError::new(
                "nodes",
                format!("at most {MAX_GRAPH_ITEMS} nodes and edges per request"),
            ));
        }
        // Nodes and edges share one id space (a note or ticket names either by id).
        let mut seen = std::collections::HashSet::new();
        for n in &self.nodes {
            n.validate()?;
            if !seen.insert(n.id.0) {
                return Err(FieldError::new("nodes.id", format!("node {} appears twice", n.id)));
            }
        }
        for e in &self.edges {
            e.validate()?;
            if !seen.insert(e.id.0) {
                return Err(FieldError::new("edges.id", format!("id {} appears twice", e.id)));
            }
        }
        Ok(())
    }
}

impl Validate for NewColumn {
    fn validate(&self) -> Result<(), FieldError> {
        required("title", &self.title, MAX_NAME)?;
        if matches!(self.position, Some(p) if p < 0) {
            return Err(FieldError::new("position", "must not be negative"));
        }
        Ok(())
    }
}

impl Validate for ColumnPatch {
    fn validate(&self) -> Result<(), FieldError> {
        if let Some(t) = &self.title {
            required("title", t, MAX_NAME)?;
        }
        if matches!(self.position, Some(p) if p < 0) {
            return Err(FieldError::new("position", "must not be negative"));
        }
        Ok(())
    }
}

fn attached(node_ids: &[NodeId], edge_ids: &[EdgeId]) -> Result<(), FieldError> {
    if node_ids.len() > MAX_ATTACHED || edge_ids.len() > MAX_ATTACHED {
        return Err(FieldError::new(
            "node_ids",
            format!("at most {MAX_ATTACHED} attached nodes and edges"),
        ));
    }
    Ok(())
}

impl Validate for NewTicket {
    fn validate(&self) -> Result<(), FieldError> {
        required("title", &self.title, MAX_NAME)?;
        bounded("description", &self.description, MAX_TEXT)?;
        attached(&self.node_ids, &self.edge_ids)
    }
}

impl Validate for TicketPatch {
    fn validate(&self) -> Result<(), FieldError> {
        if let Some(t) = &self.title {
            required("title", t, MAX_NAME)?;
        }
        if let Some(d) = &self.description {
            bounded("description", d, MAX_TEXT)?;
        }
        attached(
            self.node_ids.as_deref().unwrap_or_default(),
            self.edge_ids.as_deref().unwrap_or_default(),
        )
    }
}

impl Validate for TicketMove {
    fn validate(&self) -> Result<(), FieldError> {
        if matches!(self.position, Some(p) if p < 0) {
            return Err(FieldError::new("position", "must not be negative"));
        }
        Ok(())
    }
}

impl Validate for NewNote {
    fn validate(&self) -> Result<(), FieldError> {
        required("body", &self.body, MAX_TEXT)?;
        if self.node_id.is_some() && self.edge_id.is_some() {
            return Err(FieldError::new(
                "edge_id",
                "a note is attached to a node or an edge, not both",
            ));
        }
        Ok(())
    }
}

impl Validate for NotePatch {
    fn validate(&self) -> Result<(), FieldError> {
        required("body", &self.body, MAX_TEXT)
    }
}

impl Validate for NewComment {
    fn validate(&self) -> Result<(), FieldError> {
        required("body", &self.body, MAX_TEXT)
    }
}

/// GitHub's own limit on a comment body.
pub const MAX_PR_COMMENT: usize = 65_536;

impl Validate for NewPrComment {
    fn validate(&self) -> Result<(), FieldError> {
        required("body", &self.body, MAX_PR_COMMENT)?;
        match (&self.path, self.line) {
            (None, None) => Ok(()),
            (Some(p), Some(l)) if l >= 1 => required("path", p, MAX_URL),
            (Some(_), Some(_)) => Err(FieldError::new("line", "must be 1 or more")),
            (Some(_), None) => Err(FieldError::new("line", "is required with path")),
            (None, Some(_)) => Err(FieldError::new("path", "is required with line")),
        }
    }
}

impl Validate for PrApproval {
    fn validate(&self) -> Result<(), FieldError> {
        match &self.body {
            Some(b) => bounded("body", b, MAX_PR_COMMENT),
            None => Ok(()),
        }
    }
}

impl Validate for EventBatch {
    fn validate(&self) -> Result<(), FieldError> {
        if self.events.is_empty() || self.events.len() > MAX_EVENTS_PER_BATCH {
            return Err(FieldError::new(
                "events",
                format!("send between 1 and {MAX_EVENTS_PER_BATCH} events"),
            ));
        }
        for e in &self.events {
            required("events.phase", &e.phase, 100)?;
            required("events.step", &e.step, 200)?;
            bounded("events.summary", &e.summary, MAX_TEXT)?;
            if let Some(raw) = &e.raw_output {
                bounded("events.raw_output", raw, MAX_RAW_OUTPUT)?;
            }
            if e.input_tokens < 0 || e.output_tokens < 0 {
                return Err(FieldError::new(
                    "events.input_tokens",
                    "token counts must not be negative",
                ));
            }
        }
        Ok(())
    }
}

/// A host id given in a worker request's body (optional: the token names the host).
fn host_id(value: &Option<String>) -> Result<(), FieldError> {
    value.as_deref().map_or(Ok(()), |h| required("host_id", h, MAX_NAME))
}

impl Validate for ClaimRequest {
    fn validate(&self) -> Result<(), FieldError> {
        host_id(&self.host_id)
    }
}

impl Validate for HeartbeatRequest {
    fn validate(&self) -> Result<(), FieldError> {
        host_id(&self.host_id)
    }
}

impl Validate for FinishRequest {
    fn validate(&self) -> Result<(), FieldError> {
        host_id(&self.host_id)?;
        if let Some(r) = &self.reason {
            bounded("reason", r, MAX_TEXT)?;
        }
        Ok(())
    }
}

pub const MAX_MEMORY_DOCS: usize = 100;
pub const MAX_RETRIEVE: usize = 50;
/// Documents one index request may carry: indexing asks the LLM about each (all at once)
/// and must finish inside the API function's 29 s timeout (docs/architecture.md, Memory).
pub const MAX_INDEX_DOCS: usize = 8;
/// Bytes of text (UTF-8, all documents together) one index request may carry.
pub const MAX_INDEX_BYTES: usize = 64 * 1024;

impl MemoryDocs {
    /// What an index request must also respect (besides `validate`): at most
    /// `MAX_INDEX_DOCS` documents and `MAX_INDEX_BYTES` of text. `MemoryDocs::batches`
    /// splits a larger write into requests that do.
    pub fn validate_index(&self) -> Result<(), FieldError> {
        self.validate()?;
        let bytes: usize = self.docs.iter().map(String::len).sum();
        if self.docs.len() > MAX_INDEX_DOCS || bytes > MAX_INDEX_BYTES {
            return Err(FieldError::new(
                "docs",
                format!(
                    "an index request holds at most {MAX_INDEX_DOCS} documents and {MAX_INDEX_BYTES} bytes of text \
                     (this one: {} documents, {bytes} bytes); split it into several requests",
                    self.docs.len()
                ),
            ));
        }
        Ok(())
    }
}

impl Validate for MemoryDocs {
    fn validate(&self) -> Result<(), FieldError> {
        if self.docs.is_empty() || self.docs.len() > MAX_MEMORY_DOCS {
            return Err(FieldError::new(
                "docs",
                format!("send between 1 and {MAX_MEMORY_DOCS} documents"),
            ));
        }
        self.docs.iter().try_for_each(|d| required("docs", d, MAX_TEXT))
    }
}

impl Validate for MemoryQuery {
    fn validate(&self) -> Result<(), FieldError> {
        if self.queries.is_empty() || self.queries.len() > MAX_MEMORY_DOCS {
            return Err(FieldError::new(
                "queries",
                format!("send between 1 and {MAX_MEMORY_DOCS} queries"),
            ));
        }
        if !(1..=MAX_RETRIEVE).contains(&self.num_to_retrieve) {
            return Err(FieldError::new(
                "num_to_retrieve",
                format!("must be from 1 to {MAX_RETRIEVE}"),
            ));
        }
        self.queries.iter().try_for_each(|q| required("queries", q, MAX_TEXT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_batches_each_pass_the_index_bound_and_keep_all_text_in_order() {
        let mut docs: Vec<String> = (0..20).map(|i| format!("doc {i} ").repeat(50)).collect();
        docs.push("é".repeat(MAX_TEXT + 7)); // longer than one document may be, 2 bytes a char
        docs.push("x".repeat(MAX_INDEX_BYTES - 10));
        docs.push("   ".into());
        let batches = MemoryDocs::batches(docs.clone());
        for b in &batches {
            b.validate_index().unwrap();
        }
        let joined: String = batches.iter().flat_map(|b| b.docs.iter().map(String::as_str)).collect();
        assert_eq!(joined, docs.concat().trim_end());
        let over = MemoryDocs {
            docs: vec!["a".into(); MAX_INDEX_DOCS + 1],
        };
        assert_eq!(over.validate_index().unwrap_err().field, "docs");
        let big = MemoryDocs {
            docs: vec!["a".repeat(MAX_TEXT); 4],
        };
        assert!(big.validate().is_ok() && big.validate_index().is_err());
    }

    #[test]
    fn repo_urls() {
        for ok in [
            "https://github.com/a/b.git",
            "git@github.com:a/b.git",
            "file:///tmp/x.git",
            "ssh://git@h/a",
        ] {
            assert!(repo_url("r", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "github.com/a/b",
            "https://",
            "https://a b",
            "ftp://x/y",
            "file://relative",
        ] {
            assert!(repo_url("r", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn branch_names() {
        for ok in ["main", "release/1.2", "ticket-42"] {
            assert!(branch_name("b", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "a..b", "a b", "a~1", "x.lock", "a/", "a:b"] {
            assert!(branch_name("b", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn local_mode_needs_absolute_path() {
        let mut p = NewProject {
            name: "p".into(),
            repo_url: "https://h/a/b".into(),
            default_branch: "main".into(),
            execution_mode: ExecutionMode::Local,
            ..Default::default()
        };
        assert_eq!(p.validate().unwrap_err().field, "local_path");
        p.local_path = Some("rel/dir".into());
        assert_eq!(p.validate().unwrap_err().field, "local_path");
        p.local_path = Some("/srv/repo".into());
        assert!(p.validate().is_ok());
    }

    #[test]
    fn lengths_count_characters() {
        assert!(required("t", &"é".repeat(MAX_NAME), MAX_NAME).is_ok());
        assert!(required("t", &"é".repeat(MAX_NAME + 1), MAX_NAME).is_err());
        assert!(required("t", "   ", MAX_NAME).is_err());
    }
}
