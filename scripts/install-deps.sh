#!/usr/bin/env bash
# Installs everything the build, the demo and the test suite need on a fresh
# Debian 12 machine (run as root). Idempotent: a second run installs nothing.
#   --peers   also the benchmark peers (gocryptfs, bindfs, sshfs, fio, davfs2)
set -euo pipefail
PEERS=0
for a in "$@"; do
  case $a in
    --peers) PEERS=1 ;;
    *) echo "usage: $0 [--peers]" >&2; exit 2 ;;
  esac
done
log() { printf '[install-deps] %s\n' "$*" >&2; }
[[ $(id -u) -eq 0 ]] || { log "must run as root"; exit 1; }

PKGS=(
  fuse3                                  # fusermount3 for the drive
  sqlite3 git tar diffutils findutils    # real workloads on the mount in tests
  openssh-server openssh-client libpam-google-authenticator oathtool   # SFTP + TOTP test server
  apache2 apache2-utils rclone php-cli php-sabre-dav php-xml php-mbstring # three WebDAV test servers
  iproute2 iptables iputils-ping python3 python3-venv python3-dev gcc libnetfilter-queue-dev # hotel network
  openssl curl bc util-linux procps
  systemd                                # systemd-analyze verify for the unit template
  dbus-daemon dbus-bin gnome-keyring     # private buses: logind stand-in (auto-lock), a real Secret Service (keyring)
  zsh fish groff-base man-db             # completions and man pages are checked with them
  desktop-file-utils xdg-utils shared-mime-info   # the .desktop entry, MIME type and `vault open` (desktop-file-validate, xdg-mime, xdg-open)
)
((PEERS)) && PKGS+=(gocryptfs bindfs sshfs fio davfs2)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo 'davfs2 davfs2/suid_file boolean false' | debconf-set-selections
  apt-get update -o DPkg::Lock::Timeout=600 -qq
  # Keep apt from starting the system sshd/apache2 services: tests run their own.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}"
fi

# netfilterqueue (hotel-network delayer) in its own venv.
NETVENV=${VAULT_TEST_VENV:-/opt/vault-test-venv}
if ! "$NETVENV/bin/python" -c 'import netfilterqueue' 2>/dev/null; then
  log "venv $NETVENV with netfilterqueue"
  rm -rf "$NETVENV"; /usr/bin/python3 -m venv "$NETVENV"
  timeout 600 "$NETVENV/bin/pip" install -q 'netfilterqueue==1.1.0'
fi

# pycryptomator: the independent implementation the interop tests read and write with.
PYVENV=/opt/vault-test-pyvenv
if ! "$PYVENV/bin/python" -c 'import pycryptomator' 2>/dev/null; then
  log "venv $PYVENV with pycryptomator"
  rm -rf "$PYVENV"; /usr/bin/python3 -m venv "$PYVENV"
  timeout 600 "$PYVENV/bin/pip" install -q 'pycryptomator==1.15'
fi

# moto in server mode: the second S3 implementation the vault-s3 tests run against (s3s-fs is
# the first, in-process). moto[s3] + flask + flask-cors is what moto_server needs for S3 alone,
# far lighter than moto[server].
S3VENV=${VAULT_TEST_S3VENV:-/opt/vault-test-s3venv}
if ! "$S3VENV/bin/python" -c 'import moto, flask, flask_cors' 2>/dev/null; then
  log "venv $S3VENV with moto"
  rm -rf "$S3VENV"; /usr/bin/python3 -m venv "$S3VENV"
  timeout 600 "$S3VENV/bin/pip" install -q 'moto[s3]==5.2.5' 'flask==3.1.3' 'flask-cors==6.0.5'
fi

# cargo-fuzz for the fuzz targets (built with the preinstalled nightly toolchain).
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "cargo install cargo-fuzz"
  cargo install -q --locked cargo-fuzz
fi
log "ok"
