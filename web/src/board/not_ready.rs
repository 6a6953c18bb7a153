//! A move into In Progress that the API refused with `not_ready`: the banner that says
//! what is missing and where to set it (no job was queued, the card went back).

use leptos::prelude::*;
use terarchitect_protocol::{ProjectId, TicketId};

use crate::route::{Link, Route, Tab};

/// What a run still needs, in the words of the settings page (its keys) and the forms.
pub fn missing_text(missing: &[String]) -> String {
    let items: Vec<String> = missing
        .iter()
        .map(|m| match m.as_str() {
            "repo_url" => "the project's repository URL".into(),
            "local_path" => "the project's local path".into(),
            "components" => "the ticket's components (or \u{201c}whole graph\u{201d})".into(),
            key => key.to_string(),
        })
        .collect();
    format!("Required settings missing: {}.", items.join(", "))
}

#[component]
pub fn NotReadyBanner(project: ProjectId, not_ready: RwSignal<Option<(TicketId, Vec<String>)>>) -> impl IntoView {
    move || {
        not_ready.get().map(|(ticket, missing)| {
            let needs_ticket = missing.iter().any(|m| m == "components");
            let needs_settings = missing.iter().any(|m| m != "components");
            view! {
                <div class="not-ready" role="alert">
                    <span class="not-ready-text">{missing_text(&missing)}</span>
                    " No run was started. "
                    {needs_settings.then(|| view! {
                        <Link to=Route::Project(project, Tab::Settings) class="not-ready-settings">"Open the project's settings"</Link>
                    })}
                    {(needs_settings && needs_ticket).then_some(" · ")}
                    {needs_ticket.then(|| view! {
                        <Link to=Route::Ticket(project, ticket) class="not-ready-ticket">"Edit the ticket"</Link>
                    })}
                    <button class="icon" aria-label="Dismiss" on:click=move |_| not_ready.set(None)>"×"</button>
                </div>
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_settings_read_as_the_settings_page_names_them() {
        let missing = ["director_llm_url", "github_token", "components"].map(String::from);
        assert_eq!(
            missing_text(&missing),
            "Required settings missing: director_llm_url, github_token, the ticket's components (or \u{201c}whole graph\u{201d})."
        );
    }
}
