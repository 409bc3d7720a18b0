"""A whole synchronization set-up for `adc imp` tests and the demo: a real slapd with users, a
real adc-server with a sync configuration, and adc.cfg/adc.yaml in a temporary directory.

    with SyncSetup(ldif.generate(20), yaml_settings={"delete-disables": True}) as env:
        r = env.imp()                      # CompletedProcess of `adc imp`
        doc = env.imp_json("--dry-run")    # (CompletedProcess, parsed JSON)
        env.cloud()                        # {userName: SCIM resource} as the admin sees them
        env.slapd.ldapmodify(...); env.server.set_settings(env.cfg, {...})
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from harness import ldif as ldif_mod
from harness.lifecycle import Managed
from harness.programs import ADC, ADC_SERVER
from harness.server import SCIM_PROVIDER, SCIM_USER, AdcServer, user
from harness.slapd import Slapd

__all__ = ["SyncSetup", "imported", "SCIM_PROVIDER", "SCIM_USER", "user", "ldif_mod"]


class SyncSetup(Managed):
    """slapd + adc-server + adc configuration. Arguments:
    users           list of ldif.User loaded into slapd
    yaml_settings   the `settings:` of adc.yaml ({"delete-disables": True, ...})
    server_settings the sync configuration's server-side settings
    max_delete      adc.yaml's max-delete (int or "10%"), None = absent (default 500)
    slapd_kw        more arguments for Slapd (size_limit, ...)
    directory       an open directory to use instead of a new slapd (a harness.dirsrv.DirSrv
                    shared by a test module): `users` are then not loaded, and it is left open
    """

    def __init__(self, users, yaml_settings=None, server_settings=None, max_delete=None,
                 slapd_kw=None, page_size=100, server_tls=False, directory=None):
        self.server_tls = server_tls
        self.users = users
        self.yaml_settings = yaml_settings or {}
        self.server_settings = server_settings
        self.max_delete = max_delete
        self.slapd_kw = slapd_kw or {}
        self.page_size = page_size
        self.slapd = None
        self.directory = directory
        self.server = None
        self.dir = None

    def open(self):
        self.dir = tempfile.mkdtemp(prefix="adc-sync-")
        self.slapd = self.directory or Slapd(ldif=self.users, **self.slapd_kw).__enter__()
        self.server = AdcServer(tls=self.server_tls).__enter__()
        self.cfg = self.server.create_sync_config("corp", settings=self.server_settings)
        self.cfg_path = os.path.join(self.dir, "adc.cfg")
        self.yaml_path = os.path.join(self.dir, "adc.yaml")
        self.write_cfg()
        self.write_yaml()

    def close(self):
        for part in (self.server, None if self.directory else self.slapd):
            if part is not None:
                try:
                    part.__exit__(None, None, None)
                except Exception:
                    pass
        self.server = self.slapd = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # --- configuration -------------------------------------------------------------------
    def write_cfg(self, ca_file=True):
        with open(self.cfg_path, "w") as f:
            f.write(f"server = {self.server.url}\napp_id = {self.cfg['app_id']}\n"
                    f"secret = {self.cfg['secret']}\nyaml = adc.yaml\n")
            if self.server_tls and ca_file:
                f.write(f"ca_file = {self.server.cert}\n")
        os.chmod(self.cfg_path, 0o600)

    def write_yaml(self, settings=None, max_delete="keep"):
        """(Re)writes adc.yaml; settings replaces the `settings:` block when given."""
        if settings is not None:
            self.yaml_settings = settings
        if max_delete != "keep":
            self.max_delete = max_delete
        self.slapd.adc_yaml(self.yaml_path, page_size=self.page_size)
        with open(self.yaml_path) as f:
            text = f.read()
        lines = [f"  {k}: {'true' if v else 'false'}\n" for k, v in self.yaml_settings.items()]
        if self.max_delete is not None:
            lines.append(f"  max-delete: {self.max_delete}\n")
        block = "settings:\n" + "".join(lines) if lines else ""
        text = text.replace("settings:\n  dry-run: true\n", block, 1)
        with open(self.yaml_path, "w") as f:
            f.write(text)

    # --- running adc ---------------------------------------------------------------------
    def adc(self, *args, timeout=300, env=None):
        full = {k: v for k, v in os.environ.items() if k != "ADC_CFG"}
        # Tests do not wait for real outages: short backoff, few attempts.
        full.update({"ADC_HTTP_BACKOFF_MS": "100", "ADC_HTTP_ATTEMPTS": "3"})
        full.update(env or {})
        return subprocess.run([ADC, "-C", self.cfg_path, *args], capture_output=True,
                              text=True, timeout=timeout, env=full)

    def imp(self, *args, **kw):
        return self.adc("imp", *args, **kw)

    def imp_json(self, *args, **kw):
        r = self.imp("--json", *args, **kw)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            doc = None
        return r, doc

    # --- the cloud as the System Administrator sees it --------------------------------------
    def cloud_list(self):
        out, start = [], 1
        while True:
            r = self.server.scim("admin", "GET", f"/Users?startIndex={start}&count=1000")
            assert r.status == 200, r
            res = r.body.get("Resources", [])
            out += res
            if not res or start + len(res) > r.body["totalResults"]:
                return out
            start += len(res)

    def cloud(self):
        """{userName: resource}; fails on two users of one name."""
        out = {}
        for u in self.cloud_list():
            assert u["userName"] not in out, "duplicate userName " + u["userName"]
            out[u["userName"]] = u
        return out

    @staticmethod
    def provider(resource):
        return resource.get(SCIM_PROVIDER, {}).get("provider")

    def add_cloud_user(self, name, provider="local", external_id=None, active=True, **attrs):
        """A cloud user made by hand (admin): provider 'local' or another configuration."""
        body = user(name, external_id, active, **attrs)
        body["schemas"] = [SCIM_USER, SCIM_PROVIDER]
        body[SCIM_PROVIDER] = {"provider": provider}
        r = self.server.scim("admin", "POST", "/Users", body)
        assert r.status == 201, r
        return r.body

    # --- the directory ---------------------------------------------------------------------
    def rename(self, u, new_mail):
        self.slapd.ldapmodify(f"dn: {u.dn}\nchangetype: modify\nreplace: mail\nmail: {new_mail}\n")

    def add_users(self, users):
        self.slapd.ldapadd("".join(ldif_mod.entry(u, operational=False) for u in users))

    def delete_users(self, users):
        self.slapd.ldapdelete(*[u.dn for u in users])

    # --- the server's life -----------------------------------------------------------------
    def kill_server(self):
        self.server.proc.send_signal(signal.SIGKILL)
        self.server.proc.wait()
        self.server.log.close()
        self.server.proc = None

    def restart_server(self):
        """Starts adc-server again on the same database and port."""
        srv = srv_ = self.server
        srv.log = open(srv.log_path, "a")
        argv = [ADC_SERVER, "--db", srv.db, "-v", "serve", "--listen", f"127.0.0.1:{srv.port}"]
        srv.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=srv.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if srv_.request("GET", "/scim/v2/ServiceProviderConfig", timeout=2).status == 200:
                    return
            except OSError:
                pass
            if srv.proc.poll() is not None:
                raise RuntimeError("adc-server exited: " + srv.read_log())
            time.sleep(0.05)
        raise RuntimeError("adc-server did not restart")


def imported(test, count):
    """A SyncSetup with `count` plain users, all imported by a first `adc imp`; closed when the
    test ends. The starting point of the tests of what a later run changes."""
    env = SyncSetup(ldif_mod.generate(count, special=False)).__enter__()
    test.addCleanup(env.close)
    r = env.imp()
    test.assertEqual(r.returncode, 0, r.stderr)
    return env
