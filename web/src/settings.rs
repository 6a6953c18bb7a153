//! Global and per-project settings. Secrets are write-only: the UI only learns whether
//! they are set.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde_json::Value;
use terarchitect_protocol::{
    CheckItem, ProjectId, SettingKey, SettingKind, SettingView, SettingsCheck, SettingsUpdate,
};

use crate::api;
use crate::util::{ErrorNote, Loading};

fn label(key: &str) -> String {
    let mut s = key
        .replace('_', " ")
        .replace("llm", "LLM")
        .replace("url", "URL")
        .replace("github", "GitHub")
        .replace("api", "API");
    if let Some(f) = s.get_mut(0..1) {
        f.make_ascii_uppercase();
    }
    s
}

/// The saved secrets that saving `drafts` would clear, by the API's rule
/// (`SettingKey::sent_to`): each set at this level and sent to a URL the drafts change
/// or clear, unless the drafts set it again. As `(url key, secret key)`.
fn keys_cleared(list: &[SettingView], drafts: &SettingsUpdate, project: bool) -> Vec<(String, String)> {
    let level = if project { "project" } else { "global" };
    let view = |key: &str| list.iter().find(|s| s.key == key);
    let mut out = Vec::new();
    for (url_key, draft) in drafts {
        let Ok(url) = url_key.parse::<SettingKey>() else {
            continue;
        };
        let saved = view(url_key)
            .filter(|v| v.source == level)
            .and_then(|v| v.value.clone());
        if draft.clone().filter(|v| !v.is_null()) == saved {
            continue;
        }
        for secret in url.secrets_sent_here() {
            let key = secret.as_str();
            let set_here = view(key).is_some_and(|v| v.is_set && v.source == level);
            let set_again = matches!(drafts.get(key), Some(Some(v)) if !v.is_null());
            if set_here && !set_again {
                out.push((url_key.clone(), key.to_string()));
            }
        }
    }
    out
}

/// Whether the setting holds a number (whole, or US dollars), by its kind.
fn is_number(key: &str) -> bool {
    SettingKey::parse(key).is_some_and(|k| matches!(k.kind(), SettingKind::Int { .. } | SettingKind::Usd))
}

/// What the user typed, as the JSON the setting holds: a number for numeric settings
/// (left as text when it is not one, for the API to refuse with its message).
fn typed_value(key: &str, text: String) -> Value {
    let number = match SettingKey::parse(key).map(SettingKey::kind) {
        Some(SettingKind::Int { .. }) => text.trim().parse::<i64>().ok().map(Value::from),
        Some(SettingKind::Usd) => text.trim().parse::<f64>().ok().map(Value::from),
        _ => None,
    };
    number.unwrap_or(Value::String(text))
}

#[component]
pub fn SettingsForm(project: Option<ProjectId>) -> impl IntoView {
    let path = match project {
        Some(p) => format!("/api/projects/{p}/settings"),
        None => "/api/settings".to_string(),
    };
    let items = RwSignal::new(None::<Vec<SettingView>>);
    let drafts = RwSignal::new(BTreeMap::<String, Option<Value>>::new());
    let error = RwSignal::new(None::<api::ApiError>);
    let load_error = RwSignal::new(None::<String>);
    let state = RwSignal::new(None::<String>);
    {
        let path = path.clone();
        leptos::task::spawn_local(async move {
            match api::get::<Vec<SettingView>>(&path).await {
                Ok(v) => items.set(Some(v)),
                Err(e) => load_error.set(Some(format!("Could not load settings: {e}"))),
            }
        });
    }
    let check_path = format!("{path}/check");
    let save = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let update: SettingsUpdate = drafts.get_untracked();
        if update.is_empty() {
            state.set(Some("Nothing changed".into()));
            return;
        }
        let path = path.clone();
        state.set(Some("Saving…".into()));
        error.set(None);
        leptos::task::spawn_local(async move {
            match api::put::<_, Vec<SettingView>>(&path, &update).await {
                Ok(v) => {
                    items.set(Some(v));
                    drafts.set(BTreeMap::new());
                    state.set(Some("Saved".into()));
                }
                Err(e) => {
                    state.set(None);
                    error.set(Some(e));
                }
            }
        });
    };
    let scope_word = if project.is_some() { "Reset" } else { "Clear" };
    let unsaved = Signal::derive(move || drafts.with(|d| !d.is_empty()));
    let is_project = project.is_some();
    // Saving a changed endpoint URL clears the keys sent to it: say so before the save.
    let cleared = Memo::new(move |_| {
        items.with(|l| drafts.with(|d| l.as_deref().map(|l| keys_cleared(l, d, is_project)).unwrap_or_default()))
    });
    view! {
        <ErrorNote error=load_error />
        {move || match items.get() {
            None => view! { <Loading what="settings" /> }.into_any(),
            Some(list) => {
                view! {
                    <form class="form settings-form" on:submit=save.clone() novalidate>
                        <table class="settings">
                            <tbody>
                                {list
                                    .into_iter()
                                    .map(|s| {
                                        let key = s.key.clone();
                                        let k1 = key.clone();
                                        let k2 = key.clone();
                                        let k3 = key.clone();
                                        let k4 = key.clone();
                                        let set_draft = move |v: Option<Value>| {
                                            let k = k1.clone();
                                            drafts.update(|d| {
                                                d.insert(k, v);
                                            })
                                        };
                                        let set_draft2 = set_draft.clone();
                                        let pending = move || drafts.with(|d| d.get(&k2).cloned());
                                        let pending2 = pending.clone();
                                        let current = match &s.value {
                                            Some(Value::String(v)) => v.clone(),
                                            Some(v) => v.to_string(),
                                            None => String::new(),
                                        };
                                        let source = match (s.source.as_str(), project.is_some()) {
                                            ("project", _) => "set for this project",
                                            ("global", true) => "inherited from global",
                                            ("global", false) => "set",
                                            _ => "default",
                                        };
                                        let own = s.source == if project.is_some() { "project" } else { "global" };
                                        let input = if s.secret {
                                            view! {
                                                <input
                                                    type="password"
                                                    name=key.clone()
                                                    autocomplete="new-password"
                                                    prop:value=move || {
                                                        match pending2() {
                                                            Some(Some(Value::String(v))) => v,
                                                            _ => String::new(),
                                                        }
                                                    }
                                                    placeholder=if s.is_set { "•••••••• (leave empty to keep)" } else { "not set" }
                                                    on:input=move |ev| {
                                                        let v = event_target_value(&ev);
                                                        set_draft(if v.is_empty() { None } else { Some(Value::String(v)) });
                                                    }
                                                />
                                            }
                                                .into_any()
                                        } else if key == "worker_mode" {
                                            view! {
                                                <select name=key.clone() on:change=move |ev| set_draft(Some(Value::String(event_target_value(&ev))))>
                                                    {["native", "opencode", "claude-code"]
                                                        .into_iter()
                                                        .map(|m| view! { <option value=m selected=current == m>{m}</option> })
                                                        .collect_view()}
                                                </select>
                                            }
                                                .into_any()
                                        } else {
                                            let number = is_number(&key);
                                            let typed = key.clone();
                                            view! {
                                                <input
                                                    name=key.clone()
                                                    type=if number { "number" } else { "text" }
                                                    step=number.then_some("any")
                                                    value=current
                                                    on:input=move |ev| set_draft(Some(typed_value(&typed, event_target_value(&ev))))
                                                />
                                            }
                                                .into_any()
                                        };
                                        let secret = s.secret;
                                        let is_set = s.is_set;
                                        view! {
                                            <tr data-key=key.clone()>
                                                <th>
                                                    <label>{label(&key)}</label>
                                                    {secret.then(|| view! { <span class="muted small">" secret"</span> })}
                                                    <p class="help muted small">{s.help.clone()}</p>
                                                </th>
                                                <td>{input}</td>
                                                <td class="state">
                                                    {move || match (secret, pending()) {
                                                        (true, Some(Some(_))) => view! { <span class="badge pending">"will be set"</span> }.into_any(),
                                                        (_, Some(None)) => view! { <span class="badge pending">"will be cleared"</span> }.into_any(),
                                                        (true, _) if is_set && !own => view! { <span class="badge ok secret-state">"set (global)"</span> }.into_any(),
                                                        (true, _) if is_set => view! { <span class="badge ok secret-state">"set"</span> }.into_any(),
                                                        (true, _) => view! { <span class="badge secret-state">"not set"</span> }.into_any(),
                                                        _ => view! { <span class="muted small">{source}</span> }.into_any(),
                                                    }}
                                                    {move || error.with(|e| e.as_ref().and_then(|e| e.for_field(&k3))).map(|m| view! { <span class="field-error">{m}</span> })}
                                                    {
                                                        let k5 = key.clone();
                                                        move || {
                                                            let keys: Vec<String> = cleared
                                                                .with(|c| c.iter().filter(|(u, _)| *u == k5).map(|(_, s)| label(s)).collect());
                                                            (!keys.is_empty()).then(|| view! {
                                                                <span class="url-warning warn small">
                                                                    {format!("Changing this URL clears the saved key: {}. Enter it again to keep it.", keys.join(", "))}
                                                                </span>
                                                            })
                                                        }
                                                    }
                                                </td>
                                                <td>
                                                    {own.then(|| {
                                                        let set_draft2 = set_draft2.clone();
                                                        let k4 = k4.clone();
                                                        view! {
                                                            <button type="button" class="btn small ghost" title=format!("{scope_word} {k4}") on:click=move |_| set_draft2(None)>
                                                                {scope_word}
                                                            </button>
                                                        }
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                        {move || error.get().map(|e| view! { <p class="error">{e.to_string()}</p> })}
                        {move || {
                            let keys: Vec<String> = cleared.with(|c| c.iter().map(|(_, s)| label(s)).collect());
                            (!keys.is_empty()).then(|| view! {
                                <p class="warning" id="settings-warning">
                                    {format!("Saving clears {}: a key is only sent to the URL it was saved for.", keys.join(", "))}
                                </p>
                            })
                        }}
                        <div class="row">
                            <button class="btn primary" type="submit" id="save-settings">"Save settings"</button>
                            <span class="save-state" id="settings-state">{move || state.get()}</span>
                        </div>
                    </form>
                }
                    .into_any()
            }
        }}
        <ConnectionCheck path=check_path unsaved />
    }
}

/// "Check connections": asks the API to call each configured endpoint (LLMs, embeddings,
/// GitHub) with the saved settings and lists what answered.
#[component]
fn ConnectionCheck(path: String, #[prop(into)] unsaved: Signal<bool>) -> impl IntoView {
    let results = RwSignal::new(None::<Vec<CheckItem>>);
    let checking = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let run = move |_| {
        let path = path.clone();
        checking.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match api::post::<_, SettingsCheck>(&path, &serde_json::json!({})).await {
                Ok(c) => results.set(Some(c.items)),
                Err(e) => error.set(Some(format!("Could not run the check: {e}"))),
            }
            checking.set(false);
        });
    };
    view! {
        <section class="settings-check">
            <div class="row">
                <button type="button" class="btn" id="check-settings" disabled=move || checking.get() on:click=run>
                    {move || if checking.get() { "Checking…" } else { "Check connections" }}
                </button>
                <span class="muted small">
                    {move || {
                        if unsaved.get() {
                            "Checks the saved settings: save your changes first."
                        } else {
                            "Calls each configured endpoint with the saved settings."
                        }
                    }}
                </span>
            </div>
            <ErrorNote error=error />
            {move || {
                results
                    .get()
                    .map(|items| {
                        view! {
                            <ul class="check-results" id="check-results">
                                {items
                                    .into_iter()
                                    .map(|i| {
                                        let name = i.name.clone();
                                        let (state, class, word) = match (i.ok, i.configured) {
                                            (true, _) => ("ok", "badge ok", "ok"),
                                            (false, false) => ("unset", "badge", "not set"),
                                            (false, true) => ("problem", "badge failed", "problem"),
                                        };
                                        view! {
                                            <li data-check=name data-ok=i.ok.to_string() data-state=state>
                                                <span class=class>{word}</span>
                                                <strong>{i.name}</strong>
                                                <span class="detail">{i.detail}</span>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                    })
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::{is_number, typed_value};
    use serde_json::json;
    use terarchitect_protocol::{SettingView, SettingsUpdate};

    fn view(key: &str, value: Option<&str>, is_set: bool, source: &str) -> SettingView {
        SettingView {
            key: key.into(),
            secret: key.ends_with("_key"),
            value: value.map(|v| json!(v)),
            is_set,
            source: source.into(),
            help: String::new(),
        }
    }

    #[test]
    fn typed_values_follow_the_settings_kind() {
        assert_eq!(typed_value("ticket_budget_tokens", " 100 ".into()), json!(100));
        assert_eq!(typed_value("ticket_budget_usd", "2.5".into()), json!(2.5));
        assert_eq!(typed_value("ticket_budget_usd", "lots".into()), json!("lots"));
        assert_eq!(typed_value("egress_allow", "pypi.org".into()), json!("pypi.org"));
        assert!(is_number("max_review_rounds") && is_number("project_budget_usd") && !is_number("llm_prices"));
    }

    #[test]
    fn a_changed_or_cleared_url_warns_about_the_keys_sent_to_it() {
        let list = vec![
            view("director_llm_url", Some("https://a.example/v1"), true, "global"),
            view("director_llm_key", None, true, "global"),
            view("embedding_url", Some("https://e.example/v1"), true, "global"),
            view("embedding_key", None, false, "default"),
        ];
        let drafts = |pairs: &[(&str, Option<&str>)]| -> SettingsUpdate {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(|v| json!(v))))
                .collect()
        };
        let changed = drafts(&[("director_llm_url", Some("https://b.example/v1"))]);
        let want = vec![("director_llm_url".to_string(), "director_llm_key".to_string())];
        assert_eq!(super::keys_cleared(&list, &changed, false), want);
        assert_eq!(
            super::keys_cleared(&list, &drafts(&[("director_llm_url", None)]), false),
            want
        );
        // The same URL, a URL whose key is not set, the key typed again, another level.
        for quiet in [
            drafts(&[("director_llm_url", Some("https://a.example/v1"))]),
            drafts(&[("embedding_url", Some("https://f.example/v1"))]),
            drafts(&[
                ("director_llm_url", Some("https://b.example/v1")),
                ("director_llm_key", Some("sk")),
            ]),
        ] {
            assert!(super::keys_cleared(&list, &quiet, false).is_empty(), "{quiet:?}");
        }
        assert!(
            super::keys_cleared(&list, &changed, true).is_empty(),
            "global keys stay at project level"
        );
    }

    #[test]
    fn keys_read_as_words() {
        assert_eq!(super::label("github_api_url"), "GitHub API URL");
        assert_eq!(super::label("github_review_token"), "GitHub review token");
        assert_eq!(super::label("director_llm_key"), "Director LLM key");
    }
}
