"""Syncs the cloud asks for (docs/product.md section 6, docs/agent-protocol.md): POST
/api/v1/sync-configs/{app_id}/sync reaches a connected `adc run`, which runs `adc imp`'s engine
and reports the run; one sync at a time per configuration; a run never stays "running" when its
agent stops or dies; password checks are answered while a sync runs."""
import concurrent.futures
import signal
import time
import unittest
import urllib.parse

from harness import ldif
from harness.agent import Agent, cfg_text, restart_server, yaml_text
from harness.server import AdcServer
from harness.slapd import Slapd

N_USERS = 1500


def login(srv, name, password):
    return srv.request("POST", "/api/v1/login", {"username": name, "password": password},
                       timeout=30)


class SyncNow(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.users = ldif.generate(N_USERS, special=True)
        cls.expected = ldif.expected(cls.users, "mail")
        cls.slapd = Slapd(ldif=cls.users).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.slapd.close()

    def setUp(self):
        # A server of its own per test: each test's first sync creates every user.
        self.srv = AdcServer(args=["--login-timeout", "5"]).start()
        self.addCleanup(self.srv.cleanup)
        self.cfg = self.srv.create_sync_config(self.id().rsplit(".", 1)[1][:40])
        self.base = "/api/v1/sync-configs/" + self.cfg["app_id"]

    def agent(self, **yaml_kw):
        a = Agent(cfg_text(self.srv.url, self.cfg["app_id"], self.cfg["secret"]),
                  yaml_text(self.slapd, **yaml_kw))
        self.addCleanup(a.close)
        a.start()
        a.wait_notify("READY=1")
        return a

    def trigger(self, dry_run=False, want=202):
        r = self.srv.admin("POST", self.base + "/sync", {"dry_run": dry_run})
        self.assertEqual(r.status, want, r)
        return r.body

    def run_record(self, run_id):
        r = self.srv.admin("GET", "/api/v1/runs/" + run_id)
        self.assertEqual(r.status, 200, r)
        return r.body

    def wait_run(self, run_id, statuses=("succeeded", "failed"), timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run_record(run_id)
            if run["status"] in statuses:
                return run
            time.sleep(0.1)
        self.fail(f"run {run_id} not {statuses} within {timeout} s: {self.run_record(run_id)}")

    def cloud_has(self, name):
        r = self.srv.scim(self.cfg, "GET", "/Users?count=1&filter=" +
                          urllib.parse.quote('userName eq "%s"' % name))
        self.assertEqual(r.status, 200, r)
        return r.body["totalResults"] == 1

    def cloud_count(self):
        r = self.srv.scim(self.cfg, "GET", "/Users?count=1")
        self.assertEqual(r.status, 200, r)
        return r.body["totalResults"]

    def test_sync_now_without_agent_or_config(self):
        body = self.trigger(want=409)
        self.assertIn("no agent", body["detail"])
        r = self.srv.admin("POST", "/api/v1/sync-configs/00000000-0000-0000-0000-000000000000/sync")
        self.assertEqual(r.status, 404, r)
        r = self.srv.request("POST", self.base + "/sync", {})
        self.assertEqual(r.status, 401, r)

    def test_sync_now_runs_and_reports_counts(self):
        self.agent()
        n = len(self.expected["users"])
        # A preview first: counts, but nothing written.
        run = self.wait_run(self.trigger(dry_run=True)["run_id"])
        self.assertEqual(run["status"], "succeeded", run)
        self.assertTrue(run["dry_run"])
        self.assertEqual(run["stats"]["created"], n, run)
        self.assertEqual(self.cloud_count(), 0)

        queued = self.trigger()
        self.assertEqual(queued["status"], "queued")
        run = self.wait_run(queued["run_id"])
        self.assertEqual(run["status"], "succeeded", run)
        self.assertFalse(run["dry_run"])
        self.assertEqual(run["stats"]["created"], n, run)
        self.assertEqual(run["stats"]["failed"], 0, run)
        self.assertEqual(run["source"], "server")
        self.assertTrue(run["agent_id"])
        self.assertEqual(self.cloud_count(), n)

        # Again: nothing to do.
        run = self.wait_run(self.trigger()["run_id"])
        self.assertEqual(run["status"], "succeeded", run)
        self.assertEqual(run["stats"]["unchanged"], n, run)
        self.assertEqual(run["stats"]["created"], 0, run)
        # The configuration shows its last run.
        cfg = self.srv.admin("GET", self.base).body
        self.assertEqual(cfg["last_run"]["run_id"], run["run_id"])

    def test_two_agents_one_run(self):
        a1, a2 = self.agent(), self.agent()
        deadline = time.monotonic() + 15
        while len(self.srv.admin("GET", self.base).body["agents"]) < 2:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        run_id = self.trigger()["run_id"]
        run = self.wait_run(run_id)
        self.assertEqual(run["status"], "succeeded", run)
        started = [x.log().count(f"sync run {run_id} started") for x in (a1, a2)]
        self.assertEqual(sorted(started), [0, 1], started)
        self.assertIn(run["agent_id"], [x["agent_id"] for x in
                                        self.srv.admin("GET", self.base).body["agents"]])

    def test_password_checks_answered_while_a_sync_runs(self):
        a = self.agent()
        run_id = self.trigger()["run_id"]
        self.wait_run(run_id, statuses=("running", "succeeded", "failed"))
        # The first sync creates the users; sign in as them as soon as they exist. Each name is
        # tried only once it is in the cloud: a name that fails again and again from one
        # address is throttled (429, docs/product.md section 11), which is not what this tests.
        names = ["user%06d@example.org" % i for i in range(0, 40)]
        ok = 0
        deadline = time.monotonic() + 60
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            while ok == 0 and time.monotonic() < deadline:
                present = [u for u in names if self.cloud_has(u)]
                if not present:
                    time.sleep(0.02)
                    continue
                statuses = list(ex.map(
                    lambda u: login(self.srv, u, "pw-" + u.split("@")[0]).status, present))
                self.assertEqual(statuses, [200] * len(present))
                ok = statuses.count(200)
        running_during = self.run_record(run_id)["status"]
        self.assertGreater(ok, 0, a.log())
        run = self.wait_run(run_id)
        self.assertEqual(run["status"], "succeeded", run)
        # Now every one of them signs in.
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            statuses = list(ex.map(
                lambda u: login(self.srv, u, "pw-" + u.split("@")[0]).status, names))
        self.assertEqual(statuses, [200] * len(names))
        self.assertIn(running_during, ("running", "succeeded"))

    def test_sighup_during_a_sync_keeps_it(self):
        a = self.agent()
        # The directory holds still (SIGSTOP) so that the reload surely lands inside the sync.
        self.slapd.pause()
        self.addCleanup(self.slapd.resume)
        run_id = self.trigger()["run_id"]
        self.wait_run(run_id, statuses=("running",), timeout=20)
        start = len(a.notify.messages)
        a.hup()
        i = a.wait_notify("RELOADING=1", start=start)
        a.wait_notify("READY=1", start=i)
        self.assertEqual(self.run_record(run_id)["status"], "running")
        self.slapd.resume()
        run = self.wait_run(run_id)
        self.assertEqual(run["status"], "succeeded", run)
        self.assertEqual(run["stats"]["created"], len(self.expected["users"]), run)
        self.assertIsNone(a.proc.poll())
        self.assertEqual(len(self.srv.admin("GET", self.base).body["agents"]), 1)

    def test_server_restart_during_a_sync(self):
        a = self.agent()
        self.slapd.pause()
        self.addCleanup(self.slapd.resume)
        run_id = self.trigger()["run_id"]
        self.wait_run(run_id, statuses=("running",), timeout=20)
        restart_server(self.srv)
        self.slapd.resume()
        # The agent reconnects, finishes the sync and reports it: the record is its report.
        run = self.wait_run(run_id, timeout=60)
        self.assertEqual(run["status"], "succeeded", (run, a.log()))
        self.assertEqual(run["stats"]["created"], len(self.expected["users"]), run)

    def test_one_sync_at_a_time_and_sigterm_during_a_sync(self):
        # The directory answers nothing (SIGSTOP): the sync stays in its read.
        a = self.agent(ldap_extra={"timeout": 3, "network_timeout": 3})
        self.slapd.pause()
        self.addCleanup(self.slapd.resume)
        run_id = self.trigger()["run_id"]
        run = self.wait_run(run_id, statuses=("running",), timeout=20)
        body = self.trigger(want=409)
        self.assertIn(run_id, body["detail"])
        # SIGTERM: the agent stops the sync and exits; the run is failed, not running forever.
        a.term()
        self.assertEqual(a.wait(60), 0, a.log())
        self.slapd.resume()
        run = self.run_record(run_id)
        self.assertEqual(run["status"], "failed", run)
        self.assertTrue(any("stopped" in e for e in run["errors"]), run)
        self.assertEqual(self.srv.admin("GET", self.base).body["agents"], [])
        self.assertEqual(self.trigger(want=409)["status"], "409")

    def test_sigterm_with_a_sync_that_does_not_stop(self):
        # The directory holds the sync longer than the agent's 20 s stop grace.
        a = self.agent(ldap_extra={"timeout": 120, "network_timeout": 120})
        self.slapd.pause()
        self.addCleanup(self.slapd.resume)
        run_id = self.trigger()["run_id"]
        self.wait_run(run_id, statuses=("running",), timeout=20)
        a.term()
        self.assertEqual(a.wait(60), 1, a.log())
        run = self.run_record(run_id)
        self.assertEqual(run["status"], "failed", run)
        self.assertIn("adc was stopped (SIGTERM) before the sync ended", run["errors"])
        self.assertFalse(self.srv.admin("GET", self.base).body["connected"])

    def test_run_of_a_vanished_agent_is_failed(self):
        a = self.agent(ldap_extra={"timeout": 30})
        self.slapd.pause()
        self.addCleanup(self.slapd.resume)
        run_id = self.trigger()["run_id"]
        self.wait_run(run_id, statuses=("running",), timeout=20)
        a.signal(signal.SIGKILL)
        a.wait(10)
        # Shown disconnected within 30 s, and its run failed.
        run = self.wait_run(run_id, timeout=45)
        self.assertEqual(run["status"], "failed", run)
        self.assertTrue(any("agent disconnected" in e for e in run["errors"]), run)
        self.assertFalse(self.srv.admin("GET", self.base).body["connected"])


if __name__ == "__main__":
    unittest.main()
