//! Projects: a repository to work on and how its agents run.

use crate::id::ProjectId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

string_enum! {
    #[derive(Default)]
    pub enum ExecutionMode {
        /// The agent clones the repository inside its own container.
        #[default]
        Docker = "docker",
        /// The agent works in a directory on the worker host.
        Local = "local",
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Project {
    #[cfg_attr(feature = "openapi", schema(value_type = uuid::Uuid))]
    pub id: ProjectId,
    pub name: String,
    pub description: String,
    pub repo_url: String,
    pub default_branch: String,
    pub execution_mode: ExecutionMode,
    pub local_path: Option<String>,
    pub ticket_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub repo_url: String,
    #[serde(default = "default_branch")]
    pub default_branch: String,
    #[serde(default)]
    pub execution_mode: ExecutionMode,
    #[serde(default)]
    pub local_path: Option<String>,
}

fn default_branch() -> String {
    "main".into()
}

/// A partial update: absent fields keep their value.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub repo_url: Option<String>,
    pub default_branch: Option<String>,
    pub execution_mode: Option<ExecutionMode>,
    /// `Some(None)` clears it.
    #[serde(default, with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub local_path: Option<Option<String>>,
}

/// `Option<Option<T>>` that tells "absent" from "null".
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(v: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// Asked before a project is saved: can the control plane see this remote?
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct RepoCheckRequest {
    pub repo_url: String,
    /// The project being edited, whose GitHub token applies (the global one otherwise).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub project_id: Option<ProjectId>,
}

/// What the remote showed: its branches and the branch its HEAD points at.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RepoCheck {
    /// Whether a request was made at all (only http(s) remotes are checked).
    pub checked: bool,
    /// Whether the remote answered with its branches.
    pub reachable: bool,
    /// A few words for the form: "reachable", "not found", "access refused",
    /// "not reachable", "not allowed: …" or "not checked: …".
    pub detail: String,
    /// The remote's default branch (where its HEAD points), when it says.
    pub default_branch: Option<String>,
    /// Branch names, sorted (at most 500).
    pub branches: Vec<String>,
}

/// The remote to fetch and push over https: an ssh or scp-like GitHub remote becomes its
/// https URL (tokens authenticate over https only); anything else is kept as it is.
pub fn https_remote(url: &str) -> String {
    let url = url.trim();
    if let Some(rest) = url.strip_prefix("ssh://git@")
        && let Some((host, path)) = rest.split_once('/')
    {
        let host = host.split(':').next().unwrap_or(host);
        return format!("https://{host}/{path}");
    }
    if !url.contains("://")
        && let Some(rest) = url.strip_prefix("git@")
        && let Some((host, path)) = rest.split_once(':')
    {
        return format!("https://{host}/{path}");
    }
    url.to_string()
}

#[cfg(test)]
mod remote_tests {
    use super::https_remote;

    #[test]
    fn ssh_remotes_are_reached_over_https() {
        for ssh in [
            "git@github.com:acme/shop.git",
            "ssh://git@github.com/acme/shop.git",
            "ssh://git@github.com:22/acme/shop.git",
        ] {
            assert_eq!(https_remote(ssh), "https://github.com/acme/shop.git", "{ssh}");
        }
        assert_eq!(
            https_remote("ssh://git@ghe.example:2222/acme/shop"),
            "https://ghe.example/acme/shop"
        );
        for same in ["https://github.com/acme/shop.git", "file:///tmp/x/shop.git"] {
            assert_eq!(https_remote(same), same);
        }
    }
}
