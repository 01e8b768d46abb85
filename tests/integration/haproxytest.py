"""haproxytest.py: a real HAProxy in front of echod, on loopback.

Haproxy(servers) is a context manager like echodtest.Echod: it writes a
configuration from TEMPLATE into a fresh directory (one TCP frontend on
127.0.0.1:PORT, PORT from free_port(), one backend with the given server
lines, and a stats socket of its own in that directory, level admin),
runs `haproxy -db -f CFG` in the foreground as a child in its own
session, and waits until it is ready: the stats socket answers, the
frontend is OPEN in `show stat` and its port listens (read from
/proc/net/tcp, not by connecting: a probe connection would be forwarded
to echod and show in its log and its per-source counts).  Every wait is
a bounded poll with a deadline.  On exit HAProxy is stopped (SIGTERM,
or SIGUSR1 for a soft stop), killed if it lingers, and what it wrote on
stdout and stderr is shown as TAP diagnostics if the test failed.

    with Echod(conf(listener("e", ep, address="127.0.0.1"))) as d, \\
         Haproxy([server("e1", ep, proxy="v2")]) as h:
        h.wait_server("echod", "e1", "UP")
        s = connect_from("127.0.0.2", h.port)

Health checks (HAProxy 2.6, configuration.txt, "check-send-proxy" and
"send-proxy", and seen on the wire with 2.6.12): a server with
send-proxy or send-proxy-v2 and "check" gets the PROXY header on its
check connections too, unless the check has its own "port" or "addr"
(then only with "check-send-proxy").  What the check sends, as HAProxy
has no client for it:
  - send-proxy-v2: a v2 LOCAL header, family UNSPEC, no addresses
    (the 16 bytes "\\r\\n\\r\\n\\0\\r\\nQUIT\\n\\x20\\x00\\x00\\x00"): the
    receiver must use the connection's own endpoints;
  - send-proxy: a v1 line with the check connection's own endpoints,
    "PROXY TCP4 127.0.0.1 127.0.0.1 <check's port> <server's port>\\r\\n"
    (not "PROXY UNKNOWN"): it reads like a client at the balancer's
    address.
A plain TCP check (no data to send) connects and resets at once.  A check
with a header closes with a reset right after it too (SO_LINGER 0): the
server reads the header, then ECONNRESET.  Real traffic through the
frontend carries a PROXY command with the client's address and port as
source and the frontend's 127.0.0.1:PORT as destination.

Environment: HAPROXY (the program; default: haproxy on PATH, then
/usr/sbin/haproxy).
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from echodtest import (DEADLINE, _group_members, connect, diag, free_port,
                       wait_until)

# Defaults that keep a test fast and bounded: a check every 200 ms, one
# good check is UP, two bad ones DOWN; "timeout check" bounds a check that
# connects but never completes; "hard-stop-after" bounds a soft stop.
CHECK = "check inter 200ms rise 1 fall 2"

TEMPLATE = """\
# written by haproxytest.py
global
    stats socket {dir}/stats.sock level admin
    stats timeout 10s
    maxconn 512
    nbthread 2
    hard-stop-after 5s

defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout check 2s

frontend fe
    bind 127.0.0.1:{port}
    default_backend {backend}

backend {backend}
    balance roundrobin
{servers}
"""


def haproxy_path():
    """The haproxy program, or None if it is not installed."""
    p = os.environ.get("HAPROXY")
    if p:
        return p
    p = shutil.which("haproxy")
    if p:
        return p
    return "/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy",
                                            os.X_OK) else None


def need_haproxy():
    """tap.Skip unless haproxy is installed (Debian: apt-get install
    haproxy; tools/dev installs it)."""
    import tap
    if haproxy_path() is None:
        tap.missing("haproxy is not installed (apt-get install haproxy)")


def server(name, port, proxy=None, check=CHECK, host="127.0.0.1",
           extra=""):
    """One server line: proxy None (plain), "v1" (send-proxy) or "v2"
    (send-proxy-v2); check "" for none."""
    words = ["server", name, "%s:%d" % (host, port)]
    words += {None: [], "v1": ["send-proxy"],
              "v2": ["send-proxy-v2"]}[proxy]
    if check:
        words.append(check)
    if extra:
        words.append(extra)
    return "    " + " ".join(words)


def connect_from(src, port, host="127.0.0.1", timeout=DEADLINE):
    """A TCP connection to host:port from source address src (any
    127.0.0.x on Linux's loopback): HAProxy names src in the header."""
    return connect(port, host, timeout, source=src)


def _listening(port, host="127.0.0.1"):
    """Whether a TCP socket listens on host:port (IPv4), by /proc/net/tcp."""
    want = "%08X:%04X" % (int.from_bytes(socket.inet_aton(host), "little"),
                          port)
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                w = line.split()
                # w[1] local address, w[3] state: 0A is LISTEN
                if w[1] == want and w[3] == "0A":
                    return True
    except OSError:
        pass
    return False


class Haproxy:
    """HAProxy on a configuration from TEMPLATE; see the module comment.

    servers: server lines (see server()); backend: the backend's name;
    port: the frontend's (default free_port()); template: another
    configuration text with the same {dir} {port} {backend} {servers}.
    """

    def __init__(self, servers, backend="echod", port=None,
                 template=TEMPLATE, args=(), timeout=DEADLINE):
        self.servers = list(servers)
        self.backend = backend
        self.port = port if port is not None else free_port()
        self.template = template
        self.args = list(args)
        self.timeout = timeout
        self.dir = None
        self.proc = None
        self.lines = []         # stdout and stderr lines, without newline
        self.cond = threading.Condition()
        self.closed = False
        self._reader = None

    # -- start and stop

    def __enter__(self):
        try:
            self.start()
            self.wait_ready(self.timeout)
        except BaseException:
            self._cleanup(failed=True)
            raise
        return self

    def __exit__(self, etype, evalue, tb):
        self._cleanup(failed=etype is not None)
        return False

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        prog = haproxy_path()
        if prog is None:
            raise AssertionError("haproxy is not installed")
        self.dir = tempfile.mkdtemp(prefix="haproxytest.")
        self.stats_path = os.path.join(self.dir, "stats.sock")
        self.path = os.path.join(self.dir, "haproxy.cfg")
        self.cfg_text = self.template.format(
            dir=self.dir, port=self.port, backend=self.backend,
            servers="\n".join(self.servers))
        with open(self.path, "w") as f:
            f.write(self.cfg_text)
        self.argv = [prog, "-db", "-f", self.path] + self.args
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT,
                                     cwd=self.dir, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _alive(self):
        if self.proc.poll() is not None:
            raise AssertionError("haproxy exited (status %r) before it was "
                                 "ready: %s" % (self.proc.returncode,
                                                " | ".join(self.lines[-5:])))

    def wait_ready(self, timeout=DEADLINE):
        """Until the stats socket answers, the frontend is OPEN and its
        port listens; AssertionError if haproxy exits first."""
        def ready():
            self._alive()
            try:
                if "Name: HAProxy" not in self.cli("show info", timeout=1):
                    return False
                row = self.stat("fe", "FRONTEND")
            except (OSError, AssertionError):
                return False
            return row["status"] == "OPEN" and _listening(self.port)
        wait_until(ready, timeout, "haproxy ready on 127.0.0.1:%d"
                   % self.port, step=0.02)

    def stop(self, soft=False, timeout=DEADLINE):
        """Stop HAProxy: SIGTERM (at once), or SIGUSR1 (soft: it stops
        listening and lets its sessions end, at most hard-stop-after);
        its exit status.  AssertionError if it is still running after
        timeout (it is then killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1 if soft else signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("haproxy still running %.0f s after %s; "
                                 "killed" % (timeout, "SIGUSR1" if soft
                                             else "SIGTERM"))
        with self.cond:
            self.cond.wait_for(lambda: self.closed, 2)
        return rc

    def _cleanup(self, failed):
        problems = []
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.stop(timeout=DEADLINE)
                except AssertionError as e:
                    problems.append(str(e))
            # It ran in its own session: nothing of it may be left.
            left = _group_members(self.proc.pid)
            if left:
                problems.append("leftover processes %r; killed" % left)
                for p in left:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
            if self._reader is not None:
                self._reader.join(2)
            if self.proc.stdout:
                self.proc.stdout.close()
        if failed or problems:
            diag("haproxy: %s" % " ".join(getattr(self, "argv", [])))
            diag("exit status: %r" % (self.proc.returncode
                                      if self.proc else None))
            for line in getattr(self, "cfg_text", "").splitlines():
                diag("cfg| " + line)
            for line in self.lines[-40:]:
                diag("haproxy| " + line)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if problems and not failed:
            raise AssertionError("; ".join(problems))

    # -- the stats socket

    def cli(self, command, timeout=DEADLINE):
        """One command on the stats socket (non-interactive: HAProxy
        answers and closes); the answer as text."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        end = time.monotonic() + timeout
        try:
            s.settimeout(timeout)
            s.connect(self.stats_path)
            s.sendall(command.encode() + b"\n")
            buf = bytearray()
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("haproxy's stats socket did not "
                                         "finish answering %r" % command)
                s.settimeout(left)
                chunk = s.recv(65536)
                if not chunk:
                    return buf.decode("utf-8", "replace")
                buf += chunk
        finally:
            s.close()

    def stats(self):
        """`show stat` as a list of dicts keyed by its CSV header
        (pxname, svname, status, check_status, check_desc, scur, ...)."""
        text = self.cli("show stat")
        lines = [x for x in text.splitlines() if x.strip()]
        if not lines or not lines[0].startswith("# "):
            raise AssertionError("no CSV from show stat: %r" % text[:200])
        names = lines[0][2:].split(",")
        return [dict(zip(names, x.split(","))) for x in lines[1:]]

    def stat(self, proxy, name):
        """The `show stat` row of proxy's name (a server, FRONTEND or
        BACKEND)."""
        for row in self.stats():
            if row.get("pxname") == proxy and row.get("svname") == name:
                return row
        raise AssertionError("no %s/%s in show stat" % (proxy, name))

    def server_state(self, backend, server_name):
        """The server's status: "UP", "DOWN", "UP 1/2" (going down),
        "DOWN 1/2" (going up), "MAINT", "no check", ..."""
        return self.stat(backend, server_name)["status"]

    def wait_server(self, backend, server_name, state, timeout=DEADLINE):
        """Until the server's status is exactly state (e.g. "UP": a
        transitional "UP 1/2" does not count); its stats row."""
        seen = []

        def reached():
            if self.proc.poll() is not None:
                raise AssertionError("haproxy exited (status %r)"
                                     % self.proc.returncode)
            row = self.stat(backend, server_name)
            if not seen or seen[-1] != row["status"]:
                seen.append(row["status"])
            return row if row["status"] == state else None
        try:
            return wait_until(reached, timeout, "%s/%s %s" % (
                backend, server_name, state), step=0.05)
        except AssertionError as e:
            raise AssertionError("%s (states seen: %s)" % (e, seen))
