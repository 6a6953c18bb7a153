//! A review job: on the ticket's own pull request only (`ticket-{id}` in the project's
//! repository), address the trusted reviewers' new comments through the execution loop,
//! push, and reply on the thread naming what it answered.

use super::{Job, Outcome, blocking};
use terarchitect_protocol::{CommentRef, PullRequestReply, ThreadComment};

use crate::error::{Error, Result};

impl<'c> Job<'c> {
    pub(super) async fn review(&mut self) -> Result<Outcome> {
        // The API reads the thread with the project's token, and only for the ticket's own
        // PR: a fork's branch of the same name, or any other branch, is someone else's work.
        let thread = self.api.pull_request_thread().await?;
        let number = thread.number;
        let done = Outcome {
            pr_url: thread.url.clone(),
            pr_number: number as u64,
        };
        let (dir, b) = (self.repo_dir.clone(), self.branch.clone());
        let on_remote = blocking(move || {
            let repo = git2::Repository::open(&dir)?;
            Ok(repo
                .find_branch(&format!("origin/{b}"), git2::BranchType::Remote)
                .is_ok())
        })
        .await?;
        if !on_remote {
            return Err(Error::Git(format!(
                "the PR branch {} is not on the remote",
                self.branch
            )));
        }
        // Outsiders' comments never reach the LLM (the API leaves them out; the scheduler
        // does not count them either).
        self.log.log(
            "review",
            "thread",
            format!(
                "PR #{number}: {} new comments to address, {} earlier, {} earlier rounds, {} from outsiders ignored",
                thread.new.len(),
                thread.earlier.len(),
                thread.our_replies,
                thread.ignored
            ),
        );
        let cap_rounds = self.ctx.settings.max_review_rounds.max(0);
        if thread.our_replies >= cap_rounds {
            return Err(Error::Budget(format!(
                "review round limit reached ({cap_rounds}); the PR goes back to a human"
            )));
        }
        if thread.new.is_empty() {
            return Ok(done);
        }
        let render = |cs: &[ThreadComment]| -> String {
            cs.iter()
                .enumerate()
                .map(|(i, c)| {
                    let place = c.path.as_deref().map(|p| format!(" on `{p}`")).unwrap_or_default();
                    format!("{}. {}{place}: {}\n", i + 1, c.author, c.body.trim())
                })
                .collect()
        };
        let mut listed = render(&thread.new);
        if !thread.earlier.is_empty() {
            listed.push_str(&format!(
                "\nEarlier comments, already addressed (context only):\n{}",
                render(&thread.earlier)
            ));
        }
        self.director.plan = Some(format!("Address every review comment on PR #{number}:\n{listed}"));
        self.worker.start().await?;
        let (summary, tests) = self
            .execute(format!(
                "Reviewers left these comments on the pull request for this branch:\n{listed}\nAddress each of them, run the tests, and report what you changed per comment."
            ))
            .await?;
        let committed = self
            .commit(format!(
                "Address review comments on #{number}\n\n{}\n\nTicket: {}",
                summary.trim(),
                self.ctx.ticket.id
            ))
            .await?;
        self.push().await?;
        let tests_line = tests.map_or("no test command found".into(), |o| format!("`{}` passed", o.command));
        let reply = format!(
            "{}\n\n{}\n\nTests: {tests_line}",
            if committed {
                "Addressed the review in a new commit:"
            } else {
                "No code change was needed:"
            },
            summary.trim()
        );
        self.cancel.check_now().await?;
        let answers = thread
            .new
            .iter()
            .map(|c| CommentRef { kind: c.kind, id: c.id })
            .collect();
        self.api
            .reply(&PullRequestReply {
                body: self.log.scrub(&reply),
                answers,
            })
            .await?;
        self.log.log("review", "replied", format!("replied on PR #{number}"));
        Ok(done)
    }
}
