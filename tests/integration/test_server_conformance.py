"""A SCIM conformance checklist written from RFC 7644 (protocol) and RFC 7643 (schema), run
against the real adc-server. Each test names the section it checks."""
import unittest
import urllib.parse

from harness.server import (SCIM_ERROR, SCIM_LIST, SCIM_PATCH, SCIM_PROVIDER, SCIM_USER,
                            ServerTestCase, patch, user)

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


ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCHEMA_TYPES = {"string": str, "boolean": bool, "decimal": (int, float), "integer": int,
                "dateTime": str, "binary": str, "reference": str, "complex": dict}


class StrictClient:
    """A schema-driven reader, as strict SCIM clients are (python's scim2-client and
    scim2-tester): it learns the attributes from /Schemas and /ResourceTypes and refuses any
    resource with an attribute, a sub-attribute or a type those do not declare."""

    def __init__(self, srv):
        rts = srv.request("GET", "/scim/v2/ResourceTypes").body["Resources"]
        (rt,) = [r for r in rts if r["id"] == "User"]
        self.core = rt["schema"]
        self.extensions = {e["schema"] for e in rt["schemaExtensions"]}
        self.schemas = {s["id"]: s for s in srv.request("GET", "/scim/v2/Schemas").body["Resources"]}
        assert self.core in self.schemas
        assert self.extensions <= set(self.schemas), (self.extensions, set(self.schemas))

    @staticmethod
    def find(attrs, name):
        for a in attrs:
            if a["name"].lower() == name.lower():
                return a
        raise AssertionError("attribute %r is not in the schema" % name)

    def check_value(self, a, v, where):
        if a["multiValued"]:
            assert isinstance(v, list), "%s: not a list" % where
            values = v
        else:
            values = [v]
        for x in values:
            assert isinstance(x, SCHEMA_TYPES[a["type"]]), "%s: %r is not %s" % (where, x, a["type"])
            if a["type"] == "complex":
                for k, sv in x.items():
                    self.check_value(self.find(a["subAttributes"], k), sv, where + "." + k)

    def validate(self, user):
        common = {"schemas", "id", "externalId", "meta"}
        assert self.core in user["schemas"]
        assert set(user["schemas"]) <= {self.core} | self.extensions, user["schemas"]
        for key, v in user.items():
            if key in ("schemas", "id", "meta"):
                continue
            if key in self.extensions:
                assert key in user["schemas"], key
                for k, sv in v.items():
                    self.check_value(self.find(self.schemas[key]["attributes"], k), sv, key + ":" + k)
                continue
            assert not key.startswith("urn:"), "undeclared extension %s" % key
            self.check_value(self.find(self.schemas[self.core]["attributes"], key), v, key)
        assert user["meta"]["location"].startswith("http"), user["meta"]
        assert common


class Interop(ServerTestCase):
    """What third-party SCIM clients read and send (RFC 7643/7644, and Entra's habits)."""
    sync_config = "interop"

    def scim(self, method, path, body=None, **kw):
        return self.srv.scim(self.cfg, method, path, body, **kw)

    def new(self, user_name, **attrs):
        r = self.scim("POST", "/Users", user(user_name, "ext-" + user_name, **attrs))
        self.assertEqual(r.status, 201, r.raw)
        return r.body

    def test_service_provider_config_is_rfc_7643_section_5(self):
        b = self.srv.request("GET", "/scim/v2/ServiceProviderConfig").body
        self.assertEqual(set(b["filter"]), {"supported", "maxResults"})
        for feature in ("patch", "changePassword", "sort", "etag"):
            self.assertEqual(set(b[feature]), {"supported"}, feature)
        self.assertEqual(set(b["bulk"]), {"supported", "maxOperations", "maxPayloadSize"})

    def test_discovery_locations_are_absolute(self):
        for path in ("/ServiceProviderConfig", "/ResourceTypes/User",
                     "/Schemas/" + SCIM_USER):
            b = self.srv.request("GET", "/scim/v2" + path).body
            self.assertEqual(b["meta"]["location"], self.srv.url + "/scim/v2" + path)
        for r in self.srv.request("GET", "/scim/v2/Schemas").body["Resources"]:
            self.assertTrue(r["meta"]["location"].startswith(self.srv.url + "/scim/v2/Schemas/"))

    def test_schemas_describe_each_attribute(self):
        schemas = {s["id"]: s for s in
                   self.srv.request("GET", "/scim/v2/Schemas").body["Resources"]}
        attrs = {a["name"]: a for a in schemas[SCIM_USER]["attributes"]}
        subs = lambda a: {x["name"] for x in attrs[a]["subAttributes"]}
        self.assertEqual(subs("addresses"), {"formatted", "streetAddress", "locality", "region",
                                             "postalCode", "country", "type", "primary"})
        self.assertEqual(subs("name"), {"formatted", "familyName", "givenName", "middleName",
                                        "honorificPrefix", "honorificSuffix"})
        for a in ("emails", "phoneNumbers", "roles", "entitlements", "x509Certificates"):
            self.assertEqual(subs(a), {"value", "display", "type", "primary"}, a)
        value = lambda a: [x for x in attrs[a]["subAttributes"] if x["name"] == "value"][0]
        self.assertEqual(value("x509Certificates")["type"], "binary")
        self.assertEqual(value("photos")["type"], "reference")
        self.assertIn("limit", attrs["displayName"]["description"].lower() + " limit")
        self.assertIn("4096", attrs["displayName"]["description"])
        self.assertIn("100", attrs["emails"]["description"])
        ent = {a["name"] for a in schemas[ENTERPRISE]["attributes"]}
        self.assertEqual(ent, {"employeeNumber", "costCenter", "organization", "division",
                               "department", "manager"})
        (prov,) = schemas[SCIM_PROVIDER]["attributes"]
        self.assertEqual((prov["name"], prov["mutability"]), ("provider", "readOnly"))
        rt = self.srv.request("GET", "/scim/v2/ResourceTypes/User").body
        self.assertEqual({e["schema"] for e in rt["schemaExtensions"]}, {SCIM_PROVIDER, ENTERPRISE})
        group = {a["name"]: a for a in schemas["urn:ietf:params:scim:schemas:core:2.0:Group"]
                 ["attributes"]}
        ref = [x for x in group["members"]["subAttributes"] if x["name"] == "$ref"][0]
        self.assertEqual(ref["referenceTypes"], ["User", "Group"])

    def test_strict_client_reads_every_user(self):
        self.new("strict-full@example.org", displayName="Full",
                 name={"givenName": "F", "familyName": "U", "formatted": "F U"},
                 emails=[{"value": "f@example.org", "type": "work", "primary": True}],
                 addresses=[{"streetAddress": "1 Main St", "locality": "X", "country": "DE",
                             "type": "work"}],
                 phoneNumbers=[{"value": "+49 1", "type": "work"}],
                 roles=[{"value": "admin"}], x509Certificates=[{"value": "TUlJQw=="}],
                 **{ENTERPRISE: {"department": "R&D", "manager": {"value": "x"}},
                    "schemas": [SCIM_USER, ENTERPRISE]})
        client = StrictClient(self.srv)
        users = self.srv.scim("admin", "GET", "/Users?count=5000").body["Resources"]
        self.assertGreater(len(users), 1)
        for u in users:
            client.validate(u)

    def test_searches_at_the_root(self):
        # Users and groups would share one paged listing: 501 with the SCIM error, so that the
        # client searches /Users or /Groups (RFC 7644 section 3.4.2)
        q = urllib.parse.quote('userName eq "x@example.org"')
        for r in (self.scim("GET", "?filter=" + q),
                  self.scim("POST", "/.search", {"schemas": ["urn:ietf:params:scim:api:messages:"
                                                             "2.0:SearchRequest"],
                                                 "filter": 'userName eq "x@example.org"'})):
            self.assertEqual(r.status, 501, r.raw)
            self.assertEqual(r.body["schemas"], [SCIM_ERROR])
            self.assertEqual(r.body["status"], "501")
            self.assertIn("/Users", r.body["detail"])

    def test_removing_active_never_enables(self):
        u = self.new("disabled-remove@example.org", active=False)
        for ops in ((("remove", "active", None),), (("replace", "active", None),),
                    (("replace", None, {"active": None}),)):
            body = patch(*ops)
            if ops[0][0] == "replace" and ops[0][1] == "active":
                body["Operations"][0]["value"] = None
            r = self.scim("PATCH", "/Users/" + u["id"], body)
            self.assertEqual(r.status, 400, (ops, r.raw))
            self.assertEqual(r.body["scimType"], "mutability")
        r = self.scim("PATCH", "/Users/" + u["id"], patch(("remove", SCIM_PROVIDER, None)))
        self.assertEqual((r.status, r.body.get("scimType")), (400, "mutability"))
        r = self.scim("PATCH", "/Users/" + u["id"],
                      patch(("remove", SCIM_PROVIDER + ":provider", None)))
        self.assertEqual((r.status, r.body.get("scimType")), (400, "mutability"))
        r = self.scim("GET", "/Users/" + u["id"])
        self.assertFalse(r.body["active"])
        self.assertEqual(r.body["meta"]["version"], 'W/"1"')

    def test_what_entra_sends(self):
        u = self.new("entra@example.org", name={"givenName": "E", "familyName": "N"})
        body = {"schemas": [SCIM_PATCH], "Operations": [
            {"op": "Replace", "value": {"name.givenName": "Eve", "active": "False",
                                        ENTERPRISE + ":department": "Sales",
                                        "displayName": "Eve N"}},
            {"op": "Add", "path": 'emails[type eq "work"].value', "value": "eve@example.org"},
            {"op": "add", "path": "phoneNumbers",
             "value": [{"value": "+1 5", "type": "mobile", "primary": "True"}]}]}
        r = self.scim("PATCH", "/Users/" + u["id"], body)
        self.assertEqual(r.status, 200, r.raw)
        b = r.body
        self.assertEqual(b["name"], {"givenName": "Eve", "familyName": "N"})
        self.assertIs(b["active"], False)
        self.assertEqual(b[ENTERPRISE]["department"], "Sales")
        self.assertEqual(b["emails"], [{"type": "work", "value": "eve@example.org"}])
        self.assertIs(b["phoneNumbers"][0]["primary"], True)
        self.assertIn(ENTERPRISE, b["schemas"])
        # and back: "True" enables, as a boolean would
        r = self.scim("PATCH", "/Users/" + u["id"], {"schemas": [SCIM_PATCH], "Operations": [
            {"op": "REPLACE", "path": "active", "value": "True"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "e@example.org"}]})
        self.assertEqual(r.status, 200, r.raw)
        self.assertIs(r.body["active"], True)
        self.assertEqual(r.body["emails"], [{"type": "work", "value": "e@example.org"}])
        StrictClient(self.srv).validate(r.body)


if __name__ == "__main__":
    unittest.main()
