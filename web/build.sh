# shellcheck shell=bash
# Build and test functions for the web UI. Run by `cargo xtask up|test` (behind `./dev`)
# as `bash web/build.sh web_install|web_build|web_test`; also sourceable.
#
#   web_install  idempotent: wasm32 target (rustup, or Debian's rustc-web fallback),
#                Trunk 0.21.14, wasm-bindgen-cli matching web/Cargo.lock (fails loudly on
#                a mismatch), Chromium + chromedriver (apt).
#   web_build    release build into web/dist (no wasm-opt: see index.html); prints sizes.
#   web_test     web_install + web_build, builds the API binaries from the root workspace,
#                fmt + clippy, the UI's unit tests (on the host), then the browser
#                end-to-end tests (web/e2e). Needs
#                TERARCHITECT_TEST_PG_URL and TERARCHITECT_TEST_SQS_URL (what
#                `./dev services` prints). Screenshots land in web/e2e/artifacts/.
#
# Caches: WEB_TARGET_DIR (default $TERARCHITECT_CACHE/web-target) for the web workspace,
# CARGO_TARGET_DIR (default $TERARCHITECT_CACHE/target, as ./dev uses) for the API binaries.

_WEB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_WEB_ROOT=$(cd "$_WEB_DIR/.." && pwd)
_WEB_TRUNK_VERSION=0.21.14

_web_log() { printf '\033[1;35m[web]\033[0m %s\n' "$*" >&2; }
_web_die() { printf '\033[1;31m[web]\033[0m %s\n' "$*" >&2; return 1; }
_web_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

_web_cache() {
  if [ "$(id -u)" = 0 ]; then echo "${TERARCHITECT_CACHE:-/var/cache/terarchitect}"; else
    echo "${TERARCHITECT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/terarchitect}"; fi
}

_web_apt() {
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  _web_log "installing apt packages: ${missing[*]}"
  _web_root apt-get update -qq
  _web_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

_web_env() {
  export PATH="$HOME/.cargo/bin:$PATH"
  export CARGO_TARGET_DIR="${WEB_TARGET_DIR:-$(_web_cache)/web-target}"
  export TRUNK_SKIP_VERSION_CHECK=true
  # The fallback toolchain (Debian's rustc-web with build-std), chosen by web_install.
  if [ -f "$CARGO_TARGET_DIR/.debian-toolchain" ]; then
    export RUSTUP_TOOLCHAIN=debian RUSTC_BOOTSTRAP=1
    export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
    export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-19
  fi
}

# The wasm-bindgen version web/Cargo.lock pins.
_web_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$_WEB_DIR/Cargo.lock"
}

web_install() (
  # A subshell: the environment set here never leaks into the caller (./dev).
  _web_env
  mkdir -p "$CARGO_TARGET_DIR"
  # 1. wasm32 std: rustup first, Debian's rust-web packages otherwise.
  if (cd "$_WEB_DIR" && rustup target list --installed 2>/dev/null) | grep -qx wasm32-unknown-unknown; then
    rm -f "$CARGO_TARGET_DIR/.debian-toolchain"
  elif [ ! -f "$CARGO_TARGET_DIR/.debian-toolchain" ]; then
    if (cd "$_WEB_DIR" && rustup target add wasm32-unknown-unknown >/dev/null 2>&1); then
      _web_log "added the wasm32-unknown-unknown target (rustup)"
    else
      _web_log "rustup cannot fetch the wasm32 target: falling back to Debian's rustc-web with build-std"
      _web_apt rustc-web cargo-web rust-web-src lld-19
      rustup toolchain list | grep -q '^debian' || rustup toolchain link debian /usr
      touch "$CARGO_TARGET_DIR/.debian-toolchain"
      _web_env
    fi
  fi
  # 2. Trunk.
  if [ "$(trunk --version 2>/dev/null)" != "trunk $_WEB_TRUNK_VERSION" ]; then
    _web_log "installing trunk $_WEB_TRUNK_VERSION (about 11 minutes)"
    cargo install --locked trunk --version "$_WEB_TRUNK_VERSION"
  fi
  # 3. wasm-bindgen CLI exactly matching the crate in Cargo.lock.
  local want have
  want=$(_web_bindgen_version)
  [ -n "$want" ] || { _web_die "no wasm-bindgen in $_WEB_DIR/Cargo.lock"; return 1; }
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  if [ "$have" != "$want" ]; then
    _web_log "installing wasm-bindgen-cli $want (have: ${have:-none})"
    cargo install wasm-bindgen-cli --version "=$want" --force
    have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  fi
  if [ "$have" != "$want" ]; then
    _web_die "wasm-bindgen CLI is ${have:-missing} but web/Cargo.lock pins $want: the UI would not load"
    return 1
  fi
  # 4. The browser for the end-to-end tests.
  _web_apt chromium chromium-driver
)

web_build() (
  # A subshell: the environment set here never leaks into the caller (./dev).
  _web_env
  local want have
  want=$(_web_bindgen_version)
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  [ "$have" = "$want" ] || { _web_die "wasm-bindgen CLI ${have:-missing} != $want from Cargo.lock: run web_install"; return 1; }
  _web_log "trunk build --release → web/dist"
  (set -o pipefail; cd "$_WEB_DIR" && trunk build --release --locked 2>&1 | grep -v '^\s*$' | tail -n 5) \
    || { _web_die "trunk build failed"; return 1; }
  # Trunk starts the app with an inline module script; the Content-Security-Policy the UI
  # is served with (script-src 'self') forbids inline scripts, so it moves to a file.
  python3 - "$_WEB_DIR/dist" <<'PY' || { _web_die "could not move the loader script out of index.html"; return 1; }
import hashlib, pathlib, re, sys
dist = pathlib.Path(sys.argv[1])
index = dist / "index.html"
html = index.read_text()
pattern = re.compile(r'<script type="module"(?: nonce="[^"]*")?>(.*?)</script>', re.S)
m = pattern.search(html)
if m is None:
    sys.exit(0 if 'src="/loader-' in html else "no inline loader script in index.html")
body = m.group(1)
name = "loader-" + hashlib.sha256(body.encode()).hexdigest()[:16] + ".js"
(dist / name).write_text(body)
index.write_text(html[:m.start()] + f'<script type="module" src="/{name}"></script>' + html[m.end():])
PY
  local wasm
  wasm=$(ls "$_WEB_DIR"/dist/*.wasm 2>/dev/null | head -n1 || true)
  [ -n "$wasm" ] || { _web_die "no .wasm in web/dist"; return 1; }
  _web_log "$(basename "$wasm"): $(stat -c %s "$wasm") bytes, $(gzip -9c "$wasm" | wc -c) bytes gzipped"
)

web_test() (
  # A subshell: the environment set here never leaks into the caller (./dev).
  # The API binaries build in the caller's CARGO_TARGET_DIR (what ./dev exports), read
  # before _web_env points CARGO_TARGET_DIR at the web workspace's own target.
  local api_target="${CARGO_TARGET_DIR:-$(_web_cache)/target}"
  web_install
  web_build
  _web_env
  [ -n "${TERARCHITECT_TEST_PG_URL:-}" ] && [ -n "${TERARCHITECT_TEST_SQS_URL:-}" ] \
    || { _web_die "TERARCHITECT_TEST_PG_URL and TERARCHITECT_TEST_SQS_URL must be set (see ./dev services)"; return 1; }
  _web_log "building the API binaries (root workspace)"
  (cd "$_WEB_ROOT" && CARGO_TARGET_DIR="$api_target" cargo build -q -p terarchitect-functions --bins) || return 1
  # A private copy: other checkouts may rebuild the shared target meanwhile.
  local bins="$CARGO_TARGET_DIR/e2e-bin"
  mkdir -p "$bins"
  cp -f "$api_target/debug/"{api,worker-api,migrate,admin} "$bins/"
  (
    set -euo pipefail
    cd "$_WEB_DIR"
    _web_log "fmt + clippy"
    unset RUSTUP_TOOLCHAIN RUSTC_BOOTSTRAP CARGO_UNSTABLE_BUILD_STD
    cargo fmt --all -- --check
    cargo clippy --locked -p terarchitect-web-e2e --all-targets -- -D warnings
    _web_env
    cargo clippy --locked -p terarchitect-web --target wasm32-unknown-unknown -- -D warnings
    unset RUSTUP_TOOLCHAIN RUSTC_BOOTSTRAP CARGO_UNSTABLE_BUILD_STD
    _web_log "UI unit tests (host)"
    cargo test --locked -p terarchitect-web
    _web_log "browser end-to-end tests"
    TERARCHITECT_BIN_DIR="$bins" WEB_DIST="$_WEB_DIR/dist" \
      cargo test --locked -p terarchitect-web-e2e -- --test-threads="${WEB_TEST_THREADS:-1}" --nocapture
  )
)

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  "${1:-web_test}"
fi
