"""adc-server under pressure and abuse: concurrent clients, HTTPS with a self-signed
certificate, hard limits, slowed-down wrong credentials, secrets kept out of the log, garbage
input, clean shutdown."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.parse

from harness.programs import ADC_SERVER
from harness.server import SCIM_BULK, AdcServer, ServerTestCase, basic_auth, patch, user


class Concurrency(unittest.TestCase):
    def test_concurrent_clients(self):
        with AdcServer() as srv:
            cfgs = [srv.create_sync_config("c%d" % i) for i in range(4)]
            errors = []

            def worker(k):
                try:
                    cfg = cfgs[k % len(cfgs)]
                    for i in range(40):
                        name = "t%d-u%d" % (k, i)
                        r = srv.scim(cfg, "POST", "/Users", user(name, "ext-%d-%d" % (k, i)))
                        assert r.status == 201, r
                        r = srv.scim(cfg, "PATCH", "/Users/" + r.body["id"],
                                     patch(("replace", "title", "x%d" % i)))
                        assert r.status == 200, r
                        r = srv.scim(cfg, "GET", "/Users?filter=" +
                                     urllib.parse.quote('userName eq "%s"' % name))
                        assert r.body["totalResults"] == 1, r
                        if i % 10 == 0:
                            r = srv.scim(cfg, "POST", "/Bulk", {"schemas": [SCIM_BULK],
                                         "Operations": [{"method": "POST", "path": "/Users",
                                                         "bulkId": "b",
                                                         "data": user(name + "-bulk")}]})
                            assert r.body["Operations"][0]["status"] == "201", r
                    # everybody races for the same name: exactly one wins
                    r = srv.scim(cfg, "POST", "/Users", user("contended"))
                    assert r.status in (201, 409), r
                    if r.status == 201:
                        winners.append(k)
                except Exception as e:  # reported in the main thread
                    errors.append(repr(e))

            winners = []
            threads = [threading.Thread(target=worker, args=(k,)) for k in range(12)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            self.assertEqual(errors, [])
            self.assertEqual(len(winners), 1)
            total = srv.scim("admin", "GET", "/Users?count=0").body["totalResults"]
            self.assertEqual(total, 12 * 40 + 12 * 4 + 1)

    def test_writes_while_listing(self):
        with AdcServer() as srv:
            cfg = srv.create_sync_config("rw")
            ops = [{"method": "POST", "path": "/Users", "bulkId": str(i),
                    "data": user("base-%04d" % i)} for i in range(1000)]
            self.assertEqual(srv.scim(cfg, "POST", "/Bulk", {"schemas": [SCIM_BULK],
                                                             "Operations": ops}).status, 200)
            stop = threading.Event()
            failures = []

            def writer():
                i = 0
                while not stop.is_set():
                    r = srv.scim(cfg, "POST", "/Users", user("late-%d" % i))
                    if r.status != 201:
                        failures.append(r)
                    i += 1
            t = threading.Thread(target=writer)
            t.start()
            try:
                for _ in range(3):
                    seen, start = [], 1
                    flt = urllib.parse.quote('userName sw "base-"')
                    while True:
                        r = srv.scim(cfg, "GET", "/Users?count=100&startIndex=%d&filter=%s"
                                     % (start, flt))
                        self.assertEqual(r.status, 200)
                        if not r.body["Resources"]:
                            break
                        seen += [u["userName"] for u in r.body["Resources"]]
                        start += len(r.body["Resources"])
                    self.assertEqual(seen, ["base-%04d" % i for i in range(1000)])
            finally:
                stop.set()
                t.join(30)
            self.assertEqual(failures, [])


class Https(unittest.TestCase):
    def test_tls_with_self_signed_certificate(self):
        with AdcServer(tls=True) as srv:
            self.assertTrue(srv.url.startswith("https://"))
            cfg = srv.create_sync_config("tls")
            r = srv.scim(cfg, "POST", "/Users", user("tls-user"))
            self.assertEqual(r.status, 201)
            self.assertTrue(r.body["meta"]["location"].startswith("https://"))
            # a client that does not trust the certificate is refused by TLS itself
            ctx = ssl.create_default_context()
            with self.assertRaises(ssl.SSLError):
                with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
                    with ctx.wrap_socket(s, server_hostname="localhost") as t:
                        t.do_handshake()
            # plain HTTP on the TLS port gets no answer
            with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
                s.sendall(b"GET /api/v1/health HTTP/1.0\r\n\r\n")
                s.settimeout(5)
                try:
                    data = s.recv(100)
                except (socket.timeout, ConnectionResetError):
                    data = b""
                self.assertFalse(data.startswith(b"HTTP/1.1 200"))

    def test_tls_bad_files(self):
        with AdcServer() as srv:
            missing = os.path.join(srv.dir, "missing.pem")
            r = subprocess.run([ADC_SERVER, "--db", srv.db, "serve", "--listen", "127.0.0.1:0",
                                "--tls-cert", missing, "--tls-key", missing],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn("cannot read TLS certificate", r.stderr)
            r = subprocess.run([ADC_SERVER, "--db", srv.db, "serve", "--tls-cert", missing],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn("go together", r.stderr)
            garbage = os.path.join(srv.dir, "garbage.pem")
            with open(garbage, "w") as f:
                f.write("not a certificate\n")
            r = subprocess.run([ADC_SERVER, "--db", srv.db, "serve", "--listen", "127.0.0.1:0",
                                "--tls-cert", garbage, "--tls-key", garbage],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn("cannot listen", r.stderr)


class Limits(ServerTestCase):
    sync_config = "limits"

    def test_body_limit_with_expect_continue(self):
        if not shutil.which("curl"):
            self.skipTest("curl not installed")
        path = os.path.join(self.srv.dir, "big.json")
        with open(path, "wb") as f:
            f.write(b'{"userName":"' + b"x" * (9 * 1024 * 1024) + b'"}')
        r = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST",
                            "-H", "Authorization: " + self.srv.sync_auth(self.cfg),
                            "-H", "Content-Type: application/scim+json", "--data-binary",
                            "@" + path, self.srv.url + "/scim/v2/Users"],
                           capture_output=True, text=True, timeout=60)
        body, code = r.stdout.rsplit("\n", 1)
        self.assertEqual(code, "413")
        self.assertIn("larger than", json.loads(body)["detail"])
        # the server still serves
        self.assertEqual(self.srv.request("GET", "/api/v1/health").status, 200)

    def test_json_depth_on_every_endpoint(self):
        deep = b'{"name":' + b'{"a":' * 40 + b"1" + b"}" * 40 + b"}"
        for method, path in (("POST", "/api/v1/sync-configs"), ("POST", "/scim/v2/Users"),
                             ("POST", "/scim/v2/Bulk")):
            r = self.srv.request(method, path, raw=deep, auth="Bearer " + self.srv.admin_token)
            self.assertEqual(r.status, 400, path)
            self.assertIn("deeper", r.body["detail"])

    def test_filter_length(self):
        f = 'userName eq "%s"' % ("a" * 5000)
        r = self.srv.scim(self.cfg, "GET", "/Users?filter=" + urllib.parse.quote(f))
        self.assertEqual(r.status, 400)
        self.assertEqual(r.body["scimType"], "invalidFilter")

    def test_garbage_does_not_hurt(self):
        samples = [b"\xff\xfe\x00garbage", b'{"userName":"\xc3\x28"}', b"null", b"[]", b"1e999",
                   b'{"userName":"a","name":{"givenName":' + b"[" * 31 + b"]" * 31 + b"}}",
                   b'{"userName": "nul\\u0000byte"}', b'"just a string"']
        for body in samples:
            for path in ("/scim/v2/Users", "/scim/v2/Bulk", "/api/v1/sync-configs",
                         "/scim/v2/Users/.search"):
                r = self.srv.request("POST", path, raw=body,
                                     auth="Bearer " + self.srv.admin_token)
                self.assertIn(r.status, (400, 201), (path, body, r.raw))
        # raw sockets: broken HTTP
        for junk in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                     b"POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n"
                     b"\r\nabc", b"\x16\x03\x01\x00\xa5\x01"):
            with socket.create_connection(("127.0.0.1", self.srv.port), timeout=10) as s:
                s.sendall(junk)
                s.settimeout(3)
                try:
                    s.recv(1000)
                except (socket.timeout, ConnectionResetError):
                    pass
        self.assertEqual(self.srv.request("GET", "/api/v1/health").status, 200)
        self.assertIsNone(self.srv.proc.poll())

    def test_wrong_credentials_are_slowed_down(self):
        bad = basic_auth(self.cfg["app_id"], "adcs_" + "x" * 43)
        t0 = time.time()
        for _ in range(3):
            self.assertEqual(self.srv.request("GET", "/scim/v2/Users", auth=bad).status, 401)
        slow = time.time() - t0
        self.assertGreaterEqual(slow, 0.2 + 0.4 + 0.8 - 0.05)  # doubling per failure
        # Upper bounds are generous: the machine may be busy; sleeps only get longer.
        t0 = time.time()
        self.assertEqual(self.srv.scim(self.cfg, "GET", "/Users?count=1").status, 200)
        self.assertLess(time.time() - t0, 1.0)  # the right secret is not slowed down
        t0 = time.time()
        self.srv.request("GET", "/scim/v2/Users", auth=bad)
        self.assertLess(time.time() - t0, 1.5)  # and reset the count (else: 1.6 s)

    def test_credentials_before_the_body(self):
        """A body the server would have to buffer is refused at its headers when the
        credentials are wrong or missing: a chunked upload that never ends and a 4 KiB + 1 body
        get their 401 without being read; a small body gets the same 401 (read first, it fits
        in the connection's buffer)."""
        bad = basic_auth(self.cfg["app_id"], "adcs_" + "y" * 43).encode()
        heads = {
            "chunked, no credentials": b"POST /scim/v2/Bulk HTTP/1.1\r\nHost: x\r\n"
                                       b"Content-Type: application/scim+json\r\n"
                                       b"Transfer-Encoding: chunked\r\n\r\n10\r\n{",
            "4097 bytes, wrong secret": b"POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\n"
                                        b"Authorization: " + bad + b"\r\nContent-Type: "
                                        b"application/scim+json\r\nContent-Length: 4097\r\n\r\n",
        }
        for what, head in heads.items():
            with self.subTest(what), \
                    socket.create_connection(("127.0.0.1", self.srv.port), timeout=10) as s:
                s.sendall(head)  # and nothing more: the answer must not wait for the body
                s.settimeout(10)
                answer = s.recv(65536)
                self.assertTrue(answer.startswith(b"HTTP/1.1 401"), (what, answer[:100]))
        r = self.srv.request("POST", "/scim/v2/Users", {"userName": "small"},
                             auth=basic_auth(self.cfg["app_id"], "adcs_" + "z" * 43))
        self.assertEqual(r.status, 401)
        self.assertEqual(self.srv.scim(self.cfg, "GET", "/Users?count=1").status, 200)

    def test_keep_alive_connection_serves_many_requests(self):
        """One connection, 200 requests one after the other (as an agent's connection is used),
        across the event loop and the workers: every answer arrives, in order."""
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=10)
        auth = self.srv.sync_auth(self.cfg)
        for i in range(200):
            if i % 2:
                c.request("GET", "/api/v1/health")
            else:
                c.request("GET", "/scim/v2/Users?count=1", headers={"Authorization": auth})
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 200, i)
        c.close()

    def test_no_secret_in_log(self):
        cfg = self.srv.create_sync_config("logged")
        self.srv.scim(cfg, "GET", "/Users?filter=" + urllib.parse.quote('userName eq "x"'))
        self.srv.request("GET", "/scim/v2/Users", auth=basic_auth(cfg["app_id"], "wrong-secret"))
        self.srv.admin("POST", "/api/v1/sync-configs/%s/secret" % cfg["app_id"])
        log = self.srv.read_log()
        self.assertIn("POST /api/v1/sync-configs", log)  # the log is on and has requests
        for secret in (cfg["secret"], self.srv.admin_token, "wrong-secret"):
            self.assertNotIn(secret, log)


class Shutdown(unittest.TestCase):
    def test_sigterm_exits_cleanly_and_data_persists(self):
        with AdcServer() as srv:
            cfg = srv.create_sync_config("persist")
            uid = srv.scim(cfg, "POST", "/Users", user("survivor")).body["id"]
            srv.stop()
            self.assertEqual(srv.returncode, 0)
            self.assertIn("stopping", srv.read_log())
            srv.serve()
            r = srv.scim(cfg, "GET", "/Users/" + uid)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body["userName"], "survivor")


if __name__ == "__main__":
    unittest.main()
