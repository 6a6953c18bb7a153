//! Small shared pieces: a ticking clock, time formatting, error and loading views.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use std::time::Duration;
use terarchitect_protocol::prices::usd_text;
use terarchitect_protocol::{JobStatus, JobSummary, budget_left};

thread_local! {
    static NOW: std::cell::Cell<Option<RwSignal<DateTime<Utc>>>> = const { std::cell::Cell::new(None) };
}

/// Starts the one-second clock that elapsed times read.
pub fn start_clock() {
    let now = RwSignal::new(Utc::now());
    NOW.with(|c| c.set(Some(now)));
    let _ = set_interval_with_handle(move || now.set(Utc::now()), Duration::from_secs(1));
}

pub fn now() -> DateTime<Utc> {
    NOW.with(|c| c.get()).map(|s| s.get()).unwrap_or_else(Utc::now)
}

pub fn duration_text(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

pub fn time_text(t: DateTime<Utc>) -> String {
    let local = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(t.timestamp_millis() as f64));
    String::from(local.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}

pub fn short_time(t: DateTime<Utc>) -> String {
    let local = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(t.timestamp_millis() as f64));
    String::from(local.to_locale_time_string("default"))
}

/// "running 2m 03s", "queued 12s", "failed after 40s": reads the clock while active.
pub fn job_elapsed(
    status: JobStatus,
    created: DateTime<Utc>,
    started: Option<DateTime<Utc>>,
    finished: Option<DateTime<Utc>>,
) -> String {
    let from = started.unwrap_or(created);
    match (status, finished) {
        (JobStatus::Queued, _) => format!("queued {}", duration_text((now() - created).num_seconds())),
        (JobStatus::Running, _) => format!("running {}", duration_text((now() - from).num_seconds())),
        (s, Some(f)) => format!("{} after {}", s.as_str(), duration_text((f - from).num_seconds())),
        (s, None) => s.as_str().to_string(),
    }
}

/// The card's line for its latest run; "stopping…" from the moment a stop is asked until
/// the agent has stopped.
pub fn summary_elapsed(j: &JobSummary) -> String {
    if j.cancel_requested && j.status == JobStatus::Running {
        return "stopping…".into();
    }
    job_elapsed(j.status, j.created_at, j.started_at, j.finished_at)
}

pub fn tokens_text(input: i64, output: i64) -> String {
    format!("{} in / {} out tokens", thousands(input), thousands(output))
}

/// Tokens and, once the project prices its models, what they cost.
pub fn spend_text(input: i64, output: i64, nano_usd: i64) -> String {
    let tokens = tokens_text(input, output);
    if nano_usd > 0 {
        format!("{tokens} · {}", usd_text(nano_usd))
    } else {
        tokens
    }
}

/// Where spending stands against a budget in tokens and one in money.
#[derive(Debug, Clone, PartialEq)]
pub enum BudgetState {
    /// What is left of each limit: "40 of 100 tokens", "$0.93 of $1.00".
    Left(Vec<String>),
    /// The limit that is spent: "100 tokens", "$1.00".
    Spent(String),
}

/// None when there is no budget at all.
pub fn budget_state(
    tokens: i64,
    nano_usd: i64,
    limit_tokens: Option<i64>,
    limit_nano_usd: Option<i64>,
) -> Option<BudgetState> {
    if let Some(b) = limit_tokens.filter(|b| tokens >= *b) {
        return Some(BudgetState::Spent(format!("{} tokens", thousands(b))));
    }
    if let Some(b) = limit_nano_usd.filter(|b| nano_usd >= *b) {
        return Some(BudgetState::Spent(usd_text(b)));
    }
    let mut left = Vec::new();
    if let Some(b) = limit_tokens {
        left.push(format!(
            "{} of {} tokens",
            thousands(budget_left(b, tokens)),
            thousands(b)
        ));
    }
    if let Some(b) = limit_nano_usd {
        left.push(format!("{} of {}", usd_text(budget_left(b, nano_usd)), usd_text(b)));
    }
    (!left.is_empty()).then_some(BudgetState::Left(left))
}

/// A card's spending against the ticket's budgets: "60 / 100 tokens · $0.0700 / $1.00",
/// and whether a budget is spent. None without budgets.
pub fn card_budget(
    tokens: i64,
    nano_usd: i64,
    limit_tokens: Option<i64>,
    limit_nano_usd: Option<i64>,
) -> Option<(String, bool)> {
    let mut parts = Vec::new();
    if let Some(b) = limit_tokens {
        parts.push(format!("{} / {} tokens", thousands(tokens), thousands(b)));
    }
    if let Some(b) = limit_nano_usd {
        parts.push(format!("{} / {}", usd_text(nano_usd), usd_text(b)));
    }
    let spent = matches!(
        budget_state(tokens, nano_usd, limit_tokens, limit_nano_usd),
        Some(BudgetState::Spent(_))
    );
    (!parts.is_empty()).then(|| (parts.join(" · "), spent))
}

pub fn thousands(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[component]
pub fn ErrorNote(#[prop(into)] error: Signal<Option<String>>) -> impl IntoView {
    move || {
        error.get().map(|e| {
            view! {
                <p class="error" role="alert">
                    {e}
                </p>
            }
        })
    }
}

#[component]
pub fn Loading(#[prop(optional, into)] what: String) -> impl IntoView {
    view! {
        <p class="loading" aria-busy="true">
            <span class="spinner"></span>
            {if what.is_empty() { "Loading…".to_string() } else { format!("Loading {what}…") }}
        </p>
    }
}

/// Whether the tab is visible (polling pauses while it is hidden).
pub fn page_visible() -> bool {
    !document().hidden()
}

pub fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Log steps that report something going wrong ("failed", "tool_failed", "tests_failed"):
/// the log marks them.
pub fn is_failure_step(step: &str) -> bool {
    step == "failed" || step.ends_with("_failed")
}

/// `url` when it is an http(s) link, else None (the link then has no target): whatever a
/// stored URL says, the UI never links to `javascript:` or `data:`.
pub fn web_href(url: &str) -> Option<String> {
    terarchitect_protocol::validate::web_url("url", url)
        .ok()
        .map(|()| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_read_as_what_is_left_or_what_is_spent() {
        assert_eq!(budget_state(5, 0, None, None), None);
        assert_eq!(
            budget_state(60, 70_000_000, Some(100), Some(1_000_000_000)),
            Some(BudgetState::Left(vec![
                "40 of 100 tokens".into(),
                "$0.9300 of $1.00".into()
            ]))
        );
        assert_eq!(
            budget_state(120, 0, Some(100), Some(1)),
            Some(BudgetState::Spent("100 tokens".into()))
        );
        assert_eq!(
            budget_state(10, 2_000_000_000, Some(100), Some(1_000_000_000)),
            Some(BudgetState::Spent("$1.00".into()))
        );
        assert_eq!(
            card_budget(60, 70_000_000, Some(100), Some(1_000_000_000)),
            Some(("60 / 100 tokens · $0.0700 / $1.00".into(), false))
        );
        assert_eq!(
            card_budget(120, 0, Some(100), None),
            Some(("120 / 100 tokens".into(), true))
        );
        assert_eq!(card_budget(120, 0, None, None), None);
        assert_eq!(spend_text(50, 10, 0), "50 in / 10 out tokens");
        assert_eq!(spend_text(50, 10, 70_000_000), "50 in / 10 out tokens · $0.0700");
    }

    #[test]
    fn only_http_links_are_followed() {
        assert_eq!(
            web_href("https://github.com/a/b/pull/1").as_deref(),
            Some("https://github.com/a/b/pull/1")
        );
        assert_eq!(web_href("javascript:alert(1)"), None);
        assert_eq!(web_href("data:text/html,x"), None);
    }

    #[test]
    fn failure_steps_are_recognised() {
        for s in ["failed", "tool_failed", "tests_failed"] {
            assert!(is_failure_step(s), "{s}");
        }
        for s in ["tool_call", "test_run", "plan_rejected", "finished"] {
            assert!(!is_failure_step(s), "{s}");
        }
    }

    #[test]
    fn a_run_asked_to_stop_reads_stopping_until_it_has() {
        let j = JobSummary {
            id: uuid::Uuid::nil().into(),
            kind: terarchitect_protocol::JobKind::Implement,
            status: JobStatus::Running,
            created_at: chrono::DateTime::UNIX_EPOCH,
            started_at: None,
            finished_at: None,
            cancel_requested: true,
        };
        assert_eq!(summary_elapsed(&j), "stopping…");
    }

    #[test]
    fn durations_and_numbers_read_well() {
        assert_eq!(duration_text(-3), "0s");
        assert_eq!(duration_text(59), "59s");
        assert_eq!(duration_text(123), "2m 03s");
        assert_eq!(duration_text(3 * 3600 + 65), "3h 01m");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(-1000), "-1,000");
    }
}
