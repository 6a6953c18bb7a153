//! Terarchitect's API: a storage layer (`store`, all SQL), domain rules (`domain`) and
//! the HTTP surface (`http`, axum routers handed to `lambda_http::run` by the binaries).

pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod runtime;
pub mod store;

pub use error::{Error, JobConflict};
pub type Result<T, E = Error> = std::result::Result<T, E>;
