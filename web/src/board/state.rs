//! The board's state shared by its parts, and its actions: load and show the board (and
//! the graph, for component names), move a ticket at once and then through the API.

use leptos::prelude::*;
use terarchitect_protocol::*;
use terarchitect_protocol::{ColumnId, NodeId, ProjectId, TicketId};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

use crate::api;
use crate::util;

#[derive(Clone, Copy)]
pub(super) struct BoardCtx {
    pub(super) project: ProjectId,
    pub(super) board: RwSignal<Option<Board>>,
    pub(super) graph: RwSignal<Option<Graph>>,
    pub(super) dragging: RwSignal<Option<TicketId>>,
    pub(super) drop_at: RwSignal<Option<(ColumnId, usize)>>,
    pub(super) moving: RwSignal<u32>,
    pub(super) error: RwSignal<Option<String>>,
    /// The ticket whose move into In Progress was refused, and what its run lacks.
    pub(super) not_ready: RwSignal<Option<(TicketId, Vec<String>)>>,
    pub(super) focus_after: RwSignal<Option<TicketId>>,
    /// Generation of the latest board request, and the oldest one still worth showing
    /// (a response to a request sent before a move finished would undo it on screen).
    pub(super) generation: RwSignal<u64>,
    pub(super) accept_from: RwSignal<u64>,
    /// The project's metered usage and token budgets, refreshed with the board.
    pub(super) usage: RwSignal<Option<ProjectUsage>>,
    /// The card that last had focus: only it carries the move buttons (keeps big boards light).
    pub(super) focused: RwSignal<Option<TicketId>>,
}

impl BoardCtx {
    pub(super) fn load(self) {
        let generation = self.generation.get_untracked() + 1;
        self.generation.set(generation);
        leptos::task::spawn_local(async move {
            match api::get::<Board>(&format!("/api/projects/{}/board", self.project)).await {
                Ok(_) if generation < self.accept_from.get_untracked() => {}
                Ok(b) => self.show(b),
                Err(e) => self.error.set(Some(format!("Could not load the board: {e}"))),
            }
            // Shown beside the board; a failure here leaves the last figures up.
            if let Ok(u) = api::get::<ProjectUsage>(&format!("/api/projects/{}/usage", self.project)).await {
                self.usage.set(Some(u));
            }
        });
    }

    /// Puts fresh data on screen and records how long rendering it took (the next
    /// animation frame comes after Leptos has updated the DOM).
    fn show(self, b: Board) {
        if self.dragging.get_untracked().is_some() || self.moving.get_untracked() > 0 {
            return; // a newer local state is on screen; the next poll catches up
        }
        let perf = window().performance();
        let t0 = perf.as_ref().map(|p| p.now()).unwrap_or(0.0);
        let count: usize = b.columns.iter().map(|c| c.tickets.len()).sum();
        self.board.set(Some(b));
        let cb = Closure::once_into_js(move || {
            let el = document().query_selector(".board").ok().flatten();
            if let Some(el) = &el {
                let _ = el.get_bounding_client_rect(); // include layout
            }
            let ms = window().performance().map(|p| p.now()).unwrap_or(0.0) - t0;
            if let Some(el) = el {
                let _ = el.set_attribute("data-render-ms", &format!("{ms:.1}"));
                let _ = el.set_attribute("data-ticket-count", &count.to_string());
            }
        });
        let _ = window().request_animation_frame(cb.unchecked_ref());
        self.error.set(None);
    }

    pub(super) fn load_graph(self) {
        leptos::task::spawn_local(async move {
            match api::get::<Graph>(&format!("/api/projects/{}/graph", self.project)).await {
                Ok(g) => self.graph.set(Some(g)),
                // Retried by the next poll while the graph is missing.
                Err(e) => self.error.set(Some(format!(
                    "Could not load the graph (component names on cards): {e}"
                ))),
            }
        });
    }

    pub(super) fn node_label(self, id: NodeId) -> Option<String> {
        self.graph.with(|g| {
            g.as_ref()
                .and_then(|g| g.nodes.iter().find(|n| n.id == id).map(|n| n.label.clone()))
        })
    }

    /// Moves a ticket on screen at once, then asks the API (which may queue a job).
    pub(super) fn move_ticket(self, ticket: TicketId, column: ColumnId, index: usize) {
        self.board.update(|b| {
            let Some(b) = b else { return };
            let mut moved = None;
            for c in b.columns.iter_mut() {
                if let Some(i) = c.tickets.iter().position(|t| t.id == ticket) {
                    moved = Some(c.tickets.remove(i));
                }
            }
            if let (Some(mut t), Some(c)) = (moved, b.columns.iter_mut().find(|c| c.column.id == column)) {
                t.column_id = column;
                let i = index.min(c.tickets.len());
                c.tickets.insert(i, t);
            }
        });
        self.moving.update(|m| *m += 1);
        self.focus_after.set(Some(ticket));
        let body = TicketMove {
            column_id: column,
            position: Some(index as i32),
        };
        let key = util::new_key();
        leptos::task::spawn_local(async move {
            let r = api::move_ticket(self.project, ticket, &body, &key).await;
            self.moving.update(|m| *m = m.saturating_sub(1));
            self.accept_from.set(self.generation.get_untracked() + 1);
            match r {
                Err(e) if e.code == "not_ready" => self.not_ready.set(Some((ticket, e.missing))),
                Err(e) => self.error.set(Some(format!("Could not move the ticket: {e}"))),
                Ok(_) => self.not_ready.update(|n| {
                    if n.as_ref().is_some_and(|(t, _)| *t == ticket) {
                        *n = None;
                    }
                }),
            }
            self.load();
        });
    }
}

pub(super) fn column_tickets(ctx: BoardCtx, column: ColumnId) -> Vec<Ticket> {
    ctx.board.with(|b| {
        b.as_ref()
            .and_then(|b| b.columns.iter().find(|c| c.column.id == column))
            .map(|c| c.tickets.clone())
            .unwrap_or_default()
    })
}

/// (column index, index in the column) of a ticket right now.
pub(super) fn locate(ctx: BoardCtx, ticket: TicketId) -> Option<(usize, usize)> {
    ctx.board.with_untracked(|b| {
        b.as_ref()?
            .columns
            .iter()
            .enumerate()
            .find_map(|(ci, c)| c.tickets.iter().position(|t| t.id == ticket).map(|i| (ci, i)))
    })
}

pub(super) fn column_at(ctx: BoardCtx, index: usize) -> Option<(ColumnId, usize)> {
    ctx.board.with_untracked(|b| {
        b.as_ref()
            .and_then(|b| b.columns.get(index))
            .map(|c| (c.column.id, c.tickets.len()))
    })
}
