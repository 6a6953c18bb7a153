//! The Kanban board: ordered columns and tickets, drag-and-drop and keyboard moves,
//! live job states (polled while the tab is visible), ticket creation, column editing.

use std::time::Duration;

use leptos::prelude::*;
use terarchitect_protocol::*;
use uuid::Uuid;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

use crate::api;
use crate::route::{Link, Route};
use crate::util::{self, ErrorNote, Loading};

const POLL: Duration = Duration::from_secs(3);

#[derive(Clone, Copy)]
struct BoardCtx {
    project: Uuid,
    board: RwSignal<Option<Board>>,
    graph: RwSignal<Option<Graph>>,
    dragging: RwSignal<Option<Uuid>>,
    drop_at: RwSignal<Option<(Uuid, usize)>>,
    moving: RwSignal<u32>,
    error: RwSignal<Option<String>>,
    focus_after: RwSignal<Option<Uuid>>,
    /// Generation of the latest board request, and the oldest one still worth showing
    /// (a response to a request sent before a move finished would undo it on screen).
    generation: RwSignal<u64>,
    accept_from: RwSignal<u64>,
    /// The card that last had focus: only it carries the move buttons (keeps big boards light).
    focused: RwSignal<Option<Uuid>>,
}

impl BoardCtx {
    fn load(self) {
        let generation = self.generation.get_untracked() + 1;
        self.generation.set(generation);
        leptos::task::spawn_local(async move {
            match api::get::<Board>(&format!("/api/projects/{}/board", self.project)).await {
                Ok(_) if generation < self.accept_from.get_untracked() => {}
                Ok(b) => self.show(b),
                Err(e) => self.error.set(Some(format!("Could not load the board: {e}"))),
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

    fn load_graph(self) {
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

    fn node_label(self, id: Uuid) -> Option<String> {
        self.graph.with(|g| {
            g.as_ref()
                .and_then(|g| g.nodes.iter().find(|n| n.id == id).map(|n| n.label.clone()))
        })
    }

    /// Moves a ticket on screen at once, then asks the API (which may queue a job).
    fn move_ticket(self, ticket: Uuid, column: Uuid, index: usize) {
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
            if let Err(e) = r {
                self.error.set(Some(format!("Could not move the ticket: {e}")));
            }
            self.load();
        });
    }
}

#[component]
pub fn BoardView(project: Uuid) -> impl IntoView {
    let ctx = BoardCtx {
        project,
        board: RwSignal::new(None),
        graph: RwSignal::new(None),
        dragging: RwSignal::new(None),
        drop_at: RwSignal::new(None),
        moving: RwSignal::new(0),
        error: RwSignal::new(None),
        focus_after: RwSignal::new(None),
        focused: RwSignal::new(None),
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
        </div>
        <ErrorNote error=ctx.error />
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

fn column_tickets(ctx: BoardCtx, column: Uuid) -> Vec<Ticket> {
    ctx.board.with(|b| {
        b.as_ref()
            .and_then(|b| b.columns.iter().find(|c| c.column.id == column))
            .map(|c| c.tickets.clone())
            .unwrap_or_default()
    })
}

/// (column index, index in the column) of a ticket right now.
fn locate(ctx: BoardCtx, ticket: Uuid) -> Option<(usize, usize)> {
    ctx.board.with_untracked(|b| {
        b.as_ref()?
            .columns
            .iter()
            .enumerate()
            .find_map(|(ci, c)| c.tickets.iter().position(|t| t.id == ticket).map(|i| (ci, i)))
    })
}

fn column_at(ctx: BoardCtx, index: usize) -> Option<(Uuid, usize)> {
    ctx.board.with_untracked(|b| {
        b.as_ref()
            .and_then(|b| b.columns.get(index))
            .map(|c| (c.column.id, c.tickets.len()))
    })
}

/// Where a drop at `y` lands among the column's cards (the dragged card excluded),
/// and the card to mark: (card, before it?).
fn drop_index(list: &web_sys::Element, dragged: Option<Uuid>, y: f64) -> (usize, Option<(web_sys::Element, bool)>) {
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
fn clear_marks() {
    if let Ok(marked) = document().query_selector_all(".drop-before, .drop-after") {
        for i in 0..marked.length() {
            if let Some(el) = marked.item(i).and_then(|n| n.dyn_into::<web_sys::Element>().ok()) {
                let _ = el.class_list().remove_2("drop-before", "drop-after");
            }
        }
    }
}

#[component]
fn ColumnView(ctx: BoardCtx, column: Column) -> impl IntoView {
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
                .and_then(|s| Uuid::parse_str(&s).ok())
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

#[component]
fn TicketCard(ctx: BoardCtx, ticket: Ticket) -> impl IntoView {
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
    let aria = format!("{} ({} priority)", ticket.title, priority);
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
            <div class="card-foot">
                {ticket
                    .pr_url
                    .clone()
                    .map(|u| {
                        let label = ticket.pr_number.map(|n| format!("PR #{n}")).unwrap_or_else(|| "Pull request".into());
                        view! {
                            <a class="pr-link" href=u target="_blank" rel="noopener">
                                {label}
                            </a>
                        }
                    })}
                {ticket
                    .pr_url
                    .is_some()
                    .then(|| view! { <Link to=Route::Review(pid, tid) class="review-link">"Review"</Link> })}
                {(tokens > 0).then(|| view! { <span class="muted small">{util::thousands(tokens)} " tokens"</span> })}
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

#[component]
fn NewTicketForm(ctx: BoardCtx, on_done: Callback<()>) -> impl IntoView {
    let title = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let priority = RwSignal::new(Priority::Medium);
    let whole = RwSignal::new(false);
    let nodes = RwSignal::new(Vec::<Uuid>::new());
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

#[component]
fn ColumnEditor(ctx: BoardCtx) -> impl IntoView {
    let new_title = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let pid = ctx.project;
    let run = move |fut: std::pin::Pin<Box<dyn std::future::Future<Output = api::ApiResult<()>>>>| {
        leptos::task::spawn_local(async move {
            match fut.await {
                Ok(()) => {
                    error.set(None);
                    ctx.load();
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let add = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let c = NewColumn {
            title: new_title.get_untracked(),
            position: None,
        };
        if let Err(e) = c.validate() {
            error.set(Some(format!("Column title {}", e.message)));
            return;
        }
        new_title.set(String::new());
        run(Box::pin(async move {
            api::post::<_, Column>(&format!("/api/projects/{pid}/columns"), &c)
                .await
                .map(|_| ())
        }));
    };
    view! {
        <div class="card column-editor">
            <h2>"Columns"</h2>
            <ul class="column-rows">
                // Keyed rows: a board refresh with the same columns keeps a title being edited.
                <For
                    each=move || {
                        let cols: Vec<(Column, usize)> = ctx
                            .board
                            .with(|b| {
                                b.as_ref().map(|b| b.columns.iter().map(|c| (c.column.clone(), c.tickets.len())).collect())
                            })
                            .unwrap_or_default();
                        let last = cols.len().saturating_sub(1);
                        cols.into_iter().enumerate().map(|(i, (c, n))| (i, c, n, last)).collect::<Vec<_>>()
                    }
                    key=|(i, c, n, last)| (*i, c.id, c.title.clone(), c.position, *n, *last)
                    children=move |(i, c, n, last)| {
                            let title = RwSignal::new(c.title.clone());
                            let cid = c.id;
                            let pos = c.position;
                            let deletable = c.role.is_none() && n == 0;
                            let why = if c.role.is_some() {
                                "Built-in columns cannot be deleted"
                            } else if n > 0 {
                                "Move its tickets out first"
                            } else {
                                "Delete this column"
                            };
                            view! {
                                <li class="column-row" data-column-id=cid.to_string()>
                                    <input
                                        class="column-title"
                                        aria-label="Column title"
                                        prop:value=move || title.get()
                                        on:input=move |ev| title.set(event_target_value(&ev))
                                    />
                                    <button
                                        class="btn small"
                                        on:click=move |_| {
                                            let p = ColumnPatch { title: Some(title.get_untracked()), position: None };
                                            if let Err(e) = p.validate() {
                                                error.set(Some(format!("Column title {}", e.message)));
                                                return;
                                            }
                                            run(Box::pin(async move {
                                                api::patch::<_, Column>(&format!("/api/projects/{pid}/columns/{cid}"), &p).await.map(|_| ())
                                            }))
                                        }
                                    >
                                        "Rename"
                                    </button>
                                    <button
                                        class="btn small"
                                        disabled=i == 0
                                        aria-label="Move column left"
                                        on:click=move |_| {
                                            let p = ColumnPatch { title: None, position: Some((pos - 1).max(0)) };
                                            run(Box::pin(async move {
                                                api::patch::<_, Column>(&format!("/api/projects/{pid}/columns/{cid}"), &p).await.map(|_| ())
                                            }))
                                        }
                                    >
                                        "◀"
                                    </button>
                                    <button
                                        class="btn small"
                                        disabled=i == last
                                        aria-label="Move column right"
                                        on:click=move |_| {
                                            let p = ColumnPatch { title: None, position: Some(pos + 1) };
                                            run(Box::pin(async move {
                                                api::patch::<_, Column>(&format!("/api/projects/{pid}/columns/{cid}"), &p).await.map(|_| ())
                                            }))
                                        }
                                    >
                                        "▶"
                                    </button>
                                    <button
                                        class="btn small danger"
                                        disabled=!deletable
                                        title=why
                                        on:click=move |_| {
                                            run(Box::pin(async move { api::delete(&format!("/api/projects/{pid}/columns/{cid}")).await }))
                                        }
                                    >
                                        "Delete"
                                    </button>
                                    <span class="muted small">{format!("{n} tickets")}</span>
                                </li>
                            }
                    }
                />
            </ul>
            <form class="row" on:submit=add>
                <input
                    name="new_column"
                    placeholder="New column title"
                    prop:value=move || new_title.get()
                    on:input=move |ev| new_title.set(event_target_value(&ev))
                />
                <button class="btn" type="submit">
                    "Add column"
                </button>
            </form>
            <ErrorNote error=error />
        </div>
    }
}
