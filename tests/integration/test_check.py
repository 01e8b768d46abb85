#!/usr/bin/python3
"""The command line (echod(8): OPTIONS, EXIT STATUS): -t, exit statuses 1 and 2, -V, -h."""

import os
import re
import shutil
import tempfile

import tap
from echodtest import (Echod, conf, free_port, listener, occupy,
                       port_refuses, run_echod)

# Prefixes tolerated before "FILE:LINE:" (the contract names none).
_PFX = r"^(?:echod: |error: )?"


class _Dir:
    """A temporary directory holding configuration files."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="echodtest.")
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)

    def write(self, name, text):
        p = os.path.join(self.path, name)
        with open(p, "w") as f:
            f.write(text)
        return p


def _bad_conf(port, port2):
    """A file with five errors, each on a line of its own."""
    return "\n".join([
        "# five errors, on lines 2, 4, 6, 7 and 8",
        'log_level = "loud";',
        "workers = 1;",
        "frobnicate = 3;",
        "listeners = (",
        '  { name = "a"; address = "127.0.0.1"; port = 70000; },',
        '  { name = "b"; address = "127.0.0.1"; port = %d; framing = "line";'
        ' strip = ( { regex = "(unclosed"; } ); },' % port,
        '  { name = "a"; address = "127.0.0.1"; port = %d; }' % port2,
        ");",
        ""])


def test_check_valid_binds_nothing():
    port = free_port()
    with _Dir() as d:
        path = d.write("ok.conf", conf(
            listener("echo", port, address="127.0.0.1"),
            listener("strip", free_port(), framing="line",
                     strip=[{"bytes": 2}])))
        # The port is ours while echod -t runs: binding it would fail.
        busy = occupy(port)
        try:
            r = run_echod(["-t", "-c", path])
        finally:
            busy.close()
        assert r.returncode == 0, (r.returncode, r.stderr)
        assert r.stdout == "echod: %s: configuration is valid\n" % path, \
            repr(r.stdout)
        r = run_echod(["--check-config", "--config", path])
        assert r.returncode == 0, (r.returncode, r.stderr)
        assert "configuration is valid" in r.stdout


def test_check_invalid_reports_every_error():
    port = free_port()
    with _Dir() as d:
        path = d.write("bad.conf", _bad_conf(port, free_port()))
        r = run_echod(["-t", "-c", path])
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
        assert "valid" not in r.stdout, r.stdout
        for line in (2, 4, 6, 7, 8):
            rx = _PFX + re.escape("%s:%d: " % (path, line)) + r"\S"
            assert re.search(rx, r.stderr, re.M), \
                "no error for line %d in:\n%s" % (line, r.stderr)
        for line in (1, 3, 5, 9):
            assert "%s:%d:" % (path, line) not in r.stderr, \
                "error on a correct line %d:\n%s" % (line, r.stderr)
        assert port_refuses(port)


def test_check_syntax_error_and_missing_listeners():
    with _Dir() as d:
        path = d.write("syntax.conf", 'log_level = "info";\n\nworkers = ;\n'
                       'listeners = ();\n')
        r = run_echod(["-t", "-c", path])
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert re.search(_PFX + re.escape(path + ":3: "), r.stderr, re.M), \
            r.stderr
        path = d.write("empty.conf", 'log_level = "info";\n')
        r = run_echod(["-t", "-c", path])
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert re.search(_PFX + re.escape(path + ": ") + r".*listeners",
                         r.stderr, re.M), r.stderr
        missing = os.path.join(d.path, "nonexistent.conf")
        r = run_echod(["-t", "-c", missing])
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert missing in r.stderr, r.stderr


def test_bad_config_exits_1_without_serving():
    port = free_port()
    with Echod(_bad_conf(port, free_port()), ready=False) as d:
        assert d.wait_exit() == 1
        assert not d.notify_matches(r"^READY=1$"), d.notes
        for line in (2, 4, 6, 7, 8):
            assert d.log_matches(r"^error: %s:%d: \S" % (re.escape(d.path),
                                                           line)), \
                "no error entry for line %d" % line
        assert port_refuses(port)


def test_port_in_use_exits_2():
    p1, p2 = free_port(), free_port()
    busy = occupy(p2)
    try:
        text = conf(listener("free", p1, address="127.0.0.1"),
                    listener("busy", p2, address="127.0.0.1"))
        with Echod(text, ready=False) as d:
            assert d.wait_exit() == 2
            assert not d.notify_matches(r"^READY=1$"), d.notes
            assert d.log_matches(r"^error: .*127\.0\.0\.1\]?:%d\b" % p2), \
                "no error naming 127.0.0.1:%d" % p2
            assert port_refuses(p1)
    finally:
        busy.close()


def test_version():
    r = run_echod(["-V"])
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert re.search(r"\becho[d]?\b.*\b1\.0\b", r.stdout), r.stdout
    assert re.search(r"libevent.*\b2\.1\.\d+", r.stdout), r.stdout


def test_usage():
    r = run_echod(["-h"])
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert re.search(r"usage", r.stdout, re.I), r.stdout
    for opt in ("-c", "-t", "-v", "-V", "--log-target"):
        assert opt in r.stdout, "%s missing from usage:\n%s" % (opt,
                                                                 r.stdout)


def test_unknown_option_exits_1():
    for args in (["--no-such-option"], ["-Q"], ["--log-target=syslog"]):
        r = run_echod(args)
        assert r.returncode == 1, (args, r.returncode, r.stderr)
        assert r.stderr.strip(), "no message for %r" % args


tap.main(globals())
