//! The ticket's comments (the agent reads them with the ticket); add one.

use leptos::prelude::*;
use terarchitect_protocol::*;
use terarchitect_protocol::{ProjectId, TicketId};

use crate::api;
use crate::util::{self, ErrorNote, Loading};

/// The ticket's comments (the agent reads them with the ticket); add one.
#[component]
pub(super) fn Comments(project: ProjectId, ticket: TicketId) -> impl IntoView {
    let path = format!("/api/projects/{project}/tickets/{ticket}/comments");
    let comments = RwSignal::new(None::<Vec<TicketComment>>);
    let load_error = RwSignal::new(None::<String>);
    let body = RwSignal::new(String::new());
    let error = RwSignal::new(None::<api::ApiError>);
    let posting = RwSignal::new(false);
    {
        let path = path.clone();
        leptos::task::spawn_local(async move {
            match api::get_all::<TicketComment>(&path).await {
                Ok(c) => comments.set(Some(c)),
                Err(e) => load_error.set(Some(format!("Could not load the comments: {e}"))),
            }
        });
    }
    let add = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let c = NewComment {
            body: body.get_untracked(),
        };
        if let Err(e) = c.validate() {
            error.set(Some(api::ApiError::local(&e.field, &e.message)));
            return;
        }
        error.set(None);
        posting.set(true);
        let path = path.clone();
        leptos::task::spawn_local(async move {
            match api::post::<_, TicketComment>(&path, &c).await {
                Ok(c) => {
                    body.set(String::new());
                    comments.update(|cs| cs.get_or_insert_with(Vec::new).push(c));
                }
                Err(e) => error.set(Some(e)),
            }
            posting.set(false);
        });
    };
    view! {
        <div class="card comments">
            <h2>
                "Comments"
                {move || comments.with(|c| c.as_ref().map(|c| view! { <span class="count">{c.len()}</span> }))}
            </h2>
            <p class="hint">"The agent reads these with the ticket on its next run."</p>
            <ErrorNote error=load_error />
            {move || match comments.get() {
                None if load_error.with(|e| e.is_none()) => view! { <Loading what="comments" /> }.into_any(),
                None => ().into_any(),
                Some(cs) if cs.is_empty() => view! { <p class="empty">"No comments yet."</p> }.into_any(),
                Some(cs) => {
                    view! {
                        <ol class="comment-list">
                            {cs
                                .into_iter()
                                .map(|c| {
                                    view! {
                                        <li class="comment" data-comment-id=c.id.to_string()>
                                            <div class="event-head">
                                                <strong>{c.author}</strong>
                                                <span class="muted small">{util::time_text(c.created_at)}</span>
                                            </div>
                                            <p class="summary">{c.body}</p>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ol>
                    }
                        .into_any()
                }
            }}
            <form class="form" id="comment-form" on:submit=add novalidate>
                <label>
                    "Add a comment"
                    <textarea
                        name="comment"
                        rows="3"
                        placeholder="Context, a decision, a hint for the agent…"
                        prop:value=move || body.get()
                        on:input=move |ev| {
                            body.set(event_target_value(&ev));
                            error.set(None);
                        }
                    ></textarea>
                    {move || error.with(|e| e.as_ref().and_then(|e| e.for_field("body"))).map(|m| view! { <span class="field-error">{m}</span> })}
                </label>
                {move || error.get().filter(|e| e.field.is_none()).map(|e| view! { <p class="error" role="alert">{format!("Could not add the comment: {e}")}</p> })}
                <button class="btn" type="submit" id="add-comment" disabled=move || posting.get()>
                    {move || if posting.get() { "Adding…" } else { "Add comment" }}
                </button>
            </form>
        </div>
    }
}
