"""SCIM 2.0 Users on adc-server: every operation and its error cases, filters, paging, ETags,
the provider extension (docs/product.md section 6)."""
import random
import time
import unittest
import urllib.parse

from harness.server import (SCIM_ERROR, SCIM_LIST, SCIM_PROVIDER, SCIM_USER, ServerTestCase,
                            patch, user)


def provider(u):
    return u[SCIM_PROVIDER]["provider"]


class ScimUsers(ServerTestCase):
    sync_config = "scim"

    def create(self, user_name, ext=None, who=None, **attrs):
        r = self.srv.scim(who or self.cfg, "POST", "/Users", user(user_name, ext, **attrs))
        self.assertEqual(r.status, 201, r.raw)
        return r.body

    def assertScimError(self, r, status, scim_type=None):
        self.assertEqual(r.status, status, r.raw)
        self.assertIn(SCIM_ERROR, r.body["schemas"])
        self.assertEqual(r.body["status"], str(status))
        self.assertTrue(r.body["detail"])
        if scim_type:
            self.assertEqual(r.body.get("scimType"), scim_type)

    def test_create_get(self):
        r = self.srv.scim(self.cfg, "POST", "/Users",
                          user("Carol@Example.com", "uuid-carol", displayName="Carol C",
                               name={"givenName": "Carol", "familyName": "C"},
                               emails=[{"value": "carol@example.com", "type": "work",
                                        "primary": True}],
                               password="never stored", groups=[{"value": "g"}],
                               id="client-chosen", meta={"version": "x"}))
        self.assertEqual(r.status, 201)
        u = r.body
        self.assertEqual(r.header("Location"), u["meta"]["location"])
        self.assertEqual(r.header("ETag"), u["meta"]["version"])
        self.assertEqual(r.header("Content-Type"), "application/scim+json")
        self.assertNotEqual(u["id"], "client-chosen")
        # a time-ordered UUID (version 7): new users append to the id index
        self.assertRegex(u["id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                  r"[0-9a-f]{12}$")
        self.assertEqual(u["schemas"], [SCIM_USER, SCIM_PROVIDER])
        self.assertEqual(provider(u), self.cfg["app_id"])
        self.assertEqual(u["meta"]["resourceType"], "User")
        self.assertNotIn("password", u)
        self.assertNotIn("groups", u)
        self.assertTrue(u["active"])
        g = self.srv.scim(self.cfg, "GET", "/Users/" + u["id"])
        self.assertEqual(g.status, 200)
        self.assertEqual(g.body, u)
        self.assertNotIn(b"never stored", self.srv.db_bytes())

    def test_get_missing(self):
        self.assertScimError(self.srv.scim(self.cfg, "GET", "/Users/does-not-exist"), 404)

    def test_username_unique_ignoring_case(self):
        self.create("Dave@Example.com", "uuid-dave")
        r = self.srv.scim(self.cfg, "POST", "/Users", user("dave@EXAMPLE.com", "uuid-dave2"))
        self.assertScimError(r, 409, "uniqueness")
        r = self.srv.scim("admin", "POST", "/Users", user("DAVE@example.com"))
        self.assertScimError(r, 409, "uniqueness")

    def test_create_validation(self):
        for body in [{"schemas": [SCIM_USER]}, {"userName": ""}, {"userName": 5},
                     {"userName": "x\u0001y"}, {"userName": "a" * 300},
                     {"userName": "v1", "active": "maybe"},
                     {"userName": "v2", "emails": "a@b"}, {"userName": "v3", "name": "x"},
                     {"userName": "v4", "externalId": 7}, {"userName": "v5", "displayName": []},
                     {"schemas": ["urn:other"], "userName": "v6"}]:
            r = self.srv.scim(self.cfg, "POST", "/Users", body)
            self.assertEqual(r.status, 400, body)
            self.assertIn(r.body["scimType"], ("invalidValue", "invalidSyntax"))
        self.assertScimError(self.srv.scim(self.cfg, "POST", "/Users", [1, 2]), 400,
                             "invalidSyntax")
        r = self.srv.scim(self.cfg, "POST", "/Users", raw=b'{"userName": ')
        self.assertScimError(r, 400, "invalidSyntax")
        r = self.srv.scim(self.cfg, "POST", "/Users", raw=b"")
        self.assertScimError(r, 400, "invalidSyntax")

    def test_replace(self):
        u = self.create("erin", "uuid-erin", displayName="Erin", title="Dev")
        r = self.srv.scim(self.cfg, "PUT", "/Users/" + u["id"],
                          user("erin.renamed", "uuid-erin", active=False, displayName="Erin R"))
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.body["userName"], "erin.renamed")
        self.assertFalse(r.body["active"])
        self.assertNotIn("title", r.body)  # PUT replaces: absent attributes are cleared
        self.assertEqual(r.body["id"], u["id"])
        self.assertEqual(r.body["meta"]["created"], u["meta"]["created"])
        self.assertEqual(r.body["meta"]["version"], 'W/"2"')
        self.assertScimError(self.srv.scim(self.cfg, "PUT", "/Users/nope", user("x")), 404)
        other = self.create("frank", "uuid-frank")
        r = self.srv.scim(self.cfg, "PUT", "/Users/" + other["id"], user("ERIN.renamed"))
        self.assertScimError(r, 409, "uniqueness")

    def test_patch(self):
        u = self.create("gina", "uuid-gina", displayName="Gina",
                        emails=[{"value": "g@work", "type": "work"},
                                {"value": "g@home", "type": "home"}],
                        name={"givenName": "Gina", "familyName": "G"})
        uid = "/Users/" + u["id"]
        r = self.srv.scim(self.cfg, "PATCH", uid, patch(
            ("replace", "displayName", "Gina G"),
            ("Replace", "active", "False"),  # Azure AD style
            ("add", "name.middleName", "M"),
            ("replace", 'emails[type eq "work"].value', "gina@work"),
            ("remove", 'emails[type eq "home"]', None),
            ("add", "emails", [{"value": "g@other", "type": "other"}]),
            ("add", None, {"title": "Boss", "nickName": "G"}),
            ("remove", "nickName", None)))
        self.assertEqual(r.status, 200, r.raw)
        b = r.body
        self.assertEqual(b["displayName"], "Gina G")
        self.assertFalse(b["active"])
        self.assertEqual(b["name"], {"givenName": "Gina", "familyName": "G", "middleName": "M"})
        self.assertEqual(sorted(e["value"] for e in b["emails"]), ["g@other", "gina@work"])
        self.assertEqual(b["title"], "Boss")
        self.assertNotIn("nickName", b)
        # enterprise extension by URN path
        ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        r = self.srv.scim(self.cfg, "PATCH", uid,
                          patch(("add", ent + ":employeeNumber", "42"),
                                ("replace", ent + ":department", "R&D")))
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.body[ent], {"employeeNumber": "42", "department": "R&D"})
        self.assertIn(ent, r.body["schemas"])

    def test_patch_errors(self):
        u = self.create("hank", "uuid-hank")
        uid = "/Users/" + u["id"]
        cases = [
            ({"Operations": []}, "invalidSyntax"),
            ({"schemas": ["urn:x"], "Operations": [{"op": "add", "value": {}}]}, "invalidSyntax"),
            (patch(("frob", "x", 1)), "invalidSyntax"),
            (patch(("remove", None, None)), "noTarget"),
            (patch(("replace", "id", "x")), "mutability"),
            (patch(("replace", 'emails[type eq "work"].value', "x")), "noTarget"),
            (patch(("replace", "emails[type eq", "x")), "invalidPath"),
            (patch(("replace", "emails[type zz \"a\"]", "x")), "invalidFilter"),
            (patch(("replace", "userName", None)), "invalidValue"),
            (patch(("remove", "userName", None)), "invalidValue"),
            (patch(("replace", "active", "perhaps")), "invalidValue"),
        ]
        for body, scim_type in cases:
            r = self.srv.scim(self.cfg, "PATCH", uid, body)
            self.assertScimError(r, 400, scim_type)
        self.assertScimError(self.srv.scim(self.cfg, "PATCH", "/Users/nope",
                                           patch(("replace", "title", "x"))), 404)
        # nothing of the failed patches was applied
        self.assertEqual(self.srv.scim(self.cfg, "GET", uid).body["meta"]["version"], 'W/"1"')

    def test_delete(self):
        u = self.create("ivan", "uuid-ivan")
        r = self.srv.scim(self.cfg, "DELETE", "/Users/" + u["id"])
        self.assertEqual(r.status, 204)
        self.assertEqual(r.raw, b"")
        self.assertScimError(self.srv.scim(self.cfg, "GET", "/Users/" + u["id"]), 404)
        self.assertScimError(self.srv.scim(self.cfg, "DELETE", "/Users/" + u["id"]), 404)

    def test_etags(self):
        u = self.create("judy", "uuid-judy")
        uid = "/Users/" + u["id"]
        r = self.srv.scim(self.cfg, "GET", uid, headers={"If-None-Match": u["meta"]["version"]})
        self.assertEqual(r.status, 304)
        r = self.srv.scim(self.cfg, "PUT", uid, user("judy", "uuid-judy", title="a"),
                          headers={"If-Match": 'W/"7"'})
        self.assertScimError(r, 412)
        r = self.srv.scim(self.cfg, "PUT", uid, user("judy", "uuid-judy", title="a"),
                          headers={"If-Match": u["meta"]["version"]})
        self.assertEqual(r.status, 200)
        r = self.srv.scim(self.cfg, "PATCH", uid, patch(("replace", "title", "b")),
                          headers={"If-Match": u["meta"]["version"]})
        self.assertScimError(r, 412)
        r = self.srv.scim(self.cfg, "DELETE", uid, headers={"If-Match": 'W/"1"'})
        self.assertScimError(r, 412)
        r = self.srv.scim(self.cfg, "DELETE", uid, headers={"If-Match": "*"})
        self.assertEqual(r.status, 204)

    def query(self, flt, who=None, **params):
        params["filter"] = flt
        r = self.srv.scim(who or self.cfg, "GET", "/Users?" + urllib.parse.urlencode(params))
        self.assertEqual(r.status, 200, (flt, r.raw))
        return sorted(u["userName"] for u in r.body["Resources"])

    def test_filters(self):
        self.create("Kim.Lee@Corp.example", "uuid-kim", displayName="Kim Lee",
                    emails=[{"value": "kim@corp.example", "type": "work"}],
                    name={"familyName": "Lee"})
        self.create("kurt@corp.example", "uuid-kurt", active=False, displayName="Kurt")
        self.assertEqual(self.query('userName eq "kim.lee@corp.EXAMPLE"'),
                         ["Kim.Lee@Corp.example"])
        self.assertEqual(self.query('externalId eq "uuid-kurt"'), ["kurt@corp.example"])
        self.assertEqual(self.query('externalId eq "UUID-KURT"'), [])  # caseExact
        self.assertEqual(self.query('userName sw "k" and userName co "corp.example"'),
                         ["Kim.Lee@Corp.example", "kurt@corp.example"])
        self.assertEqual(self.query('userName ew "@corp.example" and active eq false'),
                         ["kurt@corp.example"])
        self.assertEqual(self.query('(userName eq "kurt@corp.example") or displayName eq "kim lee"'),
                         ["Kim.Lee@Corp.example", "kurt@corp.example"])
        self.assertEqual(self.query('emails[type eq "work" and value co "kim@"]'),
                         ["Kim.Lee@Corp.example"])
        self.assertEqual(self.query('emails.value eq "KIM@corp.example"'),
                         ["Kim.Lee@Corp.example"])
        self.assertEqual(self.query('name.familyName eq "lee" and not (active eq false)'),
                         ["Kim.Lee@Corp.example"])
        self.assertIn("kurt@corp.example",
                      self.query('%s eq "%s"' % (SCIM_PROVIDER + ":provider",
                                                 self.cfg["app_id"])))
        self.assertEqual(self.query('userName eq "kurt@corp.example" and displayName pr'),
                         ["kurt@corp.example"])
        self.assertEqual(self.query('urn:ietf:params:scim:schemas:core:2.0:User:userName eq '
                                    '"kurt@corp.example"'), ["kurt@corp.example"])
        self.assertEqual(self.query('userName eq "50%_\\\\x"'), [])

    def test_filter_errors(self):
        for flt in ['userName eq', 'userName xx "a"', 'userName eq "a" and', '(userName eq "a"',
                    'bogus eq "a"', 'active eq "yes"', 'userName eq true', 'userName eq "a" x',
                    '"a" eq userName', 'emails[type eq "a"', "not userName eq \"a\"",
                    "(" * 40 + 'userName eq "a"' + ")" * 40, 'userName eq "a' + "x" * 5000 + '"']:
            r = self.srv.scim(self.cfg, "GET",
                              "/Users?" + urllib.parse.urlencode({"filter": flt}))
            self.assertScimError(r, 400, "invalidFilter")

    def test_paging(self):
        names = ["page-%03d" % i for i in range(25)]
        for n in names:
            self.create(n, "ext-" + n)
        seen = []
        start = 1
        while True:
            r = self.srv.scim(self.cfg, "GET", "/Users?" + urllib.parse.urlencode(
                {"filter": 'userName sw "page-"', "startIndex": start, "count": 10}))
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body["totalResults"], 25)
            self.assertEqual(r.body["startIndex"], start)
            self.assertEqual(r.body["itemsPerPage"], len(r.body["Resources"]))
            seen += [u["userName"] for u in r.body["Resources"]]
            if not r.body["Resources"]:
                break
            start += len(r.body["Resources"])
        self.assertEqual(seen, names)  # stable order: creation order, no repeats, no gaps
        # random access (no cursor) gives the same pages
        r = self.srv.scim(self.cfg, "GET", "/Users?" + urllib.parse.urlencode(
            {"filter": 'userName sw "page-"', "startIndex": 12, "count": 3}))
        self.assertEqual([u["userName"] for u in r.body["Resources"]], names[11:14])
        # count=0: only the total; startIndex below 1 counts as 1
        r = self.srv.scim(self.cfg, "GET", "/Users?count=0&filter=" +
                          urllib.parse.quote('userName sw "page-"'))
        self.assertEqual((r.body["totalResults"], r.body["Resources"]), (25, []))
        r = self.srv.scim(self.cfg, "GET", "/Users?startIndex=-5&count=1&filter=" +
                          urllib.parse.quote('userName sw "page-"'))
        self.assertEqual(r.body["startIndex"], 1)
        self.assertEqual(r.body["Resources"][0]["userName"], "page-000")
        r = self.srv.scim(self.cfg, "GET", "/Users?count=999999")
        self.assertEqual(r.status, 200)
        self.assertLessEqual(r.body["itemsPerPage"], 5000)

    def test_paging_while_users_change(self):
        # A listing continues after the last row it showed and keeps its first page's total:
        # users deleted meanwhile do not shift the pages (nobody is skipped), users added
        # meanwhile come at the end.
        flt = 'userName sw "chg-"'
        ids = {n: self.create(n, "ext-" + n)["id"]
               for n in ["chg-%02d" % i for i in range(10)]}

        def page(start):
            r = self.srv.scim(self.cfg, "GET", "/Users?" + urllib.parse.urlencode(
                {"filter": flt, "startIndex": start, "count": 4}))
            self.assertEqual(r.status, 200)
            return r.body["totalResults"], [u["userName"] for u in r.body["Resources"]]

        self.assertEqual(page(1), (10, ["chg-00", "chg-01", "chg-02", "chg-03"]))
        for gone in ("chg-00", "chg-01"):
            self.assertEqual(self.srv.scim(self.cfg, "DELETE", "/Users/" + ids[gone]).status, 204)
        self.create("chg-new", "ext-chg-new")
        self.assertEqual(page(5), (10, ["chg-04", "chg-05", "chg-06", "chg-07"]))
        self.assertEqual(page(9), (10, ["chg-08", "chg-09", "chg-new"]))
        # a new listing counts again
        self.assertEqual(page(1)[0], 9)
        for bad in ("count=x", "startIndex=1.5"):
            self.assertScimError(self.srv.scim(self.cfg, "GET", "/Users?" + bad), 400,
                                 "invalidValue")

    def test_attributes_parameter(self):
        self.create("lena", "uuid-lena", displayName="Lena", title="T")
        r = self.srv.scim(self.cfg, "GET", "/Users?attributes=userName&filter=" +
                          urllib.parse.quote('userName eq "lena"'))
        u = r.body["Resources"][0]
        self.assertEqual(set(u), {"id", "schemas", "userName"})
        r = self.srv.scim(self.cfg, "GET", "/Users?excludedAttributes=title,meta&filter=" +
                          urllib.parse.quote('userName eq "lena"'))
        u = r.body["Resources"][0]
        self.assertNotIn("title", u)
        self.assertNotIn("meta", u)
        self.assertIn("displayName", u)
        # excludedAttributes=meta alone (adc's listing) is rendered as text, without parsing:
        # the same resource as the full one without meta, for users with and without extras
        self.create("nils", "uuid-nils")
        flt = urllib.parse.quote('userName eq "lena" or userName eq "nils"')
        full = self.srv.scim(self.cfg, "GET", "/Users?filter=" + flt).body["Resources"]
        for excluded in ("meta", "META", "meta.version", "meta,meta"):
            r = self.srv.scim(self.cfg, "GET", f"/Users?excludedAttributes={excluded}&filter={flt}")
            self.assertEqual(r.status, 200, r.raw)
            self.assertEqual(r.body["Resources"],
                             [{k: v for k, v in u.items() if k != "meta"} for u in full], excluded)

    def test_search_post(self):
        self.create("mona", "uuid-mona")
        r = self.srv.scim(self.cfg, "POST", "/Users/.search",
                          {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                           "filter": 'userName eq "mona"', "startIndex": 1, "count": 5})
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.body["totalResults"], 1)
        self.assertIn(SCIM_LIST, r.body["schemas"])

    def test_admin_provider_handling(self):
        r = self.srv.scim("admin", "POST", "/Users", user("nina"))
        self.assertEqual(r.status, 201)
        self.assertEqual(provider(r.body), "local")
        nina = r.body["id"]
        body = user("olaf")
        body[SCIM_PROVIDER] = {"provider": self.cfg["app_id"]}
        r = self.srv.scim("admin", "POST", "/Users", body)
        self.assertEqual(provider(r.body), self.cfg["app_id"])
        body = user("pete")
        body[SCIM_PROVIDER] = {"provider": "no-such-config"}
        self.assertScimError(self.srv.scim("admin", "POST", "/Users", body), 400, "invalidValue")
        # the admin may move a user between providers with PATCH
        r = self.srv.scim("admin", "PATCH", "/Users/" + nina, patch(("replace", SCIM_PROVIDER + ":provider", self.cfg["app_id"])))
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(provider(r.body), self.cfg["app_id"])

    def test_sync_config_cannot_choose_provider(self):
        body = user("quinn", "uuid-quinn")
        body[SCIM_PROVIDER] = {"provider": "local"}
        r = self.srv.scim(self.cfg, "POST", "/Users", body)
        self.assertEqual(r.status, 201)
        self.assertEqual(provider(r.body), self.cfg["app_id"])

    def test_unauthenticated(self):
        r = self.srv.request("GET", "/scim/v2/Users")
        self.assertScimError(r, 401)
        r = self.srv.request("GET", "/scim/v2/Users",
                             auth="Basic " + "bm90OnZhbGlk")  # not:valid
        self.assertScimError(r, 401)
        r = self.srv.request("GET", "/scim/v2/Users", auth="Basic !!!")
        self.assertScimError(r, 401)


class ExternalIdIndex(ServerTestCase):
    """users' externalId index (src/server/store/store-users.h): a table filled in sorted
    batches up to a mark; users above it are found by their seq. Lookups must find every user
    wherever it is, and updates and deletes must keep the settled part exact."""
    sync_config = "extidx"

    def query(self, flt):
        r = self.srv.scim(self.cfg, "GET", "/Users?" + urllib.parse.urlencode({"filter": flt}))
        self.assertEqual(r.status, 200, (flt, r.raw))
        return sorted(u["userName"] for u in r.body["Resources"])

    def create_one(self, user_name, ext):
        r = self.srv.scim(self.cfg, "POST", "/Users", user(user_name, ext))
        self.assertEqual(r.status, 201, r.raw)

    def bounds(self):
        """(mark, last seq, entries in the index)"""
        (mark,), = self.srv.sql("SELECT seq FROM index_marks WHERE name = 'user_external_ids'")
        (last,), = self.srv.sql("SELECT coalesce(max(seq), 0) FROM users")
        (entries,), = self.srv.sql("SELECT count(*) FROM user_external_ids")
        return int(mark), int(last), int(entries)

    def test_lookups_updates_deletes(self):
        n = 2500  # two Bulk requests settle (1,000 users each), the last 500 wait for idle
        order = list(range(n))
        random.Random(7).shuffle(order)  # externalIds in random order, as entryUUIDs come
        for start in range(0, n, 1000):
            ops = [{"method": "POST", "path": "/Users", "bulkId": f"b{i}",
                    "data": user(f"x{i:05d}", f"ext-{i:05d}")} for i in order[start:start + 1000]]
            r = self.srv.scim(self.cfg, "POST", "/Bulk",
                              {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                               "Operations": ops})
            self.assertEqual(r.status, 200, r.raw)
            self.assertEqual([o["status"] for o in r.body["Operations"]], ["201"] * len(ops))
        mark, last, entries = self.bounds()
        self.assertEqual(last, n)
        self.assertGreaterEqual(mark, 2000)
        self.assertEqual(entries, mark)
        first, late = order[0], order[-1]  # one settled, one above the mark (until idle)
        self.assertEqual(self.query(f'externalId eq "ext-{first:05d}"'), [f"x{first:05d}"])
        self.assertEqual(self.query(f'externalId eq "ext-{late:05d}"'), [f"x{late:05d}"])
        self.assertEqual(len(self.query('externalId sw "ext-0000"')), 10)
        self.assertEqual(self.query('externalId gt "ext-02497"'), ["x02498", "x02499"])
        # a chain of "eq" (adc's look-up after a repeated Bulk) finds both parts in one query
        self.assertEqual(
            self.query(f'externalId eq "ext-{first:05d}" or externalId eq "ext-{late:05d}" or '
                       'externalId eq "nobody" or externalId eq "EXT-00001"'),
            sorted([f"x{first:05d}", f"x{late:05d}"]))
        # once creates pause, the schedule's tick settles the rest
        deadline = time.monotonic() + 15
        while self.bounds()[0] != n and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(self.bounds(), (n, n, n))
        self.assertEqual(self.query(f'externalId eq "ext-{late:05d}"'), [f"x{late:05d}"])
        # a settled user's new externalId replaces its entry
        uid = self.srv.scim(self.cfg, "GET", "/Users?" + urllib.parse.urlencode(
            {"filter": f'externalId eq "ext-{first:05d}"'})).body["Resources"][0]["id"]
        r = self.srv.scim(self.cfg, "PATCH", "/Users/" + uid,
                          patch(("replace", "externalId", "moved-away")))
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(self.query(f'externalId eq "ext-{first:05d}"'), [])
        self.assertEqual(self.query('externalId eq "moved-away"'), [f"x{first:05d}"])
        self.assertEqual(self.bounds()[2], n)
        # an update that keeps it changes nothing in the index; removing it drops the entry
        r = self.srv.scim(self.cfg, "PUT", "/Users/" + uid, user(f"x{first:05d}", "moved-away",
                                                                displayName="Renamed"))
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(self.bounds()[2], n)
        r = self.srv.scim(self.cfg, "PUT", "/Users/" + uid, user(f"x{first:05d}"))
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(self.bounds()[2], n - 1)
        self.assertEqual(self.query('externalId eq "moved-away"'), [])
        self.assertEqual(self.query('not (externalId pr)'), [f"x{first:05d}"])
        # a deleted user's entry goes with it
        victim = self.srv.scim(self.cfg, "GET", "/Users?" + urllib.parse.urlencode(
            {"filter": f'externalId eq "ext-{late:05d}"'})).body["Resources"][0]["id"]
        self.assertEqual(self.srv.scim(self.cfg, "DELETE", "/Users/" + victim).status, 204)
        self.assertEqual(self.bounds()[2], n - 2)
        self.assertEqual(self.query(f'externalId eq "ext-{late:05d}"'), [])
        # That was the last user (seq n): SQLite gives its seq to the next user, who must still
        # be found, so the mark went down with it.
        self.assertEqual(self.bounds()[:2], (n - 1, n - 1))
        self.create_one("reborn", "ext-reborn")
        self.assertEqual(self.query('externalId eq "ext-reborn"'), ["reborn"])
        (stale,), = self.srv.sql("SELECT count(*) FROM user_external_ids AS x WHERE NOT EXISTS "
                                 "(SELECT 1 FROM users AS u WHERE u.seq = x.seq AND "
                                 "u.external_id = x.external_id)")
        self.assertEqual(int(stale), 0)


if __name__ == "__main__":
    unittest.main()
