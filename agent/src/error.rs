use thiserror::Error;

/// Why a job stopped without a pull request.
#[derive(Debug, Error)]
/// Each message is the sentence the run table shows a person (the details are in the log).
pub enum Error {
    #[error("cancelled on request")]
    Cancelled,
    #[error("the project's settings are incomplete: {0}")]
    Config(String),
    #[error("the agent lost contact with Terarchitect: {0}")]
    Api(String),
    #[error("the LLM could not be used: {0}")]
    Llm(String),
    #[error("the coding agent failed: {0}")]
    Worker(String),
    #[error("the agent could not work with the repository: {0}")]
    Git(String),
    #[error("GitHub refused: {0}")]
    GitHub(String),
    #[error("the budget ran out: {0}")]
    Budget(String),
    #[error("the tests still fail: {0}")]
    TestsFailed(String),
    #[error("a file could not be read or written: {0}")]
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
