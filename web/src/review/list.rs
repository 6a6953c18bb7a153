//! The Review tab: the project's tickets in review with their pull request's state.

use leptos::prelude::*;
use terarchitect_protocol::{ProjectId, ReviewListItem};

use super::error::{ReviewError, sentence};
use super::pr::state_badge;
use crate::api::{self, ApiError};
use crate::route::{Link, Route, Tab};
use crate::util::Loading;

/// The Review tab: tickets in review with their pull request's state.
#[component]
pub fn ReviewList(project: ProjectId) -> impl IntoView {
    let items = RwSignal::new(None::<Vec<ReviewListItem>>);
    let error = RwSignal::new(None::<ApiError>);
    let loading = RwSignal::new(false);
    let load = move || {
        loading.set(true);
        leptos::task::spawn_local(async move {
            match api::get_all::<ReviewListItem>(&format!("/api/projects/{project}/review")).await {
                Ok(v) => {
                    items.set(Some(v));
                    error.set(None);
                }
                Err(e) => error.set(Some(e)),
            }
            loading.set(false);
        });
    };
    load();
    view! {
        <div class="card review">
            <div class="card-head">
                <h2>"In review"</h2>
                <span class="spacer"></span>
                <button class="btn small" id="refresh-review" on:click=move |_| load() disabled=move || loading.get()>
                    {move || if loading.get() { "Refreshing…" } else { "Refresh" }}
                </button>
            </div>
            <p class="hint">
                "Tickets whose agent opened a pull request. Open one to read its commits and tests, comment, approve and merge."
            </p>
            <ReviewError error=error doing="Could not load the tickets in review" project=project />
            {move || match items.get() {
                None if error.with(|e| e.is_none()) => view! { <Loading what="tickets in review" /> }.into_any(),
                None => ().into_any(),
                Some(v) if v.is_empty() => view! { <p class="empty">"Nothing is waiting for review."</p> }.into_any(),
                Some(v) => {
                    let any_error = v.iter().any(|it| it.error.is_some());
                    view! {
                        <table class="review-list">
                            <thead>
                                <tr>
                                    <th>"Ticket"</th>
                                    <th>"Pull request"</th>
                                    <th>"State"</th>
                                    <th>"Approved"</th>
                                    <th>"Comments"</th>
                                    <th></th>
                                </tr>
                            </thead>
                            <tbody>
                                {v.into_iter().map(|it| view! { <ReviewRow project=project item=it /> }).collect_view()}
                            </tbody>
                        </table>
                        {any_error.then(|| view! {
                            <p class="hint" id="review-list-hint">
                                "Some pull requests could not be read from GitHub (the reason is under each ticket). Is GitHub set up? The token and API URL are in "
                                <Link to=Route::Settings class="settings-link">"Settings"</Link>
                                " (or the project's "
                                <Link to=Route::Project(project, Tab::Settings)>"own settings"</Link>
                                ")."
                            </p>
                        })}
                    }
                        .into_any()
                }
            }}
        </div>
    }
}

#[component]
fn ReviewRow(project: ProjectId, item: ReviewListItem) -> impl IntoView {
    let t = item.ticket;
    let tid = t.id;
    let pr = t.pr_url.clone().map(|u| {
        let label = t
            .pr_number
            .map(|n| format!("PR #{n}"))
            .unwrap_or_else(|| "Pull request".into());
        view! { <a class="pr-link" href=crate::util::web_href(&u) target="_blank" rel="noopener">{label}</a> }
    });
    view! {
        <tr class="review-row" data-ticket-id=tid.to_string()>
            <td>
                <Link to=Route::Ticket(project, tid) class="ticket-link">{t.title.clone()}</Link>
                {item.error.as_deref().map(|e| view! { <div class="field-error row-error">{format!("Could not read it from GitHub: {}", sentence(e))}</div> })}
            </td>
            <td>{pr}</td>
            <td>
                {match item.pr_state {
                    Some(s) => state_badge(s, false).into_any(),
                    None => view! { <span class="muted">"—"</span> }.into_any(),
                }}
            </td>
            <td class="approved">
                {match item.approved {
                    Some(true) => view! { <span class="badge ok">"approved"</span> }.into_any(),
                    Some(false) => view! { <span class="muted">"not yet"</span> }.into_any(),
                    None => view! { <span class="muted">"—"</span> }.into_any(),
                }}
            </td>
            <td class="comment-count">{item.comments.map(|n| n.to_string()).unwrap_or_else(|| "—".into())}</td>
            <td>
                <Link to=Route::Review(project, tid) class="btn small review-open">"Review →"</Link>
            </td>
        </tr>
    }
}
