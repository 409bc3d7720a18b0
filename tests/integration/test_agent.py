"""`adc run` and the agent channel with the real programs (docs/product.md sections 5, 6, 7;
docs/agent-protocol.md): sign-in through the agent against a real slapd, readiness, reconnects
after the server restarts, two agents on one configuration, SIGHUP reloads, a rotated secret.
The syncs the cloud triggers are in test_agent_sync.py."""
import concurrent.futures
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import ldif
from harness.agent import Agent, ForwardProxy, cfg_text, restart_server, yaml_text
from harness.programs import ADC, ADC_SERVER
from harness.server import AdcServer, user
from harness.slapd import Slapd

# A directory user whose mail holds LDAP filter metacharacters (RFC 4515: * ( ) \).
META = ldif.User(rdn="uid=meta", uid="meta", cn=["Meta Chars"], sn=["Chars"],
                 mail=["o(brien)*\\x@example.org"], password="pw-meta")


def login(srv, name, password, timeout=30):
    return srv.request("POST", "/api/v1/login", {"username": name, "password": password},
                       timeout=timeout)


class AgentFixture(unittest.TestCase):
    """One slapd, one adc-server with one sync configuration and its cloud users (created over
    SCIM as the configuration, so sign-in does not depend on the sync engine)."""

    slapd_args = {}

    @classmethod
    def setUpClass(cls):
        cls.users = ldif.generate(5, special=True) + [META]
        cls.slapd = Slapd(ldif=cls.users, **cls.slapd_args).__enter__()
        cls.srv = AdcServer(args=["--login-timeout", "4"]).start()
        cls.cfg = cls.srv.create_sync_config("hq")
        for name, active in (("user000001@example.org", True), ("user000002@example.org", True),
                             ("user000003@example.org", False), ("locked@example.org", True),
                             (META.mail[0], True),
                             # Unescaped in the agent's filter this would find user000001.
                             ("user000001@example.org)(uid=*", True)):
            r = cls.srv.scim(cls.cfg, "POST", "/Users", user(name, active=active))
            assert r.status == 201, r

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        cls.slapd.close()

    def agent(self, cfg=None, yaml=None, **kw):
        cfg = cfg or self.cfg
        a = Agent(cfg_text(self.srv.url, cfg["app_id"], cfg["secret"]),
                  yaml or yaml_text(self.slapd), **kw)
        self.addCleanup(a.close)
        return a.start()

    def config(self, app_id=None):
        r = self.srv.admin("GET", "/api/v1/sync-configs/" + (app_id or self.cfg["app_id"]))
        self.assertEqual(r.status, 200, r)
        return r.body

    def wait_connected(self, n=1, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            c = self.config()
            if len(c["agents"]) == n:
                return c
            time.sleep(0.05)
        self.fail(f"not {n} agents connected: {self.config()}")


class SignIn(AgentFixture):
    def test_no_agent_is_503(self):
        r = login(self.srv, "user000001@example.org", "pw-user000001")
        self.assertEqual(r.status, 503, r)
        self.assertIn("no agent connected", r.body["detail"])

    def test_sign_in_outcomes(self):
        a = self.agent()
        a.wait_notify("READY=1")
        c = self.wait_connected()
        self.assertTrue(c["connected"])
        self.assertEqual(c["agents"][0]["version"], "0.1.0")
        for key in ("host", "connected_since", "last_seen"):
            self.assertTrue(c["agents"][0][key])

        r = login(self.srv, "user000001@example.org", "pw-user000001")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["userName"], "user000001@example.org")
        self.assertTrue(r.body["id"])
        self.assertEqual(login(self.srv, "user000002@example.org", "pw-user000002").status, 200)

        cases = [
            ("wrong password", "user000001@example.org", "pw-user000002", 401),
            ("empty password", "user000001@example.org", "", 401),
            ("disabled in the cloud", "user000003@example.org", "pw-user000003", 401),
            ("locked in the directory (ppolicy)", "locked@example.org", "pw-locked", 401),
            ("filter metacharacters in the name", "user000001@example.org)(uid=*",
             "pw-user000001", 401),
            ("unknown user", "nobody@example.org", "pw-user000001", 401),
        ]
        for what, name, pw, want in cases:
            with self.subTest(what):
                r = login(self.srv, name, pw)
                self.assertEqual(r.status, want, r)
                self.assertNotIn(pw or "\0", r.raw.decode())
        # Metacharacters escaped (RFC 4515) find exactly the entry they name.
        self.assertEqual(login(self.srv, META.mail[0], "pw-meta").status, 200)
        self.assertEqual(login(self.srv, META.mail[0], "pw-user000001").status, 401)

        # The password never reaches a log.
        self.assertNotIn("pw-user000001", a.log())
        self.assertNotIn("pw-user000001", self.srv.read_log())

    def test_users_of_other_providers(self):
        self.agent().wait_notify("READY=1")
        # A local cloud user (created by an admin) is never checked against the directory.
        r = self.srv.scim("admin", "POST", "/Users", user("user000004@example.org"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(login(self.srv, "user000004@example.org", "pw-user000004").status, 401)
        # A user of another sync configuration goes to that configuration's agent, never to
        # this one: with none connected, 503.
        other = self.srv.create_sync_config("branch")
        r = self.srv.scim(other, "POST", "/Users", user("user000000@example.org"))
        self.assertEqual(r.status, 201, r)
        r = login(self.srv, "user000000@example.org", "pw-user000000")
        self.assertEqual(r.status, 503, r)
        self.assertIn("no agent connected", r.body["detail"])

    def test_malformed_login(self):
        self.assertEqual(self.srv.request("POST", "/api/v1/login", {"username": "x"}).status, 400)
        self.assertEqual(self.srv.request("POST", "/api/v1/login", raw=b"{nope").status, 400)
        self.assertEqual(login(self.srv, "x" * 5000, "pw").status, 401)

    def test_two_agents_each_check_answered_once(self):
        a1, a2 = self.agent(), self.agent()
        a1.wait_notify("READY=1")
        a2.wait_notify("READY=1")
        c = self.wait_connected(2)
        self.assertEqual(len({x["agent_id"] for x in c["agents"]}), 2)
        n = 200
        pw = {"user000001@example.org": "pw-user000001", "user000002@example.org": "pw-user000002"}
        names = list(pw) * (n // 2)
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            statuses = list(ex.map(lambda u: login(self.srv, u, pw[u]).status, names))
        self.assertEqual(statuses, [200] * n)
        time.sleep(0.2)  # the last log lines
        c1 = a1.log().count("password check for")
        c2 = a2.log().count("password check for")
        # Exactly once: the checks the agents made add up to the sign-ins, none twice.
        self.assertEqual(c1 + c2, n, (c1, c2))
        self.assertGreater(c1, 0)
        self.assertGreater(c2, 0)


class PooledConnections(AgentFixture):
    """Sign-in over ldaps:// reuses the agent's directory connections (src/adc/ldap-auth.c:
    a pool of service connections for the lookups, a separate one for the users' binds), so a
    check does not pay a TCP connect and a TLS handshake. Counted in slapd's log: the
    connections it accepted on its ldaps port, and on which one each user's bind arrived."""

    slapd_args = {"tls": True, "log_level": "stats"}
    RIGHT = {"user000001@example.org": "pw-user000001", "user000002@example.org": "pw-user000002"}

    def ldaps_agent(self):
        s = self.slapd
        a = self.agent(yaml=yaml_text(s, addr=s.ldaps_url, ldap_extra={"ca_file": s.ca_file}))
        a.wait_notify("READY=1")
        self.wait_connected()
        return a

    def log_since(self, offset):
        # slapd writes each line as it happens; give the last one a moment.
        time.sleep(0.2)
        return self.slapd.log()[offset:]

    def accepted(self, log):
        """New connections: those whose first operation (op=0) is a bind, as every one of
        adc's is (not counting the harness's readiness probes when slapd starts)."""
        return len(set(re.findall(r"conn=(\d+) op=0 BIND", log)))

    def user_binds(self, log):
        """[(connection, DN)] of the binds other than the service account's, in order."""
        return [(c, dn) for c, dn in re.findall(r'conn=(\d+) op=\d+ BIND dn="([^"]*)" method=', log)
                if dn and dn != self.slapd.service_dn]

    def test_consecutive_checks_reuse_connections(self):
        self.ldaps_agent()
        offset = len(self.slapd.log())
        names = list(self.RIGHT) * 50
        for name in names:
            self.assertEqual(login(self.srv, name, self.RIGHT[name]).status, 200)
        log = self.log_since(offset)
        self.assertEqual(len(self.user_binds(log)), len(names))
        # One lookup connection and one bind connection, opened by the first check.
        self.assertLessEqual(self.accepted(log), 2, log[-3000:])

        # Concurrent sign-ins: each check holds at most one connection of each pool.
        offset = len(self.slapd.log())
        names = list(self.RIGHT) * 150
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            statuses = list(ex.map(lambda u: login(self.srv, u, self.RIGHT[u]).status, names))
        self.assertEqual(statuses, [200] * len(names))
        log = self.log_since(offset)
        n = self.accepted(log)
        self.assertLessEqual(n, 2 * 8, log[-3000:])
        print(f"\n  {len(names)} concurrent sign-ins over ldaps://: {n} new connections")

    def test_denied_bind_does_not_poison_the_next_check(self):
        self.ldaps_agent()
        offset = len(self.slapd.log())
        u1, u2 = self.RIGHT
        steps = [(u1, self.RIGHT[u1], 200), (u1, self.RIGHT[u2], 401), (u1, self.RIGHT[u1], 200),
                 (u2, self.RIGHT[u2], 200), (u2, self.RIGHT[u1], 401), (u2, "", 401),
                 (u2, self.RIGHT[u2], 200), (u1, self.RIGHT[u1], 200),
                 # Denied before any bind: disabled in the directory, and a name that would
                 # match user000001 if it reached the filter unescaped (RFC 4515).
                 ("locked@example.org", "pw-locked", 401),
                 ("user000001@example.org)(uid=*", self.RIGHT[u1], 401),
                 (u1, self.RIGHT[u1], 200)]
        for i, (name, pw, want) in enumerate(steps):
            with self.subTest(step=i, name=name, want=want):
                self.assertEqual(login(self.srv, name, pw).status, want)
        log = self.log_since(offset)
        binds = self.user_binds(log)
        # The empty password, the locked account and the injected name never reach a bind.
        self.assertEqual(len(binds), 8, binds)
        # Sequential checks: every user's bind, refused or not, on the same connection.
        self.assertEqual(len({c for c, _ in binds}), 1, binds)
        conn = binds[0][0]
        self.assertRegex(log, rf"conn={conn} op=\d+ RESULT tag=97 err=49")
        # Never anything but binds on it: a user's identity cannot reach a lookup.
        self.assertNotRegex(log, rf"conn={conn} op=\d+ SRCH")

    def test_reload_renews_the_connections(self):
        # SIGHUP flushes both pools (and the TLS context: a CA file replaced on disk is read
        # again); the next check connects anew, and stop closes them.
        a = self.ldaps_agent()
        u1 = "user000001@example.org"
        self.assertEqual(login(self.srv, u1, self.RIGHT[u1]).status, 200)
        start = len(a.notify.messages)
        offset = len(self.slapd.log())
        a.hup()
        i = a.wait_notify("RELOADING=1", start=start)
        a.wait_notify("READY=1", start=i)
        self.assertEqual(login(self.srv, u1, self.RIGHT[u1]).status, 200)
        log = self.log_since(offset)
        self.assertEqual(self.accepted(log), 2, log[-3000:])
        self.assertEqual(len(re.findall(r"conn=\d+ fd=\d+ closed", log)), 2, log[-3000:])
        a.term()
        self.assertEqual(a.wait(30), 0, a.log())
        log = self.log_since(offset)
        self.assertEqual(len(re.findall(r"conn=\d+ fd=\d+ closed", log)), 4, log[-3000:])

    def test_directory_restarted_between_checks(self):
        a = self.ldaps_agent()
        u1, u2 = self.RIGHT
        self.assertEqual(login(self.srv, u1, self.RIGHT[u1]).status, 200)
        self.assertEqual(login(self.srv, u2, self.RIGHT[u1]).status, 401)
        # Every pooled connection, of both pools, now points at a server that is gone.
        for restart in ("stop", "kill"):
            with self.subTest(restart=restart):
                getattr(self.slapd, restart)()
                self.slapd.start()
                self.assertEqual(login(self.srv, u1, self.RIGHT[u1]).status, 200, a.log())
                self.assertEqual(login(self.srv, u2, self.RIGHT[u1]).status, 401, a.log())
                self.assertEqual(login(self.srv, u2, self.RIGHT[u2]).status, 200, a.log())
        self.assertNotIn(self.RIGHT[u1], a.log())


class Service(AgentFixture):
    def test_readiness_and_clean_stop(self):
        a = self.agent()
        i = a.wait_notify("READY=1")
        self.assertTrue(any(m.startswith("STATUS=connected") or "\nSTATUS=connected" in m
                            for m in a.notify.messages), a.notify.messages)
        a.term()
        self.assertEqual(a.wait(30), 0, a.log())
        a.wait_notify("STOPPING=1", start=i)
        self.assertIn("disconnected", a.log())
        # The server forgets the agent at once, not after 30 s.
        self.assertEqual(self.config()["agents"], [])
        self.assertFalse(self.config()["connected"])

    def test_ready_only_once_connected_and_reconnects_after_restart(self):
        srv = AdcServer(args=["--login-timeout", "4"]).start()
        self.addCleanup(srv.cleanup)
        cfg = srv.create_sync_config("restart")
        self.assertEqual(srv.scim(cfg, "POST", "/Users", user("user000001@example.org")).status,
                         201)
        srv.stop()  # adc starts while the server is down
        a = Agent(cfg_text(srv.url, cfg["app_id"], cfg["secret"]), yaml_text(self.slapd))
        self.addCleanup(a.close)
        a.start()
        a.wait_log("cannot connect", timeout=10)
        self.assertNotIn("READY=1", "\n".join(a.notify.messages))
        restart_server(srv)
        a.wait_notify("READY=1", timeout=20)
        self.assertEqual(login(srv, "user000001@example.org", "pw-user000001").status, 200)

        # Killed (no goodbye to the agent), then back on the same port: the agent finds it.
        restart_server(srv, kill=True, down_seconds=1.5)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = srv.admin("GET", "/api/v1/sync-configs/" + cfg["app_id"])
            if r.body["connected"]:
                break
            time.sleep(0.1)
        self.assertTrue(r.body["connected"], a.log())
        self.assertEqual(login(srv, "user000001@example.org", "pw-user000001").status, 200)
        # READY=1 was sent once; reconnects only update STATUS.
        self.assertEqual(sum("READY=1" in m.split("\n") for m in a.notify.messages), 1,
                         a.notify.messages)
        self.assertIsNone(a.proc.poll())

    def test_sighup_good_and_bad_configuration(self):
        a = self.agent()
        a.wait_notify("READY=1")
        self.assertEqual(login(self.srv, "user000001@example.org", "pw-user000001").status, 200)

        # An invalid adc.yaml: refused, logged with file and line, the old one kept.
        a.write_yaml("backend:\n  ldap:\n    addr: [unclosed\n")
        start = len(a.notify.messages)
        a.hup()
        i = a.wait_notify("RELOADING=1", start=start)
        a.wait_notify("READY=1", start=i)
        a.wait_log("keeping the one loaded before")
        self.assertRegex(a.log(), r"adc\.yaml:\d+:\d+: error")
        self.assertIsNone(a.proc.poll())
        self.assertEqual(login(self.srv, "user000001@example.org", "pw-user000001").status, 200)

        # A valid change takes effect: names are now looked up by uid, so the mail a user signs
        # in with finds no entry.
        a.write_yaml(yaml_text(self.slapd, username_attribute="uid"))
        start = len(a.notify.messages)
        a.hup()
        i = a.wait_notify("RELOADING=1", start=start)
        a.wait_notify("READY=1", start=i)
        a.wait_log("configuration reloaded")
        self.assertEqual(login(self.srv, "user000001@example.org", "pw-user000001").status, 401)
        a.write_yaml(yaml_text(self.slapd))
        a.hup()
        deadline = time.monotonic() + 10
        while login(self.srv, "user000001@example.org", "pw-user000001").status != 200:
            self.assertLess(time.monotonic(), deadline, a.log())
            time.sleep(0.2)
        # Still one agent: a reload of adc.yaml does not reconnect.
        self.assertEqual(len(self.config()["agents"]), 1)

    def test_rotated_secret_stops_the_agent(self):
        cfg = self.srv.create_sync_config("rotate")
        a = self.agent(cfg=cfg)
        a.wait_notify("READY=1")
        r = self.srv.admin("POST", f"/api/v1/sync-configs/{cfg['app_id']}/secret")
        self.assertEqual(r.status, 200, r)
        # The server ends the agent's open poll; its next request meets the new secret.
        self.assertEqual(a.wait(15), 3, a.log())
        self.assertIn("the Secret Token was rejected (rotated or wrong); update adc.cfg", a.log())
        self.assertNotIn(cfg["secret"], a.log())

    def test_https_with_ca_file_and_through_a_proxy(self):
        srv = AdcServer(tls=True).start()
        self.addCleanup(srv.cleanup)
        cfg = srv.create_sync_config("tls")
        self.assertEqual(srv.scim(cfg, "POST", "/Users", user("user000001@example.org")).status,
                         201)
        # Without the CA the server's certificate is refused: no connection, no READY.
        a = Agent(cfg_text(srv.url, cfg["app_id"], cfg["secret"]), yaml_text(self.slapd))
        self.addCleanup(a.close)
        a.start()
        a.wait_log("cannot connect", timeout=10)
        self.assertRegex(a.log(), r"(?i)certificate")
        a.close()
        b = Agent(cfg_text(srv.url, cfg["app_id"], cfg["secret"],
                           extra=f"ca_file = {srv.cert}\n"), yaml_text(self.slapd))
        self.addCleanup(b.close)
        b.start()
        b.wait_notify("READY=1", timeout=15)
        self.assertEqual(login(srv, "user000001@example.org", "pw-user000001").status, 200)

        # Plain HTTP through a forward proxy named in adc.cfg.
        proxy = ForwardProxy()
        self.addCleanup(proxy.close)
        c = Agent(cfg_text(self.srv.url, self.cfg["app_id"], self.cfg["secret"],
                           extra=f"proxy = {proxy.url}\n"), yaml_text(self.slapd))
        self.addCleanup(c.close)
        c.start()
        c.wait_notify("READY=1", timeout=15)
        self.assertEqual(login(self.srv, "user000001@example.org", "pw-user000001").status, 200)
        paths = [p for _, p in proxy.requests]
        self.assertIn("/api/v1/agent/connect", paths)
        self.assertIn("/api/v1/agent/commands", paths)
        self.assertTrue(any(p.endswith("/result") for p in paths), paths)

    def test_short_outage_keeps_the_agent(self):
        proxy = ForwardProxy()
        port = int(proxy.url.rsplit(":", 1)[1])
        a = Agent(cfg_text(self.srv.url, self.cfg["app_id"], self.cfg["secret"],
                           extra=f"proxy = {proxy.url}\n"), yaml_text(self.slapd))
        self.addCleanup(a.close)
        a.start()
        a.wait_notify("READY=1", timeout=15)
        before = [x["agent_id"] for x in self.wait_connected()["agents"]]
        # The network between agent and server goes away (the proxy stops), then comes back.
        proxy.close()
        a.wait_log("polling again", timeout=30)
        proxy = ForwardProxy(port)
        self.addCleanup(proxy.close)
        deadline = time.monotonic() + 20
        while not any(p == "/api/v1/agent/commands" for _, p in proxy.requests):
            self.assertLess(time.monotonic(), deadline, a.log())
            time.sleep(0.1)
        self.assertEqual(login(self.srv, "user000001@example.org", "pw-user000001").status, 200)
        # The same agent, not a second registration.
        self.assertEqual([x["agent_id"] for x in self.config()["agents"]], before)
        self.assertEqual(a.log().count("connected to"), 1, a.log())
        a.close()  # while the proxy still carries its goodbye

    def test_wrong_secret_at_start(self):
        a = self.agent(cfg={"app_id": self.cfg["app_id"], "secret": "adcs_wrong"})
        self.assertEqual(a.wait(15), 3, a.log())
        self.assertIn("the Secret Token was rejected", a.log())


class Units(unittest.TestCase):
    """dist/adc.service and dist/adc-server.service as systemd reads them."""

    SOURCE = os.environ.get("ADC_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))

    def unit(self, name):
        with open(os.path.join(self.SOURCE, "dist", name)) as f:
            return f.read()

    def test_adc_unit(self):
        text = self.unit("adc.service")
        for line in ("Type=notify", "ExecStart=/opt/exchange4all/ad-connect/bin/adc run",
                     "ExecReload=/bin/kill -HUP $MAINPID", "ExecStop=/bin/kill -TERM $MAINPID",
                     "KillSignal=SIGTERM", "Restart=on-failure"):
            self.assertIn("\n" + line + "\n", text)
        # A rejected secret or a bad configuration (3) is not retried in a loop.
        self.assertRegex(text, r"\nRestartPreventExitStatus=.*\b3\b")

    def test_units_verify(self):
        tool = shutil.which("systemd-analyze")
        self.assertIsNotNone(tool, "systemd-analyze (package systemd) is needed")
        d = tempfile.mkdtemp(prefix="adc-units-")
        self.addCleanup(shutil.rmtree, d, True)
        for name, binary, real in (("adc.service", "/opt/exchange4all/ad-connect/bin/adc", ADC),
                                   ("adc-server.service",
                                    "/opt/exchange4all/ad-connect/bin/adc-server", ADC_SERVER)):
            path = os.path.join(d, name)
            with open(path, "w") as f:
                # The installed path does not exist here; the unit's syntax is what is checked.
                f.write(self.unit(name).replace(binary + " ", os.path.abspath(real) + " "))
            r = subprocess.run([tool, "verify", path], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr.strip(), "", r.stderr)


if __name__ == "__main__":
    unittest.main()
