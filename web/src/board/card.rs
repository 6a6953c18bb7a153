//! One ticket's card: dragging it, moving it with the keyboard, its components and the
//! latest run's state.

use leptos::prelude::*;
use terarchitect_protocol::prices::usd_text;
use terarchitect_protocol::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

use super::column::clear_marks;
use super::state::{BoardCtx, column_at, locate};
use crate::route::{Link, Route};
use crate::util;

#[component]
pub(super) fn TicketCard(ctx: BoardCtx, ticket: Ticket) -> impl IntoView {
    let tid = ticket.id;
    let pid = ctx.project;
    let keyboard_move = move |dx: i32, dy: i32| {
        let Some((column_index, index)) = locate(ctx, tid) else {
            return;
        };
        let Some((column, len)) = column_at(ctx, column_index) else {
            return;
        };
        if dx != 0 {
            let target = column_index as i32 + dx;
            if target < 0 {
                return;
            }
            if let Some((c, len)) = column_at(ctx, target as usize) {
                ctx.move_ticket(tid, c, len);
            }
        } else {
            let to = index as i32 + dy;
            if to >= 0 && (to as usize) < len {
                ctx.move_ticket(tid, column, to as usize);
            }
        }
    };
    let on_key = move |ev: web_sys::KeyboardEvent| {
        let target_is_card = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|e| e.class_list().contains("ticket-card"));
        if !target_is_card {
            return;
        }
        let (dx, dy) = match ev.key().as_str() {
            "ArrowLeft" => (-1, 0),
            "ArrowRight" => (1, 0),
            "ArrowUp" => (0, -1),
            "ArrowDown" => (0, 1),
            "Enter" => {
                crate::route::navigate(Route::Ticket(pid, tid));
                return;
            }
            _ => return,
        };
        ev.prevent_default();
        keyboard_move(dx, dy);
    };
    let priority = ticket.priority.as_str();
    let job = ticket.job.clone();
    let chips = ticket
        .node_ids
        .iter()
        .take(4)
        .map(|id| {
            let id = *id;
            view! { <li class="chip">{move || ctx.node_label(id).unwrap_or_else(|| "component".into())}</li> }
        })
        .collect_view();
    let more = ticket.node_ids.len().saturating_sub(4);
    let tokens = ticket.input_tokens + ticket.output_tokens;
    let cost = ticket.cost_nano_usd;
    let aria = format!("{} ({} priority)", ticket.title, priority);
    // Which version of the ticket this copy shows (ms since the epoch), so a test can tell
    // the copy the server's answer rendered from the optimistic one.
    let version = ticket.updated_at.timestamp_millis().to_string();
    // A card the keyboard just moved is rendered anew in its place (and again when the
    // server answers): each new copy takes the focus back once laid out, unless the user
    // has focused something else meanwhile.
    let card_ref = NodeRef::<leptos::html::Article>::new();
    Effect::new(move |_| {
        if let Some(card) = card_ref.get()
            && ctx.focus_after.get_untracked() == Some(tid)
        {
            let cb = Closure::once_into_js(move || {
                let nothing_focused = document().active_element().is_none_or(|a| a.tag_name() == "BODY");
                if nothing_focused {
                    let _ = card.focus();
                }
            });
            let _ = window().request_animation_frame(cb.unchecked_ref());
        }
    });
    view! {
        <article
            class=format!("ticket-card prio-{priority}")
            draggable="true"
            tabindex="0"
            data-ticket-id=tid.to_string()
            data-version=version
            aria-label=aria
            aria-keyshortcuts="ArrowLeft ArrowRight ArrowUp ArrowDown Enter"
            node_ref=card_ref
            on:focusin=move |_| {
                if ctx.focus_after.get_untracked().is_some_and(|f| f != tid) {
                    ctx.focus_after.set(None);
                }
                if ctx.focused.get_untracked() != Some(tid) {
                    ctx.focused.set(Some(tid));
                }
            }
            on:dragstart=move |ev: web_sys::DragEvent| {
                if let Some(el) = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
                    let _ = el.class_list().add_1("dragging");
                }
                if let Some(dt) = ev.data_transfer() {
                    let _ = dt.set_data("text/plain", &tid.to_string());
                    dt.set_effect_allowed("move");
                }
                ctx.dragging.set(Some(tid));
            }
            on:dragend=move |ev: web_sys::DragEvent| {
                if let Some(el) = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
                    let _ = el.class_list().remove_1("dragging");
                }
                ctx.dragging.set(None);
                ctx.drop_at.set(None);
                clear_marks();
            }
            on:keydown=on_key
        >
            <div class="card-top">
                <span class=format!("prio prio-{priority}")>{priority}</span>
                {job
                    .map(|j| {
                        let status = j.status.as_str();
                        view! {
                            <span class=format!("job job-{status}") data-job-status=status>
                                {move || util::summary_elapsed(&j)}
                            </span>
                        }
                    })}
            </div>
            <Link to=Route::Ticket(pid, tid) class="card-title">
                {ticket.title.clone()}
            </Link>
            {(!ticket.node_ids.is_empty() || ticket.whole_graph)
                .then(|| {
                    view! {
                        <ul class="chips">
                            {ticket.whole_graph.then(|| view! { <li class="chip">"whole graph"</li> })}
                            {chips}
                            {(more > 0).then(|| view! { <li class="chip">{format!("+{more}")}</li> })}
                        </ul>
                    }
                })}
            <Show when=move || ctx.not_ready.with(|n| n.as_ref().is_some_and(|(t, _)| *t == tid))>
                <p class="card-not-ready">"Not started: a run needs settings that are missing"</p>
            </Show>
            <div class="card-foot">
                {ticket
                    .pr_url
                    .clone()
                    .map(|u| {
                        let label = ticket.pr_number.map(|n| format!("PR #{n}")).unwrap_or_else(|| "Pull request".into());
                        view! {
                            <a class="pr-link" href=crate::util::web_href(&u) target="_blank" rel="noopener">
                                {label}
                            </a>
                        }
                    })}
                {ticket
                    .pr_url
                    .is_some()
                    .then(|| view! { <Link to=Route::Review(pid, tid) class="review-link">"Review"</Link> })}
                {move || {
                    let limits = ctx.usage.with(|u| u.as_ref().map(|u| (u.ticket_budget_tokens, u.ticket_budget_nano_usd)));
                    let (limit_tokens, limit_usd) = limits.unwrap_or_default();
                    match util::card_budget(tokens, cost, limit_tokens, limit_usd) {
                        Some((text, true)) => Some(view! {
                            <span class="small card-budget spent" title="This ticket's budget is spent: raise ticket_budget_tokens or ticket_budget_usd to run it again">
                                {text} ": budget spent"
                            </span>
                        }.into_any()),
                        Some((text, false)) => Some(view! { <span class="muted small card-budget">{text}</span> }.into_any()),
                        None => (tokens > 0).then(|| {
                            let text = match cost {
                                0 => format!("{} tokens", util::thousands(tokens)),
                                c => format!("{} tokens · {}", util::thousands(tokens), usd_text(c)),
                            };
                            view! { <span class="muted small">{text}</span> }.into_any()
                        }),
                    }
                }}
                <Show when=move || ctx.focused.get() == Some(tid)>
                <span class="card-moves">
                    <button class="icon" title="Move to the previous column" aria-label="Move left" on:click=move |_| keyboard_move(-1, 0)>
                        "◀"
                    </button>
                    <button class="icon" title="Move up" aria-label="Move up" on:click=move |_| keyboard_move(0, -1)>
                        "▲"
                    </button>
                    <button class="icon" title="Move down" aria-label="Move down" on:click=move |_| keyboard_move(0, 1)>
                        "▼"
                    </button>
                    <button class="icon" title="Move to the next column" aria-label="Move right" on:click=move |_| keyboard_move(1, 0)>
                        "▶"
                    </button>
                </span>
                </Show>
            </div>
        </article>
    }
}
