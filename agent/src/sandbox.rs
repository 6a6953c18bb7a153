//! Keeping the agent's job token away from the code it runs. Whatever the Worker, the
//! repository's tests or the Worker CLIs execute is untrusted. In a container the agent
//! runs as root, so those children run as an unprivileged user ([`WORKER_UID`]) that cannot
//! read the agent's environment, memory or files (`/proc/<agent>/environ` is root's, mode
//! 0400); and the agent marks itself non-dumpable, so that even a child of its own uid (an
//! agent that is not root, as in a `local` run) cannot read them either.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The unprivileged user children run as (the agent image's `worker` user).
pub const WORKER_UID: u32 = 1000;

#[derive(Debug)]
struct ChildUser {
    uid: u32,
    gid: u32,
    /// A home the user can write to (tool caches, CLI settings).
    home: PathBuf,
}

/// Who children run as: the worker user when this process is root, else (None) our own.
fn child_user() -> Option<&'static ChildUser> {
    static CHILD: OnceLock<Option<ChildUser>> = OnceLock::new();
    CHILD
        .get_or_init(|| {
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } != 0 {
                return None;
            }
            let home = std::env::temp_dir().join("terarchitect-worker-home");
            // Without a home the tools still run, as the worker user.
            let _ = std::fs::create_dir_all(&home).and_then(|()| chown_tree(&home, WORKER_UID, WORKER_UID));
            Some(ChildUser {
                uid: WORKER_UID,
                gid: WORKER_UID,
                home,
            })
        })
        .as_ref()
}

/// Makes this process non-dumpable: its `/proc/<pid>/{environ,mem,…}` become root's, so a
/// process of the same uid cannot read the job token from them.
pub fn harden_self() {
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes this process's dumpable flag.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    // The agent (root) works in a repository its children own; libgit2 would refuse that.
    // SAFETY: sets a libgit2 global; nothing reads it concurrently at this point.
    let _ = unsafe { git2::opts::set_verify_owner_validation(false) };
}

/// Lets the child user into `work_dir` (to reach the repository inside it), and no further.
pub fn prepare(work_dir: &Path) -> std::io::Result<()> {
    if child_user().is_some() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(work_dir, std::fs::Permissions::from_mode(0o711))?;
    }
    Ok(())
}

/// Hands `dir` (the repository) to the child user, so that the Worker can change it.
pub fn give(dir: &Path) -> std::io::Result<()> {
    match child_user() {
        Some(u) => chown_tree(dir, u.uid, u.gid),
        None => Ok(()),
    }
}

/// Confines a child: without the agent's own variables (`TERARCHITECT_*`: the job token),
/// and as the child user.
pub fn confine(cmd: &mut tokio::process::Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TERARCHITECT_") {
            cmd.env_remove(k);
        }
    }
    if let Some(u) = child_user() {
        cmd.uid(u.uid).gid(u.gid).env("HOME", &u.home).env("USER", "worker");
    }
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    if path.symlink_metadata()?.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}
