#!/usr/bin/env bash
# Whole-stack benchmark: our drive vs gocryptfs (encrypting peer) and bindfs (a plain
# pass-through FUSE filesystem: the floor any FUSE daemon starts from), all three over the
# same local disk, in one run. Runs are interleaved (vault, gocryptfs, bindfs, then the next
# run in a rotated order) so a burst of load from elsewhere hits all three alike; each
# figure is the median of RUNS, each ratio the median of the per-run ratios.
# Not part of CI. Needs root (drop_caches), fio, gocryptfs, bindfs, fusermount3
# (`scripts/install-deps.sh --peers`).
#
#   benches/mount/bench.sh                           # full sizes
#   SIZE_MB=256 RAND_SECS=10 benches/mount/bench.sh  # quicker
#
# Env: BENCH_DIR (default /var/tmp/vault-bench: must be on the disk to compare),
#      RUNS (default 5), SIZE_MB (sequential file, default 1024), RAND_SECS (default 20),
#      SMALL_FILES (default 2000), LS_FILES (default 5000), FIND_ENTRIES (default 10000),
#      PEERS (default "vault gocryptfs bindfs"),
#      VAULT_MOUNT_BIN (default: release build of vault-fs/examples/mount_local),
#      VAULT_FLAGS (extra flags for mount_local, e.g. --no-fsync),
#      PARTS (default "seq rand create lsl find rm": which workloads to time; `rm` also
#      builds the trees the others would have built, so PARTS="create rm" times both alone).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/vault-bench}
RUNS=${RUNS:-5}
SIZE_MB=${SIZE_MB:-1024}
RAND_SECS=${RAND_SECS:-20}
SMALL_FILES=${SMALL_FILES:-2000}
LS_FILES=${LS_FILES:-5000}
FIND_ENTRIES=${FIND_ENTRIES:-10000}
VAULT_FLAGS=${VAULT_FLAGS:-}
read -r -a PEER_LIST <<<"${PEERS:-vault gocryptfs bindfs}"
PARTS=" ${PARTS:-seq rand create lsl find rm} "
part() { [[ "$PARTS" == *" $1 "* ]]; }

if [[ -z "${VAULT_MOUNT_BIN:-}" ]]; then
    (cd "$ROOT" && cargo build --release -q -p vault-fs --example mount_local)
    TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
    VAULT_MOUNT_BIN=$TARGET/release/examples/mount_local
fi

for tool in gocryptfs bindfs fio fusermount3 python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (scripts/install-deps.sh --peers)" >&2; exit 1; }
done

cleanup() {
    for p in vault gocryptfs bindfs; do
        m=$BENCH_DIR/$p-mnt
        mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m" 2>/dev/null || true
    done
    [[ -n "${VAULT_PID:-}" ]] && kill "$VAULT_PID" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"/{vault-storage,vault-mnt,gocryptfs-cipher,gocryptfs-mnt,bindfs-src,bindfs-mnt}
PW=$BENCH_DIR/password
echo "bench-password" > "$PW"

# --- mount all three ---------------------------------------------------------
gocryptfs -init -q -scryptn 10 -passfile "$PW" "$BENCH_DIR/gocryptfs-cipher" >/dev/null
gocryptfs -q -nosyslog -passfile "$PW" "$BENCH_DIR/gocryptfs-cipher" "$BENCH_DIR/gocryptfs-mnt"
GOCRYPTFS_PID=$(pgrep -n -f "gocryptfs .*$BENCH_DIR/gocryptfs-mnt" || true)

# bindfs as it comes (single-threaded libfuse loop): the plain FUSE floor.
bindfs "$BENCH_DIR/bindfs-src" "$BENCH_DIR/bindfs-mnt"
BINDFS_PID=$(pgrep -n -f "bindfs .*$BENCH_DIR/bindfs-mnt" || true)

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

RESULTS=$BENCH_DIR/results.tsv
: >"$RESULTS"
put() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; } # run peer metric value

run_all() { # $1 = run, $2 = peer, $3 = mountpoint
    local N=$1 L=$2 M=$3 t0 t1 v
    if part seq || part rand; then
    # sequential write (data reaches the backing disk: conv=fsync)
    drop_caches
    t0=$(now); dd if=/dev/zero of="$M/seq" bs=1M count="$SIZE_MB" conv=fsync status=none; t1=$(now)
    put "$N" "$L" seqwrite "$(python3 -c "print(f'{$SIZE_MB/($t1-$t0):.1f}')")"
    # sequential read, cold
    drop_caches
    t0=$(now); dd if="$M/seq" of=/dev/null bs=1M status=none; t1=$(now)
    put "$N" "$L" seqread "$(python3 -c "print(f'{$SIZE_MB/($t1-$t0):.1f}')")"
    fi
    if part rand; then
    # 4 KiB random reads (O_DIRECT: the filesystem's own read path, not the page cache)
    drop_caches
    v=$(fio --name=rr --filename="$M/seq" --rw=randread --bs=4k --direct=1 --ioengine=psync \
        --runtime="$RAND_SECS" --time_based --size="${SIZE_MB}M" --output-format=json 2>/dev/null |
        python3 -c "import json,sys; j=json.load(sys.stdin); print(f\"{j['jobs'][0]['read']['iops']:.0f}\")")
    put "$N" "$L" randread "$v"
    fi
    rm -f "$M/seq"
    # create small files then sync
    if part create || part rm; then
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
    t1=$(now); part create && put "$N" "$L" create "$(elapsed "$t0" "$t1")"
    fi
    if part lsl || part rm; then
    # ls -l of a big directory, cold
    mkdir "$M/many"
    python3 -c "
import sys
for i in range(int(sys.argv[2])):
    open(f'{sys.argv[1]}/entry-{i:05d}', 'wb').close()" "$M/many" "$LS_FILES"
    drop_caches
    t0=$(now); ls -l "$M/many" >/dev/null; t1=$(now); part lsl && put "$N" "$L" lsl "$(elapsed "$t0" "$t1")"
    fi
    if part find || part rm; then
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
    t0=$(now); v=$(find "$M/tree" | wc -l); t1=$(now); part find && put "$N" "$L" find "$(elapsed "$t0" "$t1")"
    part find && put "$N" "$L" findn "$v"
    fi
    if part rm; then
    # delete everything: tree, many and small (17,000-odd entries at default sizes)
    drop_caches
    t0=$(now); rm -rf "$M/tree" "$M/many" "$M/small"; t1=$(now); put "$N" "$L" rm "$(elapsed "$t0" "$t1")"
    fi
    rm -rf "$M/tree" "$M/many" "$M/small"
}

# Waits until a peer's daemon has used no CPU for 0.3 s (at most 30 s): work a daemon
# finishes after answering (vault unlinks removed files in the background) must not run
# into the next peer's timings.
settle() {
    local pid last now i
    case $1 in vault) pid=$VAULT_PID ;; gocryptfs) pid=$GOCRYPTFS_PID ;; *) pid=$BINDFS_PID ;; esac
    [[ -n "$pid" && -r /proc/$pid/stat ]] || return 0
    cpu() { awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null; }
    last=$(cpu)
    for ((i = 0; i < 100; i++)); do
        sleep 0.3
        now=$(cpu)
        [[ "$now" == "$last" ]] && return 0
        last=$now
    done
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((run = 1; run <= RUNS; run++)); do
    k=${#PEER_LIST[@]}
    for ((i = 0; i < k; i++)); do
        p=${PEER_LIST[$(((i + run - 1) % k))]}
        echo "run $run/$RUNS: $p (load $(cut -d' ' -f1 /proc/loadavg))" >&2
        run_all "$run" "$p" "$BENCH_DIR/$p-mnt"
        settle "$p"
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

rss() { awk '/VmHWM/ {print $2/1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }
put 0 vault rss "$(rss "$VAULT_PID")"
put 0 gocryptfs rss "$([[ -n "$GOCRYPTFS_PID" ]] && rss "$GOCRYPTFS_PID" || echo "?")"
put 0 bindfs rss "$([[ -n "$BINDFS_PID" ]] && rss "$BINDFS_PID" || echo "?")"

python3 - "$RESULTS" "$SIZE_MB" "$RAND_SECS" "$SMALL_FILES" "$LS_FILES" "$FIND_ENTRIES" "${PEER_LIST[@]}" <<'EOF'
import sys, statistics
from collections import defaultdict
path, size, secs, small, ls, find = sys.argv[1:7]
peers = sys.argv[7:]
vals = defaultdict(dict)  # (peer, metric) -> {run: value}
for line in open(path):
    run, peer, metric, value = line.rstrip("\n").split("\t")
    try:
        vals[(peer, metric)][int(run)] = float(value)
    except ValueError:
        pass
rows = [
    ("seqwrite", f"seq write {size} MiB (MB/s)", True),
    ("seqread", f"seq read {size} MiB cold (MB/s)", True),
    ("randread", f"4K random read {secs}s O_DIRECT (IOPS)", True),
    ("create", f"create {small} x 4 KiB + sync (s)", False),
    ("rm", "rm -rf all (s)", False),
    ("lsl", f"ls -l {ls} entries cold (s)", False),
    ("find", f"find {find} entries cold (s)", False),
]
others = [p for p in peers if p != "vault"]
def med(peer, metric):
    v = vals.get((peer, metric), {})
    return statistics.median(v.values()) if v else float("nan")
def ratio(other, metric):
    a, b = vals.get(("vault", metric), {}), vals.get((other, metric), {})
    r = [a[n] / b[n] for n in a if n in b and b[n]]
    return f"{statistics.median(r):.2f}x" if r else "-"
head = f"{'workload (median of runs)':<40}" + "".join(f"{p:>11}" for p in peers)
head += "".join(f"{'vault/' + o:>18}" for o in others)
print("\n" + head)
for metric, label, higher in rows:
    line = f"{label:<40}" + "".join(f"{med(p, metric):>11.3g}" for p in peers)
    line += "".join(f"{ratio(o, metric):>18}" for o in others)
    print(line)
print("(MB/s and IOPS: higher is better, ratio > 1 is faster; seconds: ratio < 1 is faster)")
print(f"{'find: entries seen':<40}" + "".join(f"{med(p, 'findn'):>11.0f}" for p in peers))
print(f"{'daemon peak RSS (MiB, VmHWM)':<40}" + "".join(f"{med(p, 'rss'):>11.1f}" for p in peers))
print(f"runs: {max((max(v) for v in vals.values() if v), default=0)}; raw: {path}")
EOF
