#!/usr/bin/python3
"""What echod writes about connections (echod(8), JOURNAL ENTRIES): the log_rate budget and
its summary, and client bytes only at debug level, escaped and cut."""

import tap
from echodtest import (Echod, conf, connect, free_port, listener,
                       recv_until_eof, roundtrip, wait_until)


def test_log_rate_budget_gives_way_to_a_summary():
    port = free_port()
    with Echod(conf(listener("echo", port, address="127.0.0.1"),
                    log_rate=5)) as d:
        mark = d.log_mark()
        for i in range(60):
            s = connect(port)
            roundtrip(s, b"%d\n" % i)
            s.shutdown(1)
            recv_until_eof(s)
            s.close()
        d.wait_log(r"per-connection entries suppressed", since=mark)

        def accounted():
            """Entries written plus entries counted in summaries."""
            written = d.log_matches(r"connection from 127\.0\.0\.1:\d+ on "
                                    r"echo", since=mark)
            counted = 0
            for m in d.log_matches(r"^notice: (\d+) sessions opened and "
                                   r"(\d+) closed in the last second; "
                                   r"per-connection entries suppressed$",
                                   since=mark):
                counted += int(m.group(1)) + int(m.group(2))
            return len(written), counted

        # Each connection owes two entries: written, or counted.
        wait_until(lambda: sum(accounted()) == 120, what="120 entries")
        written, counted = accounted()
        summaries = len(d.log_matches(r"entries suppressed", since=mark))
        # At most 5 a second: the loop may straddle a few seconds.
        assert written <= 5 * (summaries + 1), (written, summaries)
        assert counted > 0


def test_payload_only_at_debug_escaped_and_cut():
    port = free_port()
    secret = b"top-secret\r\n\x00\x1b[31m" + b"A" * 100 + b"\n"
    with Echod(conf(listener("echo", port, address="127.0.0.1")),
               args=["-v"]) as d:
        s = connect(port)
        roundtrip(s, secret)
        line = d.wait_log(r"^debug: session \d+ received %d bytes: (.*)$"
                          % len(secret)).group(1)
        assert line.startswith("top-secret\\x0d\\x0a\\x00\\x1b[31m"), line
        assert "\x1b" not in d.log_text() and "\r" not in d.log_text()
        # Cut to 64 bytes of payload.
        assert line.count("A") == 64 - len(b"top-secret\r\n\x00\x1b[31m")
        s.close()
    with Echod(conf(listener("echo", port, address="127.0.0.1"))) as d:
        s = connect(port)
        p = s.getsockname()[1]
        roundtrip(s, secret)
        s.close()
        d.wait_closed_entry(p, "echo")
        assert "top-secret" not in d.log_text()


tap.main(globals())
