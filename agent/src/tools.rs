//! The native Worker's tools, confined to the workspace: no `..`, no absolute paths, no
//! symlink that leads outside, nothing inside `.git`. Outputs are capped, commands timed out.

use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::events::cap;

pub const MAX_OUTPUT: usize = 16 * 1024;
const MAX_LIST: usize = 500;
const MAX_HITS: usize = 200;
const MAX_FILE: u64 = 1024 * 1024;

#[derive(Clone, Debug)]
pub struct Workspace {
    root: PathBuf,
    pub command_timeout: Duration,
}

impl Workspace {
    pub fn new(root: &Path) -> std::io::Result<Workspace> {
        Ok(Workspace {
            root: root.canonicalize()?,
            command_timeout: Duration::from_secs(300),
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
    pub async fn call(&self, name: &str, args: &Value) -> (bool, String) {
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
                Ok(self.run_command(&arg("command"), t).await.render())
            }
            other => Err(format!("unknown tool `{other}`")),
        };
        match r {
            Ok(s) => (true, cap(&s, MAX_OUTPUT)),
            Err(e) => (false, format!("error: {e}")),
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
        Ok(format!("wrote {} bytes to {rel}", content.len()))
    }

    pub fn replace(&self, rel: &str, old: &str, new: &str) -> Result<String, String> {
        let text = self.read_file(rel)?;
        match text.matches(old).count() {
            0 => Err(format!("{rel}: `old` not found")),
            1 => {
                std::fs::write(self.resolve(rel)?, text.replacen(old, new, 1)).map_err(|e| e.to_string())?;
                Ok(format!("replaced 1 occurrence in {rel}"))
            }
            n => Err(format!("{rel}: `old` occurs {n} times; include more context")),
        }
    }

    pub async fn run_command(&self, command: &str, timeout: Option<Duration>) -> CommandOutput {
        let timeout = timeout.unwrap_or(self.command_timeout).min(self.command_timeout);
        run_shell(&self.root, command, timeout).await
    }
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
    pub fn render(&self) -> String {
        let status = if self.timed_out {
            "timed out".to_string()
        } else {
            format!("exit code {}", self.exit_code.map_or("?".into(), |c| c.to_string()))
        };
        format!("$ {}\n{}\n[{status}]", self.command, self.output)
    }
}

/// Keeps the agent's own credentials (the job token) away from every child process: the
/// Worker's commands, the tests, and the Worker CLIs.
pub fn scrub_env(cmd: &mut tokio::process::Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TERARCHITECT_") {
            cmd.env_remove(k);
        }
    }
}

/// `sh -c command` in `dir`, own process group (killed whole on timeout), output capped,
/// and without the agent's own credentials in its environment.
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
    scrub_env(&mut cmd);
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
            output: cap(&String::from_utf8_lossy(&out.stdout), MAX_OUTPUT),
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
            let (ok, out) = w.call(tool, &args).await;
            assert!(!ok, "{tool} {args} was allowed: {out}");
            assert!(!out.contains("top secret"));
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
        assert_eq!(
            w.call("read_file", &json!({"path": "inside.txt"})).await,
            (true, "hello\nworld\n".into())
        );
        assert!(
            w.call("write_file", &json!({"path": "new/dir/b.txt", "content": "hi"}))
                .await
                .0
        );
        assert!(
            w.call("replace", &json!({"path": "src/a.txt", "old": "world", "new": "there"}))
                .await
                .0
        );
        assert_eq!(
            std::fs::read_to_string(root.path().join("src/a.txt")).unwrap(),
            "hello\nthere\n"
        );
        let (_, files) = w.call("list_files", &json!({})).await;
        assert!(files.contains("new/dir/b.txt") && files.contains("src/a.txt") && !files.contains(".git"));
        let (_, hits) = w.call("search", &json!({"pattern": "there"})).await;
        assert!(hits.contains("src/a.txt:2"), "{hits}");
        let (ok, out) = w
            .call("run_command", &json!({"command": "cat src/a.txt; exit 3"}))
            .await;
        assert!(ok && out.contains("hello") && out.contains("exit code 3"), "{out}");
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
