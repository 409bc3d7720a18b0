"""Two adc-server instances on one PostgreSQL database behind Debian's HAProxy with health
checks (docs/product.md section 12). The agent talks to the cluster only through HAProxy, and
is simulated with the channel's HTTP calls (docs/agent-protocol.md); the real `adc run`
against one instance is test_agent's. One PostgreSQL, two instances and one HAProxy serve the
whole module; a test that kills an instance brings it back on its port.

- "sync now" given to either instance reaches the agent; kill -9 of the instance the agent
  uses: HAProxy takes it out, the agent connects again through HAProxy to the other instance
  and receives the command queued meanwhile;
- sign-in through each instance with the agent on the other (the password crosses the
  database only sealed to the agent's instance, and no row stays behind), with throttling and
  the 503 without an agent holding across instances;
- kill -9 of the agent's instance while a sign-in through the other waits for the agent: the
  check is asked again of the agent once it reconnected, within the sign-in's timeout;
- one sync at a time per configuration across instances ("sync now" and `adc imp` at once on
  both: one run);
- a PostgreSQL restart: both instances listen again, nothing queued is lost, sign-in and sync
  now work again."""
import json
import shutil
import threading
import time
import unittest

from harness import postgres
from harness.haproxy import HAPROXY, HAProxy
from harness.server import AdcServer, Response, basic_auth

PASSWORD = "Sealed-Only-8f3a1c"  # looked for in the database afterwards


def login(srv, name, password, timeout=30):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        c.request("POST", "/api/v1/login", json.dumps({"username": name, "password": password}),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        return Response(r.status, r.headers, r.read())
    finally:
        c.close()


class SimAgent:
    """An agent through HAProxy: connects, polls, answers password checks (accepted for
    PASSWORD, after `delay` seconds), records the syncs it is handed and reports them done;
    connects again whenever its instance forgets it or goes away."""

    def __init__(self, via, cfg, delay=0.0):
        self.via, self.delay = via, delay
        self.auth = basic_auth(cfg["app_id"], cfg["secret"])
        self.runs, self.checks, self.connects = [], [], 0
        self.agent_id = None
        self.paused = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _request(self, *a, **kw):
        try:
            return self.via.request(*a, auth=self.auth, **kw)
        except OSError as e:  # the instance died under the request
            return Response(599, {}, str(e).encode())

    def _run(self):
        while not self.stop.is_set():
            if self.paused.is_set():
                time.sleep(0.05)
                continue
            if not self.agent_id:
                r = self._request("POST", "/api/v1/agent/connect", {"host": "dc1", "version": "t"})
                if r.status != 201:
                    time.sleep(0.1)
                    continue
                self.agent_id = r.body["agent_id"]
                self.connects += 1
            r = self._request("GET", "/api/v1/agent/commands?wait=2&agent_id=" + self.agent_id,
                              timeout=15)
            if r.status != 200:
                self.agent_id = None  # 404 (forgotten) or its instance died: connect again
                time.sleep(0.05)
                continue
            for c in r.body["commands"]:
                if c["type"] == "check_password":
                    self.checks.append(c["username"])
                    time.sleep(self.delay)
                    ok = c["password"] == PASSWORD
                    self._request("POST", "/api/v1/agent/commands/%s/result" % c["id"],
                                  {"outcome": "accepted" if ok else "denied", "reason": "sim"})
                elif c["type"] == "sync":
                    self.runs.append(c["run_id"])
                    self._request("PUT", "/api/v1/agent/runs/" + c["run_id"],
                                  {"status": "succeeded"})

    def wait_connected(self, timeout=20):
        deadline = time.time() + timeout
        while not self.agent_id and time.time() < deadline:
            time.sleep(0.05)
        assert self.agent_id, "the simulated agent did not connect"

    def close(self):
        self.stop.set()
        self.thread.join(20)
        if self.agent_id:
            self._request("POST", "/api/v1/agent/disconnect", {"agent_id": self.agent_id})


@unittest.skipUnless(postgres.bin_dir() and shutil.which(HAPROXY), "needs PostgreSQL and HAProxy")
class TwoInstancesBehindHAProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = AdcServer(engine="postgresql").start()
        cls.addClassCleanup(cls.a.cleanup)
        cls.b = AdcServer(db=cls.a.db, admin_token=cls.a.admin_token).start()
        cls.addClassCleanup(cls.b.cleanup)
        for srv in (cls.a, cls.b):  # a killed instance comes back on its port
            srv.listen_port = srv.port
        cls.lb = HAProxy([("a", "127.0.0.1", cls.a.port), ("b", "127.0.0.1", cls.b.port)])
        cls.lb.open()
        cls.addClassCleanup(cls.lb.close)
        cls.lb.wait_up(2)
        cls.cfg = cls.a.create_sync_config("behind-haproxy")
        cls.auth = basic_auth(cls.cfg["app_id"], cls.cfg["secret"])
        # Requests through HAProxy: the harness's request() with the proxy's URL.
        cls.via = AdcServer(db=cls.a.db, admin_token=cls.a.admin_token)
        cls.via.port = cls.lb.port
        r = cls.a.scim(cls.cfg, "POST", "/Users",
                       {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": "alice@example.org", "externalId": "alice", "active": True})
        assert r.status == 201, r

    def holder(self):
        """The instance the agent is connected to, and the other one."""
        deadline = time.time() + 10
        while time.time() < deadline:
            for srv, other in ((self.a, self.b), (self.b, self.a)):
                r = srv.admin("GET", "/metrics")
                if r.status == 200 and b"adc_connected_agents 1" in r.raw:
                    return srv, other
            time.sleep(0.05)
        self.fail("no instance holds the agent")

    def logs(self):
        """The end of both instances' logs, for a failure's message."""
        return "\n".join("--- %s:\n%s" % (s.port, "\n".join(
            l for l in s.read_log().splitlines() if "/api/v1/health" not in l)[-3000:])
            for s in (self.a, self.b))

    def revive(self, srv):
        """Starts a killed instance again on its port; HAProxy takes it back."""
        srv.serve()
        self.lb.wait_up(2)

    def agent(self, **kw):
        ag = SimAgent(self.via, self.cfg, **kw)
        self.addCleanup(ag.close)
        ag.wait_connected()
        return ag

    def wait_no_run(self, ag):
        deadline, left = time.time() + 15, None
        while left != [] and time.time() < deadline:
            left = self.a.sql("SELECT run_id, status FROM runs WHERE app_id = ? "
                              "AND status IN ('queued', 'running')", (self.cfg["app_id"],))
            time.sleep(0.1)
        self.assertEqual(left, [], (ag.runs, self.a.sql("SELECT * FROM agent_commands")))

    def test_1_sync_now_and_kill_9(self):
        cfg, auth, via = self.cfg, self.auth, self.via

        def connect():
            r = via.request("POST", "/api/v1/agent/connect", {"host": "dc1", "version": "t"},
                            auth=auth)
            self.assertEqual(r.status, 201, r)
            return r.body["agent_id"]

        def poll(agent_id, wait):
            return via.request("GET", "/api/v1/agent/commands?agent_id=%s&wait=%d"
                               % (agent_id, wait), auth=auth, timeout=wait + 10)

        def finish(run_id):  # the agent reports the run done, through HAProxy
            r = via.request("PUT", "/api/v1/agent/runs/" + run_id, {"status": "succeeded"},
                            auth=auth)
            self.assertEqual(r.status, 204, r)

        agent = connect()
        holder, other = self.holder()
        for srv in (self.a, self.b):  # sync now through each instance
            r = srv.admin("POST", "/api/v1/sync-configs/%s/sync" % cfg["app_id"], {})
            self.assertEqual(r.status, 202, r)
            got = poll(agent, 10)
            self.assertEqual(got.status, 200, got)
            self.assertEqual([c["run_id"] for c in got.body["commands"]], [r.body["run_id"]])
            finish(r.body["run_id"])

        # The agent's instance dies; a sync is asked of the survivor meanwhile.
        holder.proc.kill()
        holder.proc.wait()
        r = other.admin("POST", "/api/v1/sync-configs/%s/sync" % cfg["app_id"], {})
        self.assertEqual(r.status, 202, r)  # the dead instance's agent still counts a while
        self.lb.wait_up(1)
        # The agent notices (its poll fails), connects again through HAProxy: to the survivor.
        self.assertNotEqual(poll(agent, 1).status, 200)
        agent = connect()
        deadline = time.time() + 30
        cmds = []
        while not cmds and time.time() < deadline:
            got = poll(agent, 5)
            self.assertEqual(got.status, 200, got)
            cmds = got.body["commands"]
        self.assertEqual([c["run_id"] for c in cmds], [r.body["run_id"]])
        self.assertIn(b"adc_connected_agents 1", other.admin("GET", "/metrics").raw)
        finish(r.body["run_id"])
        via.request("POST", "/api/v1/agent/disconnect", {"agent_id": agent}, auth=auth)
        self.revive(holder)

    def test_2_sign_in_through_each_instance(self):
        # No agent anywhere: the same 503 for a real name and a missing one, on both.
        for srv in (self.a, self.b):
            for name in ("alice@example.org", "nobody@example.org"):
                r = login(srv, name, PASSWORD)
                self.assertEqual(r.status, 503, (srv.port, name, r))
        ag = self.agent()
        holder, other = self.holder()
        for srv in (other, holder, other):  # through each, the agent on one of them
            t0 = time.monotonic()
            r = login(srv, "alice@example.org", PASSWORD)
            self.assertEqual(r.status, 200, (r, self.logs()))
            self.assertEqual(r.body["userName"], "alice@example.org")
            self.assertLess(time.monotonic() - t0, 5.0)  # no timeout waited out
        self.assertEqual(ag.checks.count("alice@example.org"), 3)
        # Wrong passwords through the other instance: denied by the agent, and a missing name
        # gets the same status (and waits as long) on both instances.
        for srv in (other, holder):
            for name in ("alice@example.org", "nobody@example.org"):
                t0 = time.monotonic()
                r = login(srv, name, "wrong")
                self.assertEqual(r.status, 401, (srv.port, name, r))
                self.assertGreaterEqual(time.monotonic() - t0, 0.19)
        # Throttling is shared: failures through one instance count on the other.
        statuses = [login(self.a if i % 2 else self.b, "alice@example.org", "wrong").status
                    for i in range(6)]
        self.assertEqual(statuses[:3], [401] * 3, statuses)  # 2 before + 3 = the pair's 5
        self.assertIn(429, statuses[3:], statuses)
        self.assertEqual(login(holder, "alice@example.org", "wrong").status, 429)
        self.assertEqual(login(other, "alice@example.org", "wrong").status, 429)
        # The password never reached the database in clear; answered checks leave no row.
        self.assertNotIn(PASSWORD.encode(), postgres.Postgres.shared().dump(self.a.db))
        self.assertEqual(self.a.sql("SELECT count(*) FROM login_checks"), [("0",)])
        self.assertEqual(len(self.a.sql("SELECT public_key FROM cluster_instances")), 2)
        self.a.sql("DELETE FROM login_throttle")

    def test_3_kill_agent_instance_during_sign_in(self):
        ag = self.agent(delay=1.0)
        holder, other = self.holder()
        connects = ag.connects
        result = {}
        t = threading.Thread(target=lambda: result.update(r=login(other, "alice@example.org",
                                                                  PASSWORD)))
        t0 = time.monotonic()
        t.start()
        deadline = time.time() + 5
        while not ag.checks and time.time() < deadline:  # the agent holds the check
            time.sleep(0.01)
        self.assertTrue(ag.checks)
        holder.proc.kill()
        holder.proc.wait()
        t.join(30)
        # Asked again of the agent, now connected to the survivor, within the timeout (10 s).
        self.assertEqual(result["r"].status, 200, (result["r"], self.logs()))
        self.assertLess(time.monotonic() - t0, 10, self.logs())
        self.assertGreater(ag.connects, connects)
        self.assertEqual(ag.checks.count("alice@example.org"), 2)
        # And the next sign-in through the survivor, at once.
        self.assertEqual(login(other, "alice@example.org", PASSWORD).status, 200)
        self.revive(holder)
        # Through the revived instance too (the agent stays on the survivor).
        self.assertEqual(login(holder, "alice@example.org", PASSWORD).status, 200)

    def test_4_one_sync_at_a_time_across_instances(self):
        ag = self.agent()
        path = "/api/v1/sync-configs/%s/sync" % self.cfg["app_id"]
        for _ in range(3):
            self.wait_no_run(ag)  # the scheduled sync the agent's connection started, say
            ag.paused.set()  # no run ends while both ask
            time.sleep(2.5)  # the poll under way returns
            got = {}
            go = threading.Barrier(2)

            def ask(srv):
                go.wait()
                got[srv.port] = srv.admin("POST", path, {})

            ts = [threading.Thread(target=ask, args=(s,)) for s in (self.a, self.b)]
            [t.start() for t in ts]
            [t.join(30) for t in ts]
            self.assertEqual(sorted(r.status for r in got.values()), [202, 409], (got, self.logs()))
            # `adc imp` on both instances meanwhile: refused too
            for srv in (self.a, self.b):
                r = srv.request("POST", "/api/v1/agent/runs", {"source": "imp"}, auth=self.auth)
                self.assertEqual(r.status, 409, r)
            active = self.a.sql("SELECT count(*) FROM runs WHERE app_id = ? AND status IN "
                                "('queued', 'running')", (self.cfg["app_id"],))
            self.assertEqual(active, [("1",)])
            ag.paused.clear()
            self.wait_no_run(ag)
        # `adc imp` started at once through both instances: one run.
        ag.close()
        for _ in range(3):
            got = {}
            go = threading.Barrier(2)

            def imp(srv):
                go.wait()
                got[srv.port] = srv.request("POST", "/api/v1/agent/runs", {"source": "imp"},
                                            auth=self.auth)

            ts = [threading.Thread(target=imp, args=(s,)) for s in (self.a, self.b)]
            [t.start() for t in ts]
            [t.join(30) for t in ts]
            self.assertEqual(sorted(r.status for r in got.values()), [201, 409], got)
            run = [r for r in got.values() if r.status == 201][0].body["run_id"]
            r = self.b.request("PUT", "/api/v1/agent/runs/" + run, {"status": "succeeded"},
                               auth=self.auth)
            self.assertEqual(r.status, 204, r)

    def test_5_postgresql_restart(self):
        ag = self.agent()
        holder, other = self.holder()
        pg = postgres.Postgres.shared()
        # A sync asked of the instance without the agent just before the restart, while the
        # agent is not polling: delivered afterwards, not lost.
        ag.paused.set()
        time.sleep(2.5)
        r = other.admin("POST", "/api/v1/sync-configs/%s/sync" % self.cfg["app_id"], {})
        self.assertEqual(r.status, 202, r)
        run_id = r.body["run_id"]
        pg.restart()
        ag.paused.clear()
        deadline = time.time() + 30
        while run_id not in ag.runs and time.time() < deadline:
            time.sleep(0.1)
        self.assertIn(run_id, ag.runs, self.logs())
        # Both instances answer again: sign-in through each (the agent stays where it was or
        # reconnects), and sync now through the other reaches the agent.
        holder, other = self.holder()
        for srv in (other, holder):
            deadline, r = time.time() + 30, None
            while time.time() < deadline:
                r = login(srv, "alice@example.org", PASSWORD)
                if r.status == 200:
                    break
                time.sleep(0.5)
            self.assertEqual(r.status, 200, (r, self.logs()))
        for srv in (other, holder):
            deadline, r = time.time() + 20, None
            while time.time() < deadline:
                r = srv.admin("POST", "/api/v1/sync-configs/%s/sync" % self.cfg["app_id"], {})
                if r.status == 202:
                    break
                time.sleep(0.5)  # the previous run's report may still be on its way
            self.assertEqual(r.status, 202, (r, self.logs()))
            deadline = time.time() + 10
            while r.body["run_id"] not in ag.runs and time.time() < deadline:
                time.sleep(0.05)
            self.assertIn(r.body["run_id"], ag.runs, self.logs())
        # Answered checks after the restart left no row either.
        self.assertEqual(self.a.sql("SELECT count(*) FROM login_checks"), [("0",)])


if __name__ == "__main__":
    unittest.main()
