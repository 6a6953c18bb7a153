//! The Docker engine for tests: no registry here, so images are built locally from
//! statically linked binaries in `FROM scratch` images. Everything goes through the
//! `docker` CLI so the kit needs no Docker client library.

use std::path::{Path, PathBuf};
use std::process::Command;

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the docker CLI ({e}): tests that need Docker need it installed"))
}

/// Panics (never skips) when the engine is unreachable.
pub fn require_engine() {
    let out = docker(&["version", "--format", "{{.Server.Version}}"]);
    assert!(
        out.status.success(),
        "the Docker engine is unreachable; these tests need it: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compiles one std-only Rust file into a static binary at `out` with the toolchain's rustc.
pub fn build_static_binary(source: &Path, out: &Path) {
    let dir = out.parent().expect("output directory");
    std::fs::create_dir_all(dir).expect("create output directory");
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    let status = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args([
            "--edition",
            "2024",
            "-C",
            "target-feature=+crt-static",
            "-C",
            "opt-level=1",
            "-C",
            "strip=symbols",
        ])
        .arg(source)
        .arg("-o")
        .arg(&tmp)
        .status()
        .expect("run rustc");
    assert!(status.success(), "rustc failed for {}", source.display());
    std::fs::rename(&tmp, out).expect("move binary into place");
}

/// Builds `tag` as a `FROM scratch` image holding `binary` as its entrypoint.
pub fn build_scratch_image(tag: &str, binary: &Path) {
    let ctx = tempfile::tempdir().expect("temp dir");
    std::fs::copy(binary, ctx.path().join("agent")).expect("copy binary");
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY agent /agent\nENTRYPOINT [\"/agent\"]\n",
    )
    .expect("write Dockerfile");
    let out = docker(&["build", "-q", "-t", tag, &ctx.path().to_string_lossy()]);
    assert!(
        out.status.success(),
        "docker build {tag} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compiles `source` and builds it into the image `{name}:src-{hash of source}` once per
/// test process; returns that tag. The tag follows the source, so another checkout
/// building another version of it on the same engine never swaps the image under a test.
pub fn scratch_image_from_source(name: &str, source: &Path) -> String {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let text = std::fs::read(source).unwrap_or_else(|e| panic!("read {}: {e}", source.display()));
    let tag = format!("{name}:src-{:016x}", terarchitect_stack::fnv1a(&text));
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.contains(&tag) {
        require_engine();
        let bin: PathBuf = std::env::temp_dir().join(format!("terarchitect-scratch-{}", tag.replace([':', '/'], "-")));
        build_static_binary(source, &bin);
        build_scratch_image(&tag, &bin);
        built.push(tag.clone());
    }
    tag
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContainerInfo {
    pub id: String,
    /// `running`, `exited`, `created`, ...
    pub state: String,
}

/// Containers (all states) carrying `label` (`key` or `key=value`).
pub fn containers_with_label(label: &str) -> Vec<ContainerInfo> {
    let filter = format!("label={label}");
    let out = docker(&[
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        &filter,
        "--format",
        "{{.ID}} {{.State}}",
    ]);
    assert!(
        out.status.success(),
        "docker ps failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (id, state) = l.split_once(' ')?;
            Some(ContainerInfo {
                id: id.into(),
                state: state.trim().into(),
            })
        })
        .collect()
}

/// Running containers carrying `label`.
pub fn running_with_label(label: &str) -> usize {
    containers_with_label(label)
        .iter()
        .filter(|c| c.state == "running")
        .count()
}

/// Force-removes every container carrying `label` (test clean-up).
pub fn remove_with_label(label: &str) {
    for c in containers_with_label(label) {
        let _ = docker(&["rm", "-f", &c.id]);
    }
    for n in networks_with_label(label) {
        let _ = docker(&["network", "rm", &n]);
    }
}

/// Names of the networks carrying `label` (`key` or `key=value`).
pub fn networks_with_label(label: &str) -> Vec<String> {
    let filter = format!("label={label}");
    let out = docker(&["network", "ls", "--filter", &filter, "--format", "{{.Name}}"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Removes containers and networks carrying `label` when dropped, so a failing test
/// leaves none behind.
pub struct LabelGuard(pub String);

impl Drop for LabelGuard {
    fn drop(&mut self) {
        remove_with_label(&self.0);
    }
}
