#!/usr/bin/env bash
# Whole-stack benchmark: our drive vs gocryptfs over the same local disk, in one run.
# Not part of CI. Needs root (drop_caches), fio, gocryptfs, fusermount3.
#
#   benches/mount/bench.sh                 # full sizes
#   SIZE_MB=256 RAND_SECS=10 benches/mount/bench.sh   # quicker
#
# Env: BENCH_DIR (default /var/tmp/vault-bench: must be on the disk to compare),
#      SIZE_MB (sequential file, default 1024), RAND_SECS (default 20),
#      SMALL_FILES (default 2000), LS_FILES (default 5000), FIND_ENTRIES (default 10000),
#      VAULT_MOUNT_BIN (default: release build of vault-fs/examples/mount_local),
#      VAULT_FLAGS (extra flags for mount_local, e.g. --no-fsync).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/vault-bench}
SIZE_MB=${SIZE_MB:-1024}
RAND_SECS=${RAND_SECS:-20}
SMALL_FILES=${SMALL_FILES:-2000}
LS_FILES=${LS_FILES:-5000}
FIND_ENTRIES=${FIND_ENTRIES:-10000}
VAULT_FLAGS=${VAULT_FLAGS:-}

if [[ -z "${VAULT_MOUNT_BIN:-}" ]]; then
    (cd "$ROOT" && cargo build --release -q -p vault-fs --example mount_local)
    TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
    VAULT_MOUNT_BIN=$TARGET/release/examples/mount_local
fi

for tool in gocryptfs fio fusermount3 python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

cleanup() {
    for m in "$BENCH_DIR/vault-mnt" "$BENCH_DIR/gocryptfs-mnt"; do
        mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m" 2>/dev/null || true
    done
    [[ -n "${VAULT_PID:-}" ]] && kill "$VAULT_PID" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"/{vault-storage,vault-mnt,gocryptfs-cipher,gocryptfs-mnt}
PW=$BENCH_DIR/password
echo "bench-password" > "$PW"

# --- mount both --------------------------------------------------------------
gocryptfs -init -q -scryptn 10 -passfile "$PW" "$BENCH_DIR/gocryptfs-cipher" >/dev/null
gocryptfs -q -nosyslog -passfile "$PW" "$BENCH_DIR/gocryptfs-cipher" "$BENCH_DIR/gocryptfs-mnt"
GOCRYPTFS_PID=$(pgrep -n -f "gocryptfs .*$BENCH_DIR/gocryptfs-mnt" || true)

FIFO=$BENCH_DIR/vault-ready
mkfifo "$FIFO"
# shellcheck disable=SC2086
"$VAULT_MOUNT_BIN" "$BENCH_DIR/vault-storage" "$BENCH_DIR/vault-mnt" --password-file "$PW" --scrypt-cost 1024 $VAULT_FLAGS >"$FIFO" &
VAULT_PID=$!
read -r ready <"$FIFO"
[[ "$ready" == mounted* ]] || { echo "vault mount failed" >&2; exit 1; }

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }

declare -A R
run_all() { # $1 = label, $2 = mountpoint
    local L=$1 M=$2 t0 t1
    # sequential write (data reaches the backing disk: conv=fsync)
    drop_caches
    t0=$(now); dd if=/dev/zero of="$M/seq" bs=1M count="$SIZE_MB" conv=fsync status=none; t1=$(now)
    R[$L,seqwrite]=$(python3 -c "print(f'{$SIZE_MB/($t1-$t0):.1f}')")
    # sequential read, cold
    drop_caches
    t0=$(now); dd if="$M/seq" of=/dev/null bs=1M status=none; t1=$(now)
    R[$L,seqread]=$(python3 -c "print(f'{$SIZE_MB/($t1-$t0):.1f}')")
    # 4 KiB random reads (O_DIRECT: the filesystem's own read path, not the page cache)
    drop_caches
    R[$L,randread]=$(fio --name=rr --filename="$M/seq" --rw=randread --bs=4k --direct=1 --ioengine=psync \
        --runtime="$RAND_SECS" --time_based --size="${SIZE_MB}M" --output-format=json 2>/dev/null |
        python3 -c "import json,sys; j=json.load(sys.stdin); print(f\"{j['jobs'][0]['read']['iops']:.0f}\")")
    rm -f "$M/seq"
    # create small files then sync
    mkdir "$M/small"
    t0=$(now)
    python3 - "$M/small" "$SMALL_FILES" <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
data = os.urandom(4096)
for i in range(n):
    with open(f"{d}/f{i:05d}", "wb") as f:
        f.write(data)
os.sync()
EOF
    t1=$(now); R[$L,create]=$(elapsed "$t0" "$t1")
    # ls -l of a big directory, cold
    mkdir "$M/many"
    python3 -c "
import sys
for i in range(int(sys.argv[2])):
    open(f'{sys.argv[1]}/entry-{i:05d}', 'wb').close()" "$M/many" "$LS_FILES"
    drop_caches
    t0=$(now); ls -l "$M/many" >/dev/null; t1=$(now); R[$L,lsl]=$(elapsed "$t0" "$t1")
    # find over a tree
    python3 -c "
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = 100
for d in range(n // per):
    p = f'{root}/tree/d{d:03d}'
    os.makedirs(p)
    for i in range(per - 1):
        open(f'{p}/f{i:03d}', 'wb').close()" "$M" "$FIND_ENTRIES"
    drop_caches
    t0=$(now); n=$(find "$M/tree" | wc -l); t1=$(now); R[$L,find]=$(elapsed "$t0" "$t1")
    R[$L,findn]=$n
    # delete everything
    drop_caches
    t0=$(now); rm -rf "$M/tree" "$M/many" "$M/small"; t1=$(now); R[$L,rm]=$(elapsed "$t0" "$t1")
}

run_all vault "$BENCH_DIR/vault-mnt"
run_all gocryptfs "$BENCH_DIR/gocryptfs-mnt"

rss() { awk '/VmHWM/ {print $2/1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }
R[vault,rss]=$(rss "$VAULT_PID")
R[gocryptfs,rss]=$([[ -n "$GOCRYPTFS_PID" ]] && rss "$GOCRYPTFS_PID" || echo "?")

ratio() { python3 -c "import sys; a,b=sys.argv[1:]; print(f'{float(a)/float(b):.2f}x' if float(b) else '-')" "$1" "$2"; }
printf '\n%-40s %12s %12s %10s  %s\n' "workload" "vault" "gocryptfs" "ratio" "target"
row() { printf '%-40s %12s %12s %10s  %s\n' "$1" "${R[vault,$2]}" "${R[gocryptfs,$2]}" "$(ratio "${R[vault,$2]}" "${R[gocryptfs,$2]}")" "$3"; }
row "seq write ${SIZE_MB} MiB (MB/s)" seqwrite ">=1.0x"
row "seq read ${SIZE_MB} MiB cold (MB/s)" seqread ">=1.0x"
row "4K random read ${RAND_SECS}s O_DIRECT (IOPS)" randread ">=1.0x"
row "create ${SMALL_FILES} x 4 KiB + sync (s)" create "<=1.2x"
row "ls -l ${LS_FILES} entries cold (s)" lsl "<=1.2x"
row "find ${FIND_ENTRIES} entries cold (s)" find "<=1.2x"
row "rm -rf all (s)" rm "<=1.2x"
printf '%-40s %12s %12s\n' "find: entries seen" "${R[vault,findn]}" "${R[gocryptfs,findn]}"
printf '%-40s %12s %12s %10s  %s\n' "daemon peak RSS (MiB, VmHWM)" "${R[vault,rss]}" "${R[gocryptfs,rss]}" "" "<=64 MiB"
