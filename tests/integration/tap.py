"""tap.py: run a test module's test_* functions and report them as TAP.

Every integration test file ends with `tap.main(globals())`.  Each test
is a plain function that raises (usually AssertionError) to fail; `skip`
raises Skip to report "ok N # SKIP reason", and `missing` does so for a
program of others that is not installed, unless ECHOD_NO_MISSING is set
(tools/dev sets it once it has installed them all): then a proving test
that would quietly turn green fails instead.  A test that hangs is failed
by the alarm after TAP_TIMEOUT seconds (default 60), never left running.
"""

import os
import signal
import sys
import traceback


class Skip(Exception):
    """Raised by a test that cannot run here, with the reason."""


def skip(reason):
    raise Skip(reason)


def missing(reason):
    """Skip for want of a program others wrote (haproxy, promtool, ...);
    a failure where the run promised to have every one."""
    if os.environ.get("ECHOD_NO_MISSING"):
        raise AssertionError("%s, and ECHOD_NO_MISSING says it must be"
                             % reason)
    raise Skip(reason)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout("test took longer than %s s" % os.environ.get("TAP_TIMEOUT", "60"))


def main(namespace):
    tests = [(name, fn) for name, fn in namespace.items()
             if name.startswith("test_") and callable(fn)]
    # Keep the order of definition, so a file reads like its output.
    tests.sort(key=lambda t: t[1].__code__.co_firstlineno)
    only = os.environ.get("TAP_ONLY")
    if only:
        tests = [t for t in tests if only in t[0]]
    print("1..%d" % len(tests), flush=True)
    limit = int(os.environ.get("TAP_TIMEOUT", "60"))
    signal.signal(signal.SIGALRM, _alarm)
    failed = 0
    for i, (name, fn) in enumerate(tests, 1):
        signal.alarm(limit)
        try:
            fn()
        except Skip as e:
            print("ok %d - %s # SKIP %s" % (i, name, e), flush=True)
        except BaseException as e:  # noqa: B902: report everything
            if isinstance(e, KeyboardInterrupt):
                raise
            failed += 1
            # The reason on the result line itself: a CI log that keeps
            # only the result lines still says why.
            why = (traceback.format_exception_only(type(e), e)[-1]
                   .strip().replace("#", "")[:200])
            print("not ok %d - %s: %s" % (i, name, why), flush=True)
            for line in traceback.format_exc().splitlines():
                print("# " + line, flush=True)
        else:
            print("ok %d - %s" % (i, name), flush=True)
        finally:
            signal.alarm(0)
    sys.exit(1 if failed else 0)
