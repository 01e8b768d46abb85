#!/usr/bin/python3
"""test_echocli.py: echocli against small echo servers written here.

Each server runs in threads on a free loopback port: a correct raw echo, a
line server that strips 2 bytes (the tutorial's), one that strips ONE BYTE
TOO MANY (bench --strip 2 must catch it), one that answers only after the
client half-closes, one that never answers, one that hangs up after the
first reply, and a UDP echo.  $ECHOCLI is the binary under test; the
bench's PROXY headers are checked against the real echod ($ECHOD).
"""

import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import echodtest  # noqa: E402
import tap  # noqa: E402

ECHOCLI = os.environ.get("ECHOCLI", "./echocli")


class _Listening:
    """A test server's socket and the thread that waits on it, both gone
    at the end of a with block.

    The thread is woken (shutdown makes a blocked accept or recvfrom
    return) and joined before the socket is closed: a thread still
    inside a call on a closed descriptor could otherwise reach whatever
    socket the next test opens under the same number, and serve it with
    this test's handler.
    """

    def _start(self, target):
        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(10)
        assert not self.thread.is_alive(), "test server thread is stuck"
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Server(_Listening):
    """A TCP server on a free port that runs handler(conn) per connection
    in a thread, and remembers the peers it saw."""

    def __init__(self, handler, family=socket.AF_INET, host="127.0.0.1"):
        self.handler = handler
        self.peers = []
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self._start(self._accept)

    def _accept(self):
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.peers.append(peer)
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()


def raw_echo(conn):
    """RFC 862: send back every byte; close after the client's EOF."""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def line_strip(n):
    """A line server that removes the first n bytes of each line."""
    def handler(conn):
        f = conn.makefile("rb")
        for line in f:
            body, nl = (line[:-1], b"\n") if line.endswith(b"\n") \
                else (line, b"")
            conn.sendall(body[n:] + nl)
    return handler


def echo_after_eof(conn):
    """Answers nothing until the client half-closes, then everything."""
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    time.sleep(0.2)  # the client must still be listening
    conn.sendall(data)


def never_answer(conn):
    """Reads and says nothing, and never closes first."""
    while conn.recv(65536):
        pass
    time.sleep(30)


def hang_up_after_first(conn):
    """Echoes one chunk, then closes: clients lose the rest."""
    data = conn.recv(65536)
    conn.sendall(data)


class UdpEcho(_Listening):
    """A UDP echo on a free port, one datagram back per datagram."""

    def __init__(self, answer=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        self._start(self._run)

    def _run(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(65536)
            except OSError:
                return
            if peer is None:    # shut down by close()
                return
            if self.answer:
                try:
                    self.sock.sendto(data, peer)
                except OSError:
                    return


def free_port(kind=socket.SOCK_STREAM):
    """A loopback port that nothing listens on (bound, then released)."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(args, data=b"", timeout=30):
    """Run echocli with data on stdin; (returncode, stdout, stderr)."""
    p = subprocess.run([ECHOCLI] + [str(a) for a in args], input=data,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def bench(args, timeout=60):
    """Run echocli bench --json; (returncode, parsed result or None,
    stderr)."""
    rc, out, err = run(["bench", "--json"] + args, timeout=timeout)
    try:
        result = json.loads(out.decode())
    except ValueError:
        result = None
    return rc, result, err


# --- interactive mode -----------------------------------------------------

def test_pipe_prints_replies():
    with Server(raw_echo) as s:
        data = b"hello\nworld\n" + bytes(range(256)) * 40
        rc, out, err = run(["127.0.0.1", s.port], data)
    assert rc == 0, err
    assert out == data, out[:100]
    assert err == "", err


def test_pipe_through_stripping_server():
    # The tutorial's example: 1234567 comes back as 34567.
    with Server(line_strip(2)) as s:
        rc, out, err = run(["127.0.0.1", s.port], b"1234567\nab\n")
    assert rc == 0, err
    assert out == b"34567\n\n", out


def test_half_close_then_drain():
    # Replies come only after echocli has half-closed: it must wait.
    with Server(echo_after_eof) as s:
        rc, out, err = run(["-t", "5", "127.0.0.1", s.port], b"late\nreply\n")
    assert rc == 0, err
    assert out == b"late\nreply\n", out


def test_empty_input():
    with Server(raw_echo) as s:
        rc, out, err = run(["127.0.0.1", s.port], b"")
        peers = len(s.peers)
    assert rc == 0, err
    assert out == b""
    assert peers == 1  # it did connect, and half-closed at once


def test_refused_port():
    port = free_port()
    rc, out, err = run(["127.0.0.1", port], b"x\n")
    assert rc != 0
    assert out == b""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0] == ("echocli: connect to 127.0.0.1 port %d: "
                        "Connection refused" % port), err


def test_unknown_host():
    rc, out, err = run(["no-such-host.invalid", "7"], b"x\n")
    assert rc != 0
    assert out == b""
    assert len(err.splitlines()) == 1, err
    assert "no-such-host.invalid" in err, err


def test_timeout_when_server_never_answers():
    with Server(never_answer) as s:
        start = time.monotonic()
        rc, out, err = run(["-t", "1", "127.0.0.1", s.port], b"anyone?\n")
        took = time.monotonic() - start
    assert rc != 0
    assert out == b""
    assert "timed out" in err, err
    assert len(err.splitlines()) == 1, err
    assert took < 4, took


def test_server_closes_before_input_ends():
    # Not everything was echoed: that is an error, not a quiet success.
    with Server(hang_up_after_first) as s:
        proc = subprocess.Popen([ECHOCLI, "127.0.0.1", str(s.port)],
                                stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        proc.stdin.write(b"first\n")
        proc.stdin.flush()
        out = proc.stdout.read(6)
        try:
            # stdin stays open: the close must come from the server.
            rc = proc.wait(timeout=10)
        finally:
            proc.stdin.close()
        err = proc.stderr.read().decode()
        proc.stdout.close()
        proc.stderr.close()
    assert out == b"first\n"
    assert rc != 0
    assert "closed by the server" in err, err


def test_bad_arguments():
    rc, out, err = run([], b"")
    assert rc == 2
    assert "usage" in err
    rc, out, err = run(["-t", "soon", "127.0.0.1"], b"")
    assert rc == 2


def test_udp_one_datagram_per_line():
    with UdpEcho() as u:
        rc, out, err = run(["-u", "127.0.0.1", u.port], b"a\nbb\nccc")
    assert rc == 0, err
    # Three datagrams: the last line is sent without a newline.
    assert out == b"a\nbb\nccc", out


def test_udp_no_reply_times_out():
    with UdpEcho(answer=False) as u:
        start = time.monotonic()
        rc, out, err = run(["-u", "-t", "1", "127.0.0.1", u.port],
                           b"one\ntwo\n")
        took = time.monotonic() - start
    assert rc != 0
    assert "2 of 2 datagrams" in err, err
    assert took < 4


def test_udp_refused():
    port = free_port(socket.SOCK_DGRAM)
    rc, out, err = run(["-u", "-t", "2", "127.0.0.1", port], b"x\n")
    assert rc != 0
    assert "Connection refused" in err, err


def test_ipv6():
    try:
        s = Server(raw_echo, socket.AF_INET6, "::1")
    except OSError as e:
        tap.skip("no IPv6 loopback: %s" % e)
    with s:
        rc, out, err = run(["::1", s.port], b"over six\n")
    assert rc == 0, err
    assert out == b"over six\n"
    assert s.peers and s.peers[0][0] == "::1"


def test_host_name_tries_each_address():
    # "localhost" may resolve to ::1 first; the server is on 127.0.0.1.
    with Server(raw_echo) as s:
        rc, out, err = run(["localhost", s.port], b"by name\n")
    assert rc == 0, err
    assert out == b"by name\n"


# --- bench ------------------------------------------------------------------

LATENCY_KEYS = ("p50", "p90", "p99", "p99_9", "max", "mean")


def check_plausible(r, messages, size):
    for key in ("messages", "messages_per_s", "mb_per_s", "latency_us",
                "connect_errors", "wrong_replies", "closed_early",
                "elapsed_s", "bytes_sent", "bytes_received", "ok"):
        assert key in r, key
    lat = r["latency_us"]
    for key in LATENCY_KEYS:
        assert key in lat, key
    assert r["messages"] == messages, r
    assert r["bytes_sent"] == messages * size, r
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99_9"] \
        <= lat["max"], lat
    assert r["messages_per_s"] > 0
    # Rate and count agree with the elapsed time (1 % slack for rounding).
    assert abs(r["messages_per_s"] * r["elapsed_s"] - messages) \
        <= messages * 0.01 + 1, r


def test_bench_correct_server():
    with Server(raw_echo) as s:
        rc, r, err = bench(["-c", 4, "-p", 4, "-s", 100, "-n", 2000,
                            "127.0.0.1", s.port])
    assert rc == 0, err
    assert r is not None
    check_plausible(r, 2000, 100)
    assert r["bytes_received"] == 2000 * 100
    assert r["connect_errors"] == 0 and r["wrong_replies"] == 0
    assert r["closed_early"] == 0 and r["ok"] is True
    assert r["connections_opened"] == 4


def test_bench_strip_server():
    with Server(line_strip(2)) as s:
        rc, r, err = bench(["-c", 2, "-s", 32, "-n", 500, "--strip", 2,
                            "127.0.0.1", s.port])
    assert rc == 0, err
    check_plausible(r, 500, 32)
    assert r["bytes_received"] == 500 * 30


def test_bench_catches_server_stripping_too_much():
    # The server strips 3 bytes where 2 are expected: every reply is wrong.
    with Server(line_strip(3)) as s:
        rc, r, err = bench(["-c", 3, "-s", 32, "-n", 300, "--strip", 2,
                            "127.0.0.1", s.port])
    assert rc != 0
    assert r["wrong_replies"] >= 1, r
    assert r["ok"] is False
    assert "wrong replies" in err, err


def test_bench_catches_unexpected_strip():
    # And a stripping server is wrong for a bench that expects raw echo.
    with Server(line_strip(2)) as s:
        rc, r, err = bench(["-c", 1, "-n", 10, "127.0.0.1", s.port])
    assert rc != 0
    assert r["wrong_replies"] == 1, r


def test_bench_text_report():
    with Server(raw_echo) as s:
        rc, out, err = run(["bench", "-c", 2, "-n", 200, "127.0.0.1",
                            s.port])
    assert rc == 0, err
    text = out.decode()
    assert "messages" in text and "p99.9" in text, text
    assert "0 wrong replies" in text, text
    # Not a terminal: no progress line, no carriage returns.
    assert "\r" not in text


def test_bench_200_connections():
    with Server(raw_echo) as s:
        rc, r, err = bench(["-c", 200, "-n", 4000, "127.0.0.1", s.port])
        peers = len(s.peers)
    assert rc == 0, err
    check_plausible(r, 4000, 64)
    assert r["connections_opened"] == 200
    assert peers == 201  # and the probe that picks the address


def test_bench_duration():
    with Server(raw_echo) as s:
        rc, r, err = bench(["-c", 2, "-d", "1", "127.0.0.1", s.port])
    assert rc == 0, err
    assert 0.9 < r["elapsed_s"] < 3, r
    assert r["messages"] > 10, r
    assert r["unanswered"] == 0


def test_bench_rate():
    with Server(raw_echo) as s:
        rc, r, err = bench(["-c", 2, "-d", "1", "-r", "200", "127.0.0.1",
                            s.port])
    assert rc == 0, err
    # 200/s for one second, give or take the timers.
    assert 150 <= r["messages"] <= 260, r


def test_bench_threads():
    with Server(raw_echo) as s:
        rc, r, err = bench(["-T", 2, "-c", 4, "-n", 1000, "127.0.0.1",
                            s.port])
    assert rc == 0, err
    assert r["threads"] == 2
    check_plausible(r, 1000, 64)


def test_bench_refused():
    rc, r, err = bench(["-c", 2, "-n", 10, "127.0.0.1", free_port()])
    assert rc != 0
    assert "Connection refused" in err, err


def test_bench_server_hangs_up():
    with Server(hang_up_after_first) as s:
        rc, r, err = bench(["-c", 2, "-n", 100, "127.0.0.1", s.port])
    assert r is not None, (rc, err)
    assert rc != 0, (r, err)
    assert r["closed_early"] == 2, (r, err)
    assert "closed early" in err, err


def speaks_first(conn):
    """A banner before any echo (echod's "banner"), then raw echo."""
    conn.sendall(b"echod host1 banner\n")
    raw_echo(conn)


def hang_up_after(n, reset):
    """Echoes the first n bytes, then closes: with a RST if reset."""
    def handler(conn):
        got = 0
        while got < n:
            data = conn.recv(n - got)
            if not data:
                return
            conn.sendall(data)
            got += len(data)
        if reset:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
    return handler


def slow_echo(delay):
    """Echoes each chunk delay seconds after it arrived."""
    def handler(conn):
        while True:
            data = conn.recv(65536)
            if not data:
                return
            time.sleep(delay)
            conn.sendall(data)
    return handler


def test_prints_banner_sent_first():
    with Server(speaks_first) as s:
        rc, out, err = run(["127.0.0.1", s.port], b"after\n")
    assert rc == 0, err
    assert out == b"echod host1 banner\nafter\n", out


def test_bench_expect_close_fin_and_reset():
    for reset in (False, True):
        # 64-byte messages, 3 of them a connection, then the hang-up.
        with Server(hang_up_after(3 * 64, reset)) as s:
            rc, r, err = bench(["--expect-close", "-c", 2, "-n", 60,
                                "127.0.0.1", s.port])
        assert rc == 0, (reset, r, err)
        assert r["expect_close"] is True and r["ok"] is True, r
        assert r["closed_early"] == 0 and r["unanswered"] == 0, r
        # Each connection: 3 replies, and the message sent after the third
        # is cut by the hang-up; every message is one or the other.
        assert r["messages"] + r["cut_by_close"] == 60, r
        assert r["scripted_closes"] >= 10, r
        assert r["messages"] >= 3 * r["scripted_closes"] - 6, r
        assert "closed early" not in err, err


def test_bench_expect_close_text_report():
    with Server(hang_up_after(64, True)) as s:
        rc, out, err = run(["bench", "--expect-close", "-c", 1, "-n", 5,
                            "127.0.0.1", s.port])
    assert rc == 0, err
    text = out.decode()
    assert re.search(r"closes +\d+ by the server as expected, \d+ messages "
                     r"cut", text), text


def test_bench_without_expect_close_counts_an_error():
    with Server(hang_up_after(64, True)) as s:
        rc, r, err = bench(["-c", 1, "-n", 5, "127.0.0.1", s.port])
    assert rc != 0, r
    assert r["closed_early"] == 1 and r["scripted_closes"] == 0, r
    assert r["expect_close"] is False


def test_bench_p50_of_a_slow_server():
    # What a delay listener will be checked with: p50 near the delay.
    with Server(slow_echo(0.05)) as s:
        rc, r, err = bench(["-c", 4, "-n", 80, "127.0.0.1", s.port])
    assert rc == 0, err
    p50 = r["latency_us"]["p50"]
    assert 50000 <= p50 <= 50000 * 1.3, r["latency_us"]


def test_bench_churn():
    with Server(raw_echo) as s:
        rc, r, err = bench(["--churn", "-c", 4, "-n", 60, "127.0.0.1",
                            s.port])
        peers = len(s.peers)
    assert rc == 0, err
    assert r["mode"] == "churn"
    assert r["connections_opened"] == 60, r
    assert r["messages"] == 60, r
    assert peers == 61


def test_bench_source_range():
    # Sources come from 127.0.0.2 up, so ports never run out.
    with Server(raw_echo) as s:
        rc, r, err = bench(["--source-range", "-c", 3, "-n", 30,
                            "127.0.0.1", s.port])
        sources = {p[0] for p in s.peers[1:]}
    assert rc == 0, err
    assert sources == {"127.0.0.2"}, sources


def bench_proxied(version, host, source_range):
    """echocli bench --churn --proxy version against an echod listener
    that takes only that version: every session must be named, in its
    close entry, by the connection's own address and port, as the header
    says (and "via" the same: the bench is its own balancer), with the
    64-byte message echoed and the header not."""
    port = echodtest.free_port()
    lst = echodtest.listener("p", port, address=host, proxy_protocol=version,
                             proxy_from=["127.0.0.0/8", "::1"])
    args = ["--churn", "-c", 2, "-n", 10, "--proxy", version]
    if source_range:
        args.append("--source-range")
    with echodtest.Echod(echodtest.conf(lst, log_connections=True)) as d:
        rc, r, err = bench(args + [host, port])
        assert rc == 0, err
        assert r["messages"] == 10 and r["bytes_received"] == 640, r
        a = re.escape("[%s]" % host if ":" in host else
                      "127.0.0.2" if source_range else host)
        rx = (r"^\w+: connection from %s:(\d+) via %s:(\d+) on p closed "
              r"\(eof\): 64 bytes in, 64 out" % (a, a))
        echodtest.wait_until(lambda: len(d.log_matches(rx)) >= 10,
                             what="10 proxied close entries")
        for m in d.log_matches(rx):
            assert m.group(1) == m.group(2), m.group(0)
        # Nothing refused for its header, and only the probe unproxied.
        assert not d.log_matches(r"proxy-error"), d.log_text()
        assert len(d.log_matches(r"closed \(eof\)")) == 11, d.log_text()


def test_bench_proxy_v2():
    bench_proxied("v2", "127.0.0.1", True)


def test_bench_proxy_v1():
    bench_proxied("v1", "127.0.0.1", False)


def test_bench_proxy_ipv6():
    if not echodtest.have_ipv6():
        tap.skip("no IPv6 loopback")
    bench_proxied("v2", "::1", False)
    bench_proxied("v1", "::1", False)


def test_bench_bad_options():
    rc, out, err = run(["bench", "-s", "4", "--strip", "4", "127.0.0.1"])
    assert rc == 2
    assert "strip" in err
    rc, out, err = run(["bench", "-c", "0", "127.0.0.1"])
    assert rc == 2
    rc, out, err = run(["bench", "--proxy", "v3", "127.0.0.1"])
    assert rc == 2
    assert "--proxy" in err, err


tap.main(globals())
