# shellcheck shell=bash
# Common helpers for the vault-sftp test servers. Sourced, not executed.
# Adapted from the project's shared test-server recipes (SSH and hotel network only).

# Parallel runs on one machine: VAULT_TEST_INSTANCE=NAME gives a run its own
# state dir, netns names, PAM service, test user and pid files;
# VAULT_TEST_PORT_BASE=N its own ports (N..N+6). Unset = the defaults below.
VT_INSTANCE="${VAULT_TEST_INSTANCE:-}"
[[ -z "$VT_INSTANCE" || "$VT_INSTANCE" =~ ^[a-z0-9]{1,8}$ ]] \
  || { echo "VAULT_TEST_INSTANCE must be 1-8 characters [a-z0-9]" >&2; exit 2; }
VT_ISFX="${VT_INSTANCE:+-$VT_INSTANCE}"
VT_STATE_DIR="${VAULT_TEST_STATE_DIR:-/tmp/vault-test-servers$VT_ISFX}"
# Python venv with netfilterqueue (made by install.sh), shared by all instances.
VT_VENV="${VAULT_TEST_VENV:-/opt/vault-test-venv}"
# Hotel network namespaces (hotel-net.sh): client, router (impairment), servers.
VT_NS_HOTEL="vt-hotel$VT_ISFX"
VT_NS_WAN="vt-wan$VT_ISFX"
VT_NS_CLOUD="vt-cloud$VT_ISFX"
VT_CLOUD_IP=10.200.0.2
VT_HOTEL_IP=10.200.1.2

# Ports. Defaults: sshd 2222 (2fa) 2223 (key) 2224 (password) 2225 (legacy:
# only SHA-1 key exchange, for the "no common algorithm" test).
if [[ -n "${VAULT_TEST_PORT_BASE:-}" ]]; then
  [[ "$VAULT_TEST_PORT_BASE" =~ ^[0-9]+$ && "$VAULT_TEST_PORT_BASE" -ge 1024 && "$VAULT_TEST_PORT_BASE" -le 65000 ]] \
    || { echo "VAULT_TEST_PORT_BASE must be a number in 1024..65000" >&2; exit 2; }
  b=$VAULT_TEST_PORT_BASE
  VT_PORT_SSH_2FA=$b VT_PORT_SSH_KEY=$((b + 1)) VT_PORT_SSH_PASSWORD=$((b + 2)) VT_PORT_SSH_LEGACY=$((b + 3))
  unset b
else
  VT_PORT_SSH_2FA=2222 VT_PORT_SSH_KEY=2223 VT_PORT_SSH_PASSWORD=2224 VT_PORT_SSH_LEGACY=2225
fi
VT_ALL_PORTS="$VT_PORT_SSH_2FA $VT_PORT_SSH_KEY $VT_PORT_SSH_PASSWORD $VT_PORT_SSH_LEGACY"

# When VAULT_TEST_NETNS is set (see hotel-net.sh), daemons are started inside
# that network namespace and bind to VAULT_TEST_BIND (default 10.200.0.2 there).
VT_NETNS="${VAULT_TEST_NETNS:-}"
if [[ -n "$VT_NETNS" ]]; then
  VT_BIND="${VAULT_TEST_BIND:-10.200.0.2}"
else
  VT_BIND="${VAULT_TEST_BIND:-127.0.0.1}"
fi

# Instances inside a netns get their own pid/config/data names, so loopback and
# netns instances can run side by side.
VT_SFX="${VT_NETNS:+-$VT_NETNS}"

vt_log() { printf '[%s] %s\n' "${0##*/}" "$*" >&2; }
vt_die() { vt_log "ERROR: $*"; exit 1; }

vt_require_root() { [[ $(id -u) -eq 0 ]] || vt_die "must run as root"; }

# Run a command inside the server netns when one is configured.
# nsenter --net only switches the network namespace (ip netns exec would also
# unshare the mount namespace, hiding FUSE mounts made inside it).
vt_in_ns() {
  if [[ -n "$VT_NETNS" ]]; then
    [[ -e "/run/netns/$VT_NETNS" ]] || vt_die "netns $VT_NETNS does not exist (run hotel-net.sh up first)"
    nsenter --net="/run/netns/$VT_NETNS" -- "$@"
  else
    "$@"
  fi
}

# vt_spawn PIDFILE LOGFILE CMD...: start CMD detached (own session, inside the
# netns if configured); the pid file gets CMD's real pid (bash execs into it).
vt_spawn() {
  local pidfile=$1 log=$2 i
  shift 2
  local pre=()
  [[ -n "$VT_NETNS" ]] && pre=(nsenter --net="/run/netns/$VT_NETNS" --)
  rm -f "$pidfile"
  setsid "${pre[@]}" bash -c 'echo $$ > "$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$log" 2>&1 &
  for ((i = 0; i < 50; i++)); do [[ -s "$pidfile" ]] && return 0; sleep 0.1; done
  vt_die "could not start $1"
}

# vt_port_open HOST PORT -> 0 if a TCP connect succeeds within 1 s
vt_port_open() {
  vt_in_ns timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# vt_wait_port HOST PORT [SECONDS]  (bounded)
vt_wait_port() {
  local host=$1 port=$2 secs=${3:-15} i
  for ((i = 0; i < secs * 5; i++)); do
    vt_port_open "$host" "$port" && return 0
    sleep 0.2
  done
  return 1
}

# vt_read_pid PIDFILE -> prints the pid; fails if the file is missing (a daemon
# may remove its own pid file at any moment while it exits) or not a number.
vt_read_pid() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  echo "$pid"
}

# vt_pid_alive PIDFILE -> 0 if the pid in the file is a live process
vt_pid_alive() {
  local pid
  pid=$(vt_read_pid "$1") || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # a zombie (exited, not yet reaped) is not alive
  [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]
}

# vt_stop_pid PIDFILE [NAME]: TERM the pid from the file, wait (bounded), then KILL.
vt_stop_pid() {
  local f=$1 name=${2:-process} pid i
  if ! vt_pid_alive "$f" || ! pid=$(vt_read_pid "$f"); then rm -f "$f"; return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    if ! kill -0 "$pid" 2>/dev/null || [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]]; then
      rm -f "$f"; vt_log "stopped $name (pid $pid)"; return 0
    fi
    sleep 0.1
  done
  vt_log "$name (pid $pid) did not exit after 5 s, sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$f"
  return 0
}
