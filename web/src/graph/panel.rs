//! The side panel: the editor of the double-clicked component or connection, and the
//! notes on the selection (or on the project).

use leptos::prelude::*;
use terarchitect_protocol::*;

use super::model::{Sel, edge_input, is_on, node_input};
use super::state::Ed;
use crate::api;
use crate::util::ErrorNote;

const KINDS: [&str; 8] = [
    "service", "frontend", "database", "queue", "storage", "worker", "external", "library",
];

/// Edits the double-clicked node (label, kind, technology, description) or edge.
#[component]
pub(super) fn ItemEditor(ed: Ed, sel: Sel) -> impl IntoView {
    let a = RwSignal::new(String::new());
    let b = RwSignal::new(String::new());
    let c = RwSignal::new(String::new());
    let d = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    ed.graph.with_untracked(|g| match sel {
        Sel::Node(id) => {
            if let Some(n) = g.nodes.iter().find(|n| n.id == id) {
                a.set(n.label.clone());
                b.set(n.kind.clone());
                c.set(n.technology.clone());
                d.set(n.description.clone());
            }
        }
        Sel::Edge(id) => {
            if let Some(e) = g.edges.iter().find(|e| e.id == id) {
                a.set(e.label.clone());
                b.set(e.protocol.clone());
            }
        }
    });
    let save = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let change = ed.graph.with_untracked(|g| match sel {
            Sel::Node(id) => g.nodes.iter().find(|n| n.id == id).map(|n| GraphChange {
                nodes: vec![NodeInput {
                    label: a.get_untracked().trim().to_string(),
                    kind: b.get_untracked().trim().to_string(),
                    technology: c.get_untracked().trim().to_string(),
                    description: d.get_untracked(),
                    ..node_input(n)
                }],
                ..Default::default()
            }),
            Sel::Edge(id) => g.edges.iter().find(|e| e.id == id).map(|e| GraphChange {
                edges: vec![EdgeInput {
                    label: a.get_untracked().trim().to_string(),
                    protocol: b.get_untracked().trim().to_string(),
                    ..edge_input(e)
                }],
                ..Default::default()
            }),
        });
        let Some(change) = change else {
            ed.editing.set(None);
            return;
        };
        if let Err(e) = change.validate() {
            error.set(Some(format!(
                "{} {}",
                e.field.rsplit('.').next().unwrap_or("value"),
                e.message
            )));
            return;
        }
        ed.commit(change, true);
        ed.editing.set(None);
    };
    let is_node = matches!(sel, Sel::Node(_));
    let input = move |name: &'static str, label: &'static str, sig: RwSignal<String>| {
        view! {
            <label>
                {label}
                <input name=name prop:value=move || sig.get() on:input=move |ev| sig.set(event_target_value(&ev)) />
            </label>
        }
    };
    view! {
        <form class="card form item-editor" on:submit=save novalidate>
            <h2>{if is_node { "Edit component" } else { "Edit connection" }}</h2>
            {if is_node {
                view! {
                    {input("label", "Label", a)}
                    <label>
                        "Kind"
                        <input name="kind" list="node-kinds" prop:value=move || b.get() on:input=move |ev| b.set(event_target_value(&ev)) />
                        <datalist id="node-kinds">{KINDS.into_iter().map(|k| view! { <option value=k></option> }).collect_view()}</datalist>
                    </label>
                    {input("technology", "Technology", c)}
                    <label>
                        "Description"
                        <textarea name="description" rows="4" prop:value=move || d.get() on:input=move |ev| d.set(event_target_value(&ev))></textarea>
                    </label>
                }
                    .into_any()
            } else {
                view! {
                    {input("label", "Label", a)}
                    {input("protocol", "Protocol", b)}
                }
                    .into_any()
            }}
            <ErrorNote error=error />
            <div class="row">
                <button class="btn primary" type="submit" id="save-item">"Save"</button>
                <button class="btn ghost" type="button" on:click=move |_| ed.editing.set(None)>"Cancel"</button>
            </div>
        </form>
    }
}

/// Notes on the selected node or edge, or on the project when nothing is selected.
#[component]
pub(super) fn Notes(ed: Ed) -> impl IntoView {
    let notes = ed.notes;
    let body = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let pid = ed.project;
    leptos::task::spawn_local(async move {
        match api::get_all::<Note>(&format!("/api/projects/{pid}/notes")).await {
            Ok(n) => notes.set(Some(n)),
            Err(e) => error.set(Some(format!("Could not load notes: {e}"))),
        }
    });
    let target = Memo::new(move |_| ed.selected.with(|s| if s.len() == 1 { Some(s[0]) } else { None }));
    let title = move || match target.get() {
        Some(Sel::Node(id)) => format!("Notes on {}", ed.node(id).map(|n| n.label).unwrap_or_default()),
        Some(Sel::Edge(_)) => "Notes on this connection".into(),
        None => "Project notes".into(),
    };
    let add = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let (node_id, edge_id) = match target.get_untracked() {
            Some(Sel::Node(id)) => (Some(id), None),
            Some(Sel::Edge(id)) => (None, Some(id)),
            None => (None, None),
        };
        let n = NewNote {
            body: body.get_untracked(),
            node_id,
            edge_id,
        };
        if let Err(e) = n.validate() {
            error.set(Some(format!("Note {}", e.message)));
            return;
        }
        leptos::task::spawn_local(async move {
            match api::post::<_, Note>(&format!("/api/projects/{pid}/notes"), &n).await {
                Ok(note) => {
                    body.set(String::new());
                    error.set(None);
                    notes.update(|ns| ns.get_or_insert_with(Vec::new).push(note));
                }
                Err(e) => error.set(Some(format!("Could not add the note: {e}"))),
            }
        });
    };
    view! {
        <div class="card notes">
            <h2>{title}</h2>
            <ul class="note-list">
                <For
                    each=move || {
                        let t = target.get();
                        notes
                            .get()
                            .unwrap_or_default()
                            .into_iter()
                            .filter(move |n| is_on(n, t))
                    }
                    // A saved edit changes updated_at: the item is rebuilt, out of edit mode.
                    key=|n| (n.id, n.updated_at)
                    children=move |n| view! { <NoteItem ed=ed note=n error=error /> }
                />
            </ul>
            <form class="form" on:submit=add>
                <textarea name="note" rows="2" placeholder="Add a note…" prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))></textarea>
                <button class="btn small" type="submit">"Add note"</button>
            </form>
            <ErrorNote error=error />
        </div>
    }
}

/// One note: its text, edited in place (Edit or double-click; Save, or Escape to cancel),
/// or deleted.
#[component]
fn NoteItem(ed: Ed, note: Note, error: RwSignal<Option<String>>) -> impl IntoView {
    let path = format!("/api/projects/{}/notes/{}", ed.project, note.id);
    let nid = note.id;
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(note.body.clone());
    let start = Callback::new({
        let body = note.body.clone();
        move |()| {
            draft.set(body.clone());
            editing.set(true);
        }
    });
    let save = {
        let path = path.clone();
        move |ev: web_sys::SubmitEvent| {
            ev.prevent_default();
            let p = NotePatch {
                body: draft.get_untracked(),
            };
            if let Err(e) = p.validate() {
                error.set(Some(format!("Note {}", e.message)));
                return;
            }
            let path = path.clone();
            leptos::task::spawn_local(async move {
                match api::patch::<_, Note>(&path, &p).await {
                    Ok(saved) => {
                        error.set(None);
                        ed.notes.update(|ns| {
                            if let Some(n) = ns.iter_mut().flatten().find(|n| n.id == saved.id) {
                                *n = saved;
                            }
                        });
                    }
                    Err(e) => error.set(Some(format!("Could not save the note: {e}"))),
                }
            });
        }
    };
    let delete = move |_| {
        let path = path.clone();
        leptos::task::spawn_local(async move {
            match api::delete(&path).await {
                Ok(()) => ed.notes.update(|ns| {
                    if let Some(ns) = ns {
                        ns.retain(|x| x.id != nid)
                    }
                }),
                Err(e) => error.set(Some(format!("Could not delete the note: {e}"))),
            }
        })
    };
    let body = note.body.clone();
    view! {
        <li class="note" data-note-id=nid.to_string()>
            <Show
                when=move || editing.get()
                fallback=move || {
                    let delete = delete.clone();
                    view! {
                        <p title="Double-click to edit" on:dblclick=move |_| start.run(())>{body.clone()}</p>
                        <button class="btn small ghost note-edit" on:click=move |_| start.run(())>"Edit"</button>
                        <button class="btn small ghost note-delete" on:click=delete>"Delete"</button>
                    }
                }
            >
                <form class="note-form" on:submit=save.clone()>
                    <textarea
                        name="note_body"
                        rows="3"
                        prop:value=move || draft.get()
                        on:input=move |ev| draft.set(event_target_value(&ev))
                        on:keydown=move |ev: web_sys::KeyboardEvent| {
                            if ev.key() == "Escape" {
                                editing.set(false);
                            }
                        }
                    ></textarea>
                    <button class="btn small primary" type="submit">"Save"</button>
                    <button class="btn small ghost" type="button" on:click=move |_| editing.set(false)>"Cancel"</button>
                </form>
            </Show>
        </li>
    }
}
