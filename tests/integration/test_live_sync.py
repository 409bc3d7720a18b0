"""Keeping in step by itself (docs/product.md section 9): the server's full-sync schedule, the
run's trigger, and live changes streamed by `adc run` from a real slapd (with the syncprov
overlay, and without it: the modifyTimestamp poll)."""
import os
import tempfile
import time
import unittest

from harness import dirsrv, ldif
from harness.agent import Agent, cfg_text, yaml_text
from harness.server import AdcServer, basic_auth
from harness.slapd import Slapd
from harness.waiting import wait_for

N_USERS = 40


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


LIVE_TARGET_S = 2.0  # docs/product.md section 9: an OpenLDAP change in the cloud within 2 s
# An entry leaves the sync filter when it gets description=left.
FILTER = "(&(objectClass=inetOrgPerson)(!(description=left)))"


class LiveBase(unittest.TestCase):
    """One slapd per class (syncprov or not); an adc-server and a configuration per test, no
    schedule, so that every run seen is the agent's own (trigger startup) or asked for."""
    syncprov = True
    sessionlog = True
    n_users = 30

    @classmethod
    def setUpClass(cls):
        cls.users = ldif.generate(cls.n_users, special=False)
        cls.slapd = Slapd(ldif=cls.users, syncprov=cls.syncprov,
                          syncprov_sessionlog=cls.sessionlog).__enter__()
        cls.extra = 0

    @classmethod
    def tearDownClass(cls):
        cls.slapd.close()

    def setUp(self):
        self.srv = AdcServer().start()
        self.addCleanup(self.srv.cleanup)
        self.cfg = self.srv.create_sync_config(self.id().rsplit(".", 1)[1][:40],
                                               sync_interval_minutes=0)
        self.base = "/api/v1/sync-configs/" + self.cfg["app_id"]

    def agent(self, watch="auto", settings=None, wait_baseline=True, **kw):
        a = Agent(cfg_text(self.srv.url, self.cfg["app_id"], self.cfg["secret"]),
                  yaml_text(self.slapd, watch=watch, extra_settings=settings, filter_=FILTER,
                            **kw))
        self.addCleanup(a.close)
        a.start()
        a.wait_notify("READY=1")
        if wait_baseline:
            self.wait_startup_run()
        return a

    def runs(self):
        return self.srv.admin("GET", self.base + "/runs").body["runs"]

    def wait_startup_run(self, count=1):
        runs = wait_for(self, "the startup full sync",
                        lambda: [r for r in self.runs()
                                 if r["trigger"] == "startup" and r["status"] == "succeeded"]
                        if len([r for r in self.runs() if r["trigger"] == "startup"
                                and r["status"] == "succeeded"]) >= count else None, 60)
        return runs

    def live(self):
        return self.srv.admin("GET", self.base).body["live"]

    def cloud(self):
        r = self.srv.scim(self.cfg, "GET", "/Users?count=5000")
        self.assertEqual(r.status, 200, r)
        return {u["userName"]: u for u in r.body.get("Resources", [])}

    def new_user(self):
        """A user nobody else in the class uses (the slapd is shared by the tests)."""
        type(self).extra += 1
        return ldif.regular_user(10000 + type(self).extra)

    def until(self, what, predicate, timeout=LIVE_TARGET_S):
        """predicate() true within `timeout` seconds of now; returns the seconds it took."""
        t0 = time.monotonic()
        wait_for(self, what, predicate, timeout, step=0.02)
        return time.monotonic() - t0

    def modify(self, u, attr, value):
        self.slapd.ldapmodify(f"dn: {u.dn}\nchangetype: modify\nreplace: {attr}\n{attr}: {value}\n")


class LiveSyncrepl(LiveBase):
    """OpenLDAP with syncprov: RFC 4533 refreshAndPersist."""

    def test_changes_reach_the_cloud_live(self):
        a = self.agent()
        cloud = self.cloud()
        # The startup full sync put the directory there (the slapd is shared by the class).
        self.assertGreaterEqual(len(cloud), self.n_users - 1)
        for x in self.users[:4]:
            self.assertIn(x.mail[0], cloud)
        live = wait_for(self, "a live status", lambda: self.live(), 10)
        self.assertEqual(live["watch"], "syncrepl")
        self.assertEqual(live["state"], "streaming")
        self.assertTrue(live["flowing"])
        self.assertIn("live changes: syncrepl", a.log())

        u = self.users[0]
        name = u.mail[0]
        self.modify(u, "displayName", "Live Display")
        self.until("a modify", lambda: self.cloud()[name].get("displayName") == "Live Display")

        n = self.new_user()
        self.slapd.ldapadd(ldif.entry(n, operational=False))
        self.until("an add", lambda: n.mail[0] in self.cloud())

        # A rename: the userName (mail) changes; the cloud user keeps its id.
        old_id = self.cloud()[n.mail[0]]["id"]
        self.modify(n, "mail", "renamed-" + n.mail[0])
        self.until("a rename", lambda: ("renamed-" + n.mail[0]) in self.cloud())
        self.assertEqual(self.cloud()["renamed-" + n.mail[0]]["id"], old_id)
        self.assertNotIn(n.mail[0], self.cloud())

        v = self.users[1]
        self.slapd.lock(v.dn)
        self.until("a lock", lambda: self.cloud()[v.mail[0]]["active"] is False)
        self.slapd.unlock(v.dn)
        self.until("an unlock", lambda: self.cloud()[v.mail[0]]["active"] is True)

        self.slapd.ldapdelete(n.dn)
        self.until("a delete", lambda: ("renamed-" + n.mail[0]) not in self.cloud())

        # A user leaving the sync filter is like a delete.
        w = self.users[2]
        self.modify(w, "description", "left")
        self.addCleanup(self.slapd.ldapmodify,
                        f"dn: {w.dn}\nchangetype: modify\ndelete: description\n")
        self.until("leaving the filter", lambda: w.mail[0] not in self.cloud())
        live = wait_for(self, "changes counted", lambda: self.live()["changes_applied"] >= 7
                        and self.live(), 5)
        self.assertTrue(live["last_change"])
        self.assertIsNotNone(live["last_change_at"])
        # Password checks are answered while changes stream.
        r = self.srv.request("POST", "/api/v1/login",
                             {"username": self.users[3].mail[0],
                              "password": self.users[3].password}, timeout=30)
        self.assertEqual(r.status, 200, r)
        # One startup run, no other run: live changes make no run records.
        self.assertEqual([r["trigger"] for r in self.runs()], ["startup"])
        a.term()
        self.assertEqual(a.wait(), 0)
        self.assertFalse(self.live()["flowing"])

    def test_check_shows_the_watcher(self):
        a = Agent(cfg_text(self.srv.url, self.cfg["app_id"], self.cfg["secret"]),
                  yaml_text(self.slapd, watch="auto"))
        self.addCleanup(a.close)
        import subprocess
        from harness.programs import ADC
        r = subprocess.run([ADC, "-C", a.cfg_path, "check"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("live changes: syncrepl (the directory offers RFC 4533 content "
                      "synchronization", r.stdout)
        a.write_yaml(yaml_text(self.slapd, watch="poll", poll_interval=5))
        r = subprocess.run([ADC, "-C", a.cfg_path, "check"], capture_output=True, text=True,
                           timeout=60)
        self.assertIn("live changes: poll (backend.ldap.sync.watch)", r.stdout)
        a.write_yaml(yaml_text(self.slapd, watch="sometimes"))
        r = subprocess.run([ADC, "-C", a.cfg_path, "check"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 3)
        self.assertIn("watch must be auto, syncrepl, dirsync, notify, usn, poll or off, not "
                      "'sometimes'", r.stderr)

    def test_changes_made_while_the_agent_was_down_arrive(self):
        a = self.agent()
        a.term()
        self.assertEqual(a.wait(), 0)
        state = [f for f in os.listdir(a.state_dir) if f.startswith("live-")]
        self.assertEqual(len(state), 1, os.listdir(a.state_dir))
        u, gone = self.users[4], self.new_user()
        self.slapd.ldapadd(ldif.entry(gone, operational=False))
        n = self.new_user()
        self.modify(u, "displayName", "Changed While Down")
        self.slapd.ldapadd(ldif.entry(n, operational=False))
        # Created and deleted while down: never seen; and a user of the baseline deleted.
        self.slapd.ldapdelete(gone.dn)
        victim = self.users[5]
        self.slapd.ldapdelete(victim.dn)
        a.start()
        a.wait_notify("READY=1")
        self.until("the changes made while down", lambda: (
            self.cloud().get(u.mail[0], {}).get("displayName") == "Changed While Down"
            and n.mail[0] in self.cloud() and victim.mail[0] not in self.cloud()), 10)
        self.assertNotIn(gone.mail[0], self.cloud())
        # Resumed from the saved position: no second full sync.
        self.assertEqual([r["trigger"] for r in self.runs()], ["startup"], a.log())
        self.assertIn("from the saved position", a.log())
        # Put the directory back for the other tests.
        self.slapd.ldapadd(ldif.entry(victim, operational=False))

    def test_server_dry_run_blocks_live_writes(self):
        self.agent()
        u = self.users[6]
        before = self.cloud()[u.mail[0]].get("displayName")
        self.srv.set_settings(self.cfg, {"dry-run": True})
        self.modify(u, "displayName", "Must Not Arrive")
        wait_for(self, "the change seen as a dry run",
                 lambda: "dry run" in (self.live().get("last_change") or ""), 5)
        self.assertEqual(self.cloud()[u.mail[0]].get("displayName"), before)
        self.srv.set_settings(self.cfg, {"dry-run": None})
        self.modify(u, "displayName", "Arrives Now")
        self.until("the next change after dry-run ended",
                   lambda: self.cloud()[u.mail[0]].get("displayName") == "Arrives Now")

    def test_burst_of_deletes_pauses_live_deletes(self):
        extra = [self.new_user() for _ in range(5)]
        self.slapd.ldapadd("".join(ldif.entry(x, operational=False) for x in extra))
        self.addCleanup(lambda: self.slapd.ldapdelete(*[x.dn for x in extra], check=False))
        a = Agent(cfg_text(self.srv.url, self.cfg["app_id"], self.cfg["secret"]),
                  yaml_text(self.slapd, watch="auto").replace(
                      "settings:\n", "settings:\n  max-delete: 2\n"))
        self.addCleanup(a.close)
        a.start()
        self.wait_startup_run()
        for x in extra:
            wait_for(self, "the extra users", lambda: x.mail[0] in self.cloud(), 5)
        self.slapd.ldapdelete(*[x.dn for x in extra])
        live = wait_for(self, "the pause", lambda: self.live()["state"] == "paused"
                        and self.live(), 10)
        self.assertIn("max-delete", live["detail"])
        time.sleep(1)
        left = [x for x in extra if x.mail[0] in self.cloud()]
        self.assertEqual(len(left), 3, "two deletes flow, the rest wait for a full sync")
        self.assertIn("live deletes paused", a.log())
        # A full sync judges them: three deletes, more than max-delete 2: the guard stops it.
        r = self.srv.admin("POST", self.base + "/sync", {})
        self.assertEqual(r.status, 202, r)
        run = wait_for(self, "the full sync", lambda: [x for x in self.runs()
                                                       if x["run_id"] == r.body["run_id"]
                                                       and x["status"] in ("succeeded", "failed")],
                       30)[0]
        self.assertEqual(run["status"], "failed")
        self.assertTrue(any("mass-delete guard" in e for e in run["errors"]), run)
        self.assertEqual(len([x for x in extra if x.mail[0] in self.cloud()]), 3)

    def test_corrupt_state_file_leads_to_a_full_sync(self):
        a = self.agent()
        a.term()
        self.assertEqual(a.wait(), 0)
        (state,) = [os.path.join(a.state_dir, f) for f in os.listdir(a.state_dir)
                    if f.startswith("live-")]
        with open(state, "w") as f:
            f.write('{"version": 1, "watch": "syncrepl", "position": "zz')
        u = self.users[7]
        self.modify(u, "displayName", "After Corruption")
        a.start()
        a.wait_notify("READY=1")
        self.wait_startup_run(count=2)
        self.assertIn("is corrupt", a.log())
        cloud = self.cloud()
        self.assertEqual(cloud[u.mail[0]]["displayName"], "After Corruption")
        # Nobody was deleted on the strength of a bad position.
        for x in self.users[8:]:
            self.assertIn(x.mail[0], cloud)

    def test_a_cookie_slapd_refuses_leads_to_a_full_sync(self):
        # Two answers of slapd to a cookie it cannot resume from, each while a user was deleted
        # and another changed: newer than its own state (a directory restored from a backup:
        # "unwilling to perform", which adc takes as e-syncRefreshRequired), and far older than
        # its session log (a refresh with every entry present, which cannot list deletes).
        import json
        a = self.agent()
        cases = [("20991231000000.000000Z", "no longer accepts the saved position"),
                 ("19991231000000.000000Z", "deletes made meanwhile cannot be listed")]
        for i, (csn, said) in enumerate(cases):
            with self.subTest(csn=csn):
                a.term()
                self.assertEqual(a.wait(), 0)
                (path,) = [os.path.join(a.state_dir, f) for f in os.listdir(a.state_dir)
                           if f.startswith("live-")]
                with open(path) as f:
                    state = json.load(f)
                state["position"] = f"rid=000,csn={csn}#000000#000#000000".encode().hex()
                with open(path, "w") as f:
                    json.dump(state, f)
                victim, u = self.users[10 + i], self.users[12]
                self.slapd.ldapdelete(victim.dn)
                self.addCleanup(self.slapd.ldapadd, ldif.entry(victim, operational=False))
                self.modify(u, "displayName", f"Refused {i}")
                a.start()
                a.wait_notify("READY=1")
                self.wait_startup_run(count=2 + i)
                self.assertIn(said, a.log())
                cloud = self.cloud()
                self.assertNotIn(victim.mail[0], cloud)
                self.assertEqual(cloud[u.mail[0]]["displayName"], f"Refused {i}")
                # Nothing else was lost.
                for x in self.users[13:]:
                    self.assertIn(x.mail[0], cloud)
                self.modify(u, "displayName", f"Streaming {i}")
                self.until("a change after the full sync",
                           lambda: self.cloud()[u.mail[0]].get("displayName") == f"Streaming {i}")
        # Every startup run names the agent that ran it.
        self.assertTrue(all(r["agent_id"] for r in self.runs()), self.runs())


class LiveWithoutSessionLog(LiveBase):
    """syncprov without a session log: resuming from a cookie, the deletes made meanwhile are
    only implied (a "present" phase), which a consumer cannot list: a full sync finds them."""
    sessionlog = False
    n_users = 10

    def test_deletes_while_down_arrive_through_a_full_sync(self):
        a = self.agent()
        a.term()
        self.assertEqual(a.wait(), 0)
        u, victim = self.users[0], self.users[1]
        self.modify(u, "displayName", "While Down")
        self.slapd.ldapdelete(victim.dn)
        a.start()
        a.wait_notify("READY=1")
        self.wait_startup_run(count=2)
        self.assertIn("deletes made meanwhile cannot be listed", a.log())
        cloud = self.cloud()
        self.assertNotIn(victim.mail[0], cloud)
        self.assertEqual(cloud[u.mail[0]]["displayName"], "While Down")
        for x in self.users[2:]:
            self.assertIn(x.mail[0], cloud)
        # And it streams on.
        self.modify(u, "displayName", "After Resume")
        self.until("a change after the resume",
                   lambda: self.cloud()[u.mail[0]].get("displayName") == "After Resume")


class LivePoll(LiveBase):
    """slapd without syncprov: the modifyTimestamp poll."""
    syncprov = False
    n_users = 10

    def test_poll_fallback(self):
        a = self.agent(poll_interval=1)
        live = wait_for(self, "a live status", lambda: self.live(), 10)
        self.assertEqual(live["watch"], "poll")
        self.assertIn("no change stream", a.log())
        u = self.users[0]
        self.modify(u, "displayName", "Polled")
        self.until("a polled modify", lambda: self.cloud()[u.mail[0]].get("displayName")
                   == "Polled", 5)
        n = self.new_user()
        self.slapd.ldapadd(ldif.entry(n, operational=False))
        self.until("a polled add", lambda: n.mail[0] in self.cloud(), 5)
        # Leaving the filter is seen by a poll too: like a delete.
        self.modify(n, "description", "left")
        self.until("a polled leave", lambda: n.mail[0] not in self.cloud(), 5)


@unittest.skipUnless(dirsrv.available(), "389-ds-base is not installed")
class Live389(LiveBase):
    """389-ds with the Retro Changelog and Content Synchronization plugins: the syncUUID is
    derived from nsUniqueId while adc uses entryUUID (389-ds 2.x), so a delete must be mapped
    to the identity adc uses."""
    n_users = 10

    @classmethod
    def setUpClass(cls):
        cls.users = ldif.generate(cls.n_users, special=False)
        cls.slapd = dirsrv.DirSrv(ldif=cls.users).__enter__()
        cls.extra = 0
        cls.slapd.dsconf("plugin", "retro-changelog", "enable")
        cls.slapd.dsconf("plugin", "contentsync", "enable")
        dirsrv._run(["dsctl", cls.slapd.instance, "restart"], env=cls.slapd.env())

    def test_content_sync_with_389(self):
        self.agent()
        live = wait_for(self, "a live status", lambda: self.live(), 10)
        self.assertEqual(live["watch"], "syncrepl")
        u = self.users[0]
        self.modify(u, "displayName", "Live 389")
        self.until("a modify", lambda: self.cloud()[u.mail[0]].get("displayName") == "Live 389")
        n = self.new_user()
        self.slapd.ldapadd(ldif.entry(n, operational=False))
        self.until("an add", lambda: n.mail[0] in self.cloud())
        self.slapd.ldapdelete(n.dn)
        self.until("a delete (mapped from the nsUniqueId syncUUID)",
                   lambda: n.mail[0] not in self.cloud())

    def test_group_membership_with_389(self):
        # Membership changes live (docs/product.md section 10): the group entry's modify, and its
        # delete mapped from the nsUniqueId syncUUID to the group's entryUUID.
        g = f"cn=team389,{self.slapd.base_dn}"
        self.slapd.ldapadd(f"dn: {g}\nobjectClass: groupOfNames\ncn: team389\n"
                           f"member: {self.users[1].dn}\n")
        yaml = yaml_text(self.slapd, watch="auto", filter_=FILTER).replace(
            "    authentication:", "    groups:\n"
            "      filter: \"(&(objectClass=groupOfNames)(cn=team389))\"\n"
            "    authentication:", 1)
        a = Agent(cfg_text(self.srv.url, self.cfg["app_id"], self.cfg["secret"]), yaml)
        self.addCleanup(a.close)
        a.start()
        a.wait_notify("READY=1")
        self.wait_startup_run()
        a.wait_log("content synchronization started", 20)

        def members():
            r = self.srv.scim(self.cfg, "GET", "/Groups?count=10")
            gs = [x for x in r.body.get("Resources", []) if x["displayName"] == "team389"]
            if not gs:
                return None
            names = {u["id"]: n for n, u in self.cloud().items()}
            return sorted(names.get(m["value"], "?") for m in gs[0].get("members", []))
        self.assertEqual(members(), [self.users[1].mail[0]])
        self.slapd.ldapmodify(f"dn: {g}\nchangetype: modify\nadd: member\n"
                              f"member: {self.users[2].dn}\n")
        self.until("a member added", lambda: members() == sorted(
            [self.users[1].mail[0], self.users[2].mail[0]]))
        self.slapd.ldapmodify(f"dn: {g}\nchangetype: modify\ndelete: member\n"
                              f"member: {self.users[1].dn}\n")
        self.until("a member removed", lambda: members() == [self.users[2].mail[0]])
        self.slapd.ldapdelete(g)
        self.until("a group delete", lambda: members() is None)


if __name__ == "__main__":
    unittest.main()
