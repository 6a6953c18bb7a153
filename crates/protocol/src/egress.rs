//! The hosts a project's agent containers may reach besides Terarchitect itself
//! (`egress_allow`): the API checks the list when it is set, the worker host's egress
//! proxy matches every connection against it.

use std::fmt;

/// One entry of `egress_allow`: `pypi.org` (that host), `*.crates.io` (its subdomains, not
/// the domain itself) or either with `:port`. Without a port, 443 and 80 are allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    /// Lower case; for a wildcard, the suffix after `*.`.
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

/// The most entries one list may hold.
pub const MAX_HOST_PATTERNS: usize = 200;

impl HostPattern {
    pub fn parse(entry: &str) -> Result<HostPattern, String> {
        let entry = entry.trim().to_ascii_lowercase();
        let bad = |why: &str| Err(format!("{entry:?}: {why}"));
        if entry.contains('/') {
            return bad("expected a host name, not a URL: like pypi.org or *.example.com, optionally with :port");
        }
        let (host, port) = match entry.rsplit_once(':') {
            Some((h, p)) => match p.parse::<u16>() {
                Ok(p) if p > 0 => (h.to_string(), Some(p)),
                _ => return bad("the port must be a number from 1 to 65535"),
            },
            None => (entry.clone(), None),
        };
        let (wildcard, host) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest.to_string()),
            None => (false, host),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
            return bad("expected a host name like pypi.org or *.example.com, optionally with :port");
        }
        if wildcard && !host.contains('.') {
            return bad("a wildcard needs a domain with at least two labels, like *.example.com");
        }
        Ok(HostPattern { host, wildcard, port })
    }

    /// The entries of a comma- or whitespace-separated list, empty ones skipped.
    pub fn entries(list: &str) -> impl Iterator<Item = &str> {
        list.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
    }

    /// A whole list, every entry checked.
    pub fn parse_list(list: &str) -> Result<Vec<HostPattern>, String> {
        let entries: Vec<&str> = HostPattern::entries(list).collect();
        if entries.len() > MAX_HOST_PATTERNS {
            return Err(format!("at most {MAX_HOST_PATTERNS} hosts"));
        }
        entries.into_iter().map(HostPattern::parse).collect()
    }

    /// Whether a connection to `host:port` is allowed by this entry.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let host_ok = if self.wildcard {
            host.strip_suffix(self.host.as_str())
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.'))
        } else {
            host == self.host
        };
        let port_ok = match self.port {
            Some(p) => p == port,
            None => port == 443 || port == 80,
        };
        host_ok && port_ok
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_match_their_host_and_ports_only() {
        let list = HostPattern::parse_list("PyPI.org, *.crates.io 10.0.0.5:5000").unwrap();
        assert_eq!(list.len(), 3);
        let allowed = |h: &str, p: u16| list.iter().any(|e| e.matches(h, p));
        assert!(allowed("pypi.org", 443) && allowed("pypi.org", 80) && allowed("pypi.org.", 443));
        assert!(!allowed("pypi.org", 22), "only 443 and 80 without a port");
        assert!(!allowed("evilpypi.org", 443) && !allowed("pypi.org.evil.com", 443));
        assert!(allowed("static.crates.io", 443) && allowed("a.b.crates.io", 443));
        assert!(!allowed("crates.io", 443), "a wildcard is for subdomains");
        assert!(!allowed("notcrates.io", 443));
        assert!(allowed("10.0.0.5", 5000) && !allowed("10.0.0.5", 443));
        assert_eq!(list[1].to_string(), "*.crates.io");
        assert_eq!(list[2].to_string(), "10.0.0.5:5000");
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        for bad in [
            "http://pypi.org",
            "pypi.org:0",
            "pypi.org:99999",
            "*.com",
            "*",
            "a_b.org",
            "-a.org",
            "a..org",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad} should be refused");
        }
        assert!(HostPattern::parse_list("").unwrap().is_empty());
    }
}
