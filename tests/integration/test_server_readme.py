"""The README's adc-server walkthrough works as written: the shell block after the
"readme-test: adc-server walkthrough" marker runs with bash against the built adc-server."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness.programs import ADC_SERVER

ROOT = os.environ.get("ADC_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))


def walkthrough():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    m = re.search(r"<!-- readme-test: adc-server walkthrough.*?-->\n```sh\n(.*?)```", text, re.S)
    assert m, "the README lost its adc-server walkthrough"
    return m.group(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Readme(unittest.TestCase):
    @unittest.skipUnless(shutil.which("curl"), "curl not installed")
    def test_walkthrough(self):
        script = walkthrough()
        d = tempfile.mkdtemp(prefix="adc-readme-")
        try:
            env = dict(os.environ, PORT=str(free_port()),
                       PATH=os.path.dirname(os.path.abspath(ADC_SERVER)) + ":" +
                       os.environ["PATH"])
            # -e: every step must succeed; the trap kills the server if a step fails
            r = subprocess.run(["bash", "-euo", "pipefail", "-c",
                                "trap 'kill $SERVER_PID 2>/dev/null || true' EXIT\n" + script],
                               cwd=d, env=env, capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with open(os.path.join(d, "config.json")) as f:
                app_id = re.search(r'"app_id":"([^"]+)"', f.read()).group(1)
            lines = r.stdout.splitlines()
            self.assertEqual(lines[0], app_id)           # provider of the new user
            self.assertEqual(lines[1], "1")              # found ignoring case
            self.assertEqual(lines[2], "False")          # disabled by PATCH
            self.assertIn("no-delete=true", lines[3])    # the server setting refused the delete
            # the setting given, and the default every new configuration starts with
            # (docs/product.md section 11: a takeover by name needs an administrator's decision)
            self.assertIn('"settings":{"no-delete":true,"no-update-provider-mismatch":true}',
                          r.stdout)
            self.assertIn('"action":"user.patch"', r.stdout)
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
