#!/usr/bin/python3
"""reuse_port (echod.conf(5), LISTENERS; echod(8), RESTARTING WITHOUT
DOWNTIME): two echod processes on one port, TCP and UDP; one stops
gracefully while the other serves on; without the key on both sides the
second one fails; a reload that changes it rebinds; a passed socket is
systemd's to set."""

import select
import signal
import socket

import tap
from echodtest import (DEADLINE, Echod, conf, connect, free_port, listener,
                       local_port, roundtrip, wait_until)

# Every session's open entry is how a test tells which process took it.
_LOG_ALL = {"log_rate": 1000000}


def _tcp(port, reuse=True, **keys):
    return listener("echo", port, address="127.0.0.1", reuse_port=reuse,
                    **keys)


def _udp(port, **keys):
    return listener("echo", port, address="127.0.0.1", protocol="udp",
                    reuse_port=True, udp_rate=1000, udp_burst=1000, **keys)


def _listening(port, proto="tcp"):
    """How many sockets of the machine listen on port (TCP, state
    LISTEN) or are bound to it (UDP): one per process sharing it."""
    n = 0
    for table in (proto, proto + "6"):
        try:
            with open("/proc/net/" + table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            w = row.split()
            local, state = w[1], w[3]
            if int(local.rsplit(":", 1)[1], 16) != port:
                continue
            if proto == "udp" or state == "0A":
                n += 1
    return n


def _wait_listening(port, n, proto="tcp"):
    wait_until(lambda: _listening(port, proto) == n, DEADLINE,
               "%d %s sockets on port %d (now %d)"
               % (n, proto, port, _listening(port, proto)))


def _served_by(s, daemons):
    """The one of daemons whose log has the open entry of s's session."""
    rx = r"^\w+: connection from 127\.0\.0\.1:%d on echo$" % local_port(s)
    found = wait_until(lambda: [d for d in daemons if d.log_matches(rx)],
                       DEADLINE, "the open entry of client port %d"
                       % local_port(s))
    assert len(found) == 1, "two processes took one connection"
    return found[0]


def _connect_until_each_serves(port, daemons, each=3, most=200):
    """Connect until every one of daemons has at least each sessions;
    {daemon: [its clients]}.  The kernel spreads connections by a hash of
    their addresses and ports: with 200 of them, one process taking all
    would be a failure, not bad luck."""
    clients = {d: [] for d in daemons}
    for i in range(most):
        s = connect(port)
        roundtrip(s, b"hello %d\n" % i)
        clients[_served_by(s, daemons)].append(s)
        if min(len(v) for v in clients.values()) >= each:
            return clients
    raise AssertionError("after %d connections: %r" % (most, {
        d.pid: len(v) for d, v in clients.items()}))


def _close(socks):
    for s in socks:
        s.close()


def test_two_processes_share_a_tcp_port():
    port = free_port()
    text = conf(_tcp(port), **_LOG_ALL)
    with Echod(text) as old, Echod(text) as new:
        _wait_listening(port, 2)
        clients = _connect_until_each_serves(port, (old, new))

        # The old one stops: it closes its listening socket at once and
        # drains its sessions; the new one goes on as if nothing happened.
        mark = old.notify_mark()
        old.kill(signal.SIGTERM)
        old.wait_notify(r"^STOPPING=1$", since=mark)
        _wait_listening(port, 1)
        for i, s in enumerate(clients[old]):
            roundtrip(s, b"draining %d\n" % i)
        for i, s in enumerate(clients[new]):
            roundtrip(s, b"unaffected %d\n" % i)
        for i in range(20):
            s = connect(port)
            roundtrip(s, b"after the stop %d\n" % i)
            assert _served_by(s, (old, new)) is new, \
                "a stopping process accepted a connection"
            clients[new].append(s)

        # Its last session gone, the old one exits cleanly.
        _close(clients[old])
        assert old.wait_exit() == 0
        assert old.log_matches(r"^\w+: echod stopping: ")
        for i, s in enumerate(clients[new]):
            roundtrip(s, b"still %d\n" % i)
        assert not new.log_matches(r" closed \((?!eof)"), \
            "the survivor closed a session"
        _close(clients[new])


def test_without_reuse_port_on_both_the_second_exits_2():
    """Linux shares a port only among sockets that all ask for it: the
    second process fails as on any port in use, whichever side lacks the
    key, and the first one serves on."""
    for first, second in ((False, False), (True, False), (False, True)):
        port = free_port()
        with Echod(conf(_tcp(port, first))) as d:
            with Echod(conf(_tcp(port, second)), ready=False) as late:
                assert late.wait_exit() == 2, (first, second)
                assert late.log_matches(
                    r"^error: cannot listen on echo \(tcp 127\.0\.0\.1:%d\): "
                    r"Address already in use$" % port), (first, second)
                assert not late.notify_matches(r"^READY=1$")
            s = connect(port)
            roundtrip(s, b"the first one serves\n")
            s.close()
            assert d.proc.poll() is None


def _udp_client():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def _udp_echo(s, data, port):
    s.sendto(data, ("127.0.0.1", port))
    r, _, _ = select.select([s], [], [], DEADLINE)
    assert r, "no reply to %r within %.1f s" % (data, DEADLINE)
    return s.recv(70000)


def test_two_processes_share_a_udp_port():
    """Datagrams carry no session to tell the processes apart by, so each
    strips its own prefix: "AB" comes back as "B" from one, "AB" from the
    other."""
    port = free_port()
    with Echod(conf(_udp(port, strip=[{"prefix": "A"}]))) as a, \
            Echod(conf(_udp(port, strip=[{"prefix": "B"}]))) as b:
        _wait_listening(port, 2, "udp")
        clients, seen = [], set()
        for i in range(200):
            c = _udp_client()
            clients.append(c)
            got = _udp_echo(c, b"AB%d" % i, port)
            assert got in (b"B%d" % i, b"AB%d" % i), got
            seen.add("a" if got.startswith(b"B") else "b")
            if len(seen) == 2:
                break
        assert seen == {"a", "b"}, "after %d sources only %r answered" % (
            len(clients), seen)

        # One stops; every source, its former ones included, gets the
        # other's answer.
        assert a.stop() == 0
        _wait_listening(port, 1, "udp")
        for i, c in enumerate(clients):
            assert _udp_echo(c, b"AB%d" % i, port) == b"AB%d" % i
        _close(clients)
        assert b.proc.poll() is None


def test_reload_rebinds_a_listener_whose_reuse_port_changed():
    """SO_REUSEPORT is set before bind(): a reload that changes
    reuse_port replaces the socket (its sessions stay).  Turned off while
    another process shares the port, the new socket cannot bind: the
    reload is rejected and the old socket opened again."""
    port = free_port()
    with Echod(conf(_tcp(port, False), **_LOG_ALL)) as a:
        kept = connect(port)
        roundtrip(kept, b"before\n")
        m = a.reload(conf(_tcp(port, True), **_LOG_ALL))
        assert m.group(1) == "configuration reloaded", m.group(0)
        assert m.group(2).startswith("1 listeners (1 added, 1 removed)"), \
            m.group(0)
        roundtrip(kept, b"kept\n")

        with Echod(conf(_tcp(port, True), **_LOG_ALL)) as b:
            _wait_listening(port, 2)
            m = a.reload(conf(_tcp(port, False), **_LOG_ALL))
            assert m.group(1) == "reload rejected", m.group(0)
            assert m.group(2) == "cannot listen on echo (tcp 127.0.0.1:%d): " \
                "Address already in use" % port, m.group(0)
            _wait_listening(port, 2)
            clients = _connect_until_each_serves(port, (a, b), each=1)
            roundtrip(kept, b"still kept\n")
            for socks in clients.values():
                _close(socks)

        # Alone on the port again, the same reload goes through.
        _wait_listening(port, 1)
        m = a.reload()
        assert m.group(1) == "configuration reloaded", m.group(0)
        s = connect(port)
        roundtrip(s, b"alone\n")
        assert _served_by(s, (a,)) is a
        s.close()
        roundtrip(kept, b"to the end\n")
        kept.close()


def test_passed_socket_is_systemds_to_share():
    """A socket systemd passes is not bound by echod: reuse_port on its
    listener is noted at debug level (ReusePort= of the socket unit is
    the key that counts) and the socket is served as it is."""
    port = free_port()
    with Echod(conf(_tcp(port)), args=["-v"], activate=[(port, None)]) as d:
        d.wait_log(r"^debug: listener echo: reuse_port does not apply to "
                   r"passed socket \"[^\"]+\" \(ReusePort= of its socket "
                   r"unit does\)$")
        s = connect(port)
        roundtrip(s, b"activated\n")
        s.close()


tap.main(globals())
