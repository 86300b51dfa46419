#!/usr/bin/env python3
"""Counting (and optionally slow-auth) HTTP proxy in front of a WebDAV test server.

  dav-proxy.py UPSTREAM_URL LOG_FILE [--slow-auth MS] [--expire-sessions-after N]

Listens on 127.0.0.1 on an ephemeral port and prints "PORT <n>" on stdout once
ready. Every request it receives (401 challenges included) is one line of
LOG_FILE, written before the answer goes out:

  <connection no> <method> <path>[ depth=<Depth>] <status> <delayed 0|1>

--slow-auth MS is the stand-in for Nextcloud's cost of checking a password: a
request that carries no valid session cookie of this proxy waits MS
milliseconds. When such a request carried credentials and the server accepted
them (no 401), the answer sets a session cookie (`vtsession`, as Nextcloud
hands out its session cookies); a later request carrying it is not delayed.
The cookie is kept out of the request forwarded upstream.

--expire-sessions-after N: once N requests were served with a valid session,
every session ends (once); a request that then carries an ended session's
cookie is answered 401 without going upstream, as a server that refuses a
stale session does.

Test code only: loopback, one upstream, bodies buffered (requests of a few MiB).
"""
import http.client
import http.server
import itertools
import secrets
import socketserver
import sys
import threading
import time
import urllib.parse

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade", "trailer"}
COOKIE = "vtsession"


class State:
    def __init__(self, upstream, log_path, delay, expire_after):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.log = open(log_path, "a", buffering=1, encoding="utf-8")
        self.delay = delay
        self.sessions = set()
        self.ended = set()
        self.expire_after = expire_after
        self.served_with_session = 0
        self.lock = threading.Lock()
        self.conns = itertools.count(1)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State = None

    def setup(self):
        super().setup()
        self.conn_no = next(self.state.conns)
        self.upstream = None

    def log_message(self, *args):
        pass

    def session_of(self):
        for header in self.headers.get_all("Cookie") or []:
            for part in header.split(";"):
                name, _, value = part.strip().partition("=")
                if name == COOKIE:
                    return value
        return None

    def forward(self):
        st = self.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        session = self.session_of()
        with st.lock:
            valid = session is not None and session in st.sessions
            stale = session is not None and session in st.ended
            if valid and st.expire_after:
                st.served_with_session += 1
                if st.served_with_session >= st.expire_after:
                    st.ended |= st.sessions
                    st.sessions.clear()
                    st.expire_after = 0
        if stale:
            st.log.write(f"{self.conn_no} {self.command} {self.path} 401 0\n")
            self.send_response_only(401, "Unauthorized")
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.wfile.flush()
            return
        delayed = st.delay > 0 and not valid
        if delayed:
            time.sleep(st.delay)
        headers = {}
        for k, v in self.headers.items():
            lk = k.lower()
            if lk in HOP or lk == "host":
                continue
            if lk == "cookie":
                v = "; ".join(p.strip() for p in v.split(";") if not p.strip().startswith(COOKIE + "="))
                if not v:
                    continue
            if lk == "destination":
                # MOVE/COPY name the target by absolute URL: the server's, not ours.
                parts = urllib.parse.urlsplit(v)
                v = urllib.parse.urlunsplit((st.upstream.scheme, st.upstream.netloc) + tuple(parts[2:]))
            headers[k] = v
        headers["Host"] = st.upstream.netloc
        for attempt in range(2):
            try:
                if self.upstream is None:
                    self.upstream = http.client.HTTPConnection(st.upstream.hostname, st.upstream.port, timeout=300)
                self.upstream.request(self.command, self.path, body=body, headers=headers)
                resp = self.upstream.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, OSError):
                # A kept-alive upstream connection the server closed: once more on a new one.
                self.upstream = None
                if attempt == 1:
                    self.send_error(502)
                    return
        # Logged before the answer goes out: a client that has its answer finds its request counted.
        depth = self.headers.get("Depth")
        st.log.write(f"{self.conn_no} {self.command} {self.path}{' depth=' + depth if depth else ''} {resp.status} {int(delayed)}\n")
        self.send_response_only(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() in HOP or k.lower() == "content-length":
                continue
            self.send_header(k, v)
        if delayed and resp.status != 401 and "Authorization" in self.headers:
            token = secrets.token_hex(16)
            with st.lock:
                st.sessions.add(token)
            self.send_header("Set-Cookie", f"{COOKIE}={token}; Path=/; HttpOnly")
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.forward
        raise AttributeError(name)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    args = sys.argv[1:]
    delay = 0.0
    expire_after = 0
    if "--expire-sessions-after" in args:
        i = args.index("--expire-sessions-after")
        expire_after = int(args[i + 1])
        del args[i : i + 2]
    if "--slow-auth" in args:
        i = args.index("--slow-auth")
        delay = int(args[i + 1]) / 1000.0
        del args[i : i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    Handler.state = State(args[0], args[1], delay, expire_after)
    srv = Server(("127.0.0.1", 0), Handler)
    print(f"PORT {srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
