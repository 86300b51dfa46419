#!/usr/bin/env bash
# The main job (README "Quick start"): builds vault, creates a demo vault in a
# local folder, copies a few files in, and mounts it as a drive.
#   scripts/demo.sh            set up and mount ./demo/mnt
#   scripts/demo.sh --stop     unmount
# The demo password is written to demo/password.txt (mode 600) so the demo
# runs without a terminal; real use asks for it without echo.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=$PWD/demo VAULT=${VAULT_BIN:-$PWD/target/release/vault}   # VAULT_BIN: use an existing build
log() { printf '[demo] %s\n' "$*"; }

if [[ ${1:-} == --stop ]]; then
  "$VAULT" unmount "$DEMO/mnt" && log "unmounted $DEMO/mnt"; exit 0
fi

if ! command -v fusermount3 >/dev/null; then
  log "installing fuse3"
  if [[ $(id -u) -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q fuse3
  else
    sudo apt-get update -qq && sudo apt-get install -y -q fuse3
  fi
fi

if [[ -z ${VAULT_BIN:-} ]]; then
  log "building (release)"
  cargo build --release --bin vault
fi

mkdir -p "$DEMO/mnt"
if [[ ! -s "$DEMO/password.txt" ]]; then
  (umask 077; head -c 18 /dev/urandom | base64 > "$DEMO/password.txt")
fi
PW=(--password-file "$DEMO/password.txt")

if [[ ! -e "$DEMO/vault/vault.cryptomator" ]]; then
  log "creating a vault in $DEMO/vault"
  "$VAULT" create "$DEMO/vault" "${PW[@]}"
  "$VAULT" mkdir "$DEMO/vault" /docs "${PW[@]}"
  "$VAULT" put "$DEMO/vault" README.md /README.md "${PW[@]}"
  "$VAULT" put -r "$DEMO/vault" docs /docs/project "${PW[@]}"
fi

log "the vault's cleartext tree (names decrypted, nothing downloaded):"
"$VAULT" ls -lR "$DEMO/vault" "${PW[@]}"

if mountpoint -q "$DEMO/mnt"; then
  log "already mounted at $DEMO/mnt"
else
  log "mounting at $DEMO/mnt"
  "$VAULT" mount "$DEMO/vault" "$DEMO/mnt" "${PW[@]}"
fi
"$VAULT" status
ls -la "$DEMO/mnt"
log "the ciphertext on disk:"
find "$DEMO/vault" -maxdepth 3 | head -n 12
log "use $DEMO/mnt like any folder; stop with: scripts/demo.sh --stop"
