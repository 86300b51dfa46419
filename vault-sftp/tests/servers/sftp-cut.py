#!/usr/bin/env python3
"""sftp-cut.py CONTROL_FILE: OpenSSH's sftp-server behind a cutter, for sshd's
`Subsystem sftp` line (test only).

- Hides `posix-rename@openssh.com` in the server's VERSION reply, so the
  client must replace without an atomic rename.
- CONTROL_FILE (one line, shared by every session, read under flock) says what
  to do with each request (every client packet after INIT):
    off             pass everything through
    cut N THEN      count requests down; request N is passed to the server and
                    its reply awaited but not forwarded, then the SSH connection
                    ends (nothing after it reaches the server); the file then says THEN
    dead            a new session ends at once (the server is unreachable)
If CONTROL_FILE.log exists, each request's pid, type and id are appended to it.
"""
import fcntl
import os
import signal
import struct
import subprocess
import sys
import threading

SERVERS = ["/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server",
           "/usr/lib/ssh/sftp-server", "/usr/libexec/sftp-server"]
HIDDEN = b"posix-rename@openssh.com"
SSH_FXP_INIT, SSH_FXP_VERSION = 1, 2


def read_exact(f, n):
    buf = b""
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_packet(f):
    head = read_exact(f, 4)
    if head is None:
        return None
    (length,) = struct.unpack(">I", head)
    return read_exact(f, length)


def write_packet(f, payload):
    f.write(struct.pack(">I", len(payload)) + payload)
    f.flush()


def strip_extension(payload):
    """VERSION: type, version, then (name, data) string pairs."""
    out, pos = payload[:5], 5
    while pos + 4 <= len(payload):
        (n,) = struct.unpack(">I", payload[pos:pos + 4])
        name = payload[pos + 4:pos + 4 + n]
        pos += 4 + n
        (d,) = struct.unpack(">I", payload[pos:pos + 4])
        data = payload[pos + 4:pos + 4 + d]
        pos += 4 + d
        if name != HIDDEN:
            out += struct.pack(">I", len(name)) + name + struct.pack(">I", len(data)) + data
    return out


def control(path, step):
    """Reads the control line under a lock; `step` returns (new line or None, result)."""
    with open(path, "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        words = f.read().split()
        new, result = step(words)
        if new is not None:
            f.seek(0)
            f.truncate()
            f.write(new + "\n")
        return result


def count_down(words):
    """True when this request is the one to cut after."""
    if len(words) == 3 and words[0] == "cut":
        n = int(words[1])
        if n <= 1:
            return words[2], True
        return f"cut {n - 1} {words[2]}", False
    return None, False


def parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def end_connection():
    """Ends the whole SSH connection, as a dropped link does: the topmost
    ancestor running as this user is the session's unprivileged sshd."""
    me, pid = os.getuid(), os.getpid()
    try:
        while True:
            parent = parent_of(pid)
            if parent <= 1 or os.stat(f"/proc/{parent}").st_uid != me:
                break
            pid = parent
        if pid != os.getpid():
            os.kill(pid, signal.SIGTERM)
    except OSError:
        pass


def main():
    ctl = sys.argv[1]
    if control(ctl, lambda w: (None, w[:1] == ["dead"])):
        return
    server = next(p for p in SERVERS if os.path.exists(p))
    proc = subprocess.Popen([server], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    cin, cout = sys.stdin.buffer, sys.stdout.buffer
    fatal = {"id": None}
    lock = threading.Lock()
    done = threading.Event()

    def upstream():
        while True:
            p = read_packet(cin)
            if p is None:
                break
            if os.path.exists(ctl + ".log"):
                with open(ctl + ".log", "a") as log:
                    log.write(f"{os.getpid()} {p[0]} {p[1:5].hex()}\n")
            if p[0] != SSH_FXP_INIT and control(ctl, count_down):
                with lock:
                    fatal["id"] = p[1:5]
                write_packet(proc.stdin, p)
                return  # nothing after the fatal request reaches the server
            write_packet(proc.stdin, p)
        done.set()

    def downstream():
        while True:
            p = read_packet(proc.stdout)
            if p is None:
                break
            if p[0] == SSH_FXP_VERSION:
                p = strip_extension(p)
            else:
                with lock:
                    if fatal["id"] is not None and p[1:5] == fatal["id"]:
                        break  # carried out, but the client never hears of it
            write_packet(cout, p)
        done.set()

    for t in (upstream, downstream):
        threading.Thread(target=t, daemon=True).start()
    done.wait()
    proc.kill()
    with lock:
        if fatal["id"] is not None:
            end_connection()
    os._exit(0)


if __name__ == "__main__":
    main()
