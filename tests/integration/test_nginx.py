#!/usr/bin/python3
"""echod behind nginx's stream proxy with `proxy_protocol on` (PROXY v1,
Debian's nginx and libnginx-mod-stream): byte-exact echo, and echod's
entries name the client nginx connected for, not nginx.  A second
balancer, written by others, besides test_haproxy.py's HAProxy."""

import os
import shutil
import signal
import subprocess
import tempfile

import tap
from echodtest import (Echod, conf, connect, diag, free_port, listener,
                       local_port, roundtrip, wait_until)

MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"


class Nginx:
    """nginx in the foreground, one stream server: 127.0.0.1:port to
    127.0.0.1:upstream with the PROXY protocol."""

    def __init__(self, upstream):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="echod-nginx.")
        self.cfg = os.path.join(self.dir, "nginx.conf")
        with open(self.cfg, "w") as f:
            f.write("""load_module %s;
daemon off;
master_process off;
worker_processes 1;
pid %s/nginx.pid;
error_log stderr notice;
events { worker_connections 64; }
stream {
    server {
        listen 127.0.0.1:%d;
        proxy_pass 127.0.0.1:%d;
        proxy_protocol on;
        proxy_connect_timeout 5s;
    }
}
""" % (MODULE, self.dir, self.port, upstream))
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(
            [shutil.which("nginx") or "/usr/sbin/nginx", "-c", self.cfg,
             "-p", self.dir, "-e", "stderr"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True)
        # Ready once its port listens (/proc/net/tcp: a probe connection
        # would reach echod).
        want = ":%04X" % self.port

        def listening():
            assert self.proc.poll() is None, "nginx exited: %s" % (
                self.proc.stdout.read().decode(errors="replace"))
            with open("/proc/net/tcp") as f:
                return any(line.split()[1].endswith(want) and
                           line.split()[3] == "0A" for line in f
                           if line.strip() and not line.startswith(" sl"))
        wait_until(listening, what="nginx listening")
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out = self.proc.stdout.read().decode(errors="replace")
        if exc[0] is not None:
            for line in out.splitlines():
                diag("nginx| " + line)
        shutil.rmtree(self.dir, ignore_errors=True)


def need_nginx():
    if shutil.which("nginx") is None and not os.path.exists(
            "/usr/sbin/nginx"):
        tap.missing("nginx is not installed")
    if not os.path.exists(MODULE):
        tap.missing("nginx's stream module (libnginx-mod-stream) is missing")


def test_nginx_stream_proxy_protocol():
    """Clients from 127.0.0.2 and 127.0.0.3 through nginx: every byte back,
    and each open entry names its client via nginx's 127.0.0.1."""
    need_nginx()
    ep = free_port()
    with Echod(conf(listener("pp", ep, address="127.0.0.1",
                             proxy_protocol="v1",
                             proxy_from=["127.0.0.1"]))) as d, \
            Nginx(ep) as n:
        for src in ("127.0.0.2", "127.0.0.3"):
            s = connect(n.port, source=src)
            p = local_port(s)
            data = os.urandom(200000)
            roundtrip(s, data)
            d.wait_log(r"^\w+: connection from %s:%d via 127\.0\.0\.1:\d+ "
                       r"on pp$" % (src.replace(".", r"\."), p))
            s.close()
            m = d.wait_closed_entry(p, "pp", "eof", host=src)
            assert m.group(2) == m.group(3) == str(len(data)), m.group(0)


tap.main(globals())
