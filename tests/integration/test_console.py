"""The web console's server side over HTTP: static files and their headers, administrator
accounts (`adc-server admin`), sign-in, session cookies and their limits, CSRF, sign-out, the
lockout of guessers. The browser flow is test_console_browser.py."""
import threading
import time
import unittest

from harness import programs
from harness.server import AdcServer

ADMIN = "alice"
PASSWORD = "correct horse battery staple"


class Server(AdcServer):
    """adc-server (harness.server) with one administrator account for the console."""

    def start(self):
        super().start()
        r = programs.adc_server("--db", self.db, "admin", "create", ADMIN, stdin=PASSWORD + "\n")
        if r.returncode != 0:
            self.cleanup()
            raise RuntimeError(f"admin create failed: {r.stderr}")
        return self

    def get(self, path, **headers):
        return self.request("GET", path, headers=headers)


def sign_in(srv, name=ADMIN, password=PASSWORD):
    """Returns (response, cookie "name=value" or None)."""
    r = srv.request("POST", "/api/v1/session", {"name": name, "password": password})
    cookie = r.header("Set-Cookie")
    return r, cookie.split(";")[0] if cookie else None


class ConsoleHttp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_pages_are_served_with_strict_headers(self):
        for path, ctype in [("/", "text/html"), ("/console/", "text/html"),
                            ("/console/app.js", "text/javascript"),
                            ("/console/style.css", "text/css"),
                            ("/console/favicon.svg", "image/svg+xml")]:
            r = self.srv.get(path)
            self.assertEqual(r.status, 200, path)
            self.assertTrue(r.header("Content-Type").startswith(ctype), path)
            csp = r.header("Content-Security-Policy")
            self.assertIn("default-src 'self'", csp)
            self.assertIn("frame-ancestors 'none'", csp)
            self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
            self.assertEqual(r.header("Cache-Control"), "no-cache")
            again = self.srv.get(path, **{"If-None-Match": r.header("ETag")})
            self.assertEqual(again.status, 304, path)
            self.assertEqual(again.raw, b"")
        page = self.srv.get("/").raw
        self.assertIn(b"<title>ad-connect console</title>", page)
        # Nothing from another origin, no inline script for the CSP to block.
        self.assertNotIn(b"http", page)
        self.assertNotIn(b"<script>", page)
        self.assertNotIn(b"style=", page)

    def test_unknown_files_and_methods(self):
        self.assertEqual(self.srv.get("/console/nope.js").status, 404)
        self.assertEqual(self.srv.get("/console/../adc.sqlite").status, 404)
        self.assertEqual(self.srv.get("/console/%2e%2e/adc.sqlite").status, 404)
        r = self.srv.request("POST", "/console/app.js", raw=b"x")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "GET, HEAD")
        r = self.srv.request("HEAD", "/console/app.js")
        self.assertEqual((r.status, r.raw), (200, b""))

    def test_sign_in_sets_a_strict_cookie_and_returns_a_csrf_token(self):
        r = self.srv.request("POST", "/api/v1/session", {"name": ADMIN, "password": PASSWORD})
        self.assertEqual(r.status, 201, r)
        attrs = [a.strip() for a in r.header("Set-Cookie").split(";")]
        self.assertTrue(attrs[0].startswith("adc_session=adcw_"))
        for a in ["HttpOnly", "SameSite=Strict", "Path=/"]:
            self.assertIn(a, attrs)
        self.assertTrue(any(a.startswith("Max-Age=") and int(a[8:]) > 0 for a in attrs))
        self.assertNotIn("Secure", attrs)  # plain HTTP here; see test_tls_cookie
        self.assertEqual(r.body["name"], ADMIN)
        self.assertRegex(r.body["csrf_token"], "^[0-9a-f]{64}$")
        # The session answers GET /api/v1/session with the same CSRF token (for a reload).
        again = self.srv.get("/api/v1/session", Cookie=attrs[0])
        self.assertEqual(again.status, 200)
        self.assertEqual(again.body["csrf_token"], r.body["csrf_token"])
        # No session: 401 without a Basic challenge (the browser would pop up its own dialog).
        none = self.srv.get("/api/v1/session")
        self.assertEqual(none.status, 401)
        self.assertIsNone(none.header("WWW-Authenticate"))

    def test_cookie_session_reads_and_needs_csrf_to_write(self):
        r, cookie = sign_in(self.srv)
        self.assertEqual(r.status, 201)
        csrf = r.body["csrf_token"]
        self.assertEqual(self.srv.get("/api/v1/sync-configs", Cookie=cookie).status, 200)
        self.assertEqual(self.srv.get("/scim/v2/Users", Cookie=cookie).status, 200)
        new = {"name": "csrf probe"}
        for headers in [{"Cookie": cookie}, {"Cookie": cookie, "X-CSRF-Token": "0" * 64},
                        {"Cookie": cookie, "X-CSRF-Token": ""}]:
            r = self.srv.request("POST", "/api/v1/sync-configs", new, headers=headers)
            self.assertEqual(r.status, 403, r)
            self.assertIn("X-CSRF-Token", r.body["detail"])
        r = self.srv.request("POST", "/api/v1/sync-configs", new,
                             headers={"Cookie": cookie, "X-CSRF-Token": csrf})
        self.assertEqual(r.status, 201, r)
        app_id = r.body["app_id"]
        # The audit log names the person, not a token.
        r = self.srv.admin("GET", "/api/v1/audit")
        self.assertEqual(r.status, 200, r)
        mine = [e for e in r.body["entries"] if e["target"] == app_id]
        self.assertEqual(mine[0]["actor"], f"console:{ADMIN}")
        self.assertTrue(any(e["action"] == "console.sign_in" and e["actor"] == f"console:{ADMIN}"
                            for e in r.body["entries"]))
        # A sync configuration's own credentials plus a stolen cookie are still not an admin.
        cfg = self.srv.create_sync_config("other")
        r = self.srv.request("GET", "/api/v1/sync-configs", auth=self.srv.sync_auth(cfg),
                             headers={"Cookie": cookie})
        self.assertEqual(r.status, 403)

    def test_bearer_tokens_keep_working(self):
        self.assertEqual(self.srv.admin("GET", "/api/v1/sync-configs").status, 200)
        # A Bearer request needs no CSRF token (no cookie involved).
        r = self.srv.admin("POST", "/api/v1/sync-configs", {"name": "automation"})
        self.assertEqual(r.status, 201, r)
        # Without any credentials: 401 with the Bearer/Basic challenge as before.
        r = self.srv.get("/api/v1/sync-configs")
        self.assertEqual(r.status, 401)
        self.assertIsNotNone(r.header("WWW-Authenticate"))
        # A garbage cookie is refused, not ignored in favour of nothing.
        r = self.srv.get("/api/v1/sync-configs", Cookie="adc_session=adcw_forged")
        self.assertEqual(r.status, 401)
        self.assertIsNone(r.header("WWW-Authenticate"))

    def test_sign_out_ends_the_session(self):
        r, cookie = sign_in(self.srv)
        self.assertEqual(r.status, 201)
        out = self.srv.request("DELETE", "/api/v1/session", headers={"Cookie": cookie})
        self.assertEqual(out.status, 403)  # sign-out is a state change: CSRF token needed
        out = self.srv.request("DELETE", "/api/v1/session",
                               headers={"Cookie": cookie, "X-CSRF-Token": r.body["csrf_token"]})
        self.assertEqual(out.status, 204)
        self.assertIn("Max-Age=0", out.header("Set-Cookie"))
        self.assertEqual(self.srv.get("/api/v1/sync-configs", Cookie=cookie).status, 401)
        self.assertEqual(self.srv.get("/api/v1/session", Cookie=cookie).status, 401)
        entries = self.srv.admin("GET", "/api/v1/audit").body["entries"]
        self.assertEqual((entries[0]["action"], entries[0]["actor"]),
                         ("console.sign_out", f"console:{ADMIN}"))

    def test_wrong_password_is_slow_and_says_nothing_about_the_name(self):
        for name, password in [(ADMIN, "wrong password here"), ("nobody", PASSWORD),
                               ("bad name\n", PASSWORD), (ADMIN, "")]:
            t0 = time.monotonic()
            r, cookie = sign_in(self.srv, name, password)
            self.assertEqual(r.status, 401)
            self.assertIsNone(cookie)
            self.assertEqual(r.body["detail"], "wrong name or password")
            self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        for bad in [{"name": ADMIN}, {"name": 1, "password": "x"}, [1]]:
            self.assertEqual(self.srv.request("POST", "/api/v1/session", bad).status, 400)
        self.assertNotIn("bad name\n", self.srv.read_log())
        # A failure is not held against the next good attempt.
        self.assertEqual(sign_in(self.srv)[0].status, 201)

    def test_password_stored_as_yescrypt_hash(self):
        [(h,)] = self.srv.sql("SELECT password_hash FROM admin_accounts WHERE name=?", (ADMIN,))
        self.assertTrue(h.startswith("$y$"), h)
        self.assertNotIn(PASSWORD, h)
        self.assertNotIn(PASSWORD, self.srv.read_log())


class ConsoleSessionLimits(unittest.TestCase):
    def test_idle_and_absolute_limits(self):
        with Server(args=["--session-idle", "2", "--session-max", "4"]) as srv:
            r, cookie = sign_in(srv)
            self.assertEqual(r.status, 201)
            self.assertIn("Max-Age=4", r.header("Set-Cookie"))
            # Requests within the idle limit keep the session alive...
            for _ in range(3):
                time.sleep(1.2)
                self.assertEqual(srv.get("/api/v1/sync-configs", Cookie=cookie).status, 200)
            # ...but not beyond the absolute limit (4 s after sign-in; whole seconds).
            time.sleep(2.0)
            r = srv.get("/api/v1/sync-configs", Cookie=cookie)
            self.assertEqual(r.status, 401)
            self.assertIn("expired", r.body["detail"])
            # Idle: 2 s without a request.
            r, cookie = sign_in(srv)
            time.sleep(3.2)
            self.assertEqual(srv.get("/api/v1/session", Cookie=cookie).status, 401)

    def test_bad_limits_are_refused(self):
        r = programs.adc_server("--db", "/nonexistent.db", "serve", "--session-idle", "0")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--session-idle must be", r.stderr)


class ConsoleTls(unittest.TestCase):
    def test_tls_cookie_is_secure_and_host_only(self):
        with Server(tls=True) as srv:
            r, cookie = sign_in(srv)
            self.assertEqual(r.status, 201)
            attrs = [a.strip() for a in r.header("Set-Cookie").split(";")]
            self.assertTrue(attrs[0].startswith("__Host-adc_session="))
            self.assertIn("Secure", attrs)
            self.assertEqual(srv.get("/api/v1/session", Cookie=cookie).status, 200)
            # The plain-HTTP cookie name means nothing on a TLS server.
            plain = "adc_session=" + cookie.split("=", 1)[1]
            self.assertEqual(srv.get("/api/v1/session", Cookie=plain).status, 401)


class ConsoleAccounts(unittest.TestCase):
    """`adc-server --db FILE admin ...`."""

    def setUp(self):
        self.srv = Server().start()

    def tearDown(self):
        self.srv.cleanup()

    def admin(self, *args, stdin=None):
        return programs.adc_server("--db", self.srv.db, "admin", *args, stdin=stdin)

    def test_create_rules(self):
        r = self.admin("create", ADMIN, stdin="another good password\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists already", r.stderr)
        r = self.admin("create", "Alice", stdin="another good password\n")
        self.assertEqual(r.returncode, 1, "names are unique ignoring case")
        r = self.admin("create", "bob", stdin="short\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("at least 12 characters", r.stderr)
        r = self.admin("create", "bob", stdin="")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no password", r.stderr)
        r = self.admin("create", "bob", stdin="x" * 300 + "\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("longer than 256", r.stderr)
        r = self.admin("create", "bad name", stdin="a good long password\n")
        self.assertEqual(r.returncode, 2)
        self.assertIn("invalid account name", r.stderr)
        self.assertEqual(self.admin("create").returncode, 2)
        self.assertEqual(self.admin("frobnicate", "bob").returncode, 2)
        r = self.admin("create", "bob", stdin="a good long password\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("a good long password", r.stdout + r.stderr)
        self.assertEqual(sign_in(self.srv, "bob", "a good long password")[0].status, 201)
        self.assertEqual(sign_in(self.srv, "BOB", "a good long password")[0].status, 201)
        r = self.admin("list")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"(?m)^alice\s")
        self.assertRegex(r.stdout, r"(?m)^bob\s")
        r = self.srv.admin("GET", "/api/v1/audit")
        self.assertTrue(any(e["action"] == "admin_account.create" and e["target"] == "bob" and
                            e["actor"] == "cli" for e in r.body["entries"]))

    def test_password_change_and_delete_end_sessions(self):
        r, cookie = sign_in(self.srv)
        self.assertEqual(r.status, 201)
        r = self.admin("password", ADMIN, stdin="a brand new password\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.srv.get("/api/v1/session", Cookie=cookie).status, 401)
        self.assertEqual(sign_in(self.srv)[0].status, 401)
        r, cookie = sign_in(self.srv, ADMIN, "a brand new password")
        self.assertEqual(r.status, 201)
        r = self.admin("delete", ADMIN)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.srv.get("/api/v1/session", Cookie=cookie).status, 401)
        self.assertEqual(self.admin("delete", ADMIN).returncode, 1)
        self.assertEqual(self.admin("password", "nobody", stdin="a good long password\n")
                         .returncode, 1)


class ConsoleLockout(unittest.TestCase):
    def test_guessing_is_locked_out(self):
        with Server() as srv:
            # Twelve guesses at once: ten are tried (and fail slowly), two get 429 at once.
            results = []
            threads = [threading.Thread(target=lambda: results.append(
                sign_in(srv, ADMIN, "guess number x")[0].status)) for _ in range(12)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(sorted(results), [401] * 10 + [429] * 2)
            # Now even the right password waits out the window from this address.
            r, cookie = sign_in(srv)
            self.assertEqual(r.status, 429)
            self.assertIsNone(cookie)
            self.assertIn("too many failed sign-ins", r.body["detail"])


if __name__ == "__main__":
    unittest.main(verbosity=2)


class ConsoleGroupMembers(unittest.TestCase):
    """GET /api/v1/groups/{id}/members: the console pages through a group's members (and
    searches them) instead of GETting the group whole (docs/product.md section 10)."""
    N = 1200

    @classmethod
    def setUpClass(cls):
        cls.srv = Server().start()
        cls.cfg = cls.srv.create_sync_config("members")
        max_ops = cls.srv.request("GET", "/scim/v2/ServiceProviderConfig").body["bulk"][
            "maxOperations"]
        ops = [{"method": "POST", "path": "/Users", "bulkId": f"u{i}",
                "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                         "userName": f"user{i:06d}@example.org", "externalId": f"e{i}"}}
               for i in range(cls.N)]
        for at in range(0, cls.N, max_ops):
            r = cls.srv.scim(cls.cfg, "POST", "/Bulk", {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": ops[at:at + max_ops]})
            assert r.status == 200, r
        users = cls.srv.scim(cls.cfg, "GET", f"/Users?count={cls.N}&attributes=userName")
        cls.user_ids = {u["id"]: u["userName"] for u in users.body["Resources"]}
        assert len(cls.user_ids) == cls.N
        group = lambda name, members: {  # noqa: E731
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name,
            "members": members}
        cls.sub = cls.srv.scim(cls.cfg, "POST", "/Groups", group("Sub_100%", [])).body
        cls.big = cls.srv.scim(cls.cfg, "POST", "/Groups", group(
            "Everyone", [{"value": i} for i in cls.user_ids]
            + [{"value": cls.sub["id"], "type": "Group"}])).body
        cls.sign_in = sign_in(cls.srv)

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def page(self, query, group=None, status=200):
        r = self.srv.admin("GET", f"/api/v1/groups/{group or self.big['id']}/members?{query}")
        self.assertEqual(r.status, status, r)
        return r.body

    def test_pages_cover_every_member_once(self):
        seen = []
        start = 1
        while True:
            p = self.page(f"startIndex={start}&count=500")
            self.assertEqual(p["totalResults"], self.N + 1)
            self.assertEqual(p["startIndex"], start)
            self.assertEqual(p["itemsPerPage"], len(p["Resources"]))
            seen += p["Resources"]
            if len(p["Resources"]) < 500:
                break
            start += 500
        self.assertEqual(len(seen), self.N + 1)
        self.assertEqual(len({m["value"] for m in seen}), self.N + 1)
        self.assertEqual([m["value"] for m in seen], sorted(m["value"] for m in seen))
        users = [m for m in seen if m["type"] == "User"]
        self.assertEqual({m["value"]: m["display"] for m in users}, self.user_ids)
        self.assertEqual([m["display"] for m in seen if m["type"] == "Group"], ["Sub_100%"])
        # The default page and the largest.
        self.assertEqual(len(self.page("")["Resources"]), 100)
        self.assertEqual(len(self.page("count=5000")["Resources"]), 1000)
        self.assertEqual(self.page(f"startIndex={self.N + 5}")["Resources"], [])

    def test_search_is_case_insensitive_and_literal(self):
        p = self.page("search=USER00012")
        self.assertEqual(p["totalResults"], 10)  # user000120 .. user000129
        self.assertEqual(sorted(m["display"] for m in p["Resources"]),
                         [f"user{i:06d}@example.org" for i in range(120, 130)])
        p = self.page("search=user000123%40example&count=3")
        self.assertEqual([m["display"] for m in p["Resources"]], ["user000123@example.org"])
        # % and _ are characters, not patterns.
        self.assertEqual([m["display"] for m in self.page("search=100%25")["Resources"]],
                         ["Sub_100%"])
        self.assertEqual(self.page("search=b_1")["totalResults"], 1)
        self.assertEqual(self.page("search=r_0")["totalResults"], 0)
        self.assertEqual(self.page("search=nobody")["Resources"], [])

    def test_bad_requests(self):
        for q in ("startIndex=0", "count=0", "count=-1", "startIndex=abc", "count=1x",
                  "search=" + "x" * 300):
            self.assertIn("detail", self.page(q, status=400), q)
        self.page("", group="no-such-group", status=404)
        self.assertEqual(self.page("", group=self.sub["id"])["totalResults"], 0)
        r = self.srv.request("GET", f"/api/v1/groups/{self.big['id']}/members")
        self.assertEqual(r.status, 401, r)
        # A sync configuration's credentials are not an administrator's.
        r = self.srv.request("GET", f"/api/v1/groups/{self.big['id']}/members",
                             auth=self.srv.sync_auth(self.cfg))
        self.assertIn(r.status, (401, 403), r)
        # A cookie session reads it (GET needs no CSRF token).
        _, cookie = self.sign_in
        r = self.srv.get(f"/api/v1/groups/{self.big['id']}/members?count=2", Cookie=cookie)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body["Resources"]), 2)
