"""Every synchronization setting of adc imp alone and in the combinations that interact
(docs/product.md section 2 and rule 7), with a real slapd and a real adc-server."""
import unittest

from harness import ldif
from harness.sync import SyncSetup, imported


def mail(i):
    return f"user{i:06d}@example.org"


class Settings(unittest.TestCase):
    """Starts from 6 users imported; then the directory changes: user 0 renamed, user 1 locked,
    user 2 deleted, user 100 added."""

    def setUp(self):
        self.env = imported(self, 6)
        self.users = self.env.users
        self.before = self.env.cloud()

    def change_directory(self):
        self.env.rename(self.users[0], "renamed@example.org")
        self.env.slapd.lock(self.users[1].dn)
        self.env.delete_users([self.users[2]])
        self.env.add_users([ldif.regular_user(100)])

    def run_with(self, yaml=None, server=None, *args):
        if yaml is not None:
            self.env.write_yaml(yaml)
        if server is not None:
            self.env.server.set_settings(self.env.cfg, server)
        self.change_directory()
        r, doc = self.env.imp_json(*args)
        self.assertIsNotNone(doc, r.stderr)
        return r, doc, self.env.cloud()

    def reasons(self, doc):
        return {c["userName"]: (c["op"], c["reason"]) for c in doc["changes"]}

    def test_defaults(self):
        r, doc, cloud = self.run_with()
        self.assertEqual(r.returncode, 0, r.stderr)
        s = doc["stats"]
        # The rename is an update; the directory's lock of user 1 counts as a disable.
        self.assertEqual((s["created"], s["updated"], s["deleted"], s["disabled"], s["enabled"]),
                         (1, 1, 1, 1, 0))
        self.assertIn("renamed@example.org", cloud)
        self.assertFalse(cloud[mail(1)]["active"])
        self.assertNotIn(mail(2), cloud)
        self.assertIn(mail(100), cloud)

    def test_no_create(self):
        r, doc, cloud = self.run_with({"no-create": True})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.reasons(doc)[mail(100)], ("skip", "no-create is set"))
        self.assertNotIn(mail(100), cloud)
        self.assertIn("renamed@example.org", cloud)  # the rest still happens

    def test_no_update(self):
        r, doc, cloud = self.run_with({"no-update": True})
        self.assertEqual(r.returncode, 0, r.stderr)
        op, why = self.reasons(doc)["renamed@example.org"]
        self.assertEqual(op, "skip")
        self.assertTrue(why.startswith("no-update is set; would change userName"), why)
        self.assertIn(mail(0), cloud)
        self.assertTrue(cloud[mail(1)]["active"])
        self.assertNotIn(mail(2), cloud)  # deletes are not updates
        self.assertIn(mail(100), cloud)

    def test_no_delete(self):
        r, doc, cloud = self.run_with({"no-delete": True})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.reasons(doc)[mail(2)],
                         ("skip", "not in the directory; no-delete is set"))
        self.assertTrue(cloud[mail(2)]["active"])

    def test_delete_disables(self):
        r, doc, cloud = self.run_with({"delete-disables": True})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.reasons(doc)[mail(2)], ("disable", "not in the directory"))
        self.assertFalse(cloud[mail(2)]["active"])
        self.assertEqual(cloud[mail(2)]["id"], self.before[mail(2)]["id"])
        # Already disabled: nothing more to do next time.
        r, doc = self.env.imp_json()
        self.assertEqual(doc["stats"]["disabled"] + doc["stats"]["updated"], 0)

    def test_delete_disables_with_no_delete(self):
        r, doc, cloud = self.run_with({"delete-disables": True, "no-delete": True})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.reasons(doc)[mail(2)][0], "skip")
        self.assertTrue(cloud[mail(2)]["active"])
        # Only the directory's lock of user 1 disables; the leaver is neither disabled nor
        # deleted.
        self.assertEqual((doc["stats"]["disabled"], doc["stats"]["deleted"]), (1, 0))
        self.assertEqual(self.reasons(doc)[mail(1)][0], "update")

    def test_create_as_disabled_with_a_disabled_account(self):
        self.env.write_yaml({"create-as-disabled": True})
        locked = ldif.regular_user(101)
        self.env.add_users([locked])
        self.env.slapd.lock(locked.dn)
        r, doc, cloud = self.run_with()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(cloud[mail(100)]["active"])
        self.assertFalse(cloud[mail(101)]["active"])
        why = self.reasons(doc)
        self.assertEqual(why[mail(100)], ("create", "created disabled (create-as-disabled)"))
        self.assertEqual(why[mail(101)], ("create", "disabled in the directory"))
        # The cloud's administrator activates a new user; the next sync keeps that decision.
        r = self.env.server.scim("admin", "PATCH", f"/Users/{cloud[mail(100)]['id']}", {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": True}]})
        self.assertEqual(r.status, 200, r)
        r, doc = self.env.imp_json()
        self.assertEqual(doc["stats"]["updated"], 0, doc)
        cloud = self.env.cloud()
        self.assertTrue(cloud[mail(100)]["active"])
        self.assertFalse(cloud[mail(101)]["active"])

    def test_server_dry_run_over_a_client_real_run(self):
        r, doc, cloud = self.run_with({"dry-run": False}, {"dry-run": True})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIs(doc["dry_run"], True)
        self.assertEqual(doc["stats"]["created"], 1)  # planned
        self.assertEqual(cloud, self.before)
        text = self.env.imp()
        self.assertIn("  dry-run                      true   (server)", text.stdout)

    def test_command_line_dry_run_over_the_server(self):
        r, doc, cloud = self.run_with(None, {"dry-run": False}, "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIs(doc["dry_run"], True)
        self.assertEqual(cloud, self.before)

    def test_server_setting_wins_over_adc_yaml(self):
        r, doc, cloud = self.run_with({"no-delete": True, "no-create": False},
                                      {"no-delete": False, "no-create": True})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(mail(2), cloud)
        self.assertNotIn(mail(100), cloud)
        text = self.env.imp().stdout
        self.assertIn("  no-delete                    false  (server)", text)
        self.assertIn("  no-create                    true   (server)", text)
        self.assertIn("  no-update                    false  (default)", text)


class ProviderMismatch(unittest.TestCase):
    def setUp(self):
        self.users = ldif.generate(3, special=False)
        self.env = SyncSetup(self.users).__enter__()
        self.local = self.env.add_cloud_user(mail(1).upper(), "local", displayName="By hand")
        self.other_cfg = self.env.server.create_sync_config("other")
        self.other = self.env.add_cloud_user(mail(2), self.other_cfg["app_id"], "foreign-id")

    def tearDown(self):
        self.env.close()

    def test_other_providers_users_are_left_alone(self):
        self.env.write_yaml({"no-update-provider-mismatch": True})
        r, doc = self.env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        reasons = {c["userName"]: c["reason"] for c in doc["changes"] if c["op"] == "skip"}
        self.assertEqual(reasons[mail(1)], "owned by another provider (local)")
        self.assertEqual(reasons[mail(2)], f"owned by another provider ({self.other_cfg['app_id']})")
        cloud = self.env.cloud()
        self.assertEqual(SyncSetup.provider(cloud[mail(1).upper()]), "local")
        self.assertEqual(cloud[mail(1).upper()]["displayName"], "By hand")
        self.assertEqual(SyncSetup.provider(cloud[mail(2)]), self.other_cfg["app_id"])
        self.assertIn(mail(0), cloud)
        # Never deleted either, although this configuration's directory does not have them
        # under those identities.
        self.env.delete_users(self.users)
        r, doc = self.env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(doc["stats"]["deleted"], 1)  # only user 0, ours
        self.assertEqual(len(self.env.cloud()), 2)

    def test_takeover_when_the_server_allows_it(self):
        self.env.server.set_settings(self.env.cfg, {"no-update-provider-mismatch": False})
        self.assert_takeover()

    def test_takeover_decided_by_adc_yaml_when_the_server_leaves_it_open(self):
        self.env.server.set_settings(self.env.cfg, {"no-update-provider-mismatch": None})
        self.env.write_yaml({"no-update-provider-mismatch": False})
        self.assert_takeover()

    def test_server_refusal_wins_over_adc_yaml(self):
        self.env.write_yaml({"no-update-provider-mismatch": False})
        self.env.server.set_settings(self.env.cfg, {"no-update-provider-mismatch": True})
        r, doc = self.env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(doc["settings"]["no-update-provider-mismatch"], True)
        skips = {c["userName"] for c in doc["changes"] if c["op"] == "skip"}
        self.assertEqual(skips, {mail(1), mail(2)})
        self.assertEqual(SyncSetup.provider(self.env.cloud()[mail(1).upper()]), "local")

    def assert_takeover(self):
        r, doc = self.env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        updates = {c["userName"]: c["reason"] for c in doc["changes"] if c["op"] == "update"}
        self.assertTrue(updates[mail(1)].startswith("takeover from another provider (local)"))
        cloud = self.env.cloud()
        me = self.env.cfg["app_id"]
        taken = cloud[mail(1)]  # the directory's spelling of the name now
        self.assertEqual(taken["id"], self.local["id"])
        self.assertEqual(SyncSetup.provider(taken), me)
        self.assertEqual(taken["externalId"], self.users[1].entry_uuid)
        # Another sync configuration's user is never taken (docs/product.md section 11): it is
        # skipped, untouched.
        skips = {c["userName"]: c["reason"] for c in doc["changes"] if c["op"] == "skip"}
        self.assertEqual(skips[mail(2)],
                         f"owned by another provider ({self.other_cfg['app_id']})")
        self.assertEqual(SyncSetup.provider(cloud[mail(2)]), self.other_cfg["app_id"])
        self.assertEqual(cloud[mail(2)]["externalId"], "foreign-id")
        self.assertEqual(len(cloud), 3)
        r, doc = self.env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(doc["stats"]["unchanged"], 2)
        self.assertEqual(doc["stats"]["skipped"], 1)


if __name__ == "__main__":
    unittest.main()
