"""Live changes from Active Directory (docs/product.md section 9) with a real Samba AD DC: `adc
run` watches with DirSync (LDAP_DIRSYNC_OBJECT_SECURITY, as an account that is no administrator),
woken by change notifications, or by uSNChanged; deletes arrive as tombstones (the account may
read CN=Deleted Objects, as docs/adc.8 asks), a move out of the base DN is a delete, renames
are updates; the position survives a restart; a position the DC refuses, or one made before the
DC was restored (another invocationId), leads to a full sync.

One domain is provisioned for the whole module (provisioning is the slow part); each test has
its own adc-server and sync configuration, and its own users (ou=Live is shared)."""
import os
import re
import statistics
import subprocess
import sys
import time
import unittest
import uuid

from harness.agent import Agent, cfg_text
from harness.programs import ADC
from harness.samba import SambaDC
from harness.server import AdcServer
from harness.waiting import wait_for

LIVE_TARGET_S = 10.0  # docs/product.md section 9: an Active Directory change within 10 s
BASE = "OU=Live,DC=adc,DC=test"
ELSEWHERE = "OU=Elsewhere,DC=adc,DC=test"
SVC_DN = "CN=svc-live,CN=Users,DC=adc,DC=test"
SVC_PASSWORD = "Live-Reader-Passw0rd"
# An account without the right to list CN=Deleted Objects (what a new domain gives anyone).
PLAIN_DN = "CN=svc-plain,CN=Users,DC=adc,DC=test"
# A user leaves the sync filter when it gets description=left.
USER_FILTER = "(&(objectClass=user)(objectCategory=person)(!(description=left)))"
N_USERS = 12

DC = None


def user_ldif(name, base=BASE, display=None):
    return (f"dn: CN={name},{base}\nobjectClass: user\nsAMAccountName: {name}\n"
            f"userPrincipalName: {name}@adc.test\ngivenName: {name}\nsn: Live\n"
            f"displayName: {display or name}\nmail: {name}@adc.test\n"
            "userAccountControl: 512\n\n")


def setUpModule():
    global DC
    DC = SambaDC()
    unittest.addModuleCleanup(DC.stop)
    DC.start()
    DC.ldapadd(f"dn: {BASE}\nobjectClass: organizationalUnit\n\n"
               f"dn: {ELSEWHERE}\nobjectClass: organizationalUnit\n\n"
               f"dn: {SVC_DN}\nobjectClass: user\nsAMAccountName: svc-live\n"
               "userAccountControl: 512\n\n")
    DC.ldapadd(f"dn: {PLAIN_DN}\nobjectClass: user\nsAMAccountName: svc-plain\n"
               "userAccountControl: 512\n\n")
    DC.set_password(SVC_DN, SVC_PASSWORD)
    DC.set_password(PLAIN_DN, SVC_PASSWORD)
    DC.grant_deleted_objects_read("svc-live")
    # One tombstone at least, whatever test runs first: svc-live sees it, svc-plain does not.
    DC.ldapadd(user_ldif("gone", base=ELSEWHERE))
    DC.ldapdelete(f"CN=gone,{ELSEWHERE}")


def yaml_text(watch="auto", poll_interval=None, settings=None, groups_filter=None,
              bind_dn=SVC_DN):
    lines = ["settings:", "  dry-run: false", "  delete-disables: false"]
    lines += [f"  {k}: {v}" for k, v in (settings or {}).items()]
    lines += [
        "backend:", "  ldap:",
        f"    addr: {DC.uri}",
        f"    bind_dn: {bind_dn}",
        f"    bind_password: {SVC_PASSWORD}",
        f"    base_dn: {BASE}",
        "    scope: sub",
        f"    ca_file: {DC.ca_file}",
        "    sync:",
        "      page_size: 500",
        f"      filter: \"{USER_FILTER}\"",
        f"      watch: {watch}",
        *([f"      poll_interval: {poll_interval}"] if poll_interval else []),
        *(["    groups:", f"      filter: \"{groups_filter}\""] if groups_filter else []),
        "    authentication:",
        "      username_attribute: sAMAccountName",
        "      username_filter_template: \"(&(objectClass=user)(sAMAccountName=%s))\"",
        "      timeout: 5",
    ]
    return "\n".join(lines) + "\n"


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


class LiveAD(unittest.TestCase):
    counter = 0

    def setUp(self):
        self.srv = AdcServer().start()
        self.addCleanup(self.srv.cleanup)
        self.cfg = self.srv.create_sync_config(self.id().rsplit(".", 1)[1][:40],
                                               sync_interval_minutes=0)
        self.base = "/api/v1/sync-configs/" + self.cfg["app_id"]
        # This test's users, in ou=Live (every configuration sees all of ou=Live).
        type(self).counter += 1
        self.prefix = f"t{type(self).counter:02d}u"
        self.names = [f"{self.prefix}{i:02d}" for i in range(N_USERS)]
        DC.ldapadd("".join(user_ldif(n) for n in self.names))

    def agent(self, wait_baseline=True, **kw):
        a = Agent(cfg_text(self.srv.url, self.cfg["app_id"], self.cfg["secret"]),
                  yaml_text(**kw))
        self.addCleanup(a.close)
        a.start()
        a.wait_notify("READY=1")
        if wait_baseline:
            self.wait_startup_runs(1)
        return a

    def runs(self):
        return self.srv.admin("GET", self.base + "/runs").body["runs"]

    def wait_startup_runs(self, count, a=None):
        if a:
            try:
                return self.wait_startup_runs(count)
            except AssertionError as e:
                raise AssertionError(f"{e}\n{a.log()}") from None
        return wait_for(self, f"{count} startup full sync(s)", lambda: len(
            [r for r in self.runs() if r["trigger"] == "startup" and r["status"] == "succeeded"])
            >= count, 60)

    def live(self):
        return self.srv.admin("GET", self.base).body["live"]

    def cloud(self):
        r = self.srv.scim(self.cfg, "GET", "/Users?count=5000")
        self.assertEqual(r.status, 200, r)
        return {u["userName"]: u for u in r.body.get("Resources", [])}

    def until(self, what, predicate, timeout=LIVE_TARGET_S):
        t0 = time.monotonic()
        wait_for(self, what, predicate, timeout, step=0.05)
        return time.monotonic() - t0

    def modify(self, name, attr, value, base=BASE):
        DC.ldapmodify(f"dn: CN={name},{base}\nchangetype: modify\nreplace: {attr}\n"
                      f"{attr}: {value}\n")

    def move(self, name, new_rdn, new_base):
        DC.ldapmodify(f"dn: CN={name},{BASE}\nchangetype: modrdn\nnewrdn: CN={new_rdn}\n"
                      f"deleteoldrdn: 1\nnewsuperior: {new_base}\n")

    def state_file(self, a):
        (path,) = [os.path.join(a.state_dir, f) for f in os.listdir(a.state_dir)
                   if f.startswith("live-")]
        return path

    def mine(self, cloud):
        return {n for n in cloud if n.startswith(self.prefix)}

    def test_changes_reach_the_cloud_live(self):
        a = self.agent()
        self.assertEqual(self.mine(self.cloud()), set(self.names))
        # The users the startup full sync created count (a percentage max-delete of live
        # deletes is resolved against them).
        owned = int(re.search(r"baseline set \((\d+) users", a.log()).group(1))
        self.assertEqual(owned, len(self.cloud()))
        live = wait_for(self, "a live status", lambda: self.live(), 10)
        self.assertEqual(live["watch"], "dirsync")
        a.wait_log(f"from {DC.base_dn}, woken by change notifications")
        self.assertNotIn("sees no deleted object", a.log())
        r = subprocess.run([ADC, "-C", a.cfg_path, "check"], capture_output=True, text=True,
                           timeout=60)
        self.assertIn("live changes: dirsync (Active Directory: DirSync", r.stdout, r.stderr)

        u0, u1, u2, u3, u4, u5 = self.names[:6]
        self.modify(u0, "displayName", "Live Display")
        self.until("a modify", lambda: self.cloud()[u0].get("displayName") == "Live Display")

        new = self.prefix + "new"
        DC.ldapadd(user_ldif(new))
        self.until("an add", lambda: new in self.cloud())
        self.assertEqual(self.cloud()[new]["active"], True)

        # A disabled account (userAccountControl ACCOUNTDISABLE) is inactive in the cloud.
        self.modify(u1, "userAccountControl", "514")
        self.until("a disable", lambda: self.cloud()[u1]["active"] is False)

        # Renames are updates: a new cn (the DN changes), and a new sAMAccountName (userName).
        cloud_id = self.cloud()[u2]["id"]
        DC.ldapmodify(f"dn: CN={u2},{BASE}\nchangetype: modrdn\nnewrdn: CN={u2}-renamed\n"
                      "deleteoldrdn: 1\n")
        DC.ldapmodify(f"dn: CN={u2}-renamed,{BASE}\nchangetype: modify\nreplace: displayName\n"
                      "displayName: After The Rename\n")
        self.until("a change after a cn rename",
                   lambda: self.cloud()[u2].get("displayName") == "After The Rename")
        renamed = u3 + "x"
        old_id = self.cloud()[u3]["id"]
        self.modify(u3, "sAMAccountName", renamed)
        self.until("a userName rename", lambda: renamed in self.cloud())
        self.assertEqual(self.cloud()[renamed]["id"], old_id)
        self.assertNotIn(u3, self.cloud())
        self.assertEqual(self.cloud()[u2]["id"], cloud_id)

        # Moved out of the base DN: a delete. Moved within it: an update, nothing lost.
        self.move(u4, u4, ELSEWHERE)
        self.until("a move out of the base DN", lambda: u4 not in self.cloud())

        # Leaving the sync filter is like a delete.
        u6 = self.names[6]
        self.modify(u6, "description", "left")
        self.until("leaving the filter", lambda: u6 not in self.cloud())

        # A delete arrives as a tombstone.
        DC.ldapdelete(f"CN={u5},{BASE}")
        self.until("a delete", lambda: u5 not in self.cloud())
        for n in self.names[7:]:
            self.assertIn(n, self.cloud())
        # No full sync besides the startup one: each change was a delta.
        self.assertEqual([r["trigger"] for r in self.runs()], ["startup"])
        self.assertTrue(self.runs()[0]["agent_id"], self.runs())
        live = wait_for(self, "changes counted", lambda: self.live()["changes_applied"] >= 8
                        and self.live(), 5)
        self.assertTrue(live["flowing"])
        a.term()
        self.assertEqual(a.wait(), 0)

    def test_changes_made_while_down_arrive_after_a_restart(self):
        a = self.agent()
        a.term()
        self.assertEqual(a.wait(), 0)
        self.state_file(a)
        u0, victim = self.names[0], self.names[1]
        new = self.prefix + "new"
        self.modify(u0, "displayName", "Changed While Down")
        DC.ldapadd(user_ldif(new))
        DC.ldapdelete(f"CN={victim},{BASE}")
        a.start()
        a.wait_notify("READY=1")
        self.until("the changes made while down", lambda: (
            self.cloud().get(u0, {}).get("displayName") == "Changed While Down"
            and new in self.cloud() and victim not in self.cloud()))
        self.assertEqual([r["trigger"] for r in self.runs()], ["startup"], a.log())

    def corrupt_and_restart(self, a, change):
        a.term()
        self.assertEqual(a.wait(), 0)
        import json
        path = self.state_file(a)
        with open(path) as f:
            state = json.load(f)
        state["position"] = change(state["position"])
        with open(path, "w") as f:
            json.dump(state, f)
        victim, u0 = self.names[2], self.names[0]
        DC.ldapdelete(f"CN={victim},{BASE}")
        self.modify(u0, "displayName", "After The Refusal")
        a.start()
        a.wait_notify("READY=1")
        self.wait_startup_runs(2, a)
        cloud = self.cloud()
        self.assertNotIn(victim, cloud)
        self.assertEqual(cloud[u0]["displayName"], "After The Refusal")
        self.assertEqual(self.mine(cloud), set(self.names) - {victim})
        # And it streams on from the new position.
        self.modify(u0, "displayName", "Streaming Again")
        self.until("a change after the full sync",
                   lambda: self.cloud()[u0].get("displayName") == "Streaming Again")

    def test_a_cookie_the_dc_refuses_leads_to_a_full_sync(self):
        a = self.agent()

        def unreadable(pos):
            # This DC's cookie cut after its invocationId (the up-to-dateness vector it announces
            # is missing): Samba cannot unmarshall it and answers 12 (unavailable critical
            # extension), the way a DC answers a cookie it cannot use.
            return pos[:68 * 2]
        self.corrupt_and_restart(a, unreadable)
        self.assertIn("the DC refused the DirSync cookie", a.log())
        self.assertIn("no longer accepts the saved position", a.log())

    def test_a_restored_dc_leads_to_a_full_sync(self):
        a = self.agent()

        def other_invocation(pos):
            raw = bytearray(bytes.fromhex(pos))
            raw[52:68] = uuid.uuid4().bytes  # the cookie's invocationId
            return raw.hex()
        self.corrupt_and_restart(a, other_invocation)
        self.assertIn("restored from a backup", a.log())

    def test_a_restored_dc_leads_to_a_full_sync_with_usn(self):
        a = self.agent(watch="usn", poll_interval=1)

        def other_invocation(pos):
            usn, invocation, dsa = pos.split(" ", 2)
            self.assertEqual(len(invocation), 32)
            return f"{usn} {uuid.uuid4().hex} {dsa}"
        self.corrupt_and_restart(a, other_invocation)
        self.assertIn("was restored from a backup since", a.log())

    def test_the_dc_restarted_notifications_registered_again(self):
        # The DC goes away (its connections and the change notification with them) and comes
        # back: adc reconnects, registers the notification again, reads from its position,
        # and changes made right after flow as before.
        a = self.agent()
        a.wait_log(f"from {DC.base_dn}, woken by change notifications")
        DC.restart()
        u = self.names[0]
        self.modify(u, "displayName", "After The DC Restart")
        # The watcher retries with a backoff of 1 s doubling: within a few seconds.
        self.until("a change after the DC restarted",
                   lambda: self.cloud()[u].get("displayName") == "After The DC Restart", 30)
        self.assertEqual(a.log().count(f"from {DC.base_dn}, woken by change notifications"), 2,
                         a.log())
        t0 = time.monotonic()
        self.modify(u, "displayName", "Notified Again")
        self.until("a change woken by the new notification",
                   lambda: self.cloud()[u].get("displayName") == "Notified Again", 4)
        self.assertLess(time.monotonic() - t0, 4)
        self.assertEqual([r["trigger"] for r in self.runs()], ["startup"])

    def test_without_the_deleted_objects_right_a_full_sync_catches_deletes(self):
        a = self.agent(bind_dn=PLAIN_DN)
        # The check runs when the watcher starts, after the startup sync the agent() call waits
        # for: under a sanitizer the startup run could be seen before it.
        a.wait_log("sees no deleted object in CN=Deleted Objects")
        u, victim = self.names[0], self.names[1]
        DC.ldapdelete(f"CN={victim},{BASE}")
        self.modify(u, "displayName", "After The Delete")
        self.until("the modify after the delete",
                   lambda: self.cloud()[u].get("displayName") == "After The Delete")
        # The delete was not seen live (no tombstone for this account) ...
        self.assertIn(victim, self.cloud())
        # ... and the next full sync removes it.
        r = self.srv.admin("POST", self.base + "/sync", {})
        self.assertEqual(r.status, 202, r)
        self.until("the full sync", lambda: victim not in self.cloud(), 30)

    def test_usn_and_notify(self):
        for watch in ("usn", "notify"):
            with self.subTest(watch=watch):
                a = self.agent(watch=watch, poll_interval=1)
                wait_for(self, "the live status", lambda: self.live()
                         and self.live()["watch"] == watch, 10)
                u = self.names[0]
                self.modify(u, "displayName", f"By {watch}")
                self.until(f"a modify by {watch}",
                           lambda: self.cloud()[u].get("displayName") == f"By {watch}")
                a.term()
                self.assertEqual(a.wait(), 0)
                victim = self.names[1 if watch == "usn" else 2]
                DC.ldapdelete(f"CN={victim},{BASE}")
                a.start()
                a.wait_notify("READY=1")
                self.until(f"a delete made while down ({watch})",
                           lambda: victim not in self.cloud())
                self.assertEqual([r["trigger"] for r in self.runs()].count("startup"),
                                 1 if watch == "usn" else 2, a.log())
                a.close()

    def test_membership_changes_reach_the_cloud_live(self):
        group = f"CN={self.prefix}team,{BASE}"
        DC.ldapadd(f"dn: {group}\nobjectClass: group\nsAMAccountName: {self.prefix}team\n"
                   + "".join(f"member: CN={n},{BASE}\n" for n in self.names[:3]) + "\n")
        a = self.agent(groups_filter=f"(&(objectClass=group)(cn={self.prefix}*))")

        def members():
            r = self.srv.scim(self.cfg, "GET", "/Groups?count=100")
            groups = {g["displayName"]: g for g in r.body.get("Resources", [])}
            g = groups.get(f"{self.prefix}team")
            if g is None:
                return None
            ids = {u["id"]: n for n, u in self.cloud().items()}
            return sorted(ids.get(m["value"], "?") for m in g.get("members", []))
        self.assertEqual(members(), self.names[:3])
        DC.ldapmodify(f"dn: {group}\nchangetype: modify\nadd: member\n"
                      f"member: CN={self.names[5]},{BASE}\n-\ndelete: member\n"
                      f"member: CN={self.names[0]},{BASE}\n")
        self.until("a membership change",
                   lambda: members() == sorted(self.names[1:3] + [self.names[5]]))
        # DirSync with incremental values: only the changed members, not the group, were read.
        self.assertIn("1 added, 1 removed (incremental values)", a.log())
        # A member deleted leaves the group; the group deleted leaves the cloud.
        DC.ldapdelete(f"CN={self.names[1]},{BASE}")
        self.until("a deleted member", lambda: members() == sorted([self.names[2],
                                                                    self.names[5]]))
        DC.ldapdelete(group)
        self.until("a deleted group", lambda: members() is None)

    def test_latency(self):
        """~20 changes, change-to-cloud time (p50/p99); docs/BENCHMARKS.md records it."""
        self.agent()
        times = []
        for i in range(20):
            u = self.names[i % len(self.names)]
            value = f"Latency {i}"
            t0 = time.monotonic()
            self.modify(u, "displayName", value)
            wait_for(self, "a change", lambda: self.cloud()[u].get("displayName") == value,
                     LIVE_TARGET_S, step=0.02)
            times.append(time.monotonic() - t0)
        p50, p99 = statistics.median(times), percentile(times, 99)
        print(f"\nsamba live latency over {len(times)} changes: p50 {p50 * 1000:.0f} ms, "
              f"p99 {p99 * 1000:.0f} ms, max {max(times) * 1000:.0f} ms", file=sys.stderr)
        self.assertLess(p99, LIVE_TARGET_S)


if __name__ == "__main__":
    unittest.main()
