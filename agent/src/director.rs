//! The Director: an LLM that judges the Worker's plan and replies and decides what comes
//! next. Its decisions are JSON validated against [`Decision`]; a malformed reply gets a
//! correction message, not a crash. The ticket, the approved plan and the latest test
//! results are pinned at the top of every request and never summarised away.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::events::{EventLog, cap, cap_tail};
use crate::llm::{ChatClient, Message};

const SYSTEM: &str = "You are the Director: a senior engineer guiding a coding Worker through one ticket in one repository. \
You never edit files yourself; the Worker does, and reports back. Be concrete and brief. \
Insist on tests: the change is done only when the repository's tests pass. \
Answer with ONE JSON object and nothing else.";

const PLAN_REVIEW: &str = "Phase: plan review. Judge the Worker's plan for gaps, wrong order and missing tests. \
Reply {\"action\":\"approve_plan\",\"plan\":\"<the plan as a concise checklist>\"} to approve it, or \
{\"action\":\"revise_plan\",\"feedback\":\"<at most three concrete fixes>\"} to send it back.";

const EXECUTION: &str = "Phase: execution. After each Worker reply decide the next step. Reply \
{\"action\":\"continue\",\"prompt\":\"<the next instruction for the Worker>\"} while work remains, or \
{\"action\":\"done\",\"summary\":\"<what was changed and why, for the pull request>\",\"test_command\":\"<shell command that runs the tests, optional>\"} \
when the plan is carried out. The agent then runs the tests itself; if they fail you will see the output.";

/// Every decision the Director can take; which ones are allowed depends on the phase.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Decision {
    ApprovePlan {
        #[serde(default)]
        plan: Option<String>,
    },
    RevisePlan {
        feedback: String,
    },
    Continue {
        prompt: String,
    },
    Done {
        summary: String,
        #[serde(default)]
        test_command: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    PlanReview,
    Execution,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::PlanReview => "plan_review",
            Phase::Execution => "execution",
        }
    }
    fn allows(self, d: &Decision) -> bool {
        match self {
            Phase::PlanReview => matches!(d, Decision::ApprovePlan { .. } | Decision::RevisePlan { .. }),
            Phase::Execution => matches!(d, Decision::Continue { .. } | Decision::Done { .. }),
        }
    }
}

/// Pulls the JSON object out of a reply that may wrap it in prose or a code fence.
pub fn parse_decision(text: &str) -> std::result::Result<Decision, String> {
    let t = text.trim();
    let candidate = match (t.find('{'), t.rfind('}')) {
        (Some(a), Some(b)) if a < b => &t[a..=b],
        _ => return Err("no JSON object found".into()),
    };
    let d: Decision = serde_json::from_str(candidate).map_err(|e| e.to_string())?;
    let empty = match &d {
        Decision::RevisePlan { feedback } => feedback.trim().is_empty(),
        Decision::Continue { prompt } => prompt.trim().is_empty(),
        Decision::Done { summary, .. } => summary.trim().is_empty(),
        Decision::ApprovePlan { .. } => false,
    };
    if empty {
        return Err("the text field must not be empty".into());
    }
    Ok(d)
}

pub struct Director {
    llm: ChatClient,
    log: EventLog,
    /// The ticket and its context, without secrets.
    brief: String,
    pub plan: Option<String>,
    pub last_tests: Option<String>,
    summary: Option<String>,
    history: Vec<Message>,
    turns: usize,
    summarize_every: usize,
    /// Corrections allowed for one malformed decision.
    pub max_corrections: usize,
    /// Tokens spent by the Director so far (for the job's budget).
    pub tokens_used: i64,
}

impl Director {
    pub fn new(llm: ChatClient, log: EventLog, brief: String, summarize_every: usize) -> Director {
        Director {
            llm,
            log,
            brief,
            plan: None,
            last_tests: None,
            summary: None,
            history: Vec::new(),
            turns: 0,
            summarize_every: summarize_every.max(2),
            max_corrections: 2,
            tokens_used: 0,
        }
    }

    /// What stays at the top of every request.
    pub fn pinned(&self) -> String {
        let mut s = format!("## Ticket\n{}\n", self.brief);
        if let Some(p) = &self.plan {
            s.push_str(&format!("\n## Approved plan (pinned)\n{p}\n"));
        }
        if let Some(t) = &self.last_tests {
            s.push_str(&format!("\n## Latest test results\n{t}\n"));
        }
        if let Some(sum) = &self.summary {
            s.push_str(&format!("\n## Earlier conversation (summary)\n{sum}\n"));
        }
        s
    }

    pub fn history_len(&self) -> usize {
        self.history.len()
    }

    pub async fn decide(&mut self, phase: Phase, ask: String) -> Result<Decision> {
        let system = format!(
            "{SYSTEM}\n\n{}",
            if phase == Phase::PlanReview {
                PLAN_REVIEW
            } else {
                EXECUTION
            }
        );
        let mut msgs = vec![Message::system(system), Message::user(self.pinned())];
        msgs.extend(self.history.iter().cloned());
        msgs.push(Message::user(ask.clone()));
        let mut last_err = String::new();
        for _ in 0..=self.max_corrections {
            let (reply, usage) = self.llm.chat(&msgs, None).await?;
            self.tokens_used += usage.input_tokens + usage.output_tokens;
            let text = reply.text().to_string();
            let parsed = parse_decision(&text).and_then(|d| {
                if phase.allows(&d) {
                    Ok(d)
                } else {
                    Err(format!("that action is not allowed in the {} phase", phase.name()))
                }
            });
            match parsed {
                Ok(d) => {
                    self.log.log_full(
                        phase.name(),
                        "director",
                        describe(&d),
                        Some(&text),
                        usage.input_tokens,
                        usage.output_tokens,
                    );
                    self.history.push(Message::user(ask));
                    self.history.push(Message::assistant(text));
                    self.turns += 1;
                    if self.turns.is_multiple_of(self.summarize_every) {
                        self.summarise().await?;
                    }
                    return Ok(d);
                }
                Err(e) => {
                    self.log.log_full(
                        phase.name(),
                        "director_invalid",
                        format!("invalid decision ({e}); asking again"),
                        Some(&text),
                        usage.input_tokens,
                        usage.output_tokens,
                    );
                    last_err = e.clone();
                    msgs.push(Message::assistant(text));
                    msgs.push(Message::user(format!(
                        "Your reply was not a valid decision: {e}. Reply with exactly one JSON object as described, nothing else."
                    )));
                }
            }
        }
        Err(Error::Llm(format!(
            "the Director gave no valid decision after {} corrections: {last_err}",
            self.max_corrections
        )))
    }

    /// Replaces the conversation with a summary; the pinned block is kept as it is.
    pub async fn summarise(&mut self) -> Result<()> {
        let transcript: String = self
            .history
            .iter()
            .map(|m| format!("{}: {}\n\n", m.role, cap(m.text(), 4000)))
            .collect();
        let prior = self.summary.clone().unwrap_or_default();
        let msgs = [
            Message::system(
                "Summarise this conversation between a Director and a coding Worker: what was done, what was decided, what is still open. Under 300 words, plain text.",
            ),
            Message::user(cap_tail(&format!("{prior}\n\n{transcript}"), 60_000)),
        ];
        let (reply, usage) = self.llm.chat(&msgs, None).await?;
        self.tokens_used += usage.input_tokens + usage.output_tokens;
        self.summary = Some(reply.text().to_string());
        let dropped = self.history.len();
        self.history.clear();
        self.log.log_full(
            "director",
            "summarised",
            format!("conversation summarised ({dropped} messages folded; ticket, plan and tests kept)"),
            Some(reply.text()),
            usage.input_tokens,
            usage.output_tokens,
        );
        Ok(())
    }
}

fn describe(d: &Decision) -> String {
    match d {
        Decision::ApprovePlan { .. } => "plan approved".into(),
        Decision::RevisePlan { feedback } => format!("plan sent back: {}", cap(feedback, 300)),
        Decision::Continue { prompt } => format!("next: {}", cap(prompt, 300)),
        Decision::Done { summary, .. } => format!("done: {}", cap(summary, 300)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_parse_from_bare_fenced_or_wrapped_json() {
        assert_eq!(
            parse_decision(r#"{"action":"continue","prompt":"fix it"}"#),
            Ok(Decision::Continue {
                prompt: "fix it".into()
            })
        );
        assert_eq!(
            parse_decision("Sure!\n```json\n{\"action\":\"approve_plan\"}\n```"),
            Ok(Decision::ApprovePlan { plan: None })
        );
        assert!(parse_decision("no idea").is_err());
        assert!(parse_decision(r#"{"action":"dance"}"#).is_err());
        assert!(parse_decision(r#"{"action":"continue","prompt":"  "}"#).is_err());
        assert!(!Phase::PlanReview.allows(&Decision::Continue { prompt: "x".into() }));
    }
}
