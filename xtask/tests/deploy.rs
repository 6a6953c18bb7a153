//! `infra/deploy.sh`'s secret handling, run by bash against a stand-in `aws` command
//! (the AWS CLI cannot reach AWS here): a secret is created only when Secrets Manager
//! says it has no value, never on another failure, and its value never appears on a
//! command line or outlives the script in a temporary file.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A stand-in `aws`: logs its arguments; `get-secret-value` answers as `FAKE_STATE` says
/// (`set`, `missing`, anything else: throttled); `put-secret-value` records the mode,
/// content and path of the `file://` it is given.
const FAKE_AWS: &str = r#"#!/usr/bin/env bash
echo "$*" >> "$FAKE_DIR/log"
case "$1 $2" in
  "secretsmanager get-secret-value")
    case "$FAKE_STATE" in
      set) echo v1 ;;
      missing) echo "An error occurred (ResourceNotFoundException) when calling the GetSecretValue operation: Secrets Manager can't find the specified secret value for staging label: AWSCURRENT" >&2; exit 254 ;;
      *) echo "An error occurred (ThrottlingException) when calling the GetSecretValue operation: Rate exceeded" >&2; exit 254 ;;
    esac ;;
  "secretsmanager put-secret-value")
    for a in "$@"; do
      case "$a" in file://*) f=${a#file://}; stat -c %a "$f" > "$FAKE_DIR/mode"; cp "$f" "$FAKE_DIR/value"; echo -n "$f" > "$FAKE_DIR/path" ;; esac
    done ;;
esac
"#;

struct Run {
    ok: bool,
    dir: tempfile::TempDir,
}

impl Run {
    fn file(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join(name)).ok()
    }
}

fn deploy_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/deploy.sh")
}

fn ensure_secret(state: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let aws = bin.join("aws");
    std::fs::write(&aws, FAKE_AWS).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&aws, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let status = Command::new("bash")
        .arg("-c")
        .arg(
            r#"set -euo pipefail; source "$1"; ensure_secret arn:aws:secretsmanager:x "the secret key" new_secret_key"#,
        )
        .arg("bash")
        .arg(deploy_script())
        .env("PATH", path)
        .env("FAKE_DIR", dir.path())
        .env("FAKE_STATE", state)
        .status()
        .expect("run bash");
    Run {
        ok: status.success(),
        dir,
    }
}

#[test]
fn a_missing_secret_key_is_created_through_a_private_file_that_is_removed() {
    let run = ensure_secret("missing");
    assert!(run.ok);
    let value = run.file("value").expect("put-secret-value was called");
    assert_eq!(value.len(), 44, "32 random bytes in base64: {value:?}");
    assert_eq!(run.file("mode").unwrap().trim(), "600");
    let log = run.file("log").unwrap();
    assert!(!log.contains(&value), "the key was on a command line: {log}");
    let tmp = run.file("path").unwrap();
    assert!(!Path::new(&tmp).exists(), "{tmp} outlived the script");
}

#[test]
fn an_existing_secret_is_left_alone() {
    let run = ensure_secret("set");
    assert!(run.ok);
    assert!(run.file("value").is_none());
    assert!(!run.file("log").unwrap().contains("put-secret-value"));
}

#[test]
fn a_failure_other_than_not_found_stops_without_writing() {
    let run = ensure_secret("throttled");
    assert!(!run.ok, "a transient failure must stop the deploy");
    assert!(run.file("value").is_none());
    assert!(!run.file("log").unwrap().contains("put-secret-value"));
}
