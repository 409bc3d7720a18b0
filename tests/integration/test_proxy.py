"""adc reaches adc-server the same way for every command (src/adc/cloud/transport.c): through the
proxy the standard environment variables name when adc.cfg names none, for `adc imp` and for
`adc run` alike (its connect, long poll, password-check answers and the syncs it runs), and
directly for a host no_proxy lists."""

import os
import subprocess
import time
import unittest

from harness import ldif
from harness.programs import ADC
from harness.agent import Agent, ForwardProxy, cfg_text, yaml_text
from harness.sync import SyncSetup

N_USERS = 12
# The environment a user behind a company proxy has; every other proxy variable is cleared so
# that the machine's own settings cannot change what is tested.
PROXY_VARS = ("http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy",
              "NO_PROXY")


def proxy_env(url, no_proxy=""):
    env = {k: "" for k in PROXY_VARS}
    env["http_proxy"] = url
    env["no_proxy"] = no_proxy
    return env


class ThroughEnvironmentProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = SyncSetup(ldif.generate(N_USERS, special=False)).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def setUp(self):
        self.proxy = ForwardProxy()
        self.addCleanup(self.proxy.close)

    def paths(self):
        return [p for _, p in self.proxy.requests]

    def test_imp_goes_through_http_proxy(self):
        r = self.env.imp(env=proxy_env(self.proxy.url))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(self.env.cloud()), N_USERS)
        paths = self.paths()
        # Settings, run record, listing and writes: every request of the run.
        for want in ("/api/v1/agent/config", "/api/v1/agent/runs", "/scim/v2/Users"):
            self.assertIn(want, paths)
        self.assertTrue(any(p.startswith("/api/v1/agent/runs/") for p in paths), paths)

    def test_no_proxy_goes_direct(self):
        r = self.env.imp(env=proxy_env(self.proxy.url, no_proxy="localhost, 127.0.0.1"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.paths(), [])

    def test_adc_cfg_proxy_wins_over_the_environment(self):
        # The environment names a proxy that does not exist: adc.cfg's is used.
        cfg = cfg_text(self.env.server.url, self.env.cfg["app_id"], self.env.cfg["secret"],
                       yaml_path=self.env.yaml_path, extra=f"proxy = {self.proxy.url}\n")
        path = os.path.join(self.env.dir, "adc-proxy.cfg")
        with open(path, "w") as f:
            f.write(cfg)
        os.chmod(path, 0o600)
        full = {k: v for k, v in os.environ.items() if k != "ADC_CFG"}
        full.update(proxy_env("http://127.0.0.1:9"))
        r = subprocess.run([ADC, "-C", path, "check"], capture_output=True, text=True,
                           timeout=120, env=full)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("/api/v1/agent/config", self.paths())

    def test_run_goes_through_http_proxy(self):
        env, srv = self.env, self.env.server
        a = Agent(cfg_text(srv.url, env.cfg["app_id"], env.cfg["secret"]),
                  yaml_text(env.slapd), env=proxy_env(self.proxy.url))
        self.addCleanup(a.close)
        a.start()
        a.wait_notify("READY=1", timeout=30)
        # A sync commanded by the server: its SCIM requests and run reports go the same way.
        r = srv.admin("POST", f"/api/v1/sync-configs/{env.cfg['app_id']}/sync", {"dry_run": True})
        self.assertEqual(r.status, 202, r)
        run_id = r.body["run_id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run = srv.admin("GET", "/api/v1/runs/" + run_id).body
            if run["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.2)
        self.assertEqual(run["status"], "succeeded", run)
        # A sign-in through the agent: its answer goes through the proxy too.
        name = "user000001@example.org"
        if name not in env.cloud():
            self.assertEqual(env.imp().returncode, 0)
        r = srv.request("POST", "/api/v1/login", {"username": name, "password": "pw-user000001"},
                        timeout=30)
        self.assertEqual(r.status, 200, r)
        paths = self.paths()
        for want in ("/api/v1/agent/connect", "/api/v1/agent/commands", "/api/v1/agent/config",
                     "/scim/v2/Users", "/api/v1/agent/runs/" + run_id):
            self.assertIn(want, paths)
        self.assertTrue(any(p.endswith("/result") for p in paths), paths)


if __name__ == "__main__":
    unittest.main()
