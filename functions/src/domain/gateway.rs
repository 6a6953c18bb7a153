//! The LLM gateway: an agent calls its LLM here with its job token; the gateway adds the
//! project's key for the role, forwards to the configured upstream (through
//! [`App::outbound`](super::App)) and meters the call from the upstream's own `usage`
//! fields, never from the agent's report. OpenAI chat completions and Anthropic messages,
//! streaming (SSE, passed through chunk by chunk) and not. An upstream error passes on
//! with its status, as JSON.

use std::time::Duration;

use axum::body::{Body, Bytes};
use serde_json::{Value, json};
use terarchitect_protocol::Job;
use terarchitect_protocol::prices::{PriceTable, usd_text};

use super::App;
use crate::store::usage::NewUsage;
use crate::{Error, Result, store};

/// Whose LLM a call is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Director,
    Worker,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "director" => Some(Role::Director),
            "worker" => Some(Role::Worker),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Director => "director",
            Role::Worker => "worker",
        }
    }
}

/// Which wire format a call speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `POST {base}/chat/completions`.
    OpenAi,
    /// `POST {base}/v1/messages`.
    Anthropic,
}

impl Api {
    fn as_str(self) -> &'static str {
        match self {
            Api::OpenAi => "openai",
            Api::Anthropic => "anthropic",
        }
    }
}

/// The longest a call may take: a Lambda function's limit, and far beyond a sane answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The largest non-streamed reply passed on: held in memory, and it must fit in a
/// Lambda response (6 MB).
pub const MAX_REPLY: usize = super::memory::FORWARD_MAX_BODY;

/// Request headers an agent may send that are passed on (Anthropic's API version and
/// beta features); everything else, its Authorization above all, stays here.
pub const PASSED_HEADERS: [&str; 2] = ["anthropic-version", "anthropic-beta"];

/// The upstream's answer, to send back as is.
pub struct Forwarded {
    pub status: u16,
    pub content_type: String,
    pub body: Body,
}

/// One call for `job` to `role`'s LLM. `headers` are the agent's [`PASSED_HEADERS`].
pub async fn call(
    app: &App,
    job: &Job,
    role: Role,
    api: Api,
    mut body: Value,
    headers: Vec<(&'static str, String)>,
) -> Result<Forwarded> {
    if job.cancel_requested {
        return Err(Error::Forbidden(
            "this job is being cancelled: it may make no more LLM calls",
        ));
    }
    if !body.is_object() {
        return Err(Error::invalid("body", "must be a JSON object"));
    }

    let streamed = body["stream"] == true;
    // OpenAI sends usage in a streamed reply only when asked (a last chunk, no choices).
    if api == Api::OpenAi && streamed {
        body["stream_options"] = json!({"include_usage": true});
    }
    let (endpoint, budget) = super::settings::llm_endpoint(app, job.project_id, role, api).await?;
    check_budget(app, job, &budget).await?;
    let base = endpoint.url.trim_end_matches('/');
    let url = match api {
        Api::OpenAi => format!("{base}/chat/completions"),
        Api::Anthropic => format!("{base}/v1/messages"),
    };
    let http = app.outbound.client_for(&url).await?;
    let mut req = http.post(&url).json(&body).timeout(CALL_TIMEOUT);
    req = match (api, &endpoint.key) {
        (Api::OpenAi, Some(k)) => req.bearer_auth(k),
        (Api::Anthropic, Some(k)) => req.header("x-api-key", k),
        (_, None) => req,
    };
    if api == Api::Anthropic && !headers.iter().any(|(k, _)| *k == "anthropic-version") {
        req = req.header("anthropic-version", "2023-06-01");
    }
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let res = req.send().await.map_err(|e| unreachable(role, &e))?;
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if !res.status().is_success() {
        // Nothing was generated: nothing to meter. The error passes on as JSON.
        let bytes = read_capped(res, MAX_REPLY, role).await?;
        return Ok(Forwarded {
            status: pass_status(status),
            content_type: "application/json".into(),
            body: Body::from(error_json(status, &bytes)),
        });
    }
    let mut metering = Metering {
        app: app.clone(),
        usage: NewUsage {
            job_id: job.id,
            project_id: job.project_id,
            ticket_id: job.ticket_id,
            role: role.as_str(),
            api: api.as_str(),
            model: body["model"].as_str().map(|m| m.chars().take(200).collect()),
            status,
            streamed,
            input_tokens: 0,
            output_tokens: 0,
            cost_nano_usd: 0,
        },
        meter: Meter::default(),
        prices: budget.prices,
        done: false,
    };
    if content_type.starts_with("text/event-stream") {
        return Ok(Forwarded {
            status,
            content_type,
            body: Body::from_stream(stream(res, metering)),
        });
    }
    let bytes = read_capped(res, MAX_REPLY, role).await?;
    if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
        metering.meter.observe(&v);
    }
    metering.record().await;
    Ok(Forwarded {
        status,
        content_type: if content_type.is_empty() {
            "application/json".into()
        } else {
            content_type
        },
        body: Body::from(bytes),
    })
}

/// Refuses a call once the ticket's or the project's budget, in tokens or in money, is
/// spent (as metered so far: calls running at once can each pass and overshoot it by
/// their own size). A budget changed during a run applies from its next call.
async fn check_budget(app: &App, job: &Job, budget: &super::settings::Budget) -> Result<()> {
    let limits = [
        ("ticket", budget.ticket_tokens, budget.ticket_nano_usd),
        ("project", budget.project_tokens, budget.project_nano_usd),
    ];
    for (whose, tokens, nano_usd) in limits {
        if tokens.is_none() && nano_usd.is_none() {
            continue;
        }
        let used = if whose == "ticket" {
            store::usage::ticket_totals(&app.db, job.ticket_id).await?
        } else {
            store::usage::project_totals(&app.db, job.project_id).await?
        };
        if let Some(limit) = tokens.filter(|l| used.tokens() >= *l) {
            return Err(Error::BudgetExhausted(format!(
                "the {whose}'s budget of {limit} tokens is spent ({} used); raise {whose}_budget_tokens to go on",
                used.tokens()
            )));
        }
        if let Some(limit) = nano_usd.filter(|l| used.cost_nano_usd >= *l) {
            return Err(Error::BudgetExhausted(format!(
                "the {whose}'s budget of {} is spent ({} used); raise {whose}_budget_usd to go on",
                usd_text(limit),
                usd_text(used.cost_nano_usd)
            )));
        }
    }
    Ok(())
}

/// A project's metered LLM usage: every gateway call of every job, summed.
pub async fn project_usage(app: &App, project_id: terarchitect_protocol::ProjectId) -> Result<store::usage::Totals> {
    store::projects::get(&app.db, project_id).await?;
    store::usage::project_totals(&app.db, project_id).await
}

fn unreachable(role: Role, e: &reqwest::Error) -> Error {
    if let Some(refused) = super::outbound::find_refusal(e) {
        return Error::Outbound(refused.clone());
    }
    let what = if e.is_timeout() {
        "timed out"
    } else {
        "could not be reached"
    };
    Error::UpstreamUnavailable(format!("the {} LLM {what}", role.as_str()))
}

/// A status worth passing on: an error status (a redirect, never followed, becomes 502).
fn pass_status(status: u16) -> u16 {
    if (400..600).contains(&status) { status } else { 502 }
}

/// The upstream's error body when it is JSON; otherwise its text in our error shape.
fn error_json(status: u16, bytes: &[u8]) -> Bytes {
    if serde_json::from_slice::<Value>(bytes).is_ok_and(|v| v.is_object()) {
        return Bytes::copy_from_slice(bytes);
    }
    let text: String = String::from_utf8_lossy(bytes).chars().take(2000).collect();
    let body =
        json!({"error": {"code": "upstream_error", "message": format!("the LLM answered HTTP {status}: {text}")}});
    Bytes::from(body.to_string())
}

/// The whole body, or an error past `max` bytes (nothing of it is passed on).
async fn read_capped(mut res: reqwest::Response, max: usize, role: Role) -> Result<Bytes> {
    let mut out = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| unreachable(role, &e))? {
        if out.len() + chunk.len() > max {
            return Err(Error::UpstreamTooLarge(format!(
                "the {} LLM answered with more than {max} bytes, more than this API passes on",
                role.as_str()
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.into())
}

/// Passes the upstream's SSE chunks on as they come, watching them for usage; the call
/// is recorded when the upstream ends, before the agent sees the end of the stream.
fn stream(
    res: reqwest::Response,
    metering: Metering,
) -> impl futures_util::Stream<Item = std::result::Result<Bytes, reqwest::Error>> + Send {
    let state = (res, metering, SseLines::default());
    futures_util::stream::unfold(Some(state), |state| async move {
        let (mut res, mut metering, mut lines) = state?;
        match res.chunk().await {
            Ok(Some(chunk)) => {
                for event in lines.push(&chunk) {
                    metering.meter.observe(&event);
                }
                Some((Ok(chunk), Some((res, metering, lines))))
            }
            Ok(None) => {
                metering.record().await;
                None
            }
            // What was seen so far is recorded when `metering` drops.
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// A call's usage, recorded once: at the end of the reply, or (the agent went away, the
/// upstream broke off) with what had been seen when it is dropped.
struct Metering {
    app: App,
    usage: NewUsage,
    meter: Meter,
    /// The project's prices when the call was made.
    prices: PriceTable,
    done: bool,
}

impl Metering {
    fn take(&mut self) -> Option<(App, NewUsage)> {
        if std::mem::replace(&mut self.done, true) {
            return None;
        }
        let mut u = self.usage.clone();
        (u.input_tokens, u.output_tokens) = (self.meter.input, self.meter.output);
        u.cost_nano_usd = self
            .prices
            .cost_nano_usd(u.model.as_deref(), u.input_tokens, u.output_tokens);
        Some((self.app.clone(), u))
    }

    async fn record(&mut self) {
        if let Some((app, u)) = self.take() {
            save(app, u).await;
        }
    }
}

impl Drop for Metering {
    fn drop(&mut self) {
        if let Some((app, u)) = self.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(save(app, u));
        }
    }
}

/// The answer has been paid for whatever happens here: a failure is logged, not
/// returned (the agent would retry and pay again).
async fn save(app: App, u: NewUsage) {
    let r = async {
        let mut tx = app.db.begin().await?;
        store::usage::record(&mut tx, &u).await?;
        tx.commit().await?;
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = r {
        tracing::error!(error = %e, job_id = %u.job_id, input = u.input_tokens, output = u.output_tokens, "LLM usage could not be recorded");
    }
}

/// Usage as the upstream reports it: the last value of each field wins (OpenAI sends it
/// once, in the body or the last streamed chunk; Anthropic sends input in `message_start`
/// and a running output count in each `message_delta`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Meter {
    pub input: i64,
    pub output: i64,
}

impl Meter {
    pub fn observe(&mut self, v: &Value) {
        for usage in [&v["usage"], &v["message"]["usage"]] {
            let n = |k: &str| usage[k].as_i64().filter(|n| *n >= 0);
            // OpenAI.
            if let Some(i) = n("prompt_tokens") {
                self.input = i;
            }
            if let Some(o) = n("completion_tokens") {
                self.output = o;
            }
            // Anthropic: cached input is billed input too, reported apart.
            if let Some(i) = n("input_tokens") {
                self.input =
                    i + n("cache_creation_input_tokens").unwrap_or(0) + n("cache_read_input_tokens").unwrap_or(0);
            }
            if let Some(o) = n("output_tokens") {
                self.output = o;
            }
        }
    }
}

/// The `data:` lines of an SSE stream as JSON, however the stream is cut into chunks.
#[derive(Default)]
struct SseLines {
    partial: Vec<u8>,
}

/// A line longer than this is not usage (which is short): dropped unread.
const MAX_LINE: usize = 1 << 20;

impl SseLines {
    fn push(&mut self, chunk: &[u8]) -> Vec<Value> {
        let mut out = Vec::new();
        let mut rest = chunk;
        while let Some(i) = rest.iter().position(|b| *b == b'\n') {
            self.partial.extend_from_slice(&rest[..i]);
            rest = &rest[i + 1..];
            let line = std::mem::take(&mut self.partial);
            if let Some(data) = line.strip_prefix(b"data:")
                && let Ok(v) = serde_json::from_slice::<Value>(data.trim_ascii())
            {
                out.push(v);
            }
        }
        if self.partial.len() + rest.len() <= MAX_LINE {
            self.partial.extend_from_slice(rest);
        } else {
            self.partial.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_and_anthropic_usage_is_read_from_bodies_and_events() {
        let mut m = Meter::default();
        m.observe(&json!({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 3}}));
        assert_eq!(m, Meter { input: 12, output: 3 });
        let mut a = Meter::default();
        a.observe(&json!({"type": "message_start", "message": {"usage": {"input_tokens": 20, "cache_read_input_tokens": 5, "output_tokens": 1}}}));
        a.observe(&json!({"type": "content_block_delta", "delta": {"text": "hi"}}));
        a.observe(&json!({"type": "message_delta", "usage": {"output_tokens": 9}}));
        assert_eq!(a, Meter { input: 25, output: 9 });
        let mut none = Meter::default();
        none.observe(&json!({"usage": null, "choices": [{"delta": {"content": "x"}}]}));
        assert_eq!(none, Meter::default());
    }

    #[test]
    fn sse_lines_survive_any_chunking() {
        let text = "event: message_delta\ndata: {\"usage\": {\"output_tokens\": 7}}\n\ndata: [DONE]\n\n";
        for cut in 0..text.len() {
            let mut l = SseLines::default();
            let mut got = l.push(&text.as_bytes()[..cut]);
            got.extend(l.push(&text.as_bytes()[cut..]));
            assert_eq!(got, vec![json!({"usage": {"output_tokens": 7}})], "cut at {cut}");
        }
    }

    #[test]
    fn a_non_json_upstream_error_is_wrapped_and_a_redirect_is_502() {
        let v: Value = serde_json::from_slice(&error_json(500, b"oops")).unwrap();
        assert_eq!(v["error"]["code"], "upstream_error");
        assert_eq!(
            &error_json(429, br#"{"error":{"type":"rate"}}"#)[..],
            br#"{"error":{"type":"rate"}}"#
        );
        assert_eq!((pass_status(302), pass_status(429), pass_status(500)), (502, 429, 500));
    }
}
