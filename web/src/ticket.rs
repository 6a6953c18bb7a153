//! A ticket: edit it, see its runs, and follow the current run's log live.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use leptos::prelude::*;
use terarchitect_protocol::*;
use uuid::Uuid;

use crate::api;
use crate::route::{Link, Route, Tab, navigate};
use crate::util::{self, ErrorNote, Loading};

/// Waits `ms` milliseconds (the poll interval of live views).
pub async fn wait_ms(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
}

#[component]
pub fn TicketPage(project: Uuid, ticket: Uuid) -> impl IntoView {
    let data = RwSignal::new(None::<Ticket>);
    let graph = RwSignal::new(None::<Graph>);
    let jobs = RwSignal::new(None::<Vec<Job>>);
    let columns = RwSignal::new(Vec::<Column>::new());
    let selected = RwSignal::new(None::<Uuid>);
    let error = RwSignal::new(None::<String>);
    let graph_error = RwSignal::new(None::<String>);
    let base = format!("/api/projects/{project}/tickets/{ticket}");

    let load_ticket = {
        let base = base.clone();
        move |select: Option<Uuid>| {
            let base = base.clone();
            leptos::task::spawn_local(async move {
                match api::get::<Ticket>(&base).await {
                    Ok(t) => data.set(Some(t)),
                    Err(e) => error.set(Some(format!("Could not load the ticket: {e}"))),
                }
                match api::get::<Vec<Job>>(&format!("{base}/jobs")).await {
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
    let ready = Memo::new(move |_| data.with(|d| d.is_some()) && graph.with(|g| g.is_some()));
    // Runs started elsewhere (a move on the board, a retry) show up without a reload.
    let poll_jobs = {
        let base = base.clone();
        move || {
            let base = base.clone();
            leptos::task::spawn_local(async move {
                if let Ok(js) = api::get::<Vec<Job>>(&format!("{base}/jobs")).await {
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
        move |select: Option<Uuid>| l(select)
    });
    // Moving from here works like a drag on the board: into In Progress queues a run
    // (shown at once in the log), out of it asks the running agent to stop.
    let moving = RwSignal::new(false);
    let move_note = RwSignal::new(None::<String>);
    let move_to = move |column: Uuid| {
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
                                        util::tokens_text(t.input_tokens, t.output_tokens),
                                    )
                                })
                        }}
                        {move || {
                            data.get()
                                .and_then(|t| t.pr_url.map(|u| (u, t.pr_number)))
                                .map(|(u, n)| {
                                    view! {
                                        " · "
                                        <a href=u.clone() target="_blank" rel="noopener" class="pr-link">
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
                                                        <td class="small">{util::tokens_text(j.input_tokens, j.output_tokens)}</td>
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
                    {move || {
                        let job = selected.get().and_then(|id| jobs.with_untracked(|js| js.as_ref()?.iter().find(|j| j.id == id).cloned()));
                        job.map(|j| view! { <LogViewer project=project job=j on_change=reload /> })
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
        </section>
    }
}

#[component]
fn TicketForm(project: Uuid, ticket: Ticket, graph: Graph, data: RwSignal<Option<Ticket>>) -> impl IntoView {
    let tid = ticket.id;
    let title = RwSignal::new(ticket.title.clone());
    let description = RwSignal::new(ticket.description.clone());
    let priority = RwSignal::new(ticket.priority);
    let whole = RwSignal::new(ticket.whole_graph);
    let nodes = RwSignal::new(ticket.node_ids.iter().copied().collect::<BTreeSet<Uuid>>());
    let edges = RwSignal::new(ticket.edge_ids.iter().copied().collect::<BTreeSet<Uuid>>());
    let error = RwSignal::new(None::<api::ApiError>);
    let status = RwSignal::new(None::<String>);
    let confirm_delete = RwSignal::new(false);
    let patch = move || TicketPatch {
        title: Some(title.get()),
        description: Some(description.get()),
        priority: Some(priority.get()),
        whole_graph: Some(whole.get()),
        node_ids: Some(nodes.get().into_iter().collect()),
        edge_ids: Some(edges.get().into_iter().collect()),
    };
    let local_error = move |f: &'static str| {
        move || {
            patch()
                .validate()
                .err()
                .filter(|e| e.field == f)
                .map(|e| e.message)
                .or_else(|| error.with(|e| e.as_ref().and_then(|e| e.for_field(f))))
                .map(|m| view! { <span class="field-error">{m}</span> })
        }
    };
    let save = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let p = patch();
        if p.validate().is_err() {
            return;
        }
        status.set(Some("Saving…".into()));
        error.set(None);
        leptos::task::spawn_local(async move {
            match api::patch::<_, Ticket>(&format!("/api/projects/{project}/tickets/{tid}"), &p).await {
                Ok(t) => {
                    data.set(Some(t));
                    status.set(Some("Saved".into()));
                }
                Err(e) => {
                    status.set(None);
                    error.set(Some(e));
                }
            }
        });
    };
    let delete = move |_| {
        if !confirm_delete.get_untracked() {
            confirm_delete.set(true);
            return;
        }
        leptos::task::spawn_local(async move {
            match api::delete(&format!("/api/projects/{project}/tickets/{tid}")).await {
                Ok(()) => navigate(Route::Project(project, Tab::Board)),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let label_of = {
        let g = graph.clone();
        move |id: Uuid| {
            g.nodes
                .iter()
                .find(|n| n.id == id)
                .map(|n| n.label.clone())
                .unwrap_or_else(|| "?".into())
        }
    };
    view! {
        <form class="form ticket-form" on:submit=save novalidate>
            <label>
                "Title"
                <input name="title" prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev)) />
                {local_error("title")}
            </label>
            <label>
                "Description"
                <textarea
                    name="description"
                    rows="6"
                    prop:value=move || description.get()
                    on:input=move |ev| description.set(event_target_value(&ev))
                ></textarea>
                {local_error("description")}
            </label>
            <label>
                "Priority"
                <select name="priority" on:change=move |ev| priority.set(Priority::parse(&event_target_value(&ev)).unwrap_or_default())>
                    {[Priority::Low, Priority::Medium, Priority::High, Priority::Critical]
                        .into_iter()
                        .map(|p| view! { <option value=p.as_str() selected=move || priority.get() == p>{p.as_str()}</option> })
                        .collect_view()}
                </select>
            </label>
            <fieldset class="attach">
                <legend>"Architecture context"</legend>
                <label class="check">
                    <input type="checkbox" name="whole_graph" prop:checked=move || whole.get() on:change=move |ev| whole.set(event_target_checked(&ev)) />
                    "All nodes and edges (the whole graph)"
                </label>
                <div class="attach-lists" class:disabled=move || whole.get()>
                    <div>
                        <h3>"Components"</h3>
                        {graph
                            .nodes
                            .iter()
                            .map(|n| {
                                let id = n.id;
                                view! {
                                    <label class="check">
                                        <input
                                            type="checkbox"
                                            name="node"
                                            value=id.to_string()
                                            prop:checked=move || nodes.with(|s| s.contains(&id))
                                            on:change=move |ev| {
                                                let on = event_target_checked(&ev);
                                                nodes.update(|s| { if on { s.insert(id); } else { s.remove(&id); } });
                                            }
                                        />
                                        {n.label.clone()}
                                    </label>
                                }
                            })
                            .collect_view()}
                        {graph.nodes.is_empty().then(|| view! { <p class="hint">"No components in the graph yet."</p> })}
                    </div>
                    <div>
                        <h3>"Connections"</h3>
                        {graph
                            .edges
                            .iter()
                            .map(|e| {
                                let id = e.id;
                                let text = format!(
                                    "{} → {}{}",
                                    label_of(e.source),
                                    label_of(e.target),
                                    if e.label.is_empty() { String::new() } else { format!(" ({})", e.label) },
                                );
                                view! {
                                    <label class="check">
                                        <input
                                            type="checkbox"
                                            name="edge"
                                            value=id.to_string()
                                            prop:checked=move || edges.with(|s| s.contains(&id))
                                            on:change=move |ev| {
                                                let on = event_target_checked(&ev);
                                                edges.update(|s| { if on { s.insert(id); } else { s.remove(&id); } });
                                            }
                                        />
                                        {text}
                                    </label>
                                }
                            })
                            .collect_view()}
                        {graph.edges.is_empty().then(|| view! { <p class="hint">"No connections yet."</p> })}
                    </div>
                </div>
            </fieldset>
            {move || error.get().filter(|e| e.field.is_none()).map(|e| view! { <p class="error">{e.to_string()}</p> })}
            <div class="row">
                <button class="btn primary" type="submit" id="save-ticket">"Save ticket"</button>
                <span class="save-state">{move || status.get()}</span>
                <span class="spacer"></span>
                <button class="btn danger" type="button" on:click=delete>
                    {move || if confirm_delete.get() { "Really delete?" } else { "Delete ticket" }}
                </button>
            </div>
        </form>
    }
}

/// The ticket's comments (the agent reads them with the ticket); add one.
#[component]
fn Comments(project: Uuid, ticket: Uuid) -> impl IntoView {
    let path = format!("/api/projects/{project}/tickets/{ticket}/comments");
    let comments = RwSignal::new(None::<Vec<TicketComment>>);
    let load_error = RwSignal::new(None::<String>);
    let body = RwSignal::new(String::new());
    let error = RwSignal::new(None::<api::ApiError>);
    let posting = RwSignal::new(false);
    {
        let path = path.clone();
        leptos::task::spawn_local(async move {
            match api::get::<Vec<TicketComment>>(&path).await {
                Ok(c) => comments.set(Some(c)),
                Err(e) => load_error.set(Some(format!("Could not load the comments: {e}"))),
            }
        });
    }
    let add = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let c = NewComment {
            body: body.get_untracked(),
        };
        if let Err(e) = c.validate() {
            error.set(Some(api::ApiError::local(&e.field, &e.message)));
            return;
        }
        error.set(None);
        posting.set(true);
        let path = path.clone();
        leptos::task::spawn_local(async move {
            match api::post::<_, TicketComment>(&path, &c).await {
                Ok(c) => {
                    body.set(String::new());
                    comments.update(|cs| cs.get_or_insert_with(Vec::new).push(c));
                }
                Err(e) => error.set(Some(e)),
            }
            posting.set(false);
        });
    };
    view! {
        <div class="card comments">
            <h2>
                "Comments"
                {move || comments.with(|c| c.as_ref().map(|c| view! { <span class="count">{c.len()}</span> }))}
            </h2>
            <p class="hint">"The agent reads these with the ticket on its next run."</p>
            <ErrorNote error=load_error />
            {move || match comments.get() {
                None if load_error.with(|e| e.is_none()) => view! { <Loading what="comments" /> }.into_any(),
                None => ().into_any(),
                Some(cs) if cs.is_empty() => view! { <p class="empty">"No comments yet."</p> }.into_any(),
                Some(cs) => {
                    view! {
                        <ol class="comment-list">
                            {cs
                                .into_iter()
                                .map(|c| {
                                    view! {
                                        <li class="comment" data-comment-id=c.id.to_string()>
                                            <div class="event-head">
                                                <strong>{c.author}</strong>
                                                <span class="muted small">{util::time_text(c.created_at)}</span>
                                            </div>
                                            <p class="summary">{c.body}</p>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ol>
                    }
                        .into_any()
                }
            }}
            <form class="form" id="comment-form" on:submit=add novalidate>
                <label>
                    "Add a comment"
                    <textarea
                        name="comment"
                        rows="3"
                        placeholder="Context, a decision, a hint for the agent…"
                        prop:value=move || body.get()
                        on:input=move |ev| {
                            body.set(event_target_value(&ev));
                            error.set(None);
                        }
                    ></textarea>
                    {move || error.with(|e| e.as_ref().and_then(|e| e.for_field("body"))).map(|m| view! { <span class="field-error">{m}</span> })}
                </label>
                {move || error.get().filter(|e| e.field.is_none()).map(|e| view! { <p class="error" role="alert">{format!("Could not add the comment: {e}")}</p> })}
                <button class="btn" type="submit" id="add-comment" disabled=move || posting.get()>
                    {move || if posting.get() { "Adding…" } else { "Add comment" }}
                </button>
            </form>
        </div>
    }
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
fn LogViewer(project: Uuid, job: Job, on_change: Callback<Option<Uuid>>) -> impl IntoView {
    let jid = job.id;
    let events = RwSignal::new(Vec::<JobEvent>::new());
    let status = RwSignal::new(job.status);
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
    let tokens = move || {
        events.with(|es| {
            let i: i64 = es.iter().map(|e| e.input_tokens).sum();
            let o: i64 = es.iter().map(|e| e.output_tokens).sum();
            util::tokens_text(i, o)
        })
    };
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
                                                <li class="event" data-seq=seq>
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
