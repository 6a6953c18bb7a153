//! Requests to URLs that users set (LLM and embedding endpoints, the GitHub API, the
//! settings check) go only where the operator allows: never to loopback, private,
//! link-local (the cloud metadata address), carrier-grade NAT, unique-local, multicast or
//! otherwise internal addresses unless `TERARCHITECT_OUTBOUND_ALLOW` lists them; plain
//! http only to hosts that list names; redirects never followed.
//!
//! Two checks, one rule ([`Allowlist::permits`]): [`Outbound::client_for`] checks a URL
//! before it is used (scheme, an IP-literal host, and the host's addresses, for a clear
//! error), and the client it hands out resolves names through [`GuardedResolver`], so the
//! addresses actually connected to are checked again at connect time (a DNS answer that
//! changes between the two checks does not help). reqwest does not resolve IP-literal
//! hosts, so those are checked from the URL, which is fixed per client since redirects
//! are not followed; octocrab's requests pass [`GuardedService`], which checks every URI
//! (pagination follows server-sent links).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The operator's allowlist: comma-separated CIDRs, addresses and host names.
pub const ALLOW_VAR: &str = "TERARCHITECT_OUTBOUND_ALLOW";

/// Why an outbound request was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("{0} is not a valid URL")]
    BadUrl(String),
    #[error("{0}: only http(s) URLs can be reached")]
    Scheme(String),
    #[error("{0} uses plain http, which is allowed only for hosts in {ALLOW_VAR}; use https")]
    PlainHttp(String),
    #[error(
        "{0} is not an allowed destination: it is (or resolves to) a loopback, private, link-local or other internal \
         address; an operator can allow it in {ALLOW_VAR}"
    )]
    Internal(String),
}

/// One allowed network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn parse(s: &str) -> Option<Net> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Net { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = ((bits / 8) as usize, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || (a[whole] ^ b[whole]) & (0xffu8 << (8 - rest)) == 0
}

/// What `TERARCHITECT_OUTBOUND_ALLOW` allows. Empty (the default): public addresses over
/// https only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    nets: Vec<Net>,
    hosts: Vec<String>,
}

impl Allowlist {
    /// `10.0.0.0/8, 127.0.0.1, ::1/128, llm.internal`: entries that parse as an address
    /// or CIDR are networks, the others host names (exact, case-insensitive).
    pub fn parse(s: &str) -> Result<Allowlist, String> {
        let mut out = Allowlist::default();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Some(net) = Net::parse(entry) {
                out.nets.push(net);
            } else if entry.contains('/') || entry.contains(char::is_whitespace) {
                return Err(format!("{ALLOW_VAR}: `{entry}` is neither a CIDR nor a host name"));
            } else {
                out.hosts.push(normal_host(entry));
            }
        }
        Ok(out)
    }

    /// The host name is listed: it may be reached over http, whatever it resolves to.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = normal_host(host);
        self.hosts.contains(&host)
    }

    fn allows_ip(&self, ip: IpAddr) -> bool {
        let embedded = embedded_v4(ip).map(IpAddr::V4);
        self.nets
            .iter()
            .any(|n| n.contains(ip) || embedded.is_some_and(|v4| n.contains(v4)))
    }

    /// May a request connect to `ip`?
    pub fn permits(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || self.allows_ip(ip)
    }
}

/// The address of an IP-literal URL host (`127.0.0.1`, `[::1]`).
fn literal_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// The [`OutboundError`] somewhere in `e`'s chain of sources (a refusal by the resolver
/// arrives wrapped in the HTTP client's errors).
pub fn find_refusal<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e OutboundError> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<OutboundError>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

fn normal_host(h: &str) -> String {
    h.trim_end_matches('.').to_ascii_lowercase()
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`) IPv6 address.
fn embedded_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else { return None };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    // `::` and `::1` are IPv6's own unspecified and loopback addresses, handled as such.
    if s[..6] == [0; 6] && !matches!(v6, Ipv6Addr::UNSPECIFIED | Ipv6Addr::LOCALHOST) {
        return Some(tail);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(tail);
    }
    None
}

/// Addresses a user-set URL must not reach: everything that is not ordinary public
/// unicast.
pub fn is_internal(ip: IpAddr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_internal_v4(v4);
    }
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        }
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_unspecified()
        || a == 0 // "this network" 0.0.0.0/8
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254.0.0/16, the cloud metadata address among them
        || (a == 100 && (b & 0xc0) == 64) // carrier-grade NAT 100.64.0.0/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments 192.0.0.0/24
        || (a == 198 && (b & 0xfe) == 18) // benchmarking 198.18.0.0/15
        || ip.is_multicast()
        || a >= 240 // reserved 240.0.0.0/4 and the broadcast address
}

/// Resolves names for the outbound clients and refuses to hand out an address the
/// allowlist does not permit, so what is checked is what is connected to.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    allow: Arc<Allowlist>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow.allows_host(&host) && addrs.iter().any(|a| !allow.permits(a.ip())) {
                return Err(Box::new(OutboundError::Internal(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The clients for user-set URLs, reachable only through a check of the URL.
#[derive(Clone)]
pub struct Outbound {
    allow: Arc<Allowlist>,
    http: reqwest::Client,
    github: reqwest::Client,
}

impl Outbound {
    pub fn new(allow: Allowlist) -> Result<Outbound, reqwest::Error> {
        let allow = Arc::new(allow);
        let builder = || {
            reqwest::Client::builder()
                .dns_resolver(Arc::new(GuardedResolver { allow: allow.clone() }))
                // A redirect would go to a URL nobody checked.
                .redirect(reqwest::redirect::Policy::none())
                // Through a proxy the resolver would only see the proxy's name.
                .no_proxy()
                .connect_timeout(Duration::from_secs(5))
        };
        Ok(Outbound {
            http: builder().build()?,
            // octocrab's requests: a read may stall 20 s at most (callers set no timeout).
            github: builder().read_timeout(Duration::from_secs(20)).build()?,
            allow,
        })
    }

    pub fn allowlist(&self) -> &Allowlist {
        &self.allow
    }

    /// What can be told from the URL alone: the scheme, plain http only to a listed host
    /// (a name in the list, or an IP literal in a listed network), an IP-literal host
    /// permitted. Cheap, no DNS: also used when settings are saved.
    pub fn check_url(&self, url: &str) -> Result<Url, OutboundError> {
        let parsed = Url::parse(url).map_err(|_| OutboundError::BadUrl(url.to_string()))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| OutboundError::BadUrl(url.to_string()))?
            .to_string();
        // The parser has already normalised http(s) hosts: `2130706433` reads `127.0.0.1`.
        let literal = literal_ip(&host);
        let listed = match literal {
            Some(ip) => self.allow.allows_ip(ip),
            None => self.allow.allows_host(&host),
        };
        match parsed.scheme() {
            "https" => {}
            "http" if listed => {}
            "http" => return Err(OutboundError::PlainHttp(host)),
            _ => return Err(OutboundError::Scheme(url.to_string())),
        }
        if let Some(ip) = literal
            && !self.allow.permits(ip)
        {
            return Err(OutboundError::Internal(host));
        }
        Ok(parsed)
    }

    /// Checks `url` ([`Outbound::check_url`], then the addresses its host resolves to) and
    /// hands out the client to call it with. A name that does not resolve passes here: the
    /// request then fails as unreachable, and the client's resolver checks again anyway.
    pub async fn client_for(&self, url: &str) -> Result<reqwest::Client, OutboundError> {
        self.check_resolved(url).await?;
        Ok(self.http.clone())
    }

    async fn check_resolved(&self, url: &str) -> Result<(), OutboundError> {
        let parsed = self.check_url(url)?;
        if let Some(name) = parsed.host_str().filter(|h| literal_ip(h).is_none())
            && !self.allow.allows_host(name)
            && let Ok(addrs) = tokio::net::lookup_host((name, 0)).await
            && addrs.into_iter().any(|a| !self.allow.permits(a.ip()))
        {
            return Err(OutboundError::Internal(name.to_string()));
        }
        Ok(())
    }

    /// The leaf service for an octocrab client on `api` (checked first): every request
    /// URI is checked, names again at connect time. What remains: none of octocrab's
    /// own transport (its redirect layer, its hyper connector) is used.
    pub async fn github_service(&self, api: &str) -> Result<GuardedService, OutboundError> {
        self.check_resolved(api).await?;
        Ok(GuardedService {
            outbound: self.clone(),
            inner: octocrab::service::middleware::reqwest_connector::ReqwestConnector::new(self.github.clone()),
        })
    }
}

/// octocrab's innermost service: refuses a URI [`Outbound::check_url`] refuses, then
/// sends through the guarded client (whose resolver checks names).
#[derive(Clone)]
pub struct GuardedService {
    outbound: Outbound,
    inner: octocrab::service::middleware::reqwest_connector::ReqwestConnector,
}

type OctoRequest = axum::http::Request<octocrab::OctoBody>;

impl tower::Service<OctoRequest> for GuardedService {
    type Response =
        <octocrab::service::middleware::reqwest_connector::ReqwestConnector as tower::Service<OctoRequest>>::Response;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: OctoRequest) -> Self::Future {
        if let Err(e) = self.outbound.check_url(&req.uri().to_string()) {
            return Box::pin(std::future::ready(Err(e.into())));
        }
        let fut = self.inner.call(req);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_v4_addresses_are_recognised() {
        for a in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.170",
            "198.18.0.1",
        ] {
            assert!(is_internal(ip(a)), "{a}");
        }
        for a in [
            "8.8.8.8",
            "140.82.112.6",
            "172.32.0.1",
            "172.15.255.255",
            "100.128.0.1",
            "100.63.255.255",
            "169.255.0.1",
            "192.0.1.1",
            "198.20.0.1",
        ] {
            assert!(!is_internal(ip(a)), "{a}");
        }
    }

    #[test]
    fn internal_v6_addresses_and_embedded_v4_forms_are_recognised() {
        for a in [
            "::1",
            "::",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd12:3456::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.1.2.3",
            "::ffff:a9fe:a9fe",
            "::127.0.0.1",
            "::169.254.169.254",
            "64:ff9b::169.254.169.254",
            "64:ff9b::10.0.0.1",
        ] {
            assert!(is_internal(ip(a)), "{a}");
        }
        for a in [
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "fe00::1",
        ] {
            assert!(!is_internal(ip(a)), "{a}");
        }
    }

    #[test]
    fn the_allowlist_takes_cidrs_addresses_and_names() {
        let a = Allowlist::parse(" 127.0.0.0/8, ::1, 10.1.0.0/16 ,LLM.internal., ").unwrap();
        assert!(a.permits(ip("127.0.0.1")));
        assert!(a.permits(ip("::ffff:127.0.0.2")), "a mapped form of a listed address");
        assert!(a.permits(ip("::1")));
        assert!(a.permits(ip("10.1.200.3")));
        assert!(!a.permits(ip("10.2.0.1")));
        assert!(!a.permits(ip("169.254.169.254")));
        assert!(!a.permits(ip("::2")));
        assert!(a.permits(ip("8.8.8.8")), "public addresses need no listing");
        assert!(a.allows_host("llm.internal"));
        assert!(a.allows_host("LLM.Internal."));
        assert!(!a.allows_host("internal"));
        let odd = Allowlist::parse("172.16.0.0/12,fd00::/8").unwrap();
        assert!(odd.permits(ip("172.31.0.1")) && !odd.permits(ip("192.168.0.1")));
        assert!(odd.permits(ip("fd00::5")) && !odd.permits(ip("fc00::5")));
        assert!(Allowlist::parse("10.0.0.0/33").is_err());
        assert!(Allowlist::parse("no/such").is_err());
        assert_eq!(Allowlist::parse("").unwrap(), Allowlist::default());
    }

    /// What is connected to is checked: the resolver itself refuses, whatever was checked before.
    #[tokio::test]
    async fn the_resolver_refuses_names_that_resolve_to_internal_addresses() {
        let resolve = |allow: &str, name: &str| {
            let r = GuardedResolver {
                allow: Arc::new(Allowlist::parse(allow).unwrap()),
            };
            r.resolve(name.parse().unwrap())
        };
        let e = resolve("", "localhost").await.err().expect("refused");
        assert!(matches!(find_refusal(&*e), Some(OutboundError::Internal(h)) if h == "localhost"));
        assert!(
            resolve("127.0.0.0/8,::1/128", "localhost").await.is_ok(),
            "its addresses listed"
        );
        assert!(resolve("LOCALHOST", "localhost").await.is_ok(), "its name listed");
    }

    #[test]
    fn urls_are_checked_for_scheme_plain_http_and_literal_hosts() {
        let none = Outbound::new(Allowlist::default()).unwrap();
        assert!(none.check_url("https://api.openai.com/v1").is_ok());
        assert!(matches!(
            none.check_url("http://api.openai.com/v1"),
            Err(OutboundError::PlainHttp(_))
        ));
        assert!(matches!(
            none.check_url("ftp://example.com/"),
            Err(OutboundError::Scheme(_))
        ));
        assert!(matches!(
            none.check_url("file:///etc/passwd"),
            Err(OutboundError::Scheme(_)) | Err(OutboundError::BadUrl(_))
        ));
        assert!(matches!(none.check_url("not a url"), Err(OutboundError::BadUrl(_))));
        for url in [
            "https://169.254.169.254/latest/meta-data/",
            "https://127.0.0.1:8080/",
            "https://[::1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[fd00::1]/",
            "https://2130706433/", // 127.0.0.1 written as one number
            "https://0x7f.1/",
        ] {
            assert!(matches!(none.check_url(url), Err(OutboundError::Internal(_))), "{url}");
        }
        let local = Outbound::new(Allowlist::parse("127.0.0.0/8,::1/128,localhost").unwrap()).unwrap();
        assert!(local.check_url("http://127.0.0.1:9/v1").is_ok());
        assert!(local.check_url("http://[::1]:9/v1").is_ok());
        assert!(local.check_url("http://localhost:9/v1").is_ok());
        assert!(matches!(
            local.check_url("http://169.254.169.254/"),
            Err(OutboundError::PlainHttp(_))
        ));
        assert!(matches!(
            local.check_url("https://169.254.169.254/"),
            Err(OutboundError::Internal(_))
        ));
    }
}
