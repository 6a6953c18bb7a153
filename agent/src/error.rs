use thiserror::Error;

/// Why a job stopped without a pull request.
#[derive(Debug, Error)]
pub enum Error {
    #[error("cancelled by request")]
    Cancelled,
    #[error("misconfigured: {0}")]
    Config(String),
    #[error("Terarchitect API: {0}")]
    Api(String),
    #[error("LLM: {0}")]
    Llm(String),
    #[error("worker: {0}")]
    Worker(String),
    #[error("git: {0}")]
    Git(String),
    #[error("GitHub: {0}")]
    GitHub(String),
    #[error("budget exhausted: {0}")]
    Budget(String),
    #[error("tests did not pass: {0}")]
    TestsFailed(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The process exit code the worker host understands (130 = cancelled).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Cancelled => 130,
            Error::Config(_) => 2,
            _ => 1,
        }
    }
}

impl From<git2::Error> for Error {
    fn from(e: git2::Error) -> Self {
        Error::Git(e.message().to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
