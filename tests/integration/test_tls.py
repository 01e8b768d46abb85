#!/usr/bin/python3
"""TLS listeners (echod.conf(5) tls, timeouts.handshake; echod(8) TLS),
against clients no one here wrote: openssl s_client, Python's ssl module
and socat.  The certificate authority, the server's and a client's
certificates are made here with the openssl command, in a temporary
directory: nothing private is in the tree."""

import os
import random
import re
import select
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

import tap
from echodtest import (DEADLINE, ECHOD, Echod, conf, connect, free_port, listener,
                       local_port, recv_until_eof, run_echod,
                       wait_until)

OPENSSL = shutil.which("openssl")
SOCAT = shutil.which("socat")
EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


class Pki:
    """A throwaway CA, a server certificate for localhost and 127.0.0.1,
    and a client certificate; more on demand."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="echodtls.")
        self.serial = 100
        self.ca, self.ca_key = self.path("ca.pem"), self.path("ca.key")
        self._openssl("req", "-x509", *EC, "-keyout", self.ca_key,
                      "-out", self.ca, "-subj", "/CN=echod test CA",
                      "-days", "2")
        self.cert, self.key = self.issue("server", "/CN=localhost")
        self.client, self.client_key = self.issue(
            "client", "/O=echod tests/CN=client \u00e9 1", client=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _openssl(self, *args):
        subprocess.run([OPENSSL] + list(args), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=DEADLINE)

    def issue(self, name, subject, client=False):
        """A certificate signed by the CA, with a new serial; its paths."""
        self.serial += 1
        cert, key = self.path(name + ".pem"), self.path(name + ".key")
        ext = ("extendedKeyUsage=clientAuth" if client else
               "subjectAltName=DNS:localhost,IP:127.0.0.1")
        self._openssl("req", "-x509", *EC, "-keyout", key, "-out", cert,
                      "-subj", subject, "-utf8", "-CA", self.ca,
                      "-CAkey", self.ca_key, "-set_serial", str(self.serial),
                      "-days", "1", "-addext", ext)
        return cert, key

    def expired(self, name):
        """A certificate of the CA whose dates are long past (openssl ca
        is the command that takes them)."""
        cnf = self.path("ca.cnf")
        with open(cnf, "w") as f:
            f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = %s\n"
                    "new_certs_dir = %s\ndefault_md = sha256\npolicy = p\n"
                    "serial = %s\n[p]\ncommonName = supplied\n"
                    % (self.path("index.txt"), self.dir,
                       self.path("serial")))
        open(self.path("index.txt"), "w").close()
        with open(self.path("serial"), "w") as f:
            f.write("%04X\n" % (self.serial + 1000))
        key, csr, cert = (self.path(name + ".key"), self.path(name + ".csr"),
                          self.path(name + ".pem"))
        self._openssl("req", *EC, "-keyout", key, "-out", csr,
                      "-subj", "/CN=localhost")
        self._openssl("ca", "-batch", "-config", cnf, "-cert", self.ca,
                      "-keyfile", self.ca_key, "-in", csr, "-out", cert,
                      "-notext", "-startdate", "20200101000000Z",
                      "-enddate", "20200102000000Z")
        return cert, key

    def tls(self, **keys):
        d = {"certificate": self.cert, "key": self.key}
        d.update(keys)
        return d

    def context(self, cert=None, key=None):
        """A Python client context that checks echod's certificate."""
        ctx = ssl.create_default_context(cafile=self.ca)
        if cert:
            ctx.load_cert_chain(cert, key)
        return ctx


PKI = None


def pki():
    global PKI
    if OPENSSL is None:
        tap.missing("no openssl command")
    if PKI is None:
        PKI = Pki()
    return PKI


def tls_listener(name, port, **keys):
    keys.setdefault("tls", pki().tls())
    return listener(name, port, address="127.0.0.1", **keys)


def tls_connect(port, ctx=None, **kw):
    ctx = ctx or pki().context()
    raw = connect(port)
    return ctx.wrap_socket(raw, server_hostname="localhost", **kw)


def recv_exact(s, n, timeout=DEADLINE):
    s.settimeout(timeout)
    out = bytearray()
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            raise AssertionError("EOF after %d of %d bytes" % (len(out), n))
        out += b
    return bytes(out)


class SClient:
    """openssl s_client on a port: what it is given goes out, what comes
    back is read from its stdout."""

    def __init__(self, port, *args):
        argv = [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port,
                "-quiet", "-no_ign_eof", "-verify_return_error",
                "-CAfile", pki().ca, "-servername", "localhost"] + list(args)
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def recv(self, n, timeout=DEADLINE):
        out = b""
        end = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while len(out) < n:
            left = end - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise AssertionError("s_client: %d of %d bytes in time: %r"
                                     % (len(out), n, out))
            b = os.read(fd, n - len(out))
            if not b:
                raise AssertionError("s_client ended after %r; stderr %r"
                                     % (out, self.p.stderr.read()))
            out += b
        return out

    def close(self, timeout=DEADLINE):
        """End its input; its exit status and stderr."""
        self.p.stdin.close()
        rc = self.p.wait(timeout)
        err = self.p.stderr.read().decode(errors="replace")
        self.p.stdout.close()
        self.p.stderr.close()
        return rc, err

    def port(self, d):
        """The client port of its session, from the open entry."""
        m = d.wait_log(r"^\w+: connection from 127\.0\.0\.1:(\d+) on ")
        return int(m.group(1))


def serial_seen(port):
    """The serial of the certificate echod presents, as s_client sees it."""
    p = subprocess.run([OPENSSL, "s_client", "-connect",
                        "127.0.0.1:%d" % port, "-servername", "localhost"],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=DEADLINE)
    x = subprocess.run([OPENSSL, "x509", "-noout", "-serial"],
                       input=p.stdout, capture_output=True, timeout=DEADLINE)
    return int(x.stdout.decode().strip().split("=")[1], 16)


# --- tests -------------------------------------------------------------------

def test_s_client_echoes_byte_exact():
    """openssl s_client: every byte back, and the close entry says which
    TLS it was."""
    port = free_port()
    with Echod(conf(tls_listener("t", port))) as d:
        c = SClient(port)
        data = bytes(range(256)) * 4 + b"\r\nend\n"
        c.send(data)
        if c.recv(len(data)) != data:
            raise AssertionError("echo differs")
        rc, err = c.close()
        if rc != 0:
            raise AssertionError("s_client exit %d: %s" % (rc, err))
        m = d.wait_log(r"^\w+: connection from 127\.0\.0\.1:\d+ on t closed "
                       r"\(eof\): (\d+) bytes in, (\d+) out, [0-9.]+ s, "
                       r"(TLSv1\.[23]) (\S+)$")
        if m.group(1) != str(len(data)) or m.group(2) != str(len(data)):
            raise AssertionError("counts: %s" % m.group(0))


def test_strip_on_tls():
    """A strip rule works on the decrypted lines."""
    port = free_port()
    with Echod(conf(tls_listener("s", port, framing="line",
                                 strip=[{"prefix": "x: "}]))):
        c = SClient(port)
        c.send(b"x: one\nx: two\nthree\n")
        got = c.recv(len(b"one\ntwo\nthree\n"))
        if got != b"one\ntwo\nthree\n":
            raise AssertionError("stripped: %r" % got)
        c.close()


def test_mtls_required():
    """client_certificate required: without one, refused; with one,
    served, and the subject is in the entries."""
    port = free_port()
    p = pki()
    with Echod(conf(tls_listener("m", port, tls=p.tls(client_ca=p.ca)))) as d:
        c = SClient(port)
        c.send(b"no cert\n")
        rc, err = c.close()
        d.wait_log(r"^\w+: connection from 127\.0\.0\.1:\d+ on m closed "
                   r"\(tls-error\)")
        d.wait_log(r"^warning: closed 1 connection for their TLS; the "
                   r"last: from 127\.0\.0\.1:\d+ on m: peer did not return "
                   r"a certificate$", timeout=5)
        c = SClient(port, "-cert", p.client, "-key", p.client_key)
        c.send(b"with cert\n")
        if c.recv(10) != b"with cert\n":
            raise AssertionError("no echo with a certificate")
        c.close()
        d.wait_log(r"^\w+: connection from 127\.0\.0\.1:\d+ on m, TLSv1\.3 "
                   r"\S+, client CN=client \\xc3\\xa9 1,O=echod tests$")


def test_mtls_optional():
    """client_certificate optional: served without one too."""
    port = free_port()
    p = pki()
    with Echod(conf(tls_listener("o", port, tls=p.tls(
            client_ca=p.ca, client_certificate="optional")))) as d:
        s = tls_connect(port)
        s.sendall(b"anonymous\n")
        if recv_exact(s, 10) != b"anonymous\n":
            raise AssertionError("no echo without a certificate")
        s.unwrap().close()
        d.wait_log(r"^\w+: connection from 127\.0\.0\.1:\d+ on o, TLSv1\.3 "
                   r"\S+$")
        s = tls_connect(port, p.context(p.client, p.client_key))
        s.sendall(b"known\n")
        recv_exact(s, 6)
        s.unwrap().close()
        d.wait_log(r"on o closed \(eof\): 6 bytes in, 6 out, [0-9.]+ s, "
                   r"TLSv1\.3 \S+, client CN=client")


def test_versions():
    """TLS 1.1 is refused (the client is let to offer it); 1.3 works, and
    min_version = "1.3" refuses 1.2."""
    port, port13 = free_port(), free_port()
    with Echod(conf(tls_listener("v", port),
                    tls_listener("v13", port13,
                                 tls=pki().tls(min_version="1.3")))) as d:
        c = SClient(port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        rc, err = c.close()
        if rc == 0:
            raise AssertionError("a TLS 1.1 client was served")
        d.wait_log(r"on v closed \(tls-error\)")
        c = SClient(port, "-tls1_3")
        c.send(b"1.3\n")
        c.recv(4)
        c.close()
        c = SClient(port, "-tls1_2")
        c.send(b"1.2\n")
        c.recv(4)
        c.close()
        d.wait_log(r"on v closed \(eof\): 4 bytes in, 4 out, [0-9.]+ s, "
                   r"TLSv1\.2 ")
        c = SClient(port13, "-tls1_2")
        rc, err = c.close()
        if rc == 0:
            raise AssertionError("min_version 1.3 served TLS 1.2")


def test_python_large_random():
    """Python's ssl: 4 MiB of random bytes come back exact, written while
    being read (backpressure on both sides)."""
    port = free_port()
    data = random.Random(16).randbytes(4 * 1024 * 1024)
    with Echod(conf(tls_listener("r", port))) as d:
        s = tls_connect(port)
        s.setblocking(False)
        out, got, sent = memoryview(data), bytearray(), 0
        end = time.monotonic() + 60
        while len(got) < len(data):
            if time.monotonic() > end:
                raise AssertionError("%d of %d back" % (len(got), len(data)))
            w = [s] if sent < len(data) else []
            r, w, _ = select.select([s], w, [], 1)
            if w:
                try:
                    sent += s.send(out[sent:sent + 65536])
                except ssl.SSLWantWriteError:
                    pass
            while True:
                try:
                    b = s.recv(1 << 20)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    break
                if not b:
                    raise AssertionError("EOF")
                got += b
        if bytes(got) != data:
            raise AssertionError("the echo differs")
        # Closed without a close_notify: an end all the same.
        port_ = s.getsockname()[1]
        s.close()
        d.wait_closed_entry(port_, "r", "eof")


def test_plaintext_to_tls_port():
    """Plain text to a TLS port: closed as tls-error, nothing echoed."""
    port = free_port()
    with Echod(conf(tls_listener("p", port))) as d:
        s = connect(port)
        s.sendall(b"GET / HTTP/1.0\r\n\r\nhello\n")
        back = recv_until_eof(s)
        if b"hello" in back or b"GET" in back:
            raise AssertionError("echoed plaintext: %r" % back)
        d.wait_closed_entry(local_port(s), "p", "tls-error")
        s.close()


def test_garbage_records():
    """A record header of a handshake followed by noise: tls-error."""
    port = free_port()
    with Echod(conf(tls_listener("g", port))) as d:
        s = connect(port)
        s.sendall(b"\x16\x03\x01\x00\x40" + random.Random(1).randbytes(64))
        recv_until_eof(s)
        d.wait_closed_entry(local_port(s), "g", "tls-error")
        # After a handshake: a record of garbage where data should be,
        # written past the client's TLS onto its socket.
        t = tls_connect(port)
        t.sendall(b"ok\n")
        recv_exact(t, 3)
        os.write(t.fileno(), b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
        d.wait_closed_entry(t.getsockname()[1], "g", "tls-error")
        t.close()


def test_handshake_timeout():
    """A client that connects and never says a word is closed at
    timeouts.handshake, as handshake-timeout."""
    port = free_port()
    with Echod(conf(tls_listener("h", port,
                                 timeouts={"handshake": 0.3}))) as d:
        s = connect(port)
        t0 = time.monotonic()
        recv_until_eof(s)
        if time.monotonic() - t0 > 5:
            raise AssertionError("not closed in time")
        d.wait_closed_entry(local_port(s), "h", "handshake-timeout")
        s.close()


def tls_warnings(d, since):
    """The rate-limited TLS warnings from log index since: (count, last)."""
    return [(int(m.group(1)), m.group(2)) for m in d.log_matches(
        r"^warning: closed (\d+) connections? for their TLS; the last: "
        r"(.*)$", since)]


def held_echo(t, text):
    """One line over a session held open meanwhile: still served."""
    t.sendall(text)
    if recv_exact(t, len(text)) != text:
        raise AssertionError("the held session's echo is wrong")


def test_bad_clients_warned_once_a_second():
    """A burst of plain-text and garbage clients: each closed as
    tls-error, all counted in warnings of at most one a second, and a
    session held open meanwhile goes on echoing."""
    port = free_port()
    with Echod(conf(tls_listener("w", port))) as d:
        held = tls_connect(port)
        held_echo(held, b"before\n")
        mark = d.log_mark()
        t0 = time.monotonic()
        bad = []
        for i in range(25):
            s = connect(port)
            s.sendall(b"GET / HTTP/1.0\r\n\r\n" if i % 5 else
                      b"\x16\x03\x01\x00\x40" + bytes(64))
            bad.append(s)
        for s in bad:
            recv_until_eof(s)
            d.wait_closed_entry(local_port(s), "w", "tls-error", since=mark)
        held_echo(held, b"during\n")
        wait_until(lambda: sum(n for n, _ in tls_warnings(d, mark)) >= 25,
                   what="warnings counting 25 connections")
        spent = time.monotonic() - t0
        warned = tls_warnings(d, mark)
        if sum(n for n, _ in warned) != 25:
            raise AssertionError("warnings count %r" % warned)
        if len(warned) > spent + 2:
            raise AssertionError("%d warnings in %.1f s: %r"
                                 % (len(warned), spent, warned))
        if not any(w.startswith("from 127.0.0.1:") and " on w: " in w
                   for _, w in warned):
            raise AssertionError("no client named: %r" % warned)
        held_echo(held, b"after\n")
        held.close()
        for s in bad:
            s.close()


def test_renegotiation_refused():
    """A TLS 1.2 client that renegotiates (s_client's R) is refused:
    OpenSSL answers no_renegotiation, the client gives up, and that
    costs its own connection only (tls-error, the warning); a session
    held open meanwhile goes on."""
    port = free_port()
    with Echod(conf(tls_listener("r", port))) as d:
        c = SClient(port, "-tls1_2")
        c.send(b"one\n")
        if c.recv(4) != b"one\n":
            raise AssertionError("no echo before renegotiating")
        cport = c.port(d)
        held = tls_connect(port)
        held_echo(held, b"held\n")
        mark = d.log_mark()
        c.send(b"R\n")
        rc, err = c.close()
        if "RENEGOTIATING" not in err or rc == 0:
            raise AssertionError("s_client: rc %d, %r" % (rc, err))
        d.wait_closed_entry(cport, "r", "tls-error", since=mark)
        d.wait_log(r"^warning: closed 1 connection for their TLS; the "
                   r"last: from 127\.0\.0\.1:%d on r: " % cport, since=mark)
        held_echo(held, b"still\n")
        held.close()


def client_hello():
    """A real ClientHello, as Python's ssl would send it first."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def test_slow_handshake_dribbled():
    """A ClientHello dribbled a byte every 50 ms: the bytes do not hold
    the handshake's deadline back, the client is closed at
    timeouts.handshake as handshake-timeout with the warning, and another
    client's handshake and echo meanwhile are served."""
    port = free_port()
    hello = client_hello()
    with Echod(conf(tls_listener("s", port,
                                 timeouts={"handshake": 0.5}))) as d:
        s = connect(port)
        sport = local_port(s)
        t0 = time.monotonic()
        sent, other, closed = 0, None, None
        while sent < len(hello) and time.monotonic() - t0 < 10:
            try:
                s.send(hello[sent:sent + 1])
            except OSError:
                closed = time.monotonic()
                break
            sent += 1
            if select.select([s], [], [], 0.05)[0]:
                try:
                    if s.recv(4096) == b"":
                        closed = time.monotonic()
                        break
                except OSError:
                    closed = time.monotonic()
                    break
            if other is None and time.monotonic() - t0 > 0.2:
                other = tls_connect(port)
                held_echo(other, b"meanwhile\n")
        if closed is None:
            raise AssertionError("still open after %d of %d bytes in %.1f s"
                                 % (sent, len(hello),
                                    time.monotonic() - t0))
        # Not an upper bound on time (valgrind, a busy machine): that it
        # closed at all while bytes still came is the point.
        if closed - t0 < 0.4 or sent < 3:
            raise AssertionError("closed after %.2f s and %d bytes"
                                 % (closed - t0, sent))
        d.wait_closed_entry(sport, "s", "handshake-timeout")
        d.wait_log(r"^warning: closed 1 connection for their TLS; the "
                   r"last: from 127\.0\.0\.1:%d on s: no handshake within "
                   r"timeouts\.handshake$" % sport)
        if other is None:
            raise AssertionError("no second client ran meanwhile")
        held_echo(other, b"after\n")
        other.close()
        s.close()


def test_idle_timeout_after_handshake():
    """After the handshake, the idle timeout rules."""
    port = free_port()
    with Echod(conf(tls_listener("i", port, timeouts={"idle": 0.3}))) as d:
        s = tls_connect(port)
        s.sendall(b"x\n")
        recv_exact(s, 2)
        d.wait_closed_entry(s.getsockname()[1], "i", "timeout")
        s.close()


def test_quiet_session_keeps_its_tls():
    """A session quiet for a while, though not idle, is still served: the
    buffers a quiet plain session gives back are a TLS session's
    connection.  (The timer fires at the handshake's idle deadline, 2.7 s
    after the last read: past the 2 s after which a plain session gives
    its buffers back.)"""
    port = free_port()
    with Echod(conf(tls_listener("k", port, timeouts={"idle": 3}))):
        s = tls_connect(port)
        for pause in (0.3, 2.9, 0):
            s.sendall(b"still here\n")
            if recv_exact(s, 11) != b"still here\n":
                raise AssertionError("no echo")
            time.sleep(pause)      # the scenario's time, not a wait
        s.close()


def test_max_line_on_tls():
    """A line past max_line ends the session, its replies sent first."""
    port = free_port()
    with Echod(conf(tls_listener("l", port, framing="line"),
                    max_line=64)) as d:
        s = tls_connect(port)
        s.sendall(b"short\n" + b"x" * 100)
        if recv_exact(s, 6) != b"short\n":
            raise AssertionError("no reply before the end")
        d.wait_closed_entry(s.getsockname()[1], "l", "line-too-long")
        s.close()


def test_client_that_never_reads():
    """A TLS client that sends and never reads: echod stops reading it
    past 64 KiB of replies, and the write timeout closes it."""
    port = free_port()
    with Echod(conf(tls_listener("w", port, timeouts={"write": 0.5}))) as d:
        s = tls_connect(port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(0.2)
        sent = 0
        try:
            while sent < 64 * 1024 * 1024:
                sent += s.send(b"z" * 16384)
        except (socket.timeout, ssl.SSLWantWriteError, OSError):
            pass
        m = d.wait_closed_entry(s.getsockname()[1], "w", "write-timeout")
        if int(m.group(2)) > 8 * 1024 * 1024:
            raise AssertionError("read %s bytes from a client that never "
                                 "reads" % m.group(2))
        s.close()


def test_graceful_stop_sends_close_notify():
    """SIGTERM: an open TLS session ends with a close_notify, which
    Python's ssl tells from a cut connection."""
    port = free_port()
    d = Echod(conf(tls_listener("q", port), timeouts={"shutdown": 0.2}))
    with d:
        s = tls_connect(port, suppress_ragged_eofs=False)
        s.sendall(b"bye\n")
        recv_exact(s, 4)
        d.stop()
        s.settimeout(DEADLINE)
        if s.recv(10) != b"":
            raise AssertionError("data after the stop")
        s.close()


def test_max_memory_stops_tls_reads():
    """Past max_memory a TLS session stops reading: 40 sessions sending
    60 000-byte partial lines against a 1 MiB budget hold little more
    than the budget (each stops after the read that finds it over, about
    16 KiB), and the idle timeout closes those left waiting."""
    port = free_port()
    n, size, budget = 40, 60000, 1 << 20
    with Echod(conf(tls_listener("mm", port, framing="line",
                                 timeouts={"idle": 1}),
                    max_memory=budget)) as d:
        socks = []
        for _ in range(n):
            s = tls_connect(port)
            s.settimeout(DEADLINE)
            s.sendall(b"p" * size)
            socks.append(s)
        m = d.wait_log(r"^warning: max_memory reached \((\d+) bytes held\)")
        if int(m.group(1)) > budget + n * 20 * 1024:
            raise AssertionError(m.group(0))
        for s in socks:
            d.wait_closed_entry(s.getsockname()[1], "mm", "timeout")
            s.close()


def test_reload_renews_certificate():
    """A renewed certificate is served after a reload, while a session
    from before goes on; a broken one is rejected and the old served."""
    port = free_port()
    p = pki()
    cert, key = p.issue("renew", "/CN=localhost")
    first = p.serial
    with Echod(conf(tls_listener("r", port,
                                 tls=p.tls(certificate=cert, key=key)))) as d:
        held = tls_connect(port)
        held.sendall(b"before\n")
        recv_exact(held, 7)
        if serial_seen(port) != first:
            raise AssertionError("serial before")
        cert2, key2 = p.issue("renew2", "/CN=localhost")
        m = d.reload(conf(tls_listener("r", port,
                                       tls=p.tls(certificate=cert2,
                                                 key=key2))))
        if m.group(1) != "configuration reloaded":
            raise AssertionError(m.group(0))
        if serial_seen(port) != p.serial:
            raise AssertionError("the new serial is not served")
        held.sendall(b"after\n")
        if recv_exact(held, 6) != b"after\n":
            raise AssertionError("the held session stopped")
        # A key that is not the certificate's: rejected, the last kept.
        m = d.reload(conf(tls_listener("r", port,
                                       tls=p.tls(certificate=cert2,
                                                 key=key))))
        if m.group(1) != "reload rejected":
            raise AssertionError(m.group(0))
        d.wait_log(r"key \"%s\": it does not match the certificate: "
                   r"key values mismatch" % re.escape(key))
        if serial_seen(port) != p.serial:
            raise AssertionError("not the last good certificate")
        held.close()


def test_proxy_then_tls():
    """PROXY header first, then the handshake, as balancers send it."""
    port = free_port()
    with Echod(conf(tls_listener("pt", port, proxy_protocol="v1",
                                 proxy_from=["127.0.0.1"]))) as d:
        raw = connect(port)
        raw.sendall(b"PROXY TCP4 192.0.2.1 192.0.2.2 4444 862\r\n")
        s = pki().context().wrap_socket(raw, server_hostname="localhost")
        s.sendall(b"behind\n")
        if recv_exact(s, 7) != b"behind\n":
            raise AssertionError("no echo")
        d.wait_log(r"^\w+: connection from 192\.0\.2\.1:4444 via "
                   r"127\.0\.0\.1:\d+ on pt, TLSv1\.3 \S+$")
        s.close()


def test_alpn():
    """alpn: the listener's name is chosen; a client offering only
    others is refused (RFC 7301)."""
    port = free_port()
    with Echod(conf(tls_listener("a", port,
                                 tls=pki().tls(alpn=["echo"])))) as d:
        ctx = pki().context()
        ctx.set_alpn_protocols(["h2", "echo"])
        s = tls_connect(port, ctx)
        if s.selected_alpn_protocol() != "echo":
            raise AssertionError(s.selected_alpn_protocol())
        s.close()
        ctx = pki().context()
        ctx.set_alpn_protocols(["h2"])
        try:
            tls_connect(port, ctx).close()
        except ssl.SSLError:
            pass
        else:
            raise AssertionError("served without a common ALPN name")
        d.wait_log(r"on a closed \(tls-error\)")


def test_socat():
    """socat OPENSSL: as a client, byte-exact."""
    if SOCAT is None:
        tap.missing("no socat")
    port = free_port()
    p = pki()
    data = b"through socat\n" * 100
    with Echod(conf(tls_listener("so", port))) as d:
        r = subprocess.run([SOCAT, "-t", "5", "-",
                            "OPENSSL:127.0.0.1:%d,cafile=%s,"
                            "commonname=localhost" % (port, p.ca)],
                           input=data, capture_output=True, timeout=DEADLINE)
        if r.stdout != data:
            raise AssertionError("socat got %d bytes: %r" %
                                 (len(r.stdout), r.stderr))
        d.wait_log(r"on so closed \(eof\): %d bytes in" % len(data))


def test_expired_certificate_warns():
    """An expired certificate: a warning with its date, under -t too."""
    p = pki()
    cert, key = p.expired("old")
    text = conf(tls_listener("x", free_port(),
                             tls=p.tls(certificate=cert, key=key)))
    path = p.path("old.conf")
    with open(path, "w") as f:
        f.write(text)
    r = run_echod(["-t", "-c", path])
    if r.returncode != 0 or not re.search(
            r"warning: certificate \"%s\": the certificate expired on "
            r"2020-01-02 00:00:00 UTC" % re.escape(cert), r.stderr):
        raise AssertionError("rc %d: %s%s" % (r.returncode, r.stdout,
                                              r.stderr))


def test_unsafe_files_refused():
    """A FIFO where the key should be: refused at once, never opened."""
    p = pki()
    fifo = p.path("fifo")
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    path = p.path("fifo.conf")
    with open(path, "w") as f:
        f.write(conf(tls_listener("f", free_port(), tls=p.tls(key=fifo))))
    r = run_echod(["-t", "-c", path], timeout=5)
    if r.returncode != 1 or "key \"%s\": Is a FIFO" % fifo not in r.stderr:
        raise AssertionError("rc %d: %s" % (r.returncode, r.stderr))


def test_credentials_directory():
    """"%d/" names a file of $CREDENTIALS_DIRECTORY (LoadCredential=)."""
    p = pki()
    port = free_port()
    with Echod(conf(tls_listener("c", port, tls={
            "certificate": "%d/server.pem", "key": "%d/server.key"})),
            env={"CREDENTIALS_DIRECTORY": p.dir}):
        s = tls_connect(port)
        s.sendall(b"cred\n")
        recv_exact(s, 5)
        s.close()


def test_credentials_of_the_main_process():
    """echod -t as systemd's ExecReload= runs it: $CREDENTIALS_DIRECTORY
    set but not mounted in its namespace (systemd/systemd#35227; here a
    tmpfs over it), $MAINPID the daemon's: the files are read through
    /proc/MAINPID/root, and a check without $MAINPID fails as before."""
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        tap.skip("needs root and unshare(1)")
    p = pki()
    # Not beside the credentials, which the tmpfs hides.
    cdir = tempfile.mkdtemp(prefix="echodcred.")
    path = os.path.join(cdir, "cred.conf")
    with open(path, "w") as f:
        f.write(conf(tls_listener("c", free_port(), tls={
            "certificate": "%d/server.pem", "key": "%d/server.key"})))
    hide = "mount -t tmpfs none \"$1\" && exec \"$2\" -t -c \"$3\""
    main = subprocess.Popen(["sleep", "60"])
    try:
        for rc in (0, 1):
            env = dict(os.environ, CREDENTIALS_DIRECTORY=p.dir)
            env.pop("MAINPID", None)
            if rc == 0:
                env["MAINPID"] = str(main.pid)
            r = subprocess.run([unshare, "-m", "sh", "-c", hide, "sh", p.dir,
                                ECHOD, path], env=env, capture_output=True,
                               text=True, timeout=DEADLINE)
            if r.returncode != rc:
                raise AssertionError("MAINPID %s: rc %d: %s"
                                     % (env.get("MAINPID"), r.returncode,
                                        r.stderr))
    finally:
        main.kill()
        main.wait()
        shutil.rmtree(cdir, ignore_errors=True)

if __name__ == "__main__":
    try:
        tap.main(globals())
    finally:
        if PKI is not None:
            shutil.rmtree(PKI.dir, ignore_errors=True)
