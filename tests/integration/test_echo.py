#!/usr/bin/python3
"""Plain echo on raw listeners: binary data, both address families, many
clients at once, half-close, and the byte counts of the close entry."""

import os
import random
import selectors
import socket
import struct
import threading
import time

import tap
from echodtest import (Echod, conf, connect, free_port, have_ipv6, listener,
                       local_port, recv_until_eof, roundtrip, server_sockopt)


def _binary(n):
    """n random bytes, sure to contain NUL, CR, LF and CR LF."""
    data = bytearray(os.urandom(n))
    for i in range(0, n, 4099):
        data[i:i + 4] = b"\0\r\n\r"
    return bytes(data)


def test_large_binary_echoed_exactly():
    port = free_port()
    data = _binary(4 << 20)
    with Echod(conf(listener("echo", port, address="127.0.0.1"))) as d:
        s = connect(port)
        errors = []

        def send():
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            except OSError as e:
                errors.append(e)

        t = threading.Thread(target=send, daemon=True)
        t.start()
        got = recv_until_eof(s, 30)
        t.join(10)
        assert not errors, errors
        assert len(got) == len(data), "%d of %d bytes back" % (
            len(got), len(data))
        assert got == data, "first difference at byte %d" % next(
            i for i in range(len(data)) if got[i] != data[i])
        m = d.wait_closed_entry(local_port(s), "echo", "eof")
        assert int(m.group(2)) == len(data), m.group(0)
        assert int(m.group(3)) == len(data), m.group(0)
        s.close()


def test_dual_stack_listener():
    if not have_ipv6():
        tap.skip("no IPv6 on loopback")
    port = free_port()
    with Echod(conf(listener("echo", port, address="::"))) as d:
        for host in ("127.0.0.1", "::1"):
            s = connect(port, host)
            msg = ("hello over %s\n" % host).encode()
            roundtrip(s, msg)
            p = local_port(s)
            s.close()
            if host == "::1":
                rx = r"^\w+: connection from \[::1\]:%d on echo$" % p
            else:
                # IPv4 peers of a dual-stack socket are logged as IPv4,
                # not as ::ffff:127.0.0.1
                rx = r"^\w+: connection from 127\.0\.0\.1:%d on echo$" % p
            d.wait_log(rx)
            m = d.wait_closed_entry(p, "echo", "eof")
            assert int(m.group(2)) == len(msg), m.group(0)


def test_200_concurrent_clients():
    port = free_port()
    n = 200
    with Echod(conf(listener("echo", port, address="127.0.0.1"),
                    log_rate=100000)) as d:
        sel = selectors.DefaultSelector()
        clients = []
        for i in range(n):
            s = connect(port)
            msg = ("%04d:" % i).encode() + os.urandom(random.randint(
                1, 20000))
            clients.append({"s": s, "out": msg, "sent": 0,
                            "got": bytearray(), "msg": msg})
        # Every client is connected before any sends: 200 sessions at once.
        for c in clients:
            c["s"].setblocking(False)
            sel.register(c["s"], selectors.EVENT_READ |
                         selectors.EVENT_WRITE, c)
        done = 0
        end = time.monotonic() + 30
        while done < n:
            assert time.monotonic() < end, "%d of %d clients done" % (done, n)
            for key, ev in sel.select(1):
                c = key.data
                if ev & selectors.EVENT_WRITE and c["sent"] < len(c["out"]):
                    c["sent"] += c["s"].send(c["out"][c["sent"]:])
                    if c["sent"] == len(c["out"]):
                        sel.modify(c["s"], selectors.EVENT_READ, c)
                if ev & selectors.EVENT_READ:
                    chunk = c["s"].recv(65536)
                    assert chunk, "client %s closed early" % c["msg"][:5]
                    c["got"] += chunk
                    assert len(c["got"]) <= len(c["msg"]), \
                        "client %s got too much" % c["msg"][:5]
                    if len(c["got"]) == len(c["msg"]):
                        sel.unregister(c["s"])
                        done += 1
        for c in clients:
            assert bytes(c["got"]) == c["msg"], \
                "client %s got another client's or wrong bytes" % (
                    c["msg"][:5])
            c["s"].close()
        sel.close()
        d.wait_log(r"^\w+: connection from 127\.0\.0\.1:\d+ on echo$")


def test_half_close_returns_everything_then_eof():
    port = free_port()
    data = _binary(1 << 20)
    with Echod(conf(listener("echo", port, address="127.0.0.1"))) as d:
        s = connect(port)
        s.sendall(data[:1000])
        # Some of the reply is surely in flight when we half-close.
        t = threading.Thread(target=lambda: (s.sendall(data[1000:]),
                                             s.shutdown(socket.SHUT_WR)),
                             daemon=True)
        t.start()
        got = recv_until_eof(s, 30)
        t.join(10)
        assert got == data, "%d of %d bytes back before close" % (
            len(got), len(data))
        m = d.wait_closed_entry(local_port(s), "echo", "eof")
        assert (int(m.group(2)), int(m.group(3))) == (len(data), len(data)), \
            m.group(0)
        s.close()


def test_close_entry_counts_and_open_entry():
    port = free_port()
    with Echod(conf(listener("echo", port, address="127.0.0.1"))) as d:
        s = connect(port)
        p = local_port(s)
        d.wait_log(r"^\w+: connection from 127\.0\.0\.1:%d on echo$" % p)
        total = 0
        for k in (1, 10, 100, 1000, 9):
            roundtrip(s, b"x" * k)
            total += k
        s.shutdown(socket.SHUT_WR)
        assert recv_until_eof(s) == b""
        m = d.wait_closed_entry(p, "echo")
        assert m.group(1) == "eof", m.group(0)
        assert int(m.group(2)) == total and int(m.group(3)) == total, \
            m.group(0)
        assert 0 <= float(m.group(4)) < 30, m.group(0)
        s.close()
        # and exactly one close entry for that session
        assert len(d.log_matches(r"connection from 127\.0\.0\.1:%d on echo "
                                 r"closed" % p)) == 1


def test_replies_are_never_held_for_nagle():
    """Every accepted socket has TCP_NODELAY: the first of a listener's
    (where echod learns whether the kernel copies it from the listening
    socket) and the ones after it, over IPv4 and IPv6."""
    port = free_port()
    text = conf(listener("echo", port, address="::" if have_ipv6()
                         else "127.0.0.1"))
    with Echod(text) as d:
        hosts = ["127.0.0.1"] + (["::1"] if have_ipv6() else [])
        for host in hosts:
            for i in range(3):
                s = connect(port, host)
                roundtrip(s, b"x")
                assert server_sockopt(d.proc.pid, s, socket.IPPROTO_TCP,
                                      socket.TCP_NODELAY) != 0, \
                    "connection %d from %s without TCP_NODELAY" % (i, host)
                s.close()


def test_reset_by_client_is_not_fatal():
    port = free_port()
    with Echod(conf(listener("echo", port, address="127.0.0.1"))) as d:
        s = connect(port)
        s.sendall(b"x" * 100000)
        p = local_port(s)
        # RST with replies in flight: the daemon must survive (SIGPIPE).
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.close()
        d.wait_closed_entry(p, "echo")
        s = connect(port)
        roundtrip(s, b"still alive\n")
        s.close()


tap.main(globals())
