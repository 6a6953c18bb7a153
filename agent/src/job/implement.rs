//! An implement job: research, a plan the Director approves (or sends back), execution,
//! then commit, push and the pull request, and what was learned into project memory.

use super::prompts::pr_body;
use super::{Job, Outcome, blocking};
use crate::director::{Decision, Phase};
use crate::error::{Error, Result};
use crate::events::{cap, commit_subject};
use crate::git;
use crate::tools::CommandOutput;
use terarchitect_protocol::{MAX_PR_BODY, MAX_PR_TITLE, PullRequestDraft};

impl<'c> Job<'c> {
    pub(super) async fn implement(&mut self) -> Result<Outcome> {
        self.worker.start().await?;
        let t = &self.ctx.ticket;
        let intro = format!("Ticket: {}\n\n{}", t.title, t.description);
        self.ask_worker(
            "research",
            &format!(
                "{intro}\n\nStudy the repository for this ticket: find the relevant code and tests and how tests are run. \
                 Do not change anything yet. Reply with a short summary of your findings."
            ),
        )
        .await?;
        let mut plan = self
            .ask_worker(
                "plan",
                "Now write a step-by-step plan for the ticket: which files change, which tests prove it, in which order. \
                 Do not implement yet. Reply with the plan only.",
            )
            .await?;
        let mut approved = None;
        for round in 1..=self.cfg.max_plan_rounds {
            self.step()?;
            let d = self
                .director
                .decide(
                    Phase::PlanReview,
                    format!("The Worker's plan (round {round}):\n\n{}", cap(&plan, 12_000)),
                )
                .await?;
            match d {
                Decision::ApprovePlan { plan: refined } => {
                    approved = Some(refined.filter(|p| !p.trim().is_empty()).unwrap_or(plan.clone()));
                    break;
                }
                Decision::RevisePlan { feedback } => {
                    self.log.log("plan_review", "plan_rejected", cap(&feedback, 500));
                    plan = self
                        .ask_worker(
                            "plan",
                            &format!(
                                "The reviewer sent the plan back:\n{feedback}\n\nReply with the full revised plan only."
                            ),
                        )
                        .await?;
                }
                _ => unreachable!("phase-checked"),
            }
        }
        let plan = approved.ok_or_else(|| {
            Error::Budget(format!(
                "the plan was not approved after {} rounds",
                self.cfg.max_plan_rounds
            ))
        })?;
        self.log.log_raw("plan_review", "plan_approved", cap(&plan, 300), &plan);
        self.director.plan = Some(plan.clone());
        let (summary, tests) = self
            .execute(format!(
                "The plan is approved:\n{plan}\n\nImplement it now, step by step, and run the tests. Report what you changed and the test results."
            ))
            .await?;
        self.finalise_implement(&plan, &summary, tests.as_ref()).await
    }

    async fn finalise_implement(
        &mut self,
        plan: &str,
        summary: &str,
        tests: Option<&CommandOutput>,
    ) -> Result<Outcome> {
        let t = &self.ctx.ticket;
        let test_line = tests.map_or("no test command found".to_string(), |o| {
            format!("`{}` passed", o.command)
        });
        // A one-line subject; the whole title follows when the subject had to cut it.
        let subject = commit_subject(&t.title);
        let title = if subject.ends_with('…') {
            format!("{}\n\n", cap(t.title.trim(), 1000))
        } else {
            String::new()
        };
        let message = format!(
            "{subject}\n\n{title}{}\n\nTicket: {}\nTests: {test_line}",
            cap(summary.trim(), 4000),
            t.id
        );
        let (dir, base) = (self.repo_dir.clone(), self.ctx.project.default_branch.clone());
        self.commit(message).await?;
        let files = blocking(move || {
            let repo = git2::Repository::open(&dir)?;
            git::changed_files(&repo, &base)
        })
        .await?;
        if files.is_empty() {
            return Err(Error::Worker(
                "the Worker changed nothing; no pull request to open".into(),
            ));
        }
        self.push().await?;
        // Test output comes from the repository; keep any secret out of the PR anyway.
        let body = self.log.scrub(&pr_body(&self.ctx, plan, summary, &files, tests));
        self.cancel.check_now().await?;
        // The API opens it with the project's token and records it as the run's PR.
        let pr = self
            .api
            .open_pull_request(&PullRequestDraft {
                title: cap(t.title.trim(), MAX_PR_TITLE),
                body: cap(&body, MAX_PR_BODY),
            })
            .await?;
        let created = pr.created;
        self.log.log(
            "finalise",
            if created { "pr_opened" } else { "pr_updated" },
            format!("#{} {}", pr.number, pr.url),
        );
        self.remember(summary, &files, &pr.url).await;
        Ok(Outcome {
            pr_url: pr.url,
            pr_number: pr.number as u64,
        })
    }

    /// What this run learned goes into project memory for later jobs. Best effort: memory
    /// needs an embedding service in the settings, and a PR is worth more than a note.
    async fn remember(&self, summary: &str, files: &[String], pr_url: &str) {
        let t = &self.ctx.ticket;
        let doc = self.log.scrub(&format!(
            "Ticket \"{}\" was implemented in {pr_url}. {}\nFiles changed: {}.",
            t.title,
            summary.trim(),
            files.join(", ")
        ));
        match self.api.remember(vec![doc]).await {
            Ok(()) => self
                .log
                .log("finalise", "memory_written", "summary stored in project memory"),
            Err(e) => self.log.log("finalise", "memory_skipped", e.to_string()),
        }
    }
}
