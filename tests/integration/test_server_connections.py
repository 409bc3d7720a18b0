"""adc-server's connections under attack and at scale (docs/RELIABILITY.md, SECURITY): slow
clients, per-address limits, header and body deadlines, credentials before the body, JSON-only
bodies, nosniff, X-Forwarded-For from trusted proxies only, Secure cookies behind a TLS proxy,
log lines a user name cannot forge, and thousands of long-polling agents on one event loop.

ADC_BENCH_AGENTS sets the number of simulated agents (CI: 2,000; the benchmark: 10,000)."""
import json
import os
import socket
import subprocess
import threading
import time
import unittest

from harness import programs
from harness.server import AdcServer, basic_auth

BUILD_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.environ["ADC_SERVER_BIN"])))
AGENTS_BIN = os.environ.get("ADC_BENCH_AGENTS_BIN",
                            os.path.join(BUILD_ROOT, "bench", "adc-bench-agents"))
N_AGENTS = int(os.environ.get("ADC_BENCH_AGENTS", "2000"))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def threads(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def connect_from(src, port, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def raw_answer(s, timeout=10):
    """Reads until the server closes or a whole answer arrived; the status (0: none)."""
    s.settimeout(timeout)
    buf = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            head, sep, rest = buf.partition(b"\r\n\r\n")
            if sep:
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if len(rest) >= length:
                    break
    except OSError:
        pass
    return int(buf[9:12]) if buf.startswith(b"HTTP/1.") else 0, buf


def closed_by_server(s):
    """True when the server closed (or reset) the connection."""
    s.settimeout(0.01)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


class SlowClients(unittest.TestCase):
    """600 slow connections (a header line every 2 s) and slow bodies."""

    @classmethod
    def setUpClass(cls):
        cls.srv = AdcServer().start()
        cls.addClassCleanup(cls.srv.cleanup)
        cls.cfg = cls.srv.create_sync_config("slow")

    def test_600_slow_connections_leave_the_server_answering(self):
        port = self.srv.port
        slow = []
        # From six addresses (100 each, under the per-address limit): they are held, not refused.
        for i in range(600):
            s = connect_from("127.0.2.%d" % (1 + i // 100), port)
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
        self.addCleanup(lambda: [s.close() for s in slow])
        start = time.monotonic()
        worst = 0.0
        for round_ in range(3):
            time.sleep(2)
            for s in slow:
                try:
                    s.sendall(b"X-Slow: %d\r\n" % round_)
                except OSError:
                    pass
            r, t = timed(lambda: self.srv.request("GET", "/api/v1/health", timeout=5))
            self.assertEqual(r.status, 200)
            r2, t2 = timed(lambda: self.srv.scim(self.cfg, "GET", "/Users?count=1", timeout=5))
            self.assertEqual(r2.status, 200)
            worst = max(worst, t, t2)
        self.assertLess(worst, 1.0)
        # They were held open all along (the server was not just refusing them) ...
        held = sum(1 for s in slow if not closed_by_server(s))
        self.assertGreater(held, 590)
        pid = self.srv.proc.pid
        self.assertLess(threads(pid), 80, "a thread per connection?")
        # ... until the header deadline (20 s) cuts them.
        while time.monotonic() - start < 26:
            time.sleep(1)
            for s in slow:
                try:
                    s.sendall(b"X-Slow: more\r\n")
                except OSError:
                    pass
        cut = sum(1 for s in slow if closed_by_server(s))
        self.assertEqual(cut, 600)
        self.assertEqual(self.srv.request("GET", "/api/v1/health").status, 200)

    def test_slow_body_is_cut(self):
        s = connect_from("127.0.2.20", self.srv.port)
        self.addCleanup(s.close)
        auth = basic_auth(self.cfg["app_id"], self.cfg["secret"]).encode()
        s.sendall(b"POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth +
                  b"\r\nContent-Type: application/scim+json\r\nContent-Length: 100000\r\n\r\n{")
        start = time.monotonic()
        while time.monotonic() - start < 25:
            time.sleep(1)
            try:
                s.sendall(b" ")
            except OSError:
                break
            if closed_by_server(s):
                break
        # The grace period is 10 s; then 4 KiB/s on average is the least accepted.
        self.assertLess(time.monotonic() - start, 15)
        self.assertTrue(closed_by_server(s))
        self.assertIn("body too slow", self.srv.read_log())
        self.assertEqual(self.srv.request("GET", "/api/v1/health").status, 200)


class SlowSignIns(unittest.TestCase):
    """Sign-ins waiting for an agent that never answers do not hold up other requests: the
    workers grow while all are busy, and the health check runs on the event loop."""

    def test_waiting_sign_ins_do_not_starve_others(self):
        with AdcServer(args=["--login-timeout", "4"]) as srv:
            cfg = srv.create_sync_config("silent")
            # 60 users, signing in from six addresses: ten different accounts per address stay
            # inside the sign-in throttling's budgets, so every attempt waits for the agent.
            for i in range(60):
                r = srv.scim(cfg, "POST", "/Users", {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "waiting.user%d" % i, "externalId": "w-%d" % i, "active": True})
                self.assertEqual(r.status, 201, r)
            r = srv.request("POST", "/api/v1/agent/connect", {"host": "h", "version": "0.1.0"},
                            auth=srv.sync_auth(cfg))
            agent_id = r.body["agent_id"]
            stop = threading.Event()

            def silent_agent():  # takes every check and never answers
                while not stop.is_set():
                    try:
                        srv.request("GET", "/api/v1/agent/commands?wait=1&agent_id=" + agent_id,
                                    auth=srv.sync_auth(cfg), timeout=10)
                    except OSError:
                        pass

            agent = threading.Thread(target=silent_agent)
            agent.start()
            statuses = []

            def sign_in(i):
                body = json.dumps({"username": "waiting.user%d" % i, "password": "pw"}).encode()
                s = connect_from("127.0.4.%d" % (1 + i // 10), srv.port, timeout=30)
                with s:
                    s.sendall(b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                              b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                    statuses.append(raw_answer(s, timeout=30)[0])

            logins = [threading.Thread(target=sign_in, args=(i,)) for i in range(60)]
            try:
                for t in logins:
                    t.start()
                time.sleep(1)
                r, t_health = timed(lambda: srv.request("GET", "/api/v1/health", timeout=5))
                self.assertEqual(r.status, 200)
                r, t_scim = timed(lambda: srv.scim(cfg, "GET", "/Users?count=1", timeout=5))
                self.assertEqual(r.status, 200)
            finally:
                for t in logins:
                    t.join()
                stop.set()
                agent.join()
            self.assertEqual(statuses, [503] * 60)
            self.assertLess(max(t_health, t_scim), 1.0)


class PerAddressLimit(unittest.TestCase):
    def test_one_address_cannot_take_every_connection(self):
        with AdcServer(args=["--per-address-limit", "5"]) as srv:
            held = [connect_from("127.0.0.2", srv.port) for _ in range(5)]
            try:
                time.sleep(0.3)
                extra = connect_from("127.0.0.2", srv.port)
                extra.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                status, _ = raw_answer(extra)
                extra.close()
                self.assertEqual(status, 0)  # closed without an answer
                other = connect_from("127.0.0.3", srv.port)
                other.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                status, _ = raw_answer(other)
                other.close()
                self.assertEqual(status, 200)
            finally:
                for s in held:
                    s.close()
            time.sleep(0.3)
            again = connect_from("127.0.0.2", srv.port)
            again.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _ = raw_answer(again)
            again.close()
            self.assertEqual(status, 200)


class BeforeTheBody(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = AdcServer().start()
        cls.addClassCleanup(cls.srv.cleanup)
        cls.cfg = cls.srv.create_sync_config("body")

    def test_unauthenticated_large_bodies_are_not_buffered(self):
        pid = self.srv.proc.pid
        before = rss_kib(pid)
        big = 8 * 1024 * 1024
        chunk = b"x" * (1 << 20)
        results = []

        def attacker(i):
            try:
                s = connect_from("127.0.3.%d" % (1 + i // 60), self.srv.port, timeout=20)
            except OSError:
                results.append(-1)
                return
            with s:
                auth = b"" if i % 2 else b"Authorization: Bearer adca_wrong\r\n"
                try:
                    s.sendall(b"POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\n" + auth +
                              b"Content-Type: application/scim+json\r\nContent-Length: %d\r\n\r\n"
                              % big)
                    for _ in range(8):
                        s.sendall(chunk)
                except OSError:
                    pass
                results.append(raw_answer(s, timeout=20)[0])

        ts = [threading.Thread(target=attacker, args=(i,)) for i in range(120)]
        for t in ts:
            t.start()
        peak = before
        while any(t.is_alive() for t in ts):
            peak = max(peak, rss_kib(pid))
            time.sleep(0.05)
        for t in ts:
            t.join()
        after = rss_kib(pid)
        print("RSS before %d KiB, peak %d KiB, after %d KiB" % (before, peak, after))
        # 120 buffered bodies would be ~1 GB; a few MB of growth is the event loop's buffers.
        self.assertLess(peak - before, 64 * 1024, (before, peak))
        # Each got its 401 or, when it kept sending, a closed connection; never anything else.
        self.assertTrue(all(r in (401, 0) for r in results), results)
        self.assertGreater(results.count(401), 0)
        # A client that waits for "100 Continue" gets a clean 401 without sending its body.
        s = connect_from("127.0.0.1", self.srv.port)
        with s:
            s.sendall(b"POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      b"application/scim+json\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n"
                      % big)
            status, raw = raw_answer(s)
        self.assertEqual(status, 401)
        self.assertNotIn(b"100 Continue", raw)
        # Authenticated requests still work.
        self.assertEqual(self.srv.scim(self.cfg, "GET", "/Users?count=1").status, 200)

    def test_public_routes_take_small_bodies_only(self):
        r = self.srv.request("POST", "/api/v1/login", raw=b"{" + b" " * (100 * 1024) + b"}",
                             headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 413)

    def test_bodies_only_as_json(self):
        for ct in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=1",
                   "application/jsonx", None):
            with self.subTest(ct):
                headers = {"Authorization": self.srv.sync_auth(self.cfg)}
                if ct:
                    headers["Content-Type"] = ct
                s = connect_from("127.0.0.1", self.srv.port)
                body = b'{"userName":"x"}'
                req = b"POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\n" + b"".join(
                    b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in headers.items()) + \
                    b"Content-Length: %d\r\n\r\n" % len(body) + body
                with s:
                    s.sendall(req)
                    status, raw = raw_answer(s)
                self.assertEqual(status, 415, raw)
                answer = json.loads(raw.split(b"\r\n\r\n", 1)[1])
                self.assertIn("urn:ietf:params:scim:api:messages:2.0:Error", answer["schemas"])
                self.assertIn("application/json or application/scim+json", answer["detail"])
        # Parameters are fine.
        r = self.srv.request("POST", "/scim/v2/Users", raw=b'{"userName":"ct-ok"}',
                             auth=self.srv.sync_auth(self.cfg),
                             headers={"Content-Type": "application/scim+json; charset=utf-8"})
        self.assertEqual(r.status, 201, r)
        # Unauthenticated: 401 comes first, without reading anything.
        r = self.srv.request("POST", "/scim/v2/Users", raw=b"a=b",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertIn(r.status, (401, 415))

    def test_nosniff_on_api_answers(self):
        for r in (self.srv.request("GET", "/api/v1/health"),
                  self.srv.request("GET", "/scim/v2/Users"),
                  self.srv.request("GET", "/api/v1/nothing-here"),
                  self.srv.scim(self.cfg, "GET", "/Users")):
            with self.subTest(r.status):
                self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")


class Proxies(unittest.TestCase):
    """--trusted-proxy, --public-url, and log lines that values from outside cannot forge."""

    PASSWORD = "correct horse battery staple"

    @classmethod
    def setUpClass(cls):
        cls.srv = AdcServer(args=["--trusted-proxy", "127.0.0.1",
                                  "--public-url", "https://adc.example.com"]).start()
        cls.addClassCleanup(cls.srv.cleanup)
        r = programs.adc_server("--db", cls.srv.db, "admin", "create", "alice",
                                stdin=cls.PASSWORD + "\n")
        assert r.returncode == 0, r.stderr

    def sign_in(self, password, src="127.0.0.1", xff=None):
        s = connect_from(src, self.srv.port, timeout=20)
        body = json.dumps({"name": "alice", "password": password}).encode()
        extra = b"X-Forwarded-For: %s\r\n" % xff.encode() if xff else b""
        with s:
            s.sendall(b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\n" + extra +
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                      + body)
            return raw_answer(s, timeout=20)

    def test_forwarded_for_counts_only_from_a_trusted_proxy(self):
        # Eleven wrong passwords "from" 192.0.2.1 through the proxy: that address is locked out
        # (the answers wait a second each, without a thread: send them at once) ...
        ts = [threading.Thread(target=self.sign_in, args=("wrong",),
                               kwargs={"xff": "198.51.100.9, 192.0.2.1"}) for _ in range(11)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        status, _ = self.sign_in(self.PASSWORD, xff="192.0.2.1")
        self.assertEqual(status, 429)
        # ... another client behind the same proxy is not.
        status, raw = self.sign_in(self.PASSWORD, xff="192.0.2.2")
        self.assertEqual(status, 201, raw)
        log = self.srv.read_log()
        self.assertIn("from 192.0.2.1", log)
        self.assertNotIn("from 198.51.100.9", log)  # left of a client: anything goes there
        # From an address that is not a trusted proxy, X-Forwarded-For means nothing.
        status, _ = self.sign_in("wrong", src="127.0.0.5", xff="192.0.2.77")
        self.assertEqual(status, 401)
        log = self.srv.read_log()
        self.assertIn("from 127.0.0.5", log)
        self.assertNotIn("192.0.2.77", log)

    def test_public_https_url_makes_cookies_secure(self):
        status, raw = self.sign_in(self.PASSWORD, xff="192.0.2.3")
        self.assertEqual(status, 201, raw)
        head = raw.split(b"\r\n\r\n")[0].decode()
        cookie = [l for l in head.split("\r\n") if l.lower().startswith("set-cookie:")][0]
        attrs = [a.strip() for a in cookie.split(":", 1)[1].split(";")]
        self.assertTrue(attrs[0].startswith("__Host-adc_session="), attrs)
        self.assertIn("Secure", attrs)
        self.assertIn("Path=/", attrs)

    def test_values_from_outside_cannot_forge_log_lines(self):
        forged = "bob\nadc-server: login 'admin': accepted by the agent"
        self.srv.request("POST", "/api/v1/login", {"username": forged, "password": "x"})
        self.srv.request("GET", "/api/v1/x%0aadc-server:%20forged")
        log = self.srv.read_log()
        for line in log.splitlines():
            self.assertFalse(line.startswith("adc-server: login 'admin'"), line)
            self.assertFalse(line.startswith("adc-server: forged"), line)
        self.assertIn("\\nadc-server", log)

    def test_bad_options_are_refused(self):
        for args in (["--trusted-proxy", "proxy.example.com"], ["--trusted-proxy", "10.0.0.0/33"],
                     ["--public-url", "ftp://x"], ["--per-address-limit", "0"]):
            with self.subTest(args):
                r = programs.adc_server("--db", self.srv.db, "serve", "--listen", "127.0.0.1:0",
                                        *args)
                self.assertEqual(r.returncode, 2, r.stderr)


class ManyAgents(unittest.TestCase):
    """N_AGENTS long-polling agents of N_AGENTS/10 configurations on one adc-server: no thread
    each, the health check and a command still within a second."""

    def test_many_long_polling_agents(self):
        srv = AdcServer(args=["--login-timeout", "5"]).start()
        self.addCleanup(srv.cleanup)
        n_configs = max(1, N_AGENTS // 10)
        cfgs = [srv.create_sync_config("agents-%d" % i) for i in range(n_configs)]
        path = os.path.join(srv.dir, "configs.txt")
        with open(path, "w") as f:
            for c in cfgs:
                f.write("%s %s\n" % (c["app_id"], c["secret"]))
        # A user owned by configuration 0, for a sign-in through an agent.
        r = srv.scim(cfgs[0], "POST", "/Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "agent.user",
            "externalId": "e-1", "active": True})
        self.assertEqual(r.status, 201, r)
        pid = srv.proc.pid
        rss_idle = rss_kib(pid)
        load = subprocess.Popen([AGENTS_BIN, "--port", str(srv.port), "--configs", path,
                                 "--agents", str(N_AGENTS), "--duration", "600"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(load.stdout.close)
        self.addCleanup(load.wait)
        self.addCleanup(load.terminate)
        events = []
        lock = threading.Lock()

        def reader():
            for line in load.stdout:
                with lock:
                    events.append(json.loads(line))

        threading.Thread(target=reader, daemon=True).start()

        def wait_event(pred, timeout):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                with lock:
                    for e in events:
                        if pred(e):
                            return e
                time.sleep(0.01)
            return None

        t0 = time.monotonic()
        ready = wait_event(lambda e: e["event"] == "ready", 120)
        self.assertIsNotNone(ready, events[-3:])
        connect_seconds = ready["t"] - t0
        time.sleep(2)  # every agent in a long poll
        health = []
        for _ in range(10):
            r, t = timed(lambda: srv.request("GET", "/api/v1/health", timeout=5))
            self.assertEqual(r.status, 200)
            health.append(t)
        latencies = []
        for i in range(5):
            cfg = cfgs[(i * 7) % n_configs]
            sent = time.monotonic()
            r = srv.admin("POST", "/api/v1/sync-configs/%s/sync" % cfg["app_id"], {})
            self.assertEqual(r.status, 202, r)
            run_id = r.body["run_id"]
            e = wait_event(lambda e: e["event"] == "sync" and e["run_id"] == run_id, 5)
            self.assertIsNotNone(e, "sync %s did not reach an agent" % run_id)
            latencies.append(e["t"] - sent)
        r, login = timed(lambda: srv.request("POST", "/api/v1/login",
                                             {"username": "agent.user", "password": "right"}))
        self.assertEqual(r.status, 200, r)
        rss = rss_kib(pid)
        n_threads = threads(pid)
        agents_listed = srv.admin("GET", "/api/v1/sync-configs/" + cfgs[0]["app_id"]).body
        figures = {"agents": N_AGENTS, "configs": n_configs, "connect_s": round(connect_seconds, 2),
                   "rss_idle_kib": rss_idle, "rss_kib": rss, "threads": n_threads,
                   "health_max_ms": round(max(health) * 1e3, 1),
                   "command_max_ms": round(max(latencies) * 1e3, 1),
                   "command_ms": [round(x * 1e3, 1) for x in latencies],
                   "login_ms": round(login * 1e3, 1)}
        print("FIGURES " + json.dumps(figures))
        self.assertEqual(len(agents_listed["agents"]), 10)
        self.assertLess(max(health), 1.0, figures)
        self.assertLess(max(latencies), 1.0, figures)
        self.assertLess(login, 1.0, figures)
        # Threads are bounded by the worker pool (8 kept, up to 256 while jobs queue, e.g. the
        # burst of 10,000 connects), never by the number of connections.
        self.assertLess(n_threads, 256 + 16, figures)
        load.stdin.close()
        load.wait(timeout=30)
        with lock:
            stats = [e for e in events if e["event"] == "stats"][-1]
        self.assertEqual(stats["ready"], N_AGENTS, stats)


if __name__ == "__main__":
    unittest.main()
