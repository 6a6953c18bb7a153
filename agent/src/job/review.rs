//! A review job: on the ticket's own pull request only (`ticket-{id}` in the project's
//! repository), address the trusted reviewers' new comments through the execution loop,
//! push, and reply on the thread naming what it answered.

use super::{Job, Outcome, blocking};
use terarchitect_protocol::pr_thread::Trust;

use crate::error::{Error, Result};

impl<'c> Job<'c> {
    pub(super) async fn review(&mut self) -> Result<Outcome> {
        let number = self
            .ctx
            .ticket
            .pr_number
            .ok_or_else(|| Error::Config("review job for a ticket without a pull request".into()))?
            as u64;
        let gh = self.github()?;
        let pr = gh.get_pr(number).await?;
        // Only the ticket's own PR: a fork's branch of the same name, or any other branch,
        // is someone else's work and their thread is not ours to act on.
        if !gh.is_own(&pr, &self.branch) {
            return Err(Error::GitHub(format!(
                "pull request #{number} is not this ticket's: it merges from {}:{}, not {}/{}:{}",
                pr.head_repo.as_deref().unwrap_or("a deleted repository"),
                pr.head,
                gh.owner,
                gh.repo,
                self.branch
            )));
        }
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
        // Outsiders' comments never reach the LLM (the scheduler does not count them either).
        let trust = Trust::from_setting(self.ctx.settings.review_trusted_logins.as_deref());
        let thread = gh.review_thread(number, &trust).await?;
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
        let cap_rounds = self.ctx.settings.max_review_rounds.max(0) as usize;
        if thread.our_replies >= cap_rounds {
            return Err(Error::Budget(format!(
                "review round limit reached ({cap_rounds}); the PR goes back to a human"
            )));
        }
        if thread.new.is_empty() {
            return Ok(Outcome {
                pr_url: pr.url,
                pr_number: number,
            });
        }
        let render = |cs: &[crate::github::ThreadComment]| -> String {
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
        gh.reply(number, &self.log.scrub(&reply), &thread.new).await?;
        self.log.log("review", "replied", format!("replied on PR #{number}"));
        Ok(Outcome {
            pr_url: pr.url,
            pr_number: number,
        })
    }
}
