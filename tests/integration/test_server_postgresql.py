"""adc-server on PostgreSQL (--db postgresql://...): what differs from a SQLite file. The schema
is created and versioned in the database, init refuses a database that has one, a database
from a newer adc-server is refused; a restart of PostgreSQL costs at most the requests in
flight; two instances on one database see each other's writes and keep userName unique
between them; a password in the URI never reaches the log. The rest of the behaviour is the
whole suite run again with ADC_TEST_DB=postgresql (scripts/postgresql-tests.sh)."""
import threading
import time
import unittest

from harness import postgres
from harness.programs import adc_server
from harness.server import AdcServer, user


def dbname(uri):
    return uri.rsplit("/", 1)[1]


@unittest.skipUnless(postgres.bin_dir(), "PostgreSQL is not installed")
class PostgresStore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = postgres.Postgres.shared()

    def test_init_versions_and_refusals(self):
        uri = self.pg.new_database()
        r = adc_server("--db", uri, "token", "list")
        self.assertEqual(r.returncode, 1)
        self.assertIn("has no adc-server schema; create it with: adc-server --db URI init",
                      r.stderr)
        r = adc_server("--db", uri, "init")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^adca_[A-Za-z0-9_-]{43}\n$")
        [version] = self.pg.query(dbname(uri), "SELECT version FROM adc_schema")
        self.assertGreaterEqual(int(version), 4)
        r = adc_server("--db", uri, "init")
        self.assertEqual(r.returncode, 1)
        self.assertIn("holds an adc-server schema already", r.stderr)
        # userName is unique ignoring case in the database itself (citext)
        cols = self.pg.query(dbname(uri), "SELECT data_type, udt_name FROM "
                             "information_schema.columns WHERE table_name = 'users' AND "
                             "column_name = 'user_name'")
        self.assertEqual(cols, ["USER-DEFINED|citext"])
        # A database from a newer adc-server is refused, not damaged.
        self.pg.query(dbname(uri), "UPDATE adc_schema SET version = version + 50")
        r = adc_server("--db", uri, "token", "list")
        self.assertEqual(r.returncode, 1)
        self.assertIn("use a newer adc-server", r.stderr)

    def test_password_in_uri_stays_out_of_messages(self):
        self.pg.query("postgres", "ALTER ROLE adc PASSWORD 'Sekr1t-pw'")
        self.addCleanup(self.pg.query, "postgres", "ALTER ROLE adc PASSWORD NULL")
        uri = self.pg.new_database().replace("adc@", "adc:Sekr1t-pw@")
        r = adc_server("--db", uri, "token", "list")  # no schema yet: an error naming the db
        self.assertEqual(r.returncode, 1)
        self.assertIn("PostgreSQL database '%s' on 127.0.0.1:%d" % (dbname(uri), self.pg.port),
                      r.stderr)
        self.assertNotIn("Sekr1t-pw", r.stderr)
        r = adc_server("--db", uri, "init")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("Sekr1t-pw", r.stderr)
        srv = AdcServer(db=uri, admin_token=r.stdout.strip())
        srv.start()
        self.addCleanup(srv.cleanup)
        self.assertEqual(srv.admin("GET", "/api/v1/sync-configs").status, 200)
        self.assertNotIn("Sekr1t-pw", srv.read_log())

    def test_two_instances_on_one_database(self):
        a = AdcServer(engine="postgresql").start()
        self.addCleanup(a.cleanup)
        b = AdcServer(db=a.db, admin_token=a.admin_token).start()
        self.addCleanup(b.cleanup)
        cfg = a.create_sync_config("two")
        self.assertEqual(b.admin("GET", "/api/v1/sync-configs/" + cfg["app_id"]).status, 200)
        r = a.scim(cfg, "POST", "/Users", user("shared@example.com", "e-shared"))
        self.assertEqual(r.status, 201, r)
        got = b.scim(cfg, "GET", "/Users/" + r.body["id"])
        self.assertEqual(got.status, 200)
        self.assertEqual(got.body["userName"], "shared@example.com")
        # The same name through both instances at once: exactly one wins, ignoring case.
        results = []

        def create(srv, name, ext):
            results.append(srv.scim(cfg, "POST", "/Users", user(name, ext)).status)

        for i in range(10):
            ts = [threading.Thread(target=create, args=(a, "race%d@x.org" % i, "ra%d" % i)),
                  threading.Thread(target=create, args=(b, "RACE%d@X.org" % i, "rb%d" % i))]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        self.assertEqual(sorted(results), [201] * 10 + [409] * 10)
        listing = b.scim(cfg, "GET", "/Users?count=100").body
        self.assertEqual(listing["totalResults"], 11)
        # An ETag written through one instance is checked by the other.
        uid = r.body["id"]
        etag = a.scim(cfg, "GET", "/Users/" + uid).header("ETag")
        p = a.scim(cfg, "PATCH", "/Users/" + uid, {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "A"}]},
            headers={"If-Match": etag})
        self.assertEqual(p.status, 200, p)
        stale = b.scim(cfg, "PATCH", "/Users/" + uid, {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "B"}]},
            headers={"If-Match": etag})
        self.assertEqual(stale.status, 412, stale)

    def test_sync_now_reaches_the_agent_on_another_instance(self):
        """An agent polls instance B; "sync now" is given to A: the command goes through the
        database (NOTIFY wakes B), and survives B's kill -9: the agent connects to A and gets
        it there. Agents are simulated with the channel's HTTP calls (docs/agent-protocol.md)."""
        a = AdcServer(engine="postgresql").start()
        self.addCleanup(a.cleanup)
        b = AdcServer(db=a.db, admin_token=a.admin_token).start()
        self.addCleanup(b.cleanup)
        cfg = a.create_sync_config("cluster")
        auth = a.sync_auth(cfg)

        def connect(srv):
            r = srv.request("POST", "/api/v1/agent/connect", {"host": "dc1", "version": "t"},
                            auth=auth)
            self.assertEqual(r.status, 201, r)
            return r.body["agent_id"]

        def poll(srv, agent_id, wait):
            r = srv.request("GET", "/api/v1/agent/commands?agent_id=%s&wait=%d" % (agent_id, wait),
                            auth=auth, timeout=wait + 10)
            self.assertEqual(r.status, 200, r)
            return r.body["commands"]

        agent = connect(b)
        self.assertTrue(a.admin("GET", "/api/v1/sync-configs/" + cfg["app_id"]).body["connected"])
        results = {}
        waiter = threading.Thread(target=lambda: results.update(cmds=poll(b, agent, 20),
                                                                 at=time.monotonic()))
        waiter.start()
        time.sleep(0.5)  # the poll waits on B
        t0 = time.monotonic()
        r = a.admin("POST", "/api/v1/sync-configs/%s/sync" % cfg["app_id"], {})
        self.assertEqual(r.status, 202, r)
        waiter.join()
        latency = results["at"] - t0
        self.assertEqual([(c["type"], c["run_id"]) for c in results["cmds"]],
                         [("sync", r.body["run_id"])])
        self.assertLess(latency, 2.0)
        print("\ncross-instance sync now: %.0f ms to the agent's poll" % (latency * 1000))
        self.assertEqual(self.pg.query(dbname(a.db), "SELECT count(*) FROM agent_commands"), ["0"])
        # A second sync lands in B's queue while the agent is not polling; B dies (kill -9)
        # before handing it out. The agent reconnects to A (as through a load balancer) and
        # gets the command there once B's claim goes stale: nothing is lost.
        self.pg.query(dbname(a.db), "UPDATE runs SET status = 'succeeded'")
        r = a.admin("POST", "/api/v1/sync-configs/%s/sync" % cfg["app_id"], {})
        self.assertEqual(r.status, 202, r)
        deadline = time.time() + 10
        while time.time() < deadline and self.pg.query(
                dbname(a.db), "SELECT count(*) FROM agent_commands WHERE claimed_by IS NOT NULL"
        ) != ["1"]:
            time.sleep(0.1)
        b.proc.kill()
        b.proc.wait()
        agent2 = connect(a)
        cmds = []
        deadline = time.time() + 30
        while not cmds and time.time() < deadline:
            cmds = poll(a, agent2, 5)
        self.assertEqual([(c["type"], c["run_id"]) for c in cmds], [("sync", r.body["run_id"])])

    def test_postgresql_restart(self):
        srv = AdcServer(engine="postgresql").start()
        self.addCleanup(srv.cleanup)
        cfg = srv.create_sync_config("restart")
        self.assertEqual(srv.scim(cfg, "POST", "/Users", user("before@x.org")).status, 201)
        self.pg.restart()
        # The pooled connections broke; each is reset when next lent. A request that met a
        # broken connection may fail once (503 or 500); within a few tries all work again.
        deadline = time.time() + 20
        ok = False
        while time.time() < deadline and not ok:
            ok = srv.scim(cfg, "POST", "/Users", user("after@x.org")).status == 201
            if not ok:
                time.sleep(0.2)
        self.assertTrue(ok, srv.read_log()[-2000:])
        for _ in range(20):  # every pooled connection works again
            r = srv.scim(cfg, "GET", "/Users?count=10")
            self.assertEqual(r.status, 200)
        self.assertEqual(r.body["totalResults"], 2)
        self.assertIsNone(srv.proc.poll())
        self.assertIn("connected to the PostgreSQL database", srv.read_log())


if __name__ == "__main__":
    unittest.main()
