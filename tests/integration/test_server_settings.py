"""The server enforces a sync configuration's server-side settings on every request itself
(docs/product.md section 4, rule 7), whatever the client sends: the matrix of each setting against each
kind of write, and the provider (ownership) rules of rule 3."""
import unittest
import urllib.parse

from harness.server import SCIM_BULK, SCIM_PROVIDER, ServerTestCase, patch, user


class Enforcement(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.n = 0

    def setUp(self):
        self.cfg = self.srv.create_sync_config("enforced-" + self._testMethodName)

    def owned_user(self, cfg=None, provider=None):
        """A user owned by cfg (or by `provider`), created by the admin, so that it exists
        whatever cfg's settings say."""
        type(self).n += 1
        body = user("u%d-%s" % (self.n, self._testMethodName), "ext-%d" % self.n)
        body[SCIM_PROVIDER] = {"provider": provider or (cfg or self.cfg)["app_id"]}
        r = self.srv.scim("admin", "POST", "/Users", body)
        self.assertEqual(r.status, 201, r.raw)
        return r.body

    def writes(self, cfg):
        """Status of each kind of write by cfg: create, replace, patch, delete."""
        a, b, c = self.owned_user(cfg), self.owned_user(cfg), self.owned_user(cfg)
        type(self).n += 1
        out = {
            "create": self.srv.scim(cfg, "POST", "/Users", user("new%d" % self.n, "x%d" % self.n)),
            "replace": self.srv.scim(cfg, "PUT", "/Users/" + a["id"],
                                     user(a["userName"], a["externalId"], title="t")),
            "patch": self.srv.scim(cfg, "PATCH", "/Users/" + b["id"],
                                   patch(("replace", "title", "t"))),
            "delete": self.srv.scim(cfg, "DELETE", "/Users/" + c["id"]),
        }
        return out

    def check(self, settings, refused, word=None):
        self.srv.set_settings(self.cfg, settings)
        res = self.writes(self.cfg)
        for op, r in res.items():
            if op in refused:
                self.assertEqual(r.status, 403, (settings, op, r.raw))
                self.assertIn(word or list(settings)[0], r.body["detail"])
            else:
                self.assertIn(r.status, (200, 201, 204), (settings, op, r.raw))
        return res

    def test_no_settings_allows_everything(self):
        self.check({}, set())

    def test_dry_run_refuses_every_write(self):
        before = self.srv.scim("admin", "GET", "/Users?count=0").body["totalResults"]
        self.check({"dry-run": True}, {"create", "replace", "patch", "delete"})
        # only the admin's setup users were added; reads still work
        after = self.srv.scim(self.cfg, "GET", "/Users?count=0")
        self.assertEqual(after.status, 200)
        self.assertEqual(after.body["totalResults"], before + 3)
        r = self.srv.scim(self.cfg, "POST", "/Bulk", {"schemas": [SCIM_BULK], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "1", "data": user("bulk-dry")}]})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body["Operations"][0]["status"], "403")
        self.assertIn("dry-run", r.body["Operations"][0]["response"]["detail"])

    def test_dry_run_false_and_others_false_allow(self):
        self.check({"dry-run": False, "no-create": False, "no-update": False,
                    "no-delete": False}, set())

    def test_no_create(self):
        self.check({"no-create": True}, {"create"})

    def test_no_update(self):
        self.check({"no-update": True}, {"replace", "patch"})

    def test_no_delete(self):
        self.check({"no-delete": True}, {"delete"})

    def test_delete_disables_refuses_delete_but_allows_disable(self):
        res = self.check({"delete-disables": True}, {"delete"})
        self.assertIn("active=false", res["delete"].body["detail"])
        u = self.owned_user()
        r = self.srv.scim(self.cfg, "PATCH", "/Users/" + u["id"],
                          patch(("replace", "active", False)))
        self.assertEqual(r.status, 200)
        self.assertFalse(r.body["active"])

    def test_create_as_disabled(self):
        self.srv.set_settings(self.cfg, {"create-as-disabled": True})
        r = self.srv.scim(self.cfg, "POST", "/Users", user("born-disabled", "bd", active=True))
        self.assertEqual(r.status, 201)
        self.assertFalse(r.body["active"])
        # later updates may enable it (the directory says so)
        r = self.srv.scim(self.cfg, "PATCH", "/Users/" + r.body["id"],
                          patch(("replace", "active", True)))
        self.assertTrue(r.body["active"])
        self.srv.set_settings(self.cfg, {"create-as-disabled": None})
        r = self.srv.scim(self.cfg, "POST", "/Users", user("born-active", "ba"))
        self.assertTrue(r.body["active"])

    def test_settings_apply_at_once(self):
        self.srv.set_settings(self.cfg, {"no-create": True})
        self.assertEqual(self.srv.scim(self.cfg, "POST", "/Users", user("now1")).status, 403)
        self.srv.set_settings(self.cfg, {"no-create": None})
        self.assertEqual(self.srv.scim(self.cfg, "POST", "/Users", user("now1")).status, 201)

    def test_admin_is_not_bound_by_settings(self):
        self.srv.set_settings(self.cfg, {"dry-run": True})
        u = self.owned_user()
        r = self.srv.scim("admin", "PATCH", "/Users/" + u["id"], patch(("replace", "title", "x")))
        self.assertEqual(r.status, 200)
        self.assertEqual(self.srv.scim("admin", "DELETE", "/Users/" + u["id"]).status, 204)

    # --- providers ---------------------------------------------------------------------------
    def test_reads_all_writes_own(self):
        other = self.srv.create_sync_config("other-" + self._testMethodName)
        theirs = self.owned_user(other)
        local = self.owned_user(provider="local")
        # reading: every user, whoever owns it (matching by userName among all providers)
        for u in (theirs, local):
            r = self.srv.scim(self.cfg, "GET", "/Users?filter=" +
                              urllib.parse.quote('userName eq "%s"' % u["userName"]))
            self.assertEqual(r.body["totalResults"], 1)
            self.assertEqual(self.srv.scim(self.cfg, "GET", "/Users/" + u["id"]).status, 200)
        # writing: the server setting no-update-provider-mismatch=true refuses takeovers
        self.srv.set_settings(self.cfg, {"no-update-provider-mismatch": True})
        for u in (theirs, local):
            r = self.srv.scim(self.cfg, "PATCH", "/Users/" + u["id"],
                              patch(("replace", "title", "x")))
            self.assertEqual(r.status, 403)
            self.assertIn("belongs to provider", r.body["detail"])
            self.assertIn("no-update-provider-mismatch", r.body["detail"])
            r = self.srv.scim(self.cfg, "PUT", "/Users/" + u["id"], user(u["userName"]))
            self.assertEqual(r.status, 403)
            r = self.srv.scim(self.cfg, "DELETE", "/Users/" + u["id"])
            self.assertEqual(r.status, 403)
            self.assertEqual(self.srv.scim("admin", "GET", "/Users/" + u["id"]).body["meta"]
                             ["version"], 'W/"1"')

    def test_takeover_unset_on_server_is_the_clients_choice(self):
        # Unset = the client decides (docs/product.md section 6): adc only sends this write when its
        # own no-update-provider-mismatch is false, so the server lets it through.
        # New configurations refuse takeovers (docs/product.md section 11); the administrator
        # leaves the decision to the client:
        self.srv.set_settings(self.cfg, {"no-update-provider-mismatch": None})
        local = self.owned_user(provider="local")
        r = self.srv.scim(self.cfg, "PUT", "/Users/" + local["id"],
                          user(local["userName"], "my-uuid-3"))
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.body[SCIM_PROVIDER]["provider"], self.cfg["app_id"])
        # ... but never a delete of another provider's user
        again = self.owned_user(provider="local")
        self.assertEqual(self.srv.scim(self.cfg, "DELETE", "/Users/" + again["id"]).status, 403)

    def test_takeover_when_server_allows(self):
        local = self.owned_user(provider="local")
        other = self.srv.create_sync_config("victim-" + self._testMethodName)
        theirs = self.owned_user(other)
        self.srv.set_settings(self.cfg, {"no-update-provider-mismatch": False})
        r = self.srv.scim(self.cfg, "PATCH", "/Users/" + local["id"],
                          patch(("replace", "externalId", "my-uuid")))
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.body[SCIM_PROVIDER]["provider"], self.cfg["app_id"])
        audit = self.srv.admin("GET", "/api/v1/audit?limit=20").body["entries"]
        self.assertIn(("sync:" + self.cfg["app_id"], "user.takeover", local["id"]),
                      [(e["actor"], e["action"], e["target"]) for e in audit])
        # another configuration's user: never written, whatever the settings say
        # (docs/product.md section 11)
        for method, body in (("PUT", user(theirs["userName"], "my-uuid-2")),
                             ("PATCH", patch(("replace", "title", "x")))):
            r = self.srv.scim(self.cfg, method, "/Users/" + theirs["id"], body)
            self.assertEqual(r.status, 403, r.raw)
            self.assertIn("another sync configuration", r.body["detail"])
        r = self.srv.scim("admin", "GET", "/Users/" + theirs["id"])
        self.assertEqual(r.body[SCIM_PROVIDER]["provider"], other["app_id"])
        self.assertEqual(r.body["meta"]["version"], 'W/"1"')
        # delete of another provider's user: never, even with takeover allowed
        again = self.owned_user(provider="local")
        self.assertEqual(self.srv.scim(self.cfg, "DELETE", "/Users/" + again["id"]).status, 403)

    def test_bulk_enforced_per_operation(self):
        mine = self.owned_user()
        local = self.owned_user(provider="local")
        self.srv.set_settings(self.cfg, {"no-create": True})
        r = self.srv.scim(self.cfg, "POST", "/Bulk", {"schemas": [SCIM_BULK], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": user("bulk-nc")},
            {"method": "PATCH", "path": "/Users/" + mine["id"],
             "data": patch(("replace", "title", "ok"))},
            {"method": "DELETE", "path": "/Users/" + local["id"]}]})
        self.assertEqual(r.status, 200)
        self.assertEqual([o["status"] for o in r.body["Operations"]], ["403", "200", "403"])


if __name__ == "__main__":
    unittest.main()
