//! Secrets the host knows of (the job token it hands the agent, its own worker token)
//! replaced by `[redacted]` in the agent's output before any of it leaves the host: the
//! job's log events and the output tail in a failure reason. The agent scrubs its own
//! output too; this holds even when it does not (a crashed or compromised agent, a tool
//! printing its environment). Lines are whole when they get here: runtimes that read in
//! chunks join a line's chunks first, so a secret split by a chunk boundary is still seen.

/// What a secret becomes.
pub const REDACTED: &str = "[redacted]";
/// Shorter values are not redacted: they would match ordinary text. Tokens are far longer.
const MIN_SECRET_CHARS: usize = 8;

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Redactor {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.chars().count() >= MIN_SECRET_CHARS)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every known secret replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_secrets_are_replaced_wherever_they_appear() {
        let r = Redactor::new(["tj_secretjobtoken".to_string(), "tw_hosttoken1".into(), "short".into()]);
        assert_eq!(
            r.redact("env: TERARCHITECT_JOB_TOKEN=tj_secretjobtoken and tj_secretjobtoken"),
            "env: TERARCHITECT_JOB_TOKEN=[redacted] and [redacted]"
        );
        assert_eq!(r.redact("Bearer tw_hosttoken1\t"), "Bearer [redacted]\t");
        assert_eq!(r.redact("a short line"), "a short line", "too short to be a secret");
        assert_eq!(
            r.redact("tj_secretjobtoke"),
            "tj_secretjobtoke",
            "a prefix is not the secret"
        );
        // A secret containing another is replaced whole.
        let r = Redactor::new(["abcdefgh".to_string(), "abcdefgh-ijkl".into()]);
        assert_eq!(r.redact("x abcdefgh-ijkl y"), "x [redacted] y");
        assert_eq!(Redactor::default().redact("tj_secretjobtoken"), "tj_secretjobtoken");
    }
}
