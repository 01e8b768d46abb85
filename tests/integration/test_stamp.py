#!/usr/bin/python3
"""The STAMP reflector (echod.conf(5), protocol = "stamp"; RFC 8762) driven
by packets that scapy builds and decodes (scapy.contrib.stamp, written from
RFC 8762 and RFC 8972, not from echod): every field of the reply, stateless
and stateful numbering, TWAMP-Light's short packets (section 4.6), the
reflection guard and rate limit, and echocli stamp against it.  The clock's
error estimate is checked against adjtimex(2) read here with ctypes."""

import ctypes
import errno
import json
import logging
import os
import select
import socket
import struct
import subprocess
import time
from decimal import Decimal

import tap
from echodtest import (Echod, assert_silent, conf, free_port, have_ipv6,
                       listener)

logging.getLogger("scapy").setLevel(logging.ERROR)
try:
    from scapy.contrib.stamp import (
        ErrorEstimate, STAMPSessionReflectorTestUnauthenticated as Reply,
        STAMPSessionSenderTestUnauthenticated as Test)
except ImportError:
    Test = None

DEADLINE = 10.0
NTP_UNIX = 2208988800
STA_UNSYNC = 0x0040
TIME_ERROR = 5


def _need_scapy():
    if Test is None:
        tap.missing("scapy with scapy.contrib.stamp (python3-scapy) is not "
                 "installed")


def _stamp(name, port, address="127.0.0.1", **keys):
    keys.setdefault("udp_rate", 10000)
    keys.setdefault("udp_burst", 10000)
    return listener(name, port, address=address, protocol="stamp", **keys)


def _port():
    """A port free for TCP (the harness's bookkeeping) and UDP."""
    for _ in range(50):
        port = free_port()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        return port
    raise RuntimeError("no free UDP port")


def _client(host="127.0.0.1", port=0, ttl=None):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if ttl is not None:
        if fam == socket.AF_INET:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        else:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
    s.bind((host, port))
    return s


def _recv(s, timeout=DEADLINE):
    r, _, _ = select.select([s], [], [], timeout)
    assert r, "no reply within %.1f s" % timeout
    return s.recv(70000)


def _ntp_now():
    return Decimal(time.time_ns()) / Decimal(10 ** 9) + NTP_UNIX


def _adjtimex():
    """(synchronised, maxerror in s) as this kernel says, read only."""
    class Timex(ctypes.Structure):
        _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long),
                    ("freq", ctypes.c_long), ("maxerror", ctypes.c_long),
                    ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                    ("pad", ctypes.c_byte * 256)]
    libc = ctypes.CDLL(None, use_errno=True)
    tx = Timex()
    st = libc.adjtimex(ctypes.byref(tx))
    if st == -1 and ctypes.get_errno() == errno.EPERM:
        # A system call filter (systemd-nspawn's, say) refuses it to us,
        # and to echod alike: nothing is known of the clock.
        return None
    assert st != -1, os.strerror(ctypes.get_errno())
    return (st != TIME_ERROR and not tx.status & STA_UNSYNC,
            tx.maxerror / 1e6)


def _exchange(s, dest, pkt):
    """Send pkt (bytes); the reply, decoded, its bytes, and the wall clock
    window (NTP seconds) around the exchange."""
    before = _ntp_now()
    s.sendto(pkt, dest)
    raw = _recv(s)
    after = _ntp_now()
    # What follows the 44 octets is padding here, not RFC 8972 TLVs.
    return Reply(raw[:44]), raw, before, after


def _check_reply(rep, raw, sent, before, after, ttl, length=44):
    """Every field of a reply to the test packet sent (bytes)."""
    test = Test((sent + bytes(44))[:44])
    assert len(raw) == max(length, 44), len(raw)
    # Echoed: the sender's sequence number, timestamp (to the bit) and
    # error estimate, and the SSID (RFC 8972).
    assert rep.seq_sender == test.seq, (rep.seq_sender, test.seq)
    assert raw[28:36] == sent[4:12], (raw[28:36].hex(), sent[4:12].hex())
    assert raw[36:38] == sent[12:14]
    assert rep.ssid == test.ssid
    # MBZ.
    assert rep.mbz1 == 0 and rep.mbz2 == 0, (rep.mbz1, rep.mbz2)
    # Receive, then transmit, both within the exchange (the clocks are
    # one: 1 ms of slack for the kernel's timestamp granularity).
    slack = Decimal("0.001")
    assert before - slack <= rep.ts_rx <= rep.ts <= after + slack, (
        before, rep.ts_rx, rep.ts, after)
    # The TTL the test packet arrived with is the one it was sent with
    # (loopback: no hop).
    assert rep.ttl_sender == ttl, (rep.ttl_sender, ttl)
    # The reflector's clock: NTP format, a multiplier (RFC 4656), and
    # what this kernel says of the clock.
    ee = rep.err_estimate
    assert ee.Z == 0 and ee.multiplier != 0
    clock = _adjtimex()
    if clock is None:
        # Refused: "not synchronised", the largest error it can say.
        assert (ee.S, ee.scale, ee.multiplier) == (0, 63, 255), ee
        return
    sync, maxerr = clock
    est = ee.multiplier * 2.0 ** (ee.scale - 32)
    assert ee.S == (1 if sync else 0), (ee.S, sync)
    assert est >= maxerr * (1 - 1e-9), (est, maxerr)
    assert est <= maxerr * 1.01 + 2 ** -32, (est, maxerr)


def _test_packet(seq, ssid=0, ts=None):
    if ts is None:
        ts = _ntp_now()
    return bytes(Test(seq=seq, ts=ts, ssid=ssid,
                      err_estimate=ErrorEstimate(S=0, scale=20,
                                                 multiplier=77)))


def test_fields_stateless():
    _need_scapy()
    port = _port()
    with Echod(conf(_stamp("s", port))):
        s = _client(ttl=57)
        dest = ("127.0.0.1", port)
        for seq in (0, 1, 2, 0x7fffffff, 0xffffffff, 5):
            sent = _test_packet(seq, ssid=0x1234)
            rep, raw, before, after = _exchange(s, dest, sent)
            _check_reply(rep, raw, sent, before, after, 57)
            # Stateless: the reflector's number is the sender's
            # (RFC 8762 section 4.3.1).
            assert rep.seq == seq, (rep.seq, seq)
        s.close()


def test_fields_ipv6():
    _need_scapy()
    if not have_ipv6():
        tap.skip("no IPv6 on loopback")
    port = _port()
    with Echod(conf(_stamp("s6", port, address="::1"))):
        s = _client("::1", ttl=33)
        sent = _test_packet(9)
        rep, raw, before, after = _exchange(s, ("::1", port), sent)
        _check_reply(rep, raw, sent, before, after, 33)
        s.close()


def test_stateful():
    _need_scapy()
    port, lport = _port(), _port()
    with Echod(conf(_stamp("f", port, stamp_mode="stateful"),
                    _stamp("l", lport))):
        a, b = _client(ttl=64), _client(ttl=64)
        dest = ("127.0.0.1", port)
        # Its own count per session, from 0, whatever the sender's.
        for i, seq in enumerate((100, 101, 105, 106)):
            rep, raw, before, after = _exchange(a, dest, _test_packet(seq))
            assert (rep.seq, rep.seq_sender) == (i, seq), (rep.seq, seq)
        rep = _exchange(b, dest, _test_packet(100))[0]
        assert rep.seq == 0, rep.seq
        # Another SSID is another session (RFC 8972 section 3).
        rep = _exchange(a, dest, _test_packet(107, ssid=2))[0]
        assert rep.seq == 0, rep.seq
        rep = _exchange(a, dest, _test_packet(108))[0]
        assert rep.seq == 4, rep.seq
        # The stateless listener beside it echoes the number.
        rep = _exchange(a, ("127.0.0.1", lport), _test_packet(108))[0]
        assert rep.seq == 108, rep.seq
        a.close()
        b.close()


def test_twamp_light_short():
    _need_scapy()
    port = _port()
    with Echod(conf(_stamp("s", port))) as d:
        s = _client(ttl=64)
        dest = ("127.0.0.1", port)
        # 14 octets: sequence number, timestamp, error estimate.  The
        # reply is the full 44 (RFC 8762 section 4.6), SSID zero.
        sent = _test_packet(42, ssid=0xffff)[:14]
        rep, raw, before, after = _exchange(s, dest, sent)
        _check_reply(rep, raw, sent, before, after, 64)
        assert rep.ssid == 0
        # What follows is RFC 8972 TLVs, the length the same: this one
        # (Type 1, Length 515) runs past the end, so U and M are set in
        # its Flags and the rest comes back as it came.
        sent = _test_packet(43) + bytes(range(100))
        rep, raw, before, after = _exchange(s, dest, sent)
        _check_reply(rep, raw, sent, before, after, 64, length=len(sent))
        assert raw[44] == 0xc0 and raw[45:] == sent[45:], raw[44:].hex()
        # Shorter than 14: not a test packet; dropped and counted.
        for n in (0, 1, 13):
            s.sendto(sent[:n], dest)
        assert_silent(s)
        d.wait_notify(r"; 3 datagrams dropped$")
        d.wait_log(r"dropped 3 UDP datagrams: .* 3 not STAMP test packets")
        s.close()


def test_tlvs():
    """RFC 8972 section 4: TLVs the reflector does not process come back
    with U (the Flags' most significant bit) set, their Type, Length and
    Value as they came; one that runs past the packet's end gets M too and
    ends the walk.  Built by hand: no scapy needed."""
    port = _port()
    with Echod(conf(_stamp("s", port))):
        s = _client()
        dest = ("127.0.0.1", port)
        base = struct.pack("!IQH", 5, 0xe8fe6f8080000000, 0x0001) + \
            bytes(30)
        tlvs = (bytes([0x00, 0x01, 0x00, 0x04]) + b"\xaa" * 4 +   # padding
                bytes([0x40, 0x03, 0x00, 0x00]) +                # empty
                bytes([0x00, 0x09, 0x00, 0x20]) + b"\x55" * 6)  # too long
        s.sendto(base + tlvs, dest)
        raw = _recv(s)
        assert len(raw) == len(base) + len(tlvs), len(raw)
        want = (bytes([0x80, 0x01, 0x00, 0x04]) + b"\xaa" * 4 +
                bytes([0xc0, 0x03, 0x00, 0x00]) +
                bytes([0xc0, 0x09, 0x00, 0x20]) + b"\x55" * 6)
        assert raw[44:] == want, raw[44:].hex()
        # The sender's sequence number, at octet 24 of the reply.
        assert struct.unpack("!I", raw[24:28])[0] == 5
        s.close()


def test_guard_and_rate_limit():
    _need_scapy()
    port = _port()
    with Echod(conf(_stamp("s", port, udp_rate=1, udp_burst=2))) as d:
        s = _client(ttl=64)
        dest = ("127.0.0.1", port)
        for seq in range(5):
            s.sendto(_test_packet(seq), dest)
        got = [Reply(_recv(s)).seq_sender for _ in range(2)]
        assert got == [0, 1], got
        assert_silent(s)
        d.wait_notify(r"; 3 datagrams dropped$")
        s.close()
        # A source port below 1024 could be another service.
        try:
            low = _client("127.0.0.1", 1023)
        except PermissionError:
            tap.skip("binding a port below 1024 needs root")
        except OSError:
            return
        low.sendto(_test_packet(0), dest)
        assert_silent(low)
        low.close()


def test_echocli_stamp():
    port = _port()
    with Echod(conf(_stamp("f", port, stamp_mode="stateful"))):
        out = subprocess.run(
            [os.environ["ECHOCLI"], "stamp", "--json", "-c", "20", "-i",
             "0.005", "127.0.0.1", str(port)], capture_output=True,
            text=True, timeout=DEADLINE)
        assert out.returncode == 0, out.stderr
        r = json.loads(out.stdout)
        assert (r["sent"], r["received"], r["lost"]) == (20, 20, 0), r
        assert (r["lost_there"], r["lost_back"], r["duplicated"]) == \
            (0, 0, 0), r
        assert 0 < r["rtt_us"]["min"] <= r["rtt_us"]["p50"] <= \
            r["rtt_us"]["max"] < 1e6, r
        assert r["reflector_us"] >= 0
        clock = _adjtimex()
        assert r["reflector_clock"]["synchronised"] == (
            clock is not None and clock[0])
        # And in words.
        out = subprocess.run(
            [os.environ["ECHOCLI"], "stamp", "-c", "3", "-i", "0.005",
             "127.0.0.1", str(port)], capture_output=True, text=True,
            timeout=DEADLINE)
        assert out.returncode == 0, out.stderr
        assert "3 sent, 3 received, 0 lost" in out.stdout, out.stdout
        assert "0 duplicated, 0 foreign\n" in out.stdout, out.stdout
        assert "one-way delays compare two clocks" in out.stdout


def test_echocli_stamp_loss():
    """A rate limit drops on the way there: once a stateful reflector's
    numbers fall behind ours, they put the loss on that side."""
    port = _port()
    with Echod(conf(_stamp("f", port, stamp_mode="stateful", udp_rate=2,
                           udp_burst=2))):
        out = subprocess.run(
            [os.environ["ECHOCLI"], "stamp", "--json", "-c", "20", "-i",
             "0.1", "-t", "0.5", "127.0.0.1", str(port)],
            capture_output=True, text=True, timeout=DEADLINE)
        r = json.loads(out.stdout)
        assert 3 <= r["received"] <= 8, r
        assert r["stateful"], r
        assert r["lost_there"] == 20 - r["received"], r
        assert r["lost_back"] == 0, r



def _reflect_by_hand(r, n, extra):
    """Answer n test packets on r as a stateless reflector, each reply
    preceded by the datagrams extra(test packet) returns."""
    deadline = time.monotonic() + DEADLINE
    for _ in range(n):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([r], [], [], max(left, 0))
        assert ready, "no test packet from echocli stamp"
        pkt, peer = r.recvfrom(100)
        seq, ts = struct.unpack("!IQ", pkt[:12])
        for d in extra(seq, ts):
            r.sendto(d, peer)
        r.sendto(_stamp_reply(seq, ts), peer)


def _stamp_reply(seq, ts):
    """A reflector's packet for test packet seq sent at ts: received and
    sent back at once, as far as the sender can tell."""
    return struct.pack("!IQHHQIQH2xB3x", seq, ts, 0x3fff, 0, ts, seq, ts,
                       0, 64)


def test_echocli_stamp_foreign():
    """Replies that echo a sequence number never sent, the wrong sender
    timestamp, or are too short are counted as foreign, never as
    received; the port is reported as a number."""
    r = _client()
    port = r.getsockname()[1]
    p = subprocess.Popen(
        [os.environ["ECHOCLI"], "stamp", "--json", "-c", "3", "-i", "0.01",
         "127.0.0.1", str(port)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        _reflect_by_hand(r, 3, lambda seq, ts: [
            _stamp_reply(seq, ts ^ 1),          # forged: wrong T1
            _stamp_reply(seq + 1000, ts),       # a number never sent
            _stamp_reply(seq, ts)[:20]])        # too short
        out, err = p.communicate(timeout=DEADLINE)
    finally:
        p.kill()
        r.close()
    assert p.returncode == 0, err
    j = json.loads(out)
    assert (j["sent"], j["received"], j["duplicated"], j["foreign"]) == \
        (3, 3, 0, 9), j
    assert j["port"] == port, j


def test_echocli_stamp_service_port():
    """A service name for the port: the JSON has the number used."""
    for name in ("nfs", "postgresql", "mysql", "x11", "http-alt",
                 "openvpn", "sip", "xmpp-client"):
        try:
            num = socket.getservbyname(name, "udp")
        except OSError:
            continue
        r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            r.bind(("127.0.0.1", num))
        except OSError:
            r.close()
            continue
        break
    else:
        tap.skip("no UDP service of /etc/services free to bind")
    p = subprocess.Popen(
        [os.environ["ECHOCLI"], "stamp", "--json", "-c", "1",
         "127.0.0.1", name], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        _reflect_by_hand(r, 1, lambda seq, ts: [])
        out, err = p.communicate(timeout=DEADLINE)
    finally:
        p.kill()
        r.close()
    assert p.returncode == 0, err
    j = json.loads(out)
    assert (j["port"], j["received"], j["foreign"]) == (num, 1, 0), j


tap.main(globals())
