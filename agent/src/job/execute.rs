//! The execution loop both kinds of job share: Worker turns judged by the Director until
//! it says done and the tests pass, stopping a Director or a failure that repeats itself.

use super::Job;
use crate::director::{Decision, Phase};
use crate::error::{Error, Result};
use crate::events::{cap, cap_tail};
use crate::testrun;
use crate::tools::CommandOutput;

impl<'c> Job<'c> {
    /// Worker turns judged by the Director until it says done and the tests pass.
    pub(super) async fn execute(&mut self, first: String) -> Result<(String, Option<CommandOutput>)> {
        let mut prompt = first;
        let mut repeats = 0;
        let mut last_tests: Option<CommandOutput> = None;
        let mut same_failures = 0;
        for turn in 1..=self.cfg.max_turns {
            let reply = self.ask_worker("execution", &prompt).await?;
            let d = self
                .director
                .decide(
                    Phase::Execution,
                    format!("Worker reply (turn {turn}):\n\n{}", cap(&reply, 12_000)),
                )
                .await?;
            match d {
                Decision::Continue { prompt: next } => {
                    // The original re-sent one prompt for hours: notice and stop.
                    repeats = if next.trim() == prompt.trim() { repeats + 1 } else { 0 };
                    if repeats >= 2 {
                        return Err(Error::Budget(
                            "stuck: the Director repeated the same instruction three times".into(),
                        ));
                    }
                    prompt = next;
                }
                Decision::Done { summary, test_command } => {
                    let cmd = test_command
                        .filter(|c| !c.trim().is_empty())
                        .or_else(|| testrun::detect(&self.repo_dir));
                    let Some(cmd) = cmd else {
                        self.log.log("tests", "no_tests", "no test command given or detected");
                        return Ok((summary, None));
                    };
                    self.step()?;
                    let out = self.outputs.run(&self.repo_dir, &cmd, self.cfg.test_timeout).await;
                    let verdict = if out.success() { "passed" } else { "FAILED" };
                    let step = if out.success() { "test_run" } else { "tests_failed" };
                    self.log.log_raw(
                        "tests",
                        step,
                        format!("`{cmd}` {verdict} ({})", out.status()),
                        out.render(),
                    );
                    self.director.last_tests = Some(format!("`{cmd}` {verdict}\n{}", cap_tail(&out.output, 3000)));
                    if out.success() {
                        return Ok((summary, Some(out)));
                    }
                    // The same failure again and again means the Worker is stuck: nudge once, then stop.
                    let same = last_tests
                        .as_ref()
                        .is_some_and(|t| fingerprint(&t.output) == fingerprint(&out.output));
                    same_failures = if same { same_failures + 1 } else { 0 };
                    if same_failures >= 2 {
                        return Err(Error::TestsFailed(format!(
                            "stuck: `{cmd}` failed the same way three times: {}",
                            cap_tail(out.output.trim(), 300)
                        )));
                    }
                    let nudge = if same {
                        " exactly as before: the last change did not help, try a different approach"
                    } else {
                        ""
                    };
                    prompt = format!(
                        "The tests fail{nudge}. `{cmd}` printed:\n{}\n\nFix the code so that they pass, then report.",
                        cap_tail(&out.output, 6000)
                    );
                    last_tests = Some(out);
                }
                _ => unreachable!("phase-checked"),
            }
        }
        Err(match last_tests {
            Some(t) => Error::TestsFailed(format!(
                "`{}` still failing after {} turns: {}",
                t.command,
                self.cfg.max_turns,
                cap_tail(t.output.trim(), 300)
            )),
            None => Error::Budget(format!("the ticket was not done within {} turns", self.cfg.max_turns)),
        })
    }
}

/// Test output without digits (timings, counts of seconds), to spot a repeated failure.
fn fingerprint(output: &str) -> String {
    output.chars().filter(|c| !c.is_ascii_digit()).collect()
}
