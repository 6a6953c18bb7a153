//! Reviewing pull requests without leaving the app: the project's list of tickets in
//! review, and one ticket's pull request (summary, commits, test files with their test
//! names, conversation) with Comment, Approve and Merge.
//!
//! - `list`: the Review tab (`ReviewList`).
//! - `page`: one ticket's pull request (`ReviewPage`): read it, comment, approve, merge.
//! - `conversation`: its comments and reviews in time order (Markdown, `crate::markdown`).
//! - `diff`: its changed files, each patch highlighted and collapsible.
//! - `error`: API errors in words, with a link to Settings when that is the fix.
//! - `pr`: small pieces of a pull request as shown (state badge, description, commits).

mod conversation;
mod diff;
mod error;
mod list;
mod page;
mod pr;

pub use list::ReviewList;
pub use page::ReviewPage;
