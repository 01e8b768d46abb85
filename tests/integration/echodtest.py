"""echodtest.py: run the real echod on loopback and watch what it does.

Echod(conf) is a context manager: it writes the configuration into a
fresh directory, binds an AF_UNIX datagram socket as NOTIFY_SOCKET, starts
echod in the foreground with --log-target=stderr and waits for READY=1.
Two background threads collect the stderr lines and the sd_notify
messages; tests wait on them with deadlines (wait_log, wait_notify), never
with bare sleeps.  On exit the daemon is stopped (SIGTERM, then SIGKILL
after a deadline), leftover processes are reported and killed, and the
directory is removed, whether the test passed or not.

Environment: ECHOD (the daemon, set by `make check`), top_builddir,
ECHOD_WRAPPER (e.g. "valgrind -q --error-exitcode=99": run echod under it).
"""

import atexit
import errno
import os
import random
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

DEADLINE = 10.0

ECHOD = os.environ.get("ECHOD") or os.path.join(
    os.environ.get("top_builddir", "."), "echod")


# --- configuration text ----------------------------------------------------

def _value(v):
    """One Python value as libconfig text."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        out = []
        for ch in v:
            if ch in '"\\':
                out.append("\\" + ch)
            elif ch == "\n":
                out.append("\\n")
            elif ord(ch) < 0x20:
                out.append("\\x%02x" % ord(ch))
            else:
                out.append(ch)
        return '"' + "".join(out) + '"'
    if isinstance(v, dict):
        return "{ " + " ".join("%s = %s;" % (k, _value(x))
                               for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "( " + ", ".join(_value(x) for x in v) + " )"
    raise TypeError("no libconfig form for %r" % (v,))


def listener(name, port, **keys):
    """A listener group; keys as in echod.conf(5), e.g. strip=[{"bytes": 2}]."""
    d = {"name": name, "port": port}
    d.update(keys)
    return d


def conf(*listeners, **globals_):
    """A whole configuration file: global keys, then one listener a line."""
    lines = ["# written by echodtest.py"]
    for k, v in globals_.items():
        lines.append("%s = %s;" % (k, _value(v)))
    lines.append("listeners = (")
    for i, lst in enumerate(listeners):
        sep = "," if i + 1 < len(listeners) else ""
        lines.append("  " + _value(lst) + sep)
    lines.append(");")
    return "\n".join(lines) + "\n"


# --- ports and sockets -------------------------------------------------------

_handed_out = set()


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# Ports for the daemons under test come from outside the kernel's
# ephemeral range, so that no client socket of any test takes one by
# chance (a port the kernel gave bind(port 0) is one it gives the next
# connect() too, and test_memory opens 15 000), and each is claimed with
# a file created O_EXCL in a directory all test processes share: make
# check runs several at once.
_PORT_DIR = os.path.join(tempfile.gettempdir(), "echodtest-ports")
_PORT_STALE = 3600          # a claim older than this is a dead process's


def _ephemeral_range():
    """The ports the kernel gives connect() and bind(port 0) from."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def _port_bindable(port):
    """Whether port is free for TCP and UDP on every address."""
    fam, addr = ((socket.AF_INET6, "::") if have_ipv6() else
                 (socket.AF_INET, "0.0.0.0"))
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(fam, kind)
        try:
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def _port_claim(port):
    """Claim port for this process; False if another process holds it."""
    path = os.path.join(_PORT_DIR, str(port))
    try:
        if time.time() - os.stat(path).st_mtime > _PORT_STALE:
            os.unlink(path)
    except OSError:
        pass
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        return False
    atexit.register(_port_release, path)
    return True


def _port_release(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def free_port():
    """A TCP and UDP port free on every address (so "::" listeners can
    use it too), outside the ephemeral range, never handed out twice:
    not by this process, not by another test process running at once."""
    lo, hi = _ephemeral_range()
    ranges = [(a, b) for a, b in ((10000, lo - 1), (hi + 1, 65535)) if a <= b]
    os.makedirs(_PORT_DIR, mode=0o1777, exist_ok=True)
    rnd = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(1000):
        if not ranges:
            break
        a, b = rnd.choice(ranges)
        port = rnd.randint(a, b)
        if port in _handed_out or not _port_claim(port):
            continue
        _handed_out.add(port)
        if _port_bindable(port):
            return port
    raise RuntimeError("no free port outside the ephemeral range %d-%d"
                       % (lo, hi))


def free_ports(n):
    return [free_port() for _ in range(n)]


def need_descriptors(n):
    """Make room for n more open files in this process and in the echod
    it starts (a child inherits the limit): raise the soft RLIMIT_NOFILE,
    up to the hard limit, to n above what is open now.  A fresh Debian
    12 gives a login shell or a service a soft limit of 1024, with a hard
    limit far above.  tap.Skip if the hard limit leaves no room."""
    import resource
    import tap
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = len(os.listdir("/proc/self/fd")) + n
    if soft != resource.RLIM_INFINITY and soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            tap.skip("%d open files needed, the hard limit is %d"
                     % (want, hard))
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def occupy(port, host="127.0.0.1"):
    """A listening socket of ours on port, so that echod cannot bind it."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((host, port))
    s.listen(8)
    return s


def connect(port, host="127.0.0.1", timeout=DEADLINE, source=None):
    """A connected TCP socket with a timeout on every operation; from
    the address source if given (e.g. "127.0.0.2": all of 127/8 is
    loopback), with a port the kernel chooses."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        if source is not None:
            s.bind((source, 0))
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return s


def port_refuses(port, host="127.0.0.1"):
    """Whether nothing listens on port: the connection is refused."""
    try:
        s = connect(port, host, timeout=2)
    except ConnectionRefusedError:
        return True
    s.close()
    return False


def local_port(s):
    return s.getsockname()[1]


_SYS_PIDFD_GETFD = 438     # x86_64, arm64 and the other generic tables


def server_sockopt(pid, client, level, option):
    """getsockopt() on the daemon's end of client's connection: a
    duplicate of pid's descriptor is taken with pidfd_getfd(2), which
    needs root (or ptrace rights) and Linux 5.6; tap.Skip otherwise."""
    import ctypes
    import tap
    libc = ctypes.CDLL(None, use_errno=True)
    want = client.getsockname()[:2]
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError) as e:
        tap.skip("pidfd_open: %s" % e)
    try:
        for name in os.listdir("/proc/%d/fd" % pid):
            try:
                if not os.readlink("/proc/%d/fd/%s"
                                   % (pid, name)).startswith("socket:"):
                    continue
            except OSError:
                continue
            fd = libc.syscall(_SYS_PIDFD_GETFD, pidfd, int(name), 0)
            if fd < 0:
                err = ctypes.get_errno()
                if err in (errno.EPERM, errno.ENOSYS):
                    tap.skip("pidfd_getfd: %s" % os.strerror(err))
                continue
            try:
                s = socket.socket(fileno=fd)
            except OSError:
                os.close(fd)
                continue
            try:
                if s.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                peer = s.getpeername()[:2]
                # A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d.
                if peer[0].startswith("::ffff:") and "." in peer[0]:
                    peer = (peer[0][7:], peer[1])
                if s.type == socket.SOCK_STREAM and peer == want:
                    return s.getsockopt(level, option)
            except OSError:
                pass
            finally:
                s.close()
    finally:
        os.close(pidfd)
    raise AssertionError("no socket of process %d is connected to %r"
                         % (pid, want))


def recv_exact(s, n, timeout=DEADLINE):
    """Exactly n bytes, or AssertionError saying how many came."""
    buf = bytearray()
    end = time.monotonic() + timeout
    while len(buf) < n:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out: %d of %d bytes received: %r"
                                 % (len(buf), n, bytes(buf[-80:])))
        s.settimeout(left)
        try:
            chunk = s.recv(min(n - len(buf), 1 << 20))
        except socket.timeout:
            continue
        if not chunk:
            raise AssertionError("connection closed after %d of %d bytes: %r"
                                 % (len(buf), n, bytes(buf[-80:])))
        buf += chunk
    return bytes(buf)


def recv_until_eof(s, timeout=DEADLINE):
    """Everything until the server closes; a reset also counts as closed
    (returned data so far).  AssertionError if it stays open."""
    buf = bytearray()
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError("connection still open after %.1f s "
                                 "(%d bytes received)" % (timeout, len(buf)))
        s.settimeout(left)
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return bytes(buf)
        if not chunk:
            return bytes(buf)
        buf += chunk


def assert_silent(s, quiet=0.3):
    """Nothing arrives on s for quiet seconds (a negative check, not a
    synchronisation: a wrong server would send within that time)."""
    r, _, _ = select.select([s], [], [], quiet)
    if r:
        s.settimeout(0.1)
        try:
            data = s.recv(4096)
        except OSError as e:
            raise AssertionError("expected silence, got %r" % e)
        raise AssertionError("expected silence, got %r" % data)


def exchange(s, data, n, timeout=DEADLINE):
    """Send data and receive exactly n bytes at the same time; the bytes
    received.  Sending all before reading would need the kernel to hold
    whatever of data the server has already answered, in our receive
    buffer, the server's and our send buffer: a payload of a megabyte
    fits only while the kernel grows them, and when TCP is short of
    memory (other tests hold sockets full) sendall() waits for ever.
    AssertionError if the deadline passes or the server closes first;
    a reset or broken pipe is raised as it comes."""
    view = memoryview(data)
    buf = bytearray()
    old = s.gettimeout()
    end = time.monotonic() + timeout
    s.setblocking(False)
    try:
        while len(view) or len(buf) < n:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    "timed out: %d of %d bytes sent, %d of %d received: %r"
                    % (len(data) - len(view), len(data), len(buf), n,
                       bytes(buf[-80:])))
            # poll, not select: a test may hold more than 1024 descriptors
            p = select.poll()
            p.register(s, (select.POLLIN if len(buf) < n else 0) |
                       (select.POLLOUT if len(view) else 0))
            ev = p.poll(left * 1000)
            ev = ev[0][1] if ev else 0
            w = ev & (select.POLLOUT | select.POLLERR | select.POLLHUP)
            r = ev & (select.POLLIN | select.POLLERR | select.POLLHUP)
            if w and len(view):
                try:
                    view = view[s.send(view):]
                except BlockingIOError:
                    pass
            if r and len(buf) < n:
                try:
                    chunk = s.recv(min(n - len(buf), 1 << 20))
                except BlockingIOError:
                    continue
                if not chunk:
                    raise AssertionError(
                        "connection closed after %d of %d bytes: %r"
                        % (len(buf), n, bytes(buf[-80:])))
                buf += chunk
    finally:
        s.settimeout(old)
    return bytes(buf)


def roundtrip(s, data, expect=None, timeout=DEADLINE):
    """Send data and check the reply is expect (default: data itself),
    reading while sending (see exchange)."""
    if expect is None:
        expect = data
    got = exchange(s, data, len(expect), timeout)
    assert got == expect, "sent %r, expected %r, got %r" % (
        data[:80], expect[:80], got[:80])
    return got


def tcp_memory_pages():
    """Pages all TCP sockets of the machine hold (sockstat's TCP mem:
    the kernel's count, shared by every network namespace)."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            w = line.split()
            if w and w[0] == "TCP:" and "mem" in w:
                return int(w[w.index("mem") + 1])
    return 0


def tcp_memory_pressures():
    """How many times TCP has entered memory pressure (TcpExt
    TCPMemoryPressures): while in it, each socket is held to a few pages
    of buffers, whatever it asks for."""
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines, lines[1:]):
        if names.startswith("TcpExt:") and values.startswith("TcpExt:"):
            row = dict(zip(names.split(), values.split()))
            return int(row.get("TCPMemoryPressures", 0))
    return 0


def wait_tcp_memory(timeout=60):
    """Wait until TCP is surely out of memory pressure: its pages at or
    under tcp_mem's low mark, where the kernel leaves it.  Other
    processes' sockets (another test's thousands of clients) may hold
    more for a while; a test whose measure needs the kernel to buffer
    megabytes waits for them."""
    with open("/proc/sys/net/ipv4/tcp_mem") as f:
        low = int(f.read().split()[0])
    wait_until(lambda: tcp_memory_pages() <= low, timeout,
               "TCP memory under tcp_mem's low mark of %d pages (%d held "
               "when the wait began)" % (low, tcp_memory_pages()), step=0.1)


def wait_until(cond, timeout=DEADLINE, what="condition", step=0.02):
    """Poll cond() until it returns a true value; return that value."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= end:
            raise AssertionError("timed out after %.1f s waiting for %s"
                                 % (timeout, what))
        time.sleep(step)


def _as_user(user, d):
    """For running echod as user, (uid, gid) with no other groups: a copy
    of echod in directory d that the user can run (the build tree may be
    in /root, 0700), d made reachable; the path and Popen's arguments.
    Skipped under ECHOD_WRAPPER: the wrapper's own files (valgrind's
    suppressions, in the tree) need not be readable by that user."""
    if _wrapper():
        import tap
        tap.skip("another user may not read the wrapper's files")
    os.chmod(d, 0o755)
    exe = os.path.join(d, "echod")
    shutil.copy2(ECHOD, exe)
    os.chmod(exe, 0o755)
    return exe, {"user": user[0], "group": user[1], "extra_groups": []}


def run_echod(args, timeout=DEADLINE, env=None, user=None):
    """Run echod to completion (e.g. -t, -V); CompletedProcess with text.
    user: (uid, gid) to run it as, from "/" (see _as_user)."""
    e = dict(os.environ)
    e.pop("NOTIFY_SOCKET", None)
    e.pop("LISTEN_FDS", None)
    if env:
        e.update(env)
    exe, kw, tmp = ECHOD, {}, None
    if user is not None:
        tmp = tempfile.mkdtemp(prefix="echodtest.")
        exe, kw = _as_user(user, tmp)
        kw["cwd"] = "/"
    try:
        return subprocess.run(_wrapper() + [exe] + list(args),
                              stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout, env=e, **kw)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _wrapper():
    w = os.environ.get("ECHOD_WRAPPER")
    return shlex.split(w) if w else []


def _group_members(pgid):
    """Pids of live processes in process group pgid."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        # fields[0] is the state, [2] the process group
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(d))
    return pids


def diag(text):
    """A TAP diagnostic line (shown in the test log)."""
    for line in str(text).splitlines():
        print("# " + line, flush=True)


# --- the daemon ----------------------------------------------------------------

class Echod:
    """echod running on a configuration text; see the module comment.

    activate: list of (port, fdname or None): the sockets are created by
    systemd-socket-activate on 127.0.0.1 and passed to echod.
    ready: wait for READY=1 on entry (False for daemons expected to fail).
    user: (uid, gid) to run echod as, with no other groups (see _as_user);
    its directory, files and notify socket are made reachable for it.
    """

    def __init__(self, conf_text, args=(), env=None, activate=None,
                 ready=True, timeout=DEADLINE, user=None):
        self.conf_text = conf_text
        self.user = user
        self.args = list(args)
        self.env = dict(env or {})
        self.activate = activate
        self.ready = ready
        self.timeout = timeout
        self.dir = None
        self.proc = None
        self.lines = []         # stderr lines, without newline
        self.notes = []         # notify datagrams, as text
        self.note_times = []    # when each arrived (time.monotonic)
        self.stdout = []
        self.cond = threading.Condition()
        self.closed = False
        self.notify_done = False
        self.returncode = None
        self._threads = []
        self._nsock = None

    # -- start and stop

    def __enter__(self):
        try:
            self.start()
            if self.ready:
                self.wait_notify(r"^READY=1$", self.timeout)
        except BaseException:
            self._cleanup(failed=True)
            raise
        return self

    def __exit__(self, etype, evalue, tb):
        self._cleanup(failed=etype is not None)
        return False

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="echodtest.")
        self.path = os.path.join(self.dir, "echod.conf")
        self.write_conf(self.conf_text)
        self.notify_path = os.path.join(self.dir, "notify")
        self._nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._nsock.bind(self.notify_path)
        exe, kw = ECHOD, {}
        if self.user is not None:
            exe, kw = _as_user(self.user, self.dir)
            os.chmod(self.notify_path, 0o666)
        env = dict(os.environ)
        for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
                  "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
            env.pop(k, None)
        env["NOTIFY_SOCKET"] = self.notify_path
        env.update(self.env)
        argv = _wrapper() + [exe, "-c", self.path,
                             "--log-target=stderr"] + self.args
        if self.activate:
            pre = ["systemd-socket-activate"]
            names = []
            for port, name in self.activate:
                pre += ["-l", "127.0.0.1:%d" % port]
                names.append(name or "unknown")
            if any(name for _, name in self.activate):
                pre.append("--fdname=" + ":".join(names))
            for k in self.env:
                pre += ["-E", k]
            pre += ["-E", "NOTIFY_SOCKET"]
            argv = pre + argv
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env,
                                     cwd=self.dir, start_new_session=True,
                                     **kw)
        self._spawn(self._read_stream, self.proc.stderr, self.lines)
        self._spawn(self._read_stream, self.proc.stdout, self.stdout)
        self._spawn(self._read_notify)
        if self.activate:
            # systemd-socket-activate execs the daemon only when a client
            # knocks: wait until every socket listens, then knock once.
            for port, _ in self.activate:
                self.wait_log(r"^Listening on 127\.0\.0\.1:%d as \d+\.$"
                              % port, self.timeout)
            knock = connect(self.activate[0][0])
            knock.close()

    def _spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        self._threads.append(t)

    def _read_stream(self, stream, into):
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                into.append(line)
                self.cond.notify_all()
        with self.cond:
            if into is self.lines:
                self.closed = True
            self.cond.notify_all()

    def _read_notify(self):
        try:
            self._read_notify_loop()
        finally:
            with self.cond:
                self.notify_done = True
                self.cond.notify_all()

    def _read_notify_loop(self):
        # Ends once echod has exited and a select() found nothing more:
        # what it sent last is read before notify_done is set.
        while True:
            try:
                r, _, _ = select.select([self._nsock], [], [], 0.1)
            except (OSError, ValueError):
                return
            if self._nsock.fileno() < 0:
                return
            if not r:
                if self.proc.poll() is not None and self.closed:
                    return
                continue
            try:
                data = self._nsock.recv(65536)
            except OSError:
                return
            with self.cond:
                self.notes.append(data.decode("utf-8", "replace"))
                self.note_times.append(time.monotonic())
                self.cond.notify_all()

    def write_conf(self, text):
        """Replace the configuration file atomically (rename)."""
        tmp = self.path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        if self.user is not None:
            os.chmod(tmp, 0o644)
        os.rename(tmp, self.path)

    def kill(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=DEADLINE):
        """The exit status (negative: killed by that signal)."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("echod still running after %.1f s" % timeout)
        # Let the readers drain what the daemon wrote last.
        with self.cond:
            self.cond.wait_for(lambda: self.closed, 2)
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=DEADLINE):
        """Signal the daemon and return its exit status."""
        if self.proc.poll() is None:
            self.kill(sig)
        return self.wait_exit(timeout)

    def _cleanup(self, failed):
        problems = []
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(DEADLINE)
                except subprocess.TimeoutExpired:
                    problems.append("echod ignored SIGTERM for %.0f s; "
                                    "killed" % DEADLINE)
                    self.proc.kill()
                    self.proc.wait()
            left = _group_members(self.proc.pid)
            if left:
                problems.append("leftover processes %r; killed" % left)
                for p in left:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
            for f in (self.proc.stdout, self.proc.stderr):
                if f:
                    f.close()
        if self._nsock is not None:
            self._nsock.close()
        for t in self._threads:
            t.join(2)
        problems.extend(self._instrumentation_reports())
        if failed or problems:
            diag("echod: %s" % " ".join(getattr(self, "argv", [])))
            diag("exit status: %r" % (self.proc.returncode
                                      if self.proc else None))
            for line in self.lines[-40:]:
                diag("stderr| " + line)
            for n in self.notes[-10:]:
                diag("notify| " + n.replace("\n", "\\n"))
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if problems and not failed:
            raise AssertionError("; ".join(problems))

    def _instrumentation_reports(self):
        """What valgrind (ECHOD_WRAPPER, --error-exitcode=99) or the
        sanitizers reported about this echod: any of it fails the test,
        whatever the test itself checked."""
        found = []
        if self.proc is not None and self.proc.returncode == 99:
            found.append("valgrind reported errors (exit status 99)")
        with self.cond:
            lines = list(self.lines)
        for line in lines:
            if ("ERROR: AddressSanitizer" in line or
                    "ERROR: LeakSanitizer" in line or
                    ": runtime error: " in line):
                found.append("instrumentation: " + line.strip())
                break
        return found

    # -- observing

    def log_mark(self):
        """Index of the next stderr line, to wait only for later ones."""
        with self.cond:
            return len(self.lines)

    def notify_mark(self):
        with self.cond:
            return len(self.notes)

    def _wait(self, items, regex, timeout, since, what):
        rx = re.compile(regex, re.M)
        end = time.monotonic() + timeout
        i = since
        with self.cond:
            while True:
                while i < len(items):
                    m = rx.search(items[i])
                    if m:
                        return i, m
                    i += 1
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out after %.1f s waiting "
                                         "for %s /%s/" % (timeout, what,
                                                          regex))
                # Exited, and all it wrote read: its stderr at EOF and,
                # for a notify message, the notify socket drained (the
                # datagrams it sent just before exiting may be unread).
                if (self.proc.poll() is not None and self.closed and
                        (items is not self.notes or self.notify_done)):
                    raise AssertionError("echod exited (status %r) while "
                                         "waiting for %s /%s/" % (
                                             self.proc.returncode, what,
                                             regex))
                self.cond.wait(min(left, 0.1))

    def wait_log(self, regex, timeout=DEADLINE, since=0):
        """The first stderr line from index since matching regex."""
        return self._wait(self.lines, regex, timeout, since, "log line")[1]

    def wait_log_at(self, regex, timeout=DEADLINE, since=0):
        """(index, match) of that line."""
        return self._wait(self.lines, regex, timeout, since, "log line")

    def wait_notify(self, regex, timeout=DEADLINE, since=0):
        """The first notify message from index since matching regex."""
        return self._wait(self.notes, regex, timeout, since,
                          "notify message")[1]

    def wait_notify_at(self, regex, timeout=DEADLINE, since=0):
        return self._wait(self.notes, regex, timeout, since,
                          "notify message")

    def log_matches(self, regex, since=0):
        rx = re.compile(regex)
        with self.cond:
            return [m for m in (rx.search(x) for x in self.lines[since:])
                    if m]

    def notify_matches(self, regex, since=0):
        rx = re.compile(regex, re.M)
        with self.cond:
            return [m for m in (rx.search(x) for x in self.notes[since:])
                    if m]

    def log_text(self):
        with self.cond:
            return "\n".join(self.lines)

    def wait_closed_entry(self, port, name, reason=None, timeout=DEADLINE,
                          since=0, host=None):
        """The close entry of the session whose client port is port (and
        address host, default 127.0.0.1 or ::1): match groups reason,
        bytes in, bytes out, seconds (a TLS session's words after)."""
        if host is None:
            addr = r"(?:127\.0\.0\.1|\[?::1\]?)"
        else:
            addr = re.escape("[%s]" % host if ":" in host else host)
        rx = (r"^\w+: connection from %s:%d(?: via [^ ]+)? on %s "
              r"closed \((%s)\): (\d+) bytes in, (\d+) out, ([0-9.]+) s"
              r"(?:, TLSv[0-9.]+ .*)?$"
              % (addr, port, re.escape(name),
                 re.escape(reason) if reason else r"[a-z-]+"))
        return self.wait_log(rx, timeout, since)

    def reload(self, text=None, timeout=DEADLINE):
        """Rewrite the file (if text), SIGHUP, wait for RELOADING=1, the
        outcome entry and READY=1; return the outcome entry's match
        (group 1: "configuration reloaded" or "reload rejected")."""
        lm = self.log_mark()
        nm = self.notify_mark()
        if text is not None:
            self.write_conf(text)
        self.kill(signal.SIGHUP)
        i, _ = self.wait_notify_at(r"^RELOADING=1$", timeout, nm)
        self.wait_notify(r"^READY=1$", timeout, i + 1)
        return self.wait_log(r"^\w+: (configuration reloaded|reload "
                             r"rejected): (.*)$", timeout, lm)

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS for %d" % self.proc.pid)

    def memory_report(self):
        """Where echod's resident memory is, for a failure to explain:
        its open descriptors, and its largest mappings by Rss (smaps)."""
        pid = self.proc.pid
        fds = len(os.listdir("/proc/%d/fd" % pid))
        maps, cur = [], None
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                if not line[0].isupper() or ":" not in line.split()[0]:
                    cur = [line.split()[0], " ".join(line.split()[5:])]
                    maps.append(cur)
                elif line.startswith("Rss:") and cur is not None:
                    cur.append(int(line.split()[1]))
        maps = sorted((m for m in maps if len(m) > 2), key=lambda m: -m[2])
        return "%d descriptors open; largest Rss: %s" % (fds, ", ".join(
            "%s %s %d KiB" % (m[0], m[1] or "[anon]", m[2])
            for m in maps[:6]))

