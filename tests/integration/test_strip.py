#!/usr/bin/python3
"""Strip rules (echod.conf(5), STRIP RULES): line framing, raw framing, rule kinds and order."""

import select
import socket

import tap
from echodtest import (Echod, assert_silent, conf, connect, free_port,
                       listener, local_port, recv_exact, recv_until_eof,
                       roundtrip)


def _line(name, port, rules):
    return listener(name, port, address="127.0.0.1", framing="line",
                    strip=rules)


def _raw(name, port, rules):
    return listener(name, port, address="127.0.0.1", framing="raw",
                    strip=rules)


def _nodelay(s):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def test_tutorial_line_strip():
    port = free_port()
    with Echod(conf(_line("strip", port, [{"bytes": 2}]))) as d:
        s = connect(port)
        roundtrip(s, b"1234567\n", b"34567\n")
        roundtrip(s, b"a\n", b"\n")
        roundtrip(s, b"\n", b"\n")
        roundtrip(s, b"ab\n", b"\n")
        # the terminator is sent back unchanged, CR LF included
        roundtrip(s, b"1234567\r\n", b"34567\r\n")
        roundtrip(s, b"a\r\n", b"\r\n")
        # binary content survives, only the first two bytes go
        roundtrip(s, b"\0\1\2\3\r\xff\n", b"\2\3\r\xff\n")
        s.close()
        s = connect(port)
        roundtrip(s, b"1234567\n", b"34567\n")
        s.shutdown(socket.SHUT_WR)
        assert recv_until_eof(s) == b""
        m = d.wait_closed_entry(local_port(s), "strip", "eof")
        assert (m.group(2), m.group(3)) == ("8", "6"), m.group(0)
        s.close()


def test_lines_split_and_batched():
    port = free_port()
    with Echod(conf(_line("strip", port, [{"bytes": 2}]))) as d:
        s = _nodelay(connect(port))
        # one line across several sends: nothing until the newline
        s.sendall(b"12")
        assert_silent(s)
        s.sendall(b"ab")
        s.sendall(b"cd")
        assert_silent(s)
        s.sendall(b"\n34")
        assert recv_exact(s, 5) == b"abcd\n"
        s.sendall(b"ef\r")
        assert_silent(s)
        s.sendall(b"\n")
        assert recv_exact(s, 4) == b"ef\r\n"
        # many lines in one send, replies in order
        lines = [b"%02d" % (i % 100) + b"line %d" % i + b"\n"
                 for i in range(5000)]
        s.sendall(b"".join(lines))
        want = b"".join(x[2:] for x in lines)
        assert recv_exact(s, len(want), 20) == want
        s.close()
        assert d.proc.poll() is None


def _exchange_with_slow_reader(port, data, want):
    """Send data without reading until echod takes no more, then read and
    send at once; check what came back.  Replies of more than the kernel
    buffers on the way back hold (tcp_wmem at most 4 MiB on Debian) and
    echod's high mark (256 KiB) make echod keep some back."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # No receive-buffer autotuning: echod's replies back up soon.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    sent = 0
    while sent < len(data):
        try:
            sent += s.send(data[sent:sent + 65536])
        except BlockingIOError:
            break
    got = bytearray()
    while len(got) < len(want):
        r, w, _ = select.select([s], [s] if sent < len(data) else [], [],
                                10)
        assert r or w, "stalled at %d of %d bytes" % (len(got), len(want))
        if w:
            try:
                sent += s.send(data[sent:sent + 65536])
            except BlockingIOError:
                pass
        if r:
            chunk = s.recv(1 << 20)
            assert chunk, "closed after %d bytes" % len(got)
            got += chunk
    assert got == want, "replies differ from byte %d" % next(
        i for i in range(len(want)) if got[i:i + 1] != want[i:i + 1])
    s.setblocking(True)
    s.shutdown(socket.SHUT_WR)
    assert recv_until_eof(s) == b""
    return s


def test_replies_to_a_slow_reader_arrive_whole_and_in_order():
    """Replies the socket does not take wait in the output, and what
    arrives meanwhile queues behind them: a client that stops reading
    sees every reply once, in order, raw and stripped lines alike."""
    p1, p2 = free_port(), free_port()
    with Echod(conf(_line("strip", p1, [{"bytes": 2}]),
                    _raw("echo", p2, []))) as d:
        lines = [b"%02d" % (i % 97) + b"x" * (i % 61) + b"%d\r\n" % i
                 for i in range(250000)]
        data = b"".join(lines)
        for name, port, want in (
                ("strip", p1, b"".join(x[2:] for x in lines)),
                ("echo", p2, data)):
            s = _exchange_with_slow_reader(port, data, want)
            m = d.wait_closed_entry(local_port(s), name, "eof")
            assert (m.group(2), m.group(3)) == (str(len(data)),
                                                str(len(want))), m.group(0)
            s.close()


def test_last_line_without_terminator_on_half_close():
    port = free_port()
    with Echod(conf(_line("strip", port, [{"bytes": 2}]))) as d:
        s = connect(port)
        s.sendall(b"1234567\nxxhello")
        assert recv_exact(s, 6) == b"34567\n"
        s.shutdown(socket.SHUT_WR)
        assert recv_until_eof(s) == b"hello"
        m = d.wait_closed_entry(local_port(s), "strip", "eof")
        assert (m.group(2), m.group(3)) == ("15", "11"), m.group(0)
        s.close()


def test_prefix_and_regex_rules():
    p1, p2 = free_port(), free_port()
    with Echod(conf(_line("pfx", p1, [{"prefix": "GET "}]),
                    _line("re", p2, [{"regex": "[0-9]+: *"}]))):
        s = connect(p1)
        roundtrip(s, b"GET /index\n", b"/index\n")
        roundtrip(s, b"GEX /index\n", b"GEX /index\n")
        roundtrip(s, b"GE\n", b"GE\n")
        roundtrip(s, b"GET \n", b"\n")
        # only at the start, only once
        roundtrip(s, b"x GET y\n", b"x GET y\n")
        roundtrip(s, b"GET GET z\r\n", b"GET z\r\n")
        s.close()
        s = connect(p2)
        roundtrip(s, b"123: hello\n", b"hello\n")
        roundtrip(s, b"7:x\n", b"x\n")
        # anchored at the start of the message
        roundtrip(s, b"a 123: hello\n", b"a 123: hello\n")
        roundtrip(s, b": hello\n", b": hello\n")
        roundtrip(s, b"42:   \r\n", b"\r\n")
        s.close()


def test_rule_order():
    p1, p2 = free_port(), free_port()
    with Echod(conf(_line("ab", p1, [{"prefix": "ab"}, {"bytes": 1}]),
                    _line("ba", p2, [{"bytes": 1}, {"prefix": "ab"}]))):
        s = connect(p1)
        roundtrip(s, b"abcd\n", b"d\n")
        roundtrip(s, b"xabcd\n", b"abcd\n")
        s.close()
        s = connect(p2)
        roundtrip(s, b"abcd\n", b"bcd\n")
        roundtrip(s, b"xabcd\n", b"cd\n")
        s.close()


def test_regex_then_prefix():
    port = free_port()
    rules = [{"regex": "[a-z]+="}, {"prefix": "<"}, {"bytes": 1}]
    with Echod(conf(_line("chain", port, rules))):
        s = connect(port)
        roundtrip(s, b"key=<xvalue>\n", b"value>\n")
        roundtrip(s, b"KEY=<xvalue>\n", b"EY=<xvalue>\n")
        s.close()


def test_raw_bytes_arriving_one_by_one():
    port = free_port()
    with Echod(conf(_raw("raw3", port, [{"bytes": 3}]))) as d:
        s = _nodelay(connect(port))
        for b in (b"a", b"b", b"c"):
            s.send(b)
        s.send(b"d")
        assert recv_exact(s, 1) == b"d"
        # after the first three bytes everything is echoed as it is
        roundtrip(s, b"abcdef")
        roundtrip(s, b"\0\n\r\n")
        s.shutdown(socket.SHUT_WR)
        assert recv_until_eof(s) == b""
        m = d.wait_closed_entry(local_port(s), "raw3", "eof")
        assert (m.group(2), m.group(3)) == ("14", "11"), m.group(0)
        s.close()
        # and a connection shorter than the rule gets nothing, then eof
        s = connect(port)
        s.sendall(b"ab")
        s.shutdown(socket.SHUT_WR)
        assert recv_until_eof(s) == b""
        s.close()


def test_raw_prefix_waits_then_mismatches():
    port = free_port()
    with Echod(conf(_raw("rawp", port, [{"prefix": "HELLO"}]))):
        s = _nodelay(connect(port))
        s.sendall(b"HEL")
        # the prefix may still come: nothing is sent back yet
        assert_silent(s)
        s.sendall(b"P me")
        assert recv_exact(s, 7) == b"HELP me"
        roundtrip(s, b"HELLO again")
        s.close()
        # the prefix arriving in pieces is removed, only at the start
        s = _nodelay(connect(port))
        s.sendall(b"HE")
        assert_silent(s)
        s.sendall(b"LL")
        s.sendall(b"O world HELLO")
        assert recv_exact(s, 12) == b" world HELLO"
        s.close()
        # a partial prefix at end of input does not match: echoed as is
        s = connect(port)
        s.sendall(b"HEL")
        s.shutdown(socket.SHUT_WR)
        assert recv_until_eof(s) == b"HEL"
        s.close()


tap.main(globals())
