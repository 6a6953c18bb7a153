//! A pull request's conversation: its comments and reviews in time order.

use leptos::prelude::*;
use terarchitect_protocol::{PrComment, PrCommentKind, PrReview, ReviewSummary};

use crate::util;

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
pub(super) fn Conversation(summary: RwSignal<Option<ReviewSummary>>) -> impl IntoView {
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
                                let (body, by_agent, outsider) = (c.body.clone(), c.by_agent, c.outsider);
                                view! {
                                <li class=format!("pr-comment kind-{}", if c.kind == PrCommentKind::Review { "review" } else { "issue" }) data-comment-id=c.id>
                                    <div class="event-head">
                                        <strong>{c.author.clone()}</strong>
                                        {by_agent.then(|| view! { <span class="badge">"agent"</span> })}
                                        // The agent acts only on owners', members', collaborators' and listed logins' comments.
                                        {outsider.then(|| view! {
                                            <span class="badge outsider" title="Set review_trusted_logins to trust this login">
                                                "not from a collaborator — not acted on"
                                            </span>
                                        })}
                                        {c.path.clone().map(|p| view! {
                                            <span class="mono small">{match c.line { Some(l) => format!("{p}:{l}"), None => p }}</span>
                                        })}
                                        <span class="muted small">{util::time_text(c.created_at)}</span>
                                    </div>
                                    <div class="summary markdown" inner_html=crate::markdown::to_html(&body)></div>
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
                                        {(!r.body.trim().is_empty()).then(|| view! { <div class="summary markdown" inner_html=crate::markdown::to_html(&r.body)></div> })}
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
    use terarchitect_protocol::PrState;
    use uuid::Uuid;

    use super::super::pr::{first_line, short_sha};

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
            outsider: false,
        };
        let r = |id, state: &str, body: &str, m: Option<u32>| PrReview {
            id,
            author: "a".into(),
            state: state.into(),
            body: body.into(),
            submitted_at: m.map(at),
        };
        let s = ReviewSummary {
            ticket_id: Uuid::nil().into(),
            pr_number: 1,
            pr_url: String::new(),
            title: String::new(),
            state: PrState::Open,
            draft: false,
            body_summary: String::new(),
            body: String::new(),
            head_branch: String::new(),
            base_branch: String::new(),
            mergeable: Some(true),
            additions: 0,
            deletions: 0,
            changed_files: 0,
            commits: vec![],
            test_files: vec![],
            files: vec![],
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
