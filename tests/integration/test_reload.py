#!/usr/bin/python3
"""Reload on SIGHUP (echod(8), SIGNALS): transactional, and never closes a session."""

import re
import signal

import tap
from echodtest import (Echod, conf, connect, free_port, listener, local_port,
                       occupy, port_refuses, roundtrip)


def _raw(name, port, **kw):
    return listener(name, port, address="127.0.0.1", **kw)


def _line(name, port, nbytes):
    return listener(name, port, address="127.0.0.1", framing="line",
                    strip=[{"bytes": nbytes}])


def test_reload_adds_and_removes_listeners():
    p1, p2, p3 = free_port(), free_port(), free_port()
    with Echod(conf(_raw("a", p1), _raw("b", p2))) as d:
        nm = d.notify_mark()
        m = d.reload(conf(_raw("a", p1), _line("c", p3, 2)))
        assert m.group(1) == "configuration reloaded", m.group(0)
        assert m.group(2) == "2 listeners (1 added, 1 removed), 0 sessions " \
            "kept", m.group(0)
        assert d.notify_matches(r"^MONOTONIC_USEC=\d+$", nm), \
            "RELOADING=1 without MONOTONIC_USEC="
        closed = []
        s = connect(p3)
        roundtrip(s, b"1234567\n", b"34567\n")
        closed.append((local_port(s), "c"))
        s.close()
        s = connect(p1)
        roundtrip(s, b"1234567\n")
        closed.append((local_port(s), "a"))
        s.close()
        assert port_refuses(p2), "a removed listener still accepts"
        for p, name in closed:
            d.wait_closed_entry(p, name, "eof")
        assert d.log_matches(r"^\w+: configuration reloaded: ")
        # and once more, with nothing changed
        m = d.reload()
        assert re.match(r"2 listeners \(0 added, 0 removed\), \d+ sessions? "
                        r"kept$", m.group(2)), m.group(0)


def test_open_session_keeps_its_rules():
    port = free_port()
    with Echod(conf(_line("strip", port, 2))) as d:
        old = connect(port)
        roundtrip(old, b"1234\n", b"34\n")
        m = d.reload(conf(_line("strip", port, 1)))
        assert m.group(2).endswith(", 1 sessions kept") or \
            m.group(2).endswith(", 1 session kept"), m.group(0)
        new = connect(port)
        roundtrip(new, b"1234\n", b"234\n")
        roundtrip(old, b"1234\n", b"34\n")
        # a listener's other settings too: framing raw now
        d.reload(conf(_raw("strip", port)))
        newer = connect(port)
        roundtrip(newer, b"1234\n")
        roundtrip(old, b"1234\n", b"34\n")
        roundtrip(new, b"1234\n", b"234\n")
        for s in (old, new, newer):
            s.close()


def test_invalid_reload_is_rejected():
    p1, p2 = free_port(), free_port()
    with Echod(conf(_line("strip", p1, 2))) as d:
        s = connect(p1)
        bad = "\n".join([
            'log_level = "info";',
            "frobnicate = 1;",
            "listeners = (",
            '  { name = "strip"; address = "127.0.0.1"; port = %d; '
            'framing = "line"; strip = ( { bytes = 1; } ); },' % p1,
            '  { name = "new"; address = "127.0.0.1"; port = %d; },' % p2,
            '  { name = "x"; address = "127.0.0.1"; port = 0; }',
            ");", ""])
        lm = d.log_mark()
        m = d.reload(bad)
        assert m.group(1) == "reload rejected", m.group(0)
        path = re.escape(d.path)
        assert re.match(r"%s:(2|6): " % path, m.group(2)), m.group(0)
        for line in (2, 6):
            assert d.log_matches(r"^error: %s:%d: \S" % (path, line), lm), \
                "error on line %d not logged" % line
        # the running configuration is untouched
        roundtrip(s, b"1234\n", b"34\n")
        t = connect(p1)
        roundtrip(t, b"1234\n", b"34\n")
        assert port_refuses(p2), "a rejected reload opened a listener"
        # a syntax error is rejected the same way
        m = d.reload('listeners = ( { name = "strip"; port = ; } );\n')
        assert m.group(1) == "reload rejected", m.group(0)
        assert re.match(r"%s:1: " % path, m.group(2)), m.group(0)
        roundtrip(t, b"1234\n", b"34\n")
        assert not d.log_matches(r" closed \(")
        for x in (s, t):
            x.close()


def test_reload_moves_a_listener_to_another_address_on_its_port():
    """Regression (review): "::" -> "127.0.0.1" on the same port was
    rejected, because the new socket was bound while echod's own old one
    still held the port.  The old socket is now closed just before."""
    port, other = free_port(), free_port()
    with Echod(conf(listener("echo", port),
                    listener("other", other, address="127.0.0.1"))) as d:
        s = connect(port, "::1")
        roundtrip(s, b"before\n")
        m = d.reload(conf(listener("echo", port, address="127.0.0.1"),
                          listener("other", other, address="127.0.0.1")))
        assert m.group(1) == "configuration reloaded", m.group(0)
        t = connect(port)
        roundtrip(t, b"new address\n")
        assert port_refuses(port, "::1"), "the old address still listens"
        # The session opened on the old socket is kept.
        roundtrip(s, b"kept\n")
        # And back to "::" in one more reload.
        m = d.reload(conf(listener("echo", port),
                          listener("other", other, address="127.0.0.1")))
        assert m.group(1) == "configuration reloaded", m.group(0)
        u = connect(port, "::1")
        roundtrip(u, b"back\n")
        for x in (s, t, u):
            x.close()


def test_failed_reload_keeps_a_listener_it_meant_to_move():
    """The move happens last: when another new listener cannot be opened,
    the reload is rejected before the old socket is touched."""
    port, busy = free_port(), free_port()
    with Echod(conf(listener("echo", port))) as d:
        blocker = occupy(busy)
        m = d.reload(conf(listener("echo", port, address="127.0.0.1"),
                          listener("new", busy, address="127.0.0.1")))
        assert m.group(1) == "reload rejected", m.group(0)
        s = connect(port, "::1")
        roundtrip(s, b"still on ::\n")
        s.close()
        blocker.close()


def test_reload_with_port_in_use_changes_nothing():
    p1, p2, p3 = free_port(), free_port(), free_port()
    with Echod(conf(_line("a", p1, 2))) as d:
        busy = occupy(p3)
        try:
            m = d.reload(conf(_line("a", p1, 1), _raw("b", p2),
                              _raw("c", p3)))
            assert m.group(1) == "reload rejected", m.group(0)
            assert re.search(r"127\.0\.0\.1\]?:%d\b" % p3, m.group(2)), \
                m.group(0)
            assert port_refuses(p2), "b was opened by a rejected reload"
            s = connect(p1)
            roundtrip(s, b"1234\n", b"34\n")
            s.close()
        finally:
            busy.close()
        # with the port free again the same file is accepted
        m = d.reload()
        assert m.group(1) == "configuration reloaded", m.group(0)
        s = connect(p1)
        roundtrip(s, b"1234\n", b"234\n")
        s.close()
        for p in (p2, p3):
            s = connect(p)
            roundtrip(s, b"x")
            s.close()


def test_reload_never_closes_sessions():
    p1, p2, p3 = free_port(), free_port(), free_port()
    confs = [
        conf(_raw("a", p1), _line("b", p2, 2)),
        conf(_raw("a", p1)),                        # b removed
        conf(_raw("a", p1, timeouts={"idle": 300}), _raw("c", p3)),
        conf(_line("a", p1, 1), _raw("c", p3), max_connections=100),
        conf(_raw("a", p1), _line("b", p2, 2), log_rate=50),
        conf(_raw("a", p1), _line("b", p2, 2)),
    ]
    with Echod(confs[0]) as d:
        sa = [connect(p1) for _ in range(10)]
        sb = [connect(p2) for _ in range(10)]

        def check_all():
            for i, s in enumerate(sa):
                roundtrip(s, b"a%d\n" % i)
            for i, s in enumerate(sb):
                roundtrip(s, b"xxb%d\n" % i, b"b%d\n" % i)

        check_all()
        for text in confs[1:]:
            m = d.reload(text)
            assert m.group(1) == "configuration reloaded", m.group(0)
            assert m.group(2).endswith(", 20 sessions kept"), m.group(0)
            check_all()
        assert not d.log_matches(r" closed \("), "a reload closed a session"
        assert d.proc.poll() is None
        for s in sa + sb:
            s.close()


def test_rapid_sighups():
    port = free_port()
    with Echod(conf(_raw("a", port))) as d:
        for _ in range(2):
            d.kill(signal.SIGHUP)
        i, _ = d.wait_notify_at(r"^RELOADING=1$")
        d.wait_notify(r"^READY=1$", since=i + 1)
        s = connect(port)
        roundtrip(s, b"after two HUPs")
        s.close()


tap.main(globals())
