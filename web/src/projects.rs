//! The projects list (create, edit, delete) and a project's page with its tabs.

use leptos::prelude::*;
use terarchitect_protocol::validate::{self, MAX_NAME, MAX_TEXT};
use terarchitect_protocol::{
    ExecutionMode, NewProject, Project, ProjectId, ProjectPatch, RepoCheck, RepoCheckRequest, Validate,
};

use crate::api;
use crate::route::{Link, Route, Tab};
use crate::util::{ErrorNote, Loading};

#[component]
pub fn ProjectsPage() -> impl IntoView {
    let projects = RwSignal::new(None::<Vec<Project>>);
    let error = RwSignal::new(None::<String>);
    let creating = RwSignal::new(false);
    let reload = move || {
        leptos::task::spawn_local(async move {
            match api::get_all::<Project>("/api/projects").await {
                Ok(p) => {
                    projects.set(Some(p));
                    error.set(None);
                }
                Err(e) => error.set(Some(format!("Could not load projects: {e}"))),
            }
        })
    };
    reload();

    view! {
        <section class="page">
            <div class="page-head">
                <h1>"Projects"</h1>
                <button class="btn primary" id="new-project" on:click=move |_| creating.update(|c| *c = !*c)>
                    {move || if creating.get() { "Close" } else { "New project" }}
                </button>
            </div>
            <ErrorNote error=error />
            <Show when=move || creating.get()>
                <div class="card form-card">
                    <h2>"New project"</h2>
                    <ProjectForm
                        initial=None
                        on_saved=Callback::new(move |p: Project| {
                            creating.set(false);
                            projects.update(|ps| if let Some(ps) = ps { ps.insert(0, p) });
                        })
                        on_cancel=Callback::new(move |_| creating.set(false))
                    />
                </div>
            </Show>
            {move || match projects.get() {
                None if error.get().is_none() => view! { <Loading what="projects" /> }.into_any(),
                None => ().into_any(),
                Some(ps) if ps.is_empty() => {
                    view! {
                        <p class="empty">"No projects yet. Create one to model its architecture and plan work."</p>
                    }
                        .into_any()
                }
                Some(ps) => {
                    view! {
                        <div class="project-grid">
                            {ps
                                .into_iter()
                                .map(|p| view! { <ProjectCard project=p projects=projects /> })
                                .collect_view()}
                        </div>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

#[component]
fn ProjectCard(project: Project, projects: RwSignal<Option<Vec<Project>>>) -> impl IntoView {
    let editing = RwSignal::new(false);
    let confirm = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let id = project.id;
    let p = project.clone();
    let delete = move |_| {
        if !confirm.get_untracked() {
            confirm.set(true);
            return;
        }
        leptos::task::spawn_local(async move {
            match api::delete(&format!("/api/projects/{id}")).await {
                Ok(()) => projects.update(|ps| {
                    if let Some(ps) = ps {
                        ps.retain(|p| p.id != id)
                    }
                }),
                Err(e) => error.set(Some(format!("Could not delete: {e}"))),
            }
        });
    };
    view! {
        <article class="card project-card" data-project=id.to_string()>
            <Show
                when=move || editing.get()
                fallback=move || {
                    let p = p.clone();
                    view! {
                        <h2>
                            <Link to=Route::Project(p.id, Tab::Board)>{p.name.clone()}</Link>
                        </h2>
                        <p class="muted">{p.description.clone()}</p>
                        <dl class="facts">
                            <dt>"Repository"</dt>
                            <dd class="mono">{p.repo_url.clone()}</dd>
                            <dt>"Branch"</dt>
                            <dd class="mono">{p.default_branch.clone()}</dd>
                            <dt>"Runs in"</dt>
                            <dd>
                                {match p.execution_mode {
                                    ExecutionMode::Docker => "a container".to_string(),
                                    ExecutionMode::Local => {
                                        format!("{} on the worker host", p.local_path.clone().unwrap_or_default())
                                    }
                                }}
                            </dd>
                            <dt>"Tickets"</dt>
                            <dd class="ticket-count">{p.ticket_count}</dd>
                        </dl>
                        <div class="row">
                            <button class="btn" on:click=move |_| editing.set(true)>
                                "Edit"
                            </button>
                            <button class="btn danger" on:click=delete>
                                {move || if confirm.get() { "Really delete everything?" } else { "Delete" }}
                            </button>
                        </div>
                        <ErrorNote error=error />
                    }
                }
            >
                <ProjectForm
                    initial=Some(project.clone())
                    on_saved=Callback::new(move |p: Project| {
                        editing.set(false);
                        projects.update(|ps| {
                            if let Some(ps) = ps {
                                for x in ps.iter_mut() {
                                    if x.id == p.id {
                                        *x = p.clone();
                                    }
                                }
                            }
                        });
                    })
                    on_cancel=Callback::new(move |_| editing.set(false))
                />
            </Show>
        </article>
    }
}

/// Create (`initial = None`) or edit a project, with the API's own validation inline.
#[component]
pub fn ProjectForm(
    initial: Option<Project>,
    on_saved: Callback<Project>,
    #[prop(optional)] on_cancel: Option<Callback<()>>,
) -> impl IntoView {
    let editing_id = initial.as_ref().map(|p| p.id);
    let name = RwSignal::new(initial.as_ref().map(|p| p.name.clone()).unwrap_or_default());
    let description = RwSignal::new(initial.as_ref().map(|p| p.description.clone()).unwrap_or_default());
    let repo = RwSignal::new(initial.as_ref().map(|p| p.repo_url.clone()).unwrap_or_default());
    let branch = RwSignal::new(
        initial
            .as_ref()
            .map(|p| p.default_branch.clone())
            .unwrap_or_else(|| "main".into()),
    );
    let mode = RwSignal::new(initial.as_ref().map(|p| p.execution_mode).unwrap_or_default());
    let local = RwSignal::new(initial.as_ref().and_then(|p| p.local_path.clone()).unwrap_or_default());
    let touched = RwSignal::new(Vec::<&'static str>::new());
    let server_error = RwSignal::new(None::<api::ApiError>);
    let busy = RwSignal::new(false);
    // What the remote showed, for the URL it was asked about; the warning the user has
    // seen (a second "Save anyway" click goes ahead).
    let remote = RwSignal::new(None::<(String, RepoCheck)>);
    let confirmed = RwSignal::new(None::<String>);
    let branch_edited = RwSignal::new(initial.is_some());
    let check_remote = move |url: String| async move {
        let req = RepoCheckRequest {
            repo_url: url.clone(),
            project_id: editing_id,
        };
        if req.validate().is_err() || remote.with_untracked(|r| r.as_ref().is_some_and(|(u, _)| *u == url)) {
            return;
        }
        let found = api::post::<_, RepoCheck>("/api/repository/check", &req)
            .await
            .unwrap_or_else(|e| RepoCheck {
                detail: format!("not checked: {e}"),
                ..Default::default()
            });
        // The remote's default branch, unless the user chose one.
        if let Some(head) = found.default_branch.clone().filter(|_| !branch_edited.get_untracked()) {
            branch.set(head);
        }
        remote.set(Some((url, found)));
    };
    let warning = move || {
        let url = repo.get().trim().to_string();
        remote.with(|r| {
            r.as_ref()
                .filter(|(u, _)| *u == url)
                .and_then(|(_, found)| remote_warning(found, branch.get().trim()))
        })
    };

    let value = move || NewProject {
        name: name.get(),
        description: description.get(),
        repo_url: repo.get().trim().to_string(),
        default_branch: branch.get().trim().to_string(),
        execution_mode: mode.get(),
        local_path: Some(local.get().trim().to_string()).filter(|s| !s.is_empty()),
    };
    let check = move |field: &'static str| -> Option<String> {
        let v = value();
        let r = match field {
            "name" => validate::required("name", &v.name, MAX_NAME),
            "description" => validate::bounded("description", &v.description, MAX_TEXT),
            "repo_url" => validate::repo_url("repo_url", &v.repo_url),
            "default_branch" => validate::branch_name("default_branch", &v.default_branch),
            _ => match v.validate() {
                Err(e) if e.field == field => Err(e),
                _ => Ok(()),
            },
        };
        r.err().map(|e| e.message)
    };
    let shown = move |field: &'static str| -> Option<String> {
        if touched.with(|t| t.contains(&field))
            && let Some(m) = check(field)
        {
            return Some(m);
        }
        server_error.with(|e| e.as_ref().and_then(|e| e.for_field(field)))
    };
    let touch = move |f: &'static str| {
        touched.update(|t| {
            if !t.contains(&f) {
                t.push(f)
            }
        })
    };

    let submit = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        touched.set(vec!["name", "description", "repo_url", "default_branch", "local_path"]);
        let v = value();
        if v.validate().is_err() {
            return;
        }
        busy.set(true);
        server_error.set(None);
        leptos::task::spawn_local(async move {
            // Save anyway, but only once the user has seen what is wrong with the remote.
            check_remote(v.repo_url.clone()).await;
            let v = value(); // the check may have filled in the default branch
            let seen = format!("{}#{}", v.repo_url, v.default_branch);
            if untrack(warning).is_some() && confirmed.get_untracked().as_deref() != Some(seen.as_str()) {
                confirmed.set(Some(seen));
                busy.set(false);
                return;
            }
            let result = match editing_id {
                None => api::post::<_, Project>("/api/projects", &v).await,
                Some(id) => {
                    let patch = ProjectPatch {
                        name: Some(v.name),
                        description: Some(v.description),
                        repo_url: Some(v.repo_url),
                        default_branch: Some(v.default_branch),
                        execution_mode: Some(v.execution_mode),
                        local_path: Some(v.local_path),
                    };
                    api::patch::<_, Project>(&format!("/api/projects/{id}"), &patch).await
                }
            };
            busy.set(false);
            match result {
                Ok(p) => on_saved.run(p),
                Err(e) => server_error.set(Some(e)),
            }
        });
    };

    let field_error =
        move |f: &'static str| move || shown(f).map(|m| view! { <span class="field-error" data-field=f>{m}</span> });
    view! {
        <form class="form project-form" on:submit=submit novalidate>
            <label>
                "Name"
                <input
                    name="name"
                    prop:value=move || name.get()
                    on:input=move |ev| {
                        name.set(event_target_value(&ev));
                        touch("name");
                    }
                />
                {field_error("name")}
            </label>
            <label>
                "Description"
                <textarea
                    name="description"
                    rows="2"
                    prop:value=move || description.get()
                    on:input=move |ev| {
                        description.set(event_target_value(&ev));
                        touch("description");
                    }
                ></textarea>
                {field_error("description")}
            </label>
            <label>
                "Repository URL"
                <input
                    name="repo_url"
                    placeholder="https://github.com/owner/repo.git"
                    prop:value=move || repo.get()
                    on:input=move |ev| {
                        repo.set(event_target_value(&ev));
                        touch("repo_url");
                    }
                    on:change=move |ev| {
                        leptos::task::spawn_local(check_remote(event_target_value(&ev).trim().to_string()))
                    }
                />
                {field_error("repo_url")}
                {move || {
                    let url = repo.get().trim().to_string();
                    remote
                        .get()
                        .filter(|(u, _)| *u == url)
                        .map(|(_, found)| {
                            let text = if !found.checked {
                                String::new()
                            } else if found.reachable {
                                format!(
                                    "Found {} branch{}; default branch {}",
                                    found.branches.len(),
                                    if found.branches.len() == 1 { "" } else { "es" },
                                    found.default_branch.as_deref().unwrap_or("not said"),
                                )
                            } else {
                                format!("Could not check the repository: {}", found.detail)
                            };
                            view! {
                                <span class="hint repo-check" data-reachable=found.reachable.to_string()>
                                    {text}
                                </span>
                            }
                        })
                }}
            </label>
            <div class="row">
                <label>
                    "Default branch"
                    <input
                        name="default_branch"
                        prop:value=move || branch.get()
                        on:input=move |ev| {
                            branch.set(event_target_value(&ev));
                            branch_edited.set(true);
                            touch("default_branch");
                        }
                    />
                    {field_error("default_branch")}
                </label>
                <label>
                    "Execution"
                    <select
                        name="execution_mode"
                        on:change=move |ev| {
                            mode.set(
                                if event_target_value(&ev) == "local" {
                                    ExecutionMode::Local
                                } else {
                                    ExecutionMode::Docker
                                },
                            )
                        }
                    >
                        <option value="docker" selected=move || mode.get() == ExecutionMode::Docker>
                            "Docker: clone into a container"
                        </option>
                        <option value="local" selected=move || mode.get() == ExecutionMode::Local>
                            "Local: a directory on the worker host"
                        </option>
                    </select>
                </label>
            </div>
            <Show when=move || mode.get() == ExecutionMode::Local>
                <label>
                    "Local path"
                    <input
                        name="local_path"
                        placeholder="/srv/repos/my-project"
                        prop:value=move || local.get()
                        on:input=move |ev| {
                            local.set(event_target_value(&ev));
                            touch("local_path");
                        }
                    />
                    {field_error("local_path")}
                </label>
            </Show>
            {move || {
                server_error
                    .get()
                    .filter(|e| e.field.is_none())
                    .map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })
            }}
            {move || {
                warning()
                    .filter(|_| confirmed.get().is_some())
                    .map(|w| view! { <p class="warning repo-warning" role="alert">{w}" Save anyway?"</p> })
            }}
            <div class="row">
                <button class="btn primary" type="submit" disabled=move || busy.get()>
                    {move || match (busy.get(), editing_id.is_some()) {
                        (true, _) => "Saving…",
                        _ if warning().is_some() && confirmed.get().is_some() => "Save anyway",
                        (false, true) => "Save project",
                        (false, false) => "Create project",
                    }}
                </button>
                {on_cancel
                    .map(|c| {
                        view! {
                            <button class="btn ghost" type="button" on:click=move |_| c.run(())>
                                "Cancel"
                            </button>
                        }
                    })}
            </div>
        </form>
    }
}

#[component]
pub fn ProjectPage(id: ProjectId, tab: Tab) -> impl IntoView {
    let project = RwSignal::new(None::<Project>);
    let error = RwSignal::new(None::<String>);
    leptos::task::spawn_local(async move {
        match api::get::<Project>(&format!("/api/projects/{id}")).await {
            Ok(p) => project.set(Some(p)),
            Err(e) => error.set(Some(format!("Could not load the project: {e}"))),
        }
    });
    view! {
        <section class="page project-page">
            <div class="page-head">
                <div>
                    <Link to=Route::Projects class="crumb">
                        "← Projects"
                    </Link>
                    <h1>{move || project.get().map(|p| p.name).unwrap_or_default()}</h1>
                </div>
                <crate::Tabs project=id current=tab />
            </div>
            <ErrorNote error=error />
            {match tab {
                Tab::Board => view! { <crate::board::BoardView project=id /> }.into_any(),
                Tab::Graph => view! { <crate::graph::GraphEditor project=id /> }.into_any(),
                Tab::Review => view! { <crate::review::ReviewList project=id /> }.into_any(),
                Tab::Settings => {
                    view! {
                        <div class="settings-grid">
                            <div class="card">
                                <h2>"Project"</h2>
                                {move || {
                                    project
                                        .get()
                                        .map(|p| {
                                            view! {
                                                <ProjectForm
                                                    initial=Some(p)
                                                    on_saved=Callback::new(move |p| project.set(Some(p)))
                                                />
                                            }
                                        })
                                }}
                            </div>
                            <div class="card">
                                <h2>"Agent settings for this project"</h2>
                                <p class="hint">
                                    "Values set here override the global settings for this project only."
                                </p>
                                <crate::settings::SettingsForm project=Some(id) />
                            </div>
                        </div>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

/// What to warn about before saving, from what the remote showed (None: nothing).
fn remote_warning(found: &RepoCheck, branch: &str) -> Option<String> {
    if !found.checked {
        return None;
    }
    if !found.reachable {
        return Some(format!(
            "The repository could not be checked ({}): runs will fail if agents cannot reach it either.",
            found.detail
        ));
    }
    (!found.branches.iter().any(|b| b == branch)).then(|| {
        let known = found.branches.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        format!("The repository has no branch \"{branch}\" (it has {known}).")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_branch_or_an_unreachable_remote_is_warned_about() {
        let found = RepoCheck {
            checked: true,
            reachable: true,
            detail: "reachable".into(),
            default_branch: Some("trunk".into()),
            branches: vec!["feature".into(), "trunk".into()],
        };
        assert_eq!(remote_warning(&found, "trunk"), None);
        let w = remote_warning(&found, "main").unwrap();
        assert!(w.contains("no branch \"main\"") && w.contains("feature, trunk"), "{w}");
        let down = RepoCheck {
            checked: true,
            detail: "not reachable".into(),
            ..Default::default()
        };
        assert!(remote_warning(&down, "main").unwrap().contains("(not reachable)"));
        let ssh = RepoCheck {
            detail: "not checked: only http(s) remotes can be checked from here".into(),
            ..Default::default()
        };
        assert_eq!(remote_warning(&ssh, "main"), None, "nothing to warn about");
    }
}
