"""A real adc-server on a temporary SQLite database and a free port, for tests. With
ADC_TEST_DB=postgresql the database is a fresh one in a PostgreSQL cluster shared by the test
process (harness/postgres.py); srv.db is then its URI, and srv.engine says which.

    with AdcServer() as srv:
        cfg = srv.create_sync_config("corp", settings={"no-delete": True})
        status, body = srv.scim(cfg, "POST", "/Users", {"userName": "alice", ...})
        status, body = srv.admin("GET", "/api/v1/sync-configs")

Standard library only. The server binary is $ADC_SERVER_BIN (set by meson test).
"""
import base64
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from harness import postgres
from harness.programs import ADC_SERVER

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_PROVIDER = "urn:adconnect:scim:schemas:extension:sync:2.0:User"
SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SCIM_GROUP_PROVIDER = "urn:adconnect:scim:schemas:extension:sync:2.0:Group"


class Response:
    """status, headers (case-insensitive lookup via .header()), body (parsed JSON or None),
    raw (bytes)."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.body = json.loads(raw) if raw else None
        except ValueError:
            self.body = None

    def header(self, name):
        return self.headers.get(name) if self.headers else None

    def __iter__(self):  # allows: status, body = srv.request(...)
        return iter((self.status, self.body))

    def __repr__(self):
        return "<Response %s %r>" % (self.status, self.raw[:300])


def basic_auth(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


class AdcServer:
    def __init__(self, tls=False, args=(), env=None, db=None, admin_token=None, engine=None):
        """db, admin_token: a database to serve and its token (another instance's: two
        instances on one PostgreSQL database); None creates a new database. engine:
        "postgresql" or "sqlite" for a new one (default: $ADC_TEST_DB, else sqlite)."""
        self.tls = tls
        self.shared_db = db
        self.engine = ("postgresql" if (db or "").startswith("postgres") or
                       (not db and (engine == "postgresql" or
                                    (engine is None and postgres.wanted()))) else "sqlite")
        self.args = list(args)
        self.env = env
        self.dir = None
        self.proc = None
        self.port = None
        self.admin_token = admin_token
        self.ssl_context = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self):
        """Creates the database (capturing the admin token) and serves it."""
        self.dir = tempfile.mkdtemp(prefix="adc-server-test-")
        if self.shared_db:
            self.db = self.shared_db
            if self.tls:
                self._make_cert()
            return self.serve()
        if self.engine == "postgresql":
            self.db = postgres.Postgres.shared().new_database()
        else:
            self.db = os.path.join(self.dir, "adc.sqlite")
        r = subprocess.run([ADC_SERVER, "--db", self.db, "init"], capture_output=True, text=True,
                           timeout=30)
        if r.returncode != 0:
            raise RuntimeError("adc-server init failed: %s" % r.stderr)
        self.admin_token = r.stdout.strip()
        self.init_stderr = r.stderr
        if self.tls:
            self._make_cert()
        return self.serve()

    def serve(self):
        """Starts `adc-server serve` on the database (again, after stop())."""
        self.log_path = os.path.join(self.dir, "server.log")
        # serve() again after a kill keeps the port when listen_port is set (an instance behind
        # a load balancer comes back where the balancer looks for it).
        listen = "127.0.0.1:%d" % (getattr(self, "listen_port", None) or 0)
        argv = [ADC_SERVER, "--db", self.db, "-v", "serve", "--listen", listen]
        if self.tls:
            argv += ["--tls-cert", self.cert, "--tls-key", self.key]
        argv += self.args
        full_env = dict(os.environ)
        if self.env:
            full_env.update(self.env)
        self.log = open(self.log_path, "a")
        start_offset = self.log.tell()
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.log, env=full_env)
        deadline = time.time() + 20
        while time.time() < deadline:
            with open(self.log_path) as f:
                f.seek(start_offset)
                for line in f:
                    if "listening on" in line:
                        self.port = int(line.rsplit(":", 1)[1])
                        return self
            if self.proc.poll() is not None:
                raise RuntimeError("adc-server exited: %s" % self.read_log())
            time.sleep(0.02)
        raise RuntimeError("adc-server did not start: %s" % self.read_log())

    def db_bytes(self):
        """Everything the database holds, as bytes: the SQLite file, or a pg_dump of the
        PostgreSQL database (for "this secret is never stored" checks)."""
        if self.engine == "postgresql":
            return postgres.Postgres.shared().dump(self.db)
        data = b""
        for path in (self.db, self.db + "-wal"):
            if os.path.exists(path):
                with open(path, "rb") as f:
                    data += f.read()
        return data

    def sql(self, query, params=()):
        """Runs a query on the database behind the server's back; returns the rows as tuples
        (of strings on PostgreSQL). params fill `?` placeholders (quoted on PostgreSQL)."""
        if self.engine == "postgresql":
            for p in params:
                query = query.replace("?", "'%s'" % str(p).replace("'", "''"), 1)
            rows = postgres.Postgres.shared().query(self.db.rsplit("/", 1)[1], query)
            return [tuple(r.split("|")) for r in rows]
        import sqlite3
        con = sqlite3.connect(self.db)
        try:
            return con.execute(query, params).fetchall()
        finally:
            con.close()

    def restart(self):
        self.stop()
        return self.serve()

    def _make_cert(self):
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", self.key,
                        "-out", self.cert], check=True, capture_output=True, timeout=60)
        self.ssl_context = ssl.create_default_context(cafile=self.cert)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.returncode = self.proc.returncode if self.proc else None
        if self.proc:
            self.log.close()
        self.proc = None

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

    def sanitizer_report(self):
        """What AddressSanitizer/UBSan said in the server's log (empty when nothing)."""
        log = self.read_log()
        return log if any(m in log for m in self.SANITIZER_MARKS) else ""

    def cleanup(self):
        """Stops the server and removes its files; raises when a sanitizer complained, so that
        memory errors fail the test that provoked them."""
        self.stop()
        report = self.sanitizer_report() if self.dir else ""
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        if report:
            raise AssertionError("adc-server sanitizer report:\n" + report[-6000:])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def read_log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    # -- HTTP -----------------------------------------------------------------------------
    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    def request(self, method, path, body=None, auth=None, headers=None, raw=None, timeout=60):
        """One HTTP request. auth: a full Authorization value (see basic_auth), or None.
        body: JSON-encoded unless raw (bytes) is given. Never raises on HTTP errors."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/scim+json" if path.startswith("/scim")
                           else "application/json")
        if auth:
            req.add_header("Authorization", auth)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ssl_context) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read())

    def admin(self, method, path, body=None, **kw):
        return self.request(method, path, body, auth="Bearer " + self.admin_token, **kw)

    def create_sync_config(self, name="corp", settings=None, sync_interval_minutes=None):
        """Creates a sync configuration; returns the answer (app_id, secret, ...)."""
        body = {"name": name}
        if settings is not None:
            body["settings"] = settings
        if sync_interval_minutes is not None:
            body["sync_interval_minutes"] = sync_interval_minutes
        r = self.admin("POST", "/api/v1/sync-configs", body)
        if r.status != 201:
            raise RuntimeError("cannot create sync config: %r" % (r,))
        return r.body

    def set_settings(self, cfg, settings):
        r = self.admin("PATCH", "/api/v1/sync-configs/" + cfg["app_id"], {"settings": settings})
        if r.status != 200:
            raise RuntimeError("cannot change settings: %r" % (r,))
        return r.body

    @staticmethod
    def sync_auth(cfg):
        return basic_auth(cfg["app_id"], cfg["secret"])

    def scim(self, who, method, path, body=None, **kw):
        """A SCIM request under /scim/v2. who: a sync config (dict from create_sync_config)
        or "admin"."""
        auth = ("Bearer " + self.admin_token) if who == "admin" else self.sync_auth(who)
        return self.request(method, "/scim/v2" + path, body, auth=auth, **kw)


class ServerTestCase(unittest.TestCase):
    """One adc-server (cls.srv) for all tests of a class: starting one per test would cost a
    second each. With sync_config set, cls.cfg is a sync configuration of that name."""
    sync_config = None

    @classmethod
    def setUpClass(cls):
        cls.srv = AdcServer().start()
        cls.addClassCleanup(cls.srv.cleanup)
        if cls.sync_config:
            cls.cfg = cls.srv.create_sync_config(cls.sync_config)


def user(user_name, external_id=None, active=True, **attrs):
    """A SCIM User resource for requests."""
    u = {"schemas": [SCIM_USER], "userName": user_name, "active": active}
    if external_id is not None:
        u["externalId"] = external_id
    u.update(attrs)
    return u


def group(display_name, external_id=None, members=None, **attrs):
    """A SCIM Group resource for requests; members: ids, or dicts as sent."""
    g = {"schemas": [SCIM_GROUP], "displayName": display_name}
    if external_id is not None:
        g["externalId"] = external_id
    if members is not None:
        g["members"] = [m if isinstance(m, dict) else {"value": m} for m in members]
    g.update(attrs)
    return g


def patch(*ops):
    """A PatchOp body from (op, path, value) tuples; path or value may be None."""
    out = []
    for op, path, value in ops:
        o = {"op": op}
        if path is not None:
            o["path"] = path
        if value is not None:
            o["value"] = value
        out.append(o)
    return {"schemas": [SCIM_PATCH], "Operations": out}
