//! What the SVG canvas draws: components, connections and their note badges, and the
//! canvas' own geometry.

use leptos::prelude::*;
use terarchitect_protocol::*;
use terarchitect_protocol::{EdgeId, NodeId};
use wasm_bindgen::JsCast;

use super::model::Sel;
use super::state::{Drag, Ed};

pub(super) const R: f64 = 34.0;

pub(super) fn canvas_size() -> (f64, f64) {
    document()
        .query_selector(".graph-canvas")
        .ok()
        .flatten()
        .map(|e| {
            let r = e.get_bounding_client_rect();
            (r.width().max(100.0), r.height().max(100.0))
        })
        .unwrap_or((900.0, 560.0))
}

pub(super) fn canvas_point(ev: &web_sys::MouseEvent) -> (f64, f64) {
    document()
        .query_selector(".graph-canvas")
        .ok()
        .flatten()
        .map(|e| {
            let r = e.get_bounding_client_rect();
            (ev.client_x() as f64 - r.left(), ev.client_y() as f64 - r.top())
        })
        .unwrap_or((ev.client_x() as f64, ev.client_y() as f64))
}

pub(super) fn capture(ev: &web_sys::PointerEvent) {
    if let Some(el) = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
        let _ = el.set_pointer_capture(ev.pointer_id());
    }
}

#[component]
pub(super) fn NodeView(ed: Ed, id: NodeId) -> impl IntoView {
    let node = Memo::new(move |_| ed.node(id));
    let selected = move || ed.selected.with(|s| s.contains(&Sel::Node(id)));
    let on_down = move |ev: web_sys::PointerEvent| {
        if ev.button() != 0 {
            return;
        }
        ev.stop_propagation();
        capture(&ev);
        let additive = ev.shift_key() || ev.ctrl_key() || ev.meta_key();
        if additive {
            ed.selected.update(|s| {
                if let Some(i) = s.iter().position(|x| *x == Sel::Node(id)) {
                    s.remove(i);
                } else {
                    s.push(Sel::Node(id));
                }
            });
        } else if !ed.selected.with_untracked(|s| s.contains(&Sel::Node(id))) {
            ed.selected.set(vec![Sel::Node(id)]);
        }
        let ids = ed.selected_nodes();
        let start = ed.graph.with_untracked(|g| {
            g.nodes
                .iter()
                .filter(|n| ids.contains(&n.id))
                .map(|n| (n.id, n.x, n.y))
                .collect()
        });
        ed.drag.set(Some(Drag::Nodes {
            from: (ev.client_x() as f64, ev.client_y() as f64),
            start,
            moved: false,
            additive,
            clicked: id,
        }));
    };
    let field = move |f: fn(&GraphNode) -> String| move || node.with(|n| n.as_ref().map(f).unwrap_or_default());
    view! {
        <g
            class=move || {
                let kind = node.with(|n| n.as_ref().map(|n| n.kind.replace(' ', "-")).unwrap_or_default());
                format!("node kind-{kind}{}", if selected() { " selected" } else { "" })
            }
            data-node-id=id.to_string()
            data-label=field(|n| n.label.clone())
            transform=move || node.with(|n| n.as_ref().map(|n| format!("translate({},{})", n.x, n.y)).unwrap_or_default())
            on:pointerdown=on_down
            on:dblclick=move |ev| {
                ev.stop_propagation();
                ed.editing.set(Some(Sel::Node(id)));
            }
        >
            <title>
                {field(|n| {
                    format!(
                        "{} ({}{})",
                        n.label,
                        n.kind,
                        if n.technology.is_empty() { String::new() } else { format!(", {}", n.technology) },
                    )
                })}
            </title>
            <circle r=R></circle>
            <text class="node-label" text-anchor="middle" dy="0.35em">
                {field(|n| {
                    if n.label.chars().count() > 16 {
                        n.label.chars().take(15).chain(['…']).collect()
                    } else {
                        n.label.clone()
                    }
                })}
            </text>
            <text class="node-tech" text-anchor="middle" y=R + 14.0>
                {field(|n| n.technology.clone())}
            </text>
            <NoteBadge ed=ed on=Sel::Node(id) at=Signal::stored((R * 0.75, -R * 0.75)) />
        </g>
    }
}

#[component]
pub(super) fn EdgeView(ed: Ed, id: EdgeId) -> impl IntoView {
    let geometry = Memo::new(move |_| {
        ed.graph.with(|g| {
            let e = g.edges.iter().find(|e| e.id == id)?;
            let a = g.nodes.iter().find(|n| n.id == e.source)?;
            let b = g.nodes.iter().find(|n| n.id == e.target)?;
            let (dx, dy) = (b.x - a.x, b.y - a.y);
            let len = (dx * dx + dy * dy).sqrt().max(1.0);
            let (ux, uy) = (dx / len, dy / len);
            let text = match (e.label.is_empty(), e.protocol.is_empty()) {
                (true, true) => String::new(),
                (false, true) => e.label.clone(),
                (true, false) => e.protocol.clone(),
                (false, false) => format!("{} ({})", e.label, e.protocol),
            };
            Some((
                a.x + ux * R,
                a.y + uy * R,
                b.x - ux * (R + 2.0),
                b.y - uy * (R + 2.0),
                text,
            ))
        })
    });
    let selected = move || ed.selected.with(|s| s.contains(&Sel::Edge(id)));
    let on_down = move |ev: web_sys::PointerEvent| {
        if ev.button() != 0 {
            return;
        }
        ev.stop_propagation();
        if ev.shift_key() {
            ed.selected.update(|s| {
                if let Some(i) = s.iter().position(|x| *x == Sel::Edge(id)) {
                    s.remove(i);
                } else {
                    s.push(Sel::Edge(id));
                }
            });
        } else {
            ed.selected.set(vec![Sel::Edge(id)]);
        }
    };
    let g = move |i: usize| {
        move || {
            geometry.with(|g| {
                g.as_ref()
                    .map(|(x1, y1, x2, y2, _)| match i {
                        0 => *x1,
                        1 => *y1,
                        2 => *x2,
                        3 => *y2,
                        4 => (x1 + x2) / 2.0,
                        _ => (y1 + y2) / 2.0 - 6.0,
                    })
                    .unwrap_or(0.0)
            })
        }
    };
    view! {
        <g
            class=move || if selected() { "edge selected" } else { "edge" }
            data-edge-id=id.to_string()
            on:pointerdown=on_down
            on:dblclick=move |ev| {
                ev.stop_propagation();
                ed.editing.set(Some(Sel::Edge(id)));
            }
        >
            <line class="edge-hit" x1=g(0) y1=g(1) x2=g(2) y2=g(3)></line>
            <line class="edge-line" x1=g(0) y1=g(1) x2=g(2) y2=g(3) marker-end="url(#arrow)"></line>
            <text class="edge-label" text-anchor="middle" x=g(4) y=g(5)>
                {move || geometry.with(|g| g.as_ref().map(|g| g.4.clone()).unwrap_or_default())}
            </text>
            <NoteBadge ed=ed on=Sel::Edge(id) at=Signal::derive(move || (g(4)(), g(5)() + 18.0)) />
        </g>
    }
}

/// How many notes a component or connection has (their text on hover); nothing if none.
#[component]
fn NoteBadge(ed: Ed, on: Sel, at: Signal<(f64, f64)>) -> impl IntoView {
    let notes = Memo::new(move |_| ed.notes_on(on));
    move || {
        let ns = notes.get();
        (!ns.is_empty()).then(|| {
            view! {
                <g class="note-badge" transform=move || at.with(|(x, y)| format!("translate({x:.1},{y:.1})"))>
                    <title>{ns.join("\n\n")}</title>
                    <circle r="9"></circle>
                    <text text-anchor="middle" dy="0.35em">{ns.len()}</text>
                </g>
            }
        })
    }
}
