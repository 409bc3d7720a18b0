"""The web console in a real browser: tests/browser/console.test.mjs (playwright-core driving
Debian's chromium, headless) against a real adc-server, a real `adc run` agent and a real slapd:
sign in, wrong password, add a configuration and read its secret once, settings enforced by the
server, Sync now watched to the end, users, audit log, rotate, delete, sign out, expired session.
Screenshots of the main pages go to docs/screenshots/."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from harness import agent, ldif, programs
from harness.slapd import Slapd
from test_console import ADMIN, PASSWORD, Server

SOURCE_ROOT = os.environ.get("ADC_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))
BROWSER_DIR = os.path.join(SOURCE_ROOT, "tests", "browser")
# Screenshots of the main pages: into the build tree on every run (a test run must not dirty
# the source tree: other developers rebase with it), and into the committed docs/screenshots
# when asked: ADC_UPDATE_SCREENSHOTS=1 meson test -C build console-browser
BUILD_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(programs.ADC_SERVER))))
SCREENSHOTS = (os.path.join(SOURCE_ROOT, "docs", "screenshots")
               if os.environ.get("ADC_UPDATE_SCREENSHOTS") == "1"
               else os.path.join(BUILD_ROOT, "tests", "browser-screenshots"))


def ensure_playwright():
    """npm ci of the committed package-lock.json, unless that exact version is installed."""
    with open(os.path.join(BROWSER_DIR, "package-lock.json")) as f:
        want = json.load(f)["packages"]["node_modules/playwright-core"]["version"]
    have = None
    try:
        with open(os.path.join(BROWSER_DIR, "node_modules", "playwright-core",
                               "package.json")) as f:
            have = json.load(f)["version"]
    except OSError:
        pass
    if have != want:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR, check=True,
                       timeout=600)


class ConsoleBrowser(unittest.TestCase):
    USERS = 25

    def test_administrator_flow_in_chromium(self):
        ensure_playwright()
        started = time.time() - 1
        users = ldif.generate(self.USERS, special=False)
        # The archive the install steps link to (serve --downloads, test_downloads.py).
        downloads = tempfile.mkdtemp(prefix="adc-console-downloads-")
        self.addCleanup(shutil.rmtree, downloads, True)
        archive = b"an ad-connect archive\n" * 1000
        with open(os.path.join(downloads, "ad-connect-0.1.0-linux-x86_64.tar.gz"), "wb") as f:
            f.write(archive)
        with Slapd(ldif=users) as directory, Server(args=["--downloads", downloads]) as srv, \
                Server(args=["--session-idle", "2"]) as expiry:
            agent_dir = tempfile.mkdtemp(prefix="adc-console-agent-")
            try:
                yaml = os.path.join(agent_dir, "adc.yaml")
                with open(yaml, "w") as f:
                    f.write(agent.yaml_text(directory))
                os.chmod(yaml, 0o600)
                env = dict(os.environ,
                           ADC_CONSOLE_URL=srv.url, ADC_CONSOLE_EXPIRY_URL=expiry.url,
                           ADC_CONSOLE_ADMIN=ADMIN, ADC_CONSOLE_PASSWORD=PASSWORD,
                           ADC_BIN=programs.ADC, ADC_AGENT_DIR=agent_dir,
                           ADC_EXPECTED_USERS=str(self.USERS),
                           ADC_CONSOLE_DOWNLOAD="ad-connect-0.1.0-linux-x86_64.tar.gz",
                           ADC_CONSOLE_DOWNLOAD_SHA256=hashlib.sha256(archive).hexdigest(),
                           ADC_SCREENSHOT_DIR=SCREENSHOTS)
                r = subprocess.run(["node", "console.test.mjs"], cwd=BROWSER_DIR, env=env,
                                   capture_output=True, text=True, timeout=600)
                sys.stdout.write(r.stdout)
                if r.returncode != 0:
                    log = os.path.join(agent_dir, "adc-run.log")
                    if os.path.exists(log):
                        with open(log) as f:
                            sys.stdout.write(f"--- adc run\n{f.read()[-4000:]}\n")
                    sys.stdout.write(f"--- adc-server\n{srv.read_log()[-6000:]}\n")
                self.assertEqual(r.returncode, 0, r.stderr[-4000:])
                self.assertIn("# all ", r.stdout)
                for name in ["sign-in", "add-synchronization", "synchronizations",
                             "synchronization", "users", "groups", "audit-log"]:
                    shot = os.path.join(SCREENSHOTS, name + ".png")
                    with open(shot, "rb") as f:
                        self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", shot)
                    self.assertGreater(os.path.getmtime(shot), started)
                # What the browser did is what the server holds: the synced users stay (the
                # configuration was deleted, so they belong to no synchronization now).
                r = srv.admin("GET", "/scim/v2/Users?count=1")
                self.assertEqual(r.body["totalResults"], self.USERS)
            finally:
                shutil.rmtree(agent_dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
