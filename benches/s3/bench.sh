#!/usr/bin/env bash
# S3 mount benchmark (issue 13, acceptance 6; not part of CI). In one run on one S3 server
# (moto 5.2.5 in server mode on loopback, from the venv scripts/install-deps.sh makes: the
# server tests/cli_s3.rs runs the binary against; s3s-fs, the other test server, turns the
# `PREFIX/` folder markers the CLI writes into folders its listings hide while empty, which the
# tests work around with a marker-file setting the CLI does not offer) it compares
#   ours     `vault mount s3://bench/ours --s3-endpoint …`
#   rclone   `rclone mount` of a crypt remote over an s3 remote on the same bucket
#            (--vfs-cache-mode off: streams like ours, no local cache)
# on: a put of a tree of small files (`cp -r`), a sequential write of SIZE_MB (`dd`, fsync),
# a cold sequential read of it, a cold open + read of a 1 MiB file (median of OPEN_FILES),
# a cold `ls -l` of a folder of LS_FILES entries, a cold `find` over the small-file tree.
# "Cold" = freshly mounted, page cache dropped, the server idle (the previous daemon done
# uploading). Prints each figure and ours / rclone (≥ 1.00× = ours at least as good), the cold
# open once more with ours at rclone's directory cache time, and the requests of the cold
# steps as moto logged them.
#
#   benches/s3/bench.sh
#   SIZE_MB=64 LS_FILES=300 TREE_DIRS=5 benches/s3/bench.sh     # quicker
#
# Env: SIZE_MB (256), LS_FILES (1000), OPEN_FILES (7), TREE_DIRS (20) × TREE_FILES (50) files
#      of 1-16 KiB, BENCH_DIR (/var/tmp/vault-s3-bench), BENCH_PORT (default: a free one),
#      VAULT_BIN (default: release build of `vault`), VAULT_TEST_S3VENV (/opt/vault-test-s3venv).
# Needs root (drop_caches), fusermount3, rclone, python3.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SIZE_MB=${SIZE_MB:-256}
LS_FILES=${LS_FILES:-1000}
OPEN_FILES=${OPEN_FILES:-7}
TREE_DIRS=${TREE_DIRS:-20}
TREE_FILES=${TREE_FILES:-50}
BENCH_DIR=${BENCH_DIR:-/var/tmp/vault-s3-bench}
# shellcheck source=../lib.sh
. "$ROOT/benches/lib.sh"
PORT=${BENCH_PORT:-$(free_port)}
ENDPOINT=http://127.0.0.1:$PORT
BUCKET=bench
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

if [[ -z "${VAULT_BIN:-}" ]]; then
    (cd "$ROOT" && cargo build --release -q --bin vault)
    VAULT_BIN=$TARGET/release/vault
fi
MOTO=${VAULT_TEST_S3VENV:-/opt/vault-test-s3venv}/bin/moto_server
[[ -x $MOTO ]] || { echo "missing: $MOTO (scripts/install-deps.sh)" >&2; exit 1; }
for tool in rclone fusermount3 python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

M_OURS=$BENCH_DIR/m-ours M_RCLONE=$BENCH_DIR/m-rclone
SERVER_PID= RCLONE_MOUNT_PID=
cleanup() {
    set +e
    for m in "$M_OURS" "$M_RCLONE"; do
        mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m" 2>/dev/null
    done
    [[ -n $RCLONE_MOUNT_PID ]] && kill "$RCLONE_MOUNT_PID" 2>/dev/null
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null
    wait 2>/dev/null
}
trap cleanup EXIT

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR/home" "$M_OURS" "$M_RCLONE"
export S3_ACCESS_KEY=bench-key S3_SECRET_KEY=bench-secret-0123456789
"$MOTO" -H 127.0.0.1 -p "$PORT" >"$BENCH_DIR/server.log" 2>&1 &
SERVER_PID=$!
wait_port "$PORT"

# --- ours ------------------------------------------------------------------------------
ASKPASS=$BENCH_DIR/askpass.sh
printf '#!/bin/sh\necho bench-password\n' > "$ASKPASS"
chmod 755 "$ASKPASS"
OURS_URL="s3://$BUCKET/ours"
vault_() {
    env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_REGION -u AWS_DEFAULT_REGION \
        -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_S3 HOME="$BENCH_DIR/home" \
        AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY \
        "$VAULT_BIN" "$@"
}
vault_ create "$OURS_URL" --s3-endpoint "$ENDPOINT" --askpass "$ASKPASS" --create-bucket
OURS_EXTRA=()
mount_ours() {
    vault_ mount "$OURS_URL" "$M_OURS" --s3-endpoint "$ENDPOINT" --askpass "$ASKPASS" \
        "${OURS_EXTRA[@]}"
}
umount_ours() { vault_ unmount "$M_OURS"; }

# --- rclone crypt over s3 -----------------------------------------------------------------
# (AWS_CA_BUNDLE, if set, makes rclone's S3 client refuse its own HTTP transport.)
RCONF=$BENCH_DIR/rclone.conf
cat > "$RCONF" <<CONF
[s3]
type = s3
provider = Other
access_key_id = $S3_ACCESS_KEY
secret_access_key = $S3_SECRET_KEY
endpoint = $ENDPOINT
region = us-east-1
force_path_style = true

[cr]
type = crypt
remote = s3:$BUCKET-rclone/crypt
password = $(rclone obscure bench-password)
filename_encryption = standard
directory_name_encryption = true
CONF
# Its own bucket, versioned: rclone 1.60 reads an object back after a multipart upload by the
# version ID the upload answered, and moto answers "null" on an unversioned bucket, then
# refuses that HEAD (400).
rclone_() { env -u AWS_CA_BUNDLE rclone --config "$RCONF" "$@"; }
rclone_ mkdir "s3:$BUCKET-rclone"
rclone_ backend versioning "s3:$BUCKET-rclone" Enabled >/dev/null
mount_rclone() {
    rclone_ mount cr: "$M_RCLONE" --vfs-cache-mode off \
        --log-file "$BENCH_DIR/rclone-mount.log" &
    RCLONE_MOUNT_PID=$!
    local i; for ((i = 0; i < 100; i++)); do mountpoint -q "$M_RCLONE" && return 0; sleep 0.1; done
    echo "rclone mount did not come up" >&2; exit 1
}
umount_rclone() {
    fusermount3 -u "$M_RCLONE"; wait "$RCLONE_MOUNT_PID" 2>/dev/null || true; RCLONE_MOUNT_PID=
}

# --- the source tree of small files (local, made once) -------------------------------------
SRC=$BENCH_DIR/src
python3 - "$SRC" "$TREE_DIRS" "$TREE_FILES" <<'PY'
import os, random, sys
root, dirs, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(13)
for d in range(dirs):
    p = os.path.join(root, f"dir-{d:03}")
    os.makedirs(p)
    for f in range(files):
        with open(os.path.join(p, f"file-{f:03}.bin"), "wb") as out:
            out.write(rnd.randbytes(rnd.randint(1024, 16384)))
PY
TREE_N=$((TREE_DIRS * TREE_FILES))

# --- the workload -----------------------------------------------------------------------------
declare -A R
# Requests the server has answered so far (moto logs one line per request).
requests() { grep -c '" [0-9][0-9][0-9] ' "$BENCH_DIR/server.log" || true; }
# Waits until the server has had no request for a second (at most 5 min): `vault unmount`
# returns while the daemon still uploads what was closed just before (the setup's 1,000
# empty files), which would otherwise run on into the next mount's cold steps.
settle() {
    local before after i
    for ((i = 0; i < 300; i++)); do
        before=$(requests); sleep 1; after=$(requests)
        [[ $before -eq $after ]] && return 0
    done
    log "the server was still busy after 5 minutes"
}
bench() { # LABEL MOUNTPOINT MOUNT_FN UMOUNT_FN   (mounted on entry)
    local L=$1 M=$2 mnt=$3 umnt=$4 t0 t1 n
    log "$L: put of a tree of $TREE_N small files (cp -r, then sync)"
    t0=$(now); cp -r "$SRC" "$M/tree"; sync -f "$M/tree" 2>/dev/null || true; t1=$(now)
    R[$L,put]=$(py "f'{($t1-$t0):.1f}'")
    step_write "$L" "$M"
    step_setup "$L" "$M"
    "$umnt"; settle; drop_caches; "$mnt"
    n=$(requests); step_open "$L" "$M"; R[$L,open_req]=$(($(requests) - n))
    n=$(requests); step_ls "$L" "$M"; R[$L,ls_req]=$(($(requests) - n))
    log "$L: cold find over the tree"
    t0=$(now); n=$(find "$M/tree" -type f | wc -l); t1=$(now)
    [[ $n -eq $TREE_N ]] || log "$L: find saw $n files, expected $TREE_N"
    R[$L,find]=$(py "f'{($t1-$t0)*1000:.0f}'")
    n=$(requests); step_read "$L" "$M"; R[$L,read_req]=$(($(requests) - n))
    log "$L: the tree reads back"
    diff -r "$SRC" "$M/tree" >/dev/null || { echo "$L: the tree differs" >&2; exit 1; }
}

mount_ours; bench ours "$M_OURS" mount_ours umount_ours; umount_ours
# The cold open once more with rclone's default directory cache time (5 min; ours is 1 s):
# the bench's own steps between two `cat`s take longer than 1 s on a loaded machine, and each
# lookup then revalidates the folder's listing (one request) where rclone asks nothing.
settle; drop_caches
OURS_EXTRA=(--dir-cache-time 5m); mount_ours
n=$(requests); step_open ours_5m "$M_OURS"; R[ours_5m,open_req]=$(($(requests) - n))
umount_ours; OURS_EXTRA=()
mount_rclone; bench rclone "$M_RCLONE" mount_rclone umount_rclone; umount_rclone

# --- table ------------------------------------------------------------------------------------
echo
echo "S3 mount benchmark: moto 5.2.5 on loopback, rclone $(rclone version | head -1 | awk '{print $2}') crypt; $SIZE_MB MiB sequential, $LS_FILES entries, $TREE_N small files; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A NAME=([rclone]="rclone crypt")
COLUMNS=(rclone) PEERS=(rclone)
table_header 40
table_row put "put -r of $TREE_N small files (s)" lower
table_row write "sequential write ${SIZE_MB} MiB (MB/s)" higher
table_row read "cold sequential read ${SIZE_MB} MiB (MB/s)" higher
table_row open "cold open + read 1 MiB, median (ms)" lower
table_row ls "cold ls -l of $LS_FILES entries (ms)" lower
table_row find "cold find over $TREE_N files (ms)" lower
echo
echo "cold open + read 1 MiB, ours with --dir-cache-time 5m: ${R[ours_5m,open]} ms, ours / rclone $(py "f'{${R[rclone,open]}/max(${R[ours_5m,open]},1e-9):.2f}x'"), ${R[ours_5m,open_req]} requests"
echo "S3 requests per step (moto's log): cold open+read of $OPEN_FILES files: ours ${R[ours,open_req]}, rclone ${R[rclone,open_req]}; cold ls -l: ours ${R[ours,ls_req]}, rclone ${R[rclone,ls_req]}; cold sequential read: ours ${R[ours,read_req]}, rclone ${R[rclone,read_req]}"
