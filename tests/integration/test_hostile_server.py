"""Whatever answers at adc.cfg's server URL cannot crash adc: a small Python HTTP server stands
in for adc-server and answers one endpoint with garbage (not JSON, wrong JSON types, a body
cut short, a huge body, an answer that never comes) while the rest behave. `adc imp` must end
with a runtime failure (exit 1) or a partial one (exit 5) and a message, never a signal or a
sanitizer report; `adc run` must keep running through garbage polls and stop cleanly."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import http.server

from harness import ldif
from harness.agent import Agent, cfg_text, yaml_text
from harness.programs import ADC
from harness.slapd import Slapd

SPC = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
       "bulk": {"supported": True, "maxOperations": 100, "maxPayloadSize": 1048576},
       "filter": {"supported": True, "maxResults": 5000}}


def bulk_answer(body):
    """What adc-server answers to a Bulk request that succeeds entirely."""
    ops = []
    for i, op in enumerate(json.loads(body)["Operations"]):
        res = dict(op.get("data") or {}, id=f"id{i}")
        ops.append({"method": op["method"], "bulkId": op.get("bulkId"),
                    "status": "201" if op["method"] == "POST" else "200",
                    "location": f"/scim/v2/Users/id{i}", "response": res})
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"], "Operations": ops}


class Hostile:
    """An HTTP server on 127.0.0.1 answering like a minimal adc-server, except where
    `self.bad[path_prefix]` says what to send instead: bytes (sent as a 200 body), a
    (status, bytes) pair, "cut" (Content-Length larger than the body, then close), "hang"
    (headers never come) or "huge" (a 100 MB body)."""

    def __init__(self):
        self.bad = {}
        self.seen = []
        self.poll_bodies = []  # answers to the next polls, in order
        self.polls = 0
        self.hung = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, status, body, ctype="application/scim+json"):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                path = self.path
                outer.seen.append(f"{self.command} {path}")
                for prefix, what in outer.bad.items():
                    if path.startswith(prefix):
                        return self._bad(what)
                if path.startswith("/api/v1/agent/config"):
                    return self._send(200, b'{"app_id":"app","name":"x","settings":{}}')
                if path.startswith("/api/v1/agent/runs"):
                    return self._send(201 if self.command == "POST" else 200,
                                      b'{"id":"run1","run_id":"run1"}')
                if path.startswith("/scim/v2/ServiceProviderConfig"):
                    return self._send(200, json.dumps(SPC).encode())
                if path.startswith("/scim/v2/Bulk"):
                    return self._send(200, json.dumps(bulk_answer(body)).encode())
                if path.startswith("/scim/v2/Users") and self.command == "GET":
                    return self._send(200, b'{"totalResults":0,"Resources":[]}')
                if path.startswith("/scim/v2/Users") and self.command == "POST":
                    data = json.loads(body)
                    data["id"] = "id-" + data.get("externalId", "x")
                    return self._send(201, json.dumps(data).encode())
                if path.startswith("/api/v1/agent/connect"):
                    return self._send(201, b'{"agent_id":"a1","poll_wait":1}')
                if path.startswith("/api/v1/agent/commands"):
                    outer.polls += 1
                    if outer.poll_bodies:
                        return self._send(200, outer.poll_bodies.pop(0))
                    time.sleep(0.2)
                    return self._send(200, b'{"commands":[]}')
                return self._send(404, b'{"detail":"no"}')

            def _bad(self, what):
                if what == "hang":
                    outer.hung.set()
                    time.sleep(3600)
                    return
                if what == "cut":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/scim+json")
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    self.wfile.write(b'{"totalResults":5,"Resources":[{"id":"1"')
                    self.close_connection = True
                    return
                if what == "huge":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/scim+json")
                    size = 100 * 1024 * 1024
                    self.send_header("Content-Length", str(size))
                    self.end_headers()
                    chunk = b'{"totalResults":1,"Resources":[{"id":"1","userName":"' + \
                        b"x" * (1024 * 1024 - 52)
                    try:
                        self.wfile.write(chunk)
                        for _ in range(99):
                            self.wfile.write(b"x" * (1024 * 1024))
                    except OSError:
                        pass  # adc gave up reading: what it should do
                    self.close_connection = True
                    return
                status, body = what if isinstance(what, tuple) else (200, what)
                self._send(status, body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def crashed(r):
    """A signal, or a sanitizer or valgrind report."""
    return (r.returncode < 0 or r.returncode in (99, 134, 139)
            or "Sanitizer" in r.stderr or "runtime error" in r.stderr)


class Imp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.slapd = Slapd(ldif=ldif.generate(5, special=False)).__enter__()
        cls.dir = tempfile.mkdtemp(prefix="adc-hostile-")

    @classmethod
    def tearDownClass(cls):
        cls.slapd.__exit__(None, None, None)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.srv = Hostile()
        self.addCleanup(self.srv.close)
        self.yaml = os.path.join(self.dir, "adc.yaml")
        with open(self.yaml, "w") as f:
            f.write(yaml_text(self.slapd))
        os.chmod(self.yaml, 0o600)
        self.cfg = os.path.join(self.dir, "adc.cfg")
        with open(self.cfg, "w") as f:
            f.write(cfg_text(self.srv.url, "app", "s3cr3t-t0ken-value", self.yaml))
        os.chmod(self.cfg, 0o600)

    def imp(self, *args, timeout=120, env=None):
        full = {k: v for k, v in os.environ.items() if k != "ADC_CFG"}
        full.update({"ADC_HTTP_BACKOFF_MS": "50", "ADC_HTTP_ATTEMPTS": "2", "ADC_HTTP_STALL_S": "3"})
        full.update(env or {})
        return subprocess.run([ADC, "-C", self.cfg, "imp", *args], capture_output=True,
                              text=True, timeout=timeout, env=full)

    def assert_clean_failure(self, r, *codes):
        self.assertFalse(crashed(r), r.stderr)
        self.assertIn(r.returncode, codes or (1,), r.stderr)
        self.assertNotIn("s3cr3t-t0ken-value", r.stdout + r.stderr)

    def test_the_well_behaved_stand_in_works(self):
        r = self.imp()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(any(s.startswith("POST /scim/v2/Bulk") for s in self.srv.seen),
                        self.srv.seen)

    def test_settings_answer(self):
        for body in (b"<html>oops</html>", b"[1,2,3]", b'{"settings":"all"}',
                     b'{"settings":{"dry-run":"yes"}}', b'{"settings":{"dry-run":[]}}',
                     b'{"app_id":7,"name":{"x":1},"settings":{}}', b"\x00\xff\xfe",
                     b'{"settings":{' + b'"k":{' * 5000 + b"}" * 5000 + b"}}"):
            with self.subTest(body=body[:40]):
                self.srv.bad = {"/api/v1/agent/config": body}
                r = self.imp()
                if body.startswith(b'{"app_id":7'):
                    self.assertFalse(crashed(r), r.stderr)  # names of the wrong type: ignored
                    continue
                self.assert_clean_failure(r)

    def test_user_list_answer(self):
        for body in (b"not json", b'{"totalResults":"5","Resources":[]}',
                     b'{"totalResults":1,"Resources":{"id":"1"}}',
                     b'{"totalResults":2,"Resources":[{"id":1,"userName":"a"}]}',
                     b'{"totalResults":2,"Resources":[null, 5, "x"]}',
                     b'{"totalResults":2,"Resources":[{"id":"","userName":""},'
                     b'{"id":"x","userName":""}]}',
                     b'{"totalResults":-1}', b'{"totalResults":99999999999999999999}',
                     b'{"totalResults":9223372036854775807,"Resources":[]}',
                     b'{"totalResults":3,"Resources":[{"id":"1","userName":"u","emails":7,'
                     b'"name":"x","active":"no","meta":[],'
                     b'"urn:adconnect:scim:schemas:extension:sync:2.0:User":"p"}]}'):
            with self.subTest(body=body[:50]):
                self.srv.bad = {"/scim/v2/Users": body}
                r = self.imp()
                self.assertFalse(crashed(r), r.stderr)
                self.assertIn(r.returncode, (0, 1, 5), r.stderr)
                if r.returncode == 1:
                    self.assertRegex(r.stderr, r"scim/v2/Users|not JSON|ListResponse|User")

    def test_error_answers(self):
        for status, body in ((500, b"x" * 100000), (400, b'{"detail":5,"scimType":[1]}'),
                             (401, b"{}"), (404, b""), (409, b'{"detail":"' + b"d" * 50000 + b'"}'),
                             (302, b""), (100, b"")):
            with self.subTest(status=status):
                self.srv.bad = {"/api/v1/agent/config": (status, body)}
                r = self.imp(timeout=60)
                self.assert_clean_failure(r)
                self.assertLess(len(r.stderr), 20000)  # a huge detail is not echoed whole

    def test_bulk_answer(self):
        for body in (b"garbage", b'{"Operations":"x"}', b'{"Operations":[1,2,3]}',
                     b'{"Operations":[{"status":"201","bulkId":5,"location":7}]}',
                     b'{"Operations":[{"status":{},"response":"x"}]}', b"{}"):
            with self.subTest(body=body[:40]):
                self.srv.bad = {"/scim/v2/Bulk": body}
                r = self.imp()
                # An answer without our bulkIds is matched by position (servers that do not
                # echo them): a 201 there counts, the operations not mentioned are sent again.
                self.assert_clean_failure(r, *((0, 1, 5) if b'"201"' in body else (1, 5)))

    def test_spc_answer(self):
        for body in (b"x", b'{"bulk":"yes"}', b'{"bulk":{"supported":true,"maxOperations":-5,'
                     b'"maxPayloadSize":1e400}}', b'{"bulk":{"supported":true,"maxOperations":'
                     b'9223372036854775807,"maxPayloadSize":9223372036854775807}}',
                     b'{"bulk":{"supported":true,"maxOperations":1000000000,'
                     b'"maxPayloadSize":1000000000000}}'):
            with self.subTest(body=body[:40]):
                self.srv.bad = {"/scim/v2/ServiceProviderConfig": body}
                r = self.imp()
                self.assertFalse(crashed(r), r.stderr)
                if body == b"x" or b"1e400" in body:  # 1e400 overflows a double: jansson refuses
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertIn("not JSON", r.stderr)
                    continue
                # limits that make no sense mean no Bulk, huge ones are capped: the run works
                self.assertEqual(r.returncode, 0, r.stderr)

    def test_answer_cut_short(self):
        self.srv.bad = {"/scim/v2/Users": "cut"}
        r = self.imp()
        self.assert_clean_failure(r)

    def test_huge_answer(self):
        self.srv.bad = {"/scim/v2/Users": "huge"}
        r = self.imp()
        self.assert_clean_failure(r)
        self.assertIn("too large", r.stderr)

    def test_hung_answer(self):
        # A server that accepts the request and never answers: adc gives up after the stall
        # time (60 s by default, 2 s here), tries again, then fails with a message.
        self.srv.bad = {"/scim/v2/Users": "hang"}
        start = time.monotonic()
        r = self.imp(env={"ADC_HTTP_STALL_S": "2"}, timeout=100)
        self.assert_clean_failure(r)
        self.assertLess(time.monotonic() - start, 60)
        self.assertRegex(r.stderr, r"too slow|timed out")


class Run(unittest.TestCase):
    """adc run against garbage polls: it keeps polling, and SIGTERM still stops it cleanly."""

    def test_garbage_polls_and_commands(self):
        with Slapd(ldif=ldif.generate(3, special=False)) as s:
            srv = Hostile()
            self.addCleanup(srv.close)
            bodies = [b"garbage", b"[]", b'{"commands":"x"}', b'{"commands":[1,null,"a",[]]}',
                      b'{"commands":[{"type":5,"id":[]}]}',
                      b'{"commands":[{"type":"check_password","id":"c1"}]}',
                      b'{"commands":[{"type":"check_password","id":"c2","username":7,'
                      b'"password":{}}]}',
                      b'{"commands":[{"type":"sync","id":"c3","run_id":{"a":1},"dry_run":"x"}]}',
                      b'{"commands":[{"type":"unknown","id":"' + b"i" * 100000 + b'"}]}',
                      b'{"commands":[' + b"[" * 10000 + b"]" * 10000 + b"]}"]
            srv.poll_bodies = list(bodies)
            with Agent(cfg_text(srv.url, "app", "s3cr3t-t0ken-value"), yaml_text(s)) as a:
                deadline = time.monotonic() + 60
                while srv.polls < len(bodies) + 3 and time.monotonic() < deadline:
                    self.assertIsNone(a.proc.poll(), a.log())
                    time.sleep(0.2)
                self.assertGreaterEqual(srv.polls, len(bodies) + 3, a.log())
                self.assertIsNone(a.proc.poll(), a.log())
                a.term()
                self.assertEqual(a.wait(), 0, a.log())
                log = a.log()
                self.assertNotIn("Sanitizer", log)
                self.assertNotIn("runtime error", log)
                self.assertNotIn("s3cr3t-t0ken-value", log)


if __name__ == "__main__":
    unittest.main()
