#!/usr/bin/env bash
# WebDAV mount benchmark (issue 6, not part of CI): in one run on the same server
# (`rclone serve webdav` on loopback, started here through tests/servers/webdav.sh), compares
#   ours     `vault mount dav://…`
#   rclone   `rclone mount` of a crypt remote over a webdav remote (config written here,
#            passwords through `rclone obscure`; --vfs-cache-mode off: streams like ours)
#   davfs2   davfs2 + gocryptfs stacked, when davfs2 can list folders on this kernel
# on: sequential write and read of SIZE_MB, a cold listing of LS_FILES entries (`ls -l`),
# a cold open + read of a 1 MiB file ("cold" = freshly mounted, page cache dropped).
# Prints each figure and the ratio ours/best peer (≥ 1.00 = at least as good).
#
#   benches/webdav/bench.sh
#   SIZE_MB=64 LS_FILES=300 benches/webdav/bench.sh     # quicker
#
# Env: SIZE_MB (256), LS_FILES (1000), OPEN_FILES (7: the cold open is the median of that many files), BENCH_DIR (/var/tmp/vault-webdav-bench),
#      BENCH_PORT_BASE (29780: rclone serve on +5), VAULT_BIN (default: release build of `vault`).
# Needs root (drop_caches, davfs2), fusermount3, rclone, gocryptfs, davfs2 (optional).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SIZE_MB=${SIZE_MB:-256}
LS_FILES=${LS_FILES:-1000}
OPEN_FILES=${OPEN_FILES:-7}
BENCH_DIR=${BENCH_DIR:-/var/tmp/vault-webdav-bench}
BASE=${BENCH_PORT_BASE:-29780}
PORT=$((BASE + 5))
DAV=http://127.0.0.1:$PORT
export VAULT_TEST_INSTANCE=wdbench VAULT_TEST_PORT_BASE=$BASE
unset VAULT_TEST_NETNS VAULT_TEST_BIND VAULT_TEST_STATE_DIR

if [[ -z "${VAULT_BIN:-}" ]]; then
    (cd "$ROOT" && cargo build --release -q --bin vault)
    VAULT_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/vault
fi
for tool in rclone gocryptfs fusermount3 python3 curl; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

M_OURS=$BENCH_DIR/m-ours M_RCLONE=$BENCH_DIR/m-rclone M_DAVFS=$BENCH_DIR/m-davfs M_GOCRYPT=$BENCH_DIR/m-gocryptfs
RCLONE_MOUNT_PID=
cleanup() {
    set +e
    for m in "$M_GOCRYPT" "$M_OURS" "$M_RCLONE"; do
        mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m" 2>/dev/null
    done
    mountpoint -q "$M_DAVFS" 2>/dev/null && umount "$M_DAVFS" 2>/dev/null
    [[ -n $RCLONE_MOUNT_PID ]] && kill "$RCLONE_MOUNT_PID" 2>/dev/null
    bash "$ROOT/tests/servers/webdav.sh" stop rclone 2>/dev/null
    wait 2>/dev/null
}
trap cleanup EXIT

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR" "$M_OURS" "$M_RCLONE" "$M_DAVFS" "$M_GOCRYPT"
bash "$ROOT/tests/servers/webdav.sh" start rclone
eval "$(bash "$ROOT/tests/servers/webdav.sh" env | grep -E '^VAULT_TEST_WEBDAV_(USER|PASSWORD|RCLONE_ROOT)=')"
USER_=$VAULT_TEST_WEBDAV_USER PASS_=$VAULT_TEST_WEBDAV_PASSWORD
rm -rf "${VAULT_TEST_WEBDAV_RCLONE_ROOT:?}"/{ours,rclonecrypt,davfs}  # an earlier run's data
mkcol() { curl -sS -o /dev/null -u "$USER_:$PASS_" -X MKCOL "$DAV/$1/"; }

# shellcheck source=../lib.sh
. "$ROOT/benches/lib.sh"

# --- ours ---------------------------------------------------------------------
ASKPASS=$BENCH_DIR/askpass.sh
cat > "$ASKPASS" <<EOF
#!/bin/sh
case "\$1" in "Password for "*) echo '$PASS_' ;; *) echo 'bench-password' ;; esac
EOF
chmod 755 "$ASKPASS"
OURS_URL="dav://$USER_@127.0.0.1:$PORT/ours"
mkcol ours
"$VAULT_BIN" create "$OURS_URL" --askpass "$ASKPASS"
mount_ours() { "$VAULT_BIN" mount "$OURS_URL" "$M_OURS" --askpass "$ASKPASS"; }
umount_ours() { "$VAULT_BIN" unmount "$M_OURS"; }

# --- rclone crypt over webdav ----------------------------------------------------
RCONF=$BENCH_DIR/rclone.conf
mkcol rclonecrypt
cat > "$RCONF" <<EOF
[dav]
type = webdav
url = $DAV/
vendor = other
user = $USER_
pass = $(rclone obscure "$PASS_")

[cr]
type = crypt
remote = dav:rclonecrypt
password = $(rclone obscure bench-password)
filename_encryption = standard
directory_name_encryption = true
EOF
mount_rclone() {
    rclone mount cr: "$M_RCLONE" --config "$RCONF" --vfs-cache-mode off --log-file "$BENCH_DIR/rclone-mount.log" &
    RCLONE_MOUNT_PID=$!
    local i; for ((i = 0; i < 100; i++)); do mountpoint -q "$M_RCLONE" && return 0; sleep 0.1; done
    echo "rclone mount did not come up" >&2; exit 1
}
umount_rclone() {
    fusermount3 -u "$M_RCLONE"; wait "$RCLONE_MOUNT_PID" 2>/dev/null || true; RCLONE_MOUNT_PID=
}

# --- davfs2 + gocryptfs (if davfs2 works here) -------------------------------------
DAVFS_OK=0 DAVFS_WHY=""
if command -v mount.davfs >/dev/null; then
    mkcol davfs
    DCONF=$BENCH_DIR/davfs2.conf DSEC=$BENCH_DIR/davfs2.secrets
    printf '%s %s %s\n' "$DAV/davfs/" "$USER_" "$PASS_" > "$DSEC"; chmod 600 "$DSEC"
    printf 'secrets %s\nask_auth 0\nuse_locks 0\n' "$DSEC" > "$DCONF"
    if mount -t davfs -o "conf=$DCONF" "$DAV/davfs/" "$M_DAVFS" </dev/null >"$BENCH_DIR/davfs.log" 2>&1; then
        if ! ls "$M_DAVFS" >/dev/null 2>"$BENCH_DIR/davfs-ls.err"; then
            DAVFS_WHY="davfs2 mounts, but readdir fails: $(head -1 "$BENCH_DIR/davfs-ls.err")"
        elif ! echo bench-password > "$BENCH_DIR/gpw" || ! gocryptfs -init -q -scryptn 10 -passfile "$BENCH_DIR/gpw" "$M_DAVFS" >"$BENCH_DIR/gocryptfs-init.log" 2>&1; then
            DAVFS_WHY="gocryptfs -init on davfs2 failed: $(tail -1 "$BENCH_DIR/gocryptfs-init.log")"
        elif ! gocryptfs -q -nosyslog -passfile "$BENCH_DIR/gpw" "$M_DAVFS" "$M_GOCRYPT" >"$BENCH_DIR/gocryptfs.log" 2>&1; then
            DAVFS_WHY="gocryptfs mount on davfs2 failed: $(tail -1 "$BENCH_DIR/gocryptfs.log")"
        elif ! ls "$M_GOCRYPT" >/dev/null 2>"$BENCH_DIR/gocryptfs-ls.err"; then
            DAVFS_WHY="gocryptfs on davfs2: readdir fails: $(head -1 "$BENCH_DIR/gocryptfs-ls.err")"
        else
            DAVFS_OK=1
        fi
    else
        DAVFS_WHY="mount -t davfs failed: $(tail -1 "$BENCH_DIR/davfs.log")"
    fi
else
    DAVFS_WHY="davfs2 not installed"
fi
if ((!DAVFS_OK)); then
    log "davfs2 + gocryptfs skipped: $DAVFS_WHY"
    mountpoint -q "$M_GOCRYPT" && fusermount3 -u "$M_GOCRYPT"
    mountpoint -q "$M_DAVFS" && umount "$M_DAVFS"
fi
mount_davfs() {
    mount -t davfs -o "conf=$DCONF" "$DAV/davfs/" "$M_DAVFS" </dev/null >/dev/null 2>&1
    gocryptfs -q -nosyslog -passfile "$BENCH_DIR/gpw" "$M_DAVFS" "$M_GOCRYPT"
}
umount_davfs() { fusermount3 -u "$M_GOCRYPT"; umount "$M_DAVFS"; }

# --- the workload ------------------------------------------------------------------
declare -A R
bench() { # LABEL MOUNTPOINT MOUNT_FN UMOUNT_FN   (mounted on entry)
    local L=$1 M=$2 mnt=$3 umnt=$4
    step_write "$L" "$M"
    step_setup "$L" "$M"
    "$umnt"; sleep 1; drop_caches; "$mnt"
    step_open "$L" "$M"
    step_ls "$L" "$M"
    step_read "$L" "$M"
}

mount_ours; bench ours "$M_OURS" mount_ours umount_ours; umount_ours
mount_rclone; bench rclone "$M_RCLONE" mount_rclone umount_rclone; umount_rclone
PEERS=(rclone)
if ((DAVFS_OK)); then bench davfs "$M_GOCRYPT" mount_davfs umount_davfs; umount_davfs; PEERS+=(davfs); fi

# --- table ---------------------------------------------------------------------------
echo
echo "WebDAV mount benchmark: rclone serve webdav $(rclone version | head -1 | awk '{print $2}') on loopback; $SIZE_MB MiB sequential, $LS_FILES entries; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A NAME=([rclone]="rclone crypt" [davfs]="davfs2+gocryptfs")
COLUMNS=(rclone davfs)
table_header 36
table_row write "sequential write ${SIZE_MB} MiB (MB/s)" higher
table_row read "sequential read ${SIZE_MB} MiB (MB/s)" higher
table_row ls "cold ls -l of $LS_FILES entries (ms)" lower
table_row open "cold open + read 1 MiB, median (ms)" lower
((DAVFS_OK)) || echo "davfs2 + gocryptfs: not measured: $DAVFS_WHY"
