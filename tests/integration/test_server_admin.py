"""adc-server's command line and System Administrator API (docs/product.md section 6): init, tokens,
sync configurations with their secrets and settings, deletion, run records, the audit log."""
import os
import sqlite3
import subprocess
import unittest

from harness.programs import ADC_SERVER, adc_server
from harness.server import AdcServer, ServerTestCase, basic_auth, user


class CommandLine(unittest.TestCase):
    def setUp(self):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="adc-server-cli-")
        self.db = os.path.join(self.dir, "x.sqlite")

    def tearDown(self):
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_init_prints_token_once_and_refuses_existing_db(self):
        r = adc_server("--db", self.db, "init")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^adca_[A-Za-z0-9_-]{43}\n$")
        self.assertIn("shown only now", r.stderr)
        self.assertEqual(os.stat(self.db).st_mode & 0o077, 0, "database readable by others")
        again = adc_server("--db", self.db, "init")
        self.assertEqual(again.returncode, 1)
        self.assertIn("exists already", again.stderr)

    def test_token_create_list_revoke(self):
        self.assertEqual(adc_server("--db", self.db, "init").returncode, 0)
        r = adc_server("--db", self.db, "token", "create", "--name", "ci")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^adca_")
        self.assertEqual(adc_server("--db", self.db, "token", "create").returncode, 2)
        r = adc_server("--db", self.db, "token", "create", "--name", "ci")
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists already", r.stderr)
        r = adc_server("--db", self.db, "token", "list")
        self.assertEqual(r.returncode, 0)
        self.assertEqual([line.split("\t")[0] for line in r.stdout.splitlines()], ["admin", "ci"])
        self.assertNotIn("adca_", r.stdout)
        r = adc_server("--db", self.db, "token", "revoke", "--name", "ci")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = adc_server("--db", self.db, "token", "revoke", "--name", "ci")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no token named 'ci'", r.stderr)
        self.assertEqual(adc_server("--db", self.db, "token", "frob").returncode, 2)

    def test_usage_errors(self):
        self.assertEqual(adc_server("init").returncode, 2)  # no --db
        r = adc_server("--db", self.db, "frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", r.stderr)
        r = adc_server("--db", self.db, "serve")
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not exist", r.stderr)

    def test_schema_migrations(self):
        self.assertEqual(adc_server("--db", self.db, "init").returncode, 0)
        con = sqlite3.connect(self.db)
        latest = con.execute("PRAGMA user_version").fetchone()[0]
        self.assertGreaterEqual(latest, 3)
        # Make it a version-2 database (the provider index of then, none of the tables later
        # versions added), as an older server left it.
        v2_tables = {"admin_tokens", "sync_configs", "users", "runs", "audit", "admin_accounts",
                     "console_sessions"}
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            if table not in v2_tables and not table.startswith("sqlite_"):
                con.execute("DROP TABLE %s" % table)
        con.execute("DROP INDEX users_provider")
        con.execute("CREATE INDEX users_provider ON users(provider, external_id)")
        con.execute("CREATE INDEX users_external_id ON users(external_id)")  # step 10 -> 11
        con.execute("INSERT INTO users(id, user_name, external_id, provider, active, data, "
                    "version, created, modified) VALUES ('u1', 'old', 'ext-old', 'local', 1, "
                    "'{}', 1, 'x', 'x'), ('u2', 'none', NULL, 'local', 1, '{}', 1, 'x', 'x')")
        # ... and none of the columns later versions added (the schedule, the run trigger).
        con.execute("ALTER TABLE sync_configs DROP COLUMN sync_interval_minutes")
        con.execute("ALTER TABLE sync_configs DROP COLUMN next_sync_at")
        con.execute("ALTER TABLE runs DROP COLUMN run_trigger")
        con.execute("DROP INDEX runs_one_active")  # step 9 -> 10
        con.execute("PRAGMA user_version=2")
        con.commit()
        con.close()
        r = adc_server("--db", self.db, "token", "create", "--name", "after-upgrade")
        self.assertEqual(r.returncode, 0, r.stderr)
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("PRAGMA user_version").fetchone()[0], latest)
        cols = [row[2] for row in con.execute("PRAGMA index_info(users_provider)")]
        self.assertEqual(cols, ["provider"])
        cols = [row[2] for row in con.execute("PRAGMA index_info(group_members_member)")]
        self.assertEqual(cols, ["member_id", "group_id"])
        cols = [row[1] for row in con.execute("PRAGMA table_info(sync_configs)")]
        self.assertIn("sync_interval_minutes", cols)
        self.assertIn("next_sync_at", cols)
        cols = [row[1] for row in con.execute("PRAGMA table_info(runs)")]
        self.assertIn("run_trigger", cols)
        cols = [row[2] for row in con.execute("PRAGMA index_info(runs_one_active)")]
        self.assertEqual(cols, ["app_id"])
        # users' externalId index is a table of its own, holding the users there were
        self.assertEqual(con.execute("SELECT count(*) FROM sqlite_master WHERE name = "
                                     "'users_external_id'").fetchone()[0], 0)
        self.assertEqual(con.execute("SELECT x.external_id, u.user_name FROM user_external_ids "
                                     "AS x JOIN users AS u USING (seq)").fetchall(),
                         [("ext-old", "old")])
        self.assertEqual(con.execute("SELECT seq FROM index_marks").fetchall(),
                         con.execute("SELECT max(seq) FROM users").fetchall())
        # A database from a newer adc-server is refused, not damaged.
        con.execute("PRAGMA user_version=%d" % (latest + 50))
        con.commit()
        con.close()
        r = adc_server("--db", self.db, "serve", "--listen", "127.0.0.1:0")
        self.assertEqual(r.returncode, 1)
        self.assertIn("use a newer adc-server", r.stderr)

    def test_serve_bad_listen(self):
        adc_server("--db", self.db, "init")
        r = adc_server("--db", self.db, "serve", "--listen", "nowhere:http")
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid --listen 'nowhere:http'", r.stderr)


class AdminApi(ServerTestCase):

    def test_revoked_token_stops_working_at_once(self):
        r = adc_server("--db", self.srv.db, "token", "create", "--name", "temp")
        token = r.stdout.strip()
        self.assertEqual(self.srv.request("GET", "/api/v1/sync-configs",
                                          auth="Bearer " + token).status, 200)
        self.assertEqual(adc_server("--db", self.srv.db, "token", "revoke", "--name",
                                    "temp").returncode, 0)
        self.assertEqual(self.srv.request("GET", "/api/v1/sync-configs",
                                          auth="Bearer " + token).status, 401)

    def test_health_is_public(self):
        r = self.srv.request("GET", "/api/v1/health")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body["status"], "ok")

    def test_admin_api_needs_admin_token(self):
        self.assertEqual(self.srv.request("GET", "/api/v1/sync-configs").status, 401)
        r = self.srv.request("GET", "/api/v1/sync-configs", auth="Bearer adca_wrong")
        self.assertEqual(r.status, 401)
        self.assertIn("urn:ietf:params:scim:api:messages:2.0:Error", r.body["schemas"])
        self.assertIn("Basic", r.header("WWW-Authenticate"))
        cfg = self.srv.create_sync_config("not-an-admin")
        r = self.srv.request("GET", "/api/v1/sync-configs", auth=self.srv.sync_auth(cfg))
        self.assertEqual(r.status, 403)
        self.assertIn("System Administrator", r.body["detail"])

    def test_create_show_list_patch(self):
        cfg = self.srv.create_sync_config("Head office", settings={"no-delete": True})
        self.assertRegex(cfg["app_id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                        r"[0-9a-f]{12}$")
        self.assertRegex(cfg["secret"], r"^adcs_[A-Za-z0-9_-]{43}$")
        # no-update-provider-mismatch is true unless the request says otherwise
        # (docs/product.md section 11)
        self.assertEqual(cfg["settings"], {"no-delete": True, "no-update-provider-mismatch": True})
        self.assertEqual(cfg["name"], "Head office")
        r = self.srv.admin("GET", "/api/v1/sync-configs/" + cfg["app_id"])
        self.assertEqual(r.status, 200)
        self.assertNotIn("secret", r.body)
        self.assertNotIn(cfg["secret"], r.raw.decode())
        self.assertIsNone(r.body["last_run"])
        r = self.srv.admin("GET", "/api/v1/sync-configs")
        self.assertEqual(r.status, 200)
        self.assertIn(cfg["app_id"], [c["app_id"] for c in r.body["sync_configs"]])
        self.assertNotIn(cfg["secret"], r.raw.decode())
        # settings: true/false set, null = the client decides again
        r = self.srv.admin("PATCH", "/api/v1/sync-configs/" + cfg["app_id"],
                           {"name": "HQ", "settings": {"dry-run": True, "no-delete": None,
                                                        "create-as-disabled": False}})
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.body["name"], "HQ")
        self.assertEqual(r.body["settings"], {"dry-run": True, "create-as-disabled": False,
                                              "no-update-provider-mismatch": True})
        r = self.srv.admin("POST", "/api/v1/sync-configs",
                           {"name": "open", "settings": {"no-update-provider-mismatch": None}})
        self.assertEqual(r.status, 201, r.raw)
        self.assertEqual(r.body["settings"], {})

    def test_create_validation(self):
        for body, word in [({}, "name"), ({"name": ""}, "name"), ({"name": 3}, "name"),
                           ({"name": "x", "settings": {"dry_run": True}}, "unknown setting"),
                           ({"name": "x", "settings": {"dry-run": "yes"}}, "true, false"),
                           ({"name": "x", "settings": []}, "object")]:
            r = self.srv.admin("POST", "/api/v1/sync-configs", body)
            self.assertEqual(r.status, 400, body)
            self.assertIn(word, r.body["detail"])
        r = self.srv.admin("POST", "/api/v1/sync-configs", raw=b"{not json")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.body["scimType"], "invalidSyntax")
        cfg = self.srv.create_sync_config("p")
        r = self.srv.admin("PATCH", "/api/v1/sync-configs/" + cfg["app_id"], {"app_id": "x"})
        self.assertEqual(r.status, 400)
        r = self.srv.admin("PATCH", "/api/v1/sync-configs/nope", {"name": "x"})
        self.assertEqual(r.status, 404)

    def test_secret_never_readable_and_rotation(self):
        cfg = self.srv.create_sync_config("rotating")
        old = self.srv.sync_auth(cfg)
        self.assertEqual(self.srv.request("GET", "/api/v1/agent/config", auth=old).status, 200)
        r = self.srv.admin("POST", "/api/v1/sync-configs/%s/secret" % cfg["app_id"])
        self.assertEqual(r.status, 200)
        new_secret = r.body["secret"]
        self.assertNotEqual(new_secret, cfg["secret"])
        self.assertEqual(self.srv.request("GET", "/api/v1/agent/config", auth=old).status, 401)
        self.assertEqual(self.srv.request("GET", "/api/v1/agent/config",
                                          auth=basic_auth(cfg["app_id"], new_secret)).status, 200)
        self.assertEqual(self.srv.request("GET", "/api/v1/agent/config",
                                          auth="Bearer " + new_secret).status, 200)
        # Neither secret nor admin token is in the database file in clear.
        data = self.srv.db_bytes()
        for s in (cfg["secret"], new_secret, self.srv.admin_token):
            self.assertNotIn(s.encode(), data)
            self.assertNotIn(s[5:].encode(), data)
        self.assertNotIn(new_secret, self.srv.read_log())

    def test_delete_leaves_users_as_local(self):
        cfg = self.srv.create_sync_config("going away")
        r = self.srv.scim(cfg, "POST", "/Users", user("leaver@example.com", "ext-leaver"))
        self.assertEqual(r.status, 201)
        uid = r.body["id"]
        r = self.srv.admin("DELETE", "/api/v1/sync-configs/" + cfg["app_id"])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body["users_released"], 1)
        self.assertEqual(r.body["users_provider"], "local")
        self.assertEqual(self.srv.admin("GET", "/api/v1/sync-configs/" + cfg["app_id"]).status,
                         404)
        r = self.srv.scim("admin", "GET", "/Users/" + uid)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body["urn:adconnect:scim:schemas:extension:sync:2.0:User"]["provider"],
                         "local")
        # The deleted configuration's secret is dead.
        r = self.srv.request("GET", "/api/v1/agent/config", auth=self.srv.sync_auth(cfg))
        self.assertEqual(r.status, 401)
        self.assertEqual(self.srv.admin("DELETE", "/api/v1/sync-configs/" + cfg["app_id"]).status,
                         404)

    def test_runs_recorded_by_imp(self):
        cfg = self.srv.create_sync_config("runner")
        auth = self.srv.sync_auth(cfg)
        r = self.srv.request("POST", "/api/v1/agent/runs", {"dry_run": False, "source": "imp"},
                             auth=auth)
        self.assertEqual(r.status, 201)
        run_id = r.body["run_id"]
        r = self.srv.request("PUT", "/api/v1/agent/runs/" + run_id,
                             {"status": "running", "stats": {"created": 5}}, auth=auth)
        self.assertEqual(r.status, 204)
        stats = {"created": 10, "updated": 2, "deleted": 0, "disabled": 1, "unchanged": 7,
                 "skipped": 1, "failed": 1}
        r = self.srv.request("PUT", "/api/v1/agent/runs/" + run_id,
                             {"status": "failed", "stats": stats, "errors": ["bob: 409"]},
                             auth=auth)
        self.assertEqual(r.status, 204)
        r = self.srv.admin("GET", "/api/v1/runs/" + run_id)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body["status"], "failed")
        self.assertEqual(r.body["stats"], dict(stats, enabled=0))  # every key, 0 if unreported
        self.assertEqual(r.body["errors"], ["bob: 409"])
        self.assertFalse(r.body["dry_run"])
        self.assertIsNotNone(r.body["finished"])
        r = self.srv.admin("GET", "/api/v1/sync-configs/%s/runs" % cfg["app_id"])
        self.assertEqual([x["run_id"] for x in r.body["runs"]], [run_id])
        r = self.srv.admin("GET", "/api/v1/sync-configs/" + cfg["app_id"])
        self.assertEqual(r.body["last_run"]["run_id"], run_id)
        # finished runs stay finished; bad reports are refused
        r = self.srv.request("PUT", "/api/v1/agent/runs/" + run_id, {"status": "running"},
                             auth=auth)
        self.assertEqual(r.status, 409)
        r2 = self.srv.request("POST", "/api/v1/agent/runs", {"dry_run": True}, auth=auth)
        for bad in ({"status": "done"}, {"status": "running", "stats": {"created": -1}},
                    {"status": "running", "stats": {"bogus": 1}},
                    {"status": "running", "errors": "x"}):
            r = self.srv.request("PUT", "/api/v1/agent/runs/" + r2.body["run_id"], bad, auth=auth)
            self.assertEqual(r.status, 400, bad)
        # another configuration cannot touch this run
        other = self.srv.create_sync_config("other")
        r = self.srv.request("PUT", "/api/v1/agent/runs/" + r2.body["run_id"],
                             {"status": "failed"}, auth=self.srv.sync_auth(other))
        self.assertEqual(r.status, 404)
        self.assertEqual(self.srv.admin("GET", "/api/v1/runs/nope").status, 404)

    def test_agent_config_shows_only_server_settings(self):
        cfg = self.srv.create_sync_config("cfgview", settings={"no-create": True,
                                                               "delete-disables": False})
        r = self.srv.request("GET", "/api/v1/agent/config", auth=self.srv.sync_auth(cfg))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, {"app_id": cfg["app_id"], "name": "cfgview",
                                  "settings": {"no-create": True, "delete-disables": False,
                                               "no-update-provider-mismatch": True}})
        r = self.srv.admin("GET", "/api/v1/agent/config")
        self.assertEqual(r.status, 403)

    def test_audit_log(self):
        cfg = self.srv.create_sync_config("audited")
        self.srv.scim(cfg, "POST", "/Users", user("audited-user", "ext-aud"))
        self.srv.admin("POST", "/api/v1/sync-configs/%s/secret" % cfg["app_id"])
        r = self.srv.admin("GET", "/api/v1/audit?limit=1000")
        self.assertEqual(r.status, 200)
        actions = [(e["actor"], e["action"]) for e in r.body["entries"]]
        self.assertIn(("admin:admin", "sync-config.create"), actions)
        self.assertIn(("sync:" + cfg["app_id"], "user.create"), actions)
        self.assertIn(("admin:admin", "sync-config.rotate-secret"), actions)
        self.assertIn(("cli", "token.create"), actions)
        r = self.srv.admin("GET", "/api/v1/audit?limit=2")
        self.assertEqual(len(r.body["entries"]), 2)
        r2 = self.srv.admin("GET", "/api/v1/audit?limit=2&before=%d" % r.body["next_before"])
        self.assertLess(r2.body["entries"][0]["seq"], r.body["entries"][-1]["seq"])
        self.assertEqual(self.srv.admin("GET", "/api/v1/audit?limit=x").status, 400)

    def test_unknown_endpoint_and_method(self):
        r = self.srv.admin("GET", "/api/v1/nothing")
        self.assertEqual(r.status, 404)
        r = self.srv.admin("PUT", "/api/v1/sync-configs")
        self.assertEqual(r.status, 405)


class Metrics(unittest.TestCase):
    """GET /metrics (docs/adc-server.8): Prometheus text, System Administrator only."""

    def setUp(self):
        self.srv = AdcServer().start()
        self.addCleanup(self.srv.cleanup)

    def metrics(self):
        r = self.srv.admin("GET", "/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/plain; version=0.0.4"))
        values = {}
        for line in r.raw.decode().splitlines():
            if line.startswith("#"):
                self.assertRegex(line, r"^# (HELP|TYPE) adc_[a-z_]+ ")
                continue
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
        return values

    def test_counters(self):
        self.assertEqual(self.srv.request("GET", "/metrics").status, 401)
        cfg = self.srv.create_sync_config("metrics")
        self.assertEqual(self.srv.request("GET", "/metrics",
                                          auth=basic_auth(cfg["app_id"], cfg["secret"])).status,
                         403)  # a sync configuration is not an administrator
        m = self.metrics()
        self.assertEqual(m["adc_connected_agents"], 0)
        self.assertEqual(m["adc_queued_commands"], 0)
        self.assertEqual(m["adc_database_errors_total"], 0)
        self.assertEqual(m['adc_logins_total{outcome="denied"}'], 0)
        self.assertEqual(self.srv.scim(cfg, "POST", "/Users", user("m1")).status, 201)
        self.assertEqual(self.srv.scim(cfg, "POST", "/Users", user("M1")).status, 409)
        self.assertEqual(self.srv.scim(cfg, "GET", "/Users/none").status, 404)
        # No agent is connected: the answer is a denial or "unavailable", counted as such.
        r = self.srv.request("POST", "/api/v1/login", {"username": "nobody", "password": "x"})
        self.assertIn(r.status, (401, 503))
        outcome = {401: "denied", 503: "unavailable"}[r.status]
        r = self.srv.request("POST", "/api/v1/agent/runs", {"dry_run": False, "source": "imp"},
                             auth=basic_auth(cfg["app_id"], cfg["secret"]))
        self.assertEqual(r.status, 201, r)
        m = self.metrics()
        self.assertEqual(m['adc_scim_requests_total{status="201"}'], 1)
        self.assertEqual(m['adc_scim_requests_total{status="409"}'], 1)
        self.assertEqual(m['adc_scim_requests_total{status="404"}'], 1)
        self.assertEqual(m['adc_logins_total{outcome="%s"}' % outcome], 1)
        self.assertEqual(sum(v for k, v in m.items() if k.startswith("adc_logins_total")), 1)
        self.assertEqual(m['adc_login_duration_seconds_count'], 1)
        self.assertEqual(m['adc_login_duration_seconds_bucket{le="+Inf"}'], 1)
        self.assertGreater(m["adc_login_duration_seconds_sum"], 0)
        self.assertEqual(m.get('adc_runs{status="running"}', 0), 1)


if __name__ == "__main__":
    unittest.main()
