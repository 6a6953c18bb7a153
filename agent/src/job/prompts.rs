//! What the job tells others: the ticket brief the Director and the Worker work from, and
//! the pull request's body.

use terarchitect_protocol::WorkerContext;

use crate::events::{cap, cap_tail};
use crate::tools::CommandOutput;

/// The ticket and its context as the Director and the Worker see it: no settings, no secrets.
pub fn brief(ctx: &WorkerContext) -> String {
    let t = &ctx.ticket;
    let mut s = format!(
        "Project: {} — {}\nTicket: {} (priority {})\n{}\n",
        ctx.project.name,
        ctx.project.description,
        t.title,
        t.priority.as_str(),
        t.description
    );
    if !ctx.graph.nodes.is_empty() {
        s.push_str("\nArchitecture (relevant part):\n");
        for n in &ctx.graph.nodes {
            s.push_str(&format!(
                "- {} [{}; {}]: {}\n",
                n.label, n.kind, n.technology, n.description
            ));
        }
        for e in &ctx.graph.edges {
            let name = |id| {
                ctx.graph
                    .nodes
                    .iter()
                    .find(|n| n.id == id)
                    .map_or("?".to_string(), |n| n.label.clone())
            };
            s.push_str(&format!(
                "- {} → {} ({}, {})\n",
                name(e.source),
                name(e.target),
                e.label,
                e.protocol
            ));
        }
    }
    if !ctx.notes.is_empty() {
        s.push_str("\nNotes:\n");
        for n in &ctx.notes {
            s.push_str(&format!("- {}\n", cap(&n.body, 1000)));
        }
    }
    if !ctx.comments.is_empty() {
        s.push_str("\nTicket comments:\n");
        for c in &ctx.comments {
            s.push_str(&format!("- {}: {}\n", c.author, cap(&c.body, 1000)));
        }
    }
    s
}

pub(super) fn pr_body(
    ctx: &WorkerContext,
    plan: &str,
    summary: &str,
    files: &[String],
    tests: Option<&CommandOutput>,
) -> String {
    let t = &ctx.ticket;
    let tests = match tests {
        Some(o) => format!(
            "`{}` passed.\n\n<details><summary>Output</summary>\n\n```\n{}\n```\n</details>",
            o.command,
            cap_tail(o.output.trim(), 4000)
        ),
        None => "No test command was found in the repository.".into(),
    };
    let files: String = files.iter().map(|f| format!("- `{f}`\n")).collect();
    let body = format!(
        "## Ticket\n**{}**\n\n{}\n\n## Approved plan\n{}\n\n## What was accomplished\n{}\n\nFiles changed:\n{files}\n## Tests\n{tests}\n\n---\nOpened by Terarchitect for ticket `{}` (job `{}`).",
        t.title,
        cap(&t.description, 4000),
        cap(plan, 8000),
        summary.trim(),
        t.id,
        ctx.job.id
    );
    cap(&body, 60_000)
}
