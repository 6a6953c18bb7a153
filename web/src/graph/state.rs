//! The editor's state and its actions: load, apply and queue changes, save them one at a
//! time with `expected_version`, undo, add, connect, delete, fit.

use std::collections::VecDeque;
use terarchitect_protocol::{EdgeId, NodeId, ProjectId};

use leptos::prelude::*;
use terarchitect_protocol::*;

use super::canvas::{R, canvas_size};
use super::model::{Sel, apply, inverse, is_on};
use crate::api;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum SaveState {
    Idle,
    Saving,
    Saved,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Drag {
    Nodes {
        from: (f64, f64),
        start: Vec<(NodeId, f64, f64)>,
        moved: bool,
        additive: bool,
        clicked: NodeId,
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
pub(super) struct Ed {
    pub(super) project: ProjectId,
    pub(super) graph: RwSignal<Graph>,
    pub(super) version: RwSignal<i64>,
    pub(super) selected: RwSignal<Vec<Sel>>,
    pub(super) view: RwSignal<(f64, f64, f64)>,
    pub(super) drag: RwSignal<Option<Drag>>,
    pub(super) save: RwSignal<SaveState>,
    pub(super) undo: RwSignal<Vec<GraphChange>>,
    pub(super) queue: RwSignal<VecDeque<GraphChange>>,
    pub(super) busy: RwSignal<bool>,
    pub(super) editing: RwSignal<Option<Sel>>,
    /// The project's notes (None until loaded): the side panel lists them, the canvas
    /// badges the components and connections that have some.
    pub(super) notes: RwSignal<Option<Vec<Note>>>,
}

impl Ed {
    pub(super) fn load(self) {
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
    pub(super) fn commit(self, change: GraphChange, undoable: bool) {
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
    pub(super) fn commit_shown(self, change: GraphChange, inv: GraphChange) {
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
    pub(super) fn notes_on(self, on: Sel) -> Vec<String> {
        self.notes.with(|ns| {
            ns.iter()
                .flatten()
                .filter(|n| is_on(n, Some(on)))
                .map(|n| n.body.clone())
                .collect()
        })
    }

    pub(super) fn node(self, id: NodeId) -> Option<GraphNode> {
        self.graph.with(|g| g.nodes.iter().find(|n| n.id == id).cloned())
    }

    pub(super) fn selected_nodes(self) -> Vec<NodeId> {
        self.selected.with_untracked(|s| {
            s.iter()
                .filter_map(|x| match x {
                    Sel::Node(id) => Some(*id),
                    _ => None,
                })
                .collect()
        })
    }

    pub(super) fn add_node(self) {
        let (w, h) = canvas_size();
        let (tx, ty, s) = self.view.get_untracked();
        let n = self.graph.with_untracked(|g| g.nodes.len());
        let id = NodeId::new();
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

    pub(super) fn connect(self) {
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
                        id: EdgeId::new(),
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

    pub(super) fn delete_selected(self) {
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

    pub(super) fn undo_last(self) {
        if let Some(inv) = self.undo.try_update(|u| u.pop()).flatten() {
            self.selected.set(vec![]);
            self.commit(inv, false);
        }
    }

    pub(super) fn fit(self) {
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

/// `base` plus the components whose centres lie in the box between two canvas points.
pub(super) fn box_selection(ed: Ed, a: (f64, f64), b: (f64, f64), base: &[Sel]) -> Vec<Sel> {
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
