#!/usr/bin/python3
"""Exhausted resources and hostile clients (echod.conf(5), issue 7): running out
of file descriptors, slow-drip clients, and a soak of many connections with
random sizes and chunking while the configuration is reloaded."""

import os
import random
import resource
import selectors
import socket
import time

import tap
from echodtest import (Echod, conf, connect, diag, free_port, listener,
                       need_descriptors, recv_exact, roundtrip, wait_until)


def cpu_seconds(pid):
    """utime + stime of pid, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_out_of_descriptors_pauses_accepting():
    if os.environ.get("ECHOD_WRAPPER"):
        tap.skip("the wrapper (valgrind) keeps descriptors of its own")
    port = free_port()
    with Echod(conf(listener("echo", port, address="127.0.0.1"),
                    workers=1)) as d:
        base = open_fds(d.pid)
        # Room for 3 sessions, then accept() fails with EMFILE.  Only the
        # soft limit: raising a hard limit back is not allowed here.
        soft, hard = resource.prlimit(d.pid, resource.RLIMIT_NOFILE)
        resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (base + 3, hard))
        served = [connect(port) for _ in range(3)]
        for s in served:
            roundtrip(s, b"ok\n")
        waiting = [connect(port) for _ in range(5)]
        d.wait_log(r"^warning: accept on echo \(tcp 127\.0\.0\.1:%d\), "
                   r"pausing: Too many open files$" % port)
        # The pending connections keep the socket readable: no busy loop.
        before, t0 = cpu_seconds(d.pid), time.monotonic()
        time.sleep(2.0)     # a measurement window, not a synchronisation
        used = cpu_seconds(d.pid) - before
        elapsed = time.monotonic() - t0
        diag("cpu while out of descriptors: %.2f s in %.1f s"
             % (used, elapsed))
        assert used < 0.25 * elapsed, "busy loop: %.2f s of CPU" % used
        warnings = d.log_matches(r"accept on echo .*Too many open files")
        assert len(warnings) <= elapsed + 2, "warning not rate-limited"
        # Free descriptors: the waiting clients are served, in time.
        for s in served:
            s.close()
        for s in waiting[:3]:
            roundtrip(s, b"late\n")
        resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (soft, hard))
        for s in waiting[3:]:
            roundtrip(s, b"later\n")
        for s in waiting:
            s.close()


def test_slow_drip_keeps_session_until_idle():
    """idle is measured from the last byte received (echod.conf(5)): one
    byte at a time keeps a session open, silence closes it."""
    port = free_port()
    with Echod(conf(listener("echo", port, address="127.0.0.1",
                             timeouts={"idle": 0.6}))) as d:
        s = connect(port)
        p = s.getsockname()[1]
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            roundtrip(s, b"x")
            time.sleep(0.2)
        assert not d.log_matches(r"connection from 127\.0\.0\.1:%d on echo "
                                 r"closed" % p)
        m = d.wait_closed_entry(p, "echo", "timeout")
        assert float(m.group(4)) >= 2.0, m.group(0)
        s.close()


def test_quiet_sessions_give_their_buffers_back():
    """A session that sent something holds a bufferevent; after a quiet
    while it gives it back (and echod returns the pages), and the next
    byte brings it back: idle connections cost under 1 KiB each."""
    if os.environ.get("ECHOD_WRAPPER") or os.environ.get("ECHOD_SANITIZED"):
        tap.skip("memory is the instrumentation's, not echod's")
    port = free_port()
    n = 2000
    # n client sockets here and n accepted ones in echod, with room for
    # what each has open besides (listeners, pipes, the log threads).
    need_descriptors(n + 64)
    with Echod(conf(listener("echo", port, address="127.0.0.1"),
                    log_connections=False, workers=1)) as d:
        before = d.rss_kib()
        socks = [connect(port) for _ in range(n)]
        for s in socks:
            s.sendall(b"x\n")
        for s in socks:
            assert recv_exact(s, 2) == b"x\n"
        busy = d.rss_kib() - before
        per = wait_until(lambda: (d.rss_kib() - before) / n < 1.0 and
                         (d.rss_kib() - before) / n, timeout=15,
                         what="idle sessions under 1 KiB each")
        diag("RSS per session: %.2f KiB after an echo, %.2f KiB quiet"
             % (busy / n, per))
        for i, s in enumerate(socks):
            roundtrip(s, b"again %d\n" % i)
            s.close()


class Client:
    """One soak client: random messages in random chunks, every byte of
    the reply checked against what it must be."""

    def __init__(self, port, rng, line):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.rng = rng
        self.line = line
        self.out = bytearray()      # still to send
        self.expect = bytearray()   # still to receive
        self.verified = 0

    def refill(self):
        if len(self.out) > 0 or len(self.expect) > 256 * 1024:
            return
        size = self.rng.choice((1, 7, 100, 1500, 4096, 20000, 65536))
        size = self.rng.randint(1, size)
        if self.line:
            body = bytes(self.rng.getrandbits(8) | 0x20 for _ in
                         range(min(size, 512)))
            body = body.replace(b"\n", b"_") * (size // max(len(body), 1) + 1)
            msg = body[:max(size - 1, 0)] + b"\n"
            self.expect += msg[2:] if len(msg) > 3 else msg[-1:]
        else:
            msg = os.urandom(size)
            self.expect += msg
        self.out += msg

    def send(self):
        n = self.rng.randint(1, max(1, len(self.out)))
        try:
            sent = self.sock.send(bytes(self.out[:n]))
        except BlockingIOError:
            return
        del self.out[:sent]

    def recv(self):
        try:
            data = self.sock.recv(1 << 16)
        except BlockingIOError:
            return
        assert data, "server closed a soak session"
        want = bytes(self.expect[:len(data)])
        assert data == want, "wrong bytes after %d verified" % self.verified
        del self.expect[:len(data)]
        self.verified += len(data)


def test_soak_many_sessions_reloads_and_churn():
    """200 sessions (line with bytes=2, and raw) with random sizes and
    chunking for ~30 s, every byte verified, while the configuration is
    reloaded 5 times and 1000 short-lived connections come and go."""
    raw_port, line_port = free_port(), free_port()
    duration = float(os.environ.get("SOAK_SECONDS", "30"))
    text = conf(listener("raw", raw_port, address="127.0.0.1"),
                listener("line", line_port, address="127.0.0.1",
                         framing="line", strip=[{"bytes": 2}]),
                log_connections=False, max_line=70000)
    rng = random.Random(862)
    with Echod(text) as d:
        clients = [Client(line_port if i % 2 else raw_port, rng, i % 2 == 1)
                   for i in range(200)]
        sel = selectors.DefaultSelector()
        for c in clients:
            sel.register(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE,
                         c)

        def pump(refill):
            for key, ev in sel.select(0.5):
                c = key.data
                if ev & selectors.EVENT_READ:
                    c.recv()
                if ev & selectors.EVENT_WRITE:
                    if refill:
                        c.refill()
                    if c.out:
                        c.send()

        start = time.monotonic()
        reloads = churn = 0
        while time.monotonic() - start < duration:
            pump(True)
            elapsed = time.monotonic() - start
            if reloads < 5 and elapsed > (reloads + 1) * duration / 6:
                d.reload()
                reloads += 1
            while churn < 1000 * elapsed / duration and churn < 1000:
                s = connect(raw_port)
                roundtrip(s, b"churn %d\n" % churn)
                s.close()
                churn += 1
        # A slow machine (valgrind) may lag the schedule: finish it.
        while reloads < 5:
            d.reload()
            reloads += 1
            pump(True)
        while churn < 1000:
            s = connect(raw_port)
            roundtrip(s, b"churn %d\n" % churn)
            s.close()
            churn += 1
            if churn % 50 == 0:
                pump(True)
        # Drain: what was begun is sent whole, and everything owed arrives.
        end = time.monotonic() + 20
        while any(c.out or c.expect for c in clients):
            assert time.monotonic() < end, "replies missing after the soak"
            pump(False)
        for c in clients:
            c.sock.close()
        total = sum(c.verified for c in clients)
        diag("soak: %d bytes verified on 200 sessions, %d reloads, %d "
             "short connections" % (total, reloads, churn))
        assert reloads == 5 and churn == 1000
        assert total > 1 << 20


tap.main(globals())
