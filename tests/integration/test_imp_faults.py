"""adc imp when things go wrong (docs/product.md section 4 rules 5 and 6, section 3 exit codes): the
mass-delete guard, a directory that fails half-way, a server that dies mid-run, a user the
server refuses, wrong credentials."""
import json
import os
import subprocess
import time
import unittest

from harness import ldif
from harness.faulty_proxy import FaultyProxy
from harness.programs import ADC
from harness.sync import SyncSetup


def mail(i):
    return f"user{i:06d}@example.org"


class Guard(unittest.TestCase):
    def setUp(self):
        self.users = ldif.generate(10, special=False)
        self.env = SyncSetup(self.users).__enter__()
        self.assertEqual(self.env.imp().returncode, 0)
        self.before = self.env.cloud()

    def tearDown(self):
        self.env.close()

    def test_count_guard_stops_with_exit_4_and_writes_nothing(self):
        self.env.write_yaml({}, max_delete=3)
        self.env.delete_users(self.users[:4])
        self.env.add_users([ldif.regular_user(50)])  # a create must not happen either
        r = self.env.imp()
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("mass-delete guard", r.stderr)
        self.assertIn("deletes 4 and disables 0 of the 10 users", r.stderr)
        self.assertIn("nothing was changed", r.stderr)
        self.assertEqual(self.env.cloud(), self.before)
        # User 0 back as a new entry (a new entryUUID) is not linked to its old cloud user
        # (docs/product.md section 11: a conflict), so the old one still counts as a delete.
        self.env.add_users(self.users[:1])
        r = self.env.imp()
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("deletes 4 and disables 0 of the 10 users", r.stderr)
        self.assertEqual(self.env.cloud(), self.before)
        # At the limit it goes through: users 0-3 deleted, user 0's new entry reported as a
        # conflict, user 50 created; the next run creates user 0's new entry.
        self.env.write_yaml({}, max_delete=4)
        r = self.env.imp()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"skip +user000000@example.org +conflict")
        self.assertEqual(len(self.env.cloud()), 10 - 4 + 1)
        r = self.env.imp()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(self.env.cloud()), 10 - 3 + 1)

    def test_disables_count_too(self):
        self.env.write_yaml({"delete-disables": True}, max_delete=2)
        self.env.delete_users(self.users[:3])
        r, doc = self.env.imp_json()
        self.assertEqual(r.returncode, 4)
        self.assertEqual(doc["stats"]["disabled"], 3)  # the plan is still shown
        self.assertTrue(all(u["active"] for u in self.env.cloud().values()))

    def test_percentage_of_this_configurations_users(self):
        self.env.add_cloud_user("someone-local@example.org", "local")  # not counted
        self.env.write_yaml({}, max_delete="20%")
        self.env.delete_users(self.users[:3])
        r = self.env.imp()
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("(2)", r.stderr)
        # User 0 back as a new entry is a conflict, not its old cloud user (docs/product.md
        # section 11): still 3 deletes.
        self.env.add_users(self.users[:1])
        r = self.env.imp()
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("deletes 3 and disables 0 of the 10 users", r.stderr)
        self.env.write_yaml({}, max_delete="30%")
        r = self.env.imp()
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_directory_that_finds_nobody_deletes_nobody(self):
        # The classic accident: a wrong filter; the default guard (500) would not stop 10.
        self.env.write_yaml({}, max_delete=0)
        self.env.delete_users(self.users)
        r = self.env.imp()
        self.assertEqual(r.returncode, 4)
        self.assertEqual(self.env.cloud(), self.before)


class DirectoryFailure(unittest.TestCase):
    def test_incomplete_enumeration_writes_nothing(self):
        users = ldif.generate(30, special=False)
        # The service account may read 40 entries in all: the first sync is complete.
        with SyncSetup(users, slapd_kw={"size_limit": 40}, page_size=10) as env:
            self.assertEqual(env.imp().returncode, 0)
            before = env.cloud()
            self.assertEqual(len(before), 30)
            # 50 entries now: the read stops part-way, after four full pages. A sync that took
            # the partial list would delete the users it did not see and create the new ones.
            env.delete_users(users[:5])
            env.add_users([ldif.regular_user(i) for i in range(100, 125)])
            r = env.imp()
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("reading the directory failed, nothing was changed", r.stderr)
            self.assertEqual(env.cloud(), before)

    def test_directory_down_writes_nothing(self):
        users = ldif.generate(5, special=False)
        with SyncSetup(users) as env:
            self.assertEqual(env.imp().returncode, 0)
            before = env.cloud()
            env.slapd.kill()
            r = env.imp()
            self.assertEqual(r.returncode, 1)
            self.assertIn("reading the directory failed", r.stderr)
            self.assertEqual(env.cloud(), before)
            runs = env.server.admin("GET", f"/api/v1/sync-configs/{env.cfg['app_id']}/runs").body
            runs = runs if isinstance(runs, list) else runs.get("runs", runs.get("Resources"))
            self.assertIn("failed", {run["status"] for run in runs})


class ServerFailure(unittest.TestCase):
    def test_server_killed_mid_run_then_rerun_converges_without_duplicates(self):
        users = ldif.generate(20000, special=False)
        with SyncSetup(users) as env:
            env_vars = {"ADC_HTTP_BACKOFF_MS": "100", "ADC_HTTP_ATTEMPTS": "3"}
            full = dict(os.environ, **env_vars)
            p = subprocess.Popen([ADC, "-C", env.cfg_path, "imp"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=full)
            # Kill the server once the first Bulk request has landed, before the last.
            deadline = time.time() + 60
            while time.time() < deadline:
                r = env.server.scim("admin", "GET", "/Users?count=1")
                if r.status == 200 and r.body["totalResults"] > 0:
                    break
                time.sleep(0.01)
            env.kill_server()
            out, err = p.communicate(timeout=120)
            self.assertIn(p.returncode, (1, 5), err)
            self.assertIn("writing to the cloud failed", err)
            env.restart_server()
            partial = len(env.cloud_list())
            self.assertLess(partial, 20000, "the server was killed too late to test anything")
            r = env.imp()
            self.assertEqual(r.returncode, 0, r.stderr)
            listed = env.cloud_list()
            self.assertEqual(len(listed), 20000)
            self.assertEqual(len({u["externalId"] for u in listed}), 20000)
            self.assertEqual(len({u["userName"].lower() for u in listed}), 20000)
            r, doc = env.imp_json()
            self.assertEqual(doc["stats"]["unchanged"], 20000)
            self.assertEqual(len(doc["changes"]), 0)


class Retries(unittest.TestCase):
    """Through a proxy that answers 429/503 or loses answers: every write is safe to repeat."""

    @staticmethod
    def imp_through(env, faults):
        """adc imp --json with adc.cfg pointing at a FaultyProxy in front of env's server:
        (the completed process, the JSON document, the requests the proxy saw)."""
        with FaultyProxy(env.server.url, faults) as proxy:
            with open(env.cfg_path, "w") as f:
                f.write(f"server = {proxy.url}\napp_id = {env.cfg['app_id']}\n"
                        f"secret = {env.cfg['secret']}\n")
            r, doc = env.imp_json()
            return r, doc, proxy.seen

    def run_through(self, faults, n=2500):
        users = ldif.generate(n, special=False)
        with SyncSetup(users) as env:
            started = time.monotonic()
            r, doc, seen = self.imp_through(env, faults)
            elapsed = time.monotonic() - started
            listed = env.cloud_list()
            return r, doc, listed, seen, elapsed

    def test_429_with_retry_after_is_honoured(self):
        r, doc, listed, seen, elapsed = self.run_through({"/scim/v2/Bulk": ["429", "503"]})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(doc["stats"]["created"], 2500)
        self.assertEqual(len(listed), 2500)
        bulk = [st for m, p, st in seen if p.startswith("/scim/v2/Bulk")]
        self.assertEqual(bulk[:2], [429, 503])
        self.assertEqual(set(bulk[2:]), {200})
        self.assertGreaterEqual(elapsed, 1.0)  # Retry-After: 1

    def test_lost_answers_do_not_duplicate_creates(self):
        # The second Bulk request is written by the server but its answer is lost: adc sends it
        # again, gets 409 for each create, finds the users by externalId, and counts them done.
        r, doc, listed, seen, _ = self.run_through({"/scim/v2/Bulk": ["ok", "drop"]})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(doc["stats"]["created"], 2500)
        self.assertEqual(doc["stats"]["failed"], 0)
        self.assertEqual(len(listed), 2500)
        self.assertEqual(len({u["externalId"] for u in listed}), 2500)
        self.assertIn("drop", [st for m, p, st in seen])
        # The 1,000 creates of the repeated request are looked up together, a few dozen at a
        # time, not one request each.
        lookups = [p for m, p, st in seen if "filter=externalId" in p]
        self.assertGreater(len(lookups), 0)
        self.assertLess(len(lookups), 50)

    def test_a_create_of_a_user_there_before_the_run_is_not_counted_as_created(self):
        # Just before the first Bulk request reaches the server, the same configuration creates
        # one of its users (as a run whose listing missed it would find it): the create gets
        # 409, the look-up finds the user ours, and since no earlier attempt of this run sent
        # it, it was there before: it is replaced with the directory's attributes and counted
        # as updated, not created (docs/product.md section 4 rule 1).
        users = ldif.generate(300, special=False)
        with SyncSetup(users) as env:
            first = {}

            def create_first(method, path, body):
                op = json.loads(body)["Operations"][0]
                data = dict(op["data"], title="stale")
                r = env.server.scim(env.cfg, "POST", "/Users", data)
                assert r.status == 201, r
                first.update(data)

            r, doc, seen = self.imp_through(env, {"/scim/v2/Bulk": [create_first]})
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual((doc["stats"]["created"], doc["stats"]["updated"],
                              doc["stats"]["failed"]), (299, 1, 0), r.stderr)
            self.assertIn("was in the cloud already as this configuration's user", r.stderr)
            # Its line in --json says what was done: an update, and why.
            line = [c for c in doc["changes"] if c["userName"] == first["userName"]]
            self.assertEqual(len(line), 1)
            self.assertEqual(line[0]["op"], "update")
            self.assertIn("in the cloud already", line[0]["reason"])
            self.assertEqual(sum(c["op"] == "create" for c in doc["changes"]), 299)
            cloud = env.cloud()
            self.assertEqual(len(cloud), 300)
            # The replace brought the directory's attributes: the stale title is gone.
            self.assertNotEqual(cloud[first["userName"]].get("title"), "stale")
            self.assertIn("filter=externalId", " ".join(p for m, p, st in seen))
            # The run record carries the same counts.
            runs = env.server.admin("GET",
                                    f"/api/v1/sync-configs/{env.cfg['app_id']}/runs").body["runs"]
            self.assertEqual([(x["stats"]["created"], x["stats"]["updated"]) for x in runs],
                             [(299, 1)])
            env.write_cfg()  # straight to the server again
            r, doc = env.imp_json()
            self.assertEqual(doc["stats"]["unchanged"], 300)

    def test_one_create_at_a_time_lost_answer_and_user_there_before(self):
        # Without Bulk (the server says it has none), creates go one by one: the answer of the
        # 3rd is lost after the server wrote it (created, once), and the 5th's user is created
        # by the same configuration just before the request reaches the server (there before:
        # replaced, counted as updated).
        users = ldif.generate(10, special=False)
        with SyncSetup(users) as env:
            posts = []

            def decide(method, path, body):
                if path.startswith("/scim/v2/ServiceProviderConfig"):
                    return 200, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:"
                                             "ServiceProviderConfig"],
                                 "bulk": {"supported": False, "maxOperations": 0,
                                          "maxPayloadSize": 0}}
                if method != "POST" or not path.startswith("/scim/v2/Users"):
                    return None
                posts.append(json.loads(body)["userName"])
                if len(posts) == 3:
                    return "drop"
                if len(posts) == 6:  # the 5th user (the 3rd went twice)
                    r = env.server.scim(env.cfg, "POST", "/Users", json.loads(body))
                    assert r.status == 201, r
                return None

            r, doc, seen = self.imp_through(env, {"/scim/v2/": decide})
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("/scim/v2/Bulk", [p for m, p, st in seen])
            self.assertEqual(posts[2], posts[3])  # the lost one, sent again
            self.assertEqual((doc["stats"]["created"], doc["stats"]["updated"],
                              doc["stats"]["failed"]), (9, 1, 0), r.stderr)
            self.assertIn(posts[5], r.stderr)  # the notice names the user there before
            self.assertIn(("PUT", 200), [(m, st) for m, p, st in seen])
            self.assertEqual(len(env.cloud()), 10)

    def test_lost_answers_of_updates_and_deletes_are_harmless(self):
        users = ldif.generate(30, special=False)
        with SyncSetup(users) as env:
            self.assertEqual(env.imp().returncode, 0)
            env.delete_users(users[:5])
            for u in users[5:10]:
                env.rename(u, "new-" + u.mail[0])
            env.slapd.lock(users[10].dn)
            r, doc, _ = self.imp_through(env, {"/scim/v2/Bulk": ["drop"]})
            self.assertEqual(r.returncode, 0, r.stderr)
            # 5 renames are updates, the lock of user 10 a disable.
            self.assertEqual((doc["stats"]["deleted"], doc["stats"]["updated"],
                              doc["stats"]["disabled"]), (5, 5, 1))
            cloud = env.cloud()
            self.assertEqual(len(cloud), 25)
            self.assertFalse(cloud[mail(10)]["active"])
            self.assertIn("new-" + mail(7), cloud)


class RefusedUsers(unittest.TestCase):
    def test_a_user_the_server_refuses_is_reported_and_the_rest_go_on(self):
        users = ldif.generate(5, special=False)
        with SyncSetup(users) as env:
            self.assertEqual(env.imp().returncode, 0)
            # A name taken by a hand-made cloud user: user 1's rename cannot be written.
            env.add_cloud_user("taken@example.org", "local")
            env.rename(users[1], "taken@example.org")
            env.rename(users[2], "fine@example.org")
            env.add_users([ldif.regular_user(9)])
            r, doc = env.imp_json()
            self.assertEqual(r.returncode, 5, r.stderr)
            self.assertEqual(doc["stats"]["failed"], 1)
            self.assertEqual(doc["stats"]["created"], 1)
            self.assertEqual(doc["stats"]["updated"], 1)
            failed = [c for c in doc["changes"] if (c["reason"] or "").startswith("failed: ")]
            self.assertEqual([c["userName"] for c in failed], ["taken@example.org"])
            self.assertIn("HTTP 409", failed[0]["reason"])
            cloud = env.cloud()
            self.assertIn("fine@example.org", cloud)
            self.assertIn(mail(9), cloud)
            self.assertIn(mail(1), cloud)
            self.assertIn("1 users could not be written", r.stderr)

    def test_wrong_secret_is_a_runtime_failure_without_the_secret(self):
        with SyncSetup(ldif.generate(2, special=False)) as env:
            secret = env.cfg["secret"]
            r = env.server.admin("POST", f"/api/v1/sync-configs/{env.cfg['app_id']}/secret")
            self.assertIn(r.status, (200, 201), r)
            r = env.imp()
            self.assertEqual(r.returncode, 1)
            self.assertIn("refused the credentials", r.stderr)
            self.assertIn("secret may have been rotated", r.stderr)
            self.assertNotIn(secret, r.stderr + r.stdout)
            self.assertEqual(env.cloud(), {})

    def test_server_unreachable(self):
        with SyncSetup(ldif.generate(2, special=False)) as env:
            env.kill_server()
            r = env.imp()
            self.assertEqual(r.returncode, 1)
            self.assertIn(env.server.url, r.stderr)


if __name__ == "__main__":
    unittest.main()
