#!/usr/bin/env bash
# benches/sftp/bench.sh — issue 5 benchmark (NOT part of CI; needs root, FUSE, netns).
#
# One run over the SAME key-only OpenSSH sshd (vault-sftp/tests/servers/sshd-2fa.sh, mode
# "key": sshfs and rclone cannot answer a TOTP prompt), the server in the cloud netns of
# hotel-net.sh, every client in the hotel netns (nsenter --net, so FUSE mounts stay visible):
#
#   vault     our `vault mount sftp://…` (key passphrase via --askpass)
#   sshfs+gcf sshfs (key copy without passphrase) with gocryptfs stacked on top
#   rclone    `rclone mount` of an sftp + crypt remote (config written non-interactively,
#             passwords via `rclone obscure`; --vfs-cache-mode off)
#
# at 0 ms (no impairment) and at 80 ms ± 20 ms added RTT, 0 % loss (hotel-net.sh impair 80 0 20):
#   seq write  SIZE MiB (dd conv=fsync), seq read SIZE MiB (dd after drop_caches + remount,
#   i.e. cold), list 1,000 entries (ls -f | wc on a fresh mount), open + read a cold 1 MiB file.
#   The 1,000 entries and the 1 MiB file are made (and removed) without added delay; only the
#   measurements run at the delay.
# Prints every figure and, per row, the ratio to the best peer (for throughput: ours / best;
# for times: ours / best, lower is better).
#
# Env: BENCH_MB_0 (default 256), BENCH_MB_80 (default 32), BENCH_DELAYS ("0 80"), BENCH_TOOLS ("vault gcf rclone"),
#      VAULT_BIN (default: cargo build --release of the root crate into $CARGO_TARGET_DIR),
#      BENCH_KEEP=1 keeps the state dir, BENCH_QUICK=1 measures only the sequential write and read.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SRV="$ROOT/vault-sftp/tests/servers"
# shellcheck source=../lib.sh
. "$ROOT/benches/lib.sh"
MB0=${BENCH_MB_0:-256}
MB80=${BENCH_MB_80:-32}
DELAYS=${BENCH_DELAYS:-"0 80"}
QUICK=${BENCH_QUICK:-0}
METRICS="write read list open"; [[ $QUICK == 1 ]] && METRICS="write read"

export VAULT_TEST_INSTANCE=${VAULT_TEST_INSTANCE:-bench}
export VAULT_TEST_PORT_BASE=${VAULT_TEST_PORT_BASE:-30950}
export VAULT_TEST_STATE_DIR=${VAULT_TEST_STATE_DIR:-/tmp/vault-sftp-bench}
export VAULT_TEST_TOTP_REUSE=allow

[[ $(id -u) -eq 0 ]] || { echo "run as root" >&2; exit 1; }
PEERS=${BENCH_TOOLS:-"vault gcf rclone"}
NEED="fusermount3 nsenter"
[[ " $PEERS " == *" gcf "* ]] && NEED+=" sshfs gocryptfs"
[[ " $PEERS " == *" rclone "* ]] && NEED+=" rclone"
for t in $NEED; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }; done

if [[ -z ${VAULT_BIN:-} ]]; then
  (cd "$ROOT" && cargo build --release --bin vault >&2)
  VAULT_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/vault"
fi

W=$(mktemp -d /tmp/vault-sftp-bench-work.XXXXXX)
HOTEL_NS=
cleanup() {
  set +e
  for m in "$W"/mnt-*; do
    [[ -d $m ]] && mountpoint -q "$m" && { fusermount3 -uz "$m" 2>/dev/null || umount -l "$m"; }
  done
  "$SRV/hotel-net.sh" down >/dev/null 2>&1
  "$SRV/sshd-2fa.sh" purge >/dev/null 2>&1
  [[ -n ${BENCH_KEEP:-} ]] || rm -rf "$W"
}
trap cleanup EXIT

log() { printf '[bench] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- network + server
hotel_sshd_up 0 0 0
log "key-only sshd at $HOST:$PORT (cloud netns), user $USER_, root $HOME_DIR"

PW='bench vault password'
sftp_client_keys
printf '%s\n' "$PW" > "$W/pw"

# remote folders, owned by the test user
for d in vault gcf rcl; do install -d -o "$USER_" -g "$USER_" "$HOME_DIR/$d"; done

URL="sftp://$USER_@$HOST:$PORT/~/vault"

in_hotel "$VAULT_BIN" create "$URL" "${VOPTS[@]}" >&2

# gocryptfs on top of an sshfs mount
mkdir -p "$W/mnt-sshfs" "$W/mnt-gcf" "$W/mnt-vault" "$W/mnt-rclone"
if [[ " $PEERS " == *" gcf "* ]]; then
  in_hotel sshfs "$USER_@$HOST:gcf" "$W/mnt-sshfs" -o "$SSHOPTS"
  gocryptfs -q -init -passfile "$W/pw" -scryptn 16 "$W/mnt-sshfs" >&2
  fusermount3 -u "$W/mnt-sshfs"
fi

# rclone config: sftp remote + crypt remote on top
RCONF="$W/rclone.conf"
write_rclone_conf "$RCONF" bsftp bcrypt

mount_one() { # which
  local m=$W/mnt-$1
  case $1 in
    vault) in_hotel "$VAULT_BIN" mount "$URL" "$m" "${VOPTS[@]}" >&2 ;;
    gcf)
      in_hotel sshfs "$USER_@$HOST:gcf" "$W/mnt-sshfs" -o "$SSHOPTS"
      gocryptfs -q -passfile "$W/pw" "$W/mnt-sshfs" "$m" >&2 ;;
    rclone)
      # Not --daemon: rclone 1.60's daemon mode fails to appear inside the hotel netns here;
      # a plain background process (fusermount3 -u ends it) mounts the same way.
      in_hotel rclone --config "$RCONF" mount bcrypt: "$m" --vfs-cache-mode off \
        --dir-cache-time 0s --attr-timeout 0s --log-file "$W/rclone-mount.log" </dev/null >&2 &
      disown ;;
  esac
  local i
  for ((i = 0; i < 300; i++)); do mountpoint -q "$m" && return 0; sleep 0.1; done
  echo "mount $1 did not appear" >&2; return 1
}
unmount_one() {
  local m=$W/mnt-$1
  case $1 in
    vault) timeout 120 "$VAULT_BIN" unmount "$m" >&2 || fusermount3 -uz "$m" ;;
    gcf) fusermount3 -u "$m" || fusermount3 -uz "$m"; fusermount3 -u "$W/mnt-sshfs" || fusermount3 -uz "$W/mnt-sshfs" ;;
    rclone) fusermount3 -u "$m" || fusermount3 -uz "$m" ;;
  esac
  local i
  for ((i = 0; i < 100; i++)); do mountpoint -q "$m" || return 0; sleep 0.1; done
}
cold() { sync; echo 3 > /proc/sys/vm/drop_caches; unmount_one "$1"; mount_one "$1"; }

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b - a}'; }

declare -A R

impair_to() { if [[ $1 == 0 ]]; then "$SRV/hotel-net.sh" impair 0 0 0 >&2; else "$SRV/hotel-net.sh" impair "$1" 0 20 >&2; fi; }

bench_one() { # which delay mb
  local p=$1 d=$2 mb=$3 m=$W/mnt-$1 t0 t1
  log "== $p @ ${d} ms: ${mb} MiB"
  # setup (not timed, without added delay): 1,000 empty entries and a 1 MiB file
  if [[ $QUICK != 1 ]]; then
    impair_to 0
    mount_one "$p"
    mkdir -p "$m/list1000"
    (cd "$m/list1000" && for i in $(seq 1 1000); do : > "entry-$i"; done)
    head -c 1048576 /dev/urandom > "$m/onemeg.bin"
    sync
    unmount_one "$p"
  fi
  impair_to "$d"
  mount_one "$p"
  t0=$(now); dd if=/dev/zero of="$m/seq.bin" bs=1M count="$mb" conv=fsync status=none; t1=$(now)
  R[$p,$d,write]=$(awk -v mb="$mb" -v s="$(secs "$t0" "$t1")" 'BEGIN{printf "%.2f", mb / s}')
  cold "$p"
  t0=$(now); dd if="$m/seq.bin" of=/dev/null bs=1M status=none; t1=$(now)
  R[$p,$d,read]=$(awk -v mb="$mb" -v s="$(secs "$t0" "$t1")" 'BEGIN{printf "%.2f", mb / s}')
  if [[ $QUICK == 1 ]]; then
    unmount_one "$p"; impair_to 0; mount_one "$p"; rm -f "$m/seq.bin"; unmount_one "$p"
    log "$p @ $d ms: write ${R[$p,$d,write]} MB/s, read ${R[$p,$d,read]} MB/s"
    return 0
  fi
  cold "$p"
  t0=$(now); n=$(ls -f "$m/list1000" | wc -l); t1=$(now)
  [[ $n -ge 1000 ]] || log "WARNING: $p listed $n entries"
  R[$p,$d,list]=$(secs "$t0" "$t1")
  cold "$p"
  t0=$(now); head -c 1048576 "$m/onemeg.bin" > /dev/null; t1=$(now)
  R[$p,$d,open]=$(secs "$t0" "$t1")
  unmount_one "$p"
  impair_to 0
  mount_one "$p"
  rm -rf "$m/list1000" "$m/onemeg.bin" "$m/seq.bin"
  unmount_one "$p"
  log "$p @ $d ms: write ${R[$p,$d,write]} MB/s, read ${R[$p,$d,read]} MB/s, list ${R[$p,$d,list]} s, open+read 1 MiB ${R[$p,$d,open]} s"
}

for d in $DELAYS; do
  if [[ $d == 0 ]]; then mb=$MB0; else mb=$MB80; fi
  for p in $PEERS; do bench_one "$p" "$d" "$mb" || log "FAILED: $p @ $d ms"; done
done

# ---------------------------------------------------------------- table
printf '\n| delay | metric | vault | sshfs+gocryptfs | rclone sftp+crypt | vault / best peer |\n|---|---|---|---|---|---|\n'
for d in $DELAYS; do
  for k in $METRICS; do
    v=${R[vault,$d,$k]:-} g=${R[gcf,$d,$k]:-} r=${R[rclone,$d,$k]:-}
    case $k in
      write|read) unit="MiB/s"; best=$(printf '%s\n%s\n' "$g" "$r" | grep . | sort -g | tail -1) ;;
      *) unit="s"; best=$(printf '%s\n%s\n' "$g" "$r" | grep . | sort -g | head -1) ;;
    esac
    ratio=$(awk -v a="$v" -v b="$best" 'BEGIN{ if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }')
    case $k in write) name="seq write ($([[ $d == 0 ]] && echo "$MB0" || echo "$MB80") MiB)";; read) name="seq read, cold";; list) name="list 1,000 entries, cold";; open) name="open+read cold 1 MiB";; esac
    printf '| %s ms | %s [%s] | %s | %s | %s | %s |\n' "$d" "$name" "$unit" "${v:-fail}" "${g:-fail}" "${r:-fail}" "$ratio"
  done
done
