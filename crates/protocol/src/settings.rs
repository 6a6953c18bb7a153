//! Settings: every key and what it holds, the settings as the UI sees and changes them,
//! and the connection check.

use serde::{Deserialize, Serialize};

string_enum! {
    /// Every setting there is. What each holds, its help line and whether agents get it
    /// are [`SettingKey::spec`]; the API checks values by it, lists it on the settings
    /// page, and [`AgentSettings`](crate::AgentSettings) has one field per key agents get.
    pub enum SettingKey {
        DirectorLlmUrl = "director_llm_url",
        DirectorLlmModel = "director_llm_model",
        DirectorLlmKey = "director_llm_key",
        WorkerMode = "worker_mode",
        WorkerLlmUrl = "worker_llm_url",
        WorkerLlmModel = "worker_llm_model",
        WorkerLlmKey = "worker_llm_key",
        AnthropicKey = "anthropic_key",
        GithubToken = "github_token",
        GithubReviewToken = "github_review_token",
        GithubApiUrl = "github_api_url",
        EmbeddingUrl = "embedding_url",
        EmbeddingModel = "embedding_model",
        EmbeddingKey = "embedding_key",
        MaxReviewRounds = "max_review_rounds",
        ReviewTrustedLogins = "review_trusted_logins",
        SummarizeEveryTurns = "summarize_every_turns",
        GitAuthorName = "git_author_name",
        GitAuthorEmail = "git_author_email",
        TicketBudgetTokens = "ticket_budget_tokens",
        ProjectBudgetTokens = "project_budget_tokens",
        EgressAllow = "egress_allow",
        LlmPrices = "llm_prices",
        TicketBudgetUsd = "ticket_budget_usd",
        ProjectBudgetUsd = "project_budget_usd",
    }
}

/// What a setting holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    /// An http(s) URL.
    Url,
    /// One line of text.
    Text,
    /// A key or token: sealed at rest, never shown again.
    Secret,
    /// A whole number in `min..=max`, `default` when unset.
    Int { min: i64, max: i64, default: i64 },
    /// A [`WorkerMode`](crate::WorkerMode), `native` when unset.
    WorkerMode,
    /// Host names ([`HostPattern`](crate::egress::HostPattern)), comma-separated.
    HostList,
    /// What models cost ([`PriceTable`](crate::prices::PriceTable)).
    PriceTable,
    /// US dollars: a number from 0 to 1,000,000.
    Usd,
}

/// Everything about one setting besides its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingSpec {
    pub kind: SettingKind,
    /// What the setting is for, in a sentence (shown under its name).
    pub help: &'static str,
    /// Whether a job's agent gets it (in `AgentSettings`).
    pub for_agents: bool,
}

impl SettingKey {
    pub const fn spec(self) -> SettingSpec {
        use SettingKind::*;
        const fn agents(kind: SettingKind, help: &'static str) -> SettingSpec {
            SettingSpec {
                kind,
                help,
                for_agents: true,
            }
        }
        match self {
            Self::DirectorLlmUrl => agents(
                Url,
                "Base URL of the Director's OpenAI-compatible API (it plans, judges and writes memory). \
                 Changing it clears director_llm_key.",
            ),
            Self::DirectorLlmModel => agents(Text, "The model the Director asks."),
            Self::DirectorLlmKey => agents(Secret, "API key for the Director's endpoint."),
            Self::WorkerMode => agents(
                WorkerMode,
                "Which coding agent does the work: native, opencode or claude-code.",
            ),
            Self::WorkerLlmUrl => agents(
                Url,
                "Base URL of the Worker's OpenAI-compatible API. Changing it clears worker_llm_key.",
            ),
            Self::WorkerLlmModel => agents(Text, "The model the Worker uses."),
            Self::WorkerLlmKey => agents(Secret, "API key for the Worker's endpoint."),
            Self::AnthropicKey => agents(Secret, "Anthropic API key, for the claude-code Worker."),
            Self::GithubToken => agents(
                Secret,
                "The agent's GitHub token: it pushes ticket branches and opens the pull requests.",
            ),
            // GitHub refuses an approval from the PR's author, who is the agent's `github_token`.
            Self::GithubReviewToken => SettingSpec {
                kind: Secret,
                help: "Your own GitHub token for the review page (comment, approve, merge). Without it \
                       the agent's token is used, and GitHub refuses to let it approve its own pull \
                       request. Never given to agents.",
                for_agents: false,
            },
            Self::GithubApiUrl => agents(
                Url,
                "GitHub's API; for GitHub Enterprise, https://HOST/api/v3. Changing it clears both \
                 GitHub tokens.",
            ),
            Self::EmbeddingUrl => agents(
                Url,
                "Base URL of the OpenAI-compatible embeddings API behind the project memory. Changing it \
                 clears embedding_key.",
            ),
            Self::EmbeddingModel => agents(Text, "The embedding model."),
            Self::EmbeddingKey => agents(Secret, "API key for the embeddings endpoint."),
            Self::MaxReviewRounds => agents(
                Int {
                    min: 0,
                    max: 50,
                    default: 3,
                },
                "How many times the agent answers review comments on one pull request before \
                 leaving it to a human.",
            ),
            Self::ReviewTrustedLogins => agents(
                Text,
                "GitHub logins (comma-separated) whose pull request comments the agent acts on, \
                 besides the repository's owners, members and collaborators. Others' comments \
                 are shown but start nothing.",
            ),
            Self::SummarizeEveryTurns => agents(
                Int {
                    min: 2,
                    max: 1000,
                    default: 30,
                },
                "The Worker's conversation is summarised every this many turns, to stay within \
                 the model's context.",
            ),
            Self::GitAuthorName => agents(Text, "Author name of the agent's commits."),
            Self::GitAuthorEmail => agents(Text, "Author email of the agent's commits."),
            // The gateway enforces them: an agent cannot spend past them, whatever it holds.
            Self::TicketBudgetTokens => SettingSpec {
                kind: Int {
                    min: 0,
                    max: 1_000_000_000_000,
                    default: 0,
                },
                help: "Most LLM tokens (input and output) all runs of one ticket may use; past it the \
                       gateway refuses and the run stops with budget_exhausted. 0: no limit.",
                for_agents: false,
            },
            Self::ProjectBudgetTokens => SettingSpec {
                kind: Int {
                    min: 0,
                    max: 1_000_000_000_000,
                    default: 0,
                },
                help: "Most LLM tokens (input and output) all runs of the project may use together; \
                       past it the gateway refuses and runs stop with budget_exhausted. 0: no limit.",
                for_agents: false,
            },
            // The worker host's egress proxy enforces it; the agent never sees it.
            Self::EgressAllow => SettingSpec {
                kind: HostList,
                help: "Hosts the agent's container may reach besides Terarchitect and the repository \
                       (package registries, say), comma-separated: pypi.org, *.crates.io (subdomains), \
                       host:port for a port other than 443 and 80. Everything else is refused, and \
                       each refusal shows in the job's log.",
                for_agents: false,
            },
            Self::LlmPrices => SettingSpec {
                kind: PriceTable,
                help: "What each model costs, in US dollars per million input and output tokens, \
                       comma-separated: gpt-4o=2.50/10, claude-sonnet-*=3/15 (a trailing * covers \
                       every model it starts). Each call's cost is worked out when it is made; a \
                       model not listed costs nothing.",
                for_agents: false,
            },
            Self::TicketBudgetUsd => SettingSpec {
                kind: Usd,
                help: "Most US dollars all runs of one ticket may spend on LLM calls, priced by \
                       llm_prices; past it the gateway refuses and the run stops with \
                       budget_exhausted. 0: no limit.",
                for_agents: false,
            },
            Self::ProjectBudgetUsd => SettingSpec {
                kind: Usd,
                help: "Most US dollars all runs of the project may spend on LLM calls together, \
                       priced by llm_prices; past it the gateway refuses and runs stop with \
                       budget_exhausted. 0: no limit.",
                for_agents: false,
            },
        }
    }

    pub const fn kind(self) -> SettingKind {
        self.spec().kind
    }

    pub const fn is_secret(self) -> bool {
        matches!(self.kind(), SettingKind::Secret)
    }

    /// For a secret: the URL setting of the endpoint it is sent to. Changing that URL clears
    /// the secret at the same scope, and a project that sets its own URL never gets the
    /// global secret. None for secrets sent to a fixed endpoint (`anthropic_key`) and for
    /// everything else.
    pub const fn sent_to(self) -> Option<SettingKey> {
        match self {
            Self::DirectorLlmKey => Some(Self::DirectorLlmUrl),
            Self::WorkerLlmKey => Some(Self::WorkerLlmUrl),
            Self::EmbeddingKey => Some(Self::EmbeddingUrl),
            Self::GithubToken | Self::GithubReviewToken => Some(Self::GithubApiUrl),
            _ => None,
        }
    }

    /// The secrets sent to the endpoint of this URL setting.
    pub fn secrets_sent_here(self) -> impl Iterator<Item = SettingKey> {
        SettingKey::ALL
            .into_iter()
            .filter(move |k| k.sent_to().is_some_and(|u| u == self))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// `AgentSettings` has one field per key agents get, named like the key.
    #[test]
    fn agent_settings_are_the_keys_for_agents() {
        let fields = serde_json::to_value(crate::AgentSettings::default()).unwrap();
        let mut fields: Vec<&str> = fields.as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort_unstable();
        let mut keys: Vec<&str> = SettingKey::ALL
            .into_iter()
            .filter(|k| k.spec().for_agents)
            .map(SettingKey::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(fields, keys);
    }

    /// Every secret sent to a URL names a URL setting; every URL setting receives one.
    #[test]
    fn secrets_name_the_endpoint_they_go_to() {
        for k in SettingKey::ALL {
            if let Some(url) = k.sent_to() {
                assert!(k.is_secret() && url.kind() == SettingKind::Url, "{k}");
            }
            if k.kind() == SettingKind::Url {
                assert!(k.secrets_sent_here().next().is_some(), "{k}");
            }
        }
        let github: Vec<_> = SettingKey::GithubApiUrl.secrets_sent_here().collect();
        assert_eq!(github, [SettingKey::GithubToken, SettingKey::GithubReviewToken]);
    }
}
