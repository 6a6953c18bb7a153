//! Small pieces of a pull request as shown: its state badge, commit lines.

use leptos::prelude::*;
use terarchitect_protocol::PrState;

/// Words for a PR state (the protocol's enum serialises the same).
fn state_str(s: PrState) -> &'static str {
    match s {
        PrState::Open => "open",
        PrState::Closed => "closed",
        PrState::Merged => "merged",
    }
}

pub(super) fn state_badge(state: PrState, draft: bool) -> impl IntoView {
    let s = state_str(state);
    view! {
        <span class=format!("pr-state pr-{s}") data-pr-state=s>
            {if draft && state == PrState::Open { "draft".to_string() } else { s.to_string() }}
        </span>
    }
}

pub(super) fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

pub(super) fn short_sha(s: &str) -> String {
    s.chars().take(7).collect()
}
