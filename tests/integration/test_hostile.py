#!/usr/bin/python3
"""echod tried as a hostile client, file or admin slip would try it
(issue 12): each case that once broke it, named after what it did."""

import os
import signal
import tempfile
import time

import tap
from echodtest import (Echod, conf, connect, free_port, listener,
                       recv_until_eof, roundtrip, wait_until)

FAULT = os.path.join(os.environ.get("top_builddir", "."),
                     "tests/integration/fault.so")


def _stop_within(d, limit):
    """SIGTERM; the time until echod exited, which must be under limit."""
    t0 = time.monotonic()
    d.kill(signal.SIGTERM)
    assert d.wait_exit(limit + 5) == 0
    took = time.monotonic() - t0
    assert took < limit, "echod took %.2f s to stop" % took
    return took


def test_stop_waits_no_longer_than_the_last_session():
    port = free_port()
    text = conf(listener("echo", port, address="127.0.0.1"),
                timeouts={"idle": 300, "write": 30, "shutdown": 20})
    for workers in (1, 2):
        with Echod(text.replace("listeners", "workers = %d;\nlisteners"
                                % workers, 1)) as d:
            s = connect(port)
            roundtrip(s, b"hello")
            mark = d.notify_mark()
            t0 = time.monotonic()
            d.kill(signal.SIGTERM)
            d.wait_notify(r"^STOPPING=1$", 5, mark)
            s.shutdown(2)
            s.close()
            assert d.wait_exit(15) == 0
            took = time.monotonic() - t0
            assert took < 5, "workers=%d: %.2f s to stop" % (workers, took)


def test_stop_ends_when_the_last_session_cannot_start():
    """A connection handed to a worker whose session cannot be set up
    gave its slot back without telling the stop, which then waited for
    timeouts.shutdown."""
    if not os.path.exists(FAULT):
        tap.skip("no %s" % FAULT)
    port = free_port()
    fault = tempfile.mkdtemp(prefix="echodfault.")
    env = {"LD_PRELOAD": FAULT, "ECHOD_FAULT_DIR": fault,
           "ECHOD_FAULT_USEC": "1000000",
           # fault.so comes first: AddressSanitizer must be told it may
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
           ":verify_asan_link_order=0"}
    text = conf(listener("echo", port, address="127.0.0.1"), workers=2,
                timeouts={"idle": 300, "write": 30, "shutdown": 20})
    try:
        with Echod(text, env=env) as d:
            open(os.path.join(fault, "event_new"), "w").close()
            s = connect(port)
            wait_until(lambda: os.path.exists(os.path.join(fault, "hit")),
                       10, "the worker's event_new() to be under way")
            mark = d.notify_mark()
            t0 = time.monotonic()
            d.kill(signal.SIGTERM)
            d.wait_notify(r"^STOPPING=1$", 5, mark)
            # the session's set-up fails 1 s after it began
            assert recv_until_eof(s, 10) == b""
            assert d.wait_exit(15) == 0
            took = time.monotonic() - t0
            assert took < 5, "%.2f s to stop" % took
            d.wait_log(r"^warning: cannot serve a connection on echo")
            s.close()
    finally:
        for f in os.listdir(fault):
            os.unlink(os.path.join(fault, f))
        os.rmdir(fault)


tap.main(globals())
