//! Which of a pull request's comments the agent has answered.
//!
//! The scheduler (to decide whether a review job is due) and the agent (to pick what a
//! review round must address) read the same thread and must agree. Every reply the agent
//! posts ends with [`AGENT_COMMENT_MARKER`](crate::AGENT_COMMENT_MARKER) and names the
//! reviewers' comments it answered, so a comment posted while the agent worked stays
//! unanswered even though the reply came after it.
//!
//! Only trusted comments steer the agent ([`Trust`]): both sides drop the others before
//! anything else, so an outsider can neither start a review round nor, by faking the
//! agent's marker, mark a collaborator's comment answered.

use chrono::{DateTime, Utc};

const ANSWERED_PREFIX: &str = "<!-- terarchitect-answered:";

string_enum! {
    /// The two kinds of PR comment GitHub keeps apart (their ids are separate sequences).
    pub enum CommentKind {
        /// On the conversation (`issues/{n}/comments`).
        Issue = "issue",
        /// On a line of the diff (`pulls/{n}/comments`).
        Review = "review",
    }
}

/// GitHub's `author_association` values whose comments are trusted.
pub const TRUSTED_ASSOCIATIONS: [&str; 3] = ["OWNER", "MEMBER", "COLLABORATOR"];

/// Whose PR comments may steer a review job: the repository's owners, members and
/// collaborators (GitHub's `author_association`), and the logins the project lists in
/// `review_trusted_logins`. Anyone else's comments are shown but start nothing and never
/// reach the agent's LLM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// Lower case: GitHub logins are case-insensitive.
    logins: Vec<String>,
}

impl Trust {
    /// From the `review_trusted_logins` setting: logins separated by commas (or blanks),
    /// a leading `@` ignored.
    pub fn from_setting(value: Option<&str>) -> Trust {
        let logins = value
            .unwrap_or_default()
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(|l| l.trim_start_matches('@').to_ascii_lowercase())
            .filter(|l| !l.is_empty())
            .collect();
        Trust { logins }
    }

    /// Whether a comment by `login`, whose `author_association` GitHub gave as
    /// `association`, may steer the agent.
    pub fn trusts(&self, login: &str, association: Option<&str>) -> bool {
        association.is_some_and(|a| TRUSTED_ASSOCIATIONS.contains(&a))
            || (!login.is_empty() && self.logins.iter().any(|l| l.eq_ignore_ascii_case(login)))
    }
}

/// One comment of a PR thread, as either side reads it from GitHub.
#[derive(Debug, Clone, Copy)]
pub struct ThreadEntry<'a> {
    pub kind: CommentKind,
    pub id: u64,
    pub body: &'a str,
    pub created_at: DateTime<Utc>,
}

/// Whether an entry is the agent's reply, or a reviewer's comment and answered or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    AgentReply,
    Answered,
    Unanswered,
}

/// The hidden lines that end an agent reply answering `answered`.
pub fn agent_reply_footer(answered: &[(CommentKind, u64)]) -> String {
    let ids: Vec<String> = answered.iter().map(|(k, id)| format!("{}:{id}", k.as_str())).collect();
    format!(
        "{ANSWERED_PREFIX} {} -->\n{}",
        ids.join(" "),
        crate::AGENT_COMMENT_MARKER
    )
}

/// The standing of every comment of `thread` (each seen through `entry`), in order. A
/// reply names what it answered; a reply without that list (posted by an older agent)
/// answers everything posted before it.
pub fn standings<T>(thread: &[T], entry: impl Fn(&T) -> ThreadEntry<'_>) -> Vec<Standing> {
    let thread: Vec<ThreadEntry> = thread.iter().map(entry).collect();
    let mut named: Vec<(CommentKind, u64)> = Vec::new();
    let mut unlisted_reply_at: Option<DateTime<Utc>> = None;
    for e in thread.iter().filter(|e| e.body.contains(crate::AGENT_COMMENT_MARKER)) {
        match answered_list(e.body) {
            Some(list) => named.extend(list),
            None => unlisted_reply_at = unlisted_reply_at.max(Some(e.created_at)),
        }
    }
    thread
        .iter()
        .map(|e| {
            if e.body.contains(crate::AGENT_COMMENT_MARKER) {
                Standing::AgentReply
            } else if named.contains(&(e.kind, e.id)) || unlisted_reply_at.is_some_and(|t| e.created_at <= t) {
                Standing::Answered
            } else {
                Standing::Unanswered
            }
        })
        .collect()
}

/// `body` as GitHub renders it: without the hidden lines an agent reply ends with.
pub fn visible_text(body: &str) -> String {
    if !body.contains(crate::AGENT_COMMENT_MARKER) {
        return body.to_string();
    }
    body.lines()
        .filter(|l| !l.starts_with(ANSWERED_PREFIX))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(crate::AGENT_COMMENT_MARKER, "")
        .trim_end()
        .to_string()
}

fn answered_list(body: &str) -> Option<Vec<(CommentKind, u64)>> {
    let rest = &body[body.find(ANSWERED_PREFIX)? + ANSWERED_PREFIX.len()..];
    let list = &rest[..rest.find("-->")?];
    Some(
        list.split_whitespace()
            .filter_map(|item| {
                let (kind, id) = item.split_once(':')?;
                Some((CommentKind::parse(kind)?, id.parse().ok()?))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-01-01T00:{minute:02}:00Z"))
            .unwrap()
            .into()
    }

    fn entry(kind: CommentKind, id: u64, body: &str, minute: u32) -> ThreadEntry<'_> {
        ThreadEntry {
            kind,
            id,
            body,
            created_at: at(minute),
        }
    }

    #[test]
    fn a_comment_posted_while_the_agent_worked_stays_unanswered() {
        let reply = format!("Done.\n\n{}", agent_reply_footer(&[(CommentKind::Issue, 1)]));
        let thread = [
            entry(CommentKind::Issue, 1, "rename it", 1),
            // posted after the agent read the thread, before it replied
            entry(CommentKind::Review, 1, "and add a docstring", 2),
            entry(CommentKind::Issue, 2, &reply, 3),
        ];
        assert_eq!(
            standings(&thread, |e| *e),
            [Standing::Answered, Standing::Unanswered, Standing::AgentReply]
        );
    }

    #[test]
    fn a_reply_without_a_list_answers_everything_before_it() {
        let legacy = format!("Done.\n\n{}", crate::AGENT_COMMENT_MARKER);
        let thread = [
            entry(CommentKind::Issue, 1, "rename it", 1),
            entry(CommentKind::Issue, 2, &legacy, 2),
            entry(CommentKind::Issue, 3, "one more thing", 3),
        ];
        assert_eq!(
            standings(&thread, |e| *e),
            [Standing::Answered, Standing::AgentReply, Standing::Unanswered]
        );
    }

    #[test]
    fn ids_of_the_two_kinds_do_not_mix_and_junk_is_ignored() {
        let reply = format!(
            "{}\n<!-- terarchitect-answered: bogus:1 review:x review:7 -->",
            crate::AGENT_COMMENT_MARKER
        );
        let thread = [
            entry(CommentKind::Issue, 7, "issue comment 7", 1),
            entry(CommentKind::Review, 7, "review comment 7", 1),
            entry(CommentKind::Issue, 9, &reply, 2),
        ];
        assert_eq!(
            standings(&thread, |e| *e),
            [Standing::Unanswered, Standing::Answered, Standing::AgentReply]
        );
        assert_eq!(standings::<ThreadEntry>(&[], |e| *e), []);
    }

    #[test]
    fn owners_members_collaborators_and_listed_logins_are_trusted() {
        let none = Trust::default();
        for a in ["OWNER", "MEMBER", "COLLABORATOR"] {
            assert!(none.trusts("alice", Some(a)), "{a}");
        }
        for a in [
            Some("CONTRIBUTOR"),
            Some("FIRST_TIME_CONTRIBUTOR"),
            Some("FIRST_TIMER"),
            Some("MANNEQUIN"),
            Some("NONE"),
            Some("collaborator"),
            None,
        ] {
            assert!(!none.trusts("mallory", a), "{a:?}");
        }
        let listed = Trust::from_setting(Some(" @Carol, dave ,,erin\nfrank "));
        for login in ["carol", "CAROL", "dave", "erin", "frank"] {
            assert!(listed.trusts(login, Some("NONE")), "{login}");
        }
        assert!(!listed.trusts("mallory", Some("CONTRIBUTOR")));
        assert!(!listed.trusts("", None));
        assert_eq!(Trust::from_setting(Some(" , ")), Trust::default());
    }

    #[test]
    fn the_hidden_lines_are_not_shown() {
        let reply = format!("Done:\n- renamed\n\n{}", agent_reply_footer(&[(CommentKind::Issue, 1)]));
        assert_eq!(visible_text(&reply), "Done:\n- renamed");
        assert_eq!(visible_text("plain <!-- x -->\n"), "plain <!-- x -->\n");
    }
}
