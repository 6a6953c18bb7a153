//! Editing a ticket: title, description, priority, attached components and connections
//! or the whole graph; deleting it.

use std::collections::BTreeSet;
use terarchitect_protocol::{EdgeId, NodeId, ProjectId};

use leptos::prelude::*;
use terarchitect_protocol::*;

use crate::api;
use crate::route::{Route, Tab, navigate};

#[component]
pub(super) fn TicketForm(
    project: ProjectId,
    ticket: Ticket,
    graph: Graph,
    data: RwSignal<Option<Ticket>>,
) -> impl IntoView {
    let tid = ticket.id;
    let title = RwSignal::new(ticket.title.clone());
    let description = RwSignal::new(ticket.description.clone());
    let priority = RwSignal::new(ticket.priority);
    let whole = RwSignal::new(ticket.whole_graph);
    let nodes = RwSignal::new(ticket.node_ids.iter().copied().collect::<BTreeSet<NodeId>>());
    let edges = RwSignal::new(ticket.edge_ids.iter().copied().collect::<BTreeSet<EdgeId>>());
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
        move |id: NodeId| {
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
