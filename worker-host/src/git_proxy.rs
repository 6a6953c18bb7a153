//! The git proxy: the only way an agent reaches its repository. The agent clones and
//! pushes `{proxy}/git/{job}` over git's smart HTTP with its job token as the password;
//! the proxy asks the API for the job's remote, GitHub token and branch (with this host's
//! token and the job token it was shown) and forwards to the remote with the GitHub
//! token, which never enters the container. A push may update only `refs/heads/ticket-{id}`:
//! anything else (another branch, a tag, a delete) is refused before the remote sees it,
//! and the refusal goes into the job's log.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use terarchitect_protocol::{GitAccess, JobId, NewJobEvent};

use crate::api::{ApiError, WorkerApi};

/// The most a push's command list may take before its pack starts.
const MAX_COMMANDS: usize = 1 << 20;
/// Request headers git's smart HTTP needs passed on.
const PASSED: [header::HeaderName; 3] = [header::CONTENT_TYPE, header::ACCEPT, header::CONTENT_ENCODING];

pub struct GitProxy {
    api: WorkerApi,
    http: reqwest::Client,
    /// Hosts of plain-http remotes that may still get the token (test stand-ins).
    plain_http_hosts: Vec<String>,
}

impl GitProxy {
    pub fn new(api: WorkerApi, plain_http_hosts: Vec<String>) -> Arc<GitProxy> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // The token goes to the remote it is for, never where a redirect points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("reqwest client");
        Arc::new(GitProxy {
            api,
            http,
            plain_http_hosts,
        })
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/git/{job}/{*rest}", axum::routing::any(handle))
            .with_state(self)
    }

    /// Serves on `listener` until the process ends.
    pub async fn serve(self: Arc<Self>, listener: tokio::net::TcpListener) {
        if let Err(e) = axum::serve(listener, self.router()).await {
            tracing::error!(error = %e, "the git proxy stopped");
        }
    }

    /// The job's access when `job_token` is its agent's, asked of the API for every
    /// request (a clone or push is two or three): nothing is kept, so access ends the
    /// moment the job is cancelled or over.
    async fn access(&self, job: JobId, job_token: &str) -> Result<GitAccess, Refusal> {
        self.api.git_access(job, job_token).await.map_err(|e| match e {
            ApiError::Conflict(_) | ApiError::NotFound => {
                Refusal::Forbidden("not a running job of this host, or not its job token".into())
            }
            other => Refusal::Unavailable(other.to_string()),
        })
    }

    /// Whether the token may travel to `remote`: https, or a listed plain-http host.
    fn token_for<'a>(&self, access: &'a GitAccess) -> Option<&'a str> {
        let url = reqwest::Url::parse(&access.remote).ok()?;
        let host = url.host_str().unwrap_or_default();
        let allowed = url.scheme() == "https" || self.plain_http_hosts.iter().any(|h| h == host);
        access.token.as_deref().filter(|_| allowed)
    }

    async fn refused_push(&self, job: JobId, why: &str) {
        let ev = NewJobEvent {
            event_id: Some(uuid::Uuid::new_v4()),
            phase: "host".into(),
            step: "git_refused".into(),
            summary: format!("the git proxy refused a push: {why}"),
            ..Default::default()
        };
        if let Err(e) = self.api.events(job, vec![ev]).await {
            tracing::warn!(%job, error = %e, "could not log a refused push");
        }
    }
}

enum Refusal {
    Unauthorized,
    Forbidden(String),
    NotFound,
    Unavailable(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"terarchitect\"")],
                "the job token is needed (as the password)\n",
            )
                .into_response(),
            Refusal::Forbidden(why) => (StatusCode::FORBIDDEN, format!("{why}\n")).into_response(),
            Refusal::NotFound => (StatusCode::NOT_FOUND, "not a git smart-HTTP path\n").into_response(),
            Refusal::Unavailable(why) => (StatusCode::BAD_GATEWAY, format!("{why}\n")).into_response(),
        }
    }
}

/// The password of basic auth (git sends the job token so).
fn password(headers: &HeaderMap) -> Option<String> {
    use base64::Engine;
    let v = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(v.trim()).ok()?;
    let pair = String::from_utf8(raw).ok()?;
    pair.split_once(':')
        .map(|(_, p)| p.to_string())
        .filter(|p| !p.is_empty())
}

async fn handle(
    State(proxy): State<Arc<GitProxy>>,
    Path((job, rest)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match forward(&proxy, &job, &rest, query, method, headers, body).await {
        Ok(r) => r,
        Err(refusal) => refusal.into_response(),
    }
}

async fn forward(
    proxy: &GitProxy,
    job: &str,
    rest: &str,
    query: Option<String>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let job: JobId = job.trim_end_matches(".git").parse().map_err(|_| Refusal::NotFound)?;
    let service = match (&method, rest, query.as_deref()) {
        (&Method::GET, "info/refs", Some("service=git-upload-pack")) => "git-upload-pack",
        (&Method::GET, "info/refs", Some("service=git-receive-pack")) => "git-receive-pack",
        (&Method::POST, "git-upload-pack", _) => "git-upload-pack",
        (&Method::POST, "git-receive-pack", _) => "git-receive-pack",
        _ => return Err(Refusal::NotFound),
    };
    let job_token = password(&headers).ok_or(Refusal::Unauthorized)?;
    let access = proxy.access(job, &job_token).await?;
    let url = match &query {
        Some(q) => format!("{}/{rest}?{q}", access.remote.trim_end_matches('/')),
        None => format!("{}/{rest}", access.remote.trim_end_matches('/')),
    };
    if !url.starts_with("https://") && !url.starts_with("http://") {
        return Err(Refusal::Forbidden(format!(
            "the git proxy reaches http(s) remotes only, and the project's is {}",
            access.remote
        )));
    }
    let mut req = proxy.http.request(method.clone(), &url);
    for name in PASSED {
        if let Some(v) = headers.get(&name) {
            req = req.header(name, v);
        }
    }
    if let Some(token) = proxy.token_for(&access) {
        req = req.basic_auth("x-access-token", Some(token));
    }
    if method == Method::POST {
        let mut stream = body.into_data_stream();
        let upstream_body = if service == "git-receive-pack" {
            if headers.get(header::CONTENT_ENCODING).is_some() {
                return Err(Refusal::Forbidden("a compressed push cannot be checked".into()));
            }
            // Read up to the end of the command list, check every ref it updates, then send
            // what was read followed by the rest (the pack) as it comes.
            let mut head = Vec::new();
            let commands = loop {
                if let Some(commands) = push_commands(&head).map_err(Refusal::Forbidden)? {
                    break commands;
                }
                match stream.next().await {
                    Some(Ok(chunk)) if head.len() + chunk.len() <= MAX_COMMANDS => head.extend_from_slice(&chunk),
                    Some(Ok(_)) => return Err(Refusal::Forbidden("the push's command list is too long".into())),
                    Some(Err(e)) => return Err(Refusal::Unavailable(format!("reading the push: {e}"))),
                    None => return Err(Refusal::Forbidden("the push ended before its commands did".into())),
                }
            };
            let want = format!("refs/heads/{}", access.branch);
            if let Some(why) = commands.iter().find_map(|c| c.refusal(&want)) {
                tracing::warn!(%job, why, "push refused");
                proxy.refused_push(job, &why).await;
                return Err(Refusal::Forbidden(format!("Terarchitect refused the push: {why}")));
            }
            let first = futures_util::stream::once(async move { Ok::<_, axum::Error>(bytes_of(head)) });
            reqwest::Body::wrap_stream(first.chain(stream))
        } else {
            reqwest::Body::wrap_stream(stream)
        };
        req = req.body(upstream_body);
    }
    let res = req
        .send()
        .await
        .map_err(|e| Refusal::Unavailable(format!("the repository could not be reached: {e}")))?;
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut out = Response::builder().status(status);
    for name in [header::CONTENT_TYPE, header::CACHE_CONTROL] {
        if let Some(v) = res
            .headers()
            .get(name.as_str())
            .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
        {
            out = out.header(name, v);
        }
    }
    out.body(Body::from_stream(res.bytes_stream()))
        .map_err(|e| Refusal::Unavailable(e.to_string()))
}

fn bytes_of(v: Vec<u8>) -> axum::body::Bytes {
    axum::body::Bytes::from(v)
}

/// One ref update of a push: `old new ref`.
#[derive(Debug, PartialEq)]
struct Command {
    new: String,
    refname: String,
}

impl Command {
    /// Why the update may not go through when only `allowed` may be pushed.
    fn refusal(&self, allowed: &str) -> Option<String> {
        if self.refname != allowed {
            return Some(format!("{} may not be pushed, only {allowed}", self.refname));
        }
        if self.new.bytes().all(|b| b == b'0') {
            return Some(format!("{} may not be deleted", self.refname));
        }
        None
    }
}

/// The commands of a receive-pack request (pkt-lines up to the flush packet), once `buf`
/// holds all of them; None while more is needed; Err for what is not a push.
fn push_commands(buf: &[u8]) -> Result<Option<Vec<Command>>, String> {
    let mut at = 0;
    let mut commands = Vec::new();
    loop {
        let Some(len) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        let len = std::str::from_utf8(len)
            .ok()
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .ok_or("the push is not in git's pkt-line format")?;
        if len == 0 {
            return if commands.is_empty() {
                Err("the push names no ref".into())
            } else {
                Ok(Some(commands))
            };
        }
        if len < 4 {
            return Err("the push is not in git's pkt-line format".into());
        }
        let Some(line) = buf.get(at + 4..at + len) else {
            return Ok(None);
        };
        at += len;
        // The first command carries the capabilities after a NUL.
        let line = line.split(|b| *b == 0).next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\n');
        if line.starts_with("shallow ") || line.starts_with("push-cert") {
            return Err("signed and shallow pushes are not supported".into());
        }
        let mut parts = line.split(' ');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(_old), Some(new), Some(refname), None) => commands.push(Command {
                new: new.to_string(),
                refname: refname.to_string(),
            }),
            _ => return Err(format!("not a ref update: {line:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(s: &str) -> Vec<u8> {
        format!("{:04x}{s}", s.len() + 4).into_bytes()
    }

    #[test]
    fn a_push_is_read_up_to_its_flush_packet_and_each_ref_checked() {
        let old = "0".repeat(40);
        let new = "a".repeat(40);
        let mut buf = pkt(&format!(
            "{old} {new} refs/heads/ticket-1\0report-status side-band-64k\n"
        ));
        assert_eq!(push_commands(&buf), Ok(None), "more to come");
        buf.extend(pkt(&format!("{new} {new} refs/heads/main\n")));
        buf.extend(b"0000PACK....");
        let cmds = push_commands(&buf).unwrap().unwrap();
        assert_eq!(cmds.len(), 2);
        let allowed = "refs/heads/ticket-1";
        assert_eq!(cmds[0].refusal(allowed), None);
        assert!(
            cmds[1]
                .refusal(allowed)
                .unwrap()
                .contains("refs/heads/main may not be pushed")
        );
        let delete = Command {
            new: old.clone(),
            refname: allowed.into(),
        };
        assert!(delete.refusal(allowed).unwrap().contains("may not be deleted"));
        for bad in [&b"zzzz"[..], b"0000", b"0003x"] {
            assert!(push_commands(bad).is_err(), "{bad:?}");
        }
        // Split anywhere, the answer is the same once it is all there.
        for cut in 0..buf.len() {
            let partial = push_commands(&buf[..cut]).unwrap();
            assert!(partial.is_none() || partial.unwrap().len() == 2);
        }
    }
}
