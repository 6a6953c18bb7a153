//! The egress proxy: an agent container's only way out (`AGENT_EGRESS=allowlist`, the
//! docker runtime's default).
//!
//! Each job's container sits alone on an internal Docker network (no route out). On that
//! network's gateway address this host serves an HTTP proxy (CONNECT and plain http) for
//! that job only, and the container gets `HTTP(S)_PROXY` pointing there. The proxy lets
//! through Terarchitect itself (the API, with its LLM gateway, and the git proxy, as the
//! agent names them) and the hosts of the project's `egress_allow`; anything else gets
//! 403, and the refusal goes into the job's log. An allowed name that resolves to this
//! machine, loopback or link-local (cloud metadata) is refused too. The guard installed
//! at start (`iptables`) keeps job networks off every other port of this host.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use terarchitect_protocol::egress::HostPattern;
use terarchitect_protocol::{JobId, NewJobEvent};
use tokio::net::{TcpListener, TcpStream};

use crate::api::WorkerApi;

/// The iptables chain that admits job networks to the proxy port and nothing else.
const GUARD_CHAIN: &str = "TERARCHITECT-EGRESS";
/// Job networks' bridge interfaces are named `tj-…` (the guard matches `tj-+`).
pub const BRIDGE_PREFIX: &str = "tj-";
/// Refusals logged per job (the first of each destination); later ones are only counted.
const MAX_LOGGED_REFUSALS: usize = 50;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What one job's proxy lets through.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Policy {
    /// Terarchitect's endpoints: (URL as the agent names it, URL where this host reaches it).
    pub control: Vec<(String, String)>,
    /// The project's `egress_allow` entries.
    pub allow: Vec<String>,
    /// Where this host's git proxy listens. libgit2 sends plain-http git through no proxy,
    /// so the agent's git URL points at the job's proxy itself, which passes `/git/…`
    /// requests on to the git proxy.
    #[serde(default)]
    pub git: Option<String>,
}

struct JobProxy {
    job: JobId,
    /// (host, port) as the agent names it → address this host connects to.
    control: HashMap<(String, u16), String>,
    allow: Vec<HostPattern>,
    /// The git proxy's address (`ip:port`), for requests made to this proxy directly.
    git: Option<String>,
    refused: Mutex<HashSet<String>>,
}

/// Shared by every job's proxy of this host.
pub struct Egress {
    api: WorkerApi,
    /// The port each job's proxy listens on, at its network's gateway.
    pub port: u16,
    /// Job networks are /28 subnets of this pool.
    pool: (Ipv4Addr, u8),
}

fn origin(url: &str) -> Option<(String, u16)> {
    let u = reqwest::Url::parse(url).ok()?;
    Some((u.host_str()?.to_ascii_lowercase(), u.port_or_known_default()?))
}

/// `ip:port` to connect to for a URL of this host (a listener on every address is
/// reached on loopback).
fn host_address(url: &str) -> Option<String> {
    let (host, port) = origin(url)?;
    let host = if host == "0.0.0.0" { "127.0.0.1".into() } else { host };
    Some(format!("{host}:{port}"))
}

impl Egress {
    /// `pool`: `a.b.c.d/n` (n ≤ 28) from which job networks take /28 subnets.
    pub fn new(api: WorkerApi, port: u16, pool: &str) -> Result<Arc<Egress>, String> {
        let bad = || format!("EGRESS_SUBNETS: {pool:?} is not an IPv4 network like 10.213.0.0/16 (/28 or wider)");
        let (addr, bits) = pool.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let bits: u8 = bits.parse().map_err(|_| bad())?;
        if !(8..=28).contains(&bits) {
            return Err(bad());
        }
        let mask = u32::MAX << (32 - bits);
        Ok(Arc::new(Egress {
            api,
            port,
            pool: (Ipv4Addr::from(u32::from(addr) & mask), bits),
        }))
    }

    /// The `n`th candidate /28 of the pool (wrapping): (subnet, gateway).
    pub fn subnet(&self, n: u64) -> (String, Ipv4Addr) {
        let (base, bits) = self.pool;
        let count = 1u64 << (28 - bits);
        let start = u32::from(base) + ((n % count) as u32) * 16;
        (format!("{}/28", Ipv4Addr::from(start)), Ipv4Addr::from(start + 1))
    }

    /// Installs (idempotently) the guard that admits job networks to the proxy port only:
    /// without it a container could reach every port this host listens on.
    pub async fn install_guard(&self) -> Result<(), String> {
        let port = self.port.to_string();
        let iface = format!("{BRIDGE_PREFIX}+");
        let accept = ["-p", "tcp", "--dport", port.as_str(), "-j", "ACCEPT"];
        let reject = ["-j", "REJECT"];
        let jump = ["-i", iface.as_str(), "-j", GUARD_CHAIN];
        let _ = iptables(&["-N", GUARD_CHAIN]).await; // exists already: fine
        for (chain, rule, insert) in [
            (GUARD_CHAIN, &accept[..], true),
            (GUARD_CHAIN, &reject[..], false),
            ("INPUT", &jump[..], true),
        ] {
            if iptables(&[&["-C", chain][..], rule].concat()).await.is_ok() {
                continue;
            }
            let add = if insert {
                vec!["-I", chain, "1"]
            } else {
                vec!["-A", chain]
            };
            iptables(&[&add[..], rule].concat()).await.map_err(|e| {
                format!(
                    "AGENT_EGRESS=allowlist needs iptables (root or CAP_NET_ADMIN) to keep agent containers \
                     off this host's own ports: {e}; run the host as root or set AGENT_EGRESS=open"
                )
            })?;
        }
        Ok(())
    }

    /// Serves `job`'s proxy on `listener` until the returned handle is aborted (which also
    /// ends its open tunnels).
    pub fn spawn(self: &Arc<Self>, listener: TcpListener, job: JobId, policy: &Policy) -> tokio::task::AbortHandle {
        let proxy = Arc::new(JobProxy {
            job,
            control: policy
                .control
                .iter()
                .filter_map(|(agent, host)| {
                    let target = origin(host)?;
                    // A listener on every address is reached on loopback.
                    let ip = if target.0 == "0.0.0.0" {
                        "127.0.0.1".into()
                    } else {
                        target.0
                    };
                    Some((origin(agent)?, format!("{ip}:{}", target.1)))
                })
                .collect(),
            allow: policy.allow.iter().filter_map(|a| HostPattern::parse(a).ok()).collect(),
            git: policy.git.as_deref().and_then(host_address),
            refused: Mutex::new(HashSet::new()),
        });
        let me = self.clone();
        tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let stream = match listener.accept().await {
                    Ok((s, _)) => s,
                    Err(e) => {
                        tracing::warn!(%job, error = %e, "egress proxy accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                while connections.try_join_next().is_some() {}
                let (me, proxy) = (me.clone(), proxy.clone());
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let (me, proxy) = (me.clone(), proxy.clone());
                        async move { Ok::<_, Infallible>(me.handle(&proxy, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        })
        .abort_handle()
    }

    async fn handle(self: &Arc<Self>, proxy: &Arc<JobProxy>, req: Request<Incoming>) -> Response<Body> {
        if req.method() == Method::CONNECT {
            let Some(auth) = req.uri().authority().cloned() else {
                return text(StatusCode::BAD_REQUEST, "CONNECT needs host:port");
            };
            let mut upstream = match self.open(proxy, auth.host(), auth.port_u16().unwrap_or(443)).await {
                Ok(s) => s,
                Err(refusal) => return refusal,
            };
            tokio::spawn(async move {
                if let Ok(up) = hyper::upgrade::on(req).await {
                    let _ = tokio::io::copy_bidirectional(&mut TokioIo::new(up), &mut upstream).await;
                }
            });
            return Response::new(Body::empty());
        }
        let uri = req.uri().clone();
        if uri.scheme_str().is_none() && uri.path().starts_with("/git/") {
            // The agent's git, sent here directly (origin form): on to the git proxy.
            let Some(git) = &proxy.git else {
                return text(StatusCode::NOT_FOUND, "no git proxy on this host");
            };
            return match connect(git.as_str()).await {
                Ok(upstream) => forward(req, upstream).await,
                Err(e) => text(StatusCode::BAD_GATEWAY, &format!("the git proxy: {e}")),
            };
        }
        let (Some("http"), Some(host)) = (uri.scheme_str(), uri.host()) else {
            return text(
                StatusCode::BAD_REQUEST,
                "this is a proxy: send an absolute http:// URL, or CONNECT for https",
            );
        };
        let upstream = match self.open(proxy, host, uri.port_u16().unwrap_or(80)).await {
            Ok(s) => s,
            Err(refusal) => return refusal,
        };
        forward(req, upstream).await
    }

    /// A connection to `host:port` if the job's policy allows it, else the answer to give.
    async fn open(self: &Arc<Self>, proxy: &Arc<JobProxy>, host: &str, port: u16) -> Result<TcpStream, Response<Body>> {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let unreachable = |e: std::io::Error| text(StatusCode::BAD_GATEWAY, &format!("{host}:{port}: {e}"));
        if let Some(target) = proxy.control.get(&(host.clone(), port)) {
            return connect(target.as_str()).await.map_err(unreachable);
        }
        if !proxy.allow.iter().any(|p| p.matches(&host, port)) {
            return Err(self.refuse(
                proxy,
                &host,
                port,
                "not in the project's egress allowlist (egress_allow)",
            ));
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(unreachable)?
            .collect();
        let own = own_addresses();
        if let Some(a) = addrs.iter().find(|a| local(a.ip()) || own.contains(&a.ip())) {
            let why = format!(
                "it resolves to {}, an address of this machine, loopback or link-local",
                a.ip()
            );
            return Err(self.refuse(proxy, &host, port, &why));
        }
        connect(&addrs[..]).await.map_err(unreachable)
    }

    fn refuse(self: &Arc<Self>, proxy: &Arc<JobProxy>, host: &str, port: u16, why: &str) -> Response<Body> {
        let message = format!("terarchitect egress: {host}:{port} refused: {why}");
        let first = {
            let mut seen = proxy.refused.lock().expect("refusals");
            seen.len() < MAX_LOGGED_REFUSALS && seen.insert(format!("{host}:{port}"))
        };
        if first {
            let (api, job, summary) = (self.api.clone(), proxy.job, message.clone());
            tokio::spawn(async move {
                let ev = NewJobEvent {
                    event_id: Some(uuid::Uuid::new_v4()),
                    phase: "host".into(),
                    step: "egress_refused".into(),
                    summary,
                    ..Default::default()
                };
                if let Err(e) = api.events(job, vec![ev]).await {
                    tracing::warn!(%job, error = %e, "could not log a refused connection");
                }
            });
        }
        text(StatusCode::FORBIDDEN, &message)
    }
}

async fn connect(addr: impl tokio::net::ToSocketAddrs) -> std::io::Result<TcpStream> {
    tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
}

/// Sends a plain-http proxy request on to `upstream` in origin form.
async fn forward(mut req: Request<Incoming>, upstream: TcpStream) -> Response<Body> {
    let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    *req.uri_mut() = Uri::try_from(path).unwrap_or_else(|_| Uri::from_static("/"));
    req.headers_mut().remove("proxy-authorization");
    req.headers_mut().remove("proxy-connection");
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(upstream)).await {
        Ok(x) => x,
        Err(e) => return text(StatusCode::BAD_GATEWAY, &e.to_string()),
    };
    tokio::spawn(conn);
    match sender.send_request(req).await {
        Ok(resp) => resp.map(Body::new),
        Err(e) => text(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

fn text(status: StatusCode, message: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(format!("{message}\n")));
    *r.status_mut() = status;
    r
}

/// Loopback, unspecified, link-local (where clouds serve instance metadata), multicast.
fn local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_unspecified() || v4.is_link_local() || v4.is_multicast() || v4.is_broadcast()
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => local(IpAddr::V4(v4)),
            None => {
                v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || (v6.segments()[0] & 0xffc0) == 0xfe80
            }
        },
    }
}

/// Every address of this machine's interfaces (an allowed name pointing back at this host
/// would reach its own services).
fn own_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list`, walked read-only and freed once below.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return out;
        }
        let mut cur = list;
        while !cur.is_null() {
            let addr = (*cur).ifa_addr;
            if !addr.is_null() {
                match i32::from((*addr).sa_family) {
                    libc::AF_INET => {
                        let a = &*(addr as *const libc::sockaddr_in);
                        out.push(IpAddr::from(u32::from_be(a.sin_addr.s_addr).to_be_bytes()));
                    }
                    libc::AF_INET6 => {
                        let a = &*(addr as *const libc::sockaddr_in6);
                        out.push(IpAddr::from(a.sin6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            cur = (*cur).ifa_next;
        }
        libc::freeifaddrs(list);
    }
    out
}

async fn iptables(args: &[&str]) -> Result<(), String> {
    let out = tokio::process::Command::new("iptables")
        .arg("-w")
        .args(args)
        .output()
        .await
        .map_err(|e| format!("cannot run iptables: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "iptables {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "0.0.0.0",
            "169.254.169.254",
            "::1",
            "::ffff:127.0.0.1",
            "fe80::1",
        ] {
            assert!(local(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["10.1.2.3", "151.101.0.223", "2a04:4e42::223"] {
            assert!(!local(ip.parse().unwrap()), "{ip}");
        }
        assert!(own_addresses().contains(&"127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn job_subnets_are_28s_of_the_pool() {
        let e = Egress::new(WorkerApi::new("http://127.0.0.1:1", "t"), 7312, "10.213.7.9/16").unwrap();
        assert_eq!(e.subnet(0), ("10.213.0.0/28".into(), "10.213.0.1".parse().unwrap()));
        assert_eq!(e.subnet(1), ("10.213.0.16/28".into(), "10.213.0.17".parse().unwrap()));
        assert_eq!(e.subnet(4096).0, "10.213.0.0/28", "wraps around");
        assert!(Egress::new(WorkerApi::new("http://127.0.0.1:1", "t"), 7312, "10.0.0.0/30").is_err());
    }
}
