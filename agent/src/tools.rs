//! The native Worker's tools, confined to the workspace: no `..`, no absolute paths, no
//! symlink that leads outside, nothing inside `.git`. Outputs are capped, commands timed out.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::events::{cap, cap_tail};

pub const MAX_OUTPUT: usize = 16 * 1024;
const MAX_LIST: usize = 500;
const MAX_HITS: usize = 200;
const MAX_FILE: u64 = 1024 * 1024;

#[derive(Clone, Debug)]
pub struct Workspace {
    root: PathBuf,
    pub command_timeout: Duration,
    /// New files that commands produced (shared with the job, which leaves them out of
    /// the commit); a file the Worker writes itself is taken off again.
    pub outputs: CommandOutputs,
}

/// The new, untracked files that appeared while a command ran (test caches, build
/// output): what the Worker did not mean to change.
#[derive(Clone, Debug, Default)]
pub struct CommandOutputs(Arc<Mutex<BTreeSet<String>>>);

impl CommandOutputs {
    /// Runs `command` in `root` and records the untracked files it left behind.
    pub async fn run(&self, root: &Path, command: &str, timeout: Duration) -> CommandOutput {
        let before = untracked(root).await;
        let out = run_shell(root, command, timeout).await;
        if let (Some(before), Some(after)) = (before, untracked(root).await) {
            self.lock().extend(after.difference(&before).cloned());
        }
        out
    }

    pub fn forget(&self, path: &str) {
        self.lock().remove(path);
    }

    pub fn snapshot(&self) -> BTreeSet<String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The repository's untracked files, or None when `root` is not a repository.
async fn untracked(root: &Path) -> Option<BTreeSet<String>> {
    let root = root.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let repo = git2::Repository::open(&root).ok()?;
        crate::git::untracked(&repo).ok()
    })
    .await
    .ok()
    .flatten()
}

impl Workspace {
    pub fn new(root: &Path) -> std::io::Result<Workspace> {
        Ok(Workspace {
            root: root.canonicalize()?,
            command_timeout: Duration::from_secs(300),
            outputs: CommandOutputs::default(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a workspace-relative path, refusing anything that could leave the workspace.
    pub fn resolve(&self, rel: &str) -> Result<PathBuf, String> {
        let rel = rel.trim();
        let p = Path::new(if rel.is_empty() { "." } else { rel });
        for c in p.components() {
            match c {
                Component::Normal(s) if s == ".git" => return Err(format!("{rel}: .git is off limits")),
                Component::Normal(_) | Component::CurDir => {}
                Component::ParentDir => return Err(format!("{rel}: `..` is not allowed")),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(format!(
                        "{rel}: absolute paths are not allowed; use a path relative to the repository root"
                    ));
                }
            }
        }
        let full = self.root.join(p);
        // The deepest existing ancestor, with symlinks resolved, must stay inside.
        let mut probe = full.clone();
        loop {
            if probe.symlink_metadata().is_ok() {
                let real = probe.canonicalize().map_err(|e| format!("{rel}: {e}"))?;
                if !real.starts_with(&self.root) {
                    return Err(format!("{rel}: leads outside the workspace"));
                }
                break;
            }
            if !probe.pop() {
                return Err(format!("{rel}: invalid path"));
            }
        }
        Ok(full)
    }

    fn display(&self, p: &Path) -> String {
        p.strip_prefix(&self.root).unwrap_or(p).display().to_string()
    }

    /// The tool schemas, in the OpenAI `tools` format.
    pub fn schemas() -> Value {
        let f = |name: &str, desc: &str, props: Value, req: &[&str]| {
            json!({"type": "function", "function": {"name": name, "description": desc,
                "parameters": {"type": "object", "properties": props, "required": req}}})
        };
        let s = json!({"type": "string"});
        json!([
            f(
                "list_files",
                "List files under a directory of the repository (recursive).",
                json!({"path": s}),
                &[]
            ),
            f("read_file", "Read a text file.", json!({"path": s}), &["path"]),
            f(
                "search",
                "Find lines containing a literal string.",
                json!({"pattern": s, "path": s}),
                &["pattern"]
            ),
            f(
                "write_file",
                "Create or overwrite a file with the given content.",
                json!({"path": s, "content": s}),
                &["path", "content"]
            ),
            f(
                "replace",
                "Replace one exact occurrence of `old` with `new` in a file.",
                json!({"path": s, "old": s, "new": s}),
                &["path", "old", "new"]
            ),
            f(
                "run_command",
                "Run a shell command in the repository root (output is capped, time-limited).",
                json!({"command": s, "timeout_secs": {"type": "integer"}}),
                &["command"]
            ),
        ])
    }

    /// Runs one tool; errors come back as text for the model to read, never as a crash.
    pub async fn call(&self, name: &str, args: &Value) -> ToolReply {
        let arg = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let r = match name {
            "list_files" => self.list_files(&arg("path")),
            "read_file" => self.read_file(&arg("path")),
            "search" => self.search(&arg("pattern"), &arg("path")),
            "write_file" => self.write_file(&arg("path"), &arg("content")),
            "replace" => self.replace(&arg("path"), &arg("old"), &arg("new")),
            "run_command" => {
                let t = args
                    .get("timeout_secs")
                    .and_then(Value::as_u64)
                    .map(Duration::from_secs);
                let out = self.run_command(&arg("command"), t).await;
                return ToolReply {
                    ok: out.success(),
                    status: out.status(),
                    output: cap(&out.render(), MAX_OUTPUT),
                };
            }
            other => Err(format!("unknown tool `{other}`")),
        };
        match r {
            Ok(s) => ToolReply {
                ok: true,
                status: "ok".into(),
                output: cap(&s, MAX_OUTPUT),
            },
            Err(e) => ToolReply {
                ok: false,
                status: "refused".into(),
                output: format!("error: {e}"),
            },
        }
    }

    pub fn list_files(&self, rel: &str) -> Result<String, String> {
        let dir = self.resolve(rel)?;
        let mut out = Vec::new();
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else { continue };
            let mut entries: Vec<_> = rd.flatten().collect();
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                if e.file_name() == ".git" {
                    continue;
                }
                let ft = e.file_type().map_err(|e| e.to_string())?;
                if ft.is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(self.display(&e.path()));
                }
                if out.len() >= MAX_LIST {
                    out.push(format!("[stopped after {MAX_LIST} entries]"));
                    return Ok(out.join("\n"));
                }
            }
        }
        out.sort();
        Ok(out.join("\n"))
    }

    pub fn read_file(&self, rel: &str) -> Result<String, String> {
        let p = self.resolve(rel)?;
        let meta = std::fs::metadata(&p).map_err(|e| format!("{rel}: {e}"))?;
        if meta.len() > MAX_FILE {
            return Err(format!("{rel}: too large ({} bytes)", meta.len()));
        }
        std::fs::read_to_string(&p).map_err(|e| format!("{rel}: {e}"))
    }

    pub fn search(&self, pattern: &str, rel: &str) -> Result<String, String> {
        if pattern.is_empty() {
            return Err("empty pattern".into());
        }
        let files = self.list_files(rel)?;
        let mut hits = Vec::new();
        for f in files.lines().filter(|l| !l.starts_with('[')) {
            let Ok(text) = std::fs::read_to_string(self.root.join(f)) else {
                continue;
            };
            for (i, line) in text.lines().enumerate() {
                if line.contains(pattern) {
                    hits.push(format!("{f}:{}: {}", i + 1, cap(line, 300)));
                    if hits.len() >= MAX_HITS {
                        return Ok(hits.join("\n"));
                    }
                }
            }
        }
        Ok(if hits.is_empty() {
            "no matches".into()
        } else {
            hits.join("\n")
        })
    }

    pub fn write_file(&self, rel: &str, content: &str) -> Result<String, String> {
        let p = self.resolve(rel)?;
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{rel}: {e}"))?;
        }
        // create_dir_all may have followed nothing new; re-check the final target.
        self.resolve(rel)?;
        std::fs::write(&p, content).map_err(|e| format!("{rel}: {e}"))?;
        self.outputs.forget(&self.display(&p));
        Ok(format!("wrote {} bytes to {rel}", content.len()))
    }

    pub fn replace(&self, rel: &str, old: &str, new: &str) -> Result<String, String> {
        let text = self.read_file(rel)?;
        match text.matches(old).count() {
            0 => Err(format!("{rel}: `old` not found")),
            1 => {
                let p = self.resolve(rel)?;
                std::fs::write(&p, text.replacen(old, new, 1)).map_err(|e| e.to_string())?;
                self.outputs.forget(&self.display(&p));
                Ok(format!("replaced 1 occurrence in {rel}"))
            }
            n => Err(format!("{rel}: `old` occurs {n} times; include more context")),
        }
    }

    pub async fn run_command(&self, command: &str, timeout: Option<Duration>) -> CommandOutput {
        let timeout = timeout.unwrap_or(self.command_timeout).min(self.command_timeout);
        self.outputs.run(&self.root, command, timeout).await
    }
}

/// What one tool call did: `ok` and a short `status` for the log ("ok", "exit code 3",
/// "timed out", "refused"), and the `output` the model reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolReply {
    pub ok: bool,
    pub status: String,
    pub output: String,
}

#[derive(Debug, Clone)]
pub struct CommandOutput {
    pub command: String,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub output: String,
}

impl CommandOutput {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
    /// "exit code 0", "exit code 3", "timed out", "no exit code" (killed by a signal).
    pub fn status(&self) -> String {
        match (self.timed_out, self.exit_code) {
            (true, _) => "timed out".into(),
            (false, Some(c)) => format!("exit code {c}"),
            (false, None) => "no exit code".into(),
        }
    }
    pub fn render(&self) -> String {
        format!("$ {}\n{}\n[{}]", self.command, self.output, self.status())
    }
}

/// `sh -c command` in `dir`, own process group (killed whole on timeout), output capped,
/// confined ([`crate::sandbox::confine`]: not as the agent, without its credentials).
pub async fn run_shell(dir: &Path, command: &str, timeout: Duration) -> CommandOutput {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{command} 2>&1"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    crate::sandbox::confine(&mut cmd);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return CommandOutput {
                command: command.into(),
                exit_code: None,
                timed_out: false,
                output: format!("could not start: {e}"),
            };
        }
    };
    let pid = child.id();
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => CommandOutput {
            command: command.into(),
            exit_code: out.status.code(),
            timed_out: false,
            output: cap_tail(&String::from_utf8_lossy(&out.stdout), MAX_OUTPUT),
        },
        Ok(Err(e)) => CommandOutput {
            command: command.into(),
            exit_code: None,
            timed_out: false,
            output: e.to_string(),
        },
        Err(_) => {
            if let Some(pid) = pid.filter(|p| *p > 1) {
                // SAFETY: plain syscall on the process group we created for this command.
                unsafe {
                    libc::kill(-(pid as i32), libc::SIGKILL);
                }
            }
            CommandOutput {
                command: command.into(),
                exit_code: None,
                timed_out: true,
                output: format!("killed after {timeout:?}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws() -> (tempfile::TempDir, tempfile::TempDir, Workspace) {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "top secret").unwrap();
        std::fs::create_dir_all(root.path().join("src")).unwrap();
        std::fs::create_dir_all(root.path().join(".git")).unwrap();
        std::fs::write(root.path().join("src/a.txt"), "hello\nworld\n").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("escape")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.path().join("link.txt")).unwrap();
        std::os::unix::fs::symlink("src/a.txt", root.path().join("inside.txt")).unwrap();
        let w = Workspace::new(root.path()).unwrap();
        (root, outside, w)
    }

    #[tokio::test]
    async fn paths_that_leave_the_workspace_are_refused() {
        let (_r, outside, w) = ws();
        let abs = outside.path().join("secret.txt").display().to_string();
        for (tool, args) in [
            ("read_file", json!({"path": "../secret.txt"})),
            ("read_file", json!({"path": "src/../../secret.txt"})),
            ("read_file", json!({"path": abs})),
            ("read_file", json!({"path": "escape/secret.txt"})),
            ("read_file", json!({"path": "link.txt"})),
            ("write_file", json!({"path": "escape/new.txt", "content": "x"})),
            ("write_file", json!({"path": "/tmp/evil.txt", "content": "x"})),
            ("write_file", json!({"path": ".git/config", "content": "x"})),
            ("replace", json!({"path": "link.txt", "old": "top", "new": "x"})),
            ("list_files", json!({"path": "escape"})),
            ("search", json!({"pattern": "secret", "path": ".."})),
        ] {
            let r = w.call(tool, &args).await;
            assert!(
                !r.ok && r.status == "refused",
                "{tool} {args} was allowed: {}",
                r.output
            );
            assert!(!r.output.contains("top secret"));
        }
        assert!(!outside.path().join("new.txt").exists());
        assert_eq!(
            std::fs::read_to_string(outside.path().join("secret.txt")).unwrap(),
            "top secret"
        );
    }

    #[tokio::test]
    async fn tools_work_inside_the_workspace() {
        let (root, _o, w) = ws();
        let r = w.call("read_file", &json!({"path": "inside.txt"})).await;
        assert!(r.ok && r.status == "ok" && r.output == "hello\nworld\n", "{r:?}");
        assert!(
            w.call("write_file", &json!({"path": "new/dir/b.txt", "content": "hi"}))
                .await
                .ok
        );
        assert!(
            w.call("replace", &json!({"path": "src/a.txt", "old": "world", "new": "there"}))
                .await
                .ok
        );
        assert_eq!(
            std::fs::read_to_string(root.path().join("src/a.txt")).unwrap(),
            "hello\nthere\n"
        );
        let files = w.call("list_files", &json!({})).await.output;
        assert!(files.contains("new/dir/b.txt") && files.contains("src/a.txt") && !files.contains(".git"));
        let hits = w.call("search", &json!({"pattern": "there"})).await.output;
        assert!(hits.contains("src/a.txt:2"), "{hits}");
        // A failing command is a failed tool call, with its exit status, not an "ok".
        let r = w
            .call("run_command", &json!({"command": "cat src/a.txt; exit 3"}))
            .await;
        assert!(!r.ok && r.status == "exit code 3", "{r:?}");
        assert!(
            r.output.contains("hello") && r.output.contains("[exit code 3]"),
            "{r:?}"
        );
        let r = w.call("run_command", &json!({"command": "true"})).await;
        assert!(r.ok && r.status == "exit code 0", "{r:?}");
    }

    #[tokio::test]
    async fn commands_time_out_and_output_is_capped() {
        let (_r, _o, mut w) = ws();
        w.command_timeout = Duration::from_millis(300);
        let out = w.run_command("sleep 5", None).await;
        assert!(out.timed_out && !out.success());
        let out = w.run_command("yes | head -c 100000", None).await;
        assert!(out.output.len() <= MAX_OUTPUT + 40, "{}", out.output.len());
    }
}
