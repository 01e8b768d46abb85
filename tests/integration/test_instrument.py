#!/usr/bin/python3
"""echod as a test instrument (echod.conf(5), TESTING; issue 18): what acts
so far.  refuse hangs up on every new connection, with a RST or a FIN, and
touches no other listener; a reload turns it on and off for new
connections; each refusal is counted in the metrics."""

import errno
import json
import os
import re
import socket
import subprocess

import tap
from echodtest import (DEADLINE, Echod, conf, connect, free_port, listener,
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


tap.main(globals())
