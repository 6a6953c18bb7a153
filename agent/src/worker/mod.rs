//! Worker backends behind one trait: the Director talks to any of them the same way.

pub mod claude;
pub mod native;
pub mod opencode;

use std::future::Future;
use std::pin::Pin;

use crate::error::Result;

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone, Default)]
pub struct WorkerReply {
    pub text: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

pub trait Worker: Send + Sync {
    /// Which backend, for logs.
    fn name(&self) -> &'static str;
    /// Starts a fresh session (forgetting any earlier one).
    fn start(&mut self) -> BoxFut<'_, Result<()>>;
    /// One instruction, answered when the Worker is done with it.
    fn send<'a>(&'a mut self, prompt: &'a str) -> BoxFut<'a, Result<WorkerReply>>;
    /// Compacts the session's history so long runs fit the model's context.
    fn summarise(&mut self) -> BoxFut<'_, Result<()>>;
    fn stop(&mut self) -> BoxFut<'_, Result<()>>;
}
