//! A run's live log: polls `events?after=N` until the run is final, grouped by phase;
//! Stop and Retry.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use terarchitect_protocol::{JobId, ProjectId};

use leptos::prelude::*;
use terarchitect_protocol::*;

use crate::api;
use crate::util::{self, ErrorNote, Loading};

/// Waits `ms` milliseconds (the poll interval of live views).
pub async fn wait_ms(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
}

/// Groups consecutive events of the same phase.
fn phases(events: &[JobEvent]) -> Vec<(String, Vec<JobEvent>)> {
    let mut out: Vec<(String, Vec<JobEvent>)> = Vec::new();
    for e in events {
        match out.last_mut() {
            Some((p, es)) if *p == e.phase => es.push(e.clone()),
            _ => out.push((e.phase.clone(), vec![e.clone()])),
        }
    }
    out
}

/// Follows a run's log: polls `events?after=N` until the run is final; Stop and Retry.
#[component]
pub(super) fn LogViewer(project: ProjectId, job: Job, on_change: Callback<Option<JobId>>) -> impl IntoView {
    let jid = job.id;
    let events = RwSignal::new(Vec::<JobEvent>::new());
    let status = RwSignal::new(job.status);
    let metered = RwSignal::new((job.input_tokens, job.output_tokens, job.cost_nano_usd));
    let loaded = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let collapsed = RwSignal::new(BTreeSet::<usize>::new());
    let raw_open = RwSignal::new(BTreeSet::<i64>::new());
    let alive = Arc::new(AtomicBool::new(true));
    {
        let alive = alive.clone();
        on_cleanup(move || alive.store(false, Ordering::Relaxed));
    }
    leptos::task::spawn_local(async move {
        let mut after = 0i64;
        let mut known = job.status;
        while alive.load(Ordering::Relaxed) {
            let path = format!("/api/projects/{project}/jobs/{jid}/events?after={after}&limit=500");
            match api::get::<EventPage>(&path).await {
                Ok(page) => {
                    if !alive.load(Ordering::Relaxed) {
                        break;
                    }
                    let full = page.events.len() >= 500;
                    if !page.events.is_empty() {
                        events.update(|es| es.extend(page.events));
                    }
                    after = page.next_after;
                    status.set(page.job_status);
                    metered.set((page.job_input_tokens, page.job_output_tokens, page.job_cost_nano_usd));
                    loaded.set(true);
                    error.set(None);
                    if page.job_status != known {
                        known = page.job_status;
                        on_change.run(None);
                    }
                    if full {
                        continue;
                    }
                    if !page.job_status.is_active() {
                        break;
                    }
                }
                Err(e) => error.set(Some(format!("Could not read the log: {e} (retrying)"))),
            }
            wait_ms(if util::page_visible() { 1500 } else { 5000 }).await;
        }
    });
    let action_error = RwSignal::new(None::<String>);
    let stopping = RwSignal::new(job.cancel_requested && job.status.is_active());
    let stop = move |_| {
        stopping.set(true);
        leptos::task::spawn_local(async move {
            match api::post::<_, Job>(
                &format!("/api/projects/{project}/jobs/{jid}/cancel"),
                &serde_json::json!({}),
            )
            .await
            {
                Ok(j) => {
                    status.set(j.status);
                    on_change.run(None);
                }
                Err(e) => {
                    stopping.set(false);
                    action_error.set(Some(format!("Could not stop the run: {e}")));
                }
            }
        });
    };
    let retry = move |_| {
        leptos::task::spawn_local(async move {
            match api::post::<_, Job>(
                &format!("/api/projects/{project}/jobs/{jid}/retry"),
                &serde_json::json!({}),
            )
            .await
            {
                Ok(j) => on_change.run(Some(j.id)),
                Err(e) => action_error.set(Some(format!("Could not retry: {e}"))),
            }
        });
    };
    // The gateway's count, as the run list and the ticket show it (not the events' own).
    let tokens = move || metered.with(|(i, o, c)| util::spend_text(*i, *o, *c));
    view! {
        <div class="log" data-job-id=jid.to_string()>
            <div class="log-head">
                <h3>"Execution log"</h3>
                <span class=move || format!("job job-{}", status.get().as_str()) id="log-status" data-job-status=move || status.get().as_str()>
                    {move || status.get().as_str()}
                </span>
                <Show when=move || status.get().is_active()>
                    <span class="live" title="Updates on its own">"● live"</span>
                </Show>
                <span class="muted small">{tokens}</span>
                <span class="spacer"></span>
                <Show when=move || status.get().is_active()>
                    <button class="btn danger" id="stop-job" on:click=stop disabled=move || stopping.get()>
                        {move || if stopping.get() { "Stopping…" } else { "Stop" }}
                    </button>
                </Show>
                <Show when=move || matches!(status.get(), JobStatus::Failed | JobStatus::Cancelled)>
                    <button class="btn" id="retry-job" on:click=retry>"Retry"</button>
                </Show>
            </div>
            <Show when=move || stopping.get() && status.get().is_active()>
                <p class="hint" id="stop-note">"Stop requested: the agent stops at its next check and the run ends as cancelled."</p>
            </Show>
            <ErrorNote error=action_error />
            <ErrorNote error=error />
            {move || {
                if !loaded.get() {
                    return view! { <Loading what="the log" /> }.into_any();
                }
                let groups = phases(&events.get());
                if groups.is_empty() {
                    return view! {
                        <p class="empty">
                            {if status.get().is_active() { "Waiting for the agent's first log entry…" } else { "This run wrote no log." }}
                        </p>
                    }
                        .into_any();
                }
                groups
                    .into_iter()
                    .enumerate()
                    .map(|(gi, (phase, es))| {
                        let n = es.len();
                        view! {
                            <details
                                class="phase"
                                prop:open=move || !collapsed.with(|c| c.contains(&gi))
                                on:toggle=move |ev| {
                                    let open = event_target::<web_sys::HtmlDetailsElement>(&ev).open();
                                    collapsed.update(|c| { if open { c.remove(&gi); } else { c.insert(gi); } });
                                }
                            >
                                <summary>
                                    <strong>{phase}</strong>
                                    <span class="muted small">{format!(" {n} step{}", if n == 1 { "" } else { "s" })}</span>
                                </summary>
                                <ol class="events">
                                    {es
                                        .into_iter()
                                        .map(|e| {
                                            let seq = e.seq;
                                            view! {
                                                <li class="event" class:failed=util::is_failure_step(&e.step) data-seq=seq>
                                                    <div class="event-head">
                                                        <span class="step">{e.step.clone()}</span>
                                                        <span class="muted small">{util::short_time(e.at)}</span>
                                                        {(e.input_tokens + e.output_tokens > 0)
                                                            .then(|| view! { <span class="muted small">{util::tokens_text(e.input_tokens, e.output_tokens)}</span> })}
                                                    </div>
                                                    <p class="summary">{e.summary.clone()}</p>
                                                    {e.raw_output.clone().map(|raw| view! {
                                                        <details
                                                            class="raw"
                                                            prop:open=move || raw_open.with(|r| r.contains(&seq))
                                                            on:toggle=move |ev| {
                                                                let open = event_target::<web_sys::HtmlDetailsElement>(&ev).open();
                                                                raw_open.update(|r| { if open { r.insert(seq); } else { r.remove(&seq); } });
                                                            }
                                                        >
                                                            <summary>"Raw output"</summary>
                                                            <pre>{raw}</pre>
                                                        </details>
                                                    })}
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ol>
                            </details>
                        }
                    })
                    .collect_view()
                    .into_any()
            }}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: i64, phase: &str) -> JobEvent {
        JobEvent {
            seq,
            at: chrono::DateTime::<chrono::Utc>::default(),
            phase: phase.into(),
            step: format!("step {seq}"),
            summary: String::new(),
            raw_output: None,
            input_tokens: 0,
            output_tokens: 0,
        }
    }

    #[test]
    fn consecutive_events_of_a_phase_form_one_group() {
        let groups = phases(&[ev(1, "plan"), ev(2, "plan"), ev(3, "execute"), ev(4, "plan")]);
        let shape: Vec<(String, usize)> = groups.iter().map(|(p, es)| (p.clone(), es.len())).collect();
        assert_eq!(shape, [("plan".into(), 2), ("execute".into(), 1), ("plan".into(), 1)]);
    }
}
