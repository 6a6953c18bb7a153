//! Claude Code headless: `claude -p --output-format json [--resume id]`, the prompt on
//! stdin (never the command line). It calls the gateway through the agent's loopback relay
//! (`ANTHROPIC_BASE_URL`, with a placeholder `ANTHROPIC_AUTH_TOKEN`; `relay.rs`): neither
//! the job token nor the project's Anthropic key reaches it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::{BoxFut, Worker, WorkerReply};
use crate::error::{Error, Result};
use crate::events::cap_tail;

const TOOLS: &str = "Bash,Read,Edit,Write,MultiEdit,Glob,Grep,LS";

pub struct ClaudeWorker {
    bin: String,
    dir: PathBuf,
    model: Option<String>,
    base_url: String,
    token: String,
    timeout: Duration,
    session: Option<String>,
}

impl ClaudeWorker {
    /// `base_url`: the gateway for the Worker (`{api}/gateway/worker`).
    pub fn new(
        bin: &str,
        dir: PathBuf,
        model: Option<String>,
        base_url: &str,
        token: &str,
        timeout: Duration,
    ) -> ClaudeWorker {
        ClaudeWorker {
            bin: bin.into(),
            dir,
            model,
            base_url: base_url.into(),
            token: token.into(),
            timeout,
            session: None,
        }
    }

    async fn run(&mut self, prompt: &str) -> Result<WorkerReply> {
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.args(["-p", "--output-format", "json", "--allowedTools", TOOLS]);
        if let Some(m) = &self.model {
            cmd.args(["--model", m]);
        }
        if let Some(s) = &self.session {
            cmd.args(["--resume", s]);
        }
        cmd.current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        crate::sandbox::confine(&mut cmd);
        cmd.env("ANTHROPIC_BASE_URL", &self.base_url)
            .env("ANTHROPIC_AUTH_TOKEN", &self.token);
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::Worker(format!("cannot start `{}`: {e}", self.bin)))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(prompt.as_bytes()).await?;
        drop(stdin);
        let out = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| Error::Worker(format!("claude did not answer within {:?}", self.timeout)))??;
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        if !out.status.success() {
            return Err(Error::Worker(format!(
                "claude exited with {}: {}",
                out.status,
                cap_tail(&format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)), 500)
            )));
        }
        let Ok(v) = serde_json::from_str::<Value>(&stdout) else {
            return Ok(WorkerReply {
                text: stdout,
                ..Default::default()
            });
        };
        if v["is_error"] == true {
            return Err(Error::Worker(format!(
                "claude reported an error: {}",
                cap_tail(&v["result"].to_string(), 500)
            )));
        }
        if let Some(s) = v["session_id"].as_str() {
            self.session = Some(s.to_string());
        }
        Ok(WorkerReply {
            text: v["result"].as_str().unwrap_or_default().to_string(),
            input_tokens: v["usage"]["input_tokens"].as_i64().unwrap_or(0),
            output_tokens: v["usage"]["output_tokens"].as_i64().unwrap_or(0),
        })
    }
}

impl Worker for ClaudeWorker {
    fn name(&self) -> &'static str {
        "claude-code"
    }

    fn start(&mut self) -> BoxFut<'_, Result<()>> {
        self.session = None;
        Box::pin(async { Ok(()) })
    }

    fn send<'a>(&'a mut self, prompt: &'a str) -> BoxFut<'a, Result<WorkerReply>> {
        Box::pin(self.run(prompt))
    }

    /// Claude Code compacts a resumed session with its `/compact` command.
    fn summarise(&mut self) -> BoxFut<'_, Result<()>> {
        Box::pin(async move {
            if self.session.is_some() {
                self.run("/compact").await?;
            }
            Ok(())
        })
    }

    fn stop(&mut self) -> BoxFut<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}
