//! Local runtime: the agent binary as a process in the project's directory on this host
//! (projects whose execution mode is `local`).

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, watch};

use super::*;

struct Proc {
    pid: i32,
    /// The exit code once the process ended (reaped by its own task).
    exit: watch::Receiver<Option<i64>>,
    logs: Option<mpsc::UnboundedReceiver<LogLine>>,
}

pub struct LocalRuntime {
    bin: String,
    args: Vec<String>,
    procs: Mutex<HashMap<String, Proc>>,
}

impl LocalRuntime {
    pub fn new(bin: &str, args: Vec<String>) -> LocalRuntime {
        LocalRuntime {
            bin: bin.to_string(),
            args,
            procs: Mutex::new(HashMap::new()),
        }
    }
}

fn pump(r: impl AsyncRead + Unpin + Send + 'static, stream: Stream, tx: mpsc::UnboundedSender<LogLine>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(text)) = lines.next_line().await {
            if tx.send(LogLine { stream, text }).is_err() {
                break;
            }
        }
    });
}

fn signal_group(pid: i32, sig: i32) -> bool {
    // Only ever our own child's group, never 0/1/-1.
    if pid <= 1 {
        return false;
    }
    // SAFETY: plain syscall.
    unsafe { libc::kill(-pid, sig) == 0 }
}

impl Runtime for LocalRuntime {
    fn name(&self) -> &'static str {
        "local"
    }

    fn execution_mode(&self) -> ExecutionMode {
        ExecutionMode::Local
    }

    async fn ping(&self) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn start(&self, spec: &AgentSpec) -> Result<String, RuntimeError> {
        let dir = spec
            .local_path
            .as_deref()
            .ok_or_else(|| RuntimeError::Start("the project has no local_path".into()))?;
        let mut cmd = Command::new(&self.bin);
        cmd.args(&self.args)
            .current_dir(dir)
            // Only what a process needs to find its tools, plus the job's three variables.
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()))
            .env("HOME", std::env::var("HOME").unwrap_or_else(|_| "/".into()))
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; the agent dies with the host instead of
        // running on unsupervised (local agents are not re-attached after a restart).
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| RuntimeError::Start(format!("{}: {e}", self.bin)))?;
        let pid = child.id().map(|p| p as i32).unwrap_or(0);
        let (tx, rx) = mpsc::unbounded_channel();
        if let Some(o) = child.stdout.take() {
            pump(o, Stream::Stdout, tx.clone());
        }
        if let Some(e) = child.stderr.take() {
            pump(e, Stream::Stderr, tx);
        }
        let (exit_tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            use std::os::unix::process::ExitStatusExt;
            let code = match child.wait().await {
                Ok(s) => s
                    .code()
                    .map(i64::from)
                    .unwrap_or_else(|| 128 + i64::from(s.signal().unwrap_or(0))),
                Err(_) => -1,
            };
            let _ = exit_tx.send(Some(code));
        });
        let id = pid.to_string();
        self.procs.lock().expect("procs").insert(
            id.clone(),
            Proc {
                pid,
                exit,
                logs: Some(rx),
            },
        );
        Ok(id)
    }

    fn logs(&self, id: &str) -> BoxStream<'static, LogLine> {
        let rx = self
            .procs
            .lock()
            .expect("procs")
            .get_mut(id)
            .and_then(|p| p.logs.take());
        match rx {
            Some(rx) => stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|l| (l, rx)) }).boxed(),
            None => stream::empty().boxed(),
        }
    }

    async fn wait(&self, id: &str) -> Result<i64, RuntimeError> {
        let exit = self.procs.lock().expect("procs").get(id).map(|p| p.exit.clone());
        let mut exit = exit.ok_or_else(|| RuntimeError::Other("unknown process".into()))?;
        let code = exit
            .wait_for(Option::is_some)
            .await
            .map_err(|_| RuntimeError::Other("process watcher ended".into()))?
            .unwrap_or(-1);
        Ok(code)
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<(), RuntimeError> {
        let Some(pid) = self.procs.lock().expect("procs").get(id).map(|p| p.pid) else {
            return Ok(());
        };
        if !signal_group(pid, libc::SIGTERM) {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + grace;
        while tokio::time::Instant::now() < deadline {
            if !signal_group(pid, 0) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        signal_group(pid, libc::SIGKILL);
        Ok(())
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        self.procs.lock().expect("procs").remove(id);
        Ok(())
    }

    async fn list_own(&self, _host_id: &str) -> Result<Vec<Existing>, RuntimeError> {
        // Local agents die with the host (PDEATHSIG): nothing survives a restart.
        Ok(Vec::new())
    }
}
