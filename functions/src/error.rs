//! The one error type of the library. `http::error` maps it to status codes.

use terarchitect_protocol::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Invalid(FieldError),
    #[error("{0}")]
    Conflict(String),
    /// A run cannot start: these settings (or project fields, or the ticket's components)
    /// are missing.
    #[error("{}", not_ready_message(.0))]
    NotReady(Vec<String>),
    /// A worker-host call on a job in a state that does not allow it (409 with its own code).
    #[error("{1}")]
    JobState(JobConflict, String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    Unavailable(String),
    /// A ticket's or project's LLM token budget is spent (402 `budget_exhausted`).
    #[error("{0}")]
    BudgetExhausted(String),
    /// Too many writes by one token this minute; retry after this many seconds.
    #[error("too many requests with this token; retry in {0} s")]
    RateLimited(u64),
    #[error(transparent)]
    GitHub(#[from] crate::domain::github::GitHubError),
    /// A user-set URL the outbound policy does not let us call.
    #[error(transparent)]
    Outbound(#[from] crate::domain::outbound::OutboundError),
    /// An upstream service (that a user configured) answered more than we pass on.
    #[error("{0}")]
    UpstreamTooLarge(String),
    /// The gateway's upstream LLM could not be reached, or broke off before answering.
    #[error("{0}")]
    UpstreamUnavailable(String),
    #[error("database error: {0}")]
    Db(#[source] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

/// Why a claim, heartbeat or finish could not act on a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobConflict {
    /// Another host holds the job's lease, or this host's lease ended (expired and
    /// re-claimed, or released).
    LeaseLost,
    /// The job already succeeded or failed.
    JobFinished,
    /// The job was cancelled, or is being stopped.
    JobCancelled,
    /// The job's project runs agents in another execution mode than the claiming host:
    /// the job stays queued for a host that matches.
    WrongExecutionMode,
}

impl JobConflict {
    pub fn code(self) -> &'static str {
        match self {
            JobConflict::LeaseLost => "lease_lost",
            JobConflict::JobFinished => "job_finished",
            JobConflict::JobCancelled => "job_cancelled",
            JobConflict::WrongExecutionMode => "wrong_execution_mode",
        }
    }
}

impl Error {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Error::Invalid(FieldError::new(field, message))
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Error::Invalid(e)
    }
}

impl From<sqlx::Error> for Error {
    /// Constraint violations are the caller's mistake (or a race they lost) and name the
    /// constraint: turn the ones we expect into domain errors.
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::RowNotFound = e {
            return Error::NotFound("row");
        }
        // A stored value this version cannot read (e.g. a string no enum variant names):
        // never defaulted; the message names the column and the value.
        if let sqlx::Error::ColumnDecode { .. } = e {
            return Error::Internal(e.to_string());
        }
        if let Some(db) = e.as_database_error() {
            let constraint = db.constraint().unwrap_or_default();
            match db.code().as_deref() {
                // foreign_key_violation
                Some("23503") => return fk_violation(constraint),
                // unique_violation
                Some("23505") => return unique_violation(constraint),
                // check_violation
                Some("23514") => return Error::invalid(constraint, format!("violates rule {constraint}")),
                // string_data_right_truncation, invalid_text_representation, numeric out of range
                Some("22001") | Some("22P02") | Some("22003") => {
                    return Error::invalid("input", db.message().to_string());
                }
                _ => {}
            }
        }
        Error::Db(e)
    }
}

fn fk_violation(constraint: &str) -> Error {
    match constraint {
        "graph_edges_source_fkey" => Error::invalid("edges.source", "must name a node of this project"),
        "graph_edges_target_fkey" => Error::invalid("edges.target", "must name a node of this project"),
        "ticket_nodes_node_fkey" => Error::invalid("node_ids", "must name nodes of this project's graph"),
        "ticket_edges_edge_fkey" => Error::invalid("edge_ids", "must name edges of this project's graph"),
        "notes_node_fkey" => Error::invalid("node_id", "must name a node of this project's graph"),
        "notes_edge_fkey" => Error::invalid("edge_id", "must name an edge of this project's graph"),
        "tickets_column_fkey" => {
            Error::Conflict("the column still holds tickets, or is not part of this project".into())
        }
        c if c.contains("project") => Error::NotFound("project"),
        c => Error::Conflict(format!("refers to something that does not exist ({c})")),
    }
}

fn unique_violation(constraint: &str) -> Error {
    match constraint {
        "jobs_one_active_per_ticket" => Error::Conflict("the ticket already has an active job".into()),
        "graph_nodes_pkey" | "graph_edges_pkey" => {
            Error::Conflict("an id in the graph is already used by another project".into())
        }
        "idempotency_keys_pkey" => Error::Conflict("idempotency key is in use by a concurrent request".into()),
        c => Error::Conflict(format!("already exists ({c})")),
    }
}

/// What a `NotReady` says to people.
pub fn not_ready_message(missing: &[String]) -> String {
    format!("Required settings missing: {}", missing.join(", "))
}
