#!/usr/bin/env bash
# sshd-2fa.sh start|stop|purge|kill-sessions|status|env|totp [MODE]
#
# Private OpenSSH sshd instances for the vault-sftp tests (adapted from the
# project's shared test-server recipes). "purge" stops everything of the
# instance and removes its state dir, PAM service and test user.
# MODE (default 2fa; "all" = all three):
#   2fa       port 2222  AuthenticationMethods publickey,keyboard-interactive
#             (keyboard-interactive = PAM pam_google_authenticator TOTP)
#   key       port 2223  AuthenticationMethods publickey (also for peers that
#             cannot answer TOTP: sshfs, rclone sftp in benchmarks)
#   password  port 2224  AuthenticationMethods password (UsePAM no, /etc/shadow)
#   legacy    port 2225  publickey, but only diffie-hellman-group14-sha1 key
#             exchange (a server the client shares no algorithm with)
# Environment:
#   VAULT_TEST_STATE_DIR   state dir (default /tmp/vault-test-servers)
#   VAULT_TEST_NETNS       run inside this netns (hotel-net.sh up prints it)
#   VAULT_TEST_BIND        listen address (default 127.0.0.1, 10.200.0.2 in netns)
#   VAULT_TEST_TOTP_REUSE  deny (default; google-authenticator DISALLOW_REUSE) | allow
#   VAULT_TEST_TOTP_SECRET the test user's TOTP secret (base32; default a fixed one), so two
#                          instances (a jump host and the server behind it) differ
#   VAULT_TEST_SSH_TCP_FORWARDING  no (default) | yes: the instance serves as a jump host
#   VAULT_TEST_INSTANCE    parallel runs: own state dir, PAM service, user traveller-NAME
#   VAULT_TEST_PORT_BASE   parallel runs: ports base (2fa), base+1 (key), base+2 (password)
#   VAULT_TEST_SFTP_SUBSYSTEM  command for `Subsystem sftp` (default internal-sftp), e.g.
#                          sftp-cut.py, which hides posix-rename and cuts sessions
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# One harness library for every test server of the workspace.
# shellcheck source=../../../tests/servers/lib.sh
. "$HERE/../../../tests/servers/lib.sh"

CMD=${1:-}
MODE=${2:-2fa}

D="$VT_STATE_DIR/sshd"
TEST_USER=traveller$VT_ISFX                  # traveller, or traveller-NAME per instance
TEST_PASSWORD='traveller-pw-1'
KEY_PASSPHRASE='hotel wifi 2fa'            # contains spaces on purpose
TOTP_SECRET=${VAULT_TEST_TOTP_SECRET:-JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP} # base32, 160 bit, RFC 6238 SHA1/30s/6 digits
[[ $TOTP_SECRET =~ ^[A-Z2-7]+$ ]] || vt_die "VAULT_TEST_TOTP_SECRET is not base32"
TCP_FORWARDING=${VAULT_TEST_SSH_TCP_FORWARDING:-no}
[[ $TCP_FORWARDING == yes || $TCP_FORWARDING == no ]] || vt_die "VAULT_TEST_SSH_TCP_FORWARDING: yes or no"

PAM_SERVICE=vault-test-sshd-2fa$VT_ISFX     # /etc/pam.d/$PAM_SERVICE, selected via argv[0]
TOTP_REUSE=${VAULT_TEST_TOTP_REUSE:-deny}

port_of() { case $1 in 2fa) echo "$VT_PORT_SSH_2FA" ;; key) echo "$VT_PORT_SSH_KEY" ;; password) echo "$VT_PORT_SSH_PASSWORD" ;; legacy) echo "$VT_PORT_SSH_LEGACY" ;; *) vt_die "unknown mode $1" ;; esac; }
modes() { if [[ $MODE == all ]]; then echo 2fa key password legacy; else port_of "$MODE" >/dev/null; echo "$MODE"; fi; }

setup_common() {
  command -v oathtool >/dev/null || vt_die "oathtool missing: run install.sh"
  [[ -e /usr/lib/x86_64-linux-gnu/security/pam_google_authenticator.so || -e /lib/x86_64-linux-gnu/security/pam_google_authenticator.so ]] \
    || vt_die "pam_google_authenticator missing: run install.sh"
  mkdir -p "$D"/{hostkeys,client,totp,bin,home} "$D/authorized_keys"
  chmod 755 "$VT_STATE_DIR" "$D" "$D/authorized_keys"
  chmod 700 "$D/totp"
  # sshd refuses to start without its privilege separation directory.
  [[ -d /run/sshd ]] || install -d -m 0755 /run/sshd

  # Dedicated test user; its home (= SFTP root) lives in the state dir.
  if ! id "$TEST_USER" >/dev/null 2>&1; then
    useradd --home-dir "$D/home/$TEST_USER" --shell /bin/bash --no-create-home --user-group "$TEST_USER"
    vt_log "created user $TEST_USER"
  fi
  if [[ $(getent passwd "$TEST_USER" | cut -d: -f6) != "$D/home/$TEST_USER" ]]; then
    usermod --home "$D/home/$TEST_USER" "$TEST_USER"
  fi
  echo "$TEST_USER:$TEST_PASSWORD" | chpasswd
  install -d -m 0755 -o "$TEST_USER" -g "$TEST_USER" "$D/home/$TEST_USER"

  # Host keys (server) and client keys, generated once.
  [[ -f $D/hostkeys/ssh_host_ed25519_key ]] || ssh-keygen -q -t ed25519 -N '' -C vault-test-host -f "$D/hostkeys/ssh_host_ed25519_key"
  [[ -f $D/hostkeys/ssh_host_rsa_key ]] || ssh-keygen -q -t rsa -b 3072 -N '' -C vault-test-host -f "$D/hostkeys/ssh_host_rsa_key"
  # ed25519, new OpenSSH format ("BEGIN OPENSSH PRIVATE KEY", aes256-ctr + bcrypt KDF)
  [[ -f $D/client/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N "$KEY_PASSPHRASE" -C traveller-ed25519 -f "$D/client/id_ed25519"
  # RSA, legacy PEM ("BEGIN RSA PRIVATE KEY", Proc-Type/DEK-Info AES-128-CBC)
  [[ -f $D/client/id_rsa_pem ]] || ssh-keygen -q -t rsa -b 3072 -m PEM -N "$KEY_PASSPHRASE" -C traveller-rsa-pem -f "$D/client/id_rsa_pem"
  # RSA, new OpenSSH format
  [[ -f $D/client/id_rsa_openssh ]] || ssh-keygen -q -t rsa -b 3072 -N "$KEY_PASSPHRASE" -C traveller-rsa-openssh -f "$D/client/id_rsa_openssh"
  # ECDSA P-256, legacy PEM ("BEGIN EC PRIVATE KEY")
  [[ -f $D/client/id_ecdsa_pem ]] || ssh-keygen -q -t ecdsa -b 256 -m PEM -N "$KEY_PASSPHRASE" -C traveller-ecdsa-pem -f "$D/client/id_ecdsa_pem"
  # A key that is NOT authorized (negative tests)
  [[ -f $D/client/id_ed25519_unauthorized ]] || ssh-keygen -q -t ed25519 -N "$KEY_PASSPHRASE" -C intruder -f "$D/client/id_ed25519_unauthorized"
  cat "$D"/client/id_ed25519.pub "$D"/client/id_rsa_pem.pub "$D"/client/id_rsa_openssh.pub "$D"/client/id_ecdsa_pem.pub > "$D/authorized_keys/$TEST_USER"
  chmod 644 "$D/authorized_keys/$TEST_USER"

  # TOTP secret file for pam_google_authenticator (owned by root: PAM option user=root).
  {
    echo "$TOTP_SECRET"
    echo '" WINDOW_SIZE 3'
    [[ $TOTP_REUSE == deny ]] && echo '" DISALLOW_REUSE'
    echo '" TOTP_AUTH'
  } > "$D/totp/$TEST_USER"
  chmod 600 "$D/totp/$TEST_USER"

  # Dedicated PAM service; the system's /etc/pam.d/sshd is not touched.
  # OpenSSH uses its argv[0] basename (__progname) as PAM service name.
  cat > "/etc/pam.d/$PAM_SERVICE" <<PAM
# Generated by vault test-servers sshd-2fa.sh; removed by 'sshd-2fa.sh stop'.
auth     required pam_google_authenticator.so secret=$D/totp/\${USER} user=root
account  required pam_unix.so
session  required pam_permit.so
PAM
  ln -sfn "$(command -v sshd || echo /usr/sbin/sshd)" "$D/bin/$PAM_SERVICE"

  # Client helpers: askpass (answers passphrase + TOTP prompts) and known_hosts.
  cat > "$D/client/askpass.sh" <<ASK
#!/usr/bin/env bash
# SSH_ASKPASS helper: ssh passes the prompt text as \$1.
case "\$1" in
  *assphrase*) printf '%s\n' '$KEY_PASSPHRASE' ;;
  *erification*) oathtool --totp -b '$TOTP_SECRET' ;;
  *assword*) printf '%s\n' '$TEST_PASSWORD' ;;
  *) echo "askpass: unexpected prompt: \$1" >&2; exit 1 ;;
esac
ASK
  chmod 755 "$D/client/askpass.sh"
  : > "$D/client/known_hosts$VT_SFX"
  local m
  for m in 2fa key password legacy; do
    for k in ed25519 rsa; do
      echo "[$VT_BIND]:$(port_of $m) $(cut -d' ' -f1-2 "$D/hostkeys/ssh_host_${k}_key.pub")" >> "$D/client/known_hosts$VT_SFX"
    done
  done
}

write_config() {
  local m=$1 port auth pam kbd pw extra=''
  port=$(port_of "$m")
  case $m in
    legacy) auth='publickey'; pam=no; kbd=no; pw=no; extra='KexAlgorithms diffie-hellman-group14-sha1' ;;
    2fa) auth='publickey,keyboard-interactive'; pam=yes; kbd=yes; pw=no ;;
    key) auth='publickey'; pam=no; kbd=no; pw=no ;;
    password) auth='password'; pam=no; kbd=no; pw=yes ;;
  esac
  cat > "$D/sshd_config.$m$VT_SFX" <<CFG
# vault test sshd, mode=$m (generated)
ListenAddress $VT_BIND:$port
PidFile $D/sshd.$m$VT_SFX.pid
HostKey $D/hostkeys/ssh_host_ed25519_key
HostKey $D/hostkeys/ssh_host_rsa_key
AuthorizedKeysFile $D/authorized_keys/%u
# Keys/home live under /tmp (mode 1777): StrictModes would reject the path.
StrictModes no
AllowUsers $TEST_USER
PermitRootLogin no
AuthenticationMethods $auth
PubkeyAuthentication yes
KbdInteractiveAuthentication $kbd
PasswordAuthentication $pw
PermitEmptyPasswords no
UsePAM $pam
MaxAuthTries 6
LoginGraceTime 60
# Let dead hotel links be noticed by the server within ~45 s.
ClientAliveInterval 15
ClientAliveCountMax 3
X11Forwarding no
AllowTcpForwarding $TCP_FORWARDING
PrintMotd no
LogLevel VERBOSE
Subsystem sftp ${VAULT_TEST_SFTP_SUBSYSTEM:-internal-sftp}
$extra
CFG
}

start_one() {
  local m=$1 port bin
  port=$(port_of "$m")
  if vt_pid_alive "$D/sshd.$m$VT_SFX.pid"; then vt_log "sshd[$m] already running (pid $(<"$D/sshd.$m$VT_SFX.pid"))"; return 0; fi
  write_config "$m"
  bin="$D/bin/$PAM_SERVICE"
  "$bin" -t -f "$D/sshd_config.$m$VT_SFX" || vt_die "sshd config test failed for $m"
  # Daemonizes and writes PidFile; logs go to $D/sshd.$m$VT_SFX.log (-E).
  vt_in_ns "$bin" -f "$D/sshd_config.$m$VT_SFX" -E "$D/sshd.$m$VT_SFX.log"
  vt_wait_port "$VT_BIND" "$port" 15 || vt_die "sshd[$m] did not open $VT_BIND:$port (see $D/sshd.$m$VT_SFX.log)"
  vt_log "sshd[$m] listening on $VT_BIND:$port (pid $(<"$D/sshd.$m$VT_SFX.pid"))"
}

print_env() {
  cat <<ENV
VAULT_TEST_SSH_HOST=$VT_BIND
VAULT_TEST_SSH_PORT=$VT_PORT_SSH_2FA
VAULT_TEST_SSH_PORT_KEYONLY=$VT_PORT_SSH_KEY
VAULT_TEST_SSH_PORT_PASSWORD=$VT_PORT_SSH_PASSWORD
VAULT_TEST_SSH_PORT_LEGACY=$VT_PORT_SSH_LEGACY
VAULT_TEST_SSH_USER=$TEST_USER
VAULT_TEST_SSH_PASSWORD=$TEST_PASSWORD
VAULT_TEST_SSH_KEY=$D/client/id_ed25519
VAULT_TEST_SSH_KEY_RSA_PEM=$D/client/id_rsa_pem
VAULT_TEST_SSH_KEY_RSA_OPENSSH=$D/client/id_rsa_openssh
VAULT_TEST_SSH_KEY_ECDSA_PEM=$D/client/id_ecdsa_pem
VAULT_TEST_SSH_KEY_UNAUTHORIZED=$D/client/id_ed25519_unauthorized
VAULT_TEST_SSH_KEY_PASSPHRASE='$KEY_PASSPHRASE'
VAULT_TEST_SSH_TOTP_SECRET=$TOTP_SECRET
VAULT_TEST_SSH_KNOWN_HOSTS=$D/client/known_hosts$VT_SFX
VAULT_TEST_SSH_ASKPASS=$D/client/askpass.sh
VAULT_TEST_SFTP_ROOT=$D/home/$TEST_USER
ENV
  [[ -n $VT_NETNS ]] && echo "VAULT_TEST_NETNS=$VT_NETNS"
  return 0
}

case $CMD in
  start)
    vt_require_root
    setup_common
    for m in $(modes); do start_one "$m"; done
    ;;
  stop)
    vt_require_root
    for m in $(modes); do vt_stop_pid "$D/sshd.$m$VT_SFX.pid" "sshd[$m]"; done
    # Remove the PAM service once no instance (loopback or netns) is left.
    left=0
    for f in "$D"/sshd.*.pid; do if vt_pid_alive "$f"; then left=1; fi; done
    ((left)) || rm -f "/etc/pam.d/$PAM_SERVICE"
    ;;
  kill-sessions)
    # Ends every session of the instance's sshd (its child processes, found by
    # the parent pid in the pid file); the listener stays. Simulates a server
    # restart / dropped connection for reconnect tests.
    vt_require_root
    for m in $(modes); do
      pid=$(vt_read_pid "$D/sshd.$m$VT_SFX.pid") || continue
      for c in $(pgrep -P "$pid" || true); do kill -TERM "$c" 2>/dev/null || true; done
    done
    ;;
  purge)
    vt_require_root
    MODE=all
    for m in $(modes); do vt_stop_pid "$D/sshd.$m$VT_SFX.pid" "sshd[$m]"; done
    left=0
    for f in "$D"/sshd.*.pid; do if vt_pid_alive "$f"; then left=1; fi; done
    if ((left)); then vt_log "other sshd of this instance still running: keeping state"; exit 0; fi
    rm -f "/etc/pam.d/$PAM_SERVICE"
    if [[ -n $VT_INSTANCE ]] && id "$TEST_USER" >/dev/null 2>&1; then userdel "$TEST_USER" 2>/dev/null || true; fi
    if [[ -n $VT_INSTANCE ]]; then rm -rf "$VT_STATE_DIR"; fi
    ;;
  status)
    for m in 2fa key password legacy; do
      if vt_pid_alive "$D/sshd.$m$VT_SFX.pid"; then echo "sshd[$m] running pid $(<"$D/sshd.$m$VT_SFX.pid") port $(port_of $m)"; else echo "sshd[$m] stopped"; fi
    done
    ;;
  env) print_env ;;
  totp) oathtool --totp -b "$TOTP_SECRET" ;;
  *) echo "usage: $0 start|stop|purge|kill-sessions|status|env|totp [2fa|key|password|legacy|all]" >&2; exit 2 ;;
esac
