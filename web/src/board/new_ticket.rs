//! The new-ticket form: title, description, priority, components or the whole graph.

use leptos::prelude::*;
use terarchitect_protocol::NodeId;
use terarchitect_protocol::*;

use super::state::BoardCtx;
use crate::api;

#[component]
pub(super) fn NewTicketForm(ctx: BoardCtx, on_done: Callback<()>) -> impl IntoView {
    let title = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let priority = RwSignal::new(Priority::Medium);
    let whole = RwSignal::new(false);
    let nodes = RwSignal::new(Vec::<NodeId>::new());
    let touched = RwSignal::new(false);
    let error = RwSignal::new(None::<api::ApiError>);
    let busy = RwSignal::new(false);
    let value = move || NewTicket {
        title: title.get(),
        description: description.get(),
        priority: priority.get(),
        column_id: None,
        whole_graph: whole.get(),
        node_ids: nodes.get(),
        edge_ids: vec![],
    };
    let field_msg = move |f: &'static str| {
        move || {
            let local = touched
                .get()
                .then(|| value().validate().err().filter(|e| e.field == f).map(|e| e.message))
                .flatten();
            local
                .or_else(|| error.with(|e| e.as_ref().and_then(|e| e.for_field(f))))
                .map(|m| view! { <span class="field-error">{m}</span> })
        }
    };
    let submit = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        touched.set(true);
        let v = value();
        if v.validate().is_err() {
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            let r = api::post::<_, Ticket>(&format!("/api/projects/{}/tickets", ctx.project), &v).await;
            busy.set(false);
            match r {
                Ok(_) => {
                    on_done.run(());
                    ctx.load();
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <form class="card form new-ticket" on:submit=submit novalidate>
            <h2>"New ticket"</h2>
            <label>
                "Title"
                <input
                    name="title"
                    prop:value=move || title.get()
                    on:input=move |ev| {
                        title.set(event_target_value(&ev));
                        touched.set(true);
                    }
                />
                {field_msg("title")}
            </label>
            <label>
                "Description"
                <textarea
                    name="description"
                    rows="3"
                    prop:value=move || description.get()
                    on:input=move |ev| description.set(event_target_value(&ev))
                ></textarea>
                {field_msg("description")}
            </label>
            <label>
                "Priority"
                <select name="priority" on:change=move |ev| priority.set(Priority::parse(&event_target_value(&ev)).unwrap_or_default())>
                    {[Priority::Low, Priority::Medium, Priority::High, Priority::Critical]
                        .into_iter()
                        .map(|p| view! { <option value=p.as_str() selected=p == Priority::Medium>{p.as_str()}</option> })
                        .collect_view()}
                </select>
            </label>
            <fieldset class="attach">
                <legend>"Architecture context for the agent"</legend>
                <label class="check">
                    <input type="checkbox" name="whole_graph" on:change=move |ev| whole.set(event_target_checked(&ev)) />
                    "The whole graph"
                </label>
                {move || {
                    let g = ctx.graph.get().unwrap_or_default();
                    if g.nodes.is_empty() {
                        return view! { <p class="hint">"No components yet: draw them on the Graph tab."</p> }.into_any();
                    }
                    g.nodes
                        .into_iter()
                        .map(|n| {
                            let id = n.id;
                            view! {
                                <label class="check">
                                    <input
                                        type="checkbox"
                                        name="node"
                                        value=id.to_string()
                                        disabled=move || whole.get()
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            nodes.update(|ns| {
                                                ns.retain(|x| *x != id);
                                                if on {
                                                    ns.push(id);
                                                }
                                            });
                                        }
                                    />
                                    {n.label}
                                </label>
                            }
                        })
                        .collect_view()
                        .into_any()
                }}
            </fieldset>
            {move || error.get().filter(|e| e.field.is_none()).map(|e| view! { <p class="error">{e.to_string()}</p> })}
            <div class="row">
                <button class="btn primary" type="submit" disabled=move || busy.get()>
                    {move || if busy.get() { "Creating…" } else { "Create ticket" }}
                </button>
                <button class="btn ghost" type="button" on:click=move |_| on_done.run(())>
                    "Cancel"
                </button>
            </div>
        </form>
    }
}
