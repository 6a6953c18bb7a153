//! The architecture graph editor (SVG): add, drag, select, connect, edit, delete, pan,
//! zoom, fit; every change is saved at once (PATCH with `expected_version`) and can be
//! undone. Notes on the selected node or edge (or the project) sit beside it.

use std::collections::VecDeque;

use leptos::prelude::*;
use terarchitect_protocol::*;
use uuid::Uuid;
use wasm_bindgen::JsCast;

use crate::api;
use crate::util::{ErrorNote, Loading};

const R: f64 = 34.0;
const KINDS: [&str; 8] = [
    "service", "frontend", "database", "queue", "storage", "worker", "external", "library",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sel {
    Node(Uuid),
    Edge(Uuid),
}

#[derive(Debug, Clone, PartialEq)]
enum SaveState {
    Idle,
    Saving,
    Saved,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Drag {
    Nodes {
        from: (f64, f64),
        start: Vec<(Uuid, f64, f64)>,
        moved: bool,
        additive: bool,
        clicked: Uuid,
    },
    Pan {
        from: (f64, f64),
        view: (f64, f64, f64),
        moved: bool,
    },
    /// Shift-drag on the background: a selection box in canvas pixels, added to `base`.
    Box {
        from: (f64, f64),
        to: (f64, f64),
        base: Vec<Sel>,
    },
}

#[derive(Clone, Copy)]
struct Ed {
    project: Uuid,
    graph: RwSignal<Graph>,
    version: RwSignal<i64>,
    selected: RwSignal<Vec<Sel>>,
    view: RwSignal<(f64, f64, f64)>,
    drag: RwSignal<Option<Drag>>,
    save: RwSignal<SaveState>,
    undo: RwSignal<Vec<GraphChange>>,
    queue: RwSignal<VecDeque<GraphChange>>,
    busy: RwSignal<bool>,
    editing: RwSignal<Option<Sel>>,
    /// The project's notes (None until loaded): the side panel lists them, the canvas
    /// badges the components and connections that have some.
    notes: RwSignal<Option<Vec<Note>>>,
}

fn node_input(n: &GraphNode) -> NodeInput {
    NodeInput {
        id: n.id,
        label: n.label.clone(),
        kind: n.kind.clone(),
        technology: n.technology.clone(),
        description: n.description.clone(),
        x: n.x,
        y: n.y,
    }
}

fn edge_input(e: &GraphEdge) -> EdgeInput {
    EdgeInput {
        id: e.id,
        source: e.source,
        target: e.target,
        label: e.label.clone(),
        protocol: e.protocol.clone(),
    }
}

/// Applies a change to the local copy the way the API does (deletions, then upserts).
fn apply(g: &mut Graph, c: &GraphChange) {
    g.edges.retain(|e| {
        !c.delete_edges.contains(&e.id) && !c.delete_nodes.contains(&e.source) && !c.delete_nodes.contains(&e.target)
    });
    g.nodes.retain(|n| !c.delete_nodes.contains(&n.id));
    for n in &c.nodes {
        let new = GraphNode {
            id: n.id,
            label: n.label.clone(),
            kind: n.kind.clone(),
            technology: n.technology.clone(),
            description: n.description.clone(),
            x: n.x,
            y: n.y,
        };
        match g.nodes.iter_mut().find(|x| x.id == n.id) {
            Some(x) => *x = new,
            None => g.nodes.push(new),
        }
    }
    for e in &c.edges {
        let new = GraphEdge {
            id: e.id,
            source: e.source,
            target: e.target,
            label: e.label.clone(),
            protocol: e.protocol.clone(),
        };
        match g.edges.iter_mut().find(|x| x.id == e.id) {
            Some(x) => *x = new,
            None => g.edges.push(new),
        }
    }
}

/// The change that puts `g` back as it is now after `c` is applied.
fn inverse(g: &Graph, c: &GraphChange) -> GraphChange {
    let mut inv = GraphChange::default();
    for n in &c.nodes {
        match g.nodes.iter().find(|x| x.id == n.id) {
            Some(old) => inv.nodes.push(node_input(old)),
            None => inv.delete_nodes.push(n.id),
        }
    }
    for e in &c.edges {
        match g.edges.iter().find(|x| x.id == e.id) {
            Some(old) => inv.edges.push(edge_input(old)),
            None => inv.delete_edges.push(e.id),
        }
    }
    for id in &c.delete_nodes {
        if let Some(old) = g.nodes.iter().find(|x| x.id == *id) {
            inv.nodes.push(node_input(old));
        }
    }
    for e in &g.edges {
        let gone =
            c.delete_edges.contains(&e.id) || c.delete_nodes.contains(&e.source) || c.delete_nodes.contains(&e.target);
        if gone && !inv.edges.iter().any(|x| x.id == e.id) {
            inv.edges.push(edge_input(e));
        }
    }
    inv
}

impl Ed {
    fn load(self) {
        leptos::task::spawn_local(async move {
            match api::get::<Graph>(&format!("/api/projects/{}/graph", self.project)).await {
                Ok(g) => {
                    self.selected.update(|s| {
                        s.retain(|x| match x {
                            Sel::Node(id) => g.nodes.iter().any(|n| n.id == *id),
                            Sel::Edge(id) => g.edges.iter().any(|e| e.id == *id),
                        })
                    });
                    if let Some(Sel::Node(id)) = self.editing.get_untracked()
                        && !g.nodes.iter().any(|n| n.id == id)
                    {
                        self.editing.set(None);
                    }
                    self.version.set(g.version);
                    self.graph.set(g);
                    self.pump();
                }
                Err(e) => self
                    .save
                    .set(SaveState::Failed(format!("Could not load the graph: {e}"))),
            }
        });
    }

    /// Applies a change on screen, remembers how to undo it, and queues it for saving.
    fn commit(self, change: GraphChange, undoable: bool) {
        if let Err(e) = change.validate() {
            self.save.set(SaveState::Failed(e.to_string()));
            return;
        }
        let inv = self.graph.with_untracked(|g| inverse(g, &change));
        self.graph.update(|g| apply(g, &change));
        if undoable {
            self.undo.update(|u| u.push(inv));
        }
        self.queue.update(|q| q.push_back(change));
        self.pump();
    }

    /// Like `commit` for a change already shown (a drag), with its undo given.
    fn commit_shown(self, change: GraphChange, inv: GraphChange) {
        self.undo.update(|u| u.push(inv));
        self.queue.update(|q| q.push_back(change));
        self.pump();
    }

    fn pump(self) {
        // Nothing is sent before the graph (and its version) has arrived.
        if self.busy.get_untracked() || self.version.get_untracked() < 0 {
            return;
        }
        let Some(mut change) = self.queue.try_update(|q| q.pop_front()).flatten() else {
            return;
        };
        self.busy.set(true);
        self.save.set(SaveState::Saving);
        change.expected_version = Some(self.version.get_untracked());
        leptos::task::spawn_local(async move {
            let r = api::patch::<_, Graph>(&format!("/api/projects/{}/graph", self.project), &change).await;
            self.busy.set(false);
            match r {
                Ok(g) => {
                    self.version.set(g.version);
                    if self.queue.with_untracked(|q| q.is_empty()) {
                        if self.drag.get_untracked().is_none() {
                            self.graph.set(g);
                        }
                        self.save.set(SaveState::Saved);
                    } else {
                        self.pump();
                    }
                }
                Err(e) => {
                    self.queue.set(VecDeque::new());
                    self.undo.set(Vec::new());
                    let msg = if e.is_conflict() {
                        "Someone else changed the graph meanwhile: the latest version is shown; please redo your last change.".to_string()
                    } else {
                        format!("Not saved: {e}. The saved graph is shown again.")
                    };
                    self.save.set(SaveState::Failed(msg));
                    self.load();
                }
            }
        });
    }

    /// The bodies of the notes on a component or connection.
    fn notes_on(self, on: Sel) -> Vec<String> {
        self.notes.with(|ns| {
            ns.iter()
                .flatten()
                .filter(|n| is_on(n, Some(on)))
                .map(|n| n.body.clone())
                .collect()
        })
    }

    fn node(self, id: Uuid) -> Option<GraphNode> {
        self.graph.with(|g| g.nodes.iter().find(|n| n.id == id).cloned())
    }

    fn selected_nodes(self) -> Vec<Uuid> {
        self.selected.with_untracked(|s| {
            s.iter()
                .filter_map(|x| match x {
                    Sel::Node(id) => Some(*id),
                    _ => None,
                })
                .collect()
        })
    }

    fn add_node(self) {
        let (w, h) = canvas_size();
        let (tx, ty, s) = self.view.get_untracked();
        let n = self.graph.with_untracked(|g| g.nodes.len());
        let id = Uuid::new_v4();
        // The free spot nearest the middle of the view, on a spiral of candidates.
        let (cx, cy) = ((w / 2.0 - tx) / s, (h / 2.0 - ty) / s);
        let (x, y) = self.graph.with_untracked(|g| {
            (0..400)
                .map(|i| {
                    let i = i as f64;
                    let (r, a) = (i.sqrt() * 3.2 * R, i * 2.4);
                    ((cx + r * a.cos()).round(), (cy + r * a.sin() * 0.7).round())
                })
                .find(|(x, y)| g.nodes.iter().all(|m| (m.x - x).hypot(m.y - y) > 5.0 * R))
                .unwrap_or((cx, cy))
        });
        let node = NodeInput {
            id,
            label: format!("Component {}", n + 1),
            kind: "service".into(),
            technology: String::new(),
            description: String::new(),
            x,
            y,
        };
        self.commit(
            GraphChange {
                nodes: vec![node],
                ..Default::default()
            },
            true,
        );
        self.selected.set(vec![Sel::Node(id)]);
        self.editing.set(Some(Sel::Node(id)));
    }

    fn connect(self) {
        let ids = self.selected_nodes();
        let mut edges = vec![];
        self.graph.with_untracked(|g| {
            for pair in ids.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                let exists = g
                    .edges
                    .iter()
                    .any(|e| (e.source == a && e.target == b) || (e.source == b && e.target == a));
                if !exists {
                    edges.push(EdgeInput {
                        id: Uuid::new_v4(),
                        source: a,
                        target: b,
                        label: String::new(),
                        protocol: String::new(),
                    });
                }
            }
        });
        if edges.is_empty() {
            self.save.set(SaveState::Failed(
                "Select two or more components (shift-click) that are not connected yet.".into(),
            ));
            return;
        }
        self.commit(
            GraphChange {
                edges,
                ..Default::default()
            },
            true,
        );
    }

    fn delete_selected(self) {
        let sel = self.selected.get_untracked();
        if sel.is_empty() {
            return;
        }
        let mut c = GraphChange::default();
        for s in sel {
            match s {
                Sel::Node(id) => c.delete_nodes.push(id),
                Sel::Edge(id) => c.delete_edges.push(id),
            }
        }
        self.selected.set(vec![]);
        self.commit(c, true);
    }

    fn undo_last(self) {
        if let Some(inv) = self.undo.try_update(|u| u.pop()).flatten() {
            self.selected.set(vec![]);
            self.commit(inv, false);
        }
    }

    fn fit(self) {
        let (w, h) = canvas_size();
        let (minx, miny, maxx, maxy) = self.graph.with_untracked(|g| {
            g.nodes
                .iter()
                .fold((f64::MAX, f64::MAX, f64::MIN, f64::MIN), |(a, b, c, d), n| {
                    (a.min(n.x), b.min(n.y), c.max(n.x), d.max(n.y))
                })
        });
        if minx > maxx {
            self.view.set((w / 2.0, h / 2.0, 1.0));
            return;
        }
        let pad = R * 2.5;
        let gw = (maxx - minx) + pad * 2.0;
        let gh = (maxy - miny) + pad * 2.0;
        let s = (w / gw).min(h / gh).clamp(0.2, 1.5);
        let cx = (minx + maxx) / 2.0;
        let cy = (miny + maxy) / 2.0;
        self.view.set((w / 2.0 - cx * s, h / 2.0 - cy * s, s));
    }
}

fn canvas_size() -> (f64, f64) {
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

fn canvas_point(ev: &web_sys::MouseEvent) -> (f64, f64) {
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

/// Whether a note is on this component or connection (None: on the project itself).
fn is_on(n: &Note, on: Option<Sel>) -> bool {
    match on {
        Some(Sel::Node(id)) => n.node_id == Some(id),
        Some(Sel::Edge(id)) => n.edge_id == Some(id),
        None => n.node_id.is_none() && n.edge_id.is_none(),
    }
}

/// `base` plus the components whose centres lie in the box between two canvas points.
fn box_selection(ed: Ed, a: (f64, f64), b: (f64, f64), base: &[Sel]) -> Vec<Sel> {
    let (tx, ty, s) = ed.view.get_untracked();
    let to_graph = |(x, y): (f64, f64)| ((x - tx) / s, (y - ty) / s);
    let ((ax, ay), (bx, by)) = (to_graph(a), to_graph(b));
    let (x0, x1, y0, y1) = (ax.min(bx), ax.max(bx), ay.min(by), ay.max(by));
    let mut sel = base.to_vec();
    ed.graph.with_untracked(|g| {
        for n in &g.nodes {
            let inside = (x0..=x1).contains(&n.x) && (y0..=y1).contains(&n.y);
            if inside && !sel.contains(&Sel::Node(n.id)) {
                sel.push(Sel::Node(n.id));
            }
        }
    });
    sel
}

fn capture(ev: &web_sys::PointerEvent) {
    if let Some(el) = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
        let _ = el.set_pointer_capture(ev.pointer_id());
    }
}

#[component]
pub fn GraphEditor(project: Uuid) -> impl IntoView {
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

#[component]
fn NodeView(ed: Ed, id: Uuid) -> impl IntoView {
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
fn EdgeView(ed: Ed, id: Uuid) -> impl IntoView {
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

/// Edits the double-clicked node (label, kind, technology, description) or edge.
#[component]
fn ItemEditor(ed: Ed, sel: Sel) -> impl IntoView {
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
fn Notes(ed: Ed) -> impl IntoView {
    let notes = ed.notes;
    let body = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let pid = ed.project;
    leptos::task::spawn_local(async move {
        match api::get::<Vec<Note>>(&format!("/api/projects/{pid}/notes")).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn node(label: &str, x: f64) -> NodeInput {
        NodeInput {
            id: Uuid::new_v4(),
            label: label.into(),
            kind: "service".into(),
            technology: String::new(),
            description: String::new(),
            x,
            y: 0.0,
        }
    }

    fn graph() -> (Graph, Uuid, Uuid, Uuid) {
        let (a, b) = (node("a", 0.0), node("b", 100.0));
        let e = EdgeInput {
            id: Uuid::new_v4(),
            source: a.id,
            target: b.id,
            label: "calls".into(),
            protocol: "HTTP".into(),
        };
        let mut g = Graph::default();
        apply(
            &mut g,
            &GraphChange {
                nodes: vec![a.clone(), b.clone()],
                edges: vec![e.clone()],
                ..Default::default()
            },
        );
        (g, a.id, b.id, e.id)
    }

    /// Applying a change and then its inverse gives the graph back.
    fn round_trip(g: &Graph, change: GraphChange) {
        let g = g.clone();
        let mut h = g.clone();
        let inv = inverse(&h, &change);
        apply(&mut h, &change);
        assert_ne!(h, g);
        apply(&mut h, &inv);
        let sorted = |g: &Graph| {
            let mut g = g.clone();
            g.nodes.sort_by_key(|n| n.id);
            g.edges.sort_by_key(|e| e.id);
            g
        };
        assert_eq!(sorted(&h), sorted(&g));
    }

    #[test]
    fn undo_restores_deleted_nodes_with_their_edges() {
        let (g, a, ..) = graph();
        round_trip(
            &g,
            GraphChange {
                delete_nodes: vec![a],
                ..Default::default()
            },
        );
    }

    #[test]
    fn undo_removes_additions_and_restores_edits() {
        let (g, a, _, e) = graph();
        round_trip(
            &g,
            GraphChange {
                nodes: vec![node("c", 5.0)],
                ..Default::default()
            },
        );
        let mut moved = node_input(g.nodes.iter().find(|n| n.id == a).unwrap());
        moved.x += 50.0;
        moved.label = "renamed".into();
        round_trip(
            &g,
            GraphChange {
                nodes: vec![moved],
                ..Default::default()
            },
        );
        round_trip(
            &g,
            GraphChange {
                delete_edges: vec![e],
                ..Default::default()
            },
        );
    }

    #[test]
    fn deleting_a_node_drops_its_edges_locally() {
        let (mut g, a, ..) = graph();
        apply(
            &mut g,
            &GraphChange {
                delete_nodes: vec![a],
                ..Default::default()
            },
        );
        assert_eq!(g.nodes.len(), 1);
        assert!(g.edges.is_empty());
    }
}
