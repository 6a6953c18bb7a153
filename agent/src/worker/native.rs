//! Our own tool-calling loop against an OpenAI-compatible endpoint.

use serde_json::Value;

use super::{BoxFut, Worker, WorkerReply};
use crate::error::{Error, Result};
use crate::events::{EventLog, cap, cap_tail};
use crate::llm::{ChatClient, Message};
use crate::tools::{ToolReply, Workspace};

const SYSTEM: &str = "You are a careful software engineer working in a git repository. \
Use the tools to inspect and change files and to run commands; all paths are relative to the \
repository root. Make the smallest change that does the job, run the tests, and finish with a \
short plain-text report of what you did and what the tests said. Do not commit: that is done for you.";

pub struct NativeWorker {
    llm: ChatClient,
    ws: Workspace,
    log: EventLog,
    messages: Vec<Message>,
    /// Tool rounds per instruction, so a looping model cannot run forever.
    pub max_steps: usize,
}

impl NativeWorker {
    pub fn new(llm: ChatClient, ws: Workspace, log: EventLog) -> NativeWorker {
        NativeWorker {
            llm,
            ws,
            log,
            messages: vec![Message::system(SYSTEM)],
            max_steps: 40,
        }
    }

    async fn turn(&mut self, prompt: &str) -> Result<WorkerReply> {
        self.messages.push(Message::user(prompt));
        let tools = Workspace::schemas();
        let mut reply = WorkerReply::default();
        for _ in 0..self.max_steps {
            let (msg, usage) = self.llm.chat(&self.messages, Some(&tools)).await?;
            reply.input_tokens += usage.input_tokens;
            reply.output_tokens += usage.output_tokens;
            let calls = msg.tool_calls.clone().unwrap_or_default();
            self.messages.push(msg.clone());
            if calls.is_empty() {
                reply.text = msg.text().to_string();
                return Ok(reply);
            }
            for c in calls {
                let args: Value = serde_json::from_str(&c.function.arguments).unwrap_or(Value::Null);
                let r = if args.is_object() {
                    self.ws.call(&c.function.name, &args).await
                } else {
                    ToolReply {
                        ok: false,
                        status: "refused".into(),
                        output: "error: arguments must be a JSON object".into(),
                    }
                };
                let target = args
                    .get("path")
                    .or_else(|| args.get("command"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                self.log.log_raw(
                    "worker",
                    if r.ok { "tool_call" } else { "tool_failed" },
                    format!("{} {} → {}", c.function.name, cap(target, 200), r.status),
                    &r.output,
                );
                self.messages.push(Message::tool(&c.id, r.output));
            }
        }
        Err(Error::Worker(format!(
            "the native worker used {} tool rounds without answering",
            self.max_steps
        )))
    }
}

impl Worker for NativeWorker {
    fn name(&self) -> &'static str {
        "native"
    }

    fn start(&mut self) -> BoxFut<'_, Result<()>> {
        self.messages.truncate(1);
        Box::pin(async { Ok(()) })
    }

    fn send<'a>(&'a mut self, prompt: &'a str) -> BoxFut<'a, Result<WorkerReply>> {
        Box::pin(self.turn(prompt))
    }

    /// Keeps the system prompt and the last exchange; the rest becomes a short recap the
    /// model writes itself.
    fn summarise(&mut self) -> BoxFut<'_, Result<()>> {
        Box::pin(async move {
            if self.messages.len() < 6 {
                return Ok(());
            }
            let transcript: String = self.messages[1..]
                .iter()
                .map(|m| format!("{}: {}\n", m.role, cap(m.text(), 2000)))
                .collect();
            let ask = [
                Message::system(
                    "Summarise this work session for the engineer who continues it: files touched, decisions, open problems. Plain text, under 300 words.",
                ),
                Message::user(cap_tail(&transcript, 60_000)),
            ];
            let (msg, _) = self.llm.chat(&ask, None).await?;
            self.messages.truncate(1);
            self.messages
                .push(Message::user(format!("Summary of the session so far:\n{}", msg.text())));
            self.messages.push(Message::assistant("Understood."));
            Ok(())
        })
    }

    fn stop(&mut self) -> BoxFut<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}
