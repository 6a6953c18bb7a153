//! API errors about reviewing, in words for the person at the screen, with a link to
//! Settings when that is the fix.

use leptos::prelude::*;
use terarchitect_protocol::ProjectId;

use crate::api::ApiError;
use crate::route::{Link, Route, Tab};

/// The API's message as a sentence: capitalised, ending in a full stop.
pub(super) fn sentence(m: &str) -> String {
    let m = m.trim();
    let mut out: String = m
        .chars()
        .take(1)
        .flat_map(char::to_uppercase)
        .chain(m.chars().skip(1))
        .collect();
    if !out.is_empty() && !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// What went wrong, in words for the person at the screen; `settings` when the fix is
/// in Settings.
pub fn explain(e: &ApiError) -> (String, bool) {
    let said = sentence(&e.message);
    match e.code.as_str() {
        "github_not_configured" => (format!("GitHub is not set up for this project: {said}"), true),
        "github_rejected" => (said, true),
        "github_unavailable" => (format!("{said} Try again in a moment."), false),
        "github_refused" => (said, false),
        "not_mergeable" => (
            format!("{said} Resolve it on GitHub (conflicts, required checks or reviews), then try again."),
            false,
        ),
        "no_pull_request" => (
            "This ticket has no pull request yet. Its agent opens one when a run succeeds.".into(),
            false,
        ),
        "pull_request_not_found" => (
            format!("{said} Was it deleted? Check the project's repository URL and the GitHub token."),
            true,
        ),
        _ => (e.to_string(), false),
    }
}

/// An API error worded by [`explain`], with a link to Settings when that is the fix.
#[component]
pub fn ReviewError(
    #[prop(into)] error: Signal<Option<ApiError>>,
    #[prop(optional, into)] doing: String,
    project: ProjectId,
) -> impl IntoView {
    move || {
        error.get().map(|e| {
            let (text, settings) = explain(&e);
            let lead = if doing.is_empty() {
                String::new()
            } else {
                format!("{doing}: ")
            };
            view! {
                <p class="error" role="alert" data-code=e.code.clone()>
                    {lead}
                    {text}
                    {settings
                        .then(|| {
                            view! {
                                " "
                                <Link to=Route::Settings class="settings-link">
                                    "Open Settings"
                                </Link>
                                " (or the project's "
                                <Link to=Route::Project(project, Tab::Settings)>"own settings"</Link>
                                ")"
                            }
                        })}
                </p>
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str, message: &str) -> ApiError {
        ApiError {
            status: 409,
            code: code.into(),
            message: message.into(),
            ..Default::default()
        }
    }

    #[test]
    fn github_errors_read_as_words_and_point_at_settings() {
        let (text, settings) = explain(&err(
            "github_not_configured",
            "no GitHub token is configured: set the github_token setting (globally or for this project)",
        ));
        assert!(settings, "{text}");
        assert_eq!(
            text,
            "GitHub is not set up for this project: No GitHub token is configured: set the github_token setting (globally or for this project)."
        );
        let (text, settings) = explain(&err(
            "github_rejected",
            "GitHub refused the configured github_token (Bad credentials); set a valid token in the settings",
        ));
        assert!(settings && text.ends_with("settings."), "{text}");
        let (text, settings) = explain(&err(
            "github_unavailable",
            "GitHub could not be reached or failed: timed out",
        ));
        assert!(
            !settings && text.ends_with("timed out. Try again in a moment."),
            "{text}"
        );
        let (text, _) = explain(&err(
            "not_mergeable",
            "GitHub cannot merge #7: Head branch was modified",
        ));
        assert!(
            text.starts_with("GitHub cannot merge #7: Head branch was modified. Resolve"),
            "{text}"
        );
        let (text, _) = explain(&err("no_pull_request", "the ticket has no pull request yet"));
        assert!(text.contains("no pull request yet"), "{text}");
        assert_eq!(sentence(""), "");
        assert_eq!(sentence("done!"), "Done!");
    }
}
