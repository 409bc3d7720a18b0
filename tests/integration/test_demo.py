"""The README's first command, scripts/demo.sh, keeps working: scripts/demo.py (what demo.sh runs
after the build) end to end against the programs under test, and its own checks failing it
when a step does not do what it says. It leaves nothing behind: its temporary directories and
its `adc run` are gone when it exits, whatever happened."""
import os
import re
import subprocess
import sys
import time
import unittest

ROOT = os.environ.get("ADC_SOURCE_ROOT",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEMO = os.path.join(ROOT, "scripts", "demo.py")


def run_demo(*args, env=None):
    full = dict(os.environ)
    full.update(env or {})
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, DEMO, *args], capture_output=True, text=True, env=full,
                       timeout=170)
    return r, time.monotonic() - t0


class Demo(unittest.TestCase):
    def assert_left_nothing(self, out):
        dirs = re.findall(r"\((/tmp/adc-[^)]+)\)", out)
        self.assertEqual(len(dirs), 2, out)  # slapd's and adc-server's (adc.cfg, state_dir)
        for d in dirs:
            self.assertFalse(os.path.exists(d), d)
        for pid in re.findall(r"\(pid (\d+),", out):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            self.assertNotIn(b"\0run", cmd, f"adc run (pid {pid}) still runs")

    def test_demo_end_to_end(self):
        r, took = run_demo()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout
        # adc imp: the preview, the first sync, the sync after the directory changed.
        self.assertIn("would create 8: alice, bob, carol, dave, erin, frank, grace, heidi", out)
        self.assertIn("Summary: created 8, updated 0, deleted 0, disabled 0", out)
        self.assertIn("Summary: created 1, updated 1, deleted 0, disabled 2", out)
        # adc run: the startup run record, the watcher, and each live change with its time.
        self.assertRegex(out, r"its run record \(GET /api/v1/runs/[0-9a-f]{8}\.\.\.\), "
                              r"[0-9.]+ s after the start: trigger startup, succeeded")
        self.assertIn("live changes: syncrepl (RFC 4533, slapd's syncprov), streaming", out)
        live = re.findall(r"^    (ldap\w+) .* -> ([0-9.]+) s: (.*)$", out, re.M)
        self.assertEqual([(tool, result) for tool, _, result in live], [
            ("ldapadd", "judy@example.org created"),
            ("ldapmodify", "carol.nguyen-smith@example.org, the same cloud user"),
            ("ldapmodify", "erin@example.org disabled"),
            ("ldapmodify", "dave@example.org active again"),
            ("ldapdelete", "grace@example.org disabled (delete-disables)")], out)
        for _, seconds, _ in live:
            self.assertLess(float(seconds), 15.0)
        self.assertIn("live status: syncrepl, streaming, 5 changes applied", out)
        self.assertIn("still one run of the agent, the startup sync", out)
        self.assertRegex(out, r"Demo finished in \d+ s: every step did what it says")
        self.assertEqual(r.stderr, "")
        self.assert_left_nothing(out)
        print(f"\ndemo: {took:.1f} s", file=sys.stderr)

    def test_demo_fails_when_a_step_fails(self):
        # An adc that always fails: the first step says so, the demo exits 1 and cleans up.
        r, _ = run_demo(env={"ADC_BIN": "/bin/false"})
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("demo: FAILED: adc imp --dry-run exited with status 1", r.stderr)
        self.assertNotIn("Demo finished", r.stdout)
        self.assert_left_nothing(r.stdout)


if __name__ == "__main__":
    unittest.main()
