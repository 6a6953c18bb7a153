//! The graph editor component: toolbar, the SVG canvas with its pointer, wheel and
//! keyboard handling (drag, pan, box-select, zoom, delete, undo), and the side panel.

use std::collections::VecDeque;
use terarchitect_protocol::ProjectId;

use leptos::prelude::*;
use terarchitect_protocol::*;
use wasm_bindgen::JsCast;

use super::canvas::{EdgeView, NodeView, canvas_point, canvas_size, capture};
use super::model::{Sel, node_input};
use super::panel::{ItemEditor, Notes};
use super::state::{Drag, Ed, SaveState, box_selection};
use crate::util::Loading;

#[component]
pub fn GraphEditor(project: ProjectId) -> impl IntoView {
    let ed = Ed {
        project,
        graph: RwSignal::new(Graph::default()),
        version: RwSignal::new(-1),
        selected: RwSignal::new(vec![]),
        view: RwSignal::new((0.0, 0.0, 1.0)),
        drag: RwSignal::new(None),
        save: RwSignal::new(SaveState::Idle),
        undo: RwSignal::new(vec![]),
        queue: RwSignal::new(VecDeque::new()),
        busy: RwSignal::new(false),
        editing: RwSignal::new(None),
        notes: RwSignal::new(None),
    };
    ed.load();
    // Fit once the first version has arrived.
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        if ed.version.get() >= 0 {
            let cb = wasm_bindgen::prelude::Closure::once_into_js(move || ed.fit());
            let _ = window().request_animation_frame(cb.unchecked_ref());
            return true;
        }
        false
    });

    let on_down = move |ev: web_sys::PointerEvent| {
        if ev.button() != 0 {
            return;
        }
        capture(&ev);
        if ev.shift_key() {
            let at = canvas_point(&ev);
            ed.drag.set(Some(Drag::Box {
                from: at,
                to: at,
                base: ed.selected.get_untracked(),
            }));
            return;
        }
        ed.selected.set(vec![]);
        ed.drag.set(Some(Drag::Pan {
            from: (ev.client_x() as f64, ev.client_y() as f64),
            view: ed.view.get_untracked(),
            moved: false,
        }));
    };
    let on_move = move |ev: web_sys::PointerEvent| {
        let Some(mut d) = ed.drag.get_untracked() else { return };
        let (x, y) = (ev.client_x() as f64, ev.client_y() as f64);
        match &mut d {
            Drag::Pan { from, view, moved } => {
                let (dx, dy) = (x - from.0, y - from.1);
                *moved |= dx.abs() + dy.abs() > 3.0;
                ed.view.set((view.0 + dx, view.1 + dy, view.2));
            }
            Drag::Box { from, to, base } => {
                *to = canvas_point(&ev);
                let sel = box_selection(ed, *from, *to, base);
                // Every node's class reads the selection: notify only when it changes.
                if ed.selected.with_untracked(|s| *s != sel) {
                    ed.selected.set(sel);
                }
            }
            Drag::Nodes { from, start, moved, .. } => {
                let s = ed.view.get_untracked().2;
                let (dx, dy) = ((x - from.0) / s, (y - from.1) / s);
                if !*moved && dx.abs() + dy.abs() < 3.0 / s {
                    return;
                }
                *moved = true;
                let start = start.clone();
                ed.graph.update(|g| {
                    for (id, sx, sy) in &start {
                        if let Some(n) = g.nodes.iter_mut().find(|n| n.id == *id) {
                            n.x = (sx + dx).round();
                            n.y = (sy + dy).round();
                        }
                    }
                });
            }
        }
        ed.drag.set(Some(d));
    };
    let on_up = move |_ev: web_sys::PointerEvent| {
        let Some(d) = ed.drag.get_untracked() else { return };
        ed.drag.set(None);
        if let Drag::Nodes {
            start,
            moved,
            additive,
            clicked,
            ..
        } = d
        {
            if moved {
                let (now, before): (Vec<NodeInput>, Vec<NodeInput>) = ed.graph.with_untracked(|g| {
                    start
                        .iter()
                        .filter_map(|(id, sx, sy)| {
                            g.nodes.iter().find(|n| n.id == *id).map(|n| {
                                let mut old = node_input(n);
                                old.x = *sx;
                                old.y = *sy;
                                (node_input(n), old)
                            })
                        })
                        .unzip()
                });
                ed.commit_shown(
                    GraphChange {
                        nodes: now,
                        ..Default::default()
                    },
                    GraphChange {
                        nodes: before,
                        ..Default::default()
                    },
                );
            } else if !additive {
                ed.selected.set(vec![Sel::Node(clicked)]);
            }
        }
    };
    let select_box = Memo::new(move |_| {
        ed.drag.with(|d| match d {
            Some(Drag::Box { from, to, .. }) => Some((
                from.0.min(to.0),
                from.1.min(to.1),
                (to.0 - from.0).abs(),
                (to.1 - from.1).abs(),
            )),
            _ => None,
        })
    });
    let on_wheel = move |ev: web_sys::WheelEvent| {
        ev.prevent_default();
        let (px, py) = canvas_point(&ev);
        let (tx, ty, s) = ed.view.get_untracked();
        let factor = if ev.delta_y() < 0.0 { 1.1 } else { 1.0 / 1.1 };
        let ns = (s * factor).clamp(0.2, 3.0);
        let (gx, gy) = ((px - tx) / s, (py - ty) / s);
        ed.view.set((px - gx * ns, py - gy * ns, ns));
    };
    let on_key = move |ev: web_sys::KeyboardEvent| match ev.key().as_str() {
        "Delete" | "Backspace" => {
            ev.prevent_default();
            ed.delete_selected();
        }
        "z" if ev.ctrl_key() || ev.meta_key() => {
            ev.prevent_default();
            ed.undo_last();
        }
        _ => {}
    };
    let zoom = move |factor: f64| {
        let (w, h) = canvas_size();
        let (tx, ty, s) = ed.view.get_untracked();
        let ns = (s * factor).clamp(0.2, 3.0);
        let (gx, gy) = ((w / 2.0 - tx) / s, (h / 2.0 - ty) / s);
        ed.view.set((w / 2.0 - gx * ns, h / 2.0 - gy * ns, ns));
    };

    view! {
        <div class="graph-toolbar">
            <button class="btn primary" id="add-node" disabled=move || ed.version.get() < 0 on:click=move |_| ed.add_node()>"Add component"</button>
            <button
                class="btn"
                id="connect"
                disabled=move || ed.selected.with(|s| s.iter().filter(|x| matches!(x, Sel::Node(_))).count() < 2)
                on:click=move |_| ed.connect()
            >
                "Connect selected"
            </button>
            <button class="btn danger" id="delete-selected" disabled=move || ed.selected.with(|s| s.is_empty()) on:click=move |_| ed.delete_selected()>
                "Delete selected"
            </button>
            <button class="btn" id="undo" disabled=move || ed.undo.with(|u| u.is_empty()) on:click=move |_| ed.undo_last()>
                "Undo"
            </button>
            <span class="btn-group">
                <button class="btn small" title="Zoom out" on:click=move |_| zoom(1.0 / 1.2)>"−"</button>
                <button class="btn small" title="Zoom in" on:click=move |_| zoom(1.2)>"+"</button>
                <button class="btn small" id="fit" on:click=move |_| ed.fit()>"Fit"</button>
            </span>
            <span class="save-state" id="graph-save-state" data-state=move || match ed.save.get() {
                SaveState::Idle => "idle",
                SaveState::Saving => "saving",
                SaveState::Saved => "saved",
                SaveState::Failed(_) => "failed",
            }>
                {move || match ed.save.get() {
                    SaveState::Idle => String::new(),
                    SaveState::Saving => "Saving…".into(),
                    SaveState::Saved => "All changes saved".into(),
                    SaveState::Failed(m) => m,
                }}
            </span>
        </div>
        <p class="hint">
            "Drag components to move them, drag the background to pan, scroll to zoom. Click to select, shift-click to select more, shift-drag the background to select with a box; double-click a component or a connection to edit it. Changes save on their own."
        </p>
        <div class="graph-layout">
            <div class="graph-wrap">
                {move || (ed.version.get() < 0 && !matches!(ed.save.get(), SaveState::Failed(_))).then(|| view! { <Loading what="the graph" /> })}
                <svg
                    class="graph-canvas"
                    tabindex="0"
                    role="application"
                    aria-label="Architecture graph"
                    on:pointerdown=on_down
                    on:pointermove=on_move
                    on:pointerup=on_up
                    on:pointercancel=move |_| ed.drag.set(None)
                    on:wheel=on_wheel
                    on:keydown=on_key
                >
                    <defs>
                        <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                            <path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head"></path>
                        </marker>
                    </defs>
                    <g transform=move || {
                        let (tx, ty, s) = ed.view.get();
                        format!("translate({tx:.1},{ty:.1}) scale({s:.3})")
                    }>
                        <For
                            each=move || ed.graph.with(|g| g.edges.iter().map(|e| e.id).collect::<Vec<_>>())
                            key=|id| *id
                            children=move |id| view! { <EdgeView ed=ed id=id /> }
                        />
                        <For
                            each=move || ed.graph.with(|g| g.nodes.iter().map(|n| n.id).collect::<Vec<_>>())
                            key=|id| *id
                            children=move |id| view! { <NodeView ed=ed id=id /> }
                        />
                    </g>
                    {move || {
                        select_box
                            .get()
                            .map(|(x, y, w, h)| view! { <rect class="select-box" x=x y=y width=w height=h></rect> })
                    }}
                </svg>
                {move || {
                    (ed.version.get() >= 0 && ed.graph.with(|g| g.nodes.is_empty()))
                        .then(|| view! { <p class="graph-empty">"No components yet. “Add component” puts one in the middle."</p> })
                }}
            </div>
            <aside class="graph-side">
                {move || ed.editing.get().map(|s| view! { <ItemEditor ed=ed sel=s /> })}
                <Notes ed=ed />
            </aside>
        </div>
    }
}
