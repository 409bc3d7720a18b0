"""Keeping in step by itself (docs/product.md section 9): the server's full-sync schedule, the
run's trigger, and live changes streamed by `adc run` from a real slapd (with the syncprov
overlay, and without it: the modifyTimestamp poll)."""
import os
import tempfile
import time
import unittest

from harness import ldif
from harness.agent import Agent, cfg_text, yaml_text
from harness.server import AdcServer, basic_auth
from harness.slapd import Slapd

N_USERS = 40


def wait_for(test, what, predicate, timeout=30, step=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(step)
    test.fail(f"{what} not within {timeout} s (last: {last!r})")


class Schedule(unittest.TestCase):
    """sync_interval_minutes in the API, the scheduled sync without anyone asking, a sync due
    while no agent was connected, and the trigger of each kind of run. A "minute" lasts one
    second here (serve --schedule-minute 1)."""

    @classmethod
    def setUpClass(cls):
        cls.users = ldif.generate(N_USERS)
        cls.expected = ldif.expected(cls.users, "mail")
        cls.slapd = Slapd(ldif=cls.users).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.slapd.close()

    def setUp(self):
        self.srv = AdcServer(args=["--schedule-minute", "1"]).start()
        self.addCleanup(self.srv.cleanup)

    def agent(self, cfg, **yaml_kw):
        a = Agent(cfg_text(self.srv.url, cfg["app_id"], cfg["secret"]),
                  yaml_text(self.slapd, **yaml_kw))
        self.addCleanup(a.close)
        a.start()
        a.wait_notify("READY=1")
        return a

    def runs(self, cfg):
        r = self.srv.admin("GET", "/api/v1/sync-configs/%s/runs" % cfg["app_id"])
        self.assertEqual(r.status, 200, r)
        return r.body["runs"]

    def test_interval_in_the_api(self):
        cfg = self.srv.create_sync_config("default")
        self.assertEqual(cfg["sync_interval_minutes"], 60)
        self.assertIsNotNone(cfg["next_sync"])
        self.assertIsNone(cfg["live"])
        base = "/api/v1/sync-configs/" + cfg["app_id"]
        for bad in (-1, 1.5, "60", True, None, 31 * 24 * 60 + 1):
            r = self.srv.admin("PATCH", base, {"sync_interval_minutes": bad})
            self.assertEqual(r.status, 400, (bad, r))
            self.assertIn("sync_interval_minutes", r.body["detail"])
        r = self.srv.admin("POST", "/api/v1/sync-configs",
                           {"name": "bad", "sync_interval_minutes": -5})
        self.assertEqual(r.status, 400, r)
        r = self.srv.admin("PATCH", base, {"sync_interval_minutes": 0})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["sync_interval_minutes"], 0)
        self.assertIsNone(r.body["next_sync"])
        r = self.srv.admin("GET", base)
        self.assertEqual(r.body["sync_interval_minutes"], 0)
        r = self.srv.admin("PATCH", base, {"sync_interval_minutes": 15})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["sync_interval_minutes"], 15)
        self.assertIsNotNone(r.body["next_sync"])
        cfg2 = self.srv.create_sync_config("none", sync_interval_minutes=0)
        self.assertEqual(cfg2["sync_interval_minutes"], 0)
        self.assertIsNone(cfg2["next_sync"])
        audit = self.srv.admin("GET", "/api/v1/audit").body["entries"]
        details = [e["detail"] or "" for e in audit if e["target"] == cfg["app_id"]]
        self.assertTrue(any("sync_interval_minutes=15" in d for d in details), details)
        self.assertTrue(any("sync_interval_minutes=0" in d for d in details), details)

    def test_schedule_fires_and_due_run_waits_for_an_agent(self):
        # Due every 2 "minutes" (seconds here); no agent yet: nothing runs, the sync stays due.
        cfg = self.srv.create_sync_config("sched", sync_interval_minutes=2)
        time.sleep(3.5)
        self.assertEqual(self.runs(cfg), [])
        # An agent connects: the due sync runs at once, without anyone asking.
        a = self.agent(cfg, watch="off")
        first = wait_for(self, "the due sync", lambda: [r for r in self.runs(cfg)
                                                        if r["status"] == "succeeded"], 20)
        self.assertEqual(first[-1]["trigger"], "schedule")
        self.assertEqual(first[-1]["stats"]["created"], len(self.expected["users"]))
        # And again one interval later.
        wait_for(self, "a second scheduled sync",
                 lambda: len([r for r in self.runs(cfg) if r["status"] == "succeeded"]) >= 2, 20)
        self.assertTrue(all(r["trigger"] == "schedule" for r in self.runs(cfg)))
        # "Sync now" is manual.
        self.srv.admin("PATCH", "/api/v1/sync-configs/" + cfg["app_id"],
                       {"sync_interval_minutes": 0})
        wait_for(self, "the runs to finish",
                 lambda: all(r["status"] in ("succeeded", "failed") for r in self.runs(cfg)), 20)
        r = self.srv.admin("POST", "/api/v1/sync-configs/%s/sync" % cfg["app_id"], {})
        self.assertEqual(r.status, 202, r)
        run = self.srv.admin("GET", "/api/v1/runs/" + r.body["run_id"]).body
        self.assertEqual(run["trigger"], "manual")
        a.term()
        self.assertEqual(a.wait(), 0)

    def test_imp_runs_have_trigger_imp(self):
        cfg = self.srv.create_sync_config("imp", sync_interval_minutes=0)
        a = Agent(cfg_text(self.srv.url, cfg["app_id"], cfg["secret"]),
                  yaml_text(self.slapd, watch="off"))
        self.addCleanup(a.close)
        import subprocess
        from harness.programs import ADC
        r = subprocess.run([ADC, "-C", a.cfg_path, "imp"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        runs = self.runs(cfg)
        self.assertEqual(len(runs), 1)
        self.assertEqual(runs[0]["trigger"], "imp")
        self.assertEqual(runs[0]["source"], "imp")
        # A client cannot claim another trigger for its own run.
        r = self.srv.request("POST", "/api/v1/agent/runs", {"source": "imp", "trigger": "schedule"},
                             auth=basic_auth(cfg["app_id"], cfg["secret"]))
        self.assertEqual(r.status, 400, r)

    def test_two_servers_on_one_database_queue_a_due_sync_once(self):
        # The due time is claimed in the database: with an agent on each of two adc-server
        # processes sharing one database, each due time gives one run, not one per server.
        cfg = self.srv.create_sync_config("shared", sync_interval_minutes=2)
        other = AdcServer(args=["--schedule-minute", "1"])
        other.dir = tempfile.mkdtemp(prefix="adc-server-test-")
        other.db = self.srv.db
        other.admin_token = self.srv.admin_token
        other.serve()
        self.addCleanup(other.cleanup)
        for s in (self.srv, other):
            a = Agent(cfg_text(s.url, cfg["app_id"], cfg["secret"]),
                      yaml_text(self.slapd, watch="off"))
            self.addCleanup(a.close)
            a.start()
            a.wait_notify("READY=1")
        t0 = time.monotonic()
        wait_for(self, "a scheduled run", lambda: self.runs(cfg), 10)
        time.sleep(7)
        elapsed = time.monotonic() - t0
        runs = [r for r in self.runs(cfg) if r["trigger"] == "schedule"]
        # One run per 2 s interval at most (plus the one due at the start).
        self.assertLessEqual(len(runs), int(elapsed / 2) + 2, runs)
        self.assertGreaterEqual(len(runs), 2, runs)
        agents = {r["agent_id"] for r in runs}
        self.assertTrue(all(agents), runs)


if __name__ == "__main__":
    unittest.main()
