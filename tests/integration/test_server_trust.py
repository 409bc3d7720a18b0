"""Attacks on adc-server's trust boundaries (docs/product.md section 11), done as an attacker would:
with a second sync configuration's secret, a rogue agent that speaks the agent channel
(docs/agent-protocol.md) from Python, and guessing loops from one loopback address while the real
user signs in from another (127.0.0.0/8 is all loopback). Each test names the threat it checks;
docs/RELIABILITY.md (SECURITY) lists them."""
import json
import os
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from harness.server import (SCIM_BULK, SCIM_PROVIDER, AdcServer, basic_auth, patch, user)


class RogueAgent:
    """A program speaking the agent channel with a configuration's secret: it connects, polls
    in a thread and records every command it is handed; password checks are answered with
    `answer` (None: left unanswered)."""

    def __init__(self, srv, cfg, answer="accepted"):
        self.srv, self.cfg, self.answer = srv, cfg, answer
        self.auth = basic_auth(cfg["app_id"], cfg["secret"])
        r = srv.request("POST", "/api/v1/agent/connect", {"host": "rogue", "version": "0.1.0"},
                        auth=self.auth)
        assert r.status == 201, r
        self.agent_id = r.body["agent_id"]
        self.commands = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            r = self.srv.request("GET", "/api/v1/agent/commands?wait=1&agent_id=" + self.agent_id,
                                 auth=self.auth, timeout=30)
            if r.status != 200:
                time.sleep(0.1)
                continue
            for c in r.body["commands"]:
                self.commands.append(c)
                if c["type"] == "check_password" and self.answer:
                    outcome = self.answer(c) if callable(self.answer) else self.answer
                    self.result(c["id"], outcome)

    def result(self, command_id, outcome):
        return self.srv.request("POST", "/api/v1/agent/commands/%s/result" % command_id,
                                {"outcome": outcome, "reason": "rogue"}, auth=self.auth)

    def close(self):
        self.stop.set()
        self.thread.join(10)
        self.srv.request("POST", "/api/v1/agent/disconnect", {"agent_id": self.agent_id},
                         auth=self.auth)


def login(srv, name, password, source="127.0.0.1", timeout=30):
    """POST /api/v1/login from a given loopback address (the client side binds to it)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout,
                                   source_address=(source, 0))
    try:
        c.request("POST", "/api/v1/login", json.dumps({"username": name, "password": password}),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        raw = r.read()
        from harness.server import Response
        return Response(r.status, r.headers, raw)
    finally:
        c.close()


class Ownership(unittest.TestCase):
    """Threat: the holder of one configuration's secret takes another configuration's users over
    (a no-op PATCH made them its own) and then receives their password checks in clear."""

    @classmethod
    def setUpClass(cls):
        cls.srv = AdcServer(args=["--login-timeout", "2"]).start()
        cls.addClassCleanup(cls.srv.cleanup)
        cls.victim = cls.srv.create_sync_config("victim")
        cls.attacker = cls.srv.create_sync_config("attacker")
        # the worst case: the attacker's configuration even allows takeovers
        cls.srv.set_settings(cls.attacker, {"no-update-provider-mismatch": False})

    def owned(self, cfg, name):
        r = self.srv.scim(cfg, "POST", "/Users", user(name, "ext-" + name))
        self.assertEqual(r.status, 201, r)
        return r.body

    def test_another_configurations_user_is_never_written(self):
        alice = self.owned(self.victim, "alice-owned@example.org")
        # reading (matching by name) is allowed
        r = self.srv.scim(self.attacker, "GET", "/Users/" + alice["id"])
        self.assertEqual(r.status, 200)
        attempts = [
            ("PATCH", patch(("replace", "title", "x"))),
            ("PATCH", patch(("replace", SCIM_PROVIDER + ":provider", self.attacker["app_id"]))),
            ("PATCH", patch(("replace", None, {"displayName": "Alice"}))),
            ("PUT", user(alice["userName"], "ext-attacker")),
        ]
        for method, body in attempts:
            r = self.srv.scim(self.attacker, method, "/Users/" + alice["id"], body)
            self.assertEqual(r.status, 403, (method, body, r.raw))
            self.assertIn("another sync configuration", r.body["detail"])
        self.assertEqual(self.srv.scim(self.attacker, "DELETE", "/Users/" + alice["id"]).status,
                         403)
        r = self.srv.scim(self.attacker, "POST", "/Bulk", {"schemas": [SCIM_BULK], "Operations": [
            {"method": "PATCH", "path": "/Users/" + alice["id"],
             "data": patch(("replace", "title", "x"))},
            {"method": "PUT", "path": "/Users/" + alice["id"],
             "data": user(alice["userName"], "x")}]})
        self.assertEqual([o["status"] for o in r.body["Operations"]], ["403", "403"])
        r = self.srv.scim("admin", "GET", "/Users/" + alice["id"])
        self.assertEqual(r.body[SCIM_PROVIDER]["provider"], self.victim["app_id"])
        self.assertEqual(r.body["meta"]["version"], 'W/"1"')
        self.assertNotIn("title", r.body)

    def test_local_user_takeover_only_with_consent_and_audited(self):
        r = self.srv.scim("admin", "POST", "/Users", user("hand-made@example.org"))
        local = r.body
        cfg = self.srv.create_sync_config("consent")
        # new configurations start with no-update-provider-mismatch: true
        self.assertEqual(cfg["settings"], {"no-update-provider-mismatch": True})
        r = self.srv.scim(cfg, "PATCH", "/Users/" + local["id"], patch(("replace", "title", "x")))
        self.assertEqual(r.status, 403)
        self.assertIn("no-update-provider-mismatch", r.body["detail"])
        self.srv.set_settings(cfg, {"no-update-provider-mismatch": False})
        r = self.srv.scim(cfg, "PATCH", "/Users/" + local["id"], patch(("replace", "title", "x")))
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.body[SCIM_PROVIDER]["provider"], cfg["app_id"])
        audit = self.srv.admin("GET", "/api/v1/audit?limit=50").body["entries"]
        self.assertIn(("sync:" + cfg["app_id"], "user.takeover", local["id"]),
                      [(e["actor"], e["action"], e["target"]) for e in audit])

    def test_rogue_agent_gets_no_other_configurations_password_checks(self):
        bob = self.owned(self.victim, "bob-owned@example.org")
        rogue = RogueAgent(self.srv, self.attacker, answer="accepted")
        try:
            # the victim's agent is down: the check waits for it, never goes to the rogue agent
            r = login(self.srv, bob["userName"], "bobs-secret")
            self.assertEqual(r.status, 503, r.raw)
            # the victim's agent (also played from Python here) gets it; the rogue agent cannot
            # answer it in its place
            victim = RogueAgent(self.srv, self.victim, answer=None)
            try:
                result = {}
                t = threading.Thread(target=lambda: result.update(
                    r=login(self.srv, bob["userName"], "bobs-secret")))
                t.start()
                deadline = time.monotonic() + 10
                while not victim.commands and time.monotonic() < deadline:
                    time.sleep(0.02)
                (cmd,) = victim.commands
                self.assertEqual((cmd["type"], cmd["username"]),
                                 ("check_password", bob["userName"]))
                self.assertEqual(rogue.result(cmd["id"], "accepted").status, 404)
                self.assertEqual(victim.result(cmd["id"], "denied").status, 204)
                t.join(10)
                self.assertEqual(result["r"].status, 401)
            finally:
                victim.close()
            time.sleep(1.5)  # one more poll of the rogue agent
            self.assertEqual(rogue.commands, [])
        finally:
            rogue.close()
        self.assertNotIn("bobs-secret", self.srv.read_log())


class Throttling(unittest.TestCase):
    """Threat: unlimited password guessing through /api/v1/login (each guess a bind: guessing at
    speed, or locking every synced account in the directory), and telling which names exist."""

    PASSWORDS = {"alice@example.org": "alice-pw", "bob@example.org": "bob-pw",
                 "carol@example.org": "carol-pw", "dave@example.org": "dave-pw",
                 "erin@example.org": "erin-pw"}
    SLOW = {"erin@example.org"}  # the directory takes 0.4 s to check these

    @classmethod
    def setUpClass(cls):
        cls.srv = AdcServer(args=["--login-timeout", "3"]).start()
        cls.addClassCleanup(cls.srv.cleanup)
        cls.cfg = cls.srv.create_sync_config("corp")  # the only configuration
        for name in cls.PASSWORDS:
            r = cls.srv.scim(cls.cfg, "POST", "/Users", user(name, "ext-" + name))
            assert r.status == 201, r
        # The directory, played by an agent that knows the passwords; it records every check
        # that reaches it (each would be a bind).
        cls.agent = RogueAgent(cls.srv, cls.cfg, answer=lambda c: (
            time.sleep(0.4) if c["username"] in cls.SLOW else None) or (
            "accepted" if cls.PASSWORDS.get(c["username"]) == c["password"] else "denied"))
        cls.addClassCleanup(cls.agent.close)

    def checks(self, name):
        return sum(1 for c in self.agent.commands if c["username"] == name)

    def guess(self, name, source, n):
        out = []
        for i in range(n):
            t0 = time.monotonic()
            r = login(self.srv, name, "guess-%d" % i, source)
            out.append((r.status, time.monotonic() - t0, r))
        return out

    def test_guessing_loop_stops_and_the_real_user_still_signs_in(self):
        name = "alice@example.org"
        rs = self.guess(name, "127.0.0.2", 20)
        self.assertEqual([s for s, _, _ in rs], [401] * 5 + [429] * 15)
        self.assertEqual(self.checks(name), 5)  # 15 guesses never reached the directory
        for _, _, r in rs[5:]:
            self.assertGreater(int(r.header("Retry-After")), 0)
            self.assertIn("too many failed sign-ins", r.body["detail"])
        # the real user, from another address
        r = login(self.srv, name, self.PASSWORDS[name], "127.0.0.3")
        self.assertEqual(r.status, 200, r.raw)
        # the guesser is still held back, even with the right password
        self.assertEqual(login(self.srv, name, self.PASSWORDS[name], "127.0.0.2").status, 429)

    def test_unknown_and_known_names_answered_alike(self):
        known = self.guess("dave@example.org", "127.0.0.4", 8)
        unknown = self.guess("nobody@example.org", "127.0.0.5", 8)
        self.assertEqual([s for s, _, _ in known], [s for s, _, _ in unknown])
        self.assertEqual([s for s, _, _ in known], [401] * 5 + [429] * 3)
        for (_, tk, rk), (_, tu, ru) in zip(known[:5], unknown[:5]):
            self.assertEqual(rk.body["detail"], ru.body["detail"])
        # Denials are answered 200 ms after the request began, asked or not (the agent here is
        # a Python loop, slower than adc's few milliseconds: compare medians).
        median = lambda rs: sorted(t for _, t, _ in rs[:5])[2]
        self.assertAlmostEqual(median(known), median(unknown), delta=0.05)
        self.assertGreaterEqual(min(t for _, t, _ in unknown[:5]), 0.2)

    def test_parallel_burst_reaches_the_directory_at_most_the_budget(self):
        import concurrent.futures
        name = "bob@example.org"
        before = self.checks(name)
        with concurrent.futures.ThreadPoolExecutor(20) as ex:
            statuses = list(ex.map(lambda i: login(self.srv, name, "x%d" % i, "127.0.0.6").status,
                                   range(20)))
        self.assertLessEqual(self.checks(name) - before, 5)
        self.assertEqual(statuses.count(200), 0)
        self.assertGreaterEqual(statuses.count(429), 15)

    def test_attempts_waiting_for_room_hold_no_thread(self):
        """Threat: each attempt of a parallel burst at one account that waits for room among
        the attempts in flight (up to 5 s) held a server thread: enough of them would take
        every worker. They wait suspended now, and still reach the directory at most the
        budget."""
        import concurrent.futures

        def sleepers():  # server threads asleep in a timed sleep (the old wait: usleep)
            n = 0
            for tid in os.listdir("/proc/%d/task" % self.srv.proc.pid):
                try:
                    with open("/proc/%d/task/%s/wchan" % (self.srv.proc.pid, tid)) as f:
                        n += "nanosleep" in f.read()
                except OSError:
                    pass
            return n

        name = "erin@example.org"
        before = self.checks(name)
        peak, done = [0], threading.Event()

        def sample():
            while not done.is_set():
                peak.append(sleepers())
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            with concurrent.futures.ThreadPoolExecutor(60) as ex:
                statuses = list(ex.map(
                    lambda i: login(self.srv, name, "w%d" % i, "127.0.0.9").status, range(60)))
        finally:
            done.set()
            sampler.join()
        self.assertLessEqual(self.checks(name) - before, 5)
        self.assertEqual(set(statuses) - {401, 429}, set(), statuses)
        self.assertGreaterEqual(statuses.count(429), 55)
        # 5 attempts in flight hold a worker each while the directory answers (waiting on a
        # condition, not sleeping); the other 55 wait with no thread at all, where each used to
        # poll for room in a thread of its own (usleep)
        self.assertLess(max(peak), 3, peak)

    def test_many_addresses_cannot_lock_the_directory_account(self):
        name = "carol@example.org"
        # carol signs in from her usual address first: it becomes familiar (written within 2 s)
        self.assertEqual(login(self.srv, name, self.PASSWORDS[name], "127.0.1.1").status, 200)
        time.sleep(2.5)
        statuses = []
        for i in range(2, 10):  # attackers on 8 addresses, 4 guesses each
            statuses += [s for s, _, _ in self.guess(name, "127.0.1.%d" % i, 4)]
        # the account's budget for unfamiliar addresses: 6 wrong passwords reach the directory
        self.assertEqual(self.checks(name), 6 + 1)  # + carol's own sign-in
        self.assertEqual(statuses.count(401), 6)
        # an unfamiliar address now waits, even with the right password...
        r = login(self.srv, name, self.PASSWORDS[name], "127.0.1.20")
        self.assertEqual(r.status, 429)
        # ... but carol, from her familiar address, signs in
        self.assertEqual(login(self.srv, name, self.PASSWORDS[name], "127.0.1.1").status, 200)

    def test_log_lines_cannot_be_forged(self):
        login(self.srv, "mallory\nadc-server: login 'alice' accepted", "x", "127.0.0.7")
        log = self.srv.read_log()
        self.assertNotIn("\nadc-server: login 'alice' accepted", log)
        self.assertIn("mallory\\nadc-server", log)


class Limits(unittest.TestCase):
    """Threat: a client stores what it likes (a 7 MiB displayName and 50,000 emails were
    accepted), and every listing then carries it, built whole in memory."""

    @classmethod
    def setUpClass(cls):
        cls.srv = AdcServer().start()
        cls.addClassCleanup(cls.srv.cleanup)
        cls.cfg = cls.srv.create_sync_config("limits")

    def test_oversized_attributes_are_refused(self):
        big = [("displayName", "x" * (7 << 20)),
               ("emails", [{"value": "a%d@example.org" % i} for i in range(50000)]),
               ("emails", [{"value": "a%d@example.org" % i} for i in range(101)]),
               ("title", "t" * 4097),
               ("addresses", [{"streetAddress": "s" * 5000}]),
               ("name", {"givenName": "g" * 5000}),
               ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                {"department": "d" * 5000}),
               ("x509Certificates", [{"value": "A" * 4000, "display": "d" * 4000}] * 20)]
        for i, (attr, value) in enumerate(big):
            for method in ("POST", "BULK", "PATCH"):
                with self.subTest(attr=attr, method=method):
                    name = "limit-%d-%s@example.org" % (i, method)
                    if method == "POST":
                        r = self.srv.scim(self.cfg, "POST", "/Users", user(name, **{attr: value}))
                    elif method == "BULK":
                        r = self.srv.scim(self.cfg, "POST", "/Bulk", {
                            "schemas": [SCIM_BULK], "Operations": [
                                {"method": "POST", "path": "/Users", "bulkId": "b",
                                 "data": user(name, **{attr: value})}]})
                        if r.status == 413:
                            continue  # the whole request is over the Bulk payload limit
                        self.assertEqual(r.status, 200, r.raw[:300])
                        r = type(r)(int(r.body["Operations"][0]["status"]), None,
                                    json.dumps(r.body["Operations"][0].get("response")).encode())
                    else:
                        r = self.srv.scim(self.cfg, "POST", "/Users", user(name))
                        self.assertEqual(r.status, 201)
                        r = self.srv.scim(self.cfg, "PATCH", "/Users/" + r.body["id"],
                                          patch(("replace", attr, value)))
                    if r.status == 413:
                        continue  # over the body limit (8 MiB): refused before reading it
                    self.assertEqual(r.status, 400, r.raw[:300])
                    self.assertIn("limit", r.body["detail"])
        # at the limits: accepted
        r = self.srv.scim(self.cfg, "POST", "/Users", user(
            "at-limit@example.org", title="t" * 4096,
            emails=[{"value": "e%d@example.org" % i} for i in range(100)]))
        self.assertEqual(r.status, 201, r.raw[:300])

    def test_listing_pages_are_bounded(self):
        # 300 users of ~60 KB each: 18 MB, more than a page may hold (16 MiB)
        fat = {"x509Certificates": [{"value": "A" * 3000, "display": "%d" % i} for i in range(20)]}
        for b in range(5):
            ops = [{"method": "POST", "path": "/Users", "bulkId": "f%d" % i,
                    "data": user("fat-%d-%d@example.org" % (b, i), **fat)} for i in range(60)]
            r = self.srv.scim(self.cfg, "POST", "/Bulk", {"schemas": [SCIM_BULK],
                                                          "Operations": ops})
            self.assertEqual(r.status, 200)
            self.assertEqual({o["status"] for o in r.body["Operations"]}, {"201"})
        seen, start = [], 1
        q = urllib.parse.quote('userName sw "fat-"')
        while True:
            r = self.srv.scim(self.cfg, "GET", "/Users?count=1000&filter=%s&startIndex=%d"
                              % (q, start), timeout=120)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body["totalResults"], 300)
            n = r.body["itemsPerPage"]
            self.assertEqual(n, len(r.body["Resources"]))
            self.assertLessEqual(len(r.raw), 17 << 20)
            seen += [u["userName"] for u in r.body["Resources"]]
            if n == 0 or start + n > 300:
                break
            start += n
        self.assertEqual(len(seen), 300)
        self.assertEqual(len(set(seen)), 300)
        self.assertGreater(start, 1)  # more than one page

    def test_names_unique_after_unicode_case_folding(self):
        pairs = [("kelvin@example.org", "\u212aelvin@example.org"),  # Kelvin sign
                 ("\u212aate@example.org", "KATE@example.org"),
                 ("J\u00fcrgen@example.org", "J\u00dcRGEN@example.org"),
                 ("stra\u00dfe@example.org", "STRASSE@example.org"),  # full folding: ss
                 ("\u00c5sa@example.org", "\u212bSA@example.org")]  # Angstrom sign
        for first, second in pairs:
            with self.subTest(first=first, second=second):
                r = self.srv.scim(self.cfg, "POST", "/Users", user(first))
                self.assertEqual(r.status, 201, r.raw)
                uid = r.body["id"]
                r = self.srv.scim(self.cfg, "POST", "/Users", user(second))
                self.assertEqual(r.status, 409, r.raw)
                self.assertEqual(r.body["scimType"], "uniqueness")
                # a rename into the taken name is refused too; after a delete the name is free
                other = self.srv.scim(self.cfg, "POST", "/Users",
                                      user("other-" + str(abs(hash(second))) + "@example.org"))
                self.assertEqual(other.status, 201)
                r = self.srv.scim(self.cfg, "PUT", "/Users/" + other.body["id"], user(second))
                self.assertEqual(r.status, 409, r.raw)
                self.assertEqual(self.srv.scim(self.cfg, "DELETE", "/Users/" + uid).status, 204)
                r = self.srv.scim(self.cfg, "PUT", "/Users/" + other.body["id"], user(second))
                self.assertEqual(r.status, 200, r.raw)

    def test_names_without_invisible_characters(self):
        for bad in ("zero\u200bwidth@example.org", "rtl\u202eevil@example.org",
                    "bom\ufeff@example.org", "nel\u0085@example.org", "tab\t@example.org",
                    "soft\u00adhyphen@example.org"):
            r = self.srv.scim(self.cfg, "POST", "/Users", user(bad))
            self.assertEqual(r.status, 400, repr(bad))
            self.assertIn("zero-width", r.body["detail"])
        r = self.srv.scim(self.cfg, "POST", "/Users", user("Jos\u00e9.\u5c71\u7530@example.org"))
        self.assertEqual(r.status, 201, r.raw)


class Runs(unittest.TestCase):
    """Threats: a killed `adc imp` left its run `running` for ever and "Sync now" was refused for
    15 minutes; two `adc imp` of one configuration at once both wrote and both counted every
    create. Runs send a heartbeat (here --run-timeout 4 instead of 120 s); one sync per
    configuration at a time."""

    @classmethod
    def setUpClass(cls):
        from harness.sync import SyncSetup, ldif_mod
        cls.env = SyncSetup(ldif_mod.generate(10000, special=False), page_size=500).__enter__()
        cls.addClassCleanup(cls.env.close)
        cls.env.server.args = ["--run-timeout", "4"]
        cls.env.server.restart()
        cls.env.write_cfg()  # the new port
        cls.srv, cls.cfg = cls.env.server, cls.env.cfg
        cls.auth = basic_auth(cls.cfg["app_id"], cls.cfg["secret"])

    def runs(self):
        return self.srv.admin("GET", "/api/v1/sync-configs/%s/runs" % self.cfg["app_id"]).body[
            "runs"]

    def start_run(self):
        return self.srv.request("POST", "/api/v1/agent/runs", {"source": "imp"}, auth=self.auth)

    def wait_status(self, run_id, status, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.srv.admin("GET", "/api/v1/runs/" + run_id).body
            if r["status"] == status:
                return r
            time.sleep(0.2)
        self.fail("run %s not %s within %s s: %r" % (run_id, status, timeout, r))

    def test_one_sync_at_a_time_and_heartbeats(self):
        r = self.start_run()
        self.assertEqual(r.status, 201, r.raw)
        first = r.body["run_id"]
        # a second run of the same configuration: refused, saying why
        r = self.start_run()
        self.assertEqual(r.status, 409, r.raw)
        self.assertIn("another sync of this configuration is in progress", r.body["detail"])
        self.assertIn(first, r.body["detail"])
        # `adc imp` meanwhile: its own exit status and message, nothing written
        before = len(self.env.cloud())
        p = self.env.imp()
        self.assertEqual(p.returncode, 6, p.stderr)
        self.assertIn("another sync of this configuration is in progress", p.stderr)
        self.assertEqual(len(self.env.cloud()), before)
        # reports keep the run alive past the timeout ...
        for _ in range(7):
            r = self.srv.request("PUT", "/api/v1/agent/runs/" + first, {"status": "running"},
                                 auth=self.auth)
            self.assertEqual(r.status, 204)
            time.sleep(1)
        self.assertEqual(self.srv.admin("GET", "/api/v1/runs/" + first).body["status"],
                         "running")
        # ... and without them it fails, and the configuration may sync again
        run = self.wait_status(first, "failed", 15)
        self.assertIn("no heartbeat", " ".join(run["errors"]))
        r = self.start_run()
        self.assertEqual(r.status, 201, r.raw)
        self.srv.request("PUT", "/api/v1/agent/runs/" + r.body["run_id"],
                         {"status": "succeeded"}, auth=self.auth)

    def test_killed_imp_does_not_hold_the_next_sync(self):
        import os
        import signal
        import subprocess
        from harness.programs import ADC
        before = {x["run_id"] for x in self.runs()}
        env = {k: v for k, v in os.environ.items() if k != "ADC_CFG"}
        p = subprocess.Popen([ADC, "-C", self.env.cfg_path, "imp"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env)
        deadline, run = time.monotonic() + 30, None
        while run is None and time.monotonic() < deadline:
            new = [x for x in self.runs() if x["run_id"] not in before]
            run = new[0] if new else None
            time.sleep(0.01)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        self.assertIsNotNone(run)
        self.assertEqual(self.srv.admin("GET", "/api/v1/runs/" + run["run_id"]).body["status"],
                         "running")
        failed = self.wait_status(run["run_id"], "failed", 15)
        self.assertIn("no heartbeat", " ".join(failed["errors"]))
        # the next import runs, and converges
        r, doc = self.env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(self.env.cloud()), 10000)


class NoAgent(unittest.TestCase):
    """With no agent connected, a name that exists and one that does not get the same 503."""

    def test_same_answer_without_agent(self):
        with AdcServer() as srv:
            cfg = srv.create_sync_config("corp")
            self.assertEqual(srv.scim(cfg, "POST", "/Users", user("erin@example.org")).status, 201)
            a = login(srv, "erin@example.org", "pw", "127.0.0.8")
            b = login(srv, "nobody@example.org", "pw", "127.0.0.8")
            self.assertEqual((a.status, a.body["detail"]), (b.status, b.body["detail"]))
            self.assertEqual(a.status, 503)


if __name__ == "__main__":
    unittest.main()
