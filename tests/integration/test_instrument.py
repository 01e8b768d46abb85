#!/usr/bin/python3
"""echod as a test instrument (echod.conf(5), TESTING; issue 18).  refuse
hangs up on every new connection, with a RST or a FIN, and touches no
other listener; a reload turns it on and off for new connections; each
refusal is counted in the metrics.  A banner goes out first, naming the
client a PROXY header carries, on TLS after the handshake.  close_after
ends a session after N bytes, N lines or S seconds, with exactly the
replies owed and then a FIN (EOF) or a RST (ECONNRESET), close reason
"scripted".  A delay sends every reply that long after its request (plus
a uniform jitter), in order, and holds up no other listener; on UDP each
datagram's.  rate and listener_rate hold a session, and a listener's
sessions together, to their bytes per second, against a client that
writes as fast as it can."""

import errno
import ipaddress
import json
import os
import re
import socket
import struct
import select
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
import test_tls  # noqa: E402
from echodtest import (DEADLINE, Echod, conf, connect, diag, free_port,  # noqa
                       listener, need_descriptors, recv_exact,
                       recv_until_eof, roundtrip)


def _l(name, port, **kw):
    return listener(name, port, address="127.0.0.1", **kw)


def _first_recv(port):
    """What the client's first recv on a new connection to port sees:
    b"" (EOF), data, or the errno it failed with.  A blocking connect, as
    most clients make: it returns once the handshake is done, and the
    RST of refuse = "reset" comes after.  Should the RST still win the
    race (the kernel takes it before connect returns), connect fails with
    ECONNRESET instead, which the client sees all the same."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.connect(("127.0.0.1", port))
        s.settimeout(DEADLINE)
        return s.recv(1024)
    except OSError as e:
        return e.errno
    finally:
        s.close()


def _refused_count(mport, name):
    """echod_connections_refused_total{listener=name,limit="refuse"}."""
    s = connect(mport)
    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    body = recv_until_eof(s).decode()
    s.close()
    for line in body.splitlines():
        m = re.match(r'^echod_connections_refused_total\{(.*)\} (\S+)$',
                     line)
        if m and 'listener="%s"' % name in m.group(1) and \
                'limit="refuse"' in m.group(1):
            return int(float(m.group(2)))
    return None


def test_refuse_reset_fin_and_a_neighbour():
    pr, pf, pe, mport = free_port(), free_port(), free_port(), free_port()
    text = conf(_l("dead", pr, refuse="reset"), _l("gone", pf, refuse="fin"),
                _l("echo", pe),
                metrics={"address": "127.0.0.1", "port": mport})
    with Echod(text):
        for _ in range(3):
            got = _first_recv(pr)
            assert got == errno.ECONNRESET, \
                "refuse = reset: first recv gave %r" % (got,)
            got = _first_recv(pf)
            assert got == b"", "refuse = fin: first recv gave %r" % (got,)
        s = connect(pe)
        roundtrip(s, b"still echoing\n")
        s.close()
        assert _refused_count(mport, "dead") == 3
        assert _refused_count(mport, "gone") == 3
        assert _refused_count(mport, "echo") == 0


def test_refuse_fin_after_the_client_spoke():
    # Bytes already sent are read away, so the client still sees a FIN.
    port = free_port()
    with Echod(conf(_l("gone", port, refuse="fin"))):
        s = connect(port)
        s.sendall(b"hello?\n")
        s.settimeout(DEADLINE)
        try:
            got = s.recv(1024)
        except ConnectionResetError:
            got = "reset"
        s.close()
        assert got == b"", got


def test_reload_turns_refuse_on_and_off():
    port = free_port()
    with Echod(conf(_l("flip", port))) as d:
        old = connect(port)
        roundtrip(old, b"before\n")
        m = d.reload(conf(_l("flip", port, refuse="reset")))
        assert m.group(1) == "configuration reloaded", m.group(0)
        assert _first_recv(port) == errno.ECONNRESET
        # A session accepted before the reload keeps being served.
        roundtrip(old, b"during\n")
        m = d.reload(conf(_l("flip", port, refuse="fin")))
        assert _first_recv(port) == b""
        m = d.reload(conf(_l("flip", port, refuse="off")))
        s = connect(port)
        roundtrip(s, b"after\n")
        s.close()
        roundtrip(old, b"still\n")
        old.close()


def test_bench_expect_close_against_refuse():
    # A dead backend is what echocli bench --expect-close counts, not fails.
    port = free_port()
    with Echod(conf(_l("dead", port, refuse="reset"))):
        p = subprocess.run([os.environ.get("ECHOCLI", "./echocli"), "bench",
                            "--json", "--expect-close", "-c", "2", "-d",
                            "0.5", "127.0.0.1", str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=DEADLINE)
    r = json.loads(p.stdout.decode())
    assert p.returncode == 0, (r, p.stderr)
    assert r["scripted_closes"] > 2 and r["closed_early"] == 0, r
    assert r["connect_errors"] == 0 and r["messages"] == 0, r


def _proxy_v2(client, cport, port):
    """A PROXY v2 PROXY header for a TCP over IPv4 client."""
    body = (ipaddress.IPv4Address(client).packed +
            ipaddress.IPv4Address("127.0.0.1").packed +
            struct.pack("!HH", cport, port))
    return (b"\r\n\r\n\x00\r\nQUIT\n\x21\x11" +
            struct.pack("!H", len(body)) + body)


def test_banner_first_then_echo():
    port = free_port()
    with Echod(conf(_l("id", port, banner="echod %n %a %p %%\n",
                       strip=[{"bytes": 1}]))):
        s = connect(port)
        want = "echod id 127.0.0.1 %d %%\n" % s.getsockname()[1]
        # Before the client says anything; not stripped.
        assert recv_exact(s, len(want)) == want.encode()
        roundtrip(s, b"xhello\n", expect=b"hello\n")
        s.close()


def test_banner_with_host_and_instance():
    port = free_port()
    with Echod(conf(_l("id", port, banner="%h/%i\n"))) as d:
        # The start entry names the instance (echod(8)).
        m = d.wait_log(r", instance ([0-9a-f]{8})$")
        s = connect(port)
        s.settimeout(DEADLINE)
        line = b""
        while not line.endswith(b"\n"):
            b = s.recv(100)
            assert b, line
            line += b
        host, inst = line.decode().rstrip("\n").split("/")
        assert host == socket.gethostname()[:64], host
        assert inst == m.group(1), (inst, m.group(0))
        s.close()


def test_banner_names_the_proxied_client():
    port = free_port()
    with Echod(conf(_l("p", port, banner="hi %a:%p\n", proxy_protocol="v2",
                       proxy_from=["127.0.0.0/8"]))):
        s = connect(port)
        # Nothing before the header: the client is not known yet.
        s.sendall(_proxy_v2("198.51.100.7", 4242, port) + b"first\n")
        want = b"hi 198.51.100.7:4242\nfirst\n"
        assert recv_exact(s, len(want)) == want
        roundtrip(s, b"again\n")
        s.close()


def test_banner_on_tls_after_the_handshake():
    port = free_port()
    with Echod(conf(test_tls.tls_listener("t", port, banner="tls %n\n"))):
        t = test_tls.tls_connect(port)
        assert test_tls.recv_exact(t, 6) == b"tls t\n"
        t.sendall(b"secret\n")
        assert test_tls.recv_exact(t, 7) == b"secret\n"
        t.close()


# Under valgrind echod is some 50 times slower: times are not checked.
SLOW = bool(os.environ.get("ECHOD_WRAPPER"))


def _reads_then(s, n):
    """n bytes, then what the next recv sees: b"" (EOF) or the errno."""
    got = recv_exact(s, n)
    s.settimeout(DEADLINE)
    try:
        end = s.recv(1024)
    except OSError as e:
        end = e.errno
    return got, end


def _closed(d, s, name):
    """The close entry of s's session: (reason, bytes in, bytes out)."""
    m = d.wait_closed_entry(s.getsockname()[1], name)
    return m.group(1), int(m.group(2)), int(m.group(3))


def test_close_after_bytes_fin_and_reset():
    pf, pr = free_port(), free_port()
    text = conf(_l("fin", pf, framing="raw", close_after={"bytes": 10}),
                _l("rst", pr, framing="raw",
                   close_after={"bytes": 10, "how": "reset"}))
    with Echod(text) as d:
        for port, name, end in ((pf, "fin", b""), (pr, "rst",
                                                   errno.ECONNRESET)):
            s = connect(port)
            s.sendall(b"0123456789abcdefghij")
            got, seen = _reads_then(s, 10)
            assert (got, seen) == (b"0123456789", end), (name, got, seen)
            assert _closed(d, s, name)[0] == "scripted"
            s.close()
        # Byte by byte: the count spans reads.
        s = connect(pf)
        for c in b"abcdefghijkl":
            s.sendall(bytes([c]))
        got, seen = _reads_then(s, 10)
        assert (got, seen) == (b"abcdefghij", b""), (got, seen)
        s.close()


def test_close_after_bytes_in_lines_and_before_reply():
    pa, pb = free_port(), free_port()
    text = conf(_l("a", pa, framing="line", close_after={"bytes": 8}),
                _l("b", pb, framing="line", close_after={"bytes": 8,
                                         "when": "before-reply"}))
    with Echod(text) as d:
        s = connect(pa)
        s.sendall(b"hello\nworld\n")
        # Exactly 8 bytes, the line holding byte 8 cut there, then EOF.
        assert recv_until_eof(s) == b"hello\nwo"
        s.close()
        s = connect(pb)
        s.sendall(b"hello\nworld\n")
        # The line that reached the count is not answered.
        assert recv_until_eof(s) == b"hello\n"
        assert _closed(d, s, "b")[0] == "scripted"
        s.close()


def test_close_after_messages():
    pa, pb = free_port(), free_port()
    text = conf(_l("a", pa, framing="line", close_after={"messages": 3}),
                _l("b", pb, framing="line",
                   close_after={"messages": 3, "how": "reset",
                                         "when": "before-reply"}))
    with Echod(text) as d:
        s = connect(pa)
        roundtrip(s, b"one\n")
        s.sendall(b"two\nthree\nfour\n")
        assert recv_until_eof(s) == b"two\nthree\n"
        reason, bin_, bout = _closed(d, s, "a")
        assert reason == "scripted" and bout == 14, (reason, bout)
        s.close()
        s = connect(pb)
        s.sendall(b"one\ntwo\nthree\n")
        got, seen = _reads_then(s, 8)
        assert (got, seen) == (b"one\ntwo\n", errno.ECONNRESET), (got, seen)
        s.close()


def test_close_after_seconds():
    port = free_port()
    with Echod(conf(_l("s", port, close_after={"seconds": 0.3}))) as d:
        t0 = time.monotonic()
        s = connect(port)
        roundtrip(s, b"in time\n")
        assert recv_until_eof(s) == b""
        took = time.monotonic() - t0
        assert SLOW or 0.25 < took < 1.5, took
        assert _closed(d, s, "s")[0] == "scripted"
        s.close()


def test_close_after_on_tls_and_behind_proxy():
    pt, pp = free_port(), free_port()
    text = conf(test_tls.tls_listener("t", pt, framing="line",
                                      close_after={"messages": 1}),
                _l("p", pp, proxy_protocol="v2", proxy_from=["127.0.0.0/8"],
                   close_after={"bytes": 4, "how": "reset"}))
    with Echod(text) as d:
        t = test_tls.tls_connect(pt)
        t.sendall(b"only\nnot this\n")
        assert test_tls.recv_exact(t, 5) == b"only\n"
        t.settimeout(DEADLINE)
        try:
            assert t.recv(100) == b""
        except ConnectionResetError:
            raise AssertionError("a RST where a close_notify and FIN were due")
        # The lingering session sees the client's end at once: the cut
        # once froze an OpenSSL bufferevent's input, so that every read
        # failed (the worker spinning) until the 2 s linger was over.
        here = t.getsockname()[1]
        t0 = time.monotonic()
        t.close()
        m = d.wait_closed_entry(here, "t")
        assert m.group(1) == "scripted", m.group(0)
        assert SLOW or time.monotonic() - t0 < 1.5, time.monotonic() - t0
        s = connect(pp)
        s.sendall(_proxy_v2("192.0.2.8", 9, pp) + b"abcdef")
        got, seen = _reads_then(s, 4)
        assert (got, seen) == (b"abcd", errno.ECONNRESET), (got, seen)
        s.close()


def _bench(*args):
    """echocli bench --json args: its JSON result, having succeeded."""
    p = subprocess.run([os.environ.get("ECHOCLI", "./echocli"), "bench",
                        "--json"] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    r = json.loads(p.stdout.decode())
    assert p.returncode == 0, (r, p.stderr)
    return r


def test_delay_p50_with_jitter():
    # p50 within 10 % of delay + jitter / 2 (issue 18, point 5).
    port = free_port()
    with Echod(conf(_l("slow", port, framing="line", delay=0.2,
                       jitter=0.04))):
        r = _bench("-c", 4, "-s", 16, "-n", 10 if SLOW else 60,
                   "127.0.0.1", port)
    lat = r["latency_us"]
    diag("delay 0.2 s, jitter 0.04 s: p50 %d us, max %d us"
             % (lat["p50"], lat["max"]))
    assert r["messages"] == (10 if SLOW else 60), r
    if SLOW:
        assert lat["p50"] >= 200000, lat
        return
    assert 0.9 * 220000 <= lat["p50"] <= 1.1 * 220000, lat
    # No reply before its delay; none much past delay + jitter.
    assert lat["max"] <= 240000 * 1.25, lat


def test_delay_keeps_order_and_ends_after_the_last_reply():
    port = free_port()
    with Echod(conf(_l("slow", port, framing="line", delay=0.05,
                       jitter=0.1))) as d:
        s = connect(port)
        lines = [b"line %d\n" % i for i in range(200)]
        # In one packet and in many: each read's replies in order.
        s.sendall(b"".join(lines[:100]))
        for ln in lines[100:]:
            s.sendall(ln)
        s.shutdown(socket.SHUT_WR)
        t0 = time.monotonic()
        # Everything, then the EOF: the end waits for the last reply.
        assert recv_until_eof(s) == b"".join(lines)
        assert SLOW or time.monotonic() - t0 >= 0.04
        reason, bin_, bout = _closed(d, s, "slow")
        n = len(b"".join(lines))
        assert (reason, bin_, bout) == ("eof", n, n), (reason, bin_, bout)
        s.close()


def test_delay_holds_up_no_other_listener():
    n = 20 if SLOW else 1000
    need_descriptors(2 * n + 50)
    ps, pf = free_port(), free_port()
    with Echod(conf(_l("slow", ps, delay=1.0), _l("fast", pf),
                    max_connections=4 * n)):
        slow = [connect(ps) for _ in range(n)]
        for i, s in enumerate(slow):
            s.sendall(b"wait %d\n" % i)
        f = connect(pf)
        t0 = time.monotonic()
        for _ in range(20):
            roundtrip(f, b"now\n")
        took = time.monotonic() - t0
        assert SLOW or took < 0.5, took
        for i, s in enumerate(slow):
            want = b"wait %d\n" % i
            assert recv_exact(s, len(want)) == want
            s.close()
        f.close()


def test_write_timeout_is_the_clients_not_the_delays():
    """A delay longer than the write timeout: the reply waits its delay
    and the session lives on, for the write timeout counts only while
    bytes wait for the client, not while they wait their time."""
    port = free_port()
    with Echod(conf(_l("late", port, framing="line", delay=0.8),
                    timeouts={"write": 0.2, "idle": 30})) as d:
        s = connect(port)
        t0 = time.monotonic()
        s.sendall(b"one\n")
        assert recv_exact(s, 4, DEADLINE) == b"one\n"
        assert time.monotonic() - t0 >= 0.75, time.monotonic() - t0
        s.sendall(b"two\n")
        assert recv_exact(s, 4, DEADLINE) == b"two\n"
        s.shutdown(socket.SHUT_WR)
        assert recv_until_eof(s) == b""
        assert _closed(d, s, "late")[0] == "eof"
        s.close()


def test_delayed_bytes_count_against_max_memory():
    # 32 sessions that each owe up to 256 KiB: past a budget of 1 MiB only
    # if the replies waiting for their delay count; all still come back.
    port = free_port()
    with Echod(conf(_l("d", port, delay=0.2), max_memory=1 << 20)) as d:
        socks = [connect(port) for _ in range(32)]
        data = [os.urandom(256 * 1024) for _ in socks]
        senders = [threading.Thread(target=s.sendall, args=(b,),
                                    daemon=True)
                   for s, b in zip(socks, data)]
        for th in senders:
            th.start()
        d.wait_log(r"^warning: max_memory reached", timeout=30)
        for s, b in zip(socks, data):
            assert recv_exact(s, len(b), timeout=60) == b
            s.close()
        for th in senders:
            th.join(DEADLINE)


def test_delay_with_close_after():
    # The replies owed include those still waiting for their delay.
    port = free_port()
    with Echod(conf(_l("d", port, framing="line", delay=0.1,
                       close_after={"messages": 2, "how": "reset"}))) as d:
        s = connect(port)
        s.sendall(b"one\ntwo\nthree\n")
        got, seen = _reads_then(s, 8)
        assert (got, seen) == (b"one\ntwo\n", errno.ECONNRESET), (got, seen)
        assert _closed(d, s, "d")[0] == "scripted"
        s.close()


def test_udp_delay_in_order():
    port = free_port()
    with Echod(conf(_l("u", port, protocol="udp", delay=0.2,
                       jitter=0.02),
                    listener("now", port, protocol="udp",
                             address="127.0.0.2"))):
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.bind(("127.0.0.1", 0))
        c.settimeout(DEADLINE)
        t0 = time.monotonic()
        for i in range(20):
            c.sendto(b"datagram %d" % i, ("127.0.0.1", port))
        # Another listener answers at once meanwhile.
        c.sendto(b"at once", ("127.0.0.2", port))
        assert c.recvfrom(100) == (b"at once", ("127.0.0.2", port))
        assert SLOW or time.monotonic() - t0 < 0.15
        got = [c.recvfrom(100)[0] for _ in range(20)]
        took = time.monotonic() - t0
        assert got == [b"datagram %d" % i for i in range(20)], got
        assert SLOW or 0.2 <= took < 0.2 * 1.1 + 0.02 + 0.05, took
        c.close()


def _rate(ports, seconds, held=()):
    """Bytes per second the clients on ports (and those of held, already
    connected) read back, together, over seconds from the first byte,
    each client writing as fast as it can meanwhile."""
    socks = list(held) + [connect(p) for p in ports]
    stop = threading.Event()
    chunk = b"x" * 65536

    def flood(s):
        try:
            while not stop.is_set():
                s.sendall(chunk)
        except OSError:
            pass
    threads = [threading.Thread(target=flood, args=(s,), daemon=True)
               for s in socks]
    for th in threads:
        th.start()
    got, t0, end = 0, None, time.monotonic() + DEADLINE
    while True:
        now = time.monotonic()
        if t0 is not None and now - t0 >= seconds:
            break
        assert now < end, "no echo within %.0f s" % DEADLINE
        ready, _, _ = select.select(socks, [], [], 0.5)
        for s in ready:
            n = len(s.recv(1 << 20))
            assert n > 0, "closed"
            if t0 is None:
                t0 = time.monotonic()
            else:
                got += n
    stop.set()
    for s in socks:
        s.shutdown(socket.SHUT_RDWR)
        s.close()
    for th in threads:
        th.join(DEADLINE)
    return got / (time.monotonic() - t0)


def _check_rate(rate, want):
    diag("rate %d B/s against %d B/s: %+.1f %%"
         % (rate, want, (rate - want) * 100.0 / want))
    if SLOW:
        assert rate <= want * 1.1, (rate, want)
    else:
        assert abs(rate - want) <= want * 0.1, (rate, want)


def test_rate_write_and_read():
    pw, pr = free_port(), free_port()
    with Echod(conf(_l("w", pw, rate={"write": "256k"}),
                    _l("r", pr, rate={"read": "128k"}))):
        _check_rate(_rate([pw], 2 if SLOW else 5), 262144)
        _check_rate(_rate([pr], 2 if SLOW else 5), 131072)


def test_listener_rate_shared_by_two_sessions():
    port = free_port()
    # Two workers: the two sessions on two loops share the group.
    with Echod(conf(_l("shared", port, listener_rate={"write": "256k"},
                       rate={"read": "1M"}), workers=2)):
        _check_rate(_rate([port, port], 2 if SLOW else 5), 262144)


def test_listener_rate_kept_by_a_reload_that_keeps_it():
    """A session from before a reload and one from after share the one
    group: a reload that changes neither the listener nor the rate must
    not give each a whole rate of its own."""
    port = free_port()
    text = conf(_l("shared", port, listener_rate={"write": "256k"},
                   rate={"read": "1M"}), workers=2)
    with Echod(text) as d:
        before = connect(port)
        roundtrip(before, b"before\n")
        # The same file again: a new configuration all the same.
        m = d.reload()
        assert m.group(1) == "configuration reloaded", m.group(0)
        _check_rate(_rate([port], 2 if SLOW else 5, held=[before]), 262144)


def test_reload_changes_them_for_new_sessions_only():
    port = free_port()
    with Echod(conf(_l("r", port, framing="line"))) as d:
        old = connect(port)
        roundtrip(old, b"before\n")
        d.reload(conf(_l("r", port, framing="line", banner="new\n",
                         delay=0.3, close_after={"messages": 1})))
        new = connect(port)
        assert recv_exact(new, 4) == b"new\n"
        t0 = time.monotonic()
        new.sendall(b"late\n")
        assert recv_until_eof(new) == b"late\n"
        assert SLOW or time.monotonic() - t0 >= 0.25
        new.close()
        # The old session: no banner, no delay, no hang-up.
        t0 = time.monotonic()
        for _ in range(3):
            roundtrip(old, b"as before\n")
        assert SLOW or time.monotonic() - t0 < 0.25
        old.close()


if __name__ == "__main__":
    tap.main(globals())
