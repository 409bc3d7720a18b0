"""Faults and security checks with the real programs (issue 8, docs/RELIABILITY.md): the
directory dropping or stalling in the middle of `adc imp`'s paging, adc-server's disk full and
its database locked by another process, the agent dying during a password check, secrets in
logs, JSON output, process titles and messages, TLS verification by default on both sides."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from harness import ldif, postgres
from harness.agent import Agent, cfg_text, yaml_text
from harness.programs import ADC
from harness.server import SCIM_BULK, SCIM_USER, AdcServer, user
from harness.slapd import Slapd
from harness.sync import SyncSetup


def integrity(db):
    r = subprocess.run(["sqlite3", db, "PRAGMA integrity_check"], capture_output=True, text=True,
                       timeout=60)
    return r.stdout.strip()


class ImpDirectoryFaults(unittest.TestCase):
    """The directory fails in the middle of paging: nothing is written, the error says why."""

    def setUp(self):
        self.users = ldif.generate(3000, special=False)
        self.env = SyncSetup(self.users, slapd_kw={"log_level": "stats"}, page_size=10)
        self.env.__enter__()
        self.addCleanup(self.env.__exit__, None, None, None)
        r = self.env.imp()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.before = self.env.cloud()
        self.assertEqual(len(self.before), 3000)

    def start_imp(self):
        env = dict(os.environ, ADC_HTTP_BACKOFF_MS="100", ADC_HTTP_ATTEMPTS="3")
        env.pop("ADC_CFG", None)
        return subprocess.Popen([ADC, "-C", self.env.cfg_path, "imp"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)

    def wait_pages(self, n):
        # the first run's searches are in the log already: count on from there
        done = self.env.slapd.wait_log('filter="(objectClass=inetOrgPerson)"').count(
            'filter="(objectClass=inetOrgPerson)"')
        return done + n

    def test_connection_dropped_in_the_middle_of_paging(self):
        target = self.wait_pages(20)
        p = self.start_imp()
        try:
            self.env.slapd.wait_log('filter="(objectClass=inetOrgPerson)"', count=target)
            self.env.slapd.kill()
            out, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 1, err)
        self.assertIn("reading the directory failed, nothing was changed", err)
        self.assertRegex(err, r"connection was lost|Can't contact|server is down")
        self.assertEqual(self.env.cloud(), self.before)  # no deletes, no disables

    def test_directory_slower_than_the_timeout(self):
        y = self.env.yaml_path
        self.env.slapd.adc_yaml(y, page_size=10, extra_ldap="    timeout: 2\n")
        with open(y) as f:
            text = f.read().replace("  dry-run: true\n", "  dry-run: false\n")
        with open(y, "w") as f:
            f.write(text)
        target = self.wait_pages(20)
        p = self.start_imp()
        try:
            self.env.slapd.wait_log('filter="(objectClass=inetOrgPerson)"', count=target)
            self.env.slapd.pause()
            paused = time.monotonic()
            out, err = p.communicate(timeout=120)
            elapsed = time.monotonic() - paused
        finally:
            self.env.slapd.resume()
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 1, err)
        self.assertIn("reading the directory failed, nothing was changed", err)
        self.assertIn("timed out", err)
        self.assertLess(elapsed, 30)
        self.assertEqual(self.env.cloud(), self.before)


@unittest.skipIf(postgres.wanted(), "SQLite's own file (full file system, a lock held by another "
                 "process); on PostgreSQL: test_server_postgresql")
class ServerStorage(unittest.TestCase):
    """adc-server's SQLite database full or locked: a clean error, nothing half-written, and
    the database passes PRAGMA integrity_check."""

    def setUp(self):
        self.srv = AdcServer()
        self.srv.start()
        self.addCleanup(self.srv.cleanup)
        self.cfg = self.srv.create_sync_config("corp")

    def bulk(self, prefix, n):
        ops = [{"method": "POST", "path": "/Users", "bulkId": f"b{i}",
                "data": {"schemas": [SCIM_USER], "userName": f"{prefix}-{i}",
                         "externalId": f"{prefix}-e{i}", "displayName": "x" * 200}}
               for i in range(n)]
        return self.srv.scim(self.cfg, "POST", "/Bulk", {"schemas": [SCIM_BULK], "Operations": ops})

    def total(self):
        r = self.srv.scim(self.cfg, "GET", "/Users?count=1")
        self.assertEqual(r.status, 200, r)
        return r.body["totalResults"]

    def test_disk_full(self):
        # The database on a 2 MB tmpfs: Bulk requests until it is full.
        self.srv.stop()
        keep = tempfile.mkdtemp(prefix="adc-diskfull-")
        self.addCleanup(shutil.rmtree, keep, True)
        for f in os.listdir(self.srv.dir):
            shutil.copy(os.path.join(self.srv.dir, f), keep)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", self.srv.dir],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.fail(f"cannot mount a tmpfs (the test needs root): {r.stderr}")
        self.addCleanup(subprocess.run, ["umount", "-l", self.srv.dir])
        for f in os.listdir(keep):
            shutil.copy(os.path.join(keep, f), self.srv.dir)
        self.srv.serve()
        created = 0
        for b in range(100):
            r = self.bulk(f"u{b}", 200)
            if r.status != 200:
                break
            self.assertTrue(all(str(o["status"]) == "201" for o in r.body["Operations"]), r)
            created += 200
        else:
            self.fail("the 2 MB file system never filled")
        # All or nothing: the Bulk request that did not fit left no user behind.
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.body["schemas"], ["urn:ietf:params:scim:api:messages:2.0:Error"])
        self.assertIn("nothing of this bulk was saved", r.body["detail"])
        self.assertEqual(self.total(), created)
        self.assertIsNone(self.srv.proc.poll())  # still serving
        # the administrator reads the cause in the log, not only the 503
        self.assertIn("database or disk is full", self.srv.read_log())
        self.srv.stop()
        self.assertFalse(self.srv.sanitizer_report())
        self.assertEqual(integrity(self.srv.db), "ok")
        # Room again (a larger file system): the next request works, every user is there.
        subprocess.run(["mount", "-o", "remount,size=64m", self.srv.dir], check=True)
        self.srv.serve()
        self.assertEqual(self.bulk("after", 10).status, 200)
        self.assertEqual(self.total(), created + 10)

    def test_database_locked_by_another_process(self):
        self.assertEqual(self.bulk("before", 5).status, 200)
        # Another process holds the write lock (an administrator's sqlite3, a backup tool).
        holder = subprocess.Popen(["sqlite3", self.srv.db], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: holder.poll() is None and holder.kill())
        holder.stdin.write("BEGIN IMMEDIATE;\n"
                           ".print locked\n")
        holder.stdin.flush()
        self.assertEqual(holder.stdout.readline().strip(), "locked")
        start = time.monotonic()
        r = self.bulk("while-locked", 5)
        waited = time.monotonic() - start
        self.assertEqual(r.status, 503, r)
        self.assertIn("busy", r.body["detail"])
        self.assertLess(waited, 30)
        r = self.srv.scim(self.cfg, "POST", "/Users", user("single-while-locked"))
        self.assertEqual(r.status, 503, r)
        # Reads go on meanwhile (WAL), and show nothing of the refused writes.
        self.assertEqual(self.total(), 5)
        holder.stdin.write("ROLLBACK;\n.quit\n")
        holder.stdin.close()
        holder.wait(timeout=10)
        self.assertEqual(self.bulk("after", 5).status, 200)
        self.assertEqual(self.total(), 10)
        self.srv.stop()
        self.assertEqual(integrity(self.srv.db), "ok")


class SignInFailsClosed(unittest.TestCase):
    def test_agent_dies_during_a_password_check(self):
        users = ldif.generate(3, special=False)
        with Slapd(ldif=users) as s:
            srv = AdcServer(args=["--login-timeout", "10"]).start()
            self.addCleanup(srv.cleanup)
            cfg = srv.create_sync_config("hq")
            self.assertEqual(srv.scim(cfg, "POST", "/Users",
                                      user("user000001@example.org")).status, 201)
            a = Agent(cfg_text(srv.url, cfg["app_id"], cfg["secret"]), yaml_text(s))
            self.addCleanup(a.close)
            a.start()
            a.wait_notify("READY=1")
            # The directory hangs: the check is with the agent, unanswered, when it dies.
            s.pause()
            self.addCleanup(s.resume)
            result = {}

            def sign_in():
                result["r"] = srv.request("POST", "/api/v1/login",
                                          {"username": "user000001@example.org",
                                           "password": "pw-user000001"}, timeout=60)
            t = threading.Thread(target=sign_in)
            start = time.monotonic()
            t.start()
            time.sleep(1.0)
            a.proc.kill()  # the channel drops with the check in flight
            t.join(timeout=60)
            elapsed = time.monotonic() - start
            r = result["r"]
            self.assertEqual(r.status, 503, r)
            self.assertNotEqual(r.status, 200)
            self.assertLess(elapsed, 15)
            self.assertNotIn("pw-user000001", r.raw.decode())
            self.assertNotIn("pw-user000001", srv.read_log())


class Secrets(unittest.TestCase):
    """No secret in logs at -v -v, in `adc imp --json`, in process titles or in messages."""

    def test_secrets_stay_secret(self):
        users = ldif.generate(5, special=False)
        with SyncSetup(users) as env:
            secret = env.cfg["secret"]
            admin = env.server.admin_token
            bind_pw = env.slapd.service_password
            secrets = {"Secret Token": secret, "admin token": admin, "bind password": bind_pw}
            outputs = {}
            r = env.adc("-v", "-v", "imp")
            self.assertEqual(r.returncode, 0, r.stderr)
            outputs["imp -v -v"] = r.stdout + r.stderr
            r = env.adc("-v", "-v", "imp", "--json")
            outputs["imp --json"] = r.stdout + r.stderr
            json.loads(r.stdout)
            r = env.adc("-v", "-v", "check")
            outputs["check -v -v"] = r.stdout + r.stderr
            # Wrong secret and wrong bind password: the messages say what is wrong, not the value.
            bad = os.path.join(env.dir, "bad.cfg")
            with open(env.cfg_path) as f:
                text = f.read()
            with open(bad, "w") as f:
                f.write(text.replace(secret, secret[:-4] + "XXXX"))
            os.chmod(bad, 0o600)
            r = subprocess.run([ADC, "-v", "-v", "-C", bad, "imp"], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 1)
            outputs["wrong secret"] = r.stdout + r.stderr
            with open(env.yaml_path) as f:
                ytext = f.read()
            with open(env.yaml_path, "w") as f:
                f.write(ytext.replace(bind_pw, bind_pw + "-wrong"))
            r = env.adc("-v", "-v", "imp")
            self.assertEqual(r.returncode, 1)
            self.assertIn("Invalid credentials (49)", r.stderr)
            outputs["wrong bind password"] = r.stdout + r.stderr
            with open(env.yaml_path, "w") as f:
                f.write(ytext)

            # The agent at -v -v with a sign-in; process titles of both programs while they run.
            a = Agent(cfg_text(env.server.url, env.cfg["app_id"], secret), yaml_text(env.slapd),
                      args=[])
            a.args = []
            self.addCleanup(a.close)
            a.start()
            a.wait_notify("READY=1")
            for pid, name in ((a.proc.pid, "adc run"), (env.server.proc.pid, "adc-server")):
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    outputs[f"/proc cmdline of {name}"] = f.read().decode(errors="replace")
                with open(f"/proc/{pid}/environ", "rb") as f:
                    environ = f.read().decode(errors="replace")
                for what, value in secrets.items():
                    self.assertNotIn(value, environ, f"{what} in the environment of {name}")
            r = env.server.request("POST", "/api/v1/login",
                                   {"username": "user000001@example.org",
                                    "password": "pw-user000001"})
            self.assertEqual(r.status, 200, r)
            r = env.server.request("POST", "/api/v1/login",
                                   {"username": "user000001@example.org",
                                    "password": "wrong-pw-123"})
            self.assertEqual(r.status, 401, r)
            a.term()
            a.wait()
            outputs["adc run -v"] = a.log()
            outputs["adc-server -v"] = env.server.read_log()
        secrets["user password"] = "pw-user000001"
        secrets["wrong user password"] = "wrong-pw-123"
        for where, text in outputs.items():
            for what, value in secrets.items():
                self.assertNotIn(value, text, f"{what} appears in {where}")


def raw_request(port, data, timeout=20):
    """Sends bytes, returns the status of the answer (0: the server closed without one)."""
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        try:
            c.sendall(data)
        except OSError:
            pass  # the server may answer and close before reading all of it
        buf = b""
        try:
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except OSError:
            pass
    return int(buf[9:12]) if buf.startswith(b"HTTP/1.") else 0


class InputLimits(unittest.TestCase):
    """The limits not covered by test_server_robustness.py (body size, JSON depth, filter
    length): page size, header and URL sizes, number of connections. Never a 500, never a crash,
    and the server serves on afterwards."""

    @classmethod
    def setUpClass(cls):
        cls.srv = AdcServer(args=["--max-connections", "8"]).start()
        cls.cfg = cls.srv.create_sync_config("limits")

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def tearDown(self):
        self.assertIsNone(self.srv.proc.poll(), "adc-server died")
        self.assertEqual(self.srv.admin("GET", "/api/v1/sync-configs").status, 200)

    def test_page_size(self):
        r = self.srv.request("GET", "/scim/v2/ServiceProviderConfig")
        self.assertEqual(r.body["filter"]["maxResults"], 5000)
        for q in ("count=100000000000000000000000", "count=-5", "count=abc", "startIndex=-1",
                  "startIndex=99999999999999999999999", "count=5001"):
            with self.subTest(q):
                r = self.srv.scim(self.cfg, "GET", "/Users?" + q)
                self.assertIn(r.status, (200, 400), r)
                if r.status == 200:
                    self.assertLessEqual(r.body["itemsPerPage"], 5000)

    def test_header_and_url_sizes(self):
        port = self.srv.port
        cases = {
            "one 1 MB header": b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nX-Big: " +
                               b"a" * (1 << 20) + b"\r\n\r\n",
            "10,000 headers": b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n" +
                              b"".join(b"X-%d: y\r\n" % i for i in range(10000)) + b"\r\n",
            "1 MB URL": b"GET /scim/v2/Users?filter=" + b"a" * (1 << 20) +
                        b" HTTP/1.1\r\nHost: x\r\n\r\n",
            "1 MB Authorization": b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: "
                                  b"Basic " + b"QQ" * (1 << 19) + b"\r\n\r\n",
            "Content-Length beyond the limit": b"POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\n"
                                               b"Content-Length: 99999999999\r\n\r\n{}",
            "negative Content-Length": b"POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\n"
                                       b"Content-Length: -1\r\n\r\n{}",
        }
        for what, data in cases.items():
            with self.subTest(what):
                status = raw_request(port, data)
                # refused (4xx) or the connection closed without an answer; never 5xx
                self.assertTrue(status == 0 or 400 <= status < 500, (what, status))

    def test_bodies_only_as_json_everywhere(self):
        """Every route that takes a body answers 415 to other media types, also the public ones
        (sign-in, the console's sign-in): a cross-site HTML form cannot post to the API."""
        for path, auth in (("/api/v1/login", None), ("/api/v1/session", None),
                           ("/api/v1/sync-configs", "Bearer " + self.srv.admin_token),
                           ("/scim/v2/Bulk", self.srv.sync_auth(self.cfg)),
                           ("/api/v1/agent/connect", self.srv.sync_auth(self.cfg))):
            for ct in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data"):
                with self.subTest(path=path, ct=ct):
                    r = self.srv.request("POST", path, raw=b'{"a":1}', auth=auth,
                                         headers={"Content-Type": ct})
                    self.assertEqual(r.status, 415, r)
                    self.assertIn(ct.split(";")[0], r.body["detail"])
                    self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")

    def test_number_of_connections(self):
        import socket
        held = []
        try:
            for _ in range(8):
                held.append(socket.create_connection(("127.0.0.1", self.srv.port), timeout=5))
            time.sleep(0.5)
            # the ninth is accepted by the kernel but closed by the server without an answer
            status = raw_request(self.srv.port, b"GET /scim/v2/ServiceProviderConfig HTTP/1.1"
                                 b"\r\nHost: x\r\n\r\n", timeout=10)
            self.assertEqual(status, 0)
        finally:
            for c in held:
                c.close()
        time.sleep(0.5)
        self.assertEqual(self.srv.request("GET", "/scim/v2/ServiceProviderConfig").status, 200)


class TlsByDefault(unittest.TestCase):
    def test_ldap_self_signed_without_ca_file(self):
        with Slapd(ldif=ldif.generate(2, special=False), tls=True) as s, \
                tempfile.TemporaryDirectory() as d:
            y = s.adc_yaml(os.path.join(d, "adc.yaml"), addr=s.ldaps_url)
            r = subprocess.run([ADC, "-c", y, "users"], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertRegex(r.stderr, r"certificate")
            self.assertIn("ca_file", r.stderr)
            # With the CA it works: verification, not a broken connection, was the problem.
            y = s.adc_yaml(os.path.join(d, "adc.yaml"), addr=s.ldaps_url,
                           extra_ldap=f"    ca_file: {s.ca_file}\n")
            r = subprocess.run([ADC, "-c", y, "users"], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_https_self_signed_without_ca_file(self):
        with Slapd(ldif=ldif.generate(2, special=False)) as s, \
                tempfile.TemporaryDirectory() as d:
            srv = AdcServer(tls=True).start()
            self.addCleanup(srv.cleanup)
            cfg = srv.create_sync_config("tls")
            y = os.path.join(d, "adc.yaml")
            with open(y, "w") as f:
                f.write(yaml_text(s))
            os.chmod(y, 0o600)
            c = os.path.join(d, "adc.cfg")
            with open(c, "w") as f:
                f.write(cfg_text(srv.url, cfg["app_id"], cfg["secret"], y))
            os.chmod(c, 0o600)
            env = dict(os.environ, ADC_HTTP_ATTEMPTS="1")
            r = subprocess.run([ADC, "-C", c, "imp"], capture_output=True, text=True,
                               timeout=60, env=env)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertRegex(r.stderr, r"certificate")
            self.assertIn("ca_file", r.stderr)
            # adc run says the same in its log, and keeps trying.
            a = Agent(cfg_text(srv.url, cfg["app_id"], cfg["secret"]), yaml_text(s))
            self.addCleanup(a.close)
            a.start()
            a.wait_log("ca_file")
            self.assertRegex(a.log(), r"certificate")
            self.assertIsNone(a.proc.poll())
            a.close()
            with open(c, "a") as f:
                f.write(f"ca_file = {srv.cert}\n")
            r = subprocess.run([ADC, "-C", c, "imp"], capture_output=True, text=True,
                               timeout=60, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
