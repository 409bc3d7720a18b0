"""Groups from a real slapd into a real adc-server (docs/product.md section 10): groupOfNames,
groupOfUniqueNames, posixGroup (memberUid), a nested group, a cycle, members outside the sync
scope (reported, never invented), a group of a few thousand members changed by one small PATCH,
a rename that keeps the group, a delete, a dry run, a directory that fails half-way."""
import os
import tempfile
import unittest
import urllib.parse

from harness import ldif
from harness.server import SCIM_GROUP_PROVIDER
from harness.sync import SyncSetup

N = 2500
B = ldif.BASE_DN
G = "ou=groups," + B


def udn(i):
    return f"uid=user{i:06d},ou=people,{B}"


def group_ldif():
    big = "".join(f"member: {udn(i)}\n" for i in range(N))
    return (
        f"dn: {G}\nobjectClass: organizationalUnit\nou: groups\n\n"
        f"dn: cn=ops,{G}\nobjectClass: groupOfUniqueNames\ncn: ops\n"
        + "".join(f"uniqueMember: {udn(i)}\n" for i in range(10, 14))
        + f"uniqueMember: {udn(14)}#'0101'B\n\n"
        f"dn: cn=eng,{G}\nobjectClass: groupOfNames\ncn: eng\n"
        + "".join(f"member: {udn(i)}\n" for i in range(10))
        + f"member: cn=ops,{G}\n"
        f"member: uid=ghost,ou=people,{B}\n"  # no such entry
        f"member: cn=reader,{B}\n\n"  # an entry outside the users' filter
        f"dn: cn=posix,{G}\nobjectClass: posixGroup\ncn: posix\ngidNumber: 5000\n"
        "memberUid: user000020\nmemberUid: user000021\nmemberUid: nosuchuser\n\n"
        f"dn: cn=big,{G}\nobjectClass: groupOfNames\ncn: big\n{big}\n"
        f"dn: cn=cycle-a,{G}\nobjectClass: groupOfNames\ncn: cycle-a\nmember: cn=cycle-b,{G}\n"
        f"member: {udn(30)}\n\n"
        f"dn: cn=cycle-b,{G}\nobjectClass: groupOfNames\ncn: cycle-b\nmember: cn=cycle-a,{G}\n\n")


def with_groups(env, nested="keep"):
    with open(env.yaml_path) as f:
        text = f.read()
    text = text.replace("    authentication:",
                        "    groups:\n"
                        "      filter: (|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)"
                        "(objectClass=posixGroup))\n"
                        f"      nested: {nested}\n"
                        "    authentication:", 1)
    with open(env.yaml_path, "w") as f:
        f.write(text)


class Groups(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = SyncSetup(ldif.generate(N, special=False), page_size=500).__enter__()
        cls.env.slapd.ldapadd(group_ldif())
        with_groups(cls.env)
        cls.dry, cls.dry_doc = cls.env.imp_json("--dry-run")
        cls.dry_groups = cls.groups()
        cls.first, cls.first_doc = cls.env.imp_json()
        cls.after_first = cls.groups()
        cls.second, cls.second_doc = cls.env.imp_json()

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    @classmethod
    def groups(cls):
        r = cls.env.server.scim("admin", "GET", "/Groups?count=1000")
        assert r.status == 200, r
        return {g["displayName"]: g for g in r.body["Resources"]}

    def users(self):
        return {u["id"]: u["userName"] for u in self.env.cloud_list()}

    def names(self, g, users=None):
        users = users or self.users()
        groups = {x["id"]: x["displayName"] for x in self.groups().values()}
        return sorted(users.get(m["value"]) or "group:" + groups.get(m["value"], "?")
                      for m in g.get("members", []))

    def test_agent_reads_the_members_page_by_page(self):
        """GET /api/v1/agent/group-members (docs/agent-protocol.md): every membership of the
        configuration's groups once, page after page by the cursor, none of another's."""
        env = self.env
        auth = env.server.sync_auth(env.cfg)
        want = set()
        for g in self.groups().values():
            r = env.server.scim("admin", "GET", f"/Groups/{g['id']}?attributes=members")
            want |= {(g["id"], m["value"], m["type"]) for m in r.body.get("members", [])}
        got, after, pages = [], None, 0
        while True:
            q = "?count=7" + (f"&after={urllib.parse.quote(after)}" if after else "")
            r = env.server.request("GET", "/api/v1/agent/group-members" + q, auth=auth)
            self.assertEqual(r.status, 200, r)
            self.assertLessEqual(len(r.body["Resources"]), 7)
            got += [(m["group"], m["value"], m["type"]) for m in r.body["Resources"]]
            pages += 1
            after = r.body.get("next")
            if not after:
                break
        self.assertEqual(len(got), len(set(got)))
        self.assertEqual(set(got), want)
        self.assertGreater(len(want), N)
        self.assertGreaterEqual(pages, len(want) // 7)
        self.assertIn(("Group", "User"), {(t, "User") for _, _, t in got})
        for bad in ("?after=x", "?after=-1", "?count=0", "?count=a"):
            r = env.server.request("GET", "/api/v1/agent/group-members" + bad, auth=auth)
            self.assertEqual(r.status, 400, (bad, r))
        r = env.server.admin("GET", "/api/v1/agent/group-members")
        self.assertIn(r.status, (401, 403), r)
        other = env.server.create_sync_config(name="other-reader")
        r = env.server.request("GET", "/api/v1/agent/group-members",
                               auth=env.server.sync_auth(other))
        self.assertEqual((r.status, r.body["Resources"], r.body.get("next")), (200, [], None))

    def test_dry_run_changes_nothing(self):
        self.assertEqual(self.dry.returncode, 0, self.dry.stderr)
        self.assertEqual(self.dry_groups, {})
        g = self.dry_doc["groups"]
        self.assertEqual(g["created"], 6)
        group_ops = [c for c in self.dry_doc["changes"] if "group" in c]
        self.assertEqual({c["group"] for c in group_ops},
                         {"ops", "eng", "posix", "big", "cycle-a", "cycle-b"})
        self.assertTrue(all(c["op"] == "create" for c in group_ops))

    def test_first_import_creates_the_groups_with_their_members(self):
        self.assertEqual(self.first.returncode, 0, self.first.stderr)
        gs = self.after_first
        self.assertEqual(set(gs), {"ops", "eng", "posix", "big", "cycle-a", "cycle-b"})
        users = self.users()
        mail = lambda i: f"user{i:06d}@example.org"  # noqa: E731
        self.assertEqual(self.names(gs["eng"], users),
                         sorted([mail(i) for i in range(10)] + ["group:ops"]))
        self.assertEqual(self.names(gs["ops"], users), sorted(mail(i) for i in range(10, 15)))
        self.assertEqual(self.names(gs["posix"], users), [mail(20), mail(21)])
        self.assertEqual(gs["big"][SCIM_GROUP_PROVIDER]["memberCount"], N)
        self.assertEqual(self.names(gs["cycle-a"], users), sorted(["group:cycle-b", mail(30)]))
        self.assertEqual(self.names(gs["cycle-b"], users), ["group:cycle-a"])
        for g in gs.values():
            self.assertEqual(g[SCIM_GROUP_PROVIDER]["provider"], self.env.cfg["app_id"])
            self.assertTrue(g["externalId"])
        doc = self.first_doc["groups"]
        self.assertEqual(doc["created"], 6)
        self.assertEqual(doc["failed"], 0)
        # ghost, the service entry and nosuchuser: reported, not invented
        self.assertEqual(doc["members_not_synced"], 3)
        self.assertTrue(any("ghost" in e for e in doc["examples"]))
        self.assertGreaterEqual(doc["in_cycles"], 1)
        self.assertIn("Groups", self.env.imp("--dry-run").stdout)
        # the run record carries the groups' counts; runs without groups keep their shape
        r = self.env.server.admin("GET", f"/api/v1/sync-configs/{self.env.cfg['app_id']}/runs")
        runs = r.body if isinstance(r.body, list) else r.body.get("runs", r.body.get("Resources"))
        stats = [run["stats"] for run in runs if not run["dry_run"]]
        self.assertIn(6, [s.get("groups_created") for s in stats])
        self.assertTrue(all("groups_created" not in run["stats"] for run in runs
                            if run["dry_run"]))

    def test_second_run_changes_nothing(self):
        self.assertEqual(self.second.returncode, 0, self.second.stderr)
        g = self.second_doc["groups"]
        self.assertEqual((g["created"], g["updated"], g["deleted"], g["unchanged"]), (0, 0, 0, 6))
        self.assertEqual((g["members_added"], g["members_removed"], g["patch_bytes"]), (0, 0, 0))

    def test_later_changes(self):
        env = self.env
        # one member leaves the big group, one joins eng; posix is renamed; cycle-b goes
        env.slapd.ldapmodify(f"dn: cn=big,{G}\nchangetype: modify\ndelete: member\n"
                             f"member: {udn(7)}\n")
        env.slapd.ldapmodify(f"dn: cn=eng,{G}\nchangetype: modify\nadd: member\n"
                             f"member: {udn(40)}\n")
        env.slapd.ldapmodify(f"dn: cn=posix,{G}\nchangetype: modrdn\nnewrdn: cn=posix2\n"
                             "deleteoldrdn: 1\n")
        env.slapd.ldapmodify(f"dn: cn=cycle-a,{G}\nchangetype: modify\ndelete: member\n"
                             f"member: cn=cycle-b,{G}\n")
        env.slapd.ldapdelete(f"cn=cycle-b,{G}")
        before = self.groups()
        r, doc = env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        g = doc["groups"]
        self.assertEqual((g["created"], g["deleted"]), (0, 1))
        self.assertEqual((g["members_added"], g["members_removed"]), (1, 2))
        # one member of a group of 2,500 costs one small PATCH, not the group
        self.assertLess(g["patch_bytes"], 1000)
        after = self.groups()
        self.assertNotIn("cycle-b", after)
        self.assertEqual(after["posix2"]["id"], before["posix"]["id"])
        self.assertEqual(after["big"][SCIM_GROUP_PROVIDER]["memberCount"], N - 1)
        self.assertIn("user000040@example.org", self.names(after["eng"]))
        self.assertEqual(self.names(after["cycle-a"]), ["user000030@example.org"])
        # a user that leaves the directory leaves its groups
        env.delete_users([ldif.regular_user(12)])
        r, doc = env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("user000012@example.org", self.names(self.groups()["ops"]))


class LargeGroupEntry(unittest.TestCase):
    """A group entry larger than the 16 MiB other LDAP messages may be (ADC_LDAP_MESSAGE_MAX):
    OpenLDAP sends all of a group's members in one message, about 45 MB for 1,000,000 members
    (docs/product.md section 14); the group read allows 256 MiB. 400,000 members here (18 MB),
    20 of them users, the rest entries that do not exist (reported, not invented). The groups are
    read before the users: past 2 MB of member DNs the rest are kept as digests and resolved once
    the users are read (sync/group-sync.c), so 10 users come first (text) and 10 last
    (digests)."""
    def test_a_group_over_16_mib_is_read(self):
        tmp = tempfile.mkdtemp(prefix="adc-large-group-")
        path = os.path.join(tmp, "data.ldif")
        ldif.write(path, ldif.generate(20, special=False), B, include_base=False)
        with open(path, "a") as f:
            f.write(f"dn: {G}\nobjectClass: organizationalUnit\nou: groups\n\n"
                    f"dn: cn=huge,{G}\nobjectClass: groupOfNames\ncn: huge\n")
            order = [*range(10), *range(20, 400_000), *range(10, 20)]
            f.writelines(f"member: {udn(i)}\n" for i in order)
            f.write("\n")
        self.assertGreater(os.path.getsize(path), 17 * 1024 * 1024)
        with SyncSetup(path, page_size=500) as env:
            with_groups(env)
            r, doc = env.imp_json("--dry-run")
            self.assertEqual(r.returncode, 0, r.stderr)
            huge = [c for c in doc["changes"] if c.get("group") == "huge"]
            self.assertEqual((huge[0]["op"], huge[0]["added"]), ("create", 20))
            self.assertEqual(doc["groups"]["members_not_synced"], 400_000 - 20)
            self.assertTrue(any("huge" in e for e in doc["groups"]["examples"]), doc["groups"])
        os.unlink(path)
        os.rmdir(tmp)


class BrokenGroupRead(unittest.TestCase):
    def test_a_failed_group_read_writes_nothing(self):
        # The service account may read 40 entries per search: the 5 users pass, the 50 groups
        # fail half-way (rule 5: nothing is written, users included).
        env = SyncSetup(ldif.generate(5, special=False), slapd_kw={"size_limit": 40},
                        page_size=10).__enter__()
        self.addCleanup(env.close)
        env.slapd.ldapadd(f"dn: {G}\nobjectClass: organizationalUnit\nou: groups\n\n" + "".join(
            f"dn: cn=g{i},{G}\nobjectClass: groupOfNames\ncn: g{i}\nmember: {udn(1)}\n\n"
            for i in range(50)))
        with_groups(env)
        r = env.imp()
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("reading the groups failed, nothing was changed", r.stderr)
        self.assertEqual(env.cloud(), {})


if __name__ == "__main__":
    unittest.main()
