"""client.py: the e2e suite's hands inside the container.

tests/e2e/run copies this file next to the package and runs it inside the
throw-away system with `nsenter ... python3 /mnt/pkg/client.py COMMAND`.
Each command checks one thing, prints what it saw, and exits 0 when the
check holds, 1 when it does not (with the reason on stderr).

  echo HOST PORT MARKER      send MARKER and every byte value (64 KiB), expect
                             exactly the same back, then EOF
  line HOST PORT SEND WANT   one session: send SEND, expect WANT (C escapes)
  hold HOST PORT             keep one session open; each line on stdin is
                             sent with "\\n", the reply line printed as JSON;
                             a line "." closes it
  refused HOST PORT          a connection must be refused
  jwait COUNT MSGID [F=V..]  wait until more than COUNT entries of echod's
                             journal have MSGID (and the fields), print the
                             newest as JSON
  jcount MSGID [F=V..]       print how many entries match
  jsessions MARKER IN OUT    the open and close entries carry every field of
                             echod(8), one close entry on listener "echo" has
                             IN bytes in and OUT out, and no entry holds
                             MARKER (client payload)
  jproxy HOST PORT           a session with a PROXY v2 header naming
                             192.0.2.77:4242: echoed, and its open and
                             close entries name that client in
                             ECHOD_REMOTE_* and this end in ECHOD_PROXY_*
  sclient HOST PORT CA MARKER  openssl s_client, checking the server against
                             the CA file: MARKER goes out as a line and
                             comes back, then the client closes
  jtls LISTENER MARKER       a close entry on LISTENER says eof and carries
                             ECHOD_TLS_VERSION and ECHOD_TLS_CIPHER, and no
                             entry holds MARKER
"""

import codecs
import ipaddress
import json
import os
import selectors
import socket
import struct
import subprocess
import sys
import time

TIMEOUT = 20.0

OPEN_FIELDS = ("ECHOD_SESSION", "ECHOD_LISTENER", "ECHOD_REMOTE_ADDR",
               "ECHOD_REMOTE_PORT")
CLOSE_FIELDS = OPEN_FIELDS + ("ECHOD_CLOSE_REASON", "ECHOD_BYTES_IN",
                              "ECHOD_BYTES_OUT", "ECHOD_DURATION_USEC")
MSGID_OPEN = "17dcf542730a4280a838d0bf8058ad76"
MSGID_CLOSE = "1dba6f322c4c4e4593f130d6ea1e91be"


class Fail(Exception):
    """The check does not hold; the message says why."""


def unescape(text):
    return codecs.escape_decode(text.encode())[0]


def connect(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect((host, int(port)))
    return s


def exchange(s, data):
    """Send data while reading, half-close, return everything until EOF."""
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    got = bytearray()
    sent = 0
    deadline = time.monotonic() + TIMEOUT
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail("timed out with %d of %d bytes sent, %d received"
                       % (sent, len(data), len(got)))
        for _key, ev in sel.select(left):
            if ev & selectors.EVENT_WRITE:
                if sent < len(data):
                    sent += s.send(data[sent:sent + 65536])
                if sent == len(data):
                    s.shutdown(socket.SHUT_WR)
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                chunk = s.recv(65536)
                if not chunk:
                    return bytes(got)
                got += chunk


def read_line(s):
    buf = bytearray()
    while not buf.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            break
        buf += c
    return bytes(buf)


def cmd_echo(host, port, marker):
    data = marker.encode() + bytes(range(256)) * 256
    with connect(host, port) as s:
        got = exchange(s, data)
    if got != data:
        at = next((i for i, (a, b) in enumerate(zip(got, data)) if a != b),
                  min(len(got), len(data)))
        raise Fail("%d bytes sent, %d received, first difference at %d"
                   % (len(data), len(got), at))
    print("%d bytes echoed byte-exact" % len(data))


def cmd_line(host, port, send, want):
    send, want = unescape(send), unescape(want)
    with connect(host, port) as s:
        s.sendall(send)
        got = b""
        while len(got) < len(want):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    print("sent %r, got %r" % (send, got))
    if got != want:
        raise Fail("wanted %r" % want)


def cmd_hold(host, port):
    with connect(host, port) as s:
        print(json.dumps("connected"), flush=True)
        for line in sys.stdin:
            if line == ".\n":
                break
            s.sendall(line.rstrip("\n").encode() + b"\n")
            print(json.dumps(read_line(s).decode("latin-1")), flush=True)


def cmd_refused(host, port):
    try:
        connect(host, port).close()
    except ConnectionRefusedError:
        print("connection to %s port %s refused" % (host, port))
        return
    raise Fail("port %s still accepts connections" % port)


def journal():
    out = subprocess.run(["journalctl", "-u", "echod", "-o", "json",
                          "--no-pager"], check=True, capture_output=True,
                         text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line]


def matching(msgid, pairs):
    want = dict(p.split("=", 1) for p in pairs)
    return [e for e in journal() if e.get("MESSAGE_ID") == msgid
            and all(e.get(k) == v for k, v in want.items())]


def cmd_jcount(msgid, *pairs):
    print(len(matching(msgid, pairs)))


def cmd_jwait(count, msgid, *pairs):
    deadline = time.monotonic() + TIMEOUT
    while True:
        found = matching(msgid, pairs)
        if len(found) > int(count):
            print(json.dumps(found[-1], sort_keys=True))
            return
        if time.monotonic() > deadline:
            raise Fail("no new entry with MESSAGE_ID=%s %s (still %d)"
                       % (msgid, " ".join(pairs), len(found)))
        time.sleep(0.2)     # journald has no change notification here


def cmd_jsessions(marker, bytes_in, bytes_out):
    deadline = time.monotonic() + TIMEOUT
    while True:
        entries = journal()
        closes = [e for e in entries if e.get("MESSAGE_ID") == MSGID_CLOSE]
        mine = [e for e in closes if e.get("ECHOD_LISTENER") == "echo"
                and e.get("ECHOD_BYTES_IN") == bytes_in
                and e.get("ECHOD_BYTES_OUT") == bytes_out]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if not mine:
        raise Fail("no close entry on echo with %s bytes in, %s out"
                   % (bytes_in, bytes_out))
    opens = [e for e in entries if e.get("MESSAGE_ID") == MSGID_OPEN]
    if not opens:
        raise Fail("no session opened entry")
    for e in opens:
        missing = [f for f in OPEN_FIELDS if f not in e]
        if missing:
            raise Fail("open entry %r lacks %s" % (e.get("MESSAGE"), missing))
    for e in closes:
        missing = [f for f in CLOSE_FIELDS if f not in e]
        if missing:
            raise Fail("close entry %r lacks %s" % (e.get("MESSAGE"), missing))
    close = mine[-1]
    opened = [e for e in opens if e["ECHOD_SESSION"] == close["ECHOD_SESSION"]]
    if not opened:
        raise Fail("no open entry for session %s" % close["ECHOD_SESSION"])
    if close["ECHOD_REMOTE_ADDR"] not in ("127.0.0.1", "::1"):
        raise Fail("remote address %r" % close["ECHOD_REMOTE_ADDR"])
    if close["ECHOD_CLOSE_REASON"] != "eof":
        raise Fail("close reason %r" % close["ECHOD_CLOSE_REASON"])
    for e in entries:
        if marker in json.dumps(e):
            raise Fail("client payload in the journal: %r" % e.get("MESSAGE"))
    print(close["MESSAGE"])


def cmd_jproxy(host, port):
    s = connect(host, port)
    me = s.getsockname()
    body = (ipaddress.IPv4Address("192.0.2.77").packed +
            ipaddress.IPv4Address("127.0.0.1").packed +
            struct.pack("!HH", 4242, int(port)))
    s.sendall(b"\r\n\r\n\x00\r\nQUIT\n\x21\x11" +
              struct.pack("!H", len(body)) + body)
    got = exchange(s, b"proxied\n")
    if got != b"proxied\n":
        raise Fail("sent proxied, got %r" % got)
    s.close()
    want = ("ECHOD_REMOTE_ADDR=192.0.2.77", "ECHOD_REMOTE_PORT=4242",
            "ECHOD_PROXY_ADDR=%s" % me[0], "ECHOD_PROXY_PORT=%d" % me[1])
    for msgid in (MSGID_OPEN, MSGID_CLOSE):
        deadline = time.monotonic() + TIMEOUT
        while not matching(msgid, want):
            if time.monotonic() > deadline:
                raise Fail("no entry %s with %s" % (msgid, " ".join(want)))
            time.sleep(0.2)     # journald has no change notification here
    print(matching(MSGID_CLOSE, want)[-1]["MESSAGE"])


def cmd_sclient(host, port, ca, marker):
    line = marker.encode() + b"\n"
    p = subprocess.Popen(["openssl", "s_client", "-connect",
                          "%s:%s" % (host, port), "-CAfile", ca,
                          "-servername", "localhost", "-verify_return_error",
                          "-quiet", "-no_ign_eof"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        p.stdin.write(line)
        p.stdin.flush()
        got = b""
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + TIMEOUT
        while len(got) < len(line):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise Fail("no echo in time, got %r" % got)
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                raise Fail("s_client ended after %r: %s" % (got,
                           p.stderr.read().decode(errors="replace")))
            got += chunk
        p.stdin.close()
        rc = p.wait(TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if got != line:
        raise Fail("sent %r, got %r" % (line, got))
    if rc != 0:
        raise Fail("s_client exit status %d" % rc)
    print("openssl s_client: %r echoed, the certificate verified" % line)


def cmd_jtls(listener, marker):
    deadline = time.monotonic() + TIMEOUT
    while True:
        entries = journal()
        mine = [e for e in entries if e.get("MESSAGE_ID") == MSGID_CLOSE
                and e.get("ECHOD_LISTENER") == listener]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.2)     # journald has no change notification here
    if not mine:
        raise Fail("no close entry on %s" % listener)
    close = mine[-1]
    for f in ("ECHOD_TLS_VERSION", "ECHOD_TLS_CIPHER"):
        if not close.get(f):
            raise Fail("close entry %r lacks %s" % (close.get("MESSAGE"), f))
    if close.get("ECHOD_CLOSE_REASON") != "eof":
        raise Fail("close reason %r" % close.get("ECHOD_CLOSE_REASON"))
    for e in entries:
        if marker in json.dumps(e):
            raise Fail("client payload in the journal: %r" % e.get("MESSAGE"))
    print(close["MESSAGE"])
    print("ECHOD_TLS_VERSION=%s ECHOD_TLS_CIPHER=%s"
          % (close["ECHOD_TLS_VERSION"], close["ECHOD_TLS_CIPHER"]))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    fn = globals().get("cmd_" + argv[1])
    if fn is None:
        print("unknown command %s" % argv[1], file=sys.stderr)
        return 2
    try:
        fn(*argv[2:])
    except (Fail, OSError) as e:
        print("%s: %s" % (argv[1], e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
