#!/usr/bin/python3
"""echocli bench -u (echocli(1), issue 19): against echod's UDP listener,
against openbsd-inetd's internal udp echo in a private network namespace,
with loss that echod's rate limit causes (and counts), and with netem's
loss, delay and reordering on the loopback of a private namespace, where
the kernel has netem."""

import json
import os
import select
import shutil
import signal
import subprocess
import tempfile

import tap
from echodtest import DEADLINE, Echod, conf, free_port, listener

ECHOCLI = os.environ.get("ECHOCLI") or os.path.join(
    os.environ.get("top_builddir", "."), "echocli")

FIELDS = ("host", "address", "port", "mode", "size", "rate", "duration_s",
          "count", "elapsed_s", "rate_achieved", "pacing_late_us",
          "pacer_slips", "wait_s", "sent", "received", "lost", "loss_ratio",
          "duplicated", "reordered", "reordered_ratio", "rtt_us",
          "jitter_us", "ipdv_us", "sent_per_second", "lost_per_second",
          "worst_second", "not_sent", "refused", "wrong_replies",
          "rcvbuf_dropped", "interrupted", "ok")

# inetd's address in its namespace (any but loopback's).
INETD_ADDR = "10.7.0.1"

# A datagram echo inside a namespace, for netem: prints "ready" once bound.
PY_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind(("127.0.0.1", 7))
print("ready", flush=True)
while True:
    d, a = s.recvfrom(70000)
    s.sendto(d, a)
"""

# Until the echo at ADDR:7 answers (a readiness probe, not a sleep).
PY_PROBE = """
import socket, select, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    try:
        s.sendto(b"probe", (sys.argv[1], 7))
    except OSError:
        pass
    if select.select([s], [], [], 0.05)[0]:
        try:
            if s.recv(100) == b"probe":
                sys.exit(0)
        except OSError:
            pass
sys.exit(1)
"""


def _bench(*args, netns=None, timeout=60):
    """echocli bench -u ARGS --json: its exit status and JSON object."""
    cmd = [ECHOCLI, "bench", "-u", "--json"] + [str(a) for a in args]
    if netns is not None:
        cmd = netns.wrap(cmd)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    assert p.stdout.strip(), "no output; stderr: %r" % p.stderr
    return p.returncode, json.loads(p.stdout), p.stderr


def _consistent(r):
    """The figures of one result agree with each other."""
    for k in FIELDS:
        assert k in r, "no %r in %r" % (k, sorted(r))
    assert r["mode"] == "udp"
    assert r["lost"] == r["sent"] - r["received"], r
    assert sum(r["sent_per_second"]) == r["sent"], r
    assert sum(r["lost_per_second"]) == r["lost"], r
    assert len(r["sent_per_second"]) == len(r["lost_per_second"])
    w = r["worst_second"]
    if r["lost"] > 0:
        assert w["lost"] == max(r["lost_per_second"]), r
        assert r["lost_per_second"][w["second"]] == w["lost"]
        assert r["sent_per_second"][w["second"]] == w["sent"]
    if r["sent"]:
        assert abs(r["loss_ratio"] - r["lost"] / r["sent"]) < 1e-6
    if r["received"]:
        assert abs(r["reordered_ratio"] -
                   r["reordered"] / r["received"]) < 1e-6
        t = r["rtt_us"]
        assert 0 < t["min"] <= t["p50"] <= t["p90"] <= t["p99"] <= \
            t["p99_9"] <= t["max"], t
        assert t["min"] <= t["mean"] <= t["max"], t
        assert r["ipdv_us"]["pairs"] <= r["received"] - 1
        assert r["ipdv_us"]["max_abs"] >= r["ipdv_us"]["p50_abs"] >= 0


class Netns:
    """A command (its argv) as the first process of a new network
    namespace with lo up; the namespace goes with it, at the end of a
    with block, and wrap() runs other commands in it (nsenter)."""

    def __init__(self, argv, setup=()):
        script = "ip link set lo up && "
        for c in setup:
            script += c + " && "
        # The line says the namespace exists: nsenter before it would
        # enter the namespace unshare is leaving.
        script += 'echo netns && exec "$@"'
        self.proc = subprocess.Popen(
            ["unshare", "-n", "--", "sh", "-c", script, "sh"] + list(argv),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        line = ""
        if select.select([self.proc.stdout], [], [], DEADLINE)[0]:
            line = self.proc.stdout.readline()
        if line.strip() != "netns":
            self.close()
            raise AssertionError("no network namespace: %r" % (line,))

    def wrap(self, cmd):
        return ["nsenter", "-t", str(self.proc.pid), "-n", "--"] + cmd

    def wait_echo(self, addr, timeout=DEADLINE):
        """Until the echo on addr port 7 answers."""
        p = subprocess.run(self.wrap(["python3", "-c", PY_PROBE, addr,
                                      str(timeout)]), timeout=timeout + 5)
        assert p.returncode == 0, "no echo on %s port 7" % addr

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _need_namespaces():
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            tap.skip("no %s" % tool)
    p = subprocess.run(["unshare", "-n", "true"], stderr=subprocess.PIPE)
    if p.returncode != 0:
        tap.skip("cannot create a network namespace: %s" %
                 p.stderr.decode().strip())


def test_echod_all_back():
    port = free_port()
    # Above the default rate limit (50/s, burst 100), which would drop.
    with Echod(conf(listener("u", port, address="127.0.0.1",
                             protocol="udp", udp_rate=1000000,
                             udp_burst=1000000))):
        # Under valgrind echod answers some 50 times slower: a rate it
        # keeps up with, or the kernel drops what waits for it.
        rate = 200 if os.environ.get("ECHOD_WRAPPER") else 2000
        rc, r, err = _bench("-n", 500, "-r", rate, "-s", 200,
                            "127.0.0.1", port)
        assert rc == 0, err
        _consistent(r)
        assert (r["sent"], r["received"], r["lost"]) == (500, 500, 0), r
        assert (r["duplicated"], r["wrong_replies"], r["not_sent"]) == \
            (0, 0, 0), r
        assert r["ok"] is True and r["interrupted"] is False
        assert r["size"] == 200 and r["count"] == 500
        assert r["port"] == str(port) and r["address"] == "127.0.0.1"
        assert r["ipdv_us"]["pairs"] == 499, r["ipdv_us"]
        # The pacer: 500 datagrams at 2000/s take a quarter of a second.
        assert 0.75 * rate < r["rate_achieved"] < 1.25 * rate, \
            r["rate_achieved"]
        assert 0.4 * 500 / rate < r["elapsed_s"] < 2.0 * 500 / rate + 0.5, \
            r["elapsed_s"]

        # -d: the table, on a pipe (so no progress line).
        p = subprocess.run([ECHOCLI, "bench", "-u", "-d", "0.5", "-r",
                            "200", "127.0.0.1", str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        assert "\r" not in p.stdout
        lines = p.stdout.splitlines()
        assert lines[0].startswith("echocli bench -u: 127.0.0.1 port %d, "
                                   "64-byte datagrams, 200/s" % port), lines
        got = {ln.split()[0]: ln.split()[1] for ln in lines[1:]}
        # 100, unless a stall of this machine moved the schedule on.
        assert got["sent"] == got["received"], lines
        assert 50 <= int(got["sent"]) <= 100, lines
        assert got["lost"] == "0", lines
        for k in ("duplicated", "reordered", "round", "jitter", "ipdv",
                  "errors"):
            assert k in got, (k, lines)


def test_options():
    # TCP's options are refused with -u, and sizes below the header too.
    for args in (["-c", "2"], ["-s", "23"], ["-s", "65508"], ["-r", "0"],
                 ["-p", "3"], ["--strip", "1"]):
        p = subprocess.run([ECHOCLI, "bench", "-u"] + args +
                           ["127.0.0.1", "9"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=10)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert "usage" in p.stderr or "invalid" in p.stderr, p.stderr
    # Nobody there: every datagram lost, the ICMP errors counted, status 1.
    port = free_port()
    rc, r, err = _bench("-n", 20, "-r", 1000, "-t", "0.2", "127.0.0.1", port)
    assert rc == 1 and r["ok"] is False, (rc, r)
    assert r["sent"] == 20 and r["received"] == 0 and r["lost"] == 20, r
    assert r["refused"] > 0, r
    assert "no reply" in err, err


def test_inetd_internal_echo():
    inetd = shutil.which("inetd") or "/usr/sbin/inetd"
    if not os.access(inetd, os.X_OK):
        tap.missing("no inetd (Debian package openbsd-inetd)")
    _need_namespaces()
    d = tempfile.mkdtemp(prefix="udpbench.")
    try:
        cf = os.path.join(d, "inetd.conf")
        with open(cf, "w") as f:
            # The service name is /etc/services' (echo: 7/udp); port 7 is
            # free in a namespace of our own.
            f.write("echo dgram udp wait root internal\n")
        # -d: in the foreground, so that it ends with the namespace.
        # Its echo ignores sources in 127/8 (a reflection guard, like
        # echod's): the namespace's lo gets an address of its own.
        with Netns([inetd, "-d", cf],
                   setup=["ip addr add %s/32 dev lo" % INETD_ADDR]) as ns:
            ns.wait_echo(INETD_ADDR)
            rc, r, err = _bench("-n", 300, "-r", 1000, "-s", 512,
                                INETD_ADDR, netns=ns)
            assert rc == 0, err
            _consistent(r)
            assert r["port"] == "7" and r["address"] == INETD_ADDR, r
            assert (r["sent"], r["received"], r["lost"]) == (300, 300, 0), r
            assert r["wrong_replies"] == 0 and r["duplicated"] == 0, r
    finally:
        shutil.rmtree(d)


def test_loss_from_rate_limit():
    port = free_port()
    rate, burst = 20, 30
    with Echod(conf(listener("u", port, address="127.0.0.1",
                             protocol="udp", udp_rate=rate,
                             udp_burst=burst))) as d:
        rc, r, err = _bench("-n", 400, "-r", 2000, "127.0.0.1", port)
        assert rc == 0, err
        _consistent(r)
        assert r["sent"] == 400, r
        assert r["rcvbuf_dropped"] == 0 and r["not_sent"] == 0, r
        # The burst, and what refilled while sending (about 0.2 s).
        assert burst <= r["received"] <= burst + rate, r
        # Every datagram echod says it dropped is one echocli says lost.
        d.wait_notify(r"; %d datagrams dropped$" % r["lost"])
        # All were sent within the first second, and lost there.
        assert r["worst_second"]["second"] == 0, r["worst_second"]
        assert r["worst_second"]["lost"] == r["lost"], r


def _have_netem():
    p = subprocess.run(["unshare", "-n", "sh", "-c",
                        "ip link set lo up && tc qdisc add dev lo root "
                        "netem delay 1ms"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    return p.returncode == 0, p.stderr.strip()


def test_netem_loss_delay_reorder():
    _need_namespaces()
    if shutil.which("tc") is None:
        tap.skip("no tc (iproute2)")
    ok, why = _have_netem()
    if not ok:
        tap.skip("no netem in this kernel: %s" % why)
    # Loopback carries each datagram twice (there and back): 5 % each way
    # is about 10 % of round trips lost, 2.5 ms each way at least 5 ms.
    setup = ["tc qdisc add dev lo root netem loss 5% delay 2500us 500us "
             "reorder 10% 50%"]
    with Netns(["python3", "-c", PY_ECHO], setup=setup) as ns:
        line = ""
        if select.select([ns.proc.stdout], [], [], DEADLINE)[0]:
            line = ns.proc.stdout.readline()
        assert line.strip() == "ready", (line, ns.proc.stderr.read())
        rc, r, err = _bench("-n", 2000, "-r", 1000, "127.0.0.1",
                            netns=ns)
        assert rc == 0, err
        _consistent(r)
        assert 0.05 <= r["loss_ratio"] <= 0.15, r["loss_ratio"]
        assert r["rtt_us"]["min"] >= 4000, r["rtt_us"]
        assert r["reordered"] > 0, r
        assert r["jitter_us"] > 0 and r["ipdv_us"]["pairs"] > 0, r


tap.main(globals())
