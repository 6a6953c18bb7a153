//! A tiny history-API router: the path is the state, links push it.

use leptos::prelude::*;
use terarchitect_protocol::{ProjectId, TicketId};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Board,
    Graph,
    Review,
    Settings,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Board, Tab::Graph, Tab::Review, Tab::Settings];
    pub fn slug(self) -> &'static str {
        match self {
            Tab::Board => "board",
            Tab::Graph => "graph",
            Tab::Review => "review",
            Tab::Settings => "settings",
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            Tab::Board => "Board",
            Tab::Graph => "Graph",
            Tab::Review => "Review",
            Tab::Settings => "Settings",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Projects,
    Settings,
    Project(ProjectId, Tab),
    Ticket(ProjectId, TicketId),
    /// A ticket's pull request under review.
    Review(ProjectId, TicketId),
    NotFound,
}

impl Route {
    pub fn parse(path: &str) -> Route {
        let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        fn id<T: std::str::FromStr>(s: &str) -> Option<T> {
            s.parse().ok()
        }
        match parts.as_slice() {
            [] | ["projects"] => Route::Projects,
            ["settings"] => Route::Settings,
            ["projects", p] => id(p).map_or(Route::NotFound, |p| Route::Project(p, Tab::Board)),
            ["projects", p, "tickets", t] => match (id(p), id(t)) {
                (Some(p), Some(t)) => Route::Ticket(p, t),
                _ => Route::NotFound,
            },
            ["projects", p, "tickets", t, "review"] => match (id(p), id(t)) {
                (Some(p), Some(t)) => Route::Review(p, t),
                _ => Route::NotFound,
            },
            ["projects", p, tab] => match (id(p), Tab::ALL.into_iter().find(|t| t.slug() == *tab)) {
                (Some(p), Some(t)) => Route::Project(p, t),
                _ => Route::NotFound,
            },
            _ => Route::NotFound,
        }
    }

    pub fn path(self) -> String {
        match self {
            Route::Projects | Route::NotFound => "/".into(),
            Route::Settings => "/settings".into(),
            Route::Project(p, Tab::Board) => format!("/projects/{p}"),
            Route::Project(p, t) => format!("/projects/{p}/{}", t.slug()),
            Route::Ticket(p, t) => format!("/projects/{p}/tickets/{t}"),
            Route::Review(p, t) => format!("/projects/{p}/tickets/{t}/review"),
        }
    }
}

fn current_path() -> String {
    window().location().pathname().unwrap_or_default()
}

/// The current route, shared through context.
#[derive(Clone, Copy)]
pub struct Router(pub RwSignal<Route>);

pub fn provide_router() -> Router {
    let r = Router(RwSignal::new(Route::parse(&current_path())));
    let on_pop = Closure::<dyn Fn()>::new(move || r.0.set(Route::parse(&current_path())));
    let _ = window().add_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref());
    on_pop.forget();
    ROUTER.with(|c| c.set(Some(r.0)));
    r
}

thread_local! {
    static ROUTER: std::cell::Cell<Option<RwSignal<Route>>> = const { std::cell::Cell::new(None) };
}

/// The app's route signal (set once at start-up; usable from event handlers too).
pub fn use_route() -> RwSignal<Route> {
    ROUTER.with(|c| c.get()).expect("router initialised")
}

pub fn navigate(to: Route) {
    let path = to.path();
    if current_path() != path {
        let _ = window()
            .history()
            .and_then(|h| h.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path)));
    }
    use_route().set(to);
    window().scroll_to_with_x_and_y(0.0, 0.0);
}

/// An `<a>` that navigates without reloading (and still works with middle-click).
#[component]
pub fn Link(to: Route, #[prop(optional, into)] class: String, children: Children) -> impl IntoView {
    view! {
        <a
            href=to.path()
            class=class
            on:click=move |ev: web_sys::MouseEvent| {
                if ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.button() != 0 {
                    return;
                }
                ev.prevent_default();
                navigate(to);
            }
        >
            {children()}
        </a>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        let p = ProjectId::new();
        let t = TicketId::new();
        for r in [
            Route::Projects,
            Route::Settings,
            Route::Project(p, Tab::Board),
            Route::Project(p, Tab::Graph),
            Route::Project(p, Tab::Review),
            Route::Project(p, Tab::Settings),
            Route::Ticket(p, t),
            Route::Review(p, t),
        ] {
            assert_eq!(Route::parse(&r.path()), r, "{}", r.path());
        }
        assert_eq!(Route::parse("/projects/nope"), Route::NotFound);
        assert_eq!(Route::parse(&format!("/projects/{p}/nope")), Route::NotFound);
        assert_eq!(Route::parse(&format!("/projects/{p}/")), Route::Project(p, Tab::Board));
        assert_eq!(
            Route::parse(&format!("/projects/{p}/tickets/{t}/nope")),
            Route::NotFound
        );
        assert_eq!(
            Route::parse(&format!("/projects/{p}/tickets/x/review")),
            Route::NotFound
        );
    }
}
