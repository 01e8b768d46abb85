#!/usr/bin/python3
"""The PROXY protocol receiver (echod.conf(5) proxy_protocol, proxy_from,
proxy_timeout; echod(8) BEHIND A LOAD BALANCER), with headers built here
byte by byte from HAProxy's proxy-protocol.txt: the client they carry is
the session's, nothing is echoed before a whole valid header, the header
never is, and every malformed shape closes with nothing sent back.
tests/integration/test_haproxy.py proves the same against HAProxy."""

import ipaddress
import os
import socket
import struct
import time

import tap
from echodtest import (Echod, conf, connect, free_port, have_ipv6, listener,
                       local_port, recv_until_eof, roundtrip)

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src, dst, sport, dport):
    fam = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport,
                                          dport)).encode()


def v2(src=None, dst=None, sport=0, dport=0, command=1, tlvs=b"",
       family=None):
    """A v2 header; src None: LOCAL (or family as given)."""
    if src is None:
        body = tlvs
        fam = family if family is not None else 0x00
    elif ":" in src:
        body = (ipaddress.IPv6Address(src).packed +
                ipaddress.IPv6Address(dst).packed +
                struct.pack("!HH", sport, dport) + tlvs)
        fam = 0x21
    else:
        body = (ipaddress.IPv4Address(src).packed +
                ipaddress.IPv4Address(dst).packed +
                struct.pack("!HH", sport, dport) + tlvs)
        fam = 0x11
    return SIG + bytes([0x20 | command, fam]) + struct.pack(
        "!H", len(body)) + body


def proxied(port, version="any", **keys):
    keys.setdefault("proxy_from", ["127.0.0.0/8", "::1"])
    return listener("p", port, address="127.0.0.1", proxy_protocol=version,
                    **keys)


def served_as(d, client, via_port, timeout=10):
    """The open entry naming client (a:p) via the balancer's port."""
    return d.wait_log(r"^\w+: connection from %s via 127\.0\.0\.1:%d on p$"
                      % (client.replace(".", r"\.").replace("[", r"\[")
                         .replace("]", r"\]"), via_port), timeout)


def assert_refused_silently(s, what):
    """echod sends nothing and closes; returns the client's port."""
    port = local_port(s)
    got = recv_until_eof(s, timeout=10)
    assert got == b"", "%s: echod sent %r" % (what, got)
    s.close()
    return port


def test_v1_and_v2_carry_the_client():
    """Each version names the client in the open and close entries (and
    the balancer: "via"), and echoes byte-exact what follows."""
    port = free_port()
    with Echod(conf(proxied(port))) as d:
        for hdr, client in (
                (v1("192.0.2.7", "127.0.0.1", 40112, port),
                 "192.0.2.7:40112"),
                (v1("2001:db8::5", "::1", 5000, port), "[2001:db8::5]:5000"),
                (v2("198.51.100.9", "127.0.0.1", 65535, port),
                 "198.51.100.9:65535"),
                (v2("2001:db8::77", "::1", 1, port), "[2001:db8::77]:1"),
                # IPv4-mapped: shown, and counted, as IPv4.
                (v2("::ffff:203.0.113.4", "::1", 7, port),
                 "203.0.113.4:7")):
            s = connect(port)
            data = os.urandom(5000)
            s.sendall(hdr)
            roundtrip(s, data)
            p = local_port(s)
            served_as(d, client, p)
            s.close()
            d.wait_log(r"^\w+: connection from %s via 127\.0\.0\.1:%d on p "
                       r"closed \(eof\): 5000 bytes in, 5000 out"
                       % (client.replace(".", r"\.").replace("[", r"\[")
                          .replace("]", r"\]"), p))


def test_header_and_payload_in_one_packet():
    """What follows the header in the same segment is echoed at once."""
    port = free_port()
    with Echod(conf(proxied(port, "v2"))) as d:
        s = connect(port)
        s.sendall(v2("192.0.2.1", "127.0.0.1", 1234, port) + b"same packet")
        got = b""
        while len(got) < 11:
            got += s.recv(100)
        assert got == b"same packet", got
        served_as(d, "192.0.2.1:1234", local_port(s))
        s.close()


def test_header_split_at_every_byte():
    """A header arriving one byte at a time (TCP_NODELAY, a pause between
    sends so each is its own segment) is taken whole; nothing comes back
    before its last byte."""
    port = free_port()
    with Echod(conf(proxied(port))) as d:
        for hdr in (v1("192.0.2.33", "127.0.0.1", 4000, port),
                    v2("192.0.2.34", "127.0.0.1", 4001, port,
                       tlvs=b"\x04\x00\x03abc")):
            s = connect(port)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for b in hdr:
                s.send(bytes([b]))
                time.sleep(0.002)
            roundtrip(s, b"after the header\n")
            s.close()
        d.wait_log(r"connection from 192\.0\.2\.33:4000 via")
        d.wait_log(r"connection from 192\.0\.2\.34:4001 via")


def test_local_and_unknown_are_the_balancer_s_own():
    """v2 LOCAL (HAProxy's health checks) and v1 UNKNOWN are taken; the
    session is the connection's own, with no "via"."""
    port = free_port()
    with Echod(conf(proxied(port))) as d:
        for hdr in (v2(command=0), v2(command=0, family=0x11,
                                     tlvs=b"\x00" * 12),
                    b"PROXY UNKNOWN\r\n",
                    b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"):
            s = connect(port)
            s.sendall(hdr)
            roundtrip(s, b"health\n")
            d.wait_log(r"^\w+: connection from 127\.0\.0\.1:%d on p$"
                       % local_port(s))
            s.close()


def test_reset_right_after_the_header():
    """A header, then at once a reset (HAProxy's checks do so): the
    session ends then, not at its idle timeout.  Both may come in one
    wake-up of the edge-triggered read event."""
    port = free_port()
    with Echod(conf(proxied(port))) as d:
        for local in (True, False):
            s = connect(port)
            p = local_port(s)
            # v1 as HAProxy's checks send it: the check's own endpoints.
            hdr = v2(command=0) if local else v1("127.0.0.1", "127.0.0.1",
                                                 p, port)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            s.sendall(hdr)
            s.close()
            m = d.wait_closed_entry(p, "p", timeout=5)
            assert m.group(1) in ("eof", "error"), m.group(0)


def test_malformed_headers_get_nothing():
    """Every malformed shape: nothing is echoed, the connection closes,
    its close entry says proxy-error, and a warning counts them."""
    port = free_port()
    bad = [
        b"GET / HTTP/1.0\r\n\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",             # LF without CR
        b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",          # two spaces
        b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",          # leading zero
        b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",          # port 01
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",       # port range
        b"PROXY TCP4 ::1 ::1 1 2\r\n",                   # family
        b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 extra\r\n",
        b"PROXY " + b"x" * 120,                          # no CRLF in 107
        SIG[:11] + b"X" + b"\x21\x11\x00\x0c" + b"\x00" * 12,  # signature
        SIG + b"\x11\x11\x00\x0c" + b"\x00" * 12,        # version 1
        SIG + b"\x22\x11\x00\x0c" + b"\x00" * 12,        # command 2
        SIG + b"\x21\x12\x00\x0c" + b"\x00" * 12,        # DGRAM
        SIG + b"\x21\x41\x00\x0c" + b"\x00" * 12,        # family 4
        SIG + b"\x21\x11\x00\x08" + b"\x00" * 8,         # short addresses
        SIG + b"\x21\x11\xff\xff" + b"\x00" * 64,        # past the budget
        v2("1.2.3.4", "5.6.7.8", 1, 2, tlvs=b"\x04\x00\x09abc"),  # TLV
    ]
    with Echod(conf(proxied(port))) as d:
        for hdr in bad:
            s = connect(port)
            s.sendall(hdr + b"payload that must not come back\n")
            p = assert_refused_silently(s, repr(hdr))
            d.wait_closed_entry(p, "p", "proxy-error")
        d.wait_log(r"^warning: closed \d+ connections? for their PROXY "
                   r"header; the last: from 127\.0\.0\.1:\d+ on p: ")


def test_version_the_listener_does_not_take():
    """A v1 listener refuses v2 headers and the other way round."""
    port1, port2 = free_port(), free_port()
    with Echod(conf(proxied(port1, "v1"), listener(
            "q", port2, address="127.0.0.1", proxy_protocol="v2",
            proxy_from=["127.0.0.1"]))) as d:
        s = connect(port1)
        s.sendall(v2("1.2.3.4", "5.6.7.8", 1, 2) + b"x\n")
        assert_refused_silently(s, "v2 on a v1 listener")
        s = connect(port2)
        s.sendall(v1("1.2.3.4", "5.6.7.8", 1, 2) + b"x\n")
        p = assert_refused_silently(s, "v1 on a v2 listener")
        d.wait_closed_entry(p, "q", "proxy-error")


def test_missing_header_times_out():
    """A client that sends nothing, or half a header, is closed after
    proxy_timeout as proxy-error; one that closes at once without a
    byte (a port check) is eof, with no warning."""
    port = free_port()
    with Echod(conf(proxied(port, proxy_timeout=0.5))) as d:
        quiet = connect(port)
        half = connect(port)
        half.sendall(b"PROXY TCP4 1.2.3.4 ")
        t0 = time.monotonic()
        assert_refused_silently(quiet, "no header")
        p = assert_refused_silently(half, "half a header")
        waited = time.monotonic() - t0
        assert 0.3 < waited < 5, "closed after %.2f s" % waited
        d.wait_closed_entry(p, "p", "proxy-error")
        check = connect(port)
        p = local_port(check)
        check.close()
        d.wait_closed_entry(p, "p", "eof")
        # A check that resets instead (SO_LINGER 0) is a check too.
        check = connect(port)
        p = local_port(check)
        check.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        check.close()
        d.wait_closed_entry(p, "p", "eof")


def test_only_proxy_from_may_connect():
    """A peer outside proxy_from is closed at once, with one warning that
    names it; one inside is served."""
    port = free_port()
    with Echod(conf(listener("p", port, address="127.0.0.1",
                             proxy_protocol="v1",
                             proxy_from=["127.0.0.2/32", "::1"]))) as d:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(v1("192.0.2.1", "127.0.0.1", 1, port) + b"x\n")
        assert_refused_silently(s, "not in proxy_from")
        d.wait_log(r"^warning: refused 1 connection on p: not from "
                   r"proxy_from \(the last from 127\.0\.0\.1:\d+\)$")
        # Two in a second: the warning names the last one.
        mark = d.log_mark()
        for src in ("127.0.0.3", "127.0.0.4"):
            s = socket.create_connection(("127.0.0.1", port), timeout=10,
                                         source_address=(src, 0))
            assert_refused_silently(s, "from %s" % src)
        # (Both in one second's warning, or each in its own.)
        d.wait_log(r"^warning: refused [12] connections? on p: not from "
                   r"proxy_from \(the last from 127\.0\.0\.4:\d+\)$",
                   since=mark)
        s = socket.create_connection(("127.0.0.1", port), timeout=10,
                                     source_address=("127.0.0.2", 0))
        s.sendall(v1("192.0.2.1", "127.0.0.1", 1, port))
        roundtrip(s, b"trusted\n")
        s.close()


def cpu_seconds(pid):
    """User and system time of a process so far (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_partial_header_on_a_level_triggered_backend():
    """event_method = "poll": the read event stays ready while half a
    header waits unread; echod looks again now and then, not in a loop
    (a second of waiting costs well under a tenth of a CPU second), and
    the rest of the header, when it comes, is taken."""
    port = free_port()
    with Echod(conf(proxied(port, proxy_timeout=10), workers=1,
                    event_method="poll")) as d:
        waiting = [connect(port) for _ in range(5)]
        for s in waiting:
            s.sendall(b"PROXY TCP4 192.0.2.9 ")
        # Until echod has looked at them all (a first peek each).
        roundtrip(connect(port), v1("192.0.2.1", "127.0.0.1", 1, port) +
                  b"x\n", b"x\n")
        before = cpu_seconds(d.pid)
        t0 = time.monotonic()
        time.sleep(1.0)     # a measurement window, not a synchronisation
        spent = cpu_seconds(d.pid) - before
        assert spent < 0.1 * (time.monotonic() - t0), \
            "%.2f s of CPU in a second with 5 half headers" % spent
        for i, s in enumerate(waiting):
            s.sendall(b"127.0.0.1 %d %d\r\n" % (1000 + i, port))
            roundtrip(s, b"completed %d\n" % i)
            s.close()
        d.wait_log(r"connection from 192\.0\.2\.9:1004 via")


def test_header_is_not_special_elsewhere():
    """On a listener without proxy_protocol a header is data: echoed."""
    port = free_port()
    with Echod(conf(listener("e", port, address="127.0.0.1"))):
        s = connect(port)
        roundtrip(s, v1("1.2.3.4", "5.6.7.8", 1, 2))
        roundtrip(s, v2("1.2.3.4", "5.6.7.8", 1, 2))
        s.close()


def test_ipv6_listener_and_balancer():
    """A balancer connecting over IPv6 is named as such."""
    if not have_ipv6():
        tap.skip("no IPv6 loopback")
    port = free_port()
    with Echod(conf(listener("p", port, address="::1", proxy_protocol="v2",
                             proxy_from=["::1"]))) as d:
        s = connect(port, host="::1")
        s.sendall(v2("192.0.2.8", "192.0.2.9", 999, 7))
        roundtrip(s, b"over v6\n")
        d.wait_log(r"^\w+: connection from 192\.0\.2\.8:999 via "
                   r"\[::1\]:%d on p$" % local_port(s))
        s.close()


tap.main(globals())
