#!/usr/bin/python3
"""test_echocli_tls.py: echocli --tls and echocli bench --tls against
echod's TLS listeners: what is verified (the chain, the name or address),
--insecure, mTLS, and a plain server answered with TLS.  The certificate
authority is test_tls.py's, made with the openssl command in a temporary
directory."""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
import test_tls  # noqa: E402
from echodtest import Echod, conf, free_port, listener  # noqa: E402

ECHOCLI = os.environ.get("ECHOCLI", "./echocli")
DATA = bytes(range(256)) * 64 + b"end\n"


# test_echocli.py runs its tests when imported: its helper, again.
def run(args, data=b"", timeout=30):
    """Run echocli with data on stdin; (returncode, stdout, stderr)."""
    p = subprocess.run([ECHOCLI] + [str(a) for a in args], input=data,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def bench(args, timeout=60):
    """Run echocli bench --json; (returncode, parsed result or None,
    stderr)."""
    rc, out, err = run(["bench", "--json"] + args, timeout=timeout)
    try:
        result = json.loads(out.decode())
    except ValueError:
        result = None
    return rc, result, err




def pki():
    return test_tls.pki()


def self_signed():
    """A certificate for localhost that no CA signed; its paths."""
    p = pki()
    cert, key = p.path("self.pem"), p.path("self.key")
    if not os.path.exists(cert):
        p._openssl("req", "-x509", *test_tls.EC, "-keyout", key,
                   "-out", cert, "-subj", "/CN=localhost", "-days", "1",
                   "-addext", "subjectAltName=DNS:localhost")
    return cert, key


def served(**tls):
    """An echod with one TLS listener on 127.0.0.1; (echod, port)."""
    port = free_port()
    lst = test_tls.tls_listener("t", port, tls=pki().tls(**tls))
    return Echod(conf(lst)), port


# --- interactive -------------------------------------------------------------

def test_echo_verified_by_name_and_address():
    d, port = served()
    with d:
        for host in ("localhost", "127.0.0.1"):
            rc, out, err = run(["--tls", "--ca", pki().ca, host, port],
                               DATA)
            assert rc == 0, err
            assert out == DATA, (host, len(out))
            assert err == "", err


def test_wrong_name_fails_verification():
    d, port = served()
    with d:
        rc, out, err = run(["--tls", "--ca", pki().ca, "--servername",
                            "wrong.example", "127.0.0.1", port], DATA)
        assert rc == 1, err
        assert "certificate verify failed" in err, err
        assert "mismatch" in err, err
        assert out == b""
        # Without --ca, the system's store does not know the test CA.
        rc, out, err = run(["--tls", "localhost", port], DATA)
        assert rc == 1 and "certificate verify failed" in err, err


def test_insecure_accepts_self_signed():
    cert, key = self_signed()
    d, port = served(certificate=cert, key=key)
    with d:
        rc, out, err = run(["--tls", "--ca", pki().ca, "localhost", port],
                           DATA)
        assert rc == 1 and "self-signed" in err, err
        rc, out, err = run(["--tls", "--insecure", "localhost", port], DATA)
        assert rc == 0, err
        assert out == DATA
        assert "not verified" in err, err


def test_mtls_client_certificate():
    d, port = served(client_ca=pki().ca)
    with d:
        rc, out, err = run(["--tls", "--ca", pki().ca, "--cert",
                            pki().client, "--key", pki().client_key,
                            "localhost", port], DATA)
        assert rc == 0, err
        assert out == DATA
        # Refused without one: TLS 1.3 tells at the first read.
        rc, out, err = run(["--tls", "--ca", pki().ca, "localhost", port],
                           DATA)
        assert rc == 1, err
        assert "certificate" in err, err


def test_plain_server_fails_cleanly():
    port = free_port()
    with Echod(conf(listener("p", port, address="127.0.0.1"))):
        rc, out, err = run(["--tls", "--ca", pki().ca, "127.0.0.1", port],
                           b"x\n")
        assert rc == 1, err
        assert "TLS handshake" in err, err
        rc, r, err = bench(["--tls", "--ca", pki().ca, "-n", 10,
                            "127.0.0.1", port])
        assert rc == 1, err
        assert "TLS handshake" in err, err


# --- bench -------------------------------------------------------------------

def test_bench_tls_verifies_replies():
    d, port = served()
    with d:
        rc, r, err = bench(["--tls", "--ca", pki().ca, "-c", 4, "-p", 4,
                            "-s", 3000, "-n", 400, "localhost", port])
    assert rc == 0, err
    assert r["ok"] is True and r["tls"] is True, r
    assert r["messages"] == 400 and r["wrong_replies"] == 0, r
    assert r["bytes_received"] == 400 * 3000, r
    assert r["connections_opened"] == 4, r
    assert r["mb_per_s"] > 0, r


def test_bench_tls_catches_stripped_replies():
    """Every byte is checked over TLS too: echod stripping 2 bytes is
    caught unless --strip 2 says so."""
    port = free_port()
    lst = test_tls.tls_listener("s", port, framing="line",
                                strip=[{"bytes": 2}])
    with Echod(conf(lst)):
        rc, r, err = bench(["--tls", "--ca", pki().ca, "-c", 2, "-n", 20,
                            "127.0.0.1", port])
        assert rc == 1 and r["wrong_replies"] > 0, (r, err)
        rc, r, err = bench(["--tls", "--ca", pki().ca, "-c", 2, "-n", 20,
                            "--strip", 2, "127.0.0.1", port])
        assert rc == 0 and r["messages"] == 20, (r, err)


def test_bench_tls_churn_counts_handshakes():
    d, port = served()
    with d:
        rc, r, err = bench(["--tls", "--ca", pki().ca, "--churn", "-c", 4,
                            "-n", 40, "localhost", port])
        assert rc == 0, err
        assert r["mode"] == "churn" and r["handshakes"] == 40, r
        assert r["handshakes_per_s"] > 0 and r["messages"] == 40, r
        rc, out, err = run(["bench", "--tls", "--ca", pki().ca, "--churn",
                            "-c", 2, "-n", 10, "localhost", port])
        assert rc == 0, err
        assert b"over TLSv1.3" in out and b"handshakes " in out, out


def test_bench_tls_mtls_and_wrong_name():
    d, port = served(client_ca=pki().ca)
    with d:
        rc, r, err = bench(["--tls", "--ca", pki().ca, "--cert",
                            pki().client, "--key", pki().client_key,
                            "-c", 2, "-n", 20, "localhost", port])
        assert rc == 0, err
        rc, r, err = bench(["--tls", "--ca", pki().ca, "--servername",
                            "wrong.example", "-n", 5, "127.0.0.1", port])
        assert rc == 1 and "mismatch" in err, err


def test_bad_tls_options():
    for args in (["--ca", "x"], ["--tls", "--cert", "x"],
                 ["--tls", "-u"], ["--tls", "--insecure", "--ca", "x"]):
        rc, out, err = run(args + ["127.0.0.1", 7])
        assert rc == 2, (args, err)
    rc, out, err = run(["--tls", "--ca", "/nonexistent", "127.0.0.1",
                        free_port()])
    assert rc != 0


if __name__ == "__main__":
    try:
        tap.main(globals())
    finally:
        if test_tls.PKI is not None:
            shutil.rmtree(test_tls.PKI.dir, ignore_errors=True)
