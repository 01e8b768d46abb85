#!/usr/bin/python3
"""systemd integration (echod(8): SIGNALS, SOCKET ACTIVATION): sd_notify readiness, STATUS=,
watchdog, socket activation and the graceful stop."""

import os
import re
import signal
import socket
import tempfile
import threading
import time

import tap
from echodtest import (Echod, conf, connect, free_port, listener, local_port,
                       port_refuses, recv_exact, recv_until_eof, roundtrip,
                       server_sockopt, wait_until)

_STATUS = (r"^STATUS=(\d+) sessions? on (\d+) listeners?; (\d+) accepted, "
           r"([0-9.]+) MB echoed$")


def test_ready_only_when_ports_accept():
    p1, p2 = free_port(), free_port()
    text = conf(listener("a", p1, address="127.0.0.1"),
                listener("b", p2, address="::", framing="line",
                         strip=[{"bytes": 2}]),
                workers=2, event_method="poll")
    with Echod(text) as d:
        # No retry: once READY=1 has been sent, both ports must accept.
        for p in (p1, p2):
            s = connect(p, timeout=5)
            roundtrip(s, b"12ready\n", b"12ready\n" if p == p1 else
                      b"ready\n")
            s.close()
        m = d.wait_notify(r"^READY=1$")
        assert re.search(r"^STATUS=\S", m.string, re.M), \
            "READY=1 without STATUS=: %r" % m.string
        d.wait_log(r"^\w+: echod 1\.0 serving 2 listeners \(a tcp "
                   r"127\.0\.0\.1:%d, b tcp \[::\]:%d\) with libevent "
                   r"2\.1\.\d+-stable \(poll\), 2 workers, instance "
                   r"[0-9a-f]{8}$" % (p1, p2))
        assert not d.notify_matches(r"^WATCHDOG=1$"), \
            "WATCHDOG=1 without WATCHDOG_USEC"
        assert not d.notify_matches(r"^(STOPPING|RELOADING)=1$")


def test_status_reflects_sessions():
    p1, p2 = free_port(), free_port()
    text = conf(listener("a", p1, address="127.0.0.1"),
                listener("b", p2, address="127.0.0.1"))
    with Echod(text) as d:
        mark = d.notify_mark()
        socks = [connect(p1) for _ in range(3)]
        payload = os.urandom(1000000)
        for s in socks:
            roundtrip(s, payload)
        # The first update with 3 sessions may be older than the last
        # reply (a roundtrip can take longer than the second between
        # updates): wait for the one that counts all 3 MB.
        i = mark
        while True:
            i, m = d.wait_notify_at(_STATUS.replace(r"(\d+) sessions?",
                                                    "3 sessions"), since=i)
            m = re.search(_STATUS, m.string, re.M)
            if float(m.group(4)) >= 2.8:
                break
            i += 1
        assert m.group(2) == "2" and m.group(3) == "3", m.group(0)
        assert 2.8 <= float(m.group(4)) <= 3.1, m.group(0)
        mark = d.notify_mark()
        for s in socks:
            s.close()
        m = d.wait_notify(_STATUS.replace(r"(\d+) sessions?", "0 sessions"),
                          since=mark)
        m = re.search(_STATUS, m.string, re.M)
        assert m.group(3) == "3", m.group(0)
        # updates alone (not with READY=1) come at most once a second
        times = [t for t, n in zip(d.note_times, d.notes)
                 if n.startswith("STATUS=")]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(g >= 0.9 for g in gaps), "STATUS= updates %r s apart" % (
            gaps,)


def test_watchdog_pings():
    port = free_port()
    with Echod(conf(listener("a", port, address="127.0.0.1")),
               env={"WATCHDOG_USEC": "200000"}) as d:
        i, _ = d.wait_notify_at(r"^WATCHDOG=1$", 2)
        t0 = time.monotonic()
        for _ in range(5):
            i, _ = d.wait_notify_at(r"^WATCHDOG=1$", 2, i + 1)
        took = time.monotonic() - t0
        # five intervals of 0.1 s
        assert 0.25 <= took <= 2.0, "5 pings took %.2f s" % took


def test_watchdog_for_another_pid_is_not_ours():
    port = free_port()
    with Echod(conf(listener("a", port, address="127.0.0.1")),
               env={"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"}) as d:
        s = connect(port)
        roundtrip(s, b"x")
        s.close()
        # a negative check over four would-be intervals
        deadline = time.monotonic() + 0.4
        while time.monotonic() < deadline:
            assert not d.notify_matches(r"^WATCHDOG=1$"), \
                "pinged although WATCHDOG_PID is another process"
            time.sleep(0.05)


def _deaf_socket(name):
    """A notify socket nobody reads, bound at path or abstract @name."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + name[1:] if name.startswith("@") else name)
    return s


def _drain(s):
    got = []
    s.setblocking(False)
    try:
        while True:
            got.append(s.recv(4096).decode())
    except BlockingIOError:
        pass
    return got


def _notify_unread(deaf, address):
    port = free_port()
    # Pings every 10 ms: the receiver's queue (max_dgram_qlen) fills
    # within a tenth of a second.
    with Echod(conf(listener("a", port, address="127.0.0.1")),
               env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "20000"},
               ready=False) as d:
        d.wait_log(r"^info: echod .* serving ")
        s = connect(port)
        # A second of pings and status changes nobody reads: the
        # loop never waits for the manager.
        end = time.monotonic() + 1.0
        n = 0
        while time.monotonic() < end:
            roundtrip(s, b"still here %d" % n, timeout=2)
            c = connect(port)
            roundtrip(c, b"new", timeout=2)
            c.close()
            n += 1
        d.wait_log(r"^warning: the service manager does not take "
                   r"notifications \(Resource temporarily unavailable\)")
        got = _drain(deaf)
        assert any(x.startswith("READY=1") for x in got[:2]), got[:2]
        assert "WATCHDOG=1" in got, got
        # Read again: the pings go through, and echod says so; while it
        # dropped, it warned once.
        i = d.wait_log_at(r"^notice: the service manager takes "
                          r"notifications again$")[0]
        warned = [x for x in d.lines[:i]
                  if x.startswith("warning: the service manager")]
        assert len(warned) == 1, warned
        roundtrip(s, b"after")
        s.close()
        # The stop does not wait for the manager either (STOPPING=1).
        assert d.stop(timeout=10) == 0


def test_unread_notify_socket_never_stops_the_loop():
    """sd_notify() blocks while the manager's queue is full; STATUS= and
    WATCHDOG=1 from the loop must not (echod(8), SYSTEMD)."""
    path = os.path.join(tempfile.mkdtemp(prefix="echodtest."), "deaf")
    deaf = _deaf_socket(path)
    try:
        _notify_unread(deaf, path)
    finally:
        deaf.close()
        os.unlink(path)
        os.rmdir(os.path.dirname(path))


def test_unread_abstract_notify_socket():
    name = "@echodtest-deaf-%d" % os.getpid()
    deaf = _deaf_socket(name)
    try:
        _notify_unread(deaf, name)
    finally:
        deaf.close()


def _strip_conf(p_strip, p_echo):
    return conf(listener("strip", p_strip, address="127.0.0.1",
                         framing="line", strip=[{"bytes": 2}]),
                listener("echo", p_echo, address="127.0.0.1"))


def test_activation_by_name():
    p1, p2, p3 = free_port(), free_port(), free_port()
    with Echod(_strip_conf(p1, p2), activate=[(p3, "strip")]) as d:
        s = connect(p3)
        roundtrip(s, b"1234567\n", b"34567\n")
        s.close()
        # echod binds what was not passed, and not what was
        s = connect(p2)
        roundtrip(s, b"1234567\n")
        s.close()
        assert port_refuses(p1), "echod bound the passed listener's port"
        assert not d.log_matches(r"^error:")


def test_activated_sessions_have_nodelay():
    """A passed listening socket gets TCP_NODELAY too, so that what it
    accepts has it (systemd's NoDelay= is not needed)."""
    p1, p2, p3 = free_port(), free_port(), free_port()
    with Echod(_strip_conf(p1, p2), activate=[(p3, "strip")]) as d:
        for i in range(2):
            s = connect(p3)
            roundtrip(s, b"xx%d\n" % i, b"%d\n" % i)
            assert server_sockopt(d.proc.pid, s, socket.IPPROTO_TCP,
                                  socket.TCP_NODELAY) != 0, \
                "connection %d without TCP_NODELAY" % i
            s.close()


def test_activation_by_port():
    p1, p2 = free_port(), free_port()
    with Echod(_strip_conf(p1, p2), activate=[(p1, None)]) as d:
        s = connect(p1)
        roundtrip(s, b"1234567\n", b"34567\n")
        s.close()
        s = connect(p2)
        roundtrip(s, b"1234567\n")
        s.close()
        assert not d.log_matches(r"^error:")


def test_activated_socket_ignores_epoll_changelist_env():
    """Passed sockets are duplicates of systemd's; libevent's epoll
    changelist (EVENT_EPOLL_USE_CHANGELIST) misbehaves with duplicated
    descriptors, so echod must not take it from the environment: sessions
    come and go, a reload unmatches the socket and matches it again, and
    it still serves."""
    p1, p2 = free_port(), free_port()
    env = {"EVENT_EPOLL_USE_CHANGELIST": "1"}
    with Echod(_strip_conf(p1, p2), env=env, activate=[(p1, None)]) as d:
        # libevent names the changelist variant "epoll (with changelist)".
        start = d.wait_log(r"^info: echod .* with libevent \S+ \((.*)\), ")
        assert "changelist" not in start.group(1), start.group(0)
        for _ in range(20):
            s = connect(p1)
            roundtrip(s, b"1234567\n", b"34567\n")
            s.close()
        # Without the strip listener the socket is plain echo ...
        d.reload(conf(listener("echo", p2, address="127.0.0.1")))
        s = connect(p1)
        roundtrip(s, b"1234567\n")
        s.close()
        # ... and with it again, stripping.
        d.reload(_strip_conf(p1, p2))
        for _ in range(20):
            s = connect(p1)
            roundtrip(s, b"1234567\n", b"34567\n")
            s.close()


def test_activation_unmatched_socket_is_raw_echo():
    p1, p2, p4 = free_port(), free_port(), free_port()
    with Echod(_strip_conf(p1, p2), activate=[(p1, None), (p4, None)]) as d:
        s = connect(p4)
        roundtrip(s, b"1234567\n")
        s.close()
        s = connect(p1)
        roundtrip(s, b"1234567\n", b"34567\n")
        s.close()
        d.wait_log(r"^warning: .*\b%d\b" % p4, 2)


def test_unmatched_socket_sessions_keep_their_settings():
    """Regression (review): sessions on a passed socket no listener claims
    pointed into the listener, so a reload changed their idle timeout,
    and the last one to close read freed memory at a stop."""
    p1, p2, p4 = free_port(), free_port(), free_port()
    text = conf(listener("echo", p2, address="127.0.0.1"),
                timeouts={"idle": 1.5, "shutdown": 1})
    with Echod(text, activate=[(p1, None), (p4, None)]) as d:
        old = connect(p4)
        roundtrip(old, b"before\n")
        d.reload(conf(listener("echo", p2, address="127.0.0.1"),
                      timeouts={"idle": 0.3, "shutdown": 1}))
        new = connect(p4)
        roundtrip(new, b"after\n")
        # The new session has the new idle timeout ...
        d.wait_closed_entry(local_port(new), "unknown", "timeout")
        # ... the old one still its own: quiet longer than 0.3 s, open.
        roundtrip(old, b"still here\n")
        mark = d.notify_mark()
        d.kill(signal.SIGTERM)
        d.wait_notify(r"^STOPPING=1$", 5, mark)
        # Closed by the stop, after its listener was freed.
        assert recv_until_eof(old, 5) == b""
        assert d.wait_exit() == 0
        new.close()
        old.close()


def test_stop_entry_follows_every_close_entry():
    """Regression (review): with several workers the stop entry could
    come before the close entries of sessions other workers closed."""
    port = free_port()
    text = conf(listener("echo", port, address="127.0.0.1"), workers=3,
                timeouts={"shutdown": 0.5})
    with Echod(text) as d:
        socks = [connect(port) for _ in range(6)]
        for s in socks:
            roundtrip(s, b"x\n")
        d.kill(signal.SIGTERM)
        assert d.wait_exit() == 0
        lines = d.log_text().splitlines()
        stop = [i for i, l in enumerate(lines) if "echod stopping" in l]
        closes = [i for i, l in enumerate(lines) if "closed (shutdown)" in l]
        assert len(closes) == 6 and len(stop) == 1, d.log_text()
        assert stop[0] > max(closes), d.log_text()
        assert "6 sessions closed" in lines[stop[0]]
        for s in socks:
            s.close()


def test_activated_blocking_socket_many_connections():
    p1, p2, p3 = free_port(), free_port(), free_port()
    with Echod(_strip_conf(p1, p2), activate=[(p3, "strip")]) as d:
        for i in range(20):
            s = connect(p3, timeout=3)
            roundtrip(s, b"xx%d\n" % i, b"%d\n" % i, timeout=3)
            s.close()
            # the event loop is not stuck in a blocking accept()
            s = connect(p2, timeout=3)
            roundtrip(s, b"own %d" % i, timeout=3)
            s.close()
        many = [connect(p3, timeout=3) for _ in range(10)]
        for i, s in enumerate(many):
            s.sendall(b"..%d\n" % i)
        for i, s in enumerate(many):
            assert recv_exact(s, len(b"%d\n" % i), 3) == b"%d\n" % i
            roundtrip(s, b"..again %d\n" % i, b"again %d\n" % i, timeout=3)
            s.close()
        assert d.proc.poll() is None


def test_sigterm_drains_then_closes():
    port = free_port()
    text = conf(listener("echo", port, address="127.0.0.1"),
                timeouts={"idle": 300, "write": 30, "shutdown": 1})
    with Echod(text) as d:
        idle = connect(port)
        roundtrip(idle, b"hello")
        half = connect(port)
        roundtrip(half, b"hello")
        owed = connect(port)
        data = os.urandom(4 << 20)
        sent = [0]
        errors = []

        def send():
            try:
                for i in range(0, len(data), 65536):
                    owed.sendall(data[i:i + 65536])
                    sent[0] = i + 65536
            except OSError as e:
                errors.append(e)

        t = threading.Thread(target=send, daemon=True)
        t.start()
        # the server now owes us replies we have not read
        wait_until(lambda: sent[0] >= 1 << 20, 5, "1 MiB sent")
        mark = d.notify_mark()
        d.kill(signal.SIGTERM)
        d.wait_notify(r"^STOPPING=1$", 5, mark)
        t_stop = time.monotonic()
        # Take what is owed from now on, while the other sessions are
        # checked: read only after them, the 4 MiB had to pass in what
        # was left of the 1 s drain, and under load echod closed the
        # session at its deadline with most of it unsent (EPIPE here).
        owed_got = []
        r = threading.Thread(target=lambda: owed_got.append(
            recv_until_eof(owed, 10)), daemon=True)
        r.start()
        # sessions are served as usual during the drain ...
        roundtrip(idle, b"still served")
        # ... and one that ends by itself closes as usual
        half.sendall(b"bye")
        half.shutdown(socket.SHUT_WR)
        assert recv_until_eof(half, 5) == b"bye"
        r.join(10)
        assert owed_got, "the owed replies did not end within 10 s"
        got = owed_got[0]
        t.join(5)
        assert not errors, errors
        assert got == data, "%d of %d owed bytes came back" % (len(got),
                                                              len(data))
        assert recv_until_eof(idle, 5) == b""
        waited = time.monotonic() - t_stop
        assert 0.8 <= waited <= 4, \
            "idle session closed %.2f s after STOPPING=1" % waited
        # the listener closed at once
        assert port_refuses(port)
        assert d.wait_exit() == 0
        m = d.wait_closed_entry(local_port(half), "echo")
        assert m.group(1) == "eof", m.group(0)
        m = d.wait_closed_entry(local_port(idle), "echo")
        assert m.group(1) == "shutdown", m.group(0)
        m = d.wait_closed_entry(local_port(owed), "echo")
        assert m.group(1) == "shutdown", m.group(0)
        assert int(m.group(2)) == int(m.group(3)) == len(data), m.group(0)
        m = d.wait_log(r"^\w+: echod stopping: (\d+) sessions? closed$")
        assert m.group(1) in ("2", "3"), m.group(0)
        for s in (idle, half, owed):
            s.close()


def test_sigint_stops_cleanly():
    port = free_port()
    with Echod(conf(listener("echo", port, address="127.0.0.1"))) as d:
        mark = d.notify_mark()
        assert d.stop(signal.SIGINT) == 0
        d.wait_notify(r"^STOPPING=1$", 1, mark)
        d.wait_log(r"^\w+: echod stopping: 0 sessions? closed$", 1)
        assert port_refuses(port)


tap.main(globals())
