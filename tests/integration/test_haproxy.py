#!/usr/bin/python3
"""echod behind a real HAProxy (haproxytest.py), TCP mode, on loopback.

HAProxy in front of plain listeners (no PROXY header), byte-exact on a
raw and on a line strip listener, and its health checks (UP while echod
listens, DOWN when it stops, UP again when it is back); then in front of
PROXY protocol listeners (proxy_protocol, proxy_from, proxy_timeout,
max_connections_per_source): send-proxy and send-proxy-v2, the real
client in the entries and the limits, and its v2 LOCAL checks.  Every
test skips where haproxy is not installed (fails, under tools/dev, which
installs it).
"""

import os
import random
import re
import time

import tap
from echodtest import (Echod, conf, connect, free_port, listener, local_port,
                       recv_until_eof, roundtrip, wait_until)
from haproxytest import (Haproxy, connect_from, haproxy_path, need_haproxy,
                         server)

SIZES = (1, 1500, 65536 + 17, 1 << 20)


def _data(seed, n):
    return random.Random(seed).randbytes(n)


def _timeout(n):
    """A deadline for n bytes there and back (generous under valgrind)."""
    return 10 + n / 20000


def _lines(seed, total):
    """Lines of random bytes, total bytes or a little more, ending in LF
    or CR LF: no LF inside one, no CR just before its terminator (it would
    be part of it).  (sent, what strip bytes=2 sends back)."""
    rnd = random.Random(seed)
    sent, back = [], []
    n = 0
    while n < total:
        body = bytearray(rnd.randbytes(rnd.randint(0, 300)).replace(
            b"\n", b"N"))
        if body and body[-1] == 13:
            body[-1] = ord("R")
        end = b"\r\n" if rnd.random() < 0.3 else b"\n"
        sent.append(bytes(body) + end)
        back.append(bytes(body[2:]) + end)
        n += len(body) + len(end)
    return b"".join(sent), b"".join(back)


# --- today: HAProxy in front of plain listeners ------------------------------

def test_raw_listener_byte_exact_through_haproxy():
    need_haproxy()
    ep = free_port()
    with Echod(conf(listener("raw", ep, address="127.0.0.1",
                             framing="raw"))) as d, \
            Haproxy([server("e1", ep)]) as h:
        h.wait_server("echod", "e1", "UP")
        for i, n in enumerate(SIZES):
            # from several sources: HAProxy does not care, echod sees
            # only the balancer (127.0.0.1) on a plain listener
            s = connect_from("127.0.0.%d" % (2 + i), h.port)
            data = _data(i, n)
            roundtrip(s, data, timeout=_timeout(n))
            s.shutdown(1)
            assert recv_until_eof(s) == b""
            s.close()
        # every session was HAProxy's, and each ended by the client's EOF
        wait_until(lambda: len(d.log_matches(
            r"^\w+: connection from 127\.0\.0\.1:\d+ on raw closed "
            r"\(eof\)")) >= len(SIZES), what="%d eof close entries"
            % len(SIZES))
        for m in d.log_matches(r"connection from (\S+) on raw$"):
            assert m.group(1).startswith("127.0.0.1:"), m.group(0)


def test_line_strip_listener_through_haproxy():
    need_haproxy()
    ep = free_port()
    with Echod(conf(listener("strip", ep, address="127.0.0.1",
                             framing="line", strip=[{"bytes": 2}]))), \
            Haproxy([server("e1", ep)]) as h:
        h.wait_server("echod", "e1", "UP")
        for i, n in enumerate(SIZES):
            s = connect_from("127.0.0.2", h.port)
            sent, back = _lines(100 + i, n)
            roundtrip(s, sent, back, timeout=_timeout(len(sent)))
            s.close()


def test_check_up_down_and_up_again():
    need_haproxy()
    ep = free_port()
    text = conf(listener("echo", ep, address="127.0.0.1"))
    with Haproxy([server("e1", ep)]) as h:
        # nothing listens yet
        row = h.wait_server("echod", "e1", "DOWN")
        with Echod(text) as d:
            row = h.wait_server("echod", "e1", "UP")
            assert row["check_status"] == "L4OK", row
            s = connect(h.port)
            roundtrip(s, b"through the balancer\n")
            s.close()
            d.stop()
            row = h.wait_server("echod", "e1", "DOWN")
            assert row["check_status"] == "L4CON", row
            # HAProxy has no server for a new client: it closes it
            s = connect(h.port)
            assert recv_until_eof(s) == b""
            s.close()
        with Echod(text):
            h.wait_server("echod", "e1", "UP")
            s = connect(h.port)
            roundtrip(s, b"back\n")
            s.close()
        assert h.proc.poll() is None


# --- PROXY protocol -------------------------------------------------------

def _proxy_listener(name, port, version, **keys):
    return listener(name, port, address="127.0.0.1", proxy_protocol=version,
                    proxy_from=["127.0.0.0/8", "::1"], **keys)


def _wait_proxied_open(d, client, name, since=0):
    """The open entry of the session of client (address, port) on name,
    a connection through the balancer: it names the real client
    (ECHOD_REMOTE_ADDR, ECHOD_REMOTE_PORT) and, somewhere in the message,
    the balancer 127.0.0.1:PORT (ECHOD_PROXY_ADDR, ECHOD_PROXY_PORT; on
    stderr only the message shows): "connection from C via B on L"
    (echod(8))."""
    rx = (r"^\w+: connection from %s:%d via 127\.0\.0\.1:\d+ on %s$"
          % (re.escape(client[0]), client[1], re.escape(name)))
    return d.wait_log(rx, since=since)


def _proxied_echo(d, h, name, clients):
    """For each client address, a connection through h: byte-exact echo
    of every size, an open entry naming it, an eof close entry."""
    mark = d.log_mark()
    for i, src in enumerate(clients):
        s = connect_from(src, h.port)
        for j, n in enumerate(SIZES):
            roundtrip(s, _data(10 * i + j, n), timeout=_timeout(n))
        me = s.getsockname()[:2]
        _wait_proxied_open(d, me, name, mark)
        s.shutdown(1)
        assert recv_until_eof(s) == b""
        s.close()
        m = d.wait_closed_entry(me[1], name, "eof", host=src, since=mark)
        # bytes out are the payload's; bytes in may count the header too
        assert m.group(3) == str(sum(SIZES)), m.group(0)
        assert int(m.group(2)) >= sum(SIZES), m.group(0)
    assert not d.log_matches(r"proxy-error", mark), \
        d.log_matches(r"proxy-error", mark)[0].group(0)


def test_proxy_v1_and_v2_echo_and_name_the_client():
    need_haproxy()
    for version, proxy in (("v1", "v1"), ("v2", "v2")):
        ep = free_port()
        with Echod(conf(_proxy_listener("pp", ep, version))) as d, \
                Haproxy([server("e1", ep, proxy=proxy, check="")]) as h:
            _proxied_echo(d, h, "pp", ["127.0.0.2", "127.0.0.3",
                                       "127.0.0.4"])


def test_proxy_any_takes_both_versions():
    need_haproxy()
    ep = free_port()
    # roundrobin: the clients alternate between the v1 and the v2 server
    with Echod(conf(_proxy_listener("pp", ep, "any"))) as d, \
            Haproxy([server("e1", ep, proxy="v1", check=""),
                     server("e2", ep, proxy="v2", check="")]) as h:
        _proxied_echo(d, h, "pp", ["127.0.0.2", "127.0.0.3",
                                   "127.0.0.4", "127.0.0.5"])
        rows = {r["svname"]: int(r["stot"]) for r in h.stats()
                if r["pxname"] == "echod" and r["svname"] in ("e1", "e2")}
        assert rows == {"e1": 2, "e2": 2}, rows


def test_health_checks_with_headers_are_not_proxy_errors():
    """HAProxy's checks of a send-proxy-v2 server send a LOCAL header (no
    addresses), those of a send-proxy server a v1 line naming the check's
    own endpoints; both then reset.  echod must count neither as a
    proxy-error: a LOCAL header means "use the connection's endpoints"."""
    need_haproxy()
    ep = free_port()
    with Echod(conf(_proxy_listener("pp", ep, "any"))) as d, \
            Haproxy([server("v1", ep, proxy="v1"),
                     server("v2", ep, proxy="v2")]) as h:
        h.wait_server("echod", "v1", "UP")
        h.wait_server("echod", "v2", "UP")
        # a few rounds of checks, each with its entries (from the
        # balancer itself, 127.0.0.1, for both kinds)
        wait_until(lambda: len(d.log_matches(
            r"^\w+: connection from 127\.0\.0\.1:\d+ (?:via \S+ )?on pp "
            r"closed ")) >= 6,
            what="the close entries of 6 checks")
        bad = d.log_matches(r"proxy-error")
        assert not bad, bad[0].group(0)
        assert h.server_state("echod", "v1") == "UP"
        assert h.server_state("echod", "v2") == "UP"
        # and real traffic still works between the checks
        s = connect_from("127.0.0.2", h.port)
        roundtrip(s, b"between checks\n")
        s.close()


def _refused_through(port, src):
    """A client from src whose connection echod closes at once: the
    balancer closes it too, and nothing is echoed."""
    s = connect_from(src, port)
    try:
        s.sendall(b"x")
    except OSError:
        pass
    got = recv_until_eof(s, 5)
    assert got == b"", "a refused connection from %s echoed %r" % (src, got)
    s.close()


def test_per_source_limit_counts_the_client_not_the_balancer():
    """max_connections_per_source = 2, every connection from HAProxy at
    127.0.0.1: 127.0.0.2's third is closed at once, 127.0.0.3's two are
    served (four at once through one balancer address), and a freed slot
    of 127.0.0.2 is usable again.  Set on the listener, then globally."""
    need_haproxy()
    need_haproxy()
    for where in ("listener", "global"):
        ep = free_port()
        if where == "listener":
            text = conf(_proxy_listener("pp", ep, "v2",
                                        max_connections_per_source=2))
        else:
            text = conf(_proxy_listener("pp", ep, "v2"),
                        max_connections_per_source=2)
        with Echod(text) as d, \
                Haproxy([server("e1", ep, proxy="v2", check="")]) as h:
            two = []
            for i in range(2):
                s = connect_from("127.0.0.2", h.port)
                roundtrip(s, b"127.0.0.2 #%d\n" % i)
                two.append(s)
            _refused_through(h.port, "127.0.0.2")
            three = []
            for i in range(2):
                s = connect_from("127.0.0.3", h.port)
                roundtrip(s, b"127.0.0.3 #%d\n" % i)
                three.append(s)
            for s in two + three:
                roundtrip(s, b"still served\n")
            p = local_port(two[0])
            two[0].close()
            d.wait_closed_entry(p, "pp", host="127.0.0.2")

            def again():
                # the slot goes back just after the close entry, on
                # another thread: a first attempt may still be refused
                s = connect_from("127.0.0.2", h.port)
                try:
                    roundtrip(s, b"again\n", timeout=2)
                except (AssertionError, ConnectionResetError):
                    s.close()
                    return None
                return s
            two[0] = wait_until(again, 5, "127.0.0.2's freed slot")
            for s in two + three:
                s.close()


def test_bad_or_missing_header_is_a_proxy_error():
    """Straight to echod's proxy listener, from an allowed sender
    (127.0.0.1 is in proxy_from): a malformed header, a v1 line to a
    v2-only listener, or no header within proxy_timeout: nothing is
    echoed, the connection is closed, the close entry says proxy-error."""
    need_haproxy()
    p_any, p_v2 = free_port(), free_port()
    text = conf(_proxy_listener("any", p_any, "any", proxy_timeout=1),
                _proxy_listener("v2", p_v2, "v2", proxy_timeout=1))
    with Echod(text) as d:
        cases = [("any", p_any, b"GET / HTTP/1.0\r\n\r\n"),
                 ("any", p_any, b"PROXY TCP4 1.2.3.4\r\nhello\n"),
                 ("any", p_any, b"\r\n\r\n\0\r\nQUIT\n\x2f\x11\x00\x0c"),
                 ("v2", p_v2, b"PROXY TCP4 127.0.0.9 127.0.0.1 9 7\r\nhi\n")]
        for name, port, data in cases:
            s = connect(port)
            s.sendall(data)
            assert recv_until_eof(s, 5) == b"", (name, data)
            m = d.wait_closed_entry(local_port(s), name, "proxy-error")
            assert m.group(3) == "0", m.group(0)
            s.close()
        # no header at all: closed after proxy_timeout, not before
        s = connect(p_any)
        t0 = time.monotonic()
        assert recv_until_eof(s, 10) == b""
        took = time.monotonic() - t0
        assert took >= 0.9, "closed after %.2f s, proxy_timeout is 1" % took
        m = d.wait_closed_entry(local_port(s), "any", "proxy-error")
        assert (m.group(2), m.group(3)) == ("0", "0"), m.group(0)
        s.close()
        # the listener still serves a proper client
        s = connect(p_any)
        me = s.getsockname()
        roundtrip(s, b"PROXY TCP4 127.0.0.9 127.0.0.1 4242 %d\r\nok\n"
                  % p_any, b"ok\n")
        s.close()
        m = d.wait_closed_entry(4242, "any", host="127.0.0.9")
        assert m.group(1) != "proxy-error", (me, m.group(0))


def test_shipped_example_is_valid_haproxy():
    """examples/haproxy.cfg is what `haproxy -c` accepts."""
    need_haproxy()
    import subprocess
    cfg = os.path.join(os.environ["top_srcdir"], "examples", "haproxy.cfg")
    r = subprocess.run([haproxy_path(), "-c", "-f", cfg],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


tap.main(globals())
