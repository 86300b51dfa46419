#!/usr/bin/env bash
# Issue 14, acceptance 4 (not part of CI): `vault put -r` / `get -r` against a REAL Nextcloud
# beside `rclone copy` (webdav remote, vendor nextcloud) and `curl`, in one run on the same server.
#
#   VAULT_TEST_NEXTCLOUD_URL=http://127.0.0.1:8090 VAULT_TEST_NEXTCLOUD_USER=admin \
#   VAULT_TEST_NEXTCLOUD_PASSWORD=… benches/webdav/nextcloud.sh
#
# Trees (the two of the issue's report, made here with fixed seeds):
#   big    37 nodes: 4 folders, 32 files of 1-64 KiB and one file of 25 MiB
#   small  102 files: 101 of 1-16 KiB in 5 folders and one of 5 MiB
# Per tree, timed: `vault put -r` into a new vault, `vault get -r` back (then `diff -r`);
# `rclone copy --use-cookies` up and down; plain `rclone copy` (no cookies: every request pays
# Nextcloud's password hash) when BENCH_PLAIN=1. The 25 MiB file alone also with `curl`
# (one PUT, one GET). `vault create` is timed once. Ratio = vault time / rclone --use-cookies time
# (the issue's target: ≤ 1.5).
#
# Env: VAULT_BIN (default: release build of `vault`), BENCH_DIR (/var/tmp/vault-nc-bench),
#      BENCH_TREES ("big small"), BENCH_PLAIN (0).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NC=${VAULT_TEST_NEXTCLOUD_URL:?set VAULT_TEST_NEXTCLOUD_URL (e.g. http://127.0.0.1:8090)}
NC=${NC%/}
USER_=${VAULT_TEST_NEXTCLOUD_USER:?set VAULT_TEST_NEXTCLOUD_USER}
PASS_=${VAULT_TEST_NEXTCLOUD_PASSWORD:?set VAULT_TEST_NEXTCLOUD_PASSWORD}
BENCH_DIR=${BENCH_DIR:-/var/tmp/vault-nc-bench}
TREES=${BENCH_TREES:-"big small"}
DAVROOT=$NC/remote.php/dav/files/$USER_
VDAVROOT=${NC/:\/\//://$USER_@}/remote.php/dav/files/$USER_   # the user in the URL: vault asks its password
TOP=vault-nc-bench-$$

if [[ -z "${VAULT_BIN:-}" ]]; then
    (cd "$ROOT" && cargo build --release -q --bin vault)
    VAULT_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/vault
fi
for tool in rclone curl python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

cleanup() {
    set +e
    curl -sS -o /dev/null -u "$USER_:$PASS_" -X DELETE "$DAVROOT/$TOP/"
}
trap cleanup EXIT
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
log() { printf '[nc-bench] %s\n' "$*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b - a}'; }
mkcol() { curl -sS -f -o /dev/null -u "$USER_:$PASS_" -X MKCOL "$DAVROOT/$1/"; }
mkcol "$TOP"

# --- trees (deterministic content) ------------------------------------------------
make_tree() { # name
    python3 - "$BENCH_DIR/src-$1" "$1" <<'PY'
import os, random, sys
dest, kind = sys.argv[1], sys.argv[2]
rnd = random.Random(14)
def put(rel, n):
    p = os.path.join(dest, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, 'wb') as f:
        f.write(rnd.randbytes(n))
if kind == 'big':        # 4 folders + 32 small files + 1 of 25 MiB = 37 nodes
    for i in range(32):
        put(f"dir{i % 4}/file{i}.dat", rnd.randint(1024, 64 * 1024))
    put("big.bin", 25 << 20)
else:                    # 101 small files + 1 of 5 MiB (5 folders)
    for i in range(101):
        put(f"d{i % 5}/small{i}.txt", rnd.randint(1024, 16 * 1024))
    put("five.bin", 5 << 20)
PY
}

# --- vault ---------------------------------------------------------------------------
ASKPASS=$BENCH_DIR/askpass.sh
cat > "$ASKPASS" <<EOF
#!/bin/sh
case "\$1" in "Password for "*) printf '%s\n' '$PASS_' ;; *) echo 'bench-password' ;; esac
EOF
chmod 755 "$ASKPASS"
vault() { "$VAULT_BIN" "$@" --askpass "$ASKPASS"; }

# --- rclone ----------------------------------------------------------------------------
RCONF=$BENCH_DIR/rclone.conf
cat > "$RCONF" <<EOF
[nc]
type = webdav
url = $DAVROOT
vendor = nextcloud
user = $USER_
pass = $(rclone obscure "$PASS_")
EOF
rcl() { rclone --config "$RCONF" "$@"; }

declare -A R
for t in $TREES; do
    make_tree "$t"
    src=$BENCH_DIR/src-$t
    nodes=$(find "$src" -mindepth 1 | wc -l)
    bytes=$(du -sb "$src" | cut -f1)
    log "tree $t: $nodes nodes, $bytes bytes"
    mkcol "$TOP/v-$t"
    url="$VDAVROOT/$TOP/v-$t"
    t0=$(now); vault create "$url" >&2; t1=$(now); R[$t,create]=$(secs "$t0" "$t1")
    t0=$(now); vault put -r "$url" "$src" /t >&2; t1=$(now); R[$t,vput]=$(secs "$t0" "$t1")
    t0=$(now); vault get -r "$url" /t "$BENCH_DIR/got-$t" >&2; t1=$(now); R[$t,vget]=$(secs "$t0" "$t1")
    diff -r "$src" "$BENCH_DIR/got-$t" >/dev/null || { log "vault get -r of $t differs"; exit 1; }
    t0=$(now); rcl copy --use-cookies "$src" "nc:$TOP/r-$t" >&2; t1=$(now); R[$t,rput]=$(secs "$t0" "$t1")
    t0=$(now); rcl copy --use-cookies "nc:$TOP/r-$t" "$BENCH_DIR/rgot-$t" >&2; t1=$(now); R[$t,rget]=$(secs "$t0" "$t1")
    diff -r "$src" "$BENCH_DIR/rgot-$t" >/dev/null || { log "rclone copy of $t differs"; exit 1; }
    if [[ ${BENCH_PLAIN:-0} == 1 ]]; then
        t0=$(now); rcl copy "$src" "nc:$TOP/p-$t" >&2; t1=$(now); R[$t,pput]=$(secs "$t0" "$t1")
        t0=$(now); rcl copy "nc:$TOP/p-$t" "$BENCH_DIR/pgot-$t" >&2; t1=$(now); R[$t,pget]=$(secs "$t0" "$t1")
    fi
    log "$t: vault put -r ${R[$t,vput]} s, get -r ${R[$t,vget]} s; rclone --use-cookies ${R[$t,rput]} s / ${R[$t,rget]} s"
    R[$t,desc]="$nodes nodes, $((bytes / 1024)) KiB"
done

# the 25 MiB file alone, curl for the floor (one PUT, one GET)
BIG=$BENCH_DIR/single.bin
head -c $((25 << 20)) /dev/urandom > "$BIG"
t0=$(now); curl -sS -f -o /dev/null -u "$USER_:$PASS_" -T "$BIG" "$DAVROOT/$TOP/curl.bin"; t1=$(now); C_PUT=$(secs "$t0" "$t1")
t0=$(now); curl -sS -f -o "$BENCH_DIR/curl-got.bin" -u "$USER_:$PASS_" "$DAVROOT/$TOP/curl.bin"; t1=$(now); C_GET=$(secs "$t0" "$t1")
url="$VDAVROOT/$TOP/v-big"
if [[ " $TREES " != *" big "* ]]; then mkcol "$TOP/v-big"; vault create "$url" >&2; fi
t0=$(now); vault put "$url" "$BIG" /single.bin >&2; t1=$(now); V_PUT=$(secs "$t0" "$t1")
t0=$(now); vault get "$url" /single.bin "$BENCH_DIR/vault-got.bin" >&2; t1=$(now); V_GET=$(secs "$t0" "$t1")
cmp "$BIG" "$BENCH_DIR/vault-got.bin"
t0=$(now); rcl copyto --use-cookies "$BIG" "nc:$TOP/rsingle.bin" >&2; t1=$(now); RS_PUT=$(secs "$t0" "$t1")
t0=$(now); rcl copyto --use-cookies "nc:$TOP/rsingle.bin" "$BENCH_DIR/rclone-got.bin" >&2; t1=$(now); RS_GET=$(secs "$t0" "$t1")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b == 0) print "n/a"; else printf "%.2fx", a / b }'; }
echo
echo "Nextcloud $(curl -sS "$NC/status.php" | python3 -c 'import json,sys; print(json.load(sys.stdin)["versionstring"])') at $NC; rclone $(rclone version | head -1 | awk '{print $2}'); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| tree | step | vault (s) | rclone copy --use-cookies (s) | plain rclone copy (s) | vault / rclone |"
echo "|---|---|---|---|---|---|"
for t in $TREES; do
    echo "| $t (${R[$t,desc]}) | upload (put -r) | ${R[$t,vput]} | ${R[$t,rput]} | ${R[$t,pput]:-} | $(ratio "${R[$t,vput]}" "${R[$t,rput]}") |"
    echo "| $t | download (get -r) | ${R[$t,vget]} | ${R[$t,rget]} | ${R[$t,pget]:-} | $(ratio "${R[$t,vget]}" "${R[$t,rget]}") |"
done
echo "| 25 MiB file | upload | $V_PUT | $RS_PUT | curl: $C_PUT | $(ratio "$V_PUT" "$RS_PUT") |"
echo "| 25 MiB file | download | $V_GET | $RS_GET | curl: $C_GET | $(ratio "$V_GET" "$RS_GET") |"
for t in $TREES; do echo "vault create ($t): ${R[$t,create]} s"; done
