//! API token kinds.

use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// People and the UI.
    User,
    /// Worker hosts: claim, heartbeat, finish.
    Worker,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::User => "user",
            TokenKind::Worker => "worker",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::User, Self::Worker].into_iter().find(|k| k.as_str() == s)
    }
}
