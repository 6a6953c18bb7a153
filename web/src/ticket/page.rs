//! The ticket page: its column (moving it from here works like a drag on the board), its
//! runs with the selected one's log, the ticket's form and its comments.

use leptos::prelude::*;
use terarchitect_protocol::*;
use terarchitect_protocol::{ColumnId, JobId, ProjectId, TicketId};

use super::comments::Comments;
use super::form::TicketForm;
use super::log::LogViewer;
use crate::api;
use crate::route::{Link, Route, Tab};
use crate::util::{self, ErrorNote, Loading};

#[component]
pub fn TicketPage(project: ProjectId, ticket: TicketId) -> impl IntoView {
    let data = RwSignal::new(None::<Ticket>);
    let graph = RwSignal::new(None::<Graph>);
    let jobs = RwSignal::new(None::<Vec<Job>>);
    let columns = RwSignal::new(Vec::<Column>::new());
    let selected = RwSignal::new(None::<JobId>);
    let error = RwSignal::new(None::<String>);
    let graph_error = RwSignal::new(None::<String>);
    // The project's token budgets (and its usage), for what is left of the ticket's.
    let usage = RwSignal::new(None::<ProjectUsage>);
    let base = format!("/api/projects/{project}/tickets/{ticket}");

    let load_ticket = {
        let base = base.clone();
        move |select: Option<JobId>| {
            let base = base.clone();
            leptos::task::spawn_local(async move {
                match api::get::<Ticket>(&base).await {
                    Ok(t) => data.set(Some(t)),
                    Err(e) => error.set(Some(format!("Could not load the ticket: {e}"))),
                }
                match api::get_all::<Job>(&format!("{base}/jobs")).await {
                    Ok(js) => {
                        let first = js.first().map(|j| j.id);
                        jobs.set(Some(js));
                        if select.is_some() {
                            selected.set(select);
                        } else if selected.get_untracked().is_none() && first.is_some() {
                            selected.set(first);
                        }
                    }
                    Err(e) => error.set(Some(format!("Could not load the runs: {e}"))),
                }
            });
        }
    };
    load_ticket(None);
    leptos::task::spawn_local(async move {
        if let Ok(u) = api::get::<ProjectUsage>(&format!("/api/projects/{project}/usage")).await {
            usage.set(Some(u));
        }
    });
    let ready = Memo::new(move |_| data.with(|d| d.is_some()) && graph.with(|g| g.is_some()));
    // Runs started elsewhere (a move on the board, a retry) show up without a reload, and
    // the ticket's totals follow its runs' (the same metered figures the run list shows).
    let poll_jobs = {
        let base = base.clone();
        move || {
            let base = base.clone();
            leptos::task::spawn_local(async move {
                if let Ok(t) = api::get::<Ticket>(&base).await
                    && data.with_untracked(|d| d.as_ref() != Some(&t))
                {
                    data.set(Some(t));
                }
                if let Ok(u) = api::get::<ProjectUsage>(&format!("/api/projects/{project}/usage")).await {
                    usage.set(Some(u));
                }
                if let Ok(js) = api::get_all::<Job>(&format!("{base}/jobs")).await {
                    let newest = js.first().map(|j| j.id);
                    let known_newest = jobs.with_untracked(|k| k.as_ref().and_then(|k| k.first().map(|j| j.id)));
                    let changed = jobs.with_untracked(|k| k.as_ref() != Some(&js));
                    if changed {
                        jobs.set(Some(js));
                    }
                    if newest != known_newest {
                        selected.set(newest);
                    }
                }
            });
        }
    };
    if let Ok(h) = set_interval_with_handle(
        move || {
            if util::page_visible() {
                poll_jobs();
            }
        },
        std::time::Duration::from_secs(5),
    ) {
        on_cleanup(move || h.clear());
    }
    leptos::task::spawn_local(async move {
        match api::get::<Graph>(&format!("/api/projects/{project}/graph")).await {
            Ok(g) => graph.set(Some(g)),
            Err(e) => graph_error.set(Some(format!(
                "Could not load the project's graph, which editing the ticket needs: {e}"
            ))),
        }
        match api::get::<Vec<Column>>(&format!("/api/projects/{project}/columns")).await {
            Ok(c) => columns.set(c),
            Err(e) => error.set(Some(format!("Could not load the board's columns: {e}"))),
        }
    });
    let reload = Callback::new({
        let l = load_ticket.clone();
        move |select: Option<JobId>| l(select)
    });
    // Moving from here works like a drag on the board: into In Progress queues a run
    // (shown at once in the log), out of it asks the running agent to stop.
    let moving = RwSignal::new(false);
    let move_note = RwSignal::new(None::<String>);
    let move_to = move |column: ColumnId| {
        if data.with_untracked(|t| t.as_ref().map(|t| t.column_id)) == Some(column) {
            return;
        }
        moving.set(true);
        move_note.set(None);
        error.set(None);
        let key = util::new_key();
        leptos::task::spawn_local(async move {
            let to = TicketMove {
                column_id: column,
                position: None,
            };
            let r = api::move_ticket(project, ticket, &to, &key).await;
            moving.set(false);
            match r {
                Ok(o) => {
                    let col = columns
                        .with_untracked(|cs| cs.iter().find(|c| c.id == column).map(|c| c.title.clone()))
                        .unwrap_or_default();
                    let status = o.job.as_ref().map(|j| j.status);
                    move_note.set(Some(match (o.cancel_requested, status) {
                        (true, Some(JobStatus::Cancelled)) => format!("Moved to {col}: its queued run was cancelled."),
                        (true, _) => format!("Moved to {col}: the running agent was asked to stop."),
                        (false, Some(JobStatus::Queued)) => format!("Moved to {col}: a run is queued."),
                        (false, Some(_)) => format!("Moved to {col}: the active run goes on."),
                        (false, None) => format!("Moved to {col}."),
                    }));
                    data.set(Some(o.ticket));
                    reload.run(o.job.map(|j| j.id));
                }
                Err(e) => {
                    // Puts the selector back on the column the ticket is still in.
                    data.update(|_| {});
                    error.set(Some(format!("Could not move the ticket: {e}")));
                }
            }
        });
    };

    view! {
        <section class="page ticket-page">
            <div class="page-head">
                <div>
                    <Link to=Route::Project(project, Tab::Board) class="crumb">
                        "← Board"
                    </Link>
                    <h1 id="ticket-title">{move || data.get().map(|t| t.title).unwrap_or_default()}</h1>
                    <p class="muted">
                        <label class="inline-field">
                            "Column "
                            <select
                                id="ticket-column"
                                disabled=move || moving.get() || data.with(|t| t.is_none())
                                on:change=move |ev| {
                                    if let Ok(id) = event_target_value(&ev).parse() {
                                        move_to(id);
                                    }
                                }
                            >
                                {move || {
                                    columns
                                        .get()
                                        .into_iter()
                                        .map(|c| {
                                            let id = c.id;
                                            view! {
                                                <option
                                                    value=id.to_string()
                                                    data-role=c.role.map(|r| r.as_str())
                                                    prop:selected=move || data.with(|t| t.as_ref().map(|t| t.column_id)) == Some(id)
                                                >
                                                    {c.title}
                                                </option>
                                            }
                                        })
                                        .collect_view()
                                }}
                            </select>
                        </label>
                        {move || {
                            data.get()
                                .map(|t| {
                                    format!(
                                        " · {} priority · {} (all runs)",
                                        t.priority.as_str(),
                                        util::spend_text(t.input_tokens, t.output_tokens, t.cost_nano_usd),
                                    )
                                })
                        }}
                        {move || {
                            let (tokens, cost) = data.with(|t| t.as_ref().map(|t| (t.input_tokens + t.output_tokens, t.cost_nano_usd)))?;
                            let u = usage.get()?;
                            let (text, class) = match util::budget_state(tokens, cost, u.ticket_budget_tokens, u.ticket_budget_nano_usd)? {
                                util::BudgetState::Spent(b) => (format!("its budget of {b} is spent"), "spent"),
                                util::BudgetState::Left(left) => (format!("{} left", left.join(" and ")), ""),
                            };
                            Some(view! { " · " <span id="ticket-budget" class=class>{text}</span> })
                        }}
                        {move || {
                            data.get()
                                .and_then(|t| t.pr_url.map(|u| (u, t.pr_number)))
                                .map(|(u, n)| {
                                    view! {
                                        " · "
                                        <a href=crate::util::web_href(&u) target="_blank" rel="noopener" class="pr-link">
                                            {n.map(|n| format!("PR #{n}")).unwrap_or_else(|| "Pull request".into())}
                                        </a>
                                    }
                                })
                        }}
                    </p>
                </div>
                {move || {
                    data.with(|t| t.as_ref().is_some_and(|t| t.pr_url.is_some()))
                        .then(|| {
                            view! {
                                <Link to=Route::Review(project, ticket) class="btn primary review-link">
                                    "Review pull request →"
                                </Link>
                            }
                        })
                }}
            </div>
            <ErrorNote error=error />
            {move || move_note.get().map(|m| view! { <p class="notice" id="move-note" role="status">{m}</p> })}
            <div class="ticket-layout">
                <div class="card">
                    <h2>"Runs"</h2>
                    {move || match jobs.get() {
                        None => view! { <Loading what="runs" /> }.into_any(),
                        Some(js) if js.is_empty() => {
                            view! {
                                <p class="empty">"No runs yet. Move the ticket to In Progress to start an agent."</p>
                            }
                                .into_any()
                        }
                        Some(js) => {
                            view! {
                                <table class="jobs">
                                    <thead>
                                        <tr>
                                            <th>"Run"</th>
                                            <th>"State"</th>
                                            <th>"Started"</th>
                                            <th>"Tokens"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {js
                                            .into_iter()
                                            .rev()
                                            .enumerate()
                                            .rev()
                                            .map(|(n, j)| {
                                                let id = j.id;
                                                let status = j.status.as_str();
                                                let j2 = j.clone();
                                                view! {
                                                    <tr
                                                        class="job-row"
                                                        class:selected=move || selected.get() == Some(id)
                                                        data-job-id=id.to_string()
                                                        on:click=move |_| selected.set(Some(id))
                                                    >
                                                        <td>
                                                            {format!("#{} {}", n + 1, j.kind.as_str())}
                                                            // A host that died mid-run makes the next one try again.
                                                            {(j.attempt > 1).then(|| view! { <div class="muted small">{format!("attempt {}", j.attempt)}</div> })}
                                                        </td>
                                                        <td>
                                                            <span class=format!("job job-{status}")>
                                                                {move || util::job_elapsed(j2.status, j2.created_at, j2.started_at, j2.finished_at)}
                                                            </span>
                                                            {j.failure_reason.clone().map(|r| view! { <div class="muted small">{r}</div> })}
                                                        </td>
                                                        <td class="small">{util::time_text(j.started_at.unwrap_or(j.created_at))}</td>
                                                        <td class="small">{util::spend_text(j.input_tokens, j.output_tokens, j.cost_nano_usd)}</td>
                                                    </tr>
                                                }
                                            })
                                            .collect_view()}
                                    </tbody>
                                </table>
                            }
                                .into_any()
                        }
                    }}
                </div>
                <div class="side-stack">
                <div class="card">
                    <h2>"Ticket"</h2>
                    // Built once both have arrived: refreshes never wipe edits in progress.
                    {move || {
                        if !ready.get() {
                            return match graph_error.get() {
                                Some(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                                None => view! { <Loading what="the ticket" /> }.into_any(),
                            };
                        }
                        match (data.get_untracked(), graph.get_untracked()) {
                            (Some(t), Some(g)) => view! { <TicketForm project=project ticket=t graph=g data=data /> }.into_any(),
                            _ => ().into_any(),
                        }
                    }}
                </div>
                <Comments project=project ticket=ticket />
                </div>
            </div>
            // The selected run's log below, across the page's width: its lines are long.
            {move || {
                let job = selected.get().and_then(|id| jobs.with_untracked(|js| js.as_ref()?.iter().find(|j| j.id == id).cloned()));
                job.map(|j| view! { <LogViewer project=project job=j on_change=reload /> })
            }}
        </section>
    }
}
