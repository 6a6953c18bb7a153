//! A review job: check out the pull request's branch, address the reviewers' new comments
//! through the execution loop, push, and reply on the thread naming what it answered.

use super::{Job, Outcome, blocking};
use crate::error::{Error, Result};
use crate::git;

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
        // Work on the branch the PR really merges from (normally ticket-{id}), fetched in full.
        if pr.head != self.branch {
            let (dir, head, base) = (
                self.repo_dir.clone(),
                pr.head.clone(),
                self.ctx.project.default_branch.clone(),
            );
            let existed = blocking(move || {
                let repo = git2::Repository::open(&dir)?;
                git::checkout_branch(&repo, &head, &base)
            })
            .await?;
            if !existed {
                return Err(Error::Git(format!("the PR branch {} is not on the remote", pr.head)));
            }
            self.log
                .log("review", "branch", format!("checked out the PR branch {}", pr.head));
            self.branch = pr.head.clone();
        } else {
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
        }
        let thread = gh.review_thread(number).await?;
        self.log.log(
            "review",
            "thread",
            format!(
                "PR #{number}: {} new comments to address, {} earlier, {} earlier rounds",
                thread.new.len(),
                thread.earlier.len(),
                thread.our_replies
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
