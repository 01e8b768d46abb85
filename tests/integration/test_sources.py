#!/usr/bin/python3
"""Per-source limits (echod.conf(5) PER-SOURCE LIMITS): open connections
and new ones a second of one source, global and per listener, sources cut
to source_prefix; over a limit a connection is closed at once with no
entry of its own, one warning a second counts them, and a source that
left is forgotten.  Clients choose their loopback source address
(127.0.0.x) to be distinct sources."""

import socket

import tap
from echodtest import (Echod, conf, free_port, listener, local_port,
                       wait_until)


def connect_from(src, port, timeout=10):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(src, 0))


def served(s, tag):
    """Whether s is echoed (True) or closed at once (False)."""
    try:
        s.sendall(b"%s\n" % tag)
        got = b""
        while not got.endswith(b"\n"):
            b = s.recv(100)
            if not b:
                return False
            got += b
    except (ConnectionResetError, BrokenPipeError):
        return False
    assert got == b"%s\n" % tag, got
    return True


def test_open_connections_per_source():
    """max_connections_per_source = 2: a third connection of a source is
    closed, another source is served, and after one of the first two
    closes the source may connect again."""
    port = free_port()
    with Echod(conf(listener("a", port, address="127.0.0.1"),
                    max_connections_per_source=2)) as d:
        a = [connect_from("127.0.0.2", port) for _ in range(2)]
        for i, s in enumerate(a):
            assert served(s, b"a%d" % i)
        third = connect_from("127.0.0.2", port)
        assert not served(third, b"a2"), "third connection served"
        b = connect_from("127.0.0.3", port)
        assert served(b, b"b0")
        d.wait_log(r"^warning: refused 1 connection over a per-source "
                   r"limit; the last: 127\.0\.0\.2 on a: "
                   r"max_connections_per_source$")
        assert not d.log_matches(r"connection from 127\.0\.0\.2:%d "
                                 % local_port(third)), \
            "a refused connection has entries"
        p = local_port(a[0])
        a[0].close()
        d.wait_closed_entry(p, "a", host="127.0.0.2")
        again = connect_from("127.0.0.2", port)
        assert served(again, b"again")
        for s in a[1:] + [b, again, third]:
            s.close()


def test_listener_limit_and_global_limit():
    """A listener's own limit counts on it alone; the global one over
    every listener."""
    p1, p2 = free_port(), free_port()
    with Echod(conf(listener("one", p1, address="127.0.0.1",
                             max_connections_per_source=1),
                    listener("two", p2, address="127.0.0.1"),
                    max_connections_per_source=3)):
        x = connect_from("127.0.0.4", p1)
        assert served(x, b"x")
        y = connect_from("127.0.0.4", p1)
        assert not served(y, b"y"), "listener limit not applied"
        z = [connect_from("127.0.0.4", p2) for _ in range(2)]
        for i, s in enumerate(z):
            assert served(s, b"z%d" % i)
        w = connect_from("127.0.0.4", p2)
        assert not served(w, b"w"), "global limit not applied"
        for s in [x, y, w] + z:
            s.close()


def test_source_prefix_groups_a_network():
    """source_prefix = [ 24, 64 ]: 127.0.0.5 and 127.0.0.6 are one
    source; 127.0.1.5 another."""
    port = free_port()
    with Echod(conf(listener("a", port, address="127.0.0.1"),
                    max_connections_per_source=1,
                    source_prefix=[24, 64])):
        s1 = connect_from("127.0.0.5", port)
        assert served(s1, b"1")
        s2 = connect_from("127.0.0.6", port)
        assert not served(s2, b"2"), "the /24 was not one source"
        s3 = connect_from("127.0.1.5", port)
        assert served(s3, b"3")
        for s in (s1, s2, s3):
            s.close()


def test_new_connections_a_second():
    """max_new_connections_per_source = 1 with a burst of 3: the first
    three connections in a row are served, the fourth is not, and
    another source is not limited by the first."""
    port = free_port()
    with Echod(conf(listener("a", port, address="127.0.0.1",
                             max_new_connections_per_source=1,
                             new_connections_burst=3))) as d:
        got = []
        for i in range(4):
            s = connect_from("127.0.0.7", port)
            got.append(served(s, b"%d" % i))
            s.close()
        assert got == [True, True, True, False], got
        s = connect_from("127.0.0.8", port)
        assert served(s, b"other")
        s.close()
        d.wait_log(r"the last: 127\.0\.0\.7 on a: "
                   r"max_new_connections_per_source$")
        # The bucket refills at one a second.
        def refilled():
            c = connect_from("127.0.0.7", port)
            ok = served(c, b"later")
            c.close()
            return ok
        wait_until(refilled, timeout=5, what="a token a second later",
                   step=0.3)


def test_reload_sets_a_limit():
    """A reload that sets a limit applies it to new connections; sessions
    open before keep going."""
    port = free_port()
    base = listener("a", port, address="127.0.0.1")
    with Echod(conf(base)) as d:
        old = [connect_from("127.0.0.9", port) for _ in range(3)]
        for i, s in enumerate(old):
            assert served(s, b"old%d" % i)
        d.reload(conf(base, max_connections_per_source=1))
        # One after the other: two workers could take them in any order.
        n1 = connect_from("127.0.0.9", port)
        assert served(n1, b"n1")
        n2 = connect_from("127.0.0.9", port)
        assert not served(n2, b"n2")
        for i, s in enumerate(old):
            assert served(s, b"still%d" % i)
        for s in old + [n1, n2]:
            s.close()


tap.main(globals())
