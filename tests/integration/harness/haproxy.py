"""Debian's HAProxy in front of adc-server instances, for the multi-instance tests.

    with HAProxy([("a", "127.0.0.1", port_a), ("b", "127.0.0.1", port_b)]) as lb:
        lb.url            # http://127.0.0.1:PORT
        lb.wait_up(n)     # until n backends pass their health check

Health checks: GET /api/v1/health every 300 ms, down after 2 failures, up after 1 success.
`balance source`: one client address sticks to one instance while it is up (an agent keeps
talking to the instance that registered it), and moves to another when its instance goes down.
The stats socket tells which backends are up. Removed on exit, whatever happened.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time

from .lifecycle import Managed
from .slapd import free_port

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


class HAProxy(Managed):
    def __init__(self, backends, balance="source"):
        """balance: HAProxy's algorithm; "roundrobin" spreads one client's requests (the
        sign-in benchmark through two instances)."""
        self.backends = backends
        self.balance = balance
        self.dir = None
        self.proc = None

    def open(self):
        self.dir = tempfile.mkdtemp(prefix="adc-haproxy-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.stats = os.path.join(self.dir, "stats.sock")
        servers = "".join("    server %s %s:%d check inter 300ms fall 2 rise 1\n" % b
                          for b in self.backends)
        cfg = ("global\n    stats socket %s mode 600 level admin\n"
               "defaults\n    mode http\n    timeout connect 2s\n"
               # long polls wait up to 25 s (docs/agent-protocol.md)
               "    timeout client 60s\n    timeout server 60s\n"
               "frontend adc\n    bind 127.0.0.1:%d\n    default_backend instances\n"
               "backend instances\n    balance %s\n"
               "    option httpchk GET /api/v1/health\n    http-check expect status 200\n%s"
               % (self.stats, self.port, self.balance, servers))
        path = os.path.join(self.dir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(cfg)
        self.log = open(os.path.join(self.dir, "haproxy.log"), "w")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", path], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("haproxy exited: %s" % self.read_log())
                time.sleep(0.05)
        raise RuntimeError("haproxy did not listen: %s" % self.read_log())

    def read_log(self):
        with open(os.path.join(self.dir, "haproxy.log")) as f:
            return f.read()

    def up(self):
        """The names of the backends that pass their health check."""
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(self.stats)
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()  # HAProxy listens before its stats socket is there
            return []
        s.sendall(b"show stat\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        names = []
        for line in data.decode().splitlines():
            f = line.split(",")
            if len(f) > 17 and f[0] == "instances" and f[1] not in ("BACKEND", "FRONTEND") \
                    and f[17].startswith("UP"):
                names.append(f[1])
        return names

    def wait_up(self, n, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(self.up()) == n:
                return
            time.sleep(0.1)
        raise AssertionError("backends up: %r, wanted %d" % (self.up(), n))

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
