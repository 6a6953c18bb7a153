//! Small pieces of a pull request as shown: its state badge, its description's blocks,
//! commit lines.

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

/// A piece of a PR description: Markdown headings stand out, the rest stays text.
#[derive(Debug, PartialEq)]
pub(super) enum Block {
    Heading(String),
    Text(String),
}

pub(super) fn blocks(body: &str) -> Vec<Block> {
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

pub(super) fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

pub(super) fn short_sha(s: &str) -> String {
    s.chars().take(7).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
