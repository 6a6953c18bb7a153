//! GitHub Markdown (PR descriptions, comments) as safe HTML. CommonMark with tables,
//! strikethrough and task lists; pulldown-cmark escapes all text. Raw HTML is dropped except
//! a short allowlist of attribute-free tags (`<details>`, `<summary>`, `<br>`, …) that
//! GitHub users write; links and images keep only http(s) targets.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

/// Raw tags kept (lower case, no attributes; `<details open>` too).
const ALLOWED_TAGS: &[&str] = &[
    "details", "summary", "br", "b", "i", "em", "strong", "code", "kbd", "sub", "sup",
];

pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    // Links and images whose target is dropped lose their tags but keep their text.
    let mut dropped: Vec<bool> = Vec::new();
    let events = Parser::new_ext(markdown, options).filter_map(|event| match event {
        Event::Html(h) | Event::InlineHtml(h) => Some(Event::Html(CowStr::from(sanitize_html(&h)))),
        Event::Start(Tag::Link { ref dest_url, .. }) | Event::Start(Tag::Image { ref dest_url, .. }) => {
            let ok = is_web_url(dest_url);
            dropped.push(!ok);
            ok.then_some(event)
        }
        Event::End(TagEnd::Link) | Event::End(TagEnd::Image) => (!dropped.pop().unwrap_or(false)).then_some(event),
        other => Some(other),
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

fn is_web_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// Keeps the allowed tags of a raw HTML fragment (rewritten without attributes) and the
/// text between tags (escaped); drops every other tag, comments and scripts' text.
fn sanitize_html(raw: &str) -> String {
    let mut out = String::new();
    let mut rest = raw;
    let mut in_script = false;
    while let Some(open) = rest.find('<') {
        if !in_script {
            out.push_str(&escape(&rest[..open]));
        }
        let Some(close) = rest[open..].find('>') else {
            rest = &rest[open + 1..];
            continue;
        };
        let tag = rest[open + 1..open + close].trim();
        rest = &rest[open + close + 1..];
        let (closing, body) = match tag.strip_prefix('/') {
            Some(b) => (true, b.trim()),
            None => (false, tag.trim_end_matches('/').trim()),
        };
        let name = body.split_whitespace().next().unwrap_or_default().to_ascii_lowercase();
        if name == "script" || name == "style" {
            in_script = !closing;
            continue;
        }
        if !ALLOWED_TAGS.contains(&name.as_str()) {
            continue;
        }
        let open_attr =
            name == "details" && !closing && body.split_whitespace().skip(1).any(|a| a.eq_ignore_ascii_case("open"));
        out.push_str(&match (closing, open_attr) {
            (true, _) => format!("</{name}>"),
            (false, true) => "<details open>".to_string(),
            (false, false) => format!("<{name}>"),
        });
    }
    if !in_script {
        out.push_str(&escape(rest));
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn markdown_renders_with_github_s_everyday_html() {
        let html = to_html(
            "## Done\n\nThis is **bold** and `code`.\n\n- one\n- two\n\n```rust\nfn main() {}\n```\n\n<details><summary>Output</summary>\n\nall <b>green</b>\n\n</details>\n",
        );
        for part in [
            "<h2>Done</h2>",
            "<strong>bold</strong>",
            "<code>code</code>",
            "<li>one</li>",
            "<pre><code class=\"language-rust\">fn main() {}",
            "<details><summary>Output</summary>",
            "<b>green</b>",
            "</details>",
        ] {
            assert!(html.contains(part), "{part} missing from {html}");
        }
    }

    #[test]
    fn scripts_handlers_and_foreign_links_are_dropped() {
        let html = to_html(
            "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[click](javascript:alert(3)) [ok](https://example.com/a)\n\n<details open onclick=\"x()\"><summary>s</summary></details>\n\n<a href=\"javascript:x\">raw</a>",
        );
        for bad in [
            "<script",
            "alert(1)",
            "onerror",
            "javascript:",
            "onclick",
            "<img",
            "<a href=\"javascript",
        ] {
            assert!(!html.contains(bad), "{bad} kept in {html}");
        }
        assert!(html.contains("click"), "the link's text stays: {html}");
        assert!(html.contains("<a href=\"https://example.com/a\">ok</a>"), "{html}");
        assert!(html.contains("<details open><summary>s</summary></details>"), "{html}");
    }
}
