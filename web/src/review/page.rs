//! One ticket's pull request: its summary, description, commits and test files, with
//! Comment, Approve and Merge.

use leptos::prelude::*;

use super::conversation::Conversation;
use super::diff::Diff;
use super::error::ReviewError;
use super::pr::{first_line, short_sha, state_badge};
use crate::api::{self, ApiError};
use crate::route::{Link, Route, Tab};
use crate::util::{self, Loading};

use terarchitect_protocol::{
    MergeMethod, MergeOutcome, NewPrComment, PrApproval, PrComment, PrMerge, PrReview, PrState, ProjectId,
    ReviewSummary, TicketId, Validate,
};

const METHODS: [(MergeMethod, &str, &str); 3] = [
    (MergeMethod::Squash, "squash", "Squash and merge"),
    (MergeMethod::Merge, "merge", "Create a merge commit"),
    (MergeMethod::Rebase, "rebase", "Rebase and merge"),
];

/// Which action is in flight on the review page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Busy {
    Comment,
    Approve,
    Merge,
}

/// One ticket's pull request: read it, comment, approve, merge.
#[component]
pub fn ReviewPage(project: ProjectId, ticket: TicketId) -> impl IntoView {
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
                ..Default::default()
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
                                ..Default::default()
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
                                <a class="pr-link" href=crate::util::web_href(&s.pr_url) target="_blank" rel="noopener">{format!("PR #{}", s.pr_number)}</a>
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
                            {move || summary.with(|s| s.as_ref().map(|s| if s.body.is_empty() { s.body_summary.clone() } else { s.body.clone() })).map(|b| {
                                if b.trim().is_empty() {
                                    view! { <p class="empty">"The pull request has no description."</p> }.into_any()
                                } else {
                                    view! { <div class="pr-body markdown" inner_html=crate::markdown::to_html(&b)></div> }.into_any()
                                }
                            })}
                        </div>
                        {
                            let (base, load) = (base.clone(), load.clone());
                            let posted = Callback::new(move |()| load());
                            move || summary.with(|s| s.as_ref().map(|s| s.files.clone())).map(|files| view! { <Diff files=files base=base.clone() on_posted=posted /> })
                        }
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
