//! Reviewing pull requests without leaving the app: the project's list of tickets in
//! review, and one ticket's pull request (summary, commits, test files with their test
//! names, conversation) with Comment, Approve and Merge.

use leptos::prelude::*;
use uuid::Uuid;

use crate::api::{self, ApiError};
use crate::route::{Link, Route, Tab};
use crate::util::{self, Loading};

use terarchitect_protocol::{
    MergeMethod, MergeOutcome, NewPrComment, PrApproval, PrComment, PrCommentKind, PrMerge, PrReview, PrState,
    ReviewListItem, ReviewSummary, Validate,
};

/// Words for a PR state (the protocol's enum serialises the same).
fn state_str(s: PrState) -> &'static str {
    match s {
        PrState::Open => "open",
        PrState::Closed => "closed",
        PrState::Merged => "merged",
    }
}

const METHODS: [(MergeMethod, &str, &str); 3] = [
    (MergeMethod::Squash, "squash", "Squash and merge"),
    (MergeMethod::Merge, "merge", "Create a merge commit"),
    (MergeMethod::Rebase, "rebase", "Rebase and merge"),
];

/// The API's message as a sentence: capitalised, ending in a full stop.
fn sentence(m: &str) -> String {
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
    project: Uuid,
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

fn state_badge(state: PrState, draft: bool) -> impl IntoView {
    let s = state_str(state);
    view! {
        <span class=format!("pr-state pr-{s}") data-pr-state=s>
            {if draft && state == PrState::Open { "draft".to_string() } else { s.to_string() }}
        </span>
    }
}

/// A piece of a PR description: Markdown headings stand out, the rest stays text.
#[derive(Debug, PartialEq)]
enum Block {
    Heading(String),
    Text(String),
}

fn blocks(body: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, out: &mut Vec<Block>| {
        let t = text.trim_matches('\n').to_string();
        if !t.trim().is_empty() {
            out.push(Block::Text(t));
        }
        text.clear();
    };
    for line in body.lines() {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
            flush(&mut text, &mut out);
            out.push(Block::Heading(line[hashes..].trim().to_string()));
        } else if line.trim().is_empty() {
            flush(&mut text, &mut out);
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    flush(&mut text, &mut out);
    out
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

fn short_sha(s: &str) -> String {
    s.chars().take(7).collect()
}

/// The Review tab: tickets in review with their pull request's state.
#[component]
pub fn ReviewList(project: Uuid) -> impl IntoView {
    let items = RwSignal::new(None::<Vec<ReviewListItem>>);
    let error = RwSignal::new(None::<ApiError>);
    let loading = RwSignal::new(false);
    let load = move || {
        loading.set(true);
        leptos::task::spawn_local(async move {
            match api::get::<Vec<ReviewListItem>>(&format!("/api/projects/{project}/review")).await {
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
fn ReviewRow(project: Uuid, item: ReviewListItem) -> impl IntoView {
    let t = item.ticket;
    let tid = t.id;
    let pr = t.pr_url.clone().map(|u| {
        let label = t
            .pr_number
            .map(|n| format!("PR #{n}"))
            .unwrap_or_else(|| "Pull request".into());
        view! { <a class="pr-link" href=u target="_blank" rel="noopener">{label}</a> }
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

/// Which action is in flight on the review page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Busy {
    Comment,
    Approve,
    Merge,
}

/// One ticket's pull request: read it, comment, approve, merge.
#[component]
pub fn ReviewPage(project: Uuid, ticket: Uuid) -> impl IntoView {
    let base = format!("/api/projects/{project}/tickets/{ticket}/review");
    let summary = RwSignal::new(None::<ReviewSummary>);
    let title = RwSignal::new(None::<String>);
    let load_error = RwSignal::new(None::<ApiError>);
    let refreshing = RwSignal::new(false);
    let busy = RwSignal::new(None::<Busy>);
    let action_error = RwSignal::new(None::<(Busy, ApiError)>);
    let notice = RwSignal::new(None::<String>);
    let comment = RwSignal::new(String::new());
    let comment_error = RwSignal::new(None::<String>);
    let method = RwSignal::new(MergeMethod::default());
    let confirm_merge = RwSignal::new(false);

    leptos::task::spawn_local(async move {
        if let Ok(t) =
            api::get::<terarchitect_protocol::Ticket>(&format!("/api/projects/{project}/tickets/{ticket}")).await
        {
            title.set(Some(t.title));
        }
    });
    let load = {
        let base = base.clone();
        move || {
            let base = base.clone();
            refreshing.set(true);
            leptos::task::spawn_local(async move {
                match api::get::<ReviewSummary>(&base).await {
                    Ok(s) => {
                        summary.set(Some(s));
                        load_error.set(None);
                    }
                    Err(e) => load_error.set(Some(e)),
                }
                refreshing.set(false);
            });
        }
    };
    load();

    let post_comment = {
        let (base, load) = (base.clone(), load.clone());
        move |ev: web_sys::SubmitEvent| {
            ev.prevent_default();
            let c = NewPrComment {
                body: comment.get_untracked(),
            };
            if c.body.trim().is_empty() {
                comment_error.set(Some("Write a comment first.".into()));
                return;
            }
            if let Err(e) = c.validate() {
                comment_error.set(Some(e.message));
                return;
            }
            comment_error.set(None);
            action_error.set(None);
            notice.set(None);
            busy.set(Some(Busy::Comment));
            let (base, load) = (base.clone(), load.clone());
            leptos::task::spawn_local(async move {
                match api::post::<_, PrComment>(&format!("{base}/comments"), &c).await {
                    Ok(c) => {
                        comment.set(String::new());
                        // Shown at once; the reload brings GitHub's own view.
                        summary.update(|s| {
                            if let Some(s) = s
                                && !s.comments.iter().any(|x| x.id == c.id)
                            {
                                s.comments.push(c)
                            }
                        });
                        notice.set(Some("Comment posted.".into()));
                        load();
                    }
                    Err(e) => action_error.set(Some((Busy::Comment, e))),
                }
                busy.set(None);
            });
        }
    };
    let approve = {
        let (base, load) = (base.clone(), load.clone());
        move |_: web_sys::MouseEvent| {
            let body = Some(comment.get_untracked().trim().to_string()).filter(|b| !b.is_empty());
            let with_body = body.is_some();
            action_error.set(None);
            notice.set(None);
            busy.set(Some(Busy::Approve));
            let (base, load) = (base.clone(), load.clone());
            leptos::task::spawn_local(async move {
                match api::post::<_, PrReview>(&format!("{base}/approve"), &PrApproval { body }).await {
                    Ok(_) => {
                        if with_body {
                            comment.set(String::new());
                        }
                        notice.set(Some("Approved.".into()));
                        load();
                    }
                    Err(e) => action_error.set(Some((Busy::Approve, e))),
                }
                busy.set(None);
            });
        }
    };
    let merge = {
        let (base, load) = (base.clone(), load.clone());
        move |_: web_sys::MouseEvent| {
            if !confirm_merge.get_untracked() {
                confirm_merge.set(true);
                return;
            }
            confirm_merge.set(false);
            action_error.set(None);
            notice.set(None);
            busy.set(Some(Busy::Merge));
            let m = PrMerge {
                method: Some(method.get_untracked()),
            };
            let (base, load) = (base.clone(), load.clone());
            leptos::task::spawn_local(async move {
                match api::post::<_, MergeOutcome>(&format!("{base}/merge"), &m).await {
                    Ok(o) if o.merged => {
                        notice.set(Some(format!(
                            "Merged{}. The ticket moved to Done.",
                            o.sha
                                .as_deref()
                                .map(|s| format!(" as {}", short_sha(s)))
                                .unwrap_or_default()
                        )));
                        load();
                    }
                    Ok(o) => {
                        action_error.set(Some((
                            Busy::Merge,
                            ApiError {
                                status: 409,
                                code: "not_mergeable".into(),
                                message: o.message,
                                field: None,
                            },
                        )));
                        load();
                    }
                    Err(e) => action_error.set(Some((Busy::Merge, e))),
                }
                busy.set(None);
            });
        }
    };
    // Callbacks are Copy: the views below re-render without cloning closures.
    let (post_comment, approve, merge) = (
        Callback::new(post_comment),
        Callback::new(approve),
        Callback::new(merge),
    );
    let error_for = move |b: Busy| Signal::derive(move || action_error.get().filter(|(x, _)| *x == b).map(|(_, e)| e));
    let is_open = move || summary.with(|s| s.as_ref().is_some_and(|s| s.state == PrState::Open));

    view! {
        <section class="page review-page">
            <div class="page-head">
                <div>
                    <Link to=Route::Project(project, Tab::Review) class="crumb">"← In review"</Link>
                    <span class="crumb muted">" · "</span>
                    <Link to=Route::Ticket(project, ticket) class="crumb">"Ticket"</Link>
                    <h1 id="review-title">
                        {move || summary.get().map(|s| s.title).or_else(|| title.get()).unwrap_or_default()}
                    </h1>
                    {move || summary.get().map(|s| {
                        let mergeable = match (s.state, s.mergeable) {
                            (PrState::Open, Some(true)) => Some(("mergeable", "no conflicts")),
                            (PrState::Open, Some(false)) => Some(("conflicts", "has conflicts")),
                            (PrState::Open, None) => Some(("unknown", "GitHub is still checking for conflicts")),
                            _ => None,
                        };
                        view! {
                            <p class="pr-meta">
                                {state_badge(s.state, s.draft)}
                                {s.approved.then(|| view! { <span class="badge ok" id="approved-badge">"approved"</span> })}
                                <a class="pr-link" href=s.pr_url.clone() target="_blank" rel="noopener">{format!("PR #{}", s.pr_number)}</a>
                                <span class="mono">{format!("{} → {}", s.head_branch, s.base_branch)}</span>
                                <span class="diffstat">
                                    <span class="add">{format!("+{}", util::thousands(s.additions))}</span>
                                    " "
                                    <span class="del">{format!("−{}", util::thousands(s.deletions))}</span>
                                    {format!(" in {} file{}", s.changed_files, if s.changed_files == 1 { "" } else { "s" })}
                                </span>
                                {mergeable.map(|(k, text)| view! { <span class=format!("mergeable m-{k}")>{text}</span> })}
                            </p>
                        }
                    })}
                </div>
                <button class="btn" id="refresh-pr" on:click={
                    let load = load.clone();
                    move |_| load()
                } disabled=move || refreshing.get()>
                    {move || if refreshing.get() { "Refreshing…" } else { "Refresh" }}
                </button>
            </div>
            <ReviewError error=load_error doing="Could not load the pull request" project=project />
            {move || {
                if summary.with(|s| s.is_none()) {
                    return if load_error.with(|e| e.is_none()) {
                        view! { <Loading what="the pull request from GitHub" /> }.into_any()
                    } else {
                        ().into_any()
                    };
                }
                ().into_any()
            }}
            <Show when=move || summary.with(|s| s.is_some())>
                <div class="review-layout">
                    <div class="review-main">
                        <div class="card">
                            <h2>"Summary"</h2>
                            {move || summary.with(|s| s.as_ref().map(|s| s.body_summary.clone())).map(|b| {
                                if b.trim().is_empty() {
                                    view! { <p class="empty">"The pull request has no description."</p> }.into_any()
                                } else {
                                    view! {
                                        <div class="pr-body">
                                            {blocks(&b)
                                                .into_iter()
                                                .map(|blk| match blk {
                                                    Block::Heading(t) => view! { <h3 class="md-heading">{t}</h3> }.into_any(),
                                                    Block::Text(t) => view! { <p>{t}</p> }.into_any(),
                                                })
                                                .collect_view()}
                                        </div>
                                    }
                                        .into_any()
                                }
                            })}
                        </div>
                        <div class="card">
                            <h2>{move || format!("Commits ({})", summary.with(|s| s.as_ref().map_or(0, |s| s.commits.len())))}</h2>
                            {move || {
                                let cs = summary.with(|s| s.as_ref().map(|s| s.commits.clone()).unwrap_or_default());
                                if cs.is_empty() {
                                    return view! { <p class="empty">"No commits."</p> }.into_any();
                                }
                                view! {
                                    <ol class="commits">
                                        {cs.into_iter().map(|c| view! {
                                            <li class="commit" data-sha=c.sha.clone()>
                                                <span class="mono sha">{short_sha(&c.sha)}</span>
                                                <span class="commit-msg">{first_line(&c.message)}</span>
                                                <span class="muted small">
                                                    {c.author.clone()}
                                                    {c.date.map(|d| format!(" · {}", util::time_text(d)))}
                                                </span>
                                            </li>
                                        }).collect_view()}
                                    </ol>
                                }
                                    .into_any()
                            }}
                        </div>
                        <div class="card">
                            <h2>{move || format!("Tests ({} file{})", summary.with(|s| s.as_ref().map_or(0, |s| s.test_files.len())), if summary.with(|s| s.as_ref().map_or(0, |s| s.test_files.len())) == 1 { "" } else { "s" })}</h2>
                            {move || {
                                let fs = summary.with(|s| s.as_ref().map(|s| s.test_files.clone()).unwrap_or_default());
                                if fs.is_empty() {
                                    return view! { <p class="empty">"This pull request touches no test files."</p> }.into_any();
                                }
                                view! {
                                    <ul class="test-files">
                                        {fs.into_iter().map(|f| {
                                            let n = f.tests.len();
                                            view! {
                                                <li class="test-file" data-path=f.path.clone()>
                                                    <div class="test-file-head">
                                                        <span class="mono">{f.path.clone()}</span>
                                                        <span class=format!("badge file-{}", f.status)>{f.status.clone()}</span>
                                                        <span class="diffstat small">
                                                            <span class="add">{format!("+{}", f.additions)}</span>
                                                            " "
                                                            <span class="del">{format!("−{}", f.deletions)}</span>
                                                        </span>
                                                        <span class="muted small">{format!("{n} test{}", if n == 1 { "" } else { "s" })}</span>
                                                    </div>
                                                    {if f.tests.is_empty() {
                                                        view! { <p class="muted small">"No test names found in this file."</p> }.into_any()
                                                    } else {
                                                        view! {
                                                            <ul class="test-names">
                                                                {f.tests.into_iter().map(|t| view! { <li class="test-name mono">{t}</li> }).collect_view()}
                                                            </ul>
                                                        }.into_any()
                                                    }}
                                                </li>
                                            }
                                        }).collect_view()}
                                    </ul>
                                }
                                    .into_any()
                            }}
                        </div>
                    </div>
                    <div class="review-side">
                        <div class="card review-actions">
                            <h2>"Review"</h2>
                            <form class="form" id="pr-comment-form" on:submit=move |ev| post_comment.run(ev) novalidate>
                                <label>
                                    "Comment"
                                    <textarea
                                        name="pr_comment"
                                        rows="4"
                                        placeholder="Leave a comment on the pull request…"
                                        prop:value=move || comment.get()
                                        on:input=move |ev| {
                                            comment.set(event_target_value(&ev));
                                            comment_error.set(None);
                                        }
                                    ></textarea>
                                    {move || comment_error.get().map(|m| view! { <span class="field-error">{m}</span> })}
                                </label>
                                <div class="row">
                                    <button class="btn" type="submit" id="post-comment" disabled=move || busy.get().is_some()>
                                        {move || if busy.get() == Some(Busy::Comment) { "Posting…" } else { "Comment" }}
                                    </button>
                                    <button
                                        class="btn primary"
                                        type="button"
                                        id="approve"
                                        title="Approve the pull request (with the comment above, if any)"
                                        disabled=move || busy.get().is_some() || !is_open()
                                        on:click=move |ev| approve.run(ev)
                                    >
                                        {move || if busy.get() == Some(Busy::Approve) { "Approving…" } else { "Approve" }}
                                    </button>
                                </div>
                            </form>
                            <ReviewError error=error_for(Busy::Comment) doing="Could not post the comment" project=project />
                            <ReviewError error=error_for(Busy::Approve) doing="Could not approve" project=project />
                            <div class="merge-box">
                                <h3>"Merge"</h3>
                                <Show when=is_open>
                                <div class="row">
                                    <select
                                        name="merge_method"
                                        id="merge-method"
                                        disabled=move || busy.get().is_some() || !is_open()
                                        on:change=move |ev| {
                                            confirm_merge.set(false);
                                            let v = event_target_value(&ev);
                                            method.set(METHODS.iter().find(|(_, s, _)| *s == v).map(|(m, _, _)| *m).unwrap_or_default());
                                        }
                                    >
                                        {METHODS.iter().map(|(m, v, label)| {
                                            let m = *m;
                                            view! { <option value=*v selected=move || method.get() == m>{*label}</option> }
                                        }).collect_view()}
                                    </select>
                                    <button
                                        class=move || if confirm_merge.get() { "btn danger" } else { "btn" }
                                        type="button"
                                        id="merge"
                                        disabled=move || busy.get().is_some() || !is_open()
                                        on:click=move |ev| merge.run(ev)
                                    >
                                        {move || match (busy.get() == Some(Busy::Merge), confirm_merge.get()) {
                                            (true, _) => "Merging…".to_string(),
                                            (false, true) => format!(
                                                "Really merge into {}?",
                                                summary.with(|s| s.as_ref().map(|s| s.base_branch.clone()).unwrap_or_default())
                                            ),
                                            (false, false) => "Merge".to_string(),
                                        }}
                                    </button>
                                    <Show when=move || confirm_merge.get()>
                                        <button class="btn ghost" type="button" id="cancel-merge" on:click=move |_| confirm_merge.set(false)>
                                            "Cancel"
                                        </button>
                                    </Show>
                                </div>
                                </Show>
                                {move || summary.with(|s| s.as_ref().and_then(|s| match s.state {
                                    PrState::Merged => Some("This pull request is merged; its ticket is in Done."),
                                    PrState::Closed => Some("This pull request was closed without merging."),
                                    PrState::Open if s.draft => Some("A draft pull request: GitHub may refuse to merge it until it is marked ready."),
                                    PrState::Open => None,
                                })).map(|t| view! { <p class="hint">{t}</p> })}
                            </div>
                            <ReviewError error=error_for(Busy::Merge) doing="Could not merge" project=project />
                            {move || notice.get().map(|n| view! { <p class="notice" role="status" id="review-notice">{n}</p> })}
                        </div>
                        <Conversation summary=summary />
                    </div>
                </div>
            </Show>
        </section>
    }
}

/// An entry of the conversation: a comment or a review, in time order.
#[derive(Clone)]
enum Entry {
    Comment(PrComment),
    Review(PrReview),
}

impl Entry {
    fn at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            Entry::Comment(c) => Some(c.created_at),
            Entry::Review(r) => r.submitted_at,
        }
    }
}

fn conversation(s: &ReviewSummary) -> Vec<Entry> {
    let mut v: Vec<Entry> = s
        .comments
        .iter()
        .cloned()
        .map(Entry::Comment)
        .chain(
            s.reviews
                .iter()
                // A plain "commented" review without text adds nothing to read.
                .filter(|r| !(r.body.trim().is_empty() && r.state.eq_ignore_ascii_case("commented")))
                .cloned()
                .map(Entry::Review),
        )
        .collect();
    // Undated reviews (pending) last; the sort is stable otherwise.
    v.sort_by_key(|e| (e.at().is_none(), e.at()));
    v
}

#[component]
fn Conversation(summary: RwSignal<Option<ReviewSummary>>) -> impl IntoView {
    let entries = Memo::new(move |_| summary.with(|s| s.as_ref().map(conversation).unwrap_or_default().len()));
    view! {
        <div class="card conversation">
            <h2>{move || format!("Conversation ({})", entries.get())}</h2>
            {move || {
                let es = summary.with(|s| s.as_ref().map(conversation).unwrap_or_default());
                if es.is_empty() {
                    return view! { <p class="empty">"No comments yet."</p> }.into_any();
                }
                view! {
                    <ol class="pr-comments">
                        {es.into_iter().map(|e| match e {
                            Entry::Comment(c) => {
                                let (body, by_agent) = (c.body.clone(), c.by_agent);
                                view! {
                                <li class=format!("pr-comment kind-{}", if c.kind == PrCommentKind::Review { "review" } else { "issue" }) data-comment-id=c.id>
                                    <div class="event-head">
                                        <strong>{c.author.clone()}</strong>
                                        {by_agent.then(|| view! { <span class="badge">"agent"</span> })}
                                        {c.path.clone().map(|p| view! {
                                            <span class="mono small">{match c.line { Some(l) => format!("{p}:{l}"), None => p }}</span>
                                        })}
                                        <span class="muted small">{util::time_text(c.created_at)}</span>
                                    </div>
                                    <p class="summary">{body}</p>
                                </li>
                                }.into_any()
                            }
                            Entry::Review(r) => {
                                let state = r.state.to_ascii_lowercase();
                                let label = state.replace('_', " ");
                                view! {
                                    <li class="pr-comment kind-verdict" data-review-id=r.id>
                                        <div class="event-head">
                                            <strong>{r.author.clone()}</strong>
                                            <span class=format!("badge review-{state}") class:ok=state == "approved">{label}</span>
                                            {r.submitted_at.map(|d| view! { <span class="muted small">{util::time_text(d)}</span> })}
                                        </div>
                                        {(!r.body.trim().is_empty()).then(|| view! { <p class="summary">{r.body.clone()}</p> })}
                                    </li>
                                }.into_any()
                            }
                        }).collect_view()}
                    </ol>
                }
                    .into_any()
            }}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn err(code: &str, message: &str) -> ApiError {
        ApiError {
            status: 409,
            code: code.into(),
            message: message.into(),
            field: None,
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

    #[test]
    fn descriptions_keep_text_and_lift_headings() {
        assert_eq!(
            blocks("## What was accomplished\n\nA cart total\nwith tests.\n\n\n#hashtag line\n### Notes\n- one"),
            [
                Block::Heading("What was accomplished".into()),
                Block::Text("A cart total\nwith tests.".into()),
                Block::Text("#hashtag line".into()),
                Block::Heading("Notes".into()),
                Block::Text("- one".into()),
            ]
        );
        assert!(blocks("  \n\n").is_empty());
    }

    #[test]
    fn the_summary_parses_the_contract() {
        let json = r#"{
            "ticket_id": "6f1b7a52-6c3e-4b7c-9d54-1f0b2b1f0f11", "pr_number": 7,
            "pr_url": "https://github.com/acme/shop/pull/7", "title": "Checkout", "state": "open",
            "draft": false, "body_summary": "Adds checkout.", "head_branch": "ticket-1",
            "base_branch": "main", "mergeable": null, "additions": 10, "deletions": 2,
            "changed_files": 3,
            "commits": [{"sha": "abcdef0123", "message": "Add checkout\n\nbody", "author": "bot", "date": null}],
            "test_files": [{"path": "tests/checkout.rs", "status": "added", "additions": 9, "deletions": 0, "tests": ["total_adds_up"]}],
            "comments": [{"id": 1001, "kind": "issue", "author": "me", "body": "Nice", "path": null, "line": null, "created_at": "2026-01-01T00:00:00Z"}],
            "reviews": [{"id": 5, "author": "me", "state": "APPROVED", "body": "", "submitted_at": "2026-01-01T00:01:00Z"}],
            "approved": true
        }"#;
        let s: ReviewSummary = serde_json::from_str(json).unwrap();
        assert_eq!(s.state, PrState::Open);
        assert_eq!(first_line(&s.commits[0].message), "Add checkout");
        assert_eq!(short_sha(&s.commits[0].sha), "abcdef0");
        assert_eq!(s.test_files[0].tests, ["total_adds_up"]);
        let entries = conversation(&s);
        assert_eq!(entries.len(), 2);
        assert!(matches!(entries[0], Entry::Comment(_)));
        assert!(matches!(entries[1], Entry::Review(_)));
    }

    #[test]
    fn conversation_orders_by_time_and_drops_empty_comment_reviews() {
        let at = |m| chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, m, 0).unwrap();
        let c = |id, m| PrComment {
            id,
            kind: PrCommentKind::Issue,
            author: "a".into(),
            body: "b".into(),
            path: None,
            line: None,
            created_at: at(m),
            by_agent: false,
        };
        let r = |id, state: &str, body: &str, m: Option<u32>| PrReview {
            id,
            author: "a".into(),
            state: state.into(),
            body: body.into(),
            submitted_at: m.map(at),
        };
        let s = ReviewSummary {
            ticket_id: Uuid::nil(),
            pr_number: 1,
            pr_url: String::new(),
            title: String::new(),
            state: PrState::Open,
            draft: false,
            body_summary: String::new(),
            head_branch: String::new(),
            base_branch: String::new(),
            mergeable: Some(true),
            additions: 0,
            deletions: 0,
            changed_files: 0,
            commits: vec![],
            test_files: vec![],
            comments: vec![c(1, 5), c(2, 1)],
            reviews: vec![
                r(3, "COMMENTED", "", Some(2)),
                r(4, "APPROVED", "", Some(3)),
                r(5, "PENDING", "x", None),
            ],
            approved: true,
        };
        let ids: Vec<i64> = conversation(&s)
            .iter()
            .map(|e| match e {
                Entry::Comment(c) => c.id,
                Entry::Review(r) => r.id,
            })
            .collect();
        assert_eq!(ids, [2, 4, 1, 5]);
    }
}
