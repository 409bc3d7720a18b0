"""Membership changes live through `adc run` (docs/product.md sections 9 and 10), from a real slapd
with syncprov (RFC 4533) and without it (the modifyTimestamp poll) into a real adc-server: a member
added and removed arrives without "Sync now" as one small PATCH of that member (the server's audit
and adc's log show its size), a group renamed keeps its id, a group deleted or leaving the
groups' filter is deleted, a new group is created, a member outside the sync scope is reported
and never invented, a user deleted leaves its groups, a member DN that follows a renamed user
keeps the membership, and with `nested: flatten` a change in a nested group updates the
flattened members of the group that contains it."""
import re
import time
import unittest

from harness import ldif
from harness.agent import Agent, cfg_text, yaml_text
from harness.server import AdcServer
from harness.slapd import Slapd
from harness.waiting import wait_for

B = ldif.BASE_DN
G = "ou=groups," + B
LIVE_TARGET_S = 2.0  # docs/product.md section 9: an OpenLDAP change in the cloud within 2 s
GROUPS_FILTER = ("(&(|(objectClass=groupOfNames)(objectClass=posixGroup))"
                 "(!(description=hidden)))")


def udn(i):
    return f"uid=user{i:06d},ou=people,{B}"


def mail(i):
    return f"user{i:06d}@example.org"


def group_ldif():
    return (
        f"dn: {G}\nobjectClass: organizationalUnit\nou: groups\n\n"
        f"dn: cn=team,{G}\nobjectClass: groupOfNames\ncn: team\n"
        + "".join(f"member: {udn(i)}\n" for i in range(5)) + "\n"
        f"dn: cn=sub,{G}\nobjectClass: groupOfNames\ncn: sub\n"
        f"member: {udn(10)}\nmember: {udn(11)}\n\n"
        f"dn: cn=parent,{G}\nobjectClass: groupOfNames\ncn: parent\n"
        f"member: cn=sub,{G}\nmember: {udn(12)}\n\n"
        f"dn: cn=posix,{G}\nobjectClass: posixGroup\ncn: posix\ngidNumber: 5000\n"
        "memberUid: user000020\n\n"
        f"dn: cn=gone,{G}\nobjectClass: groupOfNames\ncn: gone\nmember: {udn(21)}\n\n"
        f"dn: cn=hideme,{G}\nobjectClass: groupOfNames\ncn: hideme\nmember: {udn(22)}\n\n"
        f"dn: cn=foreign,{G}\nobjectClass: groupOfNames\ncn: foreign\ndescription: hidden\n"
        f"member: {udn(23)}\n\n")


class LiveGroupsBase(unittest.TestCase):
    syncprov = True
    nested = "keep"
    watch = "auto"
    poll_interval = None
    target = LIVE_TARGET_S
    max_delete = None

    @classmethod
    def setUpClass(cls):
        cls.users = ldif.generate(30, special=False)
        cls.slapd = Slapd(ldif=cls.users, syncprov=cls.syncprov).__enter__()
        cls.slapd.ldapadd(group_ldif())
        cls.srv = AdcServer().start()
        cls.cfg = cls.srv.create_sync_config("groups", sync_interval_minutes=0)
        yaml = yaml_text(cls.slapd, watch=cls.watch, poll_interval=cls.poll_interval)
        yaml = yaml.replace("    authentication:",
                            "    groups:\n"
                            f"      filter: \"{GROUPS_FILTER}\"\n"
                            f"      nested: {cls.nested}\n"
                            "    authentication:", 1)
        if cls.max_delete is not None:
            yaml = yaml.replace("settings:\n", f"settings:\n  max-delete: {cls.max_delete}\n", 1)
        cls.agent = Agent(cfg_text(cls.srv.url, cls.cfg["app_id"], cls.cfg["secret"]), yaml)
        cls.agent.start()
        cls.agent.wait_notify("READY=1")
        base = "/api/v1/sync-configs/" + cls.cfg["app_id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = cls.srv.admin("GET", base + "/runs").body["runs"]
            if any(r["trigger"] == "startup" and r["status"] == "succeeded" for r in runs):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("no startup full sync:\n" + cls.agent.log())
        cls.agent.wait_log("content synchronization started" if cls.syncprov
                           else "polling modifyTimestamp", 30)

    @classmethod
    def tearDownClass(cls):
        cls.agent.close()
        cls.srv.cleanup()
        cls.slapd.close()

    def groups(self):
        r = self.srv.scim("admin", "GET", "/Groups?count=1000")
        self.assertEqual(r.status, 200, r)
        return {g["displayName"]: g for g in r.body.get("Resources", [])}

    def users_by_id(self):
        r = self.srv.scim("admin", "GET", "/Users?count=1000&attributes=userName")
        return {u["id"]: u["userName"] for u in r.body.get("Resources", [])}

    def members(self, name):
        g = self.groups().get(name)
        if g is None:
            return None
        users = self.users_by_id()
        groups = {x["id"]: x["displayName"] for x in self.groups().values()}
        return sorted(users.get(m["value"]) or "group:" + groups.get(m["value"], "?")
                      for m in g.get("members", []))

    def until(self, what, predicate):
        wait_for(self, what, predicate, self.target, step=0.02)

    def modify(self, dn, text):
        self.slapd.ldapmodify(f"dn: {dn}\nchangetype: modify\n{text}")

    def patch_audits(self, group_id):
        r = self.srv.admin("GET", "/api/v1/audit?limit=500")
        return [e for e in r.body["entries"]
                if e["target"] == group_id and "added=" in (e["detail"] or "")]

    def last_patch_bytes(self, name):
        """The bytes adc reports for its last live change of group `name`."""
        found = re.findall(rf"group '{re.escape(name)}'[^\n]*\((\d+) bytes\)", self.agent.log())
        self.assertTrue(found, self.agent.log()[-3000:])
        return int(found[-1])


class LiveGroupsSyncrepl(LiveGroupsBase):
    """OpenLDAP with syncprov, nested: keep."""

    def test_1_startup_put_the_groups_there(self):
        self.assertEqual(self.members("team"), sorted(mail(i) for i in range(5)))
        self.assertEqual(self.members("parent"), sorted(["group:sub", mail(12)]))
        self.assertEqual(self.members("posix"), [mail(20)])
        self.assertIn("live changes: 6 groups with", self.agent.log())  # "foreign" is hidden

    def test_2_member_added_and_removed_is_one_small_patch(self):
        gid = self.groups()["team"]["id"]
        before = len(self.patch_audits(gid))
        self.modify(f"cn=team,{G}", f"add: member\nmember: {udn(5)}\n")
        self.until("a member added", lambda: mail(5) in (self.members("team") or []))
        added = self.last_patch_bytes("team")
        self.modify(f"cn=team,{G}", f"delete: member\nmember: {udn(0)}\n")
        self.until("a member removed", lambda: mail(0) not in (self.members("team") or []))
        removed = self.last_patch_bytes("team")
        self.assertEqual(self.members("team"), sorted(mail(i) for i in range(1, 6)))
        # One PATCH each, of that member only: the server's audit says added=1 / removed=1.
        audits = wait_for(self, "the audit", lambda: len(self.patch_audits(gid)) >= before + 2
                          and self.patch_audits(gid), 5)
        details = [e["detail"] for e in audits]
        self.assertTrue(any("added=1 removed=0" in d for d in details), details)
        self.assertTrue(any("added=0 removed=1" in d for d in details), details)
        self.assertLess(added, 300)
        self.assertLess(removed, 300)
        # No run record: live changes are not runs.
        base = "/api/v1/sync-configs/" + self.cfg["app_id"]
        runs = self.srv.admin("GET", base + "/runs").body["runs"]
        self.assertEqual([r["trigger"] for r in runs], ["startup"])

    def test_3_member_outside_the_scope_is_reported_not_invented(self):
        self.modify(f"cn=posix,{G}", "add: memberUid\nmemberUid: nosuchuser\n")
        self.modify(f"cn=team,{G}", f"add: member\nmember: uid=ghost,ou=people,{B}\n"
                    f"member: cn=reader,{B}\n")
        self.agent.wait_log("2 members not synced (e.g. cn=reader", 10)
        self.agent.wait_log("not synced (e.g. nosuchuser", 10)
        self.assertEqual(self.members("posix"), [mail(20)])
        self.assertEqual(self.members("team"), sorted(mail(i) for i in range(1, 6)))
        # memberUid of a synced user resolves by uid.
        self.modify(f"cn=posix,{G}", "add: memberUid\nmemberUid: user000023\n")
        self.until("a memberUid added", lambda: mail(23) in (self.members("posix") or []))

    def test_4_rename_keeps_the_group(self):
        gid = self.groups()["parent"]["id"]
        self.slapd.ldapmodify(f"dn: cn=parent,{G}\nchangetype: modrdn\nnewrdn: cn=parent2\n"
                              "deleteoldrdn: 1\n")
        self.until("a rename", lambda: "parent2" in self.groups())
        self.assertEqual(self.groups()["parent2"]["id"], gid)
        self.assertNotIn("parent", self.groups())
        self.assertEqual(self.members("parent2"), sorted(["group:sub", mail(12)]))
        # A nested group added by DN is a member of type Group.
        self.modify(f"cn=parent2,{G}", f"add: member\nmember: cn=posix,{G}\n")
        self.until("a nested group", lambda: "group:posix" in (self.members("parent2") or []))

    def test_5_delete_and_out_of_scope_delete_the_group(self):
        self.slapd.ldapdelete(f"cn=gone,{G}")
        self.until("a group delete", lambda: "gone" not in self.groups())
        self.modify(f"cn=hideme,{G}", "add: description\ndescription: hidden\n")
        self.until("leaving the groups' filter", lambda: "hideme" not in self.groups())
        # And back: created again.
        self.modify(f"cn=hideme,{G}", "delete: description\n")
        self.until("back in the filter", lambda: self.members("hideme") == [mail(22)])

    def test_6_new_group_and_users_coming_and_going(self):
        self.slapd.ldapadd(f"dn: cn=fresh,{G}\nobjectClass: groupOfNames\ncn: fresh\n"
                           f"member: {udn(7)}\nmember: {udn(8)}\n")
        self.until("a new group", lambda: self.members("fresh") == [mail(7), mail(8)])
        # A user deleted leaves its groups (the server removes its memberships).
        self.slapd.ldapdelete(udn(8))
        self.until("a deleted member", lambda: self.members("fresh") == [mail(7)])
        # The user comes back (a new entry, the group still names its DN): it joins again.
        self.slapd.ldapadd(ldif.entry(self.users[8], operational=False))
        self.until("a user back in its group", lambda: self.members("fresh") == [mail(7), mail(8)])
        # A user renamed (moved to a new DN), the group's member value following it (what the
        # referential integrity overlay does): the membership stays, the same cloud user.
        uid_before = {v: k for k, v in self.users_by_id().items()}[mail(7)]
        self.slapd.ldapmodify(f"dn: {udn(7)}\nchangetype: modrdn\nnewrdn: uid=moved7\n"
                              "deleteoldrdn: 0\n")
        self.modify(f"cn=fresh,{G}", f"delete: member\nmember: {udn(7)}\n-\n"
                    f"add: member\nmember: uid=moved7,ou=people,{B}\n")
        self.agent.wait_log("update group 'fresh'", 10)
        time.sleep(0.5)
        self.assertEqual(self.members("fresh"), [mail(7), mail(8)])
        self.assertEqual({v: k for k, v in self.users_by_id().items()}[mail(7)], uid_before)

    def test_7_server_dry_run_blocks_group_writes(self):
        self.srv.set_settings(self.cfg, {"dry-run": True})
        self.addCleanup(self.srv.set_settings, self.cfg, {"dry-run": None})
        self.modify(f"cn=team,{G}", f"add: member\nmember: {udn(24)}\n")
        self.agent.wait_log("dry run: would update group 'team'", 10)
        self.assertNotIn(mail(24), self.members("team"))
        self.srv.set_settings(self.cfg, {"dry-run": None})
        # The next change writes what the dry run held back too.
        self.modify(f"cn=team,{G}", f"add: member\nmember: {udn(25)}\n")
        self.until("the held-back member", lambda: {mail(24), mail(25)} <= set(
            self.members("team") or []))

    def test_8_changes_made_while_the_agent_was_down_arrive(self):
        self.agent.term()
        self.assertEqual(self.agent.wait(), 0)
        self.modify(f"cn=team,{G}", f"add: member\nmember: {udn(26)}\n")
        self.agent.start()
        self.agent.wait_notify("READY=1")
        wait_for(self, "the change made while down",
                 lambda: mail(26) in (self.members("team") or []), 30)
        # The group graph is in memory only: a restart runs a full sync that seeds it again.
        base = "/api/v1/sync-configs/" + self.cfg["app_id"]
        wait_for(self, "the second startup sync", lambda: [
            r["trigger"] for r in self.srv.admin("GET", base + "/runs").body["runs"]
            if r["status"] == "succeeded"] == ["startup", "startup"], 30)
        self.agent.wait_log("content synchronization started from the saved position", 10)
        self.modify(f"cn=team,{G}", f"delete: member\nmember: {udn(26)}\n")
        self.until("a change after the restart", lambda: mail(26) not in self.members("team"))

    def test_9_a_group_of_another_provider_is_left_alone(self):
        # Rule 3 for groups: the cloud has a local group with the directory group's identity.
        out = self.slapd.ldapsearch("(cn=foreign)", "entryUUID", base=G).stdout
        uuid = next(line.split(": ", 1)[1] for line in out.splitlines()
                    if line.startswith("entryUUID: "))
        r = self.srv.scim("admin", "POST", "/Groups", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "foreign-local", "externalId": uuid})
        self.assertEqual(r.status, 201, r)
        self.modify(f"cn=foreign,{G}", "delete: description\n")
        self.agent.wait_log("skip group 'foreign': a group of another provider", 10)
        gs = self.groups()
        self.assertNotIn("foreign", gs)
        self.assertEqual(gs["foreign-local"].get("members", []), [])


class LiveGroupsFlatten(LiveGroupsBase):
    """nested: flatten: a change in a nested group reaches the group that contains it."""
    nested = "flatten"

    def test_nested_change_updates_the_flattened_parent(self):
        self.assertEqual(self.members("parent"), [mail(10), mail(11), mail(12)])
        self.modify(f"cn=sub,{G}", f"add: member\nmember: {udn(13)}\n")
        self.until("the parent's flattened members",
                   lambda: self.members("parent") == [mail(10), mail(11), mail(12), mail(13)])
        self.assertEqual(self.members("sub"), [mail(10), mail(11), mail(13)])
        self.modify(f"cn=sub,{G}", f"delete: member\nmember: {udn(10)}\n")
        self.until("a removal through the nested group",
                   lambda: self.members("parent") == [mail(11), mail(12), mail(13)])
        # A member the parent has directly and through sub stays when sub loses it.
        self.modify(f"cn=parent,{G}", f"add: member\nmember: {udn(11)}\n")
        self.agent.wait_log("group 'parent': no member changes", 10)
        self.modify(f"cn=sub,{G}", f"delete: member\nmember: {udn(11)}\n")
        self.until("sub without user 11", lambda: self.members("sub") == [mail(13)])
        time.sleep(0.3)
        self.assertEqual(self.members("parent"), [mail(11), mail(12), mail(13)])
        # The nested group deleted: the parent loses the users it had only through it.
        self.slapd.ldapdelete(f"cn=sub,{G}")
        self.until("the nested group deleted",
                   lambda: "sub" not in self.groups()
                   and self.members("parent") == [mail(11), mail(12)])


class LiveGroupsBurst(LiveGroupsBase):
    """Group deletes count in the live mass-delete guard (docs/product.md section 9, rule 6)."""
    max_delete = 2

    def test_group_deletes_pause_beyond_max_delete(self):
        self.slapd.ldapdelete(f"cn=gone,{G}")
        self.until("a first delete", lambda: "gone" not in self.groups())
        self.slapd.ldapdelete(f"cn=posix,{G}")
        self.until("a second delete", lambda: "posix" not in self.groups())
        self.slapd.ldapdelete(f"cn=hideme,{G}")
        self.agent.wait_log("held back delete group 'hideme'", 10)
        self.assertIn("hideme", self.groups())
        base = "/api/v1/sync-configs/" + self.cfg["app_id"]
        live = wait_for(self, "the pause shown", lambda: self.srv.admin("GET", base).body.get(
            "live", {}).get("state") == "paused" and self.srv.admin("GET", base).body["live"], 5)
        self.assertIn("max-delete", live["detail"])


class LiveGroupsPoll(LiveGroupsBase):
    """No syncprov: the modifyTimestamp poll sees group entries too."""
    syncprov = False
    watch = "poll"
    poll_interval = 1
    target = 6.0

    def test_poll_member_change_and_out_of_scope(self):
        self.modify(f"cn=team,{G}", f"add: member\nmember: {udn(6)}\n")
        self.until("a member added", lambda: mail(6) in (self.members("team") or []))
        self.assertLess(self.last_patch_bytes("team"), 300)
        self.modify(f"cn=team,{G}", f"delete: member\nmember: {udn(1)}\n")
        self.until("a member removed", lambda: mail(1) not in (self.members("team") or []))
        self.modify(f"cn=hideme,{G}", "add: description\ndescription: hidden\n")
        self.until("leaving the groups' filter", lambda: "hideme" not in self.groups())


if __name__ == "__main__":
    unittest.main()
