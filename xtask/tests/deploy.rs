//! `infra/deploy.sh`'s functions, run by bash against stand-in `aws` and `curl` commands
//! (nothing here reaches AWS): a secret is created only when Secrets Manager says it has
//! no value, never on another failure, and its value never appears on a command line or
//! outlives the script in a temporary file; the RDS root certificates are downloaded
//! over https or the deploy stops with no bundle to package.

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

/// A stand-in `curl`: logs its arguments; writes to its `-o` file a self-signed PEM
/// certificate (`FAKE_CURL=ok`), an HTML page (`html`), or fails like an unreachable
/// host (anything else).
const FAKE_CURL: &str = r#"#!/usr/bin/env bash
echo "$*" >> "$FAKE_DIR/curl-log"
while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
case "$FAKE_CURL" in
  ok) openssl req -x509 -newkey rsa:2048 -nodes -keyout /dev/null -subj /CN=stand-in-root -days 1 -out "$out" 2>/dev/null ;;
  html) echo '<html>sign in to the wifi</html>' > "$out" ;;
  *) echo "curl: (6) Could not resolve host: truststore.pki.rds.amazonaws.com" >&2; exit 6 ;;
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

/// Runs `script` in bash after sourcing deploy.sh, with the stand-ins first on PATH.
fn run_sourced(script: &str, env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for (name, text) in [("aws", FAKE_AWS), ("curl", FAKE_CURL)] {
        let file = bin.join(name);
        std::fs::write(&file, text).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!(r#"set -euo pipefail; source "$1"; {script}"#))
        .arg("bash")
        .arg(deploy_script())
        .env("PATH", path)
        .env("FAKE_DIR", dir.path())
        .envs(env.iter().copied())
        .status()
        .expect("run bash");
    Run {
        ok: status.success(),
        dir,
    }
}

fn ensure_secret(state: &str) -> Run {
    run_sourced(
        r#"ensure_secret arn:aws:secretsmanager:x "the secret key" new_secret_key"#,
        &[("FAKE_STATE", state)],
    )
}

/// `fetch_rds_ca` into `$FAKE_DIR/ca/bundle.pem`, which holds a stale bundle beforehand.
fn fetch_rds_ca(curl: &str) -> Run {
    run_sourced(
        r#"mkdir -p "$FAKE_DIR/ca"; echo stale > "$FAKE_DIR/ca/bundle.pem"; fetch_rds_ca "$FAKE_DIR/ca/bundle.pem""#,
        &[("FAKE_CURL", curl)],
    )
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

#[test]
fn the_rds_root_certificates_are_downloaded_over_https() {
    let run = fetch_rds_ca("ok");
    assert!(run.ok);
    let bundle = run.file("ca/bundle.pem").unwrap();
    assert!(bundle.starts_with("-----BEGIN CERTIFICATE-----"), "{bundle}");
    let log = run.file("curl-log").unwrap();
    assert!(
        log.contains("--proto =https")
            && log.contains("https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"),
        "{log}"
    );
}

#[test]
fn without_the_rds_root_certificates_the_deploy_stops_with_nothing_to_package() {
    for curl in ["unreachable", "html"] {
        let run = fetch_rds_ca(curl);
        assert!(!run.ok, "{curl}: the deploy went on");
        assert!(
            run.file("ca/bundle.pem").is_none(),
            "{curl}: a bundle was left to package"
        );
    }
}

#[test]
fn the_bundle_is_fetched_before_the_build_into_the_layer_the_functions_read() {
    let script = std::fs::read_to_string(deploy_script()).unwrap();
    let fetch = script.find("\nfetch_rds_ca ").expect("deploy.sh fetches the bundle");
    let build = script.find("\nsam build").unwrap();
    assert!(fetch < build, "the bundle is fetched after `sam build`");
    let template =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml")).unwrap();
    let layer_dir = template
        .lines()
        .find_map(|l| l.trim().strip_prefix("ContentUri: "))
        .expect("the template has the CA layer");
    let ca_file = template
        .lines()
        .find_map(|l| l.trim().strip_prefix("DATABASE_CA_FILE: /opt/"))
        .expect("the functions read the bundle from the layer");
    assert!(
        script.contains(&format!("RDS_CA_FILE=infra/{layer_dir}/{ca_file}\n")),
        "deploy.sh writes the bundle where the layer takes it from"
    );
}
