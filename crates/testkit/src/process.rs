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
