#!/usr/bin/env bash
# Where a workload's time goes, per FUSE request: our drive and gocryptfs over the same disk,
# each traced with the kernel's FUSE tracepoints (`fuse_request_send`, `fuse_request_end`).
# For every opcode: how many requests, and the time from the kernel queuing each one to the
# daemon's answer (median, p90); and the time the program spent between an answer and its
# next request. The first is the daemon's share, the second the program's own (the same for
# both peers when only the daemon differs). This is how the issue-15 splits were found.
# Not part of CI. Needs root (tracefs), gocryptfs, fio, fusermount3, python3.
#
#   benches/mount/fuse-latency.sh                 # 4 KiB random O_DIRECT reads, 5 s
#   WORKLOAD=rm N=5000 benches/mount/fuse-latency.sh   # rm -rf of N empty files
#
# Env: WORKLOAD (rand | rm, default rand), SECS (rand: seconds, default 5), SIZE_MB (rand:
#      file size, default 256), N (rm: files, default 5000), PEERS (default "vault gocryptfs"),
#      BENCH_DIR (default /var/tmp/vault-fuselat), VAULT_MOUNT_BIN (default: release build of
#      vault-fs/examples/mount_local).
# A trace keeps what the kernel's ring buffer holds (`buffer_size_kb`, raised here to 64 MiB
# per CPU): a long run keeps its last part only, which is enough for medians.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORKLOAD=${WORKLOAD:-rand}
SECS=${SECS:-5}
SIZE_MB=${SIZE_MB:-256}
N=${N:-5000}
BENCH_DIR=${BENCH_DIR:-/var/tmp/vault-fuselat}
read -r -a PEER_LIST <<<"${PEERS:-vault gocryptfs}"
T=/sys/kernel/tracing

if [[ -z "${VAULT_MOUNT_BIN:-}" ]]; then
    (cd "$ROOT" && cargo build --release -q -p vault-fs --example mount_local)
    VAULT_MOUNT_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/mount_local
fi
for tool in gocryptfs fio fusermount3 python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (scripts/install-deps.sh --peers)" >&2; exit 1; }
done
mountpoint -q "$T" || mount -t tracefs nodev "$T"
[[ -d $T/events/fuse ]] || { echo "this kernel has no FUSE tracepoints" >&2; exit 1; }

cleanup() {
    echo 0 >"$T/events/fuse/enable" 2>/dev/null || true
    for p in vault gocryptfs; do
        mountpoint -q "$BENCH_DIR/$p-mnt" 2>/dev/null && fusermount3 -u "$BENCH_DIR/$p-mnt" || true
    done
}
trap cleanup EXIT

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"/{vault-storage,vault-mnt,gocryptfs-cipher,gocryptfs-mnt}
PW=$BENCH_DIR/password
echo "bench-password" >"$PW"

mount_peer() {
    case $1 in
    vault)
        local fifo=$BENCH_DIR/vault-ready ready
        mkfifo "$fifo"
        "$VAULT_MOUNT_BIN" "$BENCH_DIR/vault-storage" "$BENCH_DIR/vault-mnt" \
            --password-file "$PW" --scrypt-cost 1024 >"$fifo" &
        read -r ready <"$fifo"
        [[ "$ready" == mounted* ]] || { echo "vault mount failed" >&2; exit 1; }
        ;;
    gocryptfs)
        gocryptfs -init -q -scryptn 10 -passfile "$PW" "$BENCH_DIR/gocryptfs-cipher" >/dev/null
        gocryptfs -q -nosyslog -passfile "$PW" "$BENCH_DIR/gocryptfs-cipher" "$BENCH_DIR/gocryptfs-mnt"
        ;;
    *) echo "unknown peer $1" >&2; exit 1 ;;
    esac
}

prepare() {
    local m=$1
    case $WORKLOAD in
    rand) dd if=/dev/zero of="$m/seq" bs=1M count="$SIZE_MB" conv=fsync status=none ;;
    rm) mkdir "$m/d" && (cd "$m/d" && seq -f "file-%06g" "$N" | xargs touch) ;;
    *) echo "unknown WORKLOAD $WORKLOAD" >&2; exit 1 ;;
    esac
    sync
    echo 3 >/proc/sys/vm/drop_caches
    # A listing first, as a file manager or the shell's completion would have made.
    ls "$m" >/dev/null
}

run() {
    local m=$1
    case $WORKLOAD in
    rand)
        fio --name=rr --filename="$m/seq" --rw=randread --bs=4k --direct=1 --ioengine=psync \
            --runtime="$SECS" --time_based --size="${SIZE_MB}M" --output-format=terse >/dev/null
        ;;
    rm) rm -rf "$m/d" ;;
    esac
}

# Per opcode: count, median and p90 of send -> end (µs); mean gap end -> next send (µs).
summarise() {
    python3 - "$1" <<'EOF'
import re, statistics, sys
send, op, lat, gaps, last_end = {}, {}, {}, [], None
pat = re.compile(r"\s(\d+\.\d+): fuse_request_(send|end):.*?req (\d+)(?:.*?opcode \d+ \((\w+)\))?")
for line in open(sys.argv[1]):
    m = pat.search(line)
    if not m:
        continue
    t, kind, req, opcode = float(m.group(1)), m.group(2), m.group(3), m.group(4)
    if kind == "send":
        send[req], op[req] = t, opcode or "?"
        if last_end is not None:
            gaps.append((t - last_end) * 1e6)
    elif req in send:
        lat.setdefault(op.pop(req), []).append((t - send.pop(req)) * 1e6)
        last_end = t
print(f"  {'opcode':<16}{'requests':>10}{'median µs':>12}{'p90 µs':>10}")
for name, v in sorted(lat.items(), key=lambda kv: -len(kv[1])):
    v.sort()
    print(f"  {name:<16}{len(v):>10}{statistics.median(v):>12.1f}{v[int(len(v) * 0.9)]:>10.1f}")
if gaps:
    print(f"  program's own time between an answer and its next request: mean {statistics.mean(gaps):.1f} µs")
EOF
}

echo $((64 * 1024)) >"$T/buffer_size_kb"
for peer in "${PEER_LIST[@]}"; do
    mount_peer "$peer"
    m=$BENCH_DIR/$peer-mnt
    prepare "$m"
    echo >"$T/trace"
    echo 1 >"$T/events/fuse/enable"
    echo 1 >"$T/tracing_on"
    s=$(date +%s.%N)
    run "$m"
    e=$(date +%s.%N)
    echo 0 >"$T/events/fuse/enable"
    cp "$T/trace" "$BENCH_DIR/$peer.trace"
    echo "$peer, $WORKLOAD: $(python3 -c "print(f'{$e - $s:.3f}')") s"
    summarise "$BENCH_DIR/$peer.trace"
    fusermount3 -u "$m"
done
