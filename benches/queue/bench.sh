#!/usr/bin/env bash
# benches/queue/bench.sh — issue 12 acceptance 7 benchmark (NOT part of CI; needs root, FUSE, netns).
#
# One run, three tools, all on the hotel network of hotel-net.sh (80 ms ± 20 ms, 1 % loss each
# way: `up 80 1 20`), the key-only OpenSSH sshd (vault-sftp/tests/servers/sshd-2fa.sh, mode "key")
# in the cloud netns, every client in the hotel netns (nsenter --net, so FUSE mounts stay visible):
#
#   vault   `vault mount sftp://… --cache=full` (content cache + upload queue)
#   vaultdc the same with `--dir-cache-time 5m` (rclone's default dir cache time; our default
#           1 s revalidates a listing older than that, waiting up to 300 ms for the server)
#   sshfs   `sshfs` with its default caching (no encryption; the floor of a plain SFTP mount)
#   rclone  `rclone mount --vfs-cache-mode full --vfs-write-back 5s` of a crypt remote on an
#           sftp remote (config file written here, passwords via `rclone obscure`)
#
# Per tool, one mount:
#   1. `cp -r` of 300 files of 4 KiB into a new folder (new<round>-<tool>): time until cp returns, and time (from
#      cp's start) until all 300 files are on the server, counted in the server's folder as files
#      of the tool's ciphertext size (vault 4192 B, rclone crypt 4144 B, sshfs 4096 B), polled
#      every 0.1 s; for vault* also until `vault queue` reports pending=0.
#   2. warm `ls -l` of a folder of 300 (the one just copied) and of 1,000 entries: one listing
#      first, then 5 timed, median.
#   3. warm re-read of a 1 MiB file: read once, then 5 times `drop_caches` + `cat`, median (the
#      kernel page cache is dropped, so this is the tool's own cache, or the network).
# The 1,000 entries and the 1 MiB file are put on the server beforehand from the cloud netns (no
# delay): vault with `vault put`, rclone with `rclone copy` through the same crypt remote, sshfs
# as plain files. The impairment is set once, before any mount, and never changed (a delay
# process started while a FUSE mount exists keeps a copy of it in its own mount namespace).
#
# Names: netns vt-{hotel,wan,cloud}-qbNNNNN, sshd user traveller-qbNNNNN, NNNNN from this
# script's pid, ports from VAULT_TEST_PORT_BASE (default derived from the pid, inside the
# instance's own netns anyway), state in /tmp/vault-queue-bench-qbNNNNN; everything is removed
# on exit, also on failure or Ctrl-C.
#
# Env: BENCH_TOOLS ("vault sshfs rclone"), BENCH_RUNS (1: that many rounds of all tools in one
#      run, each round on fresh folders), VAULT_BIN (default: cargo build --release into
#      $CARGO_TARGET_DIR), BENCH_KEEP=1 keeps the work dir.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SRV="$ROOT/vault-sftp/tests/servers"
# shellcheck source=../lib.sh
. "$ROOT/benches/lib.sh"

TOOLS=${BENCH_TOOLS:-"vault sshfs rclone vaultdc"}
RUNS=${BENCH_RUNS:-1}
FILES=300
LIST=1000

INST=qb$(($$ % 100000))
export VAULT_TEST_INSTANCE=$INST
export VAULT_TEST_PORT_BASE=${VAULT_TEST_PORT_BASE:-$((40000 + ($$ % 1000) * 8))}
export VAULT_TEST_STATE_DIR=/tmp/vault-queue-bench-$INST
export VAULT_TEST_TOTP_REUSE=allow

[[ $(id -u) -eq 0 ]] || { echo "run as root" >&2; exit 1; }
NEED="fusermount3 nsenter find"
[[ " $TOOLS " == *" sshfs "* ]] && NEED+=" sshfs"
[[ " $TOOLS " == *" rclone "* ]] && NEED+=" rclone"
for t in $NEED; do command -v "$t" >/dev/null || { echo "missing $t (scripts/install-deps.sh --peers)" >&2; exit 1; }; done

if [[ -z ${VAULT_BIN:-} && " $TOOLS " == *" vault"* ]]; then
  (cd "$ROOT" && cargo build --release --bin vault >&2)
  VAULT_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/vault"
fi

W=$(mktemp -d /tmp/vault-queue-bench-work.XXXXXX)
chmod 755 "$W"
# Our mount's cache, config and sockets stay inside the work dir.
export XDG_CACHE_HOME=$W/cache XDG_CONFIG_HOME=$W/config XDG_RUNTIME_DIR=$W/run
mkdir -p -m 700 "$XDG_CACHE_HOME" "$XDG_CONFIG_HOME" "$XDG_RUNTIME_DIR"
cleanup() {
  set +e
  local m
  for m in "$W"/mnt-*; do
    [[ -d $m ]] && mountpoint -q "$m" && { fusermount3 -uz "$m" 2>/dev/null || umount -l "$m"; }
  done
  # down stops whatever still runs in the three namespaces (sshd, rclone, vault daemons).
  "$SRV/hotel-net.sh" down >/dev/null 2>&1
  "$SRV/sshd-2fa.sh" purge >/dev/null 2>&1
  rm -rf "$VAULT_TEST_STATE_DIR"
  [[ -n ${BENCH_KEEP:-} ]] && log "work dir kept: $W" || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- network + server
hotel_sshd_up 80 1 20
log "key-only sshd at $HOST:$PORT (netns $CLOUD_NS), user $USER_, root $HOME_DIR; clients in $HOTEL_NS"

PW='bench vault password'
sftp_client_keys

for d in Vault plain rcl; do install -d -o "$USER_" -g "$USER_" "$HOME_DIR/$d"; done
URL="sftp://$USER_@$HOST:$PORT/~/Vault"
RCONF="$W/rclone.conf"
write_rclone_conf "$RCONF" qsftp qcrypt
chmod 600 "$RCONF"

# ---------------------------------------------------------------- source data + server setup
mkdir -p "$W/src/list1000"
for ((r = 1; r <= RUNS; r++)); do
  mkdir -p "$W/src/$r/new$r"
  for ((i = 0; i < FILES; i++)); do head -c 4096 /dev/urandom > "$W/src/$r/new$r/f$i"; done
done
for ((i = 0; i < LIST; i++)); do : > "$W/src/list1000/entry-$i"; done
head -c 1048576 /dev/urandom > "$W/onemeg.bin"

log "setup from the cloud netns (no delay): vault create, $LIST entries and 1 MiB for each tool"
SETUP_ENV=(env XDG_CACHE_HOME="$W/cache-setup")
if [[ " $TOOLS " == *" vault"* ]]; then
  in_cloud "${SETUP_ENV[@]}" "$VAULT_BIN" create "$URL" "${VOPTS[@]}" >&2
  in_cloud "${SETUP_ENV[@]}" "$VAULT_BIN" put -r "$URL" "$W/src/list1000" /list1000 "${VOPTS[@]}" >&2
  in_cloud "${SETUP_ENV[@]}" "$VAULT_BIN" put "$URL" "$W/onemeg.bin" /onemeg.bin "${VOPTS[@]}" >&2
fi
cp -r "$W/src/list1000" "$W/onemeg.bin" "$HOME_DIR/plain/"
chown -R "$USER_:$USER_" "$HOME_DIR/plain"
in_cloud rclone --config "$RCONF" copy "$W/src/list1000" qcrypt:list1000 >&2
in_cloud rclone --config "$RCONF" copy "$W/onemeg.bin" qcrypt: >&2

# ---------------------------------------------------------------- per tool
mkdir -p "$W/mnt-vault" "$W/mnt-vaultdc" "$W/mnt-sshfs" "$W/mnt-rclone"
mount_tool() {
  local m=$W/mnt-$1 i
  case $1 in
    vault) in_hotel "$VAULT_BIN" mount "$URL" "$m" --cache=full --no-sidebar --no-notify \
             --log-file "$W/vault-mount.log" "${VOPTS[@]}" >/dev/null ;;
    vaultdc) in_hotel "$VAULT_BIN" mount "$URL" "$m" --cache=full --dir-cache-time 5m --no-sidebar \
               --no-notify --log-file "$W/vaultdc-mount.log" "${VOPTS[@]}" >/dev/null ;;
    sshfs) in_hotel sshfs "$USER_@$HOST:plain" "$m" -o "$SSHOPTS" ;;
    rclone)
      # A plain background process, not --daemon (which did not appear inside the hotel netns
      # with rclone 1.60 here); fusermount3 -u ends it.
      in_hotel rclone --config "$RCONF" mount qcrypt: "$m" --vfs-cache-mode full \
        --vfs-write-back 5s --cache-dir "$W/rclone-cache" --log-file "$W/rclone-mount.log" \
        </dev/null >&2 &
      disown ;;
  esac
  for ((i = 0; i < 300; i++)); do mountpoint -q "$m" && return 0; sleep 0.1; done
  log "mount $1 did not appear"; return 1
}
unmount_tool() {
  local m=$W/mnt-$1 i
  case $1 in
    vault*) timeout 300 "$VAULT_BIN" unmount "$m" >&2 || fusermount3 -uz "$m" ;;
    *) fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" ;;
  esac
  for ((i = 0; i < 100; i++)); do mountpoint -q "$m" || return 0; sleep 0.1; done
}
# Files of the tool's ciphertext size for one 4 KiB file, under the tool's server folder.
server_count() {
  case $1 in
    # (2>/dev/null: temporary upload names vanish while find walks)
    vault*) find "$HOME_DIR/Vault" -type f -size 4192c 2>/dev/null | wc -l ;;
    sshfs) find "$HOME_DIR/plain" -type f -size 4096c 2>/dev/null | wc -l ;;
    rclone) find "$HOME_DIR/rcl" -type f -size 4144c 2>/dev/null | wc -l ;;
  esac
}
median_ms() { local IFS=,; py "f'{sorted([$*])[len([$*])//2]:.0f}'"; }
queue_empty() { in_hotel "$VAULT_BIN" queue "$W/mnt-$1" 2>/dev/null | head -1 | grep -q '^pending=0'; }

# Warm `ls -l` of DIR: one untimed, then 5 timed → median ms in R[TOOL,KEY].
warm_ls() {
  local p=$1 dir=$2 key=$3 want=$4 n t0 t1 times=() i
  n=$(ls -l "$dir" | grep -c .) || true
  [[ $n -ge $want ]] || log "WARNING: $p: first ls -l of $dir listed $((n - 1)) entries, expected $want"
  for ((i = 0; i < 5; i++)); do
    t0=$(now); n=$(ls -l "$dir" | grep -c .) || true; t1=$(now)
    [[ $n -ge $want ]] || log "WARNING: $p: ls -l of $dir listed $((n - 1)) entries, expected $want"
    times+=("$(py "($t1-$t0)*1000")")
  done
  R[$p,$key]=$(median_ms "${times[@]}")
  log "$p: warm ls -l $want entries: ${times[*]} ms → median ${R[$p,$key]}"
}

bench_tool() { # TOOL ROUND
  local p=$1 r=$2 m=$W/mnt-$1 base t0 t1 t2 c times=() i k
  log "== $p (round $r), load: $(cut -d' ' -f1-3 /proc/loadavg)"
  mount_tool "$p" || return 1
  # 1. small-file writes
  base=$(server_count "$p")
  t0=$(now)
  timeout 900 cp -r "$W/src/$r/new$r" "$m/new$r-$p" || { log "$p: cp -r failed"; unmount_tool "$p"; return 1; }
  t1=$(now)
  R[$p,cp]=$(py "f'{$t1-$t0:.2f}'")
  log "$p: cp -r returned after ${R[$p,cp]} s; waiting for $FILES files on the server"
  while :; do
    c=$(server_count "$p")
    ((c - base >= FILES)) && break
    if (($(py "int($(now) - $t0 > 900)"))); then log "$p: only $((c - base)) files on the server after 900 s"; break; fi
    sleep 0.1
  done
  t2=$(now)
  ((c - base >= FILES)) && R[$p,server]=$(py "f'{$t2-$t0:.2f}'")
  log "$p: $((c - base)) files on the server after ${R[$p,server]:-?} s"
  if [[ $p == vault* ]]; then
    until queue_empty "$p"; do
      (($(py "int($(now) - $t0 > 900)"))) && { log "$p: queue not empty after 900 s"; break; }
      sleep 0.2
    done
    log "$p: vault queue pending=0 after $(py "f'{$(now)-$t0:.2f}'") s"
  fi
  # 2. warm listings
  warm_ls "$p" "$m/new$r-$p" ls300 $((FILES + 1))
  warm_ls "$p" "$m/list1000" ls1000 $((LIST + 1))
  # 3. warm re-read of 1 MiB
  cat "$m/onemeg.bin" > /dev/null
  for ((i = 0; i < 5; i++)); do
    drop_caches
    t0=$(now); cat "$m/onemeg.bin" > /dev/null; t1=$(now)
    times+=("$(py "($t1-$t0)*1000")")
  done
  R[$p,reread]=$(median_ms "${times[@]}")
  log "$p: warm re-read 1 MiB: ${times[*]} ms → median ${R[$p,reread]}"
  for k in cp server ls300 ls1000 reread; do ALL[$p,$k]+="${R[$p,$k]:-} "; done
  unmount_tool "$p"
}

declare -A R ALL NAME=([sshfs]="sshfs" [rclone]="rclone sftp+crypt" [vaultdc]="ours, dir-cache 5m")
COLUMNS=() PEERS=()
for p in $TOOLS; do
  [[ $p == vault ]] && continue
  COLUMNS+=("$p")
  [[ $p == vaultdc ]] || PEERS+=("$p")
done

for ((r = 1; r <= RUNS; r++)); do
  for p in $TOOLS; do
    R=()
    bench_tool "$p" "$r" || log "FAILED: $p (round $r)"
    mountpoint -q "$W/mnt-$p" && unmount_tool "$p"
  done
done

# ---------------------------------------------------------------- table (median over rounds)
for p in $TOOLS; do
  for k in cp server ls300 ls1000 reread; do
    # shellcheck disable=SC2086
    set -- ${ALL[$p,$k]:-}
    if (($# == 0)); then R[$p,$k]=""; elif (($# == 1)); then R[$p,$k]=$1; else R[$p,$k]=$(IFS=,; py "sorted([$*])[len([$*])//2]"); fi
  done
done
for p in $TOOLS; do [[ $p == vault ]] && for k in cp server ls300 ls1000 reread; do R[ours,$k]=${R[vault,$k]}; done; done
echo
echo "hotel network 80 ms ± 20 ms, 1 % loss; $RUNS round(s); load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
table_header 42
table_row cp "cp -r 300 x 4 KiB, returns (s)" lower
table_row server "cp -r 300 x 4 KiB, all on server (s)" lower
table_row ls300 "ls -l 300 entries, warm, median (ms)" lower
table_row ls1000 "ls -l 1,000 entries, warm, median (ms)" lower
table_row reread "re-read 1 MiB, warm, median (ms)" lower
echo
echo "per peer (peer's time / ours; > 1 = ours faster):"
for p in "${PEERS[@]}"; do
  line="  vs ${NAME[$p]}:"
  for k in cp server ls300 ls1000 reread; do
    if [[ -n ${R[ours,$k]:-} && -n ${R[$p,$k]:-} ]]; then
      line+=" $k $(py "f'{${R[$p,$k]}/max(${R[ours,$k]},1e-9):.2f}x'")"
    else
      line+=" $k n/a"
    fi
  done
  echo "$line"
done
