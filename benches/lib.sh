# Shared parts of the mount benchmarks, sourced by benches/webdav/bench.sh and
# benches/s3/bench.sh: timing helpers, the workload steps both run on every mount, and
# the result table; by benches/sftp/bench.sh and benches/queue/bench.sh: the hotel network
# with the key-only sshd and the clients' keys (at the end). Steps store their figures in the associative array R[LABEL,KEY],
# which the sourcing script declares (`declare -A R`); they read SIZE_MB, LS_FILES and
# OPEN_FILES from it.

now() { date +%s.%N; }
py() { python3 -c "print($1)"; }
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
log() { printf '[bench] %s\n' "$*" >&2; }

# A TCP port free on loopback right now, picked by the kernel: benches run by several
# people at once on one machine then do not collide on a fixed port.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to 10 s for something to listen on loopback PORT.
wait_port() {
    local i
    for ((i = 0; i < 100; i++)); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# --- workload steps: LABEL MOUNTPOINT ---------------------------------------------------

# Sequential write of SIZE_MB to M/seq (fsync included) → R[L,write] in MB/s.
step_write() {
    local L=$1 M=$2 t0 t1
    log "$L: sequential write of $SIZE_MB MiB"
    t0=$(now); dd if=/dev/zero of="$M/seq" bs=1M count="$SIZE_MB" conv=fsync status=none; t1=$(now)
    R[$L,write]=$(py "f'{$SIZE_MB/($t1-$t0):.1f}'")
}

# LS_FILES empty files in M/many and OPEN_FILES of 1 MiB in M/mib (not timed).
step_setup() {
    local L=$1 M=$2 i
    log "$L: $LS_FILES empty files + $OPEN_FILES of 1 MiB (setup, not timed)"
    mkdir "$M/many" "$M/mib"
    for ((i = 0; i < LS_FILES; i++)); do : > "$M/many/entry-$i.txt"; done
    for ((i = 0; i < OPEN_FILES; i++)); do head -c 1048576 /dev/urandom > "$M/mib/$i.bin"; done
}

# Cold open + read of each 1 MiB file → R[L,open], the median in ms.
step_open() {
    local L=$1 M=$2 t0 t1 i times=() joined
    log "$L: cold open + read of 1 MiB ($OPEN_FILES files, median)"
    for ((i = 0; i < OPEN_FILES; i++)); do
        t0=$(now); cat "$M/mib/$i.bin" > /dev/null; t1=$(now)
        times+=("$(py "($t1-$t0)*1000")")
    done
    joined=$(IFS=,; echo "${times[*]}")
    R[$L,open]=$(py "f'{sorted([$joined])[len([$joined])//2]:.0f}'")
}

# Cold `ls -l` of M/many → R[L,ls] in ms.
step_ls() {
    local L=$1 M=$2 t0 t1 n
    log "$L: cold ls -l of $LS_FILES entries"
    t0=$(now); n=$(ls -l "$M/many" | grep -c entry-); t1=$(now)
    [[ $n -eq $LS_FILES ]] || log "$L: listed $n entries, expected $LS_FILES"
    R[$L,ls]=$(py "f'{($t1-$t0)*1000:.0f}'")
}

# Cold sequential read of M/seq (page cache dropped first) → R[L,read] in MB/s.
step_read() {
    local L=$1 M=$2 t0 t1
    log "$L: cold sequential read of $SIZE_MB MiB"
    drop_caches
    t0=$(now); dd if="$M/seq" of=/dev/null bs=1M status=none; t1=$(now)
    R[$L,read]=$(py "f'{$SIZE_MB/($t1-$t0):.1f}'")
}

# --- the table ------------------------------------------------------------------------
# table_header TITLE_WIDTH, then table_row KEY TITLE higher|lower per figure. Columns:
# ours, then one per label in COLUMNS (its heading NAME[label], "n/a" where not measured);
# the ratio is ours against the best of the labels in PEERS (≥ 1.00x = ours at least as
# good; a label without a figure is left out, n/a when none or ours has one).

table_header() {
    TABLE_W=$1
    local c line
    line=$(printf '| %-*s | %10s |' "$TABLE_W" "test" "ours")
    for c in "${COLUMNS[@]}"; do line+=$(printf ' %18s |' "${NAME[$c]}"); done
    echo "$line ours / best peer |"
    line="|$(printf -- '-%.0s' $(seq $((TABLE_W + 2))))|------------|"
    for c in "${COLUMNS[@]}"; do line+="--------------------|"; done
    echo "$line------------------|"
}

table_row() {
    local k=$1 title=$2 dir=$3 best="" p v ratio line
    for p in "${PEERS[@]}"; do
        v=${R[$p,$k]:-}
        [[ -n $v ]] || continue # that peer failed: not a candidate
        if [[ -z $best ]] || { [[ $dir == higher ]] && (($(py "int($v > $best)"))); } \
            || { [[ $dir == lower ]] && (($(py "int($v < $best)"))); }; then
            best=$v
        fi
    done
    if [[ -z $best || -z ${R[ours,$k]:-} ]]; then
        ratio=n/a
    elif [[ $dir == higher ]]; then
        ratio=$(py "f'{${R[ours,$k]}/max($best,1e-9):.2f}x'")
    else
        ratio=$(py "f'{$best/max(${R[ours,$k]},1e-9):.2f}x'")
    fi
    line=$(printf '| %-*s | %10s |' "$TABLE_W" "$title" "${R[ours,$k]:-n/a}")
    for p in "${COLUMNS[@]}"; do line+=$(printf ' %18s |' "${R[$p,$k]:-n/a}"); done
    printf '%s %-16s |\n' "$line" "$ratio"
}

# --- the hotel network and the key-only sshd (benches/sftp, benches/queue) ---------------
# The caller sets SRV (vault-sftp/tests/servers) and exports the VAULT_TEST_* instance
# variables those scripts read; it removes both in its exit trap (`hotel-net.sh down`,
# `sshd-2fa.sh purge`).

# hotel_sshd_up DELAY LOSS JITTER: hotel-net.sh up with that impairment, the key-only sshd
# in its cloud netns; both scripts' variables exported; sets HOTEL_NS, CLOUD_NS, HOST, PORT,
# USER_ and HOME_DIR (the test user's home on the server).
hotel_sshd_up() {
  "$SRV/hotel-net.sh" up "$1" "$2" "$3" >&2
  eval "$("$SRV/hotel-net.sh" env | sed 's/^/export /')"
  HOTEL_NS=$VAULT_TEST_CLIENT_NETNS CLOUD_NS=$VAULT_TEST_NETNS
  "$SRV/sshd-2fa.sh" start key >&2
  eval "$("$SRV/sshd-2fa.sh" env | sed 's/^/export /')"
  HOST=$VAULT_TEST_SSH_HOST PORT=$VAULT_TEST_SSH_PORT_KEYONLY USER_=$VAULT_TEST_SSH_USER
  HOME_DIR=$VAULT_TEST_SFTP_ROOT
}
in_hotel() { nsenter --net="/run/netns/$HOTEL_NS" -- "$@"; }
in_cloud() { nsenter --net="/run/netns/$CLOUD_NS" -- "$@"; }

# sftp_client_keys (after hotel_sshd_up; W the work dir, PW the vault password): ours uses
# the passphrase-protected key through W/askpass.sh, the peers a copy without passphrase
# (W/id_nopass); the server's host key in KH. Sets KH, VOPTS (our login options) and
# SSHOPTS (sshfs's -o).
sftp_client_keys() {
  cp "$VAULT_TEST_SSH_KEY" "$W/id_nopass"; chmod 600 "$W/id_nopass"
  ssh-keygen -q -p -P "$VAULT_TEST_SSH_KEY_PASSPHRASE" -N '' -f "$W/id_nopass"
  KH="$W/known_hosts"; cp "$VAULT_TEST_SSH_KNOWN_HOSTS" "$KH"
  cat > "$W/askpass.sh" <<ASK
#!/bin/sh
case "\$1" in
  'Passphrase for key '*) printf '%s\n' '$VAULT_TEST_SSH_KEY_PASSPHRASE' ;;
  'Vault password for '*|'New vault password for '*) printf '%s\n' '$PW' ;;
  *) echo "askpass: unexpected prompt: \$1" >&2; exit 1 ;;
esac
ASK
  chmod 755 "$W/askpass.sh"
  VOPTS=(--identity "$VAULT_TEST_SSH_KEY" --known-hosts "$KH" --askpass "$W/askpass.sh")
  SSHOPTS="IdentityFile=$W/id_nopass,UserKnownHostsFile=$KH,StrictHostKeyChecking=yes,Port=$PORT"
}

# write_rclone_conf FILE SFTP CRYPT: an rclone config with the sftp remote SFTP (the key
# without passphrase, KH) and the crypt remote CRYPT on SFTP:rcl (passwords from PW).
write_rclone_conf() {
  cat > "$1" <<CONF
[$2]
type = sftp
host = $HOST
port = $PORT
user = $USER_
key_file = $W/id_nopass
known_hosts_file = $KH
shell_type = unix
md5sum_command = none
sha1sum_command = none

[$3]
type = crypt
remote = $2:rcl
password = $(rclone obscure "$PW")
password2 = $(rclone obscure "salt $PW")
CONF
}
