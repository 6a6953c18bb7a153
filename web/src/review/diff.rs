//! The PR's changed files: each file's patch as a table of old/new line numbers and code,
//! additions and deletions marked, keywords, strings and comments highlighted; one
//! collapsible section per file, large files folded. A line of the new version takes a
//! review comment (GitHub's, on the PR's head), which the agent answers in its next round.

use leptos::prelude::*;
use terarchitect_protocol::{NewPrComment, PrComment, PrFile, Validate};

use crate::api;

/// Patches longer than this many lines start folded.
const FOLD_LINES: usize = 300;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    Hunk,
    Add,
    Del,
    Context,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Line {
    pub kind: Kind,
    pub old: Option<u32>,
    pub new: Option<u32>,
    pub text: String,
}

/// A unified-diff patch (GitHub's `patch`: hunks only) as numbered lines.
pub(super) fn parse_patch(patch: &str) -> Vec<Line> {
    let (mut old, mut new) = (0u32, 0u32);
    let mut out = Vec::new();
    for raw in patch.lines() {
        if let Some(header) = raw.strip_prefix("@@") {
            // @@ -12,5 +12,7 @@ context
            let mut nums = header.split_whitespace();
            let start = |s: Option<&str>, sign: char| {
                s.and_then(|s| s.strip_prefix(sign))
                    .and_then(|s| s.split(',').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1)
            };
            old = start(nums.next(), '-');
            new = start(nums.next(), '+');
            out.push(Line {
                kind: Kind::Hunk,
                old: None,
                new: None,
                text: raw.to_string(),
            });
            continue;
        }
        let (kind, text) = match raw.chars().next() {
            Some('+') => (Kind::Add, &raw[1..]),
            Some('-') => (Kind::Del, &raw[1..]),
            Some('\\') => continue, // "\ No newline at end of file"
            Some(' ') => (Kind::Context, &raw[1..]),
            _ => (Kind::Context, raw),
        };
        let line = Line {
            old: (kind != Kind::Add).then_some(old),
            new: (kind != Kind::Del).then_some(new),
            kind,
            text: text.to_string(),
        };
        old += u32::from(line.old.is_some());
        new += u32::from(line.new.is_some());
        out.push(line);
    }
    out
}

const KEYWORDS: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "class",
    "const",
    "continue",
    "def",
    "else",
    "elif",
    "enum",
    "export",
    "false",
    "fn",
    "for",
    "from",
    "func",
    "function",
    "if",
    "impl",
    "import",
    "in",
    "interface",
    "let",
    "match",
    "mod",
    "mut",
    "None",
    "null",
    "package",
    "pass",
    "pub",
    "raise",
    "return",
    "self",
    "static",
    "struct",
    "trait",
    "true",
    "try",
    "type",
    "use",
    "var",
    "while",
    "with",
    "yield",
];

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Plain(String),
    Keyword(String),
    Str(String),
    Comment(String),
}

/// A light, language-agnostic highlighter: comments (`//`, `#`), strings, keywords.
pub(super) fn highlight(code: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut chars = code.char_indices().peekable();
    let flush = |plain: &mut String, out: &mut Vec<Token>| {
        if !plain.is_empty() {
            out.push(Token::Plain(std::mem::take(plain)));
        }
    };
    while let Some((i, c)) = chars.next() {
        let rest = &code[i..];
        if rest.starts_with("//") || (c == '#' && !rest.starts_with("#[") && !rest.starts_with("#!")) {
            flush(&mut plain, &mut out);
            out.push(Token::Comment(rest.to_string()));
            break;
        }
        if c == '"' || c == '\'' || c == '`' {
            flush(&mut plain, &mut out);
            let mut s = String::from(c);
            let mut escaped = false;
            for (_, d) in chars.by_ref() {
                s.push(d);
                if d == c && !escaped {
                    break;
                }
                escaped = d == '\\' && !escaped;
            }
            out.push(Token::Str(s));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let mut word = String::from(c);
            while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_alphanumeric() || *d == '_') {
                word.push(d);
                chars.next();
            }
            if KEYWORDS.contains(&word.as_str()) {
                flush(&mut plain, &mut out);
                out.push(Token::Keyword(word));
            } else {
                plain.push_str(&word);
            }
            continue;
        }
        plain.push(c);
    }
    flush(&mut plain, &mut out);
    out
}

/// `base`: the ticket's review API (`…/review`); `on_posted` runs after a line comment.
#[component]
pub fn Diff(files: Vec<PrFile>, base: String, on_posted: Callback<()>) -> impl IntoView {
    let n = files.len();
    view! {
        <div class="card diff" id="pr-diff">
            <h2>{format!("Files changed ({n})")}</h2>
            {(n == 0).then(|| view! { <p class="empty">"No files changed."</p> })}
            {files.into_iter().map(|f| view! { <DiffFile file=f base=base.clone() on_posted=on_posted /> }).collect_view()}
        </div>
    }
}

/// The inline form under line `line` of `path`: posts a review comment there.
#[component]
fn LineComment(
    path: String,
    line: u32,
    base: String,
    open_at: RwSignal<Option<u32>>,
    on_posted: Callback<()>,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let c = NewPrComment {
            body: text.get_untracked(),
            path: Some(path.clone()),
            line: Some(i64::from(line)),
        };
        if let Err(e) = c.validate() {
            error.set(Some(e.message));
            return;
        }
        busy.set(true);
        let url = format!("{base}/comments");
        leptos::task::spawn_local(async move {
            match api::post::<_, PrComment>(&url, &c).await {
                Ok(_) => {
                    open_at.set(None);
                    on_posted.run(());
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    view! {
        <tr class="line-comment-form">
            <td colspan="3">
                <form on:submit=submit>
                    <textarea
                        name="line-comment"
                        rows="3"
                        placeholder="Comment on this line: the agent answers it in its next round"
                        prop:value=move || text.get()
                        on:input=move |ev| text.set(event_target_value(&ev))
                    ></textarea>
                    {move || error.get().map(|m| view! { <span class="field-error">{m}</span> })}
                    <div class="row">
                        <button class="btn primary" type="submit" disabled=move || busy.get()>"Comment"</button>
                        <button class="btn ghost" type="button" on:click=move |_| open_at.set(None)>"Cancel"</button>
                    </div>
                </form>
            </td>
        </tr>
    }
}

#[component]
fn DiffFile(file: PrFile, base: String, on_posted: Callback<()>) -> impl IntoView {
    let open_at = RwSignal::new(None::<u32>);
    let lines = file.patch.as_deref().map(parse_patch);
    let large = lines.as_ref().is_some_and(|l| l.len() > FOLD_LINES);
    view! {
        <details class="diff-file" data-path=file.path.clone() data-large=large.to_string() open=!large>
            <summary>
                <span class="mono">{file.path.clone()}</span>
                <span class="muted small">{format!(" {} ", file.status)}</span>
                <span class="adds">{format!("+{}", file.additions)}</span>
                " "
                <span class="dels">{format!("−{}", file.deletions)}</span>
                {large.then(|| view! { <span class="muted small">" large diff, folded"</span> })}
            </summary>
            {match lines {
                None => view! { <p class="empty">"No diff to show (a binary or very large file)."</p> }.into_any(),
                Some(lines) => view! {
                    <table class="diff-lines">
                        <tbody>
                            {lines.into_iter().map(|l| {
                                let class = match l.kind {
                                    Kind::Hunk => "hunk",
                                    Kind::Add => "add",
                                    Kind::Del => "del",
                                    Kind::Context => "ctx",
                                };
                                let num = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
                                let code = if l.kind == Kind::Hunk {
                                    view! { <span>{l.text.clone()}</span> }.into_any()
                                } else {
                                    highlight(&l.text).into_iter().map(|t| match t {
                                        Token::Plain(s) => view! { <span>{s}</span> }.into_any(),
                                        Token::Keyword(s) => view! { <span class="tok-kw">{s}</span> }.into_any(),
                                        Token::Str(s) => view! { <span class="tok-str">{s}</span> }.into_any(),
                                        Token::Comment(s) => view! { <span class="tok-comment">{s}</span> }.into_any(),
                                    }).collect_view().into_any()
                                };
                                // Lines of the new version take a comment.
                                let commentable = l.new.filter(|_| l.kind != Kind::Hunk);
                                let (path, base) = (file.path.clone(), base.clone());
                                view! {
                                    <tr class=class data-new-line=commentable.map(|n| n.to_string())>
                                        <td class="ln">{num(l.old)}</td>
                                        <td class="ln">
                                            {commentable.map(|n| view! {
                                                <button class="line-comment" type="button" title="Comment on this line" on:click=move |_| open_at.set(Some(n))>"+"</button>
                                            })}
                                            {num(l.new)}
                                        </td>
                                        <td class="code"><pre>{code}</pre></td>
                                    </tr>
                                    {move || commentable.filter(|n| open_at.get() == Some(*n)).map(|n| view! {
                                        <LineComment path=path.clone() line=n base=base.clone() open_at=open_at on_posted=on_posted />
                                    })}
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_becomes_numbered_lines() {
        let lines = parse_patch("@@ -3,3 +3,4 @@ fn f\n ctx\n-old\n+new\n+more\n\\ No newline at end of file");
        let nums: Vec<_> = lines.iter().map(|l| (l.kind.clone(), l.old, l.new)).collect();
        assert_eq!(
            nums,
            [
                (Kind::Hunk, None, None),
                (Kind::Context, Some(3), Some(3)),
                (Kind::Del, Some(4), None),
                (Kind::Add, None, Some(4)),
                (Kind::Add, None, Some(5)),
            ]
        );
        assert_eq!(lines[3].text, "new");
    }

    #[test]
    fn keywords_strings_and_comments_are_told_apart() {
        assert_eq!(
            highlight("let s = \"a // b\"; // note"),
            [
                Token::Keyword("let".into()),
                Token::Plain(" s = ".into()),
                Token::Str("\"a // b\"".into()),
                Token::Plain("; ".into()),
                Token::Comment("// note".into()),
            ]
        );
        assert_eq!(highlight("#[test]"), [Token::Plain("#[test]".into())]);
    }
}
