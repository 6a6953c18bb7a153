//! Terarchitect UI: sign in with an API token, projects, the Kanban board, the
//! architecture graph, tickets with their live execution logs and comments, reviewing
//! their pull requests, and settings.

mod api;
mod board;
mod graph;
mod markdown;
mod projects;
mod review;
mod route;
mod settings;
mod ticket;
mod util;

use leptos::prelude::*;
use route::{Link, Route, Tab};
use terarchitect_protocol::ProjectId;

fn main() {
    console_error_panic_hook::set_once();
    mount_to_body(App);
}

/// Whether a token is stored: flipping it re-renders the whole app.
#[derive(Clone, Copy)]
pub struct Auth(pub RwSignal<bool>);

#[component]
fn App() -> impl IntoView {
    let route = route::provide_router();
    let auth = Auth(RwSignal::new(api::stored_token().is_some()));
    provide_context(auth);
    util::start_clock();

    view! {
        <Show when=move || auth.0.get() fallback=move || view! { <SignIn /> }>
            <header class="topbar">
                <Link to=Route::Projects class="brand">
                    "Terarchitect"
                </Link>
                <nav>
                    <Link to=Route::Projects>"Projects"</Link>
                    <Link to=Route::Settings>"Settings"</Link>
                    <button
                        class="btn ghost"
                        id="sign-out"
                        on:click=move |_| {
                            api::store_token(None);
                            auth.0.set(false);
                        }
                    >
                        "Sign out"
                    </button>
                </nav>
            </header>
            <main>
                {move || match route.0.get() {
                    Route::Projects => view! { <projects::ProjectsPage /> }.into_any(),
                    Route::Settings => {
                        view! {
                            <section class="page">
                                <h1>"Settings"</h1>
                                <p class="hint">
                                    "Global settings apply to every project unless a project overrides them."
                                </p>
                                <settings::SettingsForm project=None />
                            </section>
                        }
                            .into_any()
                    }
                    Route::Project(p, tab) => view! { <projects::ProjectPage id=p tab=tab /> }.into_any(),
                    Route::Ticket(p, t) => view! { <ticket::TicketPage project=p ticket=t /> }.into_any(),
                    Route::Review(p, t) => view! { <review::ReviewPage project=p ticket=t /> }.into_any(),
                    Route::NotFound => {
                        view! {
                            <section class="page">
                                <h1>"Not found"</h1>
                                <p>"There is nothing at this address. "</p>
                                <Link to=Route::Projects>"Back to projects"</Link>
                            </section>
                        }
                            .into_any()
                    }
                }}
            </main>
        </Show>
    }
}

#[component]
fn SignIn() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let token = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let t = token.get_untracked().trim().to_string();
        if t.is_empty() {
            error.set(Some("Paste an API token (mint one with `./dev token NAME`).".into()));
            return;
        }
        busy.set(true);
        error.set(None);
        api::store_token(Some(&t));
        leptos::task::spawn_local(async move {
            // A route behind a user token (the health check needs none).
            match api::get::<serde_json::Value>("/api/projects?limit=1").await {
                Ok(_) => auth.0.set(true),
                Err(e) => {
                    api::store_token(None);
                    error.set(Some(if matches!(e.status, 401 | 403) {
                        "That token was not accepted. Check that you copied all of it and that it is a user token."
                            .into()
                    } else {
                        e.to_string()
                    }));
                }
            }
            busy.set(false);
        });
    };
    view! {
        <div class="signin">
            <form class="card signin-card" on:submit=submit>
                <h1>"Terarchitect"</h1>
                <p class="hint">"Sign in with your API token. It is kept only for this browser tab."</p>
                <label for="token">"API token"</label>
                <input
                    id="token"
                    type="password"
                    autocomplete="off"
                    placeholder="tt_..."
                    prop:value=move || token.get()
                    on:input=move |ev| token.set(event_target_value(&ev))
                />
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <button class="btn primary" type="submit" id="sign-in" disabled=move || busy.get()>
                    {move || if busy.get() { "Checking…" } else { "Sign in" }}
                </button>
            </form>
        </div>
    }
}

/// Tabs of a project page.
#[component]
pub fn Tabs(project: ProjectId, current: Tab) -> impl IntoView {
    view! {
        <nav class="tabs" role="tablist">
            {Tab::ALL
                .into_iter()
                .map(|t| {
                    let class = if t == current { "tab active" } else { "tab" };
                    view! {
                        <Link to=Route::Project(project, t) class=class>
                            {t.title()}
                        </Link>
                    }
                })
                .collect_view()}
        </nav>
    }
}
