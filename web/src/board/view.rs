//! The board: toolbar, polling while the tab is visible, the columns.

use std::time::Duration;
use terarchitect_protocol::prices::usd_text;
use terarchitect_protocol::{ProjectId, ProjectUsage};

use leptos::prelude::*;

use super::column::ColumnView;
use super::column_editor::ColumnEditor;
use super::new_ticket::NewTicketForm;
use super::not_ready::NotReadyBanner;
use super::state::BoardCtx;
use crate::util::{self, ErrorNote, Loading};

const POLL: Duration = Duration::from_secs(3);

#[component]
pub fn BoardView(project: ProjectId) -> impl IntoView {
    let ctx = BoardCtx {
        project,
        board: RwSignal::new(None),
        graph: RwSignal::new(None),
        dragging: RwSignal::new(None),
        drop_at: RwSignal::new(None),
        moving: RwSignal::new(0),
        error: RwSignal::new(None),
        not_ready: RwSignal::new(None),
        focus_after: RwSignal::new(None),
        focused: RwSignal::new(None),
        usage: RwSignal::new(None),
        generation: RwSignal::new(0),
        accept_from: RwSignal::new(0),
    };
    ctx.load();
    ctx.load_graph();
    if let Ok(h) = set_interval_with_handle(
        move || {
            if util::page_visible() && ctx.dragging.get_untracked().is_none() {
                ctx.load();
                if ctx.graph.with_untracked(|g| g.is_none()) {
                    ctx.load_graph();
                }
            }
        },
        POLL,
    ) {
        on_cleanup(move || h.clear());
    }
    let creating = RwSignal::new(false);
    let editing_columns = RwSignal::new(false);

    view! {
        <div class="board-toolbar">
            <button class="btn primary" id="new-ticket" on:click=move |_| creating.update(|c| *c = !*c)>
                {move || if creating.get() { "Close" } else { "New ticket" }}
            </button>
            <button class="btn" id="edit-columns" on:click=move |_| editing_columns.update(|c| *c = !*c)>
                {move || if editing_columns.get() { "Done editing columns" } else { "Edit columns" }}
            </button>
            <span class="hint">
                "Drag cards between columns, or focus a card and use the arrow keys. Moving a ticket to In Progress starts an agent."
            </span>
            <span class="spacer"></span>
            {move || ctx.usage.get().map(|u| view! { <span class="usage muted small" id="project-usage">{usage_text(&u)}</span> })}
        </div>
        <ErrorNote error=ctx.error />
        <NotReadyBanner project=project not_ready=ctx.not_ready />
        <Show when=move || creating.get()>
            <NewTicketForm ctx=ctx on_done=Callback::new(move |_| creating.set(false)) />
        </Show>
        <Show when=move || editing_columns.get()>
            <ColumnEditor ctx=ctx />
        </Show>
        {move || {
            if ctx.board.with(|b| b.is_none()) {
                if ctx.error.with(|e| e.is_none()) {
                    return view! { <Loading what="the board" /> }.into_any();
                }
                return ().into_any();
            }
            view! {
                <div class="board">
                    <For
                        each=move || {
                            ctx.board
                                .with(|b| {
                                    b.as_ref()
                                        .map(|b| {
                                            b.columns
                                                .iter()
                                                .enumerate()
                                                .map(|(i, c)| (i, c.column.clone()))
                                                .collect::<Vec<_>>()
                                        })
                                        .unwrap_or_default()
                                })
                        }
                        key=|(i, c)| (*i, c.id, c.title.clone())
                        children=move |(_, c)| view! { <ColumnView ctx=ctx column=c /> }
                    />
                </div>
            }
                .into_any()
        }}
    }
}

/// The project's LLM use and what is left of its budgets.
pub(super) fn usage_text(u: &ProjectUsage) -> String {
    let mut used = format!("{} tokens", util::thousands(u.tokens()));
    if u.cost_nano_usd > 0 || u.budget_nano_usd.is_some() {
        used.push_str(&format!(" ({})", usd_text(u.cost_nano_usd)));
    }
    used.push_str(" used");
    match util::budget_state(u.tokens(), u.cost_nano_usd, u.budget_tokens, u.budget_nano_usd) {
        Some(util::BudgetState::Spent(b)) => format!("{used}: the project's budget of {b} is spent"),
        Some(util::BudgetState::Left(left)) => format!("{used}, {} left", left.join(" and ")),
        None => used,
    }
}
