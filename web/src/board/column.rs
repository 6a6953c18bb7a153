//! One column of the board: its cards, and where a dragged card lands (with a drop marker).

use leptos::prelude::*;
use terarchitect_protocol::TicketId;
use terarchitect_protocol::*;
use wasm_bindgen::JsCast;

use super::card::TicketCard;
use super::state::{BoardCtx, column_tickets};

/// Where a drop at `y` lands among the column's cards (the dragged card excluded),
/// and the card to mark: (card, before it?).
fn drop_index(list: &web_sys::Element, dragged: Option<TicketId>, y: f64) -> (usize, Option<(web_sys::Element, bool)>) {
    let mut index = 0;
    let mut last = None;
    let Ok(cards) = list.query_selector_all(".ticket-card") else {
        return (0, None);
    };
    for i in 0..cards.length() {
        let Some(card) = cards.item(i).and_then(|n| n.dyn_into::<web_sys::Element>().ok()) else {
            continue;
        };
        if dragged.is_some_and(|d| card.get_attribute("data-ticket-id").as_deref() == Some(&d.to_string())) {
            continue;
        }
        let r = card.get_bounding_client_rect();
        if y < r.top() + r.height() / 2.0 {
            return (index, Some((card, true)));
        }
        index += 1;
        last = Some(card);
    }
    (index, last.map(|c| (c, false)))
}

/// Removes the drop marker line.
pub(super) fn clear_marks() {
    if let Ok(marked) = document().query_selector_all(".drop-before, .drop-after") {
        for i in 0..marked.length() {
            if let Some(el) = marked.item(i).and_then(|n| n.dyn_into::<web_sys::Element>().ok()) {
                let _ = el.class_list().remove_2("drop-before", "drop-after");
            }
        }
    }
}

#[component]
pub(super) fn ColumnView(ctx: BoardCtx, column: Column) -> impl IntoView {
    let cid = column.id;
    let count = move || {
        ctx.board.with(|b| {
            b.as_ref()
                .and_then(|b| b.columns.iter().find(|c| c.column.id == cid))
                .map(|c| c.tickets.len())
                .unwrap_or(0)
        })
    };
    let on_over = move |ev: web_sys::DragEvent| {
        ev.prevent_default();
        if let Some(dt) = ev.data_transfer() {
            dt.set_drop_effect("move");
        }
        if let Some(list) = ev.current_target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
            let (i, mark) = drop_index(&list, ctx.dragging.get_untracked(), ev.client_y() as f64);
            if ctx.drop_at.get_untracked() != Some((cid, i)) {
                ctx.drop_at.set(Some((cid, i)));
                clear_marks();
                if let Some((card, before)) = mark {
                    let _ = card
                        .class_list()
                        .add_1(if before { "drop-before" } else { "drop-after" });
                }
            }
        }
    };
    let on_drop = move |ev: web_sys::DragEvent| {
        ev.prevent_default();
        let dragged = ctx.dragging.get_untracked().or_else(|| {
            ev.data_transfer()
                .and_then(|dt| dt.get_data("text/plain").ok())
                .and_then(|s| s.parse::<TicketId>().ok())
        });
        let index = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .map(|l| drop_index(&l, dragged, ev.client_y() as f64).0)
            .unwrap_or(usize::MAX);
        clear_marks();
        ctx.dragging.set(None);
        ctx.drop_at.set(None);
        if let Some(t) = dragged {
            ctx.move_ticket(t, cid, index);
        }
    };
    let role = column.role.map(|r| r.as_str()).unwrap_or("custom");
    view! {
        <section class="column" data-column-id=cid.to_string() data-role=role aria-label=column.title.clone()>
            <header class="column-head">
                <h2>{column.title.clone()}</h2>
                <span class="count">{count}</span>
            </header>
            <div
                class="column-list"
                class:drop-active=move || ctx.drop_at.with(|d| d.is_some_and(|(c, _)| c == cid))
                on:dragover=on_over
                on:dragleave=move |_| {}
                on:drop=on_drop
            >
                <For
                    each=move || column_tickets(ctx, cid)
                    key=|t| {
                        (
                            t.id,
                            t.updated_at,
                            t.job.as_ref().map(|j| (j.id, j.status.as_str())),
                            t.pr_url.clone(),
                        )
                    }
                    children=move |t| view! { <TicketCard ctx=ctx ticket=t /> }
                />
                <Show when=move || count() == 0>
                    <p class="column-empty">"Drop tickets here"</p>
                </Show>
            </div>
        </section>
    }
}
