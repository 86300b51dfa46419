#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls it).
# Installs what the tests need (root, Debian 12), then runs every test:
# unit, known-answer, property, conformance against real servers started by
# the tests themselves, real FUSE mounts, interop with pycryptomator, and
# short bounded fuzz runs.
#   QUICK=1  skip the fuzz runs
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\n=== %s\n' "$*"; }

log "install dependencies"
bash scripts/install-deps.sh

log "direction check: the format crate has no async runtime and no network"
if cargo tree -p vault-format -e normal --prefix none | grep -Ei '^(tokio|reqwest|hyper|russh|mio|socket2) '; then
  echo "vault-format must not depend on an async runtime or networking crate" >&2; exit 1
fi

# The recovery-key known-answer tests skip only on a machine without the word list; here it is installed.
export VAULT_REQUIRE_WORDLIST=1
# The test servers listen on fixed ports between 20000 and 54999 (each test derives its own from its
# pid). Keep the kernel's ephemeral ports (the local end of every outgoing connection) above that
# range for this run, so a busy run's clients cannot hold a port a server is about to bind.
old_ports=$(sysctl -n net.ipv4.ip_local_port_range 2>/dev/null || true)
if [[ -n $old_ports ]] && sysctl -qw net.ipv4.ip_local_port_range="55000 64999" 2>/dev/null; then
  trap 'sysctl -qw net.ipv4.ip_local_port_range="$old_ports"' EXIT
fi
LOG=$(mktemp /tmp/vault-test-output.XXXXXX)
log "cargo test --workspace"
cargo test --workspace --no-fail-fast 2>&1 | tee -a "$LOG"

log "vault-format with the pure-Rust AES-GCM backend"
cargo test -p vault-format --no-default-features --features rustcrypto 2>&1 | tee -a "$LOG"

log "Windows adapter: WinFsp glue type-checked and its callbacks run over a vault in memory (no Windows here)"
bash windows-winfsp/typecheck-glue.sh --run 2>&1 | tee -a "$LOG"

if [[ "${QUICK:-0}" != 1 ]]; then
  log "fuzz targets (bounded)"
  bash scripts/fuzz.sh 15
fi
# Last, so no test above can pick up /usr/bin/vault or /sbin/mount.fuse.vault from the package.
log "Debian package of the test build: install, vault --version, mount -t fuse.vault, purge"
bash scripts/deb-check.sh "${CARGO_TARGET_DIR:-target}/debug/vault"
log "all tests passed"
# One closing line over every cargo test binary above (the last binary cargo runs is a
# doc-test crate with no tests, so its own summary would read "0 passed").
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$LOG"
