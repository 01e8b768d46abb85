#!/usr/bin/python3
"""The Prometheus endpoint (echod.conf(5), METRICS): HTTP, its bounds
against hostile clients, and counters compared with the traffic that
made them, across a reload and with two workers."""

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import tap
from echodtest import (DEADLINE, Echod, conf, connect, free_port, listener,
                       recv_exact, recv_until_eof, roundtrip, wait_until)

SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')


def http(port, request, timeout=DEADLINE):
    """Send a raw request; (status, headers dict, body) of the reply."""
    s = connect(port, timeout=timeout)
    s.sendall(request)
    data = recv_until_eof(s, timeout)
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def scrape(port):
    """The samples of GET /metrics: {(name, labels text): value}."""
    status, headers, body = http(port, b"GET /metrics HTTP/1.1\r\n"
                                 b"Host: x\r\n\r\n")
    assert status == 200, status
    out = {}
    for line in body.decode().splitlines():
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample: %r" % line
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def value(samples, name, **labels):
    """The sample of name whose labels include labels (0 if absent)."""
    for (n, lt), v in samples.items():
        if n != name:
            continue
        if all('%s="%s"' % (k, x) in lt for k, x in labels.items()):
            return v
    return None


def metrics_conf(mport, *listeners, **globals_):
    return conf(*listeners, metrics={"address": "127.0.0.1", "port": mport},
                **globals_)


def test_http():
    p, m = free_port(), free_port()
    with Echod(metrics_conf(m, listener("echo", p, address="127.0.0.1"))):
        status, h, body = http(m, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 200
        assert h["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert int(h["content-length"]) == len(body)
        assert body.endswith(b"\n")
        assert b'echod_build_info{version="' in body
        status, h2, body = http(m, b"HEAD /metrics HTTP/1.0\r\n\r\n")
        assert status == 200 and body == b""
        assert h2["content-type"] == h["content-type"]
        status, _, _ = http(m, b"GET /metricsx HTTP/1.1\r\n\r\n")
        assert status == 404
        status, _, _ = http(m, b"GET / HTTP/1.1\r\n\r\n")
        assert status == 404
        status, _, _ = http(m, b"GET /metrics?x=1 HTTP/1.1\r\n\r\n")
        assert status == 200
        for method in (b"POST", b"PUT", b"DELETE", b"OPTIONS"):
            status, h, _ = http(m, method + b" /metrics HTTP/1.1\r\n"
                                b"Content-Length: 0\r\n\r\n")
            assert status == 405, (method, status)
            assert h["allow"] == "GET, HEAD"
        status, _, _ = http(m, b"hello\r\n\r\n")
        assert status == 400


def test_off_when_absent():
    p, m = free_port(), free_port()
    with Echod(conf(listener("echo", p, address="127.0.0.1"))):
        s = socket.socket()
        try:
            assert s.connect_ex(("127.0.0.1", m)) != 0
        finally:
            s.close()


def test_slowloris():
    """A silent client and one sending a byte a second are both closed
    within the deadline (10 s from accept); echo is served meanwhile."""
    p, m = free_port(), free_port()
    with Echod(metrics_conf(m, listener("echo", p, address="127.0.0.1"))):
        silent = connect(m)
        drip = connect(m)
        start = time.monotonic()
        e = connect(p)
        request = b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 100
        i = 0
        drip.setblocking(False)
        closed = None
        while time.monotonic() - start < 15:
            try:
                drip.send(request[i:i + 1])
                i += 1
            except OSError:
                closed = time.monotonic() - start
                break
            roundtrip(e, b"ping %d\n" % i)
            try:
                if drip.recv(1) == b"":
                    closed = time.monotonic() - start
                    break
            except BlockingIOError:
                pass
            time.sleep(1)   # the client's pace, not a wait on echod
        assert closed is not None and closed < 12, closed
        silent.settimeout(5)
        assert silent.recv(1) == b""
        assert time.monotonic() - start < 13
        roundtrip(e, b"still here\n")
        e.close()


def test_oversized_request():
    """64 KiB of headers: 431 after the first 8 KiB, and the memory of
    echod does not grow with the bytes sent."""
    p, m = free_port(), free_port()
    with Echod(metrics_conf(m, listener("echo", p, address="127.0.0.1"))) \
            as d:
        before = d.rss_kib()
        for _ in range(20):
            s = connect(m)
            try:
                s.sendall(b"GET /metrics HTTP/1.1\r\n")
                for _ in range(64):
                    s.sendall(b"X-Big: " + b"b" * 1015 + b"\r\n")
            except OSError:
                pass  # closed before all of it was sent: fine
            data = recv_until_eof(s)
            assert data == b"" or data.startswith(b"HTTP/1.1 431 "), data[:40]
            s.close()
        e = connect(p)
        roundtrip(e, b"after\n")
        e.close()
        if not os.environ.get("ECHOD_SANITIZED"):
            assert d.rss_kib() - before < 4096, (before, d.rss_kib())


def test_connection_bound():
    """Past 16 scrape connections at once the next is closed at once;
    echo is unaffected, and freed places are taken again."""
    p, m = free_port(), free_port()
    with Echod(metrics_conf(m, listener("echo", p, address="127.0.0.1"))):
        held = [connect(m) for _ in range(16)]
        extra = connect(m)
        extra.settimeout(5)
        assert extra.recv(1) == b"", "the 17th connection was served"
        extra.close()
        e = connect(p)
        roundtrip(e, b"echo goes on\n")
        for s in held:
            s.close()
        # the places come back once echod sees the closes
        wait_until(lambda: _scrape_ok(m), what="a scrape after the closes")
        samples = scrape(m)
        assert value(samples, "echod_metrics_refused_total") >= 1
        roundtrip(e, b"and on\n")
        e.close()


def _scrape_ok(port):
    try:
        scrape(port)
        return True
    except (AssertionError, OSError, IndexError, ValueError):
        return False


def _closed(d, since):
    return len(d.log_matches(r"closed \(", since))


def test_counters_exact():
    """Known traffic on two workers, a reload in the middle: every
    counter equals what was done."""
    pe, pl, pt, pp, pc, ps, pu, m = (free_port() for _ in range(8))
    text = metrics_conf(
        m,
        listener("e", pe, address="127.0.0.1"),
        listener("lines", pl, address="127.0.0.1", framing="line"),
        listener("idle", pt, address="127.0.0.1", timeouts={"idle": 0.3}),
        listener("px", pp, address="127.0.0.1", proxy_protocol="v1",
                 proxy_from=["127.0.0.1"]),
        listener("cap", pc, address="127.0.0.1", max_connections=1),
        listener("src", ps, address="127.0.0.1",
                 max_connections_per_source=1),
        listener("u", pu, address="127.0.0.1", protocol="udp"),
        workers=2, max_line=64)
    N, B = 20, 1000
    with Echod(text) as d:
        payload = b"x" * (B - 1) + b"\n"
        for i in range(N // 2):
            s = connect(pe)
            roundtrip(s, payload)
            s.close()
        assert d.reload().group(1) == "configuration reloaded"
        for i in range(N - N // 2):
            s = connect(pe)
            roundtrip(s, payload)
            s.close()
        # line-too-long: 100 bytes without a newline past max_line 64
        s = connect(pl)
        s.sendall(b"y" * 100)
        recv_until_eof(s)
        s.close()
        # timeout
        s = connect(pt)
        recv_until_eof(s)
        s.close()
        # proxy-error
        s = connect(pp)
        s.sendall(b"PROXY NONSENSE\r\n")
        recv_until_eof(s)
        s.close()
        # listener limit: one held, one refused
        held = connect(pc)
        roundtrip(held, b"hold\n")
        r = connect(pc)
        recv_until_eof(r)
        r.close()
        # per-source: one held, one refused
        held2 = connect(ps)
        roundtrip(held2, b"hold\n")
        r = connect(ps)
        recv_until_eof(r)
        r.close()
        # UDP: 3 echoed, 1 too large (max_datagram 8192)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(DEADLINE)
        for i in range(3):
            u.sendto(b"d%d" % i, ("127.0.0.1", pu))
            assert u.recvfrom(100)[0] == b"d%d" % i
        u.sendto(b"z" * 9000, ("127.0.0.1", pu))

        def settled():
            sm = scrape(m)
            return (value(sm, "echod_sessions_closed_total", listener="e",
                          reason="eof") == N and
                    value(sm, "echod_udp_datagrams_total", listener="u",
                          result="dropped_size") == 1 and
                    value(sm, "echod_sessions_closed_total",
                          listener="idle", reason="timeout") == 1)
        wait_until(settled, what="the counters to settle")
        sm = scrape(m)

        def v(name, **labels):
            return value(sm, name, **labels)
        assert v("echod_sessions_accepted_total", listener="e") == N
        assert v("echod_received_bytes_total", listener="e") == N * B
        assert v("echod_sent_bytes_total", listener="e") == N * B
        assert v("echod_sessions", listener="e") == 0
        for r in ("timeout", "write-timeout", "error", "line-too-long",
                  "shutdown", "proxy-error"):
            assert v("echod_sessions_closed_total", listener="e",
                     reason=r) == 0, r
        assert v("echod_sessions_closed_total", listener="lines",
                 reason="line-too-long") == 1
        assert v("echod_received_bytes_total", listener="lines") == 100
        assert v("echod_sessions_closed_total", listener="idle",
                 reason="timeout") == 1
        assert v("echod_sessions_closed_total", listener="px",
                 reason="proxy-error") == 1
        assert v("echod_connections_refused_total", listener="cap",
                 limit="listener") == 1
        assert v("echod_sessions", listener="cap") == 1
        assert v("echod_sessions_accepted_total", listener="cap") == 1
        assert v("echod_connections_refused_total", listener="src",
                 limit="per_source") == 1
        # a per-source refusal was accepted, then refused: not a close
        assert v("echod_sessions_accepted_total", listener="src") == 2
        assert sum(v("echod_sessions_closed_total", listener="src",
                     reason=r) for r in ("eof", "error")) == 0
        assert v("echod_udp_datagrams_total", listener="u",
                 result="echoed") == 3
        # what was read of the large one: max_datagram + 1 bytes
        assert v("echod_received_bytes_total", listener="u") == 6 + 8193
        assert v("echod_sent_bytes_total", listener="u") == 6
        assert v("echod_config_reloads_total", result="ok") == 1
        assert v("echod_config_reloads_total", result="rejected") == 0
        assert v("echod_workers") == 2
        # a rejected reload is counted, and resets nothing
        assert d.reload("nonsense").group(1) == "reload rejected"
        sm = scrape(m)
        assert v("echod_config_reloads_total", result="rejected") == 1
        assert v("echod_sessions_accepted_total", listener="e") == N
        held.close()
        held2.close()


def test_removed_listener():
    """A listener removed by a reload keeps its series until its last
    session closes; then they go."""
    pa, pb, m = free_port(), free_port(), free_port()
    a = listener("a", pa, address="127.0.0.1")
    b = listener("b", pb, address="127.0.0.1")
    with Echod(metrics_conf(m, a, b)) as d:
        s = connect(pb)
        roundtrip(s, b"12345\n")
        assert d.reload(metrics_conf(m, a)).group(1) == "configuration reloaded"
        sm = scrape(m)
        assert value(sm, "echod_sessions", listener="b") == 1
        assert value(sm, "echod_received_bytes_total", listener="b") == 6
        s.close()
        wait_until(lambda: value(scrape(m), "echod_sessions",
                                 listener="b") is None,
                   what="b's series to go")


def test_promtool():
    """promtool (Debian's prometheus) finds no problem in a scrape."""
    tool = shutil.which("promtool")
    if tool is None:
        tap.missing("promtool not installed (Debian package prometheus)")
    p, u, m = free_port(), free_port(), free_port()
    with Echod(metrics_conf(m, listener("echo", p, address="127.0.0.1"),
                            listener("u", u, protocol="udp"))):
        s = connect(p)
        roundtrip(s, b"x\n")
        s.close()
        _, _, body = http(m, b"GET /metrics HTTP/1.1\r\n\r\n")
        r = subprocess.run([tool, "check", "metrics"], input=body,
                           capture_output=True, timeout=60)
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
        assert r.stdout.strip() == b"" and r.stderr.strip() == b"", \
            (r.stdout, r.stderr)


def _refused_at_once(port):
    """A connection the server closes without an echo."""
    s = connect(port)
    try:
        s.sendall(b"x")
    except OSError:
        pass
    got = recv_until_eof(s, 2)
    s.close()
    assert got == b"", "a refused connection echoed %r" % got


def _each_ends_once(sm, name):
    """Accepted = closed + refused by a per-source limit, on name."""
    closed = sum(v for (n, lt), v in sm.items()
                 if n == "echod_sessions_closed_total" and
                 'listener="%s"' % name in lt)
    refused = sum(value(sm, "echod_connections_refused_total",
                        listener=name, limit=lim)
                  for lim in ("per_source", "rate"))
    return (value(sm, "echod_sessions_accepted_total", listener=name) ==
            closed + refused + value(sm, "echod_sessions", listener=name))


def test_write_timeout_counted():
    """A client that never reads is closed by the write timeout: one
    write-timeout close, the bytes its close entry says it read, and as
    many of replies (echod.conf(5): sent or queued to be sent)."""
    p, m = free_port(), free_port()
    with Echod(metrics_conf(m, listener("w", p, address="127.0.0.1",
                                        timeouts={"write": 0.3}))) as d:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", p))
        port = s.getsockname()[1]
        s.setblocking(False)
        chunk = b"w" * 65536
        end = time.monotonic() + DEADLINE
        try:
            # Until echod, its replies unread, gives up on the socket.
            while time.monotonic() < end:
                try:
                    s.send(chunk)
                except BlockingIOError:
                    select.select([], [s], [], 0.1)
        except (ConnectionResetError, BrokenPipeError):
            pass
        s.close()
        e = d.wait_closed_entry(port, "w")
        assert e.group(1) == "write-timeout", e.group(0)
        sm = scrape(m)
        assert value(sm, "echod_sessions_closed_total", listener="w",
                     reason="write-timeout") == 1
        for r in ("eof", "timeout", "error", "line-too-long", "shutdown",
                  "proxy-error"):
            assert value(sm, "echod_sessions_closed_total", listener="w",
                         reason=r) == 0, r
        assert value(sm, "echod_received_bytes_total",
                     listener="w") == int(e.group(2))
        # Sent or queued: all it read was queued, some never went out.
        assert value(sm, "echod_sent_bytes_total",
                     listener="w") == int(e.group(2))
        assert int(e.group(3)) < int(e.group(2))
        assert _each_ends_once(sm, "w")


def test_refused_global_and_rate():
    """max_connections refuses as global on the listener that took the
    connection; max_new_connections_per_source as rate, after the
    accept (so accepted = closed + refused)."""
    pa, pb, pr, m = free_port(), free_port(), free_port(), free_port()
    text = metrics_conf(
        m, listener("a", pa, address="127.0.0.1"),
        listener("b", pb, address="127.0.0.1"),
        listener("r", pr, address="127.0.0.1",
                 max_new_connections_per_source=1, new_connections_burst=1),
        max_connections=2)
    with Echod(text) as d:
        a = connect(pa)
        roundtrip(a, b"a\n")
        b = connect(pb)
        roundtrip(b, b"b\n")
        _refused_at_once(pb)
        _refused_at_once(pb)
        _refused_at_once(pa)
        sm = scrape(m)
        assert value(sm, "echod_connections_refused_total", listener="b",
                     limit="global") == 2
        assert value(sm, "echod_connections_refused_total", listener="a",
                     limit="global") == 1
        for name in ("a", "b"):
            assert value(sm, "echod_sessions_accepted_total",
                         listener=name) == 1
            for lim in ("listener", "per_source", "rate", "proxy_from"):
                assert value(sm, "echod_connections_refused_total",
                             listener=name, limit=lim) == 0, (name, lim)
        a.close()
        b.close()
        wait_until(lambda: value(scrape(m), "echod_sessions",
                                 listener="a") == 0 and
                   value(scrape(m), "echod_sessions", listener="b") == 0,
                   what="a and b to close")
        # A burst of 1 at one a second: the second at once is refused.
        r = connect(pr)
        roundtrip(r, b"r\n")
        r.close()
        _refused_at_once(pr)
        d.wait_log(r"max_new_connections_per_source$")
        sm = scrape(m)
        assert value(sm, "echod_connections_refused_total", listener="r",
                     limit="rate") == 1
        assert value(sm, "echod_connections_refused_total", listener="r",
                     limit="global") == 0
        assert value(sm, "echod_connections_refused_total", listener="r",
                     limit="per_source") == 0
        assert value(sm, "echod_sessions_accepted_total", listener="r") == 2
        wait_until(lambda: _each_ends_once(scrape(m), "r"),
                   what="r's sessions to end once each")
        for name in ("a", "b"):
            assert _each_ends_once(scrape(m), name)


def test_scraped_during_graceful_stop():
    """Through a graceful stop the endpoint still answers, with the
    sessions that hold the stop up.  Their shutdown closes come at its
    end, and the endpoint closes with the daemon once the last is gone,
    so no scrape sees those: their close entries say it."""
    p, m = free_port(), free_port()
    with Echod(metrics_conf(m, listener("s", p, address="127.0.0.1"),
                            timeouts={"shutdown": 1})) as d:
        s = connect(p)
        roundtrip(s, b"held\n")
        port = s.getsockname()[1]
        since = len(d.lines)
        d.kill(signal.SIGTERM)
        d.wait_notify(r"^STOPPING=1$")
        sm = scrape(m)
        assert value(sm, "echod_sessions", listener="s") == 1
        assert value(sm, "echod_sessions_closed_total", listener="s",
                     reason="shutdown") == 0
        e = d.wait_closed_entry(port, "s", since=since)
        assert e.group(1) == "shutdown", e.group(0)
        assert d.wait_exit() == 0
        s.close()


def test_activated_metrics_socket():
    """A passed socket named metrics serves the endpoint without a
    metrics group (FileDescriptorName=metrics), and keeps serving it
    across a reload."""
    m, p = free_port(), free_port()
    text = conf(listener("echo", p, address="127.0.0.1"))
    # The harness's knock goes to the first socket: metrics, so that
    # every echo session is the test's.
    with Echod(text, activate=[(m, "metrics"), (p, "echo")]) as d:
        d.wait_log(r"serving metrics on http://127\.0\.0\.1:%d/metrics$"
                   % m)
        N = 5
        for i in range(N):
            s = connect(p)
            roundtrip(s, b"%d\n" % i)
            s.close()
        wait_until(lambda: value(scrape(m), "echod_sessions_closed_total",
                                 listener="echo", reason="eof") == N,
                   what="the sessions to close")
        assert value(scrape(m), "echod_sessions_accepted_total",
                     listener="echo") == N
        assert d.reload().group(1) == "configuration reloaded"
        sm = scrape(m)
        assert value(sm, "echod_config_reloads_total", result="ok") == 1
        assert value(sm, "echod_sessions_accepted_total",
                     listener="echo") == N
        status, _, _ = http(m, b"GET / HTTP/1.1\r\n\r\n")
        assert status == 404


def test_strict_requests():
    """What the parser refuses (metrics_http.c) is refused on the wire,
    and a scrape after each is served."""
    p, m = free_port(), free_port()
    with Echod(metrics_conf(m, listener("e", p, address="127.0.0.1"))):
        for req in (b"GET /metrics\r\n\r\n",
                    b"GET /metrics HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
                    b"GET /metrics HTTP/1.1\rX: y\r\n\r\n",
                    b"GET /metrics HTTP/1.1\r\nX: a\0b\r\n\r\n",
                    b"GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n",
                    b"GET /m\xc3\xa9trics HTTP/1.1\r\n\r\n"):
            status, _, _ = http(m, req)
            assert status == 400, (req, status)
        status, _, body = http(m, b"GET /metrics HTTP/1.0\n\n")
        assert status == 200 and body.startswith(b"# HELP "), status


def test_grafana_dashboard():
    """examples/grafana-dashboard.json: says it is untested, its PromQL
    parses (promtool check rules), and names only series echod serves."""
    path = os.path.join(os.environ["top_srcdir"], "examples",
                        "grafana-dashboard.json")
    with open(path) as f:
        dash = json.load(f)
    assert "untested" in dash["description"].lower()
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert exprs
    p, m = free_port(), free_port()
    with Echod(metrics_conf(m, listener("e", p, address="127.0.0.1"),
                            listener("u", free_port(), protocol="udp",
                                     address="127.0.0.1"))):
        served = {n for n, _ in scrape(m)}
    for e in exprs:
        for name in re.findall(r"\b(echod_[a-z_]+)", e):
            assert name in served, (name, e)
    tool = shutil.which("promtool")
    if tool is None:
        tap.missing("promtool not installed (Debian package prometheus)")
    # Grafana's variables, as Prometheus would see them substituted.
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": "dashboard:%d" % i,
         "expr": e.replace("$__rate_interval", "1m")
                  .replace("$__range", "1h").replace("$instance", ".*")}
        for i, e in enumerate(exprs)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        json.dump(rules, f)     # JSON is YAML
        f.flush()
        r = subprocess.run([tool, "check", "rules", f.name],
                           capture_output=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)


tap.main(globals())
