//! Child processes in their own process group, killed (group and all) on drop, so a
//! panicking test leaves no orphans.

use std::process::{Child, Command};

pub struct ProcessGroup {
    child: Child,
    stopped: bool,
}

impl ProcessGroup {
    pub fn spawn(mut cmd: Command) -> std::io::Result<ProcessGroup> {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        Ok(ProcessGroup {
            child: cmd.spawn()?,
            stopped: false,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Sends `signal` to the whole group.
    pub fn signal(&self, signal: i32) {
        let pgid = self.child.id() as i32;
        if pgid > 1 {
            // SAFETY: plain syscall on a process group we created.
            unsafe {
                libc::kill(-pgid, signal);
            }
        }
    }

    /// Whether any process of the group is left (the leader reaped if it has exited).
    fn alive(&mut self) -> bool {
        let _ = self.child.try_wait();
        let pgid = self.child.id() as i32;
        // SAFETY: signal 0 only checks that the group exists.
        pgid > 1 && unsafe { libc::kill(-pgid, 0) } == 0
    }

    /// SIGTERM to the group, then SIGKILL if some of it is still there after `grace`.
    pub fn terminate(mut self, grace: std::time::Duration) {
        self.signal(libc::SIGTERM);
        let deadline = std::time::Instant::now() + grace;
        while self.alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        if self.alive() {
            self.signal(libc::SIGKILL);
        }
        let _ = self.child.wait();
        self.stopped = true;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if !self.stopped {
            self.signal(libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// Whether `name` is one of the variables cargo sets for what it runs (a test, a build
/// script, `cargo run`): see [`cargo`].
pub fn set_by_cargo(name: &str) -> bool {
    [
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_BIN_EXE_",
        "CARGO_CRATE_",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "OUT_DIR",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

/// `cargo` for a test to run (e.g. `cargo lambda watch`), without the variables that
/// `cargo test` set for the test itself. Build scripts (ring's, for one) rerun when
/// `CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`… differ from the last build, so a nested
/// cargo that inherited them would rebuild half the dependency tree that `./dev` had
/// already built.
pub fn cargo() -> Command {
    let mut cmd = Command::new("cargo");
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo) {
            cmd.env_remove(&name);
        }
    }
    cmd
}
