//! Child processes in their own process group, killed (group and all) on drop, so a
//! panicking test leaves no orphans.

use std::process::{Child, Command};

pub struct ProcessGroup {
    child: Child,
}

impl ProcessGroup {
    pub fn spawn(mut cmd: Command) -> std::io::Result<ProcessGroup> {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        Ok(ProcessGroup { child: cmd.spawn()? })
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
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }
}

/// `cargo` for a test to run (e.g. `cargo lambda watch`), without the variables that
/// `cargo test` set for the test itself. Build scripts (ring's, for one) rerun when
/// `CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`… differ from the last build, so a nested
/// cargo that inherited them would rebuild half the dependency tree that `./dev` had
/// already built.
pub fn cargo() -> Command {
    let mut cmd = Command::new("cargo");
    for (name, _) in std::env::vars_os() {
        let inherited = name.to_str().is_some_and(|n| {
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
            .any(|p| n.starts_with(p))
        });
        if inherited {
            cmd.env_remove(&name);
        }
    }
    cmd
}
