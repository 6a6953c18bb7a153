//! Settings as the UI sees and changes them, and the connection check.

use serde::{Deserialize, Serialize};

/// A setting as the UI sees it: secrets only say whether they are set.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SettingView {
    pub key: String,
    pub secret: bool,
    /// Plain value (null for secrets and for unset keys).
    pub value: Option<serde_json::Value>,
    pub is_set: bool,
    /// `project` when the project overrides the global value, else `global` or `default`.
    pub source: String,
    /// What the setting is for, in a sentence (shown under its name).
    #[serde(default)]
    pub help: String,
}

/// `{ "key": value | null }`: null clears the key at this scope.
pub type SettingsUpdate = std::collections::BTreeMap<String, Option<serde_json::Value>>;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SettingsCheck {
    pub items: Vec<CheckItem>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckItem {
    pub name: String,
    pub ok: bool,
    /// False when the endpoint is not set up at all (and nothing was called).
    pub configured: bool,
    pub detail: String,
}
