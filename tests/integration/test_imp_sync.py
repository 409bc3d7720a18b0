"""adc imp end to end against a real slapd and a real adc-server (docs/product.md sections 3 and 4):
first import, a second run that changes nothing, renames, disabled accounts, users leaving and
coming back, duplicate names, the output (text and --json), and adc check's cloud step."""
import os
import pty
import subprocess
import unittest

from harness import ldif
from harness.programs import ADC
from harness.sync import SyncSetup, imported


def mail(i):
    return f"user{i:06d}@example.org"


# Entries of ldif.special_users() that cannot become cloud users (rule 8). twomail can: its
# first mail names it, the second is a further address.
UNUSABLE = {"nomail", "dup1", "dup2"}


class FirstImport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.users = ldif.generate(12)
        cls.env = SyncSetup(cls.users).__enter__()
        cls.dry = cls.env.imp("--dry-run")
        cls.dry_cloud = cls.env.cloud()
        cls.first = cls.env.imp()
        cls.cloud = cls.env.cloud()
        cls.second, cls.second_doc = cls.env.imp_json()

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def test_dry_run_shows_the_plan_and_changes_nothing(self):
        self.assertEqual(self.dry.returncode, 0, self.dry.stderr)
        self.assertEqual(self.dry_cloud, {})
        self.assertIn("  dry-run                      true   (command line)", self.dry.stdout)
        self.assertRegex(self.dry.stdout, r"\n  create +user000003@example.org")
        self.assertIn("Summary (dry run, would be): created 23, updated 0, deleted 0, "
                      "disabled 0, enabled 0, unchanged 0, skipped 3, failed 0", self.dry.stdout)

    def test_first_import_creates_every_usable_user(self):
        self.assertEqual(self.first.returncode, 0, self.first.stderr)
        self.assertIn("Summary: created 23, updated 0, deleted 0, disabled 0, enabled 0, "
                      "unchanged 0, skipped 3, failed 0", self.first.stdout)
        want = {u.mail[0] for u in self.users if u.uid not in UNUSABLE}
        self.assertEqual(set(self.cloud), want)

    def test_cloud_users_carry_identity_owner_and_attributes(self):
        by_uid = {u.uid: u for u in self.users}
        u = by_uid["user000007"]
        c = self.cloud[mail(7)]
        self.assertEqual(c["externalId"], u.entry_uuid)
        self.assertEqual(SyncSetup.provider(c), self.env.cfg["app_id"])
        self.assertEqual(c["displayName"], "Given7 Family7")
        self.assertEqual(c["name"]["givenName"], "Given7")
        self.assertEqual(c["name"]["familyName"], "Family7")
        self.assertEqual(c["emails"][0]["value"], mail(7))
        self.assertTrue(c["active"])
        # Non-ASCII survives the whole way.
        self.assertEqual(self.cloud["zoe@example.org"]["displayName"], "Zoë Ångström")
        # A ppolicy-locked account is a disabled cloud user (rule 4).
        self.assertFalse(self.cloud["locked@example.org"]["active"])
        # Two mails: the first names the user and is the primary address, the second a further
        # address (docs/adc.yaml.5).
        two = self.cloud["twomail@example.org"]
        self.assertEqual([(e["value"], e.get("primary", False)) for e in two["emails"]],
                         [("twomail@example.org", True), ("two.mail@example.org", False)])

    def test_second_run_changes_nothing(self):
        self.assertEqual(self.second.returncode, 0, self.second.stderr)
        self.assertEqual(self.second_doc["stats"], {"created": 0, "updated": 0, "deleted": 0,
                                                    "disabled": 0, "enabled": 0, "unchanged": 23,
                                                    "skipped": 3, "failed": 0})
        self.assertEqual({c["op"] for c in self.second_doc["changes"]}, {"skip"})

    def test_json_document_shape(self):
        doc = self.second_doc
        self.assertEqual(set(doc), {"dry_run", "settings", "stats", "changes"})
        self.assertIs(doc["dry_run"], False)
        self.assertEqual(set(doc["settings"]), {
            "dry-run", "no-update", "no-create", "no-delete", "delete-disables",
            "no-update-provider-mismatch", "create-as-disabled"})
        self.assertTrue(all(isinstance(v, bool) for v in doc["settings"].values()))
        for c in doc["changes"]:
            self.assertEqual(set(c), {"op", "userName", "externalId", "reason"})
        reasons = {c["userName"]: c["reason"] for c in doc["changes"]}
        self.assertIn("duplicate", reasons["dup.user@example.org"])
        nameless = [c for c in doc["changes"] if c["userName"] is None]
        self.assertEqual(len(nameless), 1)  # nomail
        self.assertTrue(any("uid=nomail" in c["reason"] for c in nameless))

    def test_run_records_on_the_server(self):
        r = self.env.server.admin("GET", f"/api/v1/sync-configs/{self.env.cfg['app_id']}/runs")
        self.assertEqual(r.status, 200, r)
        runs = r.body if isinstance(r.body, list) else r.body.get("runs", r.body.get("Resources"))
        self.assertGreaterEqual(len(runs), 3)
        statuses = {run["status"] for run in runs}
        self.assertEqual(statuses, {"succeeded"})
        self.assertTrue(any(run.get("dry_run") for run in runs))


class Changes(unittest.TestCase):
    def setUp(self):
        self.env = imported(self, 10)
        self.users = self.env.users
        self.before = self.env.cloud()

    def test_rename_is_an_update_of_the_same_user(self):
        self.env.rename(self.users[3], "renamed@example.org")
        r, doc = self.env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(doc["stats"]["updated"], 1)
        self.assertEqual(doc["stats"]["created"] + doc["stats"]["deleted"], 0)
        self.assertEqual(doc["changes"][0]["op"], "update")
        self.assertIn("userName", doc["changes"][0]["reason"])
        after = self.env.cloud()
        self.assertNotIn(mail(3), after)
        self.assertEqual(after["renamed@example.org"]["id"], self.before[mail(3)]["id"])
        self.assertEqual(after["renamed@example.org"]["externalId"], self.users[3].entry_uuid)

    def test_disabled_account_is_disabled_and_enabled_again(self):
        self.env.slapd.lock(self.users[2].dn)
        r = self.env.imp()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"update +user000002@example.org +changes active=false")
        self.assertIn("updated 0, deleted 0, disabled 1, enabled 0,", r.stdout)
        self.assertFalse(self.env.cloud()[mail(2)]["active"])
        self.env.slapd.unlock(self.users[2].dn)
        r = self.env.imp()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("updated 0, deleted 0, disabled 0, enabled 1,", r.stdout)
        self.assertTrue(self.env.cloud()[mail(2)]["active"])

    def test_user_leaving_is_deleted_and_coming_back_is_created(self):
        self.env.delete_users([self.users[5]])
        r = self.env.imp()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"delete +user000005@example.org +not in the directory")
        self.assertNotIn(mail(5), self.env.cloud())
        self.env.add_users([self.users[5]])  # a new entry: a new entryUUID
        r = self.env.imp()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("created 1,", r.stdout)
        self.assertIn(mail(5), self.env.cloud())

    def test_new_entry_with_a_leavers_name_is_a_conflict_not_a_reactivation(self):
        # docs/product.md section 11 (issue 15): a user of this configuration is matched by
        # externalId only. The leaver's account, disabled under delete-disables, must not be
        # re-activated for a new person who got the same address.
        self.env.write_yaml({"delete-disables": True})
        self.env.delete_users([self.users[5]])
        r = self.env.imp()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"disable +user000005@example.org")
        self.assertFalse(self.env.cloud()[mail(5)]["active"])
        old = self.env.cloud()[mail(5)]
        # A new entry with the same name: a new entryUUID.
        self.env.add_users([self.users[5]])
        new_uuid = self.env.slapd.ldapsearch(f"(uid=user000005)", "entryUUID").stdout
        r, doc = self.env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        conflict = [c for c in doc["changes"] if c["userName"] == mail(5)]
        self.assertEqual(len(conflict), 1, doc["changes"])
        self.assertEqual(conflict[0]["op"], "skip")
        self.assertIn("conflict", conflict[0]["reason"])
        self.assertIn(old["externalId"], conflict[0]["reason"])
        self.assertIn(conflict[0]["externalId"], new_uuid)
        self.assertEqual(doc["stats"]["enabled"] + doc["stats"]["updated"], 0)
        c = self.env.cloud()[mail(5)]
        self.assertEqual(c, old)  # untouched: still the leaver's, still disabled
        self.assertFalse(c["active"])
        self.assertEqual(len(self.env.cloud()), 10)
        r = self.env.imp()  # and the text says so too, on every run until someone decides
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"skip +user000005@example.org +conflict")

    def test_name_becoming_duplicate_is_skipped_and_not_deleted(self):
        dup = ldif.regular_user(100)
        dup.mail = [mail(1).upper()]
        self.env.add_users([dup])
        r, doc = self.env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        skips = [c for c in doc["changes"] if c["op"] == "skip"]
        self.assertEqual(len(skips), 2)
        self.assertEqual(doc["stats"]["deleted"], 0)
        self.assertIn(mail(1), self.env.cloud())

    def test_swapped_names_and_a_freed_name_reused(self):
        # user 4 takes a new name, a new entry takes user 4's old name.
        self.env.rename(self.users[4], "moved@example.org")
        newcomer = ldif.regular_user(200)
        newcomer.mail = [mail(4)]
        self.env.add_users([newcomer])
        r = self.env.imp()
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        after = self.env.cloud()
        self.assertEqual(after["moved@example.org"]["id"], self.before[mail(4)]["id"])
        self.assertNotEqual(after[mail(4)]["id"], self.before[mail(4)]["id"])
        self.assertEqual(len(after), 11)

    def test_renames_onto_each_others_names_in_one_run(self):
        # Users 1 and 2 swap names; user 3 takes user 4's name while user 4 takes a new one
        # that sorts after it. adc-server keeps userName unique after every single write.
        self.env.rename(self.users[1], mail(2))
        self.env.rename(self.users[2], mail(1))
        self.env.rename(self.users[3], mail(4))
        self.env.rename(self.users[4], "zz.moved@example.org")
        dry, dry_doc = self.env.imp_json("--dry-run")
        self.assertEqual(dry.returncode, 0, dry.stderr)
        self.assertEqual(self.env.cloud(), self.before)
        temps = [c for c in dry_doc["changes"] if "temporary userName" in (c["reason"] or "")]
        self.assertEqual(len(temps), 1)
        self.assertEqual(temps[0]["op"], "update")
        self.assertIn("for a rename cycle", temps[0]["reason"])
        self.assertEqual(dry_doc["stats"]["updated"], 4)
        self.assertEqual(len(dry_doc["changes"]), 5)

        r, doc = self.env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assertEqual(doc["stats"], {"created": 0, "updated": 4, "deleted": 0, "disabled": 0,
                                        "enabled": 0, "unchanged": 6, "skipped": 0, "failed": 0})
        self.assertEqual([c["op"] for c in doc["changes"]], ["update"] * 5)
        after = self.env.cloud()
        self.assertEqual(len(after), 10)
        ids = {name: u["id"] for name, u in self.before.items()}
        self.assertEqual(after[mail(2)]["id"], ids[mail(1)])
        self.assertEqual(after[mail(1)]["id"], ids[mail(2)])
        self.assertEqual(after[mail(4)]["id"], ids[mail(3)])
        self.assertEqual(after["zz.moved@example.org"]["id"], ids[mail(4)])
        by_ext = {u["externalId"]: name for name, u in after.items()}
        self.assertEqual(by_ext[self.users[1].entry_uuid], mail(2))
        self.assertEqual(by_ext[self.users[4].entry_uuid], "zz.moved@example.org")

        again, again_doc = self.env.imp_json()
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(again_doc["stats"]["updated"], 0)
        self.assertEqual(again_doc["stats"]["unchanged"], 10)
        self.assertEqual(again_doc["changes"], [])
        self.assertEqual(self.env.cloud(), after)


class Progress(unittest.TestCase):
    def test_progress_only_on_a_terminal(self):
        with SyncSetup(ldif.generate(3000, special=False)) as env:
            master, slave = pty.openpty()
            p = subprocess.Popen([ADC, "-C", env.cfg_path, "imp"], stdout=subprocess.PIPE,
                                 stderr=slave, text=True)
            os.close(slave)
            out, _ = p.communicate(timeout=120)
            tty = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                tty += chunk
            os.close(master)
            self.assertEqual(p.returncode, 0)
            self.assertIn(b"\rwriting to the cloud", tty.replace(b"\x1b[K", b""))
            self.assertNotIn("\r", out)  # stdout stays clean
            # Not a terminal: no progress lines at all.
            env.delete_users(env.users[:5])
            r = env.imp()
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr, "")


class Https(unittest.TestCase):
    def test_imp_over_https_verifies_the_server_with_ca_file(self):
        users = ldif.generate(3, special=False)
        with SyncSetup(users, server_tls=True) as env:
            env.write_cfg(ca_file=False)  # the system's CAs do not know this server
            r = env.imp()
            self.assertEqual(r.returncode, 1)
            self.assertIn("certificate", r.stderr)
            self.assertEqual(env.cloud(), {})
            env.write_cfg()
            r = env.imp()
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(set(env.cloud()), {mail(i) for i in range(3)})


class Check(unittest.TestCase):
    def test_check_tries_the_cloud_credentials(self):
        with SyncSetup(ldif.generate(2, special=False)) as env:
            r = env.adc("check")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"cloud: {env.server.url} accepts application '{env.cfg['app_id']}'",
                          r.stdout)
            secret = env.cfg["secret"]
            with open(env.cfg_path, "w") as f:
                f.write(f"server = {env.server.url}\napp_id = {env.cfg['app_id']}\n"
                        f"secret = wrong-{secret}\n")
            r = env.adc("check")
            self.assertEqual(r.returncode, 1)
            self.assertIn("refused the credentials", r.stderr)
            self.assertNotIn(secret, r.stderr + r.stdout)


if __name__ == "__main__":
    unittest.main()
