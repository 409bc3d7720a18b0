"""SCIM Bulk on adc-server (RFC 7644 section 3.7): results per operation, bulkId references,
failOnErrors, the advertised limits, and a large import paged back in full."""
import json
import time
import unittest
import urllib.parse

from harness.server import SCIM_BULK, ServerTestCase, patch, user

BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"


def bulk(*ops, fail_on_errors=None):
    b = {"schemas": [SCIM_BULK], "Operations": list(ops)}
    if fail_on_errors is not None:
        b["failOnErrors"] = fail_on_errors
    return b


class Bulk(ServerTestCase):
    sync_config = "bulk"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        spc = cls.srv.request("GET", "/scim/v2/ServiceProviderConfig").body
        cls.max_ops = spc["bulk"]["maxOperations"]
        cls.max_payload = spc["bulk"]["maxPayloadSize"]

    def test_mixed_operations_and_bulk_ids(self):
        r = self.srv.scim(self.cfg, "POST", "/Bulk", bulk(
            {"method": "POST", "path": "/Users", "bulkId": "q1", "data": user("bk-1", "bk-e1")},
            {"method": "POST", "path": "/Users", "bulkId": "q2", "data": user("bk-2", "bk-e2")},
            {"method": "PATCH", "path": "/Users/bulkId:q1",
             "data": patch(("replace", "displayName", "One"))},
            {"method": "PUT", "path": "/Users/bulkId:q2", "data": user("bk-2b", "bk-e2")},
            {"method": "DELETE", "path": "/Users/bulkId:q2"},
            {"method": "POST", "path": "/Users", "bulkId": "q3", "data": user("BK-1")},
            {"method": "PATCH", "path": "/Users/bulkId:nope", "data": patch(("add", "title", 1))},
            {"method": "GET", "path": "/Users"},
            {"method": "POST", "path": "/Users", "data": user("bk-nobulkid")},
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {}}))
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.body["schemas"], [BULK_RESPONSE])
        ops = r.body["Operations"]
        self.assertEqual([o["status"] for o in ops],
                         ["201", "201", "200", "200", "204", "409", "400", "400", "400", "400"])
        self.assertEqual(ops[0]["bulkId"], "q1")
        self.assertEqual(ops[0]["method"], "POST")
        self.assertRegex(ops[0]["location"], r"/scim/v2/Users/[0-9a-f-]{36}$")
        self.assertEqual(ops[0]["version"], 'W/"1"')
        self.assertEqual(ops[2]["version"], 'W/"2"')
        self.assertEqual(ops[5]["response"]["scimType"], "uniqueness")
        self.assertIn("urn:ietf:params:scim:api:messages:2.0:Error", ops[5]["response"]["schemas"])
        uid = ops[0]["location"].rsplit("/", 1)[1]
        self.assertEqual(self.srv.scim(self.cfg, "GET", "/Users/" + uid).body["displayName"],
                         "One")
        r = self.srv.scim(self.cfg, "GET", "/Users?filter=" +
                          urllib.parse.quote('userName sw "bk-2"'))
        self.assertEqual(r.body["totalResults"], 0)

    def test_fail_on_errors(self):
        r = self.srv.scim(self.cfg, "POST", "/Bulk", bulk(
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": user("foe-1")},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": user("foe-1")},
            {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"userName": ""}},
            {"method": "POST", "path": "/Users", "bulkId": "d", "data": user("foe-4")},
            fail_on_errors=2))
        self.assertEqual(r.status, 200)
        self.assertEqual([o["status"] for o in r.body["Operations"]], ["201", "409", "400"])
        r = self.srv.scim(self.cfg, "GET", "/Users?filter=" + urllib.parse.quote(
            'userName eq "foe-4"'))
        self.assertEqual(r.body["totalResults"], 0)
        r = self.srv.scim(self.cfg, "POST", "/Bulk", bulk(fail_on_errors=0))
        self.assertEqual(r.status, 400)

    def test_limits(self):
        ops = [{"method": "DELETE", "path": "/Users/x%d" % i} for i in range(self.max_ops + 1)]
        r = self.srv.scim(self.cfg, "POST", "/Bulk", bulk(*ops))
        self.assertEqual(r.status, 413)
        self.assertIn("maxOperations", r.body["detail"])
        big = user("big", displayName="x" * (self.max_payload + 10))
        r = self.srv.scim(self.cfg, "POST", "/Bulk", bulk(
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": big}))
        self.assertEqual(r.status, 413)
        self.assertIn("maxPayloadSize", r.body["detail"])
        for body in ({"Operations": "x"}, {"schemas": ["urn:x"], "Operations": []}, [1]):
            self.assertEqual(self.srv.scim(self.cfg, "POST", "/Bulk", body).status, 400, body)

    def test_large_import_then_full_listing(self):
        n = 20000
        t0 = time.time()
        for start in range(0, n, self.max_ops):
            ops = [{"method": "POST", "path": "/Users", "bulkId": str(i),
                    "data": user("imp%05d@example.com" % i, "imp-ext-%05d" % i,
                                 displayName="Imported %d" % i,
                                 emails=[{"value": "imp%05d@example.com" % i, "primary": True}])}
                   for i in range(start, min(n, start + self.max_ops))]
            r = self.srv.scim(self.cfg, "POST", "/Bulk", bulk(*ops))
            self.assertEqual(r.status, 200)
            self.assertTrue(all(o["status"] == "201" for o in r.body["Operations"]))
        t_import = time.time() - t0
        t0 = time.time()
        seen, start = [], 1
        flt = urllib.parse.quote('userName sw "imp"')
        while True:
            r = self.srv.scim(self.cfg, "GET", "/Users?count=5000&startIndex=%d&filter=%s"
                              % (start, flt))
            self.assertEqual(r.status, 200)
            page = r.body["Resources"]
            if not page:
                break
            seen += [u["externalId"] for u in page]
            start += len(page)
        t_list = time.time() - t0
        self.assertEqual(seen, ["imp-ext-%05d" % i for i in range(n)])
        print("\n%d users: bulk import %.2f s, full listing %.2f s" % (n, t_import, t_list))
        # generous bounds: a shared CI machine; the benchmark measures precisely
        self.assertLess(t_import, 30)
        self.assertLess(t_list, 30)


if __name__ == "__main__":
    unittest.main()
