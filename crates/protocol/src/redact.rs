//! `Debug` for types that hold secrets: each secret prints as `[redacted]`, so a `{:?}` in
//! a log or a panic message never shows a key or token. The JSON is unchanged.

use std::fmt;

/// Prints `[redacted]`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Redacted {
    /// `Some([redacted])` or `None`: whether a secret is set, not what it is.
    pub fn opt<T>(secret: &Option<T>) -> Option<Redacted> {
        secret.as_ref().map(|_| Redacted)
    }
}
