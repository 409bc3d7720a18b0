"""SCIM 2.0 Groups on adc-server (docs/product.md section 10): create, get, list with filters
and paging, attributes/excludedAttributes, PATCH of members (add, remove by value filter, by
value list, all, replace), PUT, DELETE, ETags, Bulk with bulkId references, the provider
extension, ownership and server settings, a deleted user or group leaving its groups, and a
group of several thousand members changed one member at a time."""
import time
import unittest
import urllib.parse

from harness.server import (SCIM_BULK, SCIM_ERROR, SCIM_GROUP, SCIM_GROUP_PROVIDER, SCIM_LIST,
                            ServerTestCase, group, patch, user)


def member_ids(g):
    return sorted(m["value"] for m in g.get("members", []))


class ScimGroups(ServerTestCase):
    sync_config = "groups"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = cls.srv.create_sync_config("other")
        cls.users = {}
        for name in ("ann", "bob", "cat", "dan", "eve"):
            r = cls.srv.scim(cls.cfg, "POST", "/Users", user(name + "@example.org", "u-" + name))
            assert r.status == 201, r
            cls.users[name] = r.body["id"]
        # the other configuration's own user: the only kind it may name as a member
        r = cls.srv.scim(cls.other, "POST", "/Users", user("flo@example.org", "u-flo"))
        assert r.status == 201, r
        cls.other_user = r.body["id"]

    def u(self, *names):
        return [self.users[n] for n in names]

    def create(self, name, members=(), who=None, ext=None, **attrs):
        r = self.srv.scim(who or self.cfg, "POST", "/Groups",
                          group(name, ext, list(members), **attrs))
        self.assertEqual(r.status, 201, r.raw)
        return r.body

    def get(self, gid, who=None, query=""):
        r = self.srv.scim(who or self.cfg, "GET", "/Groups/" + gid + query)
        self.assertEqual(r.status, 200, r.raw)
        return r.body

    def assertScimError(self, r, status, scim_type=None):
        self.assertEqual(r.status, status, r.raw)
        self.assertIn(SCIM_ERROR, r.body["schemas"])
        self.assertEqual(r.body["status"], str(status))
        self.assertTrue(r.body["detail"])
        if scim_type:
            self.assertEqual(r.body.get("scimType"), scim_type)

    def list(self, query, who=None):
        r = self.srv.scim(who or self.cfg, "GET", "/Groups?" + query)
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.body["schemas"], [SCIM_LIST])
        return r.body

    def filter(self, f, extra=""):
        return self.list("filter=" + urllib.parse.quote(f) + extra)

    # ---- create and read -------------------------------------------------------------------

    def test_create_get(self):
        inner = self.create("Inner team", self.u("ann"))
        r = self.srv.scim(self.cfg, "POST", "/Groups",
                          group("Engineering", "g-eng",
                                self.u("ann", "bob") + [{"value": inner["id"], "type": "Group"}],
                                id="client-chosen", meta={"version": "x"}))
        self.assertEqual(r.status, 201, r.raw)
        g = r.body
        self.assertEqual(r.header("Location"), g["meta"]["location"])
        self.assertEqual(r.header("ETag"), g["meta"]["version"])
        self.assertEqual(r.header("Content-Type"), "application/scim+json")
        self.assertNotEqual(g["id"], "client-chosen")
        self.assertEqual(g["schemas"], [SCIM_GROUP, SCIM_GROUP_PROVIDER])
        self.assertEqual(g["displayName"], "Engineering")
        self.assertEqual(g["externalId"], "g-eng")
        self.assertEqual(g["meta"]["resourceType"], "Group")
        self.assertTrue(g["meta"]["location"].endswith("/scim/v2/Groups/" + g["id"]))
        self.assertEqual(g[SCIM_GROUP_PROVIDER], {"provider": self.cfg["app_id"], "memberCount": 3})
        by_id = {m["value"]: m for m in g["members"]}
        self.assertEqual(by_id[self.users["ann"]]["type"], "User")
        self.assertEqual(by_id[self.users["ann"]]["display"], "ann@example.org")
        self.assertTrue(by_id[self.users["ann"]]["$ref"].endswith("/scim/v2/Users/" +
                                                                  self.users["ann"]))
        self.assertEqual(by_id[inner["id"]]["type"], "Group")
        self.assertEqual(by_id[inner["id"]]["display"], "Inner team")
        self.assertEqual(self.get(g["id"]), g)
        # an empty group has no members attribute (unassigned, RFC 7643 section 2.5)
        empty = self.create("Nobody")
        self.assertNotIn("members", empty)
        self.assertEqual(empty[SCIM_GROUP_PROVIDER]["memberCount"], 0)

    def test_create_validation(self):
        ann = self.users["ann"]
        for body in [{"schemas": [SCIM_GROUP]}, {"displayName": ""}, {"displayName": 5},
                     {"displayName": "x\u0001"}, {"displayName": "a" * 300},
                     {"displayName": "v1", "members": "ann"},
                     {"displayName": "v2", "members": [ann]},
                     {"displayName": "v3", "members": [{"value": 5}]},
                     {"displayName": "v4", "members": [{"value": "no-such-id"}]},
                     {"displayName": "v5", "members": [{"value": ann, "type": "Group"}]},
                     {"displayName": "v6", "externalId": 7},
                     {"schemas": ["urn:other"], "displayName": "v7"}]:
            r = self.srv.scim(self.cfg, "POST", "/Groups", body)
            self.assertEqual(r.status, 400, body)
            self.assertIn(r.body["scimType"], ("invalidValue", "invalidSyntax"), body)
        self.assertScimError(self.srv.scim(self.cfg, "POST", "/Groups", [1]), 400, "invalidSyntax")
        # nothing half-made stays behind
        self.assertEqual(self.filter('displayName sw "v"')["totalResults"], 0)

    def test_get_missing_and_etags(self):
        self.assertScimError(self.srv.scim(self.cfg, "GET", "/Groups/nope"), 404)
        g = self.create("Etag group", self.u("ann"))
        r = self.srv.scim(self.cfg, "GET", "/Groups/" + g["id"],
                          headers={"If-None-Match": g["meta"]["version"]})
        self.assertEqual(r.status, 304)
        r = self.srv.scim(self.cfg, "PATCH", "/Groups/" + g["id"],
                          patch(("add", "members", [{"value": self.users["bob"]}])),
                          headers={"If-Match": 'W/"999"'})
        self.assertScimError(r, 412)
        r = self.srv.scim(self.cfg, "PATCH", "/Groups/" + g["id"],
                          patch(("add", "members", [{"value": self.users["bob"]}])),
                          headers={"If-Match": g["meta"]["version"]})
        self.assertEqual(r.status, 204, r.raw)
        self.assertEqual(r.header("ETag"), 'W/"2"')
        self.assertEqual(self.get(g["id"])["meta"]["version"], 'W/"2"')

    # ---- listing ----------------------------------------------------------------------------

    def test_filters_and_paging(self):
        a = self.create("Filter Alpha", self.u("ann", "bob"), ext="f-alpha")
        b = self.create("Filter Beta", self.u("bob"), ext="f-beta")
        c = self.create("filter gamma", [], ext="f-gamma")
        other = self.create("Filter Other", [self.other_user], who=self.other)

        def names(body):
            return sorted(g["displayName"] for g in body["Resources"])

        self.assertEqual(names(self.filter('displayName eq "FILTER ALPHA"')), ["Filter Alpha"])
        self.assertEqual(names(self.filter('externalId eq "f-beta"')), ["Filter Beta"])
        self.assertEqual(names(self.filter('displayName sw "filter" and members.value eq "%s"'
                                           % self.users["bob"])), ["Filter Alpha", "Filter Beta"])
        self.assertEqual(names(self.filter('members[value eq "%s"]' % self.users["ann"]
                                           + ' and displayName sw "Filter"')), ["Filter Alpha"])
        self.assertEqual(names(self.filter('displayName sw "filter" and not (members pr)')),
                         ["filter gamma"])
        self.assertEqual(names(self.filter('%s:provider eq "%s"' % (SCIM_GROUP_PROVIDER,
                                                                    self.other["app_id"]))),
                         ["Filter Other"])
        self.assertEqual(names(self.filter('displayName co "ETA"')), ["Filter Beta"])
        self.assertEqual(names(self.filter('id eq "%s"' % c["id"])), ["filter gamma"])
        for bad in ['userName eq "x"', 'members.display eq "x"', 'displayName eq',
                    'members[display eq "x"]']:
            r = self.srv.scim(self.cfg, "GET", "/Groups?filter=" + urllib.parse.quote(bad))
            self.assertScimError(r, 400, "invalidFilter")
        # paging: stable order, totalResults of the whole match
        f = urllib.parse.quote('displayName sw "Filter"')
        p1 = self.list("filter=%s&startIndex=1&count=2" % f)
        p2 = self.list("filter=%s&startIndex=3&count=2" % f)
        self.assertEqual((p1["totalResults"], p1["itemsPerPage"], p1["startIndex"]), (4, 2, 1))
        self.assertEqual(p2["itemsPerPage"], 2)
        seen = [g["id"] for g in p1["Resources"] + p2["Resources"]]
        self.assertEqual(seen, [a["id"], b["id"], c["id"], other["id"]])
        self.assertEqual(self.list("filter=%s&count=0" % f)["Resources"], [])
        self.assertScimError(self.srv.scim(self.cfg, "GET", "/Groups?count=x"), 400)
        # .search
        r = self.srv.scim(self.cfg, "POST", "/Groups/.search",
                          {"filter": 'externalId eq "f-alpha"', "excludedAttributes": ["members"]})
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual([g["displayName"] for g in r.body["Resources"]], ["Filter Alpha"])
        self.assertNotIn("members", r.body["Resources"][0])

    def test_attributes(self):
        g = self.create("Projected", self.u("ann", "bob"))
        x = self.get(g["id"], query="?excludedAttributes=members")
        self.assertNotIn("members", x)
        self.assertEqual(x[SCIM_GROUP_PROVIDER]["memberCount"], 2)
        self.assertEqual(x["displayName"], "Projected")
        only = self.get(g["id"], query="?attributes=displayName")
        self.assertEqual(set(only), {"schemas", "id", "displayName"})
        m = self.get(g["id"], query="?attributes=" + SCIM_GROUP + ":members")
        self.assertEqual(set(m), {"schemas", "id", "members"})
        listed = self.filter('id eq "%s"' % g["id"], "&excludedAttributes=members")
        self.assertNotIn("members", listed["Resources"][0])
        self.assertScimError(self.srv.scim(
            self.cfg, "GET", "/Groups?attributes=displayName&excludedAttributes=members"), 400)

    # ---- changes ----------------------------------------------------------------------------

    def test_member_lists(self):
        # The members of a request are checked and written together (scim-group.c add_chunk):
        # repeats count once, users and groups mix, the first bad member in the list's order is
        # the one reported, and a list longer than one chunk (10,000) is all or nothing.
        sub = self.create("Lists sub")
        g = self.create("Lists", [{"value": self.users["ann"]}, {"value": self.users["bob"]},
                                  {"value": self.users["ann"], "type": "User"},
                                  {"value": sub["id"], "type": "group"}])
        self.assertEqual(g[SCIM_GROUP_PROVIDER]["memberCount"], 3)
        self.assertEqual({m["value"]: m["type"] for m in g["members"]},
                         {self.users["ann"]: "User", self.users["bob"]: "User",
                          sub["id"]: "Group"})
        for members, detail in [([{"value": "no-such-a"}, {"value": 5}], "no-such-a"),
                                ([{"value": 5}, {"value": "no-such-b"}], "string \"value\""),
                                ([{"value": self.users["cat"]},
                                  {"value": sub["id"], "type": "User"}, {"value": "no-such-c"}],
                                 "is a Group, not a User"),
                                ([{"value": "bulkId:x"}, {"value": "no-such-d"}], "bulkId")]:
            r = self.srv.scim(self.cfg, "POST", "/Groups", group("Lists bad", None, members))
            self.assertScimError(r, 400, "invalidValue")
            self.assertIn(detail, r.body["detail"], members)
        many = [{"value": self.users[n]} for n in ("ann", "bob", "cat")] * 3400
        g = self.create("Lists many", many)
        self.assertEqual(g[SCIM_GROUP_PROVIDER]["memberCount"], 3)
        r = self.srv.scim(self.cfg, "PATCH", "/Groups/" + g["id"],
                          patch(("add", "members", many + [{"value": self.users["dan"]}])))
        self.assertIn(r.status, (200, 204), r.raw)
        self.assertEqual(self.get(g["id"])[SCIM_GROUP_PROVIDER]["memberCount"], 4)
        before = self.get(g["id"])
        r = self.srv.scim(self.cfg, "PATCH", "/Groups/" + g["id"],
                          patch(("add", "members", [{"value": self.users["eve"]}] + many +
                                 [{"value": "no-such-e"}])))
        self.assertScimError(r, 400, "invalidValue")
        self.assertIn("no-such-e", r.body["detail"])
        self.assertEqual(self.get(g["id"]), before)
        r = self.srv.scim(self.cfg, "POST", "/Groups",
                          group("Lists bad", None, many + [{"value": "no-such-f"}]))
        self.assertScimError(r, 400, "invalidValue")
        self.assertEqual(self.filter('displayName eq "Lists bad"')["totalResults"], 0)

    def test_patch_members(self):
        g = self.create("Patched", self.u("ann"))
        path = "/Groups/" + g["id"]

        def do(*ops, query=""):
            r = self.srv.scim(self.cfg, "PATCH", path + query, patch(*ops))
            self.assertIn(r.status, (200, 204), r.raw)
            return r

        do(("add", "members", [{"value": self.users["bob"]}, {"value": self.users["cat"]}]))
        do(("add", "members", [{"value": self.users["bob"]}]))  # already there: no change
        self.assertEqual(member_ids(self.get(g["id"])), sorted(self.u("ann", "bob", "cat")))
        self.assertEqual(self.get(g["id"])[SCIM_GROUP_PROVIDER]["memberCount"], 3)
        do(("remove", 'members[value eq "%s"]' % self.users["bob"], None))
        self.assertEqual(member_ids(self.get(g["id"])), sorted(self.u("ann", "cat")))
        # Entra ID's form: remove with the members listed in value
        do(("remove", "members", [{"value": self.users["cat"]}]))
        self.assertEqual(member_ids(self.get(g["id"])), self.u("ann"))
        do(("replace", "members", [{"value": self.users["dan"]}, {"value": self.users["eve"]}]))
        self.assertEqual(member_ids(self.get(g["id"])), sorted(self.u("dan", "eve")))
        do(("remove", "members", None))
        got = self.get(g["id"])
        self.assertNotIn("members", got)
        self.assertEqual(got[SCIM_GROUP_PROVIDER]["memberCount"], 0)
        # no path: an object of attributes; several operations in one request
        r = do(("add", None, {"members": [{"value": self.users["ann"]}], "externalId": "p-1"}),
               ("replace", "displayName", "Patched renamed"),
               query="?excludedAttributes=members")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body["displayName"], "Patched renamed")
        self.assertEqual(r.body["externalId"], "p-1")
        self.assertNotIn("members", r.body)
        self.assertEqual(r.body[SCIM_GROUP_PROVIDER]["memberCount"], 1)
        do(("remove", "externalId", None))
        self.assertNotIn("externalId", self.get(g["id"]))
        # errors change nothing: the whole PATCH is one transaction
        before = self.get(g["id"])
        for body in [patch(("add", "members", [{"value": self.users["bob"]}]),
                           ("add", "members", [{"value": "missing"}])),
                     patch(("remove", "displayName", None)),
                     patch(("add", "members[value eq \"x\"]", [{"value": self.users["bob"]}])),
                     patch(("remove", "members[display eq \"x\"]", None)),
                     patch(("add", "nickName", "x")),
                     patch(("add", "members", [{"value": g["id"]}])),
                     patch(("frobnicate", "members", [])),
                     patch(("remove", None, None)),
                     {"Operations": [{"op": "add", "path": "displayName", "value": "x"}]},
                     {"schemas": [SCIM_GROUP], "Operations": []}]:
            r = self.srv.scim(self.cfg, "PATCH", path, body)
            self.assertEqual(r.status, 400, (body, r.raw))
        self.assertEqual(self.get(g["id"]), before)

    def test_put_replaces(self):
        g = self.create("Put group", self.u("ann", "bob"), ext="put-1")
        r = self.srv.scim(self.cfg, "PUT", "/Groups/" + g["id"],
                          group("Put group 2", None, self.u("cat")))
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.body["displayName"], "Put group 2")
        self.assertNotIn("externalId", r.body)
        self.assertEqual(member_ids(r.body), self.u("cat"))
        self.assertEqual(r.body["meta"]["version"], 'W/"2"')
        self.assertEqual(r.body["meta"]["created"], g["meta"]["created"])
        r = self.srv.scim(self.cfg, "PUT", "/Groups/" + g["id"], group("Put group 3"))
        self.assertNotIn("members", r.body)

    def test_delete_and_memberships_go(self):
        inner = self.create("Del inner", self.u("ann"))
        outer = self.create("Del outer", [inner["id"], self.users["bob"]])
        r = self.srv.scim(self.cfg, "DELETE", "/Groups/" + inner["id"])
        self.assertEqual(r.status, 204, r.raw)
        self.assertScimError(self.srv.scim(self.cfg, "GET", "/Groups/" + inner["id"]), 404)
        self.assertScimError(self.srv.scim(self.cfg, "DELETE", "/Groups/" + inner["id"]), 404)
        after = self.get(outer["id"])
        self.assertEqual(member_ids(after), self.u("bob"))
        self.assertEqual(after[SCIM_GROUP_PROVIDER]["memberCount"], 1)
        self.assertNotEqual(after["meta"]["version"], outer["meta"]["version"])
        # a user that is deleted leaves its groups
        r = self.srv.scim(self.cfg, "POST", "/Users", user("leaver@example.org", "u-leaver"))
        leaver = r.body["id"]
        g = self.create("Has leaver", [leaver, self.users["cat"]])
        self.assertEqual(self.srv.scim(self.cfg, "DELETE", "/Users/" + leaver).status, 204)
        after = self.get(g["id"])
        self.assertEqual(member_ids(after), self.u("cat"))
        self.assertEqual(after[SCIM_GROUP_PROVIDER]["memberCount"], 1)
        self.assertEqual(self.filter('members.value eq "%s"' % leaver)["totalResults"], 0)

    # ---- who may do what ----------------------------------------------------------------------

    def test_ownership_and_settings(self):
        mine = self.create("Owned", self.u("ann"))
        path = "/Groups/" + mine["id"]
        # another configuration reads it but may not change or delete it
        self.assertEqual(self.get(mine["id"], who=self.other)["displayName"], "Owned")
        body = patch(("add", "members", [{"value": self.users["bob"]}]))
        self.assertScimError(self.srv.scim(self.other, "PATCH", path, body), 403)
        self.assertScimError(self.srv.scim(self.other, "PUT", path, group("x")), 403)
        self.assertScimError(self.srv.scim(self.other, "DELETE", path), 403)
        # a sync configuration cannot give its group away; an administrator can
        r = self.srv.scim(self.cfg, "POST", "/Groups",
                          group("Claims", **{SCIM_GROUP_PROVIDER: {"provider": "local"}}))
        self.assertEqual(r.body[SCIM_GROUP_PROVIDER]["provider"], self.cfg["app_id"])
        r = self.srv.scim("admin", "POST", "/Groups", group("Admin's"))
        self.assertEqual(r.status, 201, r.raw)
        local = r.body
        self.assertEqual(local[SCIM_GROUP_PROVIDER]["provider"], "local")
        r = self.srv.scim("admin", "POST", "/Groups",
                          group("Bad provider", **{SCIM_GROUP_PROVIDER: {"provider": "nope"}}))
        self.assertScimError(r, 400, "invalidValue")
        r = self.srv.scim("admin", "PATCH", path,
                          patch(("replace", SCIM_GROUP_PROVIDER + ":provider",
                                 self.other["app_id"])))
        self.assertEqual(r.status, 204, r.raw)
        self.assertEqual(self.get(mine["id"])[SCIM_GROUP_PROVIDER]["provider"],
                         self.other["app_id"])
        # a local group: taken over only when the server allows takeovers
        srv_cfg = self.srv.create_sync_config("takeover", settings={
            "no-update-provider-mismatch": True})
        lpath = "/Groups/" + local["id"]
        # what it adds must be its own (test_members_must_be_the_configurations_own)
        r = self.srv.scim(srv_cfg, "POST", "/Users", user("tk@example.org", "u-tk"))
        self.assertEqual(r.status, 201, r.raw)
        body = patch(("add", "members", [{"value": r.body["id"]}]))
        self.assertScimError(self.srv.scim(srv_cfg, "PATCH", lpath, body), 403)
        self.srv.set_settings(srv_cfg, {"no-update-provider-mismatch": False})
        r = self.srv.scim(srv_cfg, "PATCH", lpath, body)
        self.assertEqual(r.status, 204, r.raw)
        self.assertEqual(self.get(local["id"])[SCIM_GROUP_PROVIDER]["provider"],
                         srv_cfg["app_id"])
        audit = self.srv.admin("GET", "/api/v1/audit?limit=50").body
        actions = [(e["action"], e["target"]) for e in audit["entries"]]
        self.assertIn(("group.takeover", local["id"]), actions)
        self.assertIn(("group.create", mine["id"]), actions)
        # server settings are enforced on groups as on users
        self.srv.set_settings(srv_cfg, {"dry-run": True})
        self.assertScimError(self.srv.scim(srv_cfg, "POST", "/Groups", group("dry")), 403)
        self.assertScimError(self.srv.scim(srv_cfg, "PATCH", lpath, body), 403)
        self.srv.set_settings(srv_cfg, {"dry-run": None, "no-create": True, "no-delete": True,
                                        "no-update": True})
        self.assertScimError(self.srv.scim(srv_cfg, "POST", "/Groups", group("nc")), 403)
        self.assertScimError(self.srv.scim(srv_cfg, "DELETE", lpath), 403)
        self.assertScimError(self.srv.scim(srv_cfg, "PATCH", lpath, body), 403)
        self.assertEqual(self.get(local["id"])[SCIM_GROUP_PROVIDER]["memberCount"], 1)
        # deleting a configuration leaves its groups as local groups
        r = self.srv.admin("DELETE", "/api/v1/sync-configs/" + srv_cfg["app_id"])
        self.assertEqual(r.body["groups_released"], 1)
        self.assertEqual(self.get(local["id"])[SCIM_GROUP_PROVIDER]["provider"], "local")

    def test_members_must_be_the_configurations_own(self):
        """docs/product.md section 11: a sync configuration cannot reach another tenant's
        resources, so it may name as members only its own users and groups; another
        configuration's and local ones are refused with 403 by POST, PUT, PATCH and Bulk,
        whatever chunk of the list they are in. An administrator may name any."""
        r = self.srv.scim(self.other, "POST", "/Users", user("oth@example.org", "u-oth"))
        self.assertEqual(r.status, 201, r.raw)
        their_user = r.body["id"]
        their_group = self.create("Theirs", who=self.other)["id"]
        r = self.srv.scim("admin", "POST", "/Users", user("loc@example.org"))
        self.assertEqual(r.status, 201, r.raw)
        local_user = r.body["id"]
        r = self.srv.scim("admin", "POST", "/Groups", group("Local members"))
        local_group = r.body["id"]

        def refused(r, what):
            self.assertScimError(r, 403)
            self.assertIn(what, r.body["detail"])
            self.assertIn("may name only its own users and groups", r.body["detail"])
            self.assertNotIn(self.other["app_id"], r.body["detail"])

        for foreign, what in ((their_user, "another sync configuration"),
                              (their_group, "another sync configuration"),
                              (local_user, "is a local User"),
                              (local_group, "is a local Group")):
            with self.subTest(member=what):
                r = self.srv.scim(self.cfg, "POST", "/Groups",
                                  group("Reaching", None, [self.users["ann"], foreign]))
                refused(r, what)
        self.assertEqual(self.filter('displayName eq "Reaching"')["totalResults"], 0)
        # in the second chunk of 10,000 members too (the list is checked set-based per chunk)
        r = self.srv.scim(self.cfg, "POST", "/Groups",
                          group("Reaching far", None, [self.users["ann"]] * 10001 + [their_user]))
        refused(r, "another sync configuration")
        self.assertEqual(self.filter('displayName eq "Reaching far"')["totalResults"], 0)

        mine = self.create("Mine only", self.u("ann"))
        path = "/Groups/" + mine["id"]
        refused(self.srv.scim(self.cfg, "PUT", path,
                              group("Mine only", None, self.u("ann", "bob") + [their_user])),
                "another sync configuration")
        refused(self.srv.scim(self.cfg, "PATCH", path,
                              patch(("add", "members", [{"value": their_group}]))),
                "another sync configuration")
        refused(self.srv.scim(self.cfg, "PATCH", path,
                              patch(("replace", "members", [{"value": local_user}]))),
                "is a local User")
        refused(self.srv.scim(self.cfg, "PATCH", path,
                              patch(("replace", None, {"members": [{"value": their_user}]}))),
                "another sync configuration")
        self.assertEqual(member_ids(self.get(mine["id"])), self.u("ann"))
        ops = [
            {"method": "POST", "path": "/Groups", "bulkId": "g1",
             "data": group("Bulk reaching", None, [their_user])},
            {"method": "PATCH", "path": path,
             "data": patch(("add", "members", [{"value": their_group, "type": "Group"}]))},
            {"method": "PATCH", "path": path,
             "data": patch(("add", "members", [{"value": self.users["cat"]}]))},
        ]
        r = self.srv.scim(self.cfg, "POST", "/Bulk", {"schemas": [SCIM_BULK], "Operations": ops})
        self.assertEqual(r.status, 200, r.raw)
        res = r.body["Operations"]
        self.assertEqual([o["status"] for o in res], ["403", "403", "204"])
        self.assertIn("may name only its own", res[0]["response"]["detail"])
        self.assertEqual(member_ids(self.get(mine["id"])), sorted(self.u("ann", "cat")))

        # An administrator may put anyone in any group; the configuration may still remove
        # them from its own group (that reaches nothing of theirs).
        r = self.srv.scim("admin", "POST", "/Groups",
                          group("Everyone's", None, [self.users["ann"], their_user, their_group,
                                                     local_user, local_group]))
        self.assertEqual(r.status, 201, r.raw)
        self.assertEqual(r.body[SCIM_GROUP_PROVIDER]["memberCount"], 5)
        r = self.srv.scim("admin", "PATCH", path, patch(("add", "members", [{"value": their_user}])))
        self.assertEqual(r.status, 204, r.raw)
        r = self.srv.scim(self.cfg, "PATCH", path,
                          patch(("remove", 'members[value eq "%s"]' % their_user, None)))
        self.assertEqual(r.status, 204, r.raw)
        self.assertEqual(member_ids(self.get(mine["id"])), sorted(self.u("ann", "cat")))

    # ---- Bulk ---------------------------------------------------------------------------------

    def test_bulk(self):
        ops = [
            {"method": "POST", "path": "/Users", "bulkId": "u1",
             "data": user("bulk1@example.org", "u-bulk1")},
            {"method": "POST", "path": "/Groups", "bulkId": "child",
             "data": group("Bulk child", None, [{"value": "bulkId:u1", "type": "User"}])},
            {"method": "POST", "path": "/Groups", "bulkId": "parent",
             "data": group("Bulk parent", None, ["bulkId:child", self.users["ann"]])},
            {"method": "PATCH", "path": "/Groups/bulkId:parent",
             "data": patch(("add", "members", [{"value": self.users["bob"]}]))},
            # fails half-way (its second member is unknown): nothing of it stays
            {"method": "POST", "path": "/Groups", "bulkId": "broken",
             "data": group("Bulk broken", None, [self.users["ann"], "missing"])},
            {"method": "POST", "path": "/Groups", "bulkId": "later",
             "data": group("Bulk later", None, ["bulkId:nope"])},
            {"method": "DELETE", "path": "/Groups/bulkId:child"},
            {"method": "POST", "path": "/Groupsx", "bulkId": "x", "data": group("x")},
        ]
        r = self.srv.scim(self.cfg, "POST", "/Bulk", {"schemas": [SCIM_BULK], "Operations": ops})
        self.assertEqual(r.status, 200, r.raw)
        res = r.body["Operations"]
        self.assertEqual([o["status"] for o in res],
                         ["201", "201", "201", "204", "400", "400", "204", "400"])
        self.assertIn("/scim/v2/Groups/", res[1]["location"])
        self.assertIn("/scim/v2/Users/", res[0]["location"])
        parent_id = res[2]["location"].rsplit("/", 1)[1]
        parent = self.get(parent_id)
        self.assertEqual(member_ids(parent), sorted(self.u("ann", "bob")))  # child deleted
        self.assertEqual(self.filter('displayName eq "Bulk broken"')["totalResults"], 0)
        self.assertEqual(self.filter('displayName eq "Bulk later"')["totalResults"], 0)

    # ---- discovery ------------------------------------------------------------------------------

    def test_discovery(self):
        r = self.srv.request("GET", "/scim/v2/ResourceTypes")
        self.assertEqual(sorted(t["id"] for t in r.body["Resources"]), ["Group", "User"])
        t = self.srv.request("GET", "/scim/v2/ResourceTypes/Group").body
        self.assertEqual((t["endpoint"], t["schema"]), ("/Groups", SCIM_GROUP))
        s = self.srv.request("GET", "/scim/v2/Schemas/" + SCIM_GROUP).body
        self.assertEqual(sorted(a["name"] for a in s["attributes"]),
                         ["displayName", "externalId", "members"])
        ids = [x["id"] for x in self.srv.request("GET", "/scim/v2/Schemas").body["Resources"]]
        self.assertIn(SCIM_GROUP, ids)
        self.assertIn(SCIM_GROUP_PROVIDER, ids)


class LargeGroup(ServerTestCase):
    """A group of several thousand members: created in one request, changed one member at a
    time with a small PATCH whose cost does not depend on the group's size."""
    sync_config = "large"
    N = 5000

    def test_large_group(self):
        ids = []
        for start in range(0, self.N, 1000):
            ops = [{"method": "POST", "path": "/Users", "bulkId": "u%d" % i,
                    "data": user("big%05d@example.org" % i, "big-%d" % i)}
                   for i in range(start, start + 1000)]
            r = self.srv.scim(self.cfg, "POST", "/Bulk",
                              {"schemas": [SCIM_BULK], "Operations": ops})
            self.assertEqual(r.status, 200)
            ids += [o["location"].rsplit("/", 1)[1] for o in r.body["Operations"]]
        r = self.srv.scim(self.cfg, "POST", "/Groups", group("Everyone", "g-all", ids))
        self.assertEqual(r.status, 201, r.raw[:300])
        g = r.body
        self.assertEqual(g[SCIM_GROUP_PROVIDER]["memberCount"], self.N)
        path = "/Groups/" + g["id"]
        timings = []
        for i in range(20):
            body = patch(("remove", 'members[value eq "%s"]' % ids[i], None))
            t = time.monotonic()
            r = self.srv.scim(self.cfg, "PATCH", path, body)
            timings.append(time.monotonic() - t)
            self.assertEqual(r.status, 204, r.raw)
            self.assertEqual(r.raw, b"")
            r = self.srv.scim(self.cfg, "PATCH", path,
                              patch(("add", "members", [{"value": ids[i]}])))
            self.assertEqual(r.status, 204, r.raw)
        # one member changed costs a small fraction of reading the group
        t = time.monotonic()
        full = self.srv.scim(self.cfg, "GET", path)
        full_time = time.monotonic() - t
        self.assertEqual(len(full.body["members"]), self.N)
        self.assertLess(sorted(timings)[len(timings) // 2], max(full_time, 0.02))
        small = self.srv.scim(self.cfg, "GET", path + "?excludedAttributes=members")
        self.assertLess(len(small.raw), 1000)
        self.assertEqual(small.body[SCIM_GROUP_PROVIDER]["memberCount"], self.N)
        listed = self.srv.scim(self.cfg, "GET", "/Groups?excludedAttributes=members")
        self.assertLess(len(listed.raw), 2000)
        mine = self.srv.scim(self.cfg, "GET", "/Groups?filter=" +
                             urllib.parse.quote('members.value eq "%s"' % ids[-1]) +
                             "&excludedAttributes=members")
        self.assertEqual([x["id"] for x in mine.body["Resources"]], [g["id"]])


if __name__ == "__main__":
    unittest.main()
