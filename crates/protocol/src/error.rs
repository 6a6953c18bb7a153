//! The error body every API failure returns.

use serde::{Deserialize, Serialize};

/// Every error the API returns: `{"error": {"code": "...", "message": "..."}}`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorDetail {
    /// Stable, machine-readable (`not_found`, `invalid_input`, `conflict`, ...).
    pub code: String,
    /// For people.
    pub message: String,
    /// The offending input field, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `not_ready` only: what a run needs and does not have (setting keys, `repo_url`,
    /// `local_path`, or `components` for a ticket that names none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}
