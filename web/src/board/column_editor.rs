//! The column editor: add, rename, reorder and delete (custom, empty) columns.

use leptos::prelude::*;
use terarchitect_protocol::*;

use super::state::BoardCtx;
use crate::api;
use crate::util::ErrorNote;

#[component]
pub(super) fn ColumnEditor(ctx: BoardCtx) -> impl IntoView {
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
