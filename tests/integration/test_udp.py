#!/usr/bin/python3
"""UDP echo (echod.conf(5), UDP; issue 6): echo, strip, the reflection guard,
the per-source rate limit, size limits, IPv6, the reply's source address,
socket activation and reload."""

import contextlib
import os
import select
import socket
import time

import tap
from echodtest import (Echod, assert_silent, conf, free_port, have_ipv6,
                       listener, wait_until)

DEADLINE = 10.0


def _free_udp_port():
    """A port free for TCP (the harness's bookkeeping) and for UDP on
    every address."""
    for _ in range(50):
        port = free_port()
        fam = socket.AF_INET6 if have_ipv6() else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        try:
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                s.bind(("::", port))
            else:
                s.bind(("0.0.0.0", port))
        except OSError:
            continue
        finally:
            s.close()
        return port
    raise RuntimeError("no free UDP port")


def _udp(name, port, address="127.0.0.1", **keys):
    return listener(name, port, address=address, protocol="udp", **keys)


def _client(host="127.0.0.1", port=0):
    """A datagram socket bound to host:port (0: any port)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((host, port))
    return s


def _recv(s, timeout=DEADLINE):
    """One datagram and its source, or AssertionError."""
    r, _, _ = select.select([s], [], [], timeout)
    assert r, "no datagram within %.1f s" % timeout
    return s.recvfrom(70000)


def _echo(s, data, dest, expect=None):
    """Send data to dest; the reply must be expect (default data) and
    come from dest."""
    if expect is None:
        expect = data
    s.sendto(data, dest)
    got, src = _recv(s)
    assert got == expect, "sent %r, expected %r, got %r" % (
        data[:40], expect[:40], got[:40])
    assert src[:2] == dest[:2], "reply from %r, sent to %r" % (src, dest)
    return got


def _drain(s, quiet=0.5):
    """Every datagram that arrives until quiet seconds pass without one."""
    got = []
    while True:
        r, _, _ = select.select([s], [], [], quiet)
        if not r:
            return got
        got.append(s.recv(70000))


def _drops(d, since=0):
    """The drop entry's counts: total, rate, port, address, size, send.
    A tick may fall between two datagrams sent together, so exact totals
    are checked on STATUS= (_wait_dropped), causes here."""
    m = d.wait_log(r"^\w+: dropped (\d+) UDP datagrams: (\d+) over the "
                   r"rate limit, (\d+) from ports below 1024, (\d+) from "
                   r"or to broadcast or multicast addresses, (\d+) too "
                   r"large, (\d+) not sent, \d+ not STAMP test packets; "
                   r"answered \d+ STAMP test packets statelessly, "
                   r"without session room$", since=since)
    return tuple(int(x) for x in m.groups())


def _wait_dropped(d, n):
    """STATUS= reports n datagrams dropped in all."""
    d.wait_notify(r"; %d datagrams dropped$" % n)


def test_echo():
    port = _free_udp_port()
    with Echod(conf(_udp("u", port))) as d:
        s = _client()
        dest = ("127.0.0.1", port)
        _echo(s, b"hello", dest)
        _echo(s, b"", dest)
        _echo(s, bytes(range(256)) * 4, dest)
        _echo(s, b"\n\r\n\0", dest)
        # the default max_datagram (8192) is allowed, whole
        _echo(s, os.urandom(8192), dest)
        # each datagram is its own message, in order
        for i in range(20):
            s.sendto(b"msg %d" % i, dest)
        assert [_recv(s)[0] for _ in range(20)] == \
            [b"msg %d" % i for i in range(20)]
        s.close()
        # the start entry names the protocol
        d.wait_log(r"serving 1 listener \(u udp 127\.0\.0\.1:%d\)" % port)


def test_strip():
    port, rport = _free_udp_port(), _free_udp_port()
    with Echod(conf(_udp("strip", port, strip=[{"bytes": 2}]),
                    _udp("re", rport, strip=[{"regex": "[0-9]+: *"},
                                             {"prefix": "x"}]))):
        s = _client()
        dest = ("127.0.0.1", port)
        _echo(s, b"1234567", dest, b"34567")
        # stripped to nothing: an empty datagram comes back
        _echo(s, b"ab", dest, b"")
        _echo(s, b"a", dest, b"")
        _echo(s, b"", dest, b"")
        # per datagram: every one loses its own first two bytes
        _echo(s, b"12ab\n12cd\n", dest, b"ab\n12cd\n")
        dest = ("127.0.0.1", rport)
        _echo(s, b"42: xhello", dest, b"hello")
        _echo(s, b"hello", dest, b"hello")
        _echo(s, b"7:x", dest, b"")
        s.close()


def test_reflection_guard():
    port = _free_udp_port()
    with Echod(conf(_udp("u", port, address="::"))) as d:
        dest = ("127.0.0.1", port)
        services = []

        def bind_services():
            # Another run of this test (another build's suite on the
            # same machine) holds these ports for a moment: wait for at
            # least 3 of them rather than fail.
            for p in (7, 13, 17, 19, 1023):
                if any(s.getsockname()[1] == p for s in services):
                    continue
                try:
                    services.append(_client("127.0.0.1", p))
                except PermissionError:
                    tap.skip("binding a port below 1024 needs root")
                except OSError:
                    pass        # taken by something else: fine
            return len(services) >= 3

        try:
            wait_until(bind_services, DEADLINE, "3 service ports to bind",
                       step=0.1)
        except AssertionError:
            raise AssertionError("could not bind service ports: only %r"
                                 % [s.getsockname()[1] for s in services])
        mark = d.log_mark()
        for s in services:
            s.sendto(b"loop?", dest)
        # A normal port is answered; the socket is read in order, so by
        # then every datagram from a service port has been looked at.
        normal = _client()
        _echo(normal, b"fine", dest)
        for s in services:
            assert_silent(s)
            s.close()
        normal.close()
        total, rate, ports, addr, size, send = _drops(d, mark)
        assert ports >= 1 and total == ports, \
            "drop entry: %r" % ((total, rate, ports, addr, size, send),)
        _wait_dropped(d, len(services))


def test_broadcast_destination():
    port = _free_udp_port()
    with Echod(conf(_udp("u", port, address="0.0.0.0"))) as d:
        s = _client()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        mark = d.log_mark()
        try:
            s.sendto(b"everyone", ("127.255.255.255", port))
        except OSError as e:
            tap.skip("no broadcast route on lo: %s" % e)
        _echo(s, b"me", ("127.0.0.1", port))
        assert_silent(s)
        total, rate, ports, addr, size, send = _drops(d, mark)
        assert (total, addr) == (1, 1), (total, addr)
        s.close()


def test_rate_limit():
    port = _free_udp_port()
    rate, burst, extra = 1, 40, 50
    with Echod(conf(_udp("u", port, udp_rate=rate, udp_burst=burst))) as d:
        dest = ("127.0.0.1", port)
        s = _client()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        mark = d.log_mark()
        start = time.monotonic()
        for i in range(burst + extra):
            s.sendto(b"%d" % i, dest)
        got = _drain(s)
        elapsed = time.monotonic() - start
        # Tokens that refilled while the test ran may add a few.
        allowed = burst + int(elapsed * rate)
        assert burst <= len(got) <= allowed, \
            "%d replies, expected %d..%d" % (len(got), burst, allowed)
        assert got[:burst] == [b"%d" % i for i in range(burst)]
        total, limited, _, _, _, _ = _drops(d, mark)
        assert limited == total >= 1, (total, limited)
        _wait_dropped(d, burst + extra - len(got))
        # Another source address has its own bucket.
        other = _client("127.0.0.2")
        _echo(other, b"me too", dest)
        other.close()
        # The drained one gets its next reply when a token has refilled,
        # 1/rate s after the burst emptied the bucket, not before.
        while True:
            s.sendto(b"again", dest)
            r, _, _ = select.select([s], [], [], 0.1)
            if r:
                break
            assert time.monotonic() - start < 3.0, "no token after 3 s"
        waited = time.monotonic() - start
        assert s.recv(100) == b"again"
        assert waited >= 0.9 / rate, "a token after %.2f s" % waited
        s.close()


def test_oversized():
    port = _free_udp_port()
    with Echod(conf(_udp("u", port, max_datagram=100))) as d:
        dest = ("127.0.0.1", port)
        s = _client()
        mark = d.log_mark()
        _echo(s, b"x" * 100, dest)
        s.sendto(b"y" * 101, dest)
        s.sendto(b"z" * 60000, dest)
        _echo(s, b"small", dest)
        assert_silent(s)
        total, _, _, _, size, _ = _drops(d, mark)
        assert size == total >= 1, (total, size)
        _wait_dropped(d, 2)
        s.close()


def test_ipv6():
    if not have_ipv6():
        tap.skip("no IPv6 on loopback")
    port, wport = _free_udp_port(), _free_udp_port()
    with Echod(conf(_udp("v6", port, address="::1"),
                    _udp("any", wport, address="::"))):
        s = _client("::1")
        _echo(s, b"six", ("::1", port))
        _echo(s, b"", ("::1", port))
        _echo(s, b"dual", ("::1", wport))
        s.close()
        # the wildcard listener answers IPv4 too, from an IPv4 address
        s = _client()
        _echo(s, b"four", ("127.0.0.1", wport))
        s.close()


def test_reply_source_address():
    # The reply must come from the address the request was sent to, or
    # a client (or NAT) waiting for it drops it.  On a wildcard socket
    # the kernel would pick 127.0.0.1 for all of these.
    port, port4 = _free_udp_port(), _free_udp_port()
    listeners = [_udp("v4any", port4, address="0.0.0.0")]
    if have_ipv6():
        listeners.append(_udp("any", port, address="::"))
    with Echod(conf(*listeners)):
        s = _client("127.0.0.1")
        for host in ("127.0.0.2", "127.0.0.3", "127.1.2.3"):
            _echo(s, host.encode(), (host, port4))
            if have_ipv6():
                _echo(s, host.encode(), (host, port))
        s.close()


@contextlib.contextmanager
def _activated_udp(conf_text, port, first):
    """echod under systemd-socket-activate with one datagram socket on
    127.0.0.1:port.  It starts echod when the first datagram arrives, so
    that one is sent first (and is the first echod answers).  Yields
    (daemon, client socket).  The harness's `activate` knows only stream
    sockets; its ECHOD_WRAPPER hook puts the activator in front (and
    valgrind, if set, inside)."""
    wrap = "systemd-socket-activate --datagram -l 127.0.0.1:%d " \
        "-E NOTIFY_SOCKET" % port
    old = os.environ.get("ECHOD_WRAPPER")
    with contextlib.ExitStack() as stack:
        os.environ["ECHOD_WRAPPER"] = wrap + (" " + old if old else "")
        try:
            d = stack.enter_context(Echod(conf_text, ready=False))
        finally:
            if old is None:
                del os.environ["ECHOD_WRAPPER"]
            else:
                os.environ["ECHOD_WRAPPER"] = old
        d.wait_log(r"^Listening on 127\.0\.0\.1:%d as \d+\.$" % port)
        s = _client()
        s.sendto(first, ("127.0.0.1", port))
        d.wait_notify(r"^READY=1$")
        try:
            yield d, s
        finally:
            s.close()


def test_socket_activation():
    port = _free_udp_port()
    with _activated_udp(conf(_udp("act", port, strip=[{"bytes": 1}],
                                  udp_burst=5, udp_rate=1)),
                        port, b"1knock") as (d, s):
        # the knock was queued before echod ran: answered too
        assert _recv(s)[0] == b"knock"
        # matched by protocol and port: the listener's settings apply
        _echo(s, b"2hello", ("127.0.0.1", port), b"hello")
        d.wait_log(r"serving 1 listener \(act udp 127\.0\.0\.1:%d\)" % port)
        assert not d.log_matches(r"matches no listener")
        # the listener's rate limit too: never more than its burst
        for _ in range(10):
            s.sendto(b"xx", ("127.0.0.1", port))
        assert 1 <= len(_drain(s)) <= 5


def test_socket_activation_unmatched():
    port, tport = _free_udp_port(), free_port()
    with _activated_udp(conf(listener("tcp", tport, address="127.0.0.1")),
                        port, b"knock") as (d, s):
        d.wait_log(r"passed socket .* matches no listener; serving it as "
                   r"plain echo")
        assert _recv(s)[0] == b"knock"
        _echo(s, b"plain", ("127.0.0.1", port))
        # the safety settings still apply
        try:
            s2 = _client("127.0.0.1", 7)
        except OSError:
            s2 = None
        if s2 is not None:
            s2.sendto(b"loop?", ("127.0.0.1", port))
            _echo(s, b"sync", ("127.0.0.1", port))
            assert_silent(s2)
            s2.close()


def test_reload():
    port, gone = _free_udp_port(), _free_udp_port()
    text = conf(_udp("u", port, strip=[{"bytes": 1}]), _udp("gone", gone))
    with Echod(text) as d:
        s = _client()
        dest = ("127.0.0.1", port)
        _echo(s, b"1abc", dest, b"abc")
        _echo(s, b"x", ("127.0.0.1", gone))
        m = d.reload(conf(_udp("u", port, strip=[{"bytes": 2}])))
        assert m.group(1) == "configuration reloaded", m.group(0)
        # same socket, new settings for new datagrams
        _echo(s, b"12abc", dest, b"abc")
        # the removed listener's port is free again
        wait_until(lambda: _bindable(gone), what="port %d freed" % gone)
        # a reload that cannot bind changes nothing
        blocker = _client("127.0.0.1", gone)
        m = d.reload(conf(_udp("u", port), _udp("gone", gone)))
        assert m.group(1) == "reload rejected", m.group(0)
        _echo(s, b"12abc", dest, b"abc")
        blocker.close()
        s.close()


def _bindable(port):
    try:
        _client("127.0.0.1", port).close()
        return True
    except OSError:
        return False


def test_port_in_use():
    # A UDP port held by another socket must fail the start (exit 2),
    # not be shared silently (SO_REUSEADDR would allow that for UDP).
    port = _free_udp_port()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # as another echod would if echod set SO_REUSEADDR on UDP
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", port))
    with Echod(conf(_udp("u", port)), ready=False) as d:
        assert d.wait_exit() == 2
        d.wait_log(r"cannot listen on u \(udp 127\.0\.0\.1:%d\): Address "
                   r"already in use" % port)
    blocker.close()


def test_drop_entry_once_a_minute():
    port = _free_udp_port()
    with Echod(conf(_udp("u", port, udp_rate=1, udp_burst=1))) as d:
        dest = ("127.0.0.1", port)
        s = _client()
        for _ in range(5):
            s.sendto(b"x", dest)
        first = _drops(d)
        assert first[0] == first[1] >= 1, first
        _wait_dropped(d, 4)
        for _ in range(3):
            s.sendto(b"y", dest)
        # At most one of them finds a token again.  The tick that puts
        # the new count in STATUS= has run the drop log before.
        wait_until(lambda: d.notify_matches(r"; [67] datagrams dropped$"),
                   what="STATUS= with the new drops")
        entries = d.log_matches(r"dropped \d+ UDP datagrams")
        assert len(entries) == 1, [e.group(0) for e in entries]
        s.close()


tap.main(globals())
