"""A SCIM conformance checklist written from RFC 7644 (protocol) and RFC 7643 (schema), run
against the real adc-server. Each test names the section it checks."""
import unittest
import urllib.parse

from harness.server import (SCIM_ERROR, SCIM_LIST, SCIM_PATCH, SCIM_USER, ServerTestCase,
                            patch, user)

SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
SCIM_TYPES = {"invalidFilter", "tooMany", "uniqueness", "mutability", "invalidSyntax",
              "invalidPath", "noTarget", "invalidValue", "invalidVers", "sensitive"}


class Conformance(ServerTestCase):
    sync_config = "conformance"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for i in range(7):
            r = cls.srv.scim(cls.cfg, "POST", "/Users", user("conf-%d" % i, "conf-ext-%d" % i))
            assert r.status == 201, r

    def scim(self, method, path, body=None, **kw):
        return self.srv.scim(self.cfg, method, path, body, **kw)

    def assertError(self, r, status, scim_type=None):
        """RFC 7644 3.12: the error schema, status as a string, scimType from the list."""
        self.assertEqual(r.status, status, r.raw)
        self.assertEqual(r.header("Content-Type"), "application/scim+json")
        self.assertEqual(r.body["schemas"], [SCIM_ERROR])
        self.assertEqual(r.body["status"], str(status))
        self.assertIsInstance(r.body.get("detail"), str)
        if "scimType" in r.body:
            self.assertIn(r.body["scimType"], SCIM_TYPES)
        if scim_type:
            self.assertEqual(r.body.get("scimType"), scim_type)

    # RFC 7643 section 5, RFC 7644 section 4
    def test_service_provider_config(self):
        r = self.srv.request("GET", "/scim/v2/ServiceProviderConfig")
        self.assertEqual(r.status, 200)
        b = r.body
        self.assertEqual(b["schemas"], [SPC])
        for feature in ("patch", "bulk", "filter", "changePassword", "sort", "etag"):
            self.assertIsInstance(b[feature]["supported"], bool, feature)
        self.assertTrue(b["patch"]["supported"] and b["bulk"]["supported"] and
                        b["filter"]["supported"] and b["etag"]["supported"])
        self.assertGreater(b["bulk"]["maxOperations"], 0)
        self.assertGreater(b["bulk"]["maxPayloadSize"], 0)
        self.assertGreater(b["filter"]["maxResults"], 0)
        self.assertTrue(b["authenticationSchemes"])
        types = {s["type"] for s in b["authenticationSchemes"]}
        self.assertEqual(types, {"httpbasic", "oauthbearertoken"})

    # RFC 7644 section 4: /ResourceTypes and /Schemas
    def test_resource_types_and_schemas(self):
        r = self.srv.request("GET", "/scim/v2/ResourceTypes")
        self.assertEqual(r.body["schemas"], [SCIM_LIST])
        rt, gt = r.body["Resources"]
        self.assertEqual((rt["id"], rt["endpoint"], rt["schema"]), ("User", "/Users", SCIM_USER))
        self.assertEqual((gt["id"], gt["endpoint"]), ("Group", "/Groups"))
        self.assertEqual(self.srv.request("GET", "/scim/v2/ResourceTypes/User").body["id"], "User")
        self.assertEqual(self.srv.request("GET", "/scim/v2/ResourceTypes/Group").body["id"],
                         "Group")
        self.assertError(self.srv.request("GET", "/scim/v2/ResourceTypes/Printer"), 404)
        r = self.srv.request("GET", "/scim/v2/Schemas")
        ids = [s["id"] for s in r.body["Resources"]]
        self.assertIn(SCIM_USER, ids)
        for s in r.body["Resources"]:
            r2 = self.srv.request("GET", "/scim/v2/Schemas/" + s["id"])
            self.assertEqual(r2.status, 200)
            self.assertEqual(r2.body["id"], s["id"])
        names = {a["name"] for a in r.body["Resources"][ids.index(SCIM_USER)]["attributes"]}
        self.assertTrue({"userName", "name", "emails", "active", "externalId"} <= names)
        self.assertError(self.srv.request("GET", "/scim/v2/Schemas/urn:nope"), 404)

    # RFC 7644 section 3.3: creating resources
    def test_create(self):
        r = self.scim("POST", "/Users", user("conf-create", "c-c"))
        self.assertEqual(r.status, 201)
        self.assertEqual(r.header("Content-Type"), "application/scim+json")
        m = r.body["meta"]
        self.assertEqual(r.header("Location"), m["location"])
        self.assertEqual(m["resourceType"], "User")
        for k in ("created", "lastModified", "version"):
            self.assertTrue(m[k])
        self.assertRegex(m["created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIn(SCIM_USER, r.body["schemas"])
        self.assertTrue(r.body["id"])
        # 3.3: conflict on a unique attribute -> 409 uniqueness
        self.assertError(self.scim("POST", "/Users", user("CONF-CREATE")), 409, "uniqueness")

    # RFC 7644 section 3.4.1: retrieving a known resource
    def test_get(self):
        u = self.scim("POST", "/Users", user("conf-get")).body
        r = self.scim("GET", "/Users/" + u["id"])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("ETag"), u["meta"]["version"])
        self.assertError(self.scim("GET", "/Users/0000"), 404)

    # RFC 7644 section 3.4.2: ListResponse
    def test_list_response(self):
        r = self.scim("GET", "/Users?count=3")
        self.assertEqual(r.status, 200)
        b = r.body
        self.assertEqual(b["schemas"], [SCIM_LIST])
        self.assertGreaterEqual(b["totalResults"], 7)
        self.assertEqual(b["itemsPerPage"], 3)
        self.assertEqual(b["startIndex"], 1)
        self.assertEqual(len(b["Resources"]), 3)

    # RFC 7644 section 3.4.2.4: pagination is 1-based; beyond the end is empty; count=0
    def test_pagination(self):
        flt = "&filter=" + urllib.parse.quote('userName sw "conf-"')
        all_ = self.scim("GET", "/Users?count=100" + flt).body
        total = all_["totalResults"]
        first = self.scim("GET", "/Users?startIndex=1&count=1" + flt).body
        self.assertEqual(first["Resources"][0]["id"], all_["Resources"][0]["id"])
        second = self.scim("GET", "/Users?startIndex=2&count=1" + flt).body
        self.assertEqual(second["Resources"][0]["id"], all_["Resources"][1]["id"])
        beyond = self.scim("GET", "/Users?startIndex=%d&count=5%s" % (total + 1, flt)).body
        self.assertEqual((beyond["totalResults"], beyond["Resources"], beyond["itemsPerPage"]),
                         (total, [], 0))
        zero = self.scim("GET", "/Users?count=0" + flt).body
        self.assertEqual((zero["totalResults"], zero["Resources"]), (total, []))
        self.assertEqual(self.scim("GET", "/Users?startIndex=0&count=1" + flt).body["startIndex"],
                         1)

    # RFC 7644 section 3.4.2.2: filtering
    def test_filtering(self):
        def total(f):
            r = self.scim("GET", "/Users?filter=" + urllib.parse.quote(f))
            self.assertEqual(r.status, 200, (f, r.raw))
            return r.body["totalResults"]
        self.assertEqual(total('userName eq "conf-1"'), 1)
        self.assertEqual(total('USERNAME EQ "CONF-1"'), 1)  # names and operators ignore case
        self.assertEqual(total('userName eq "conf-1" or userName eq "conf-2"'), 2)
        self.assertEqual(total('userName eq "conf-1" and userName eq "conf-2"'), 0)
        self.assertEqual(total('not (userName ne "conf-1")'), 1)
        self.assertEqual(total('externalId sw "conf-ext-" and externalId pr'), 7)
        self.assertEqual(total('meta.lastModified gt "2000-01-01T00:00:00Z" and userName eq '
                               '"conf-3"'), 1)
        for bad in ('userName', 'userName eq', 'userName like "x"', '(userName eq "a"',
                    'nosuchattribute eq "x"'):
            r = self.scim("GET", "/Users?filter=" + urllib.parse.quote(bad))
            self.assertError(r, 400, "invalidFilter")

    # RFC 7644 section 3.4.3: POST /.search
    def test_search(self):
        r = self.scim("POST", "/Users/.search", {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName eq "conf-4"', "attributes": ["userName"]})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body["totalResults"], 1)
        self.assertEqual(set(r.body["Resources"][0]), {"id", "schemas", "userName"})

    # RFC 7644 section 3.5.1: PUT replaces; readOnly attributes are ignored
    def test_replace(self):
        u = self.scim("POST", "/Users", user("conf-put", title="T")).body
        body = user("conf-put", displayName="D")
        body["id"] = "something-else"
        body["meta"] = {"created": "1999-01-01T00:00:00Z"}
        r = self.scim("PUT", "/Users/" + u["id"], body)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body["id"], u["id"])
        self.assertEqual(r.body["meta"]["created"], u["meta"]["created"])
        self.assertNotIn("title", r.body)
        self.assertNotEqual(r.body["meta"]["version"], u["meta"]["version"])

    # RFC 7644 section 3.5.2: PATCH
    def test_patch(self):
        u = self.scim("POST", "/Users", user("conf-patch")).body
        r = self.scim("PATCH", "/Users/" + u["id"], patch(("add", "title", "X")))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body["title"], "X")
        self.assertError(self.scim("PATCH", "/Users/" + u["id"],
                                   {"schemas": [SCIM_PATCH], "Operations": [{"op": "bogus"}]}),
                         400, "invalidSyntax")
        self.assertError(self.scim("PATCH", "/Users/" + u["id"], patch(("remove", None, None))),
                         400, "noTarget")
        self.assertError(self.scim("PATCH", "/Users/" + u["id"], patch(("replace", "meta", {}))),
                         400, "mutability")

    # RFC 7644 section 3.6: DELETE
    def test_delete(self):
        u = self.scim("POST", "/Users", user("conf-del")).body
        r = self.scim("DELETE", "/Users/" + u["id"])
        self.assertEqual((r.status, r.raw), (204, b""))
        self.assertError(self.scim("GET", "/Users/" + u["id"]), 404)
        self.assertError(self.scim("DELETE", "/Users/" + u["id"]), 404)

    # RFC 7644 section 3.14: versioning
    def test_etags(self):
        u = self.scim("POST", "/Users", user("conf-etag")).body
        v = u["meta"]["version"]
        self.assertTrue(v.startswith('W/"'))
        self.assertEqual(self.scim("GET", "/Users/" + u["id"],
                                   headers={"If-None-Match": v}).status, 304)
        self.assertError(self.scim("PATCH", "/Users/" + u["id"], patch(("add", "title", "x")),
                                   headers={"If-Match": 'W/"999"'}), 412)
        self.assertEqual(self.scim("PATCH", "/Users/" + u["id"], patch(("add", "title", "x")),
                                   headers={"If-Match": v}).status, 200)

    # RFC 7644 section 3.12: errors for malformed requests and credentials
    def test_errors(self):
        self.assertError(self.srv.request("GET", "/scim/v2/Users"), 401)
        self.assertError(self.scim("POST", "/Users", raw=b"{"), 400, "invalidSyntax")
        self.assertError(self.scim("POST", "/Users", {"displayName": "no userName"}), 400,
                         "invalidValue")
        self.assertError(self.scim("GET", "/Printers"), 404)
        self.assertError(self.scim("PATCH", "/Users", patch(("add", "title", "x"))), 405)
        r = self.scim("POST", "/Users", raw=b"[" * 100 + b"]" * 100)
        self.assertError(r, 400, "invalidSyntax")
        self.assertIn("deeper", r.body["detail"])

    # RFC 7644 section 3.12 (413) and the server's body limit
    def test_payload_too_large(self):
        r = self.scim("POST", "/Users", raw=b'{"userName":"' + b"x" * (9 * 1024 * 1024) + b'"}')
        self.assertError(r, 413)

    # RFC 7643 section 4.1.1: userName is unique and caseExact=false; externalId caseExact
    def test_case_rules(self):
        self.assertEqual(self.scim("GET", "/Users?filter=" + urllib.parse.quote(
            'userName eq "CONF-5"')).body["totalResults"], 1)
        self.assertEqual(self.scim("GET", "/Users?filter=" + urllib.parse.quote(
            'externalId eq "CONF-EXT-5"')).body["totalResults"], 0)


if __name__ == "__main__":
    unittest.main()
