"""adc auth against a real slapd: the password check of SPEC.md section 5. Exactly one entry
found by the username filter template (the name escaped per RFC 4515, so no injection), a bind
as that entry on its own connection, empty passwords and disabled accounts denied, and a
directory that is down or hung reported as unavailable - never as accepted."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import ldif
from harness.programs import ADC
from harness.slapd import Slapd

ADC = os.path.abspath(ADC)
AUTH_THREADS = os.environ.get("ADC_AUTH_THREADS_BIN",
                              os.path.join(os.path.dirname(ADC), "..", "..", "tests",
                                           "integration", "auth-threads"))


def auth(yaml_path, name, password_line, timeout=60):
    env = {k: v for k, v in os.environ.items() if k != "ADC_CFG"}
    return subprocess.run([ADC, "-c", yaml_path, "auth", name], input=password_line,
                          capture_output=True, text=True, timeout=timeout, env=env)


class PasswordCheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.slapd = Slapd(ldif=ldif.generate(200), tls=True, log_level="stats")
        cls.slapd.__enter__()
        cls.tmp = tempfile.mkdtemp(prefix="adc-ldap-auth-")
        cls.yaml = cls.slapd.adc_yaml(os.path.join(cls.tmp, "adc.yaml"))

    @classmethod
    def tearDownClass(cls):
        cls.slapd.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def accepted(self, r):
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "accepted\n")

    def denied(self, r, why):
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, "denied\n")
        self.assertIn("denied: ", r.stderr)
        self.assertIn(why, r.stderr)

    def test_right_password(self):
        self.accepted(auth(self.yaml, "user000005@example.org", "pw-user000005\n"))
        self.accepted(auth(self.yaml, "USER000005@example.org", "pw-user000005"))  # no newline
        self.accepted(auth(self.yaml, "user000006@example.org", "pw-user000006\r\n"))

    def test_wrong_password(self):
        r = auth(self.yaml, "user000005@example.org", "pw-user000006\n")
        self.denied(r, "Invalid credentials (49)")
        self.assertNotIn("pw-user000006", r.stderr + r.stdout)

    def test_empty_password_never_reaches_the_directory(self):
        before = self.slapd.log().count('BIND dn="uid=user000007')
        for line in ("\n", "", "\r\n"):
            self.denied(auth(self.yaml, "user000007@example.org", line), "empty password")
        self.assertEqual(self.slapd.log().count('BIND dn="uid=user000007'), before)

    def test_filter_injection_is_denied(self):
        # Escaped per RFC 4515 these are literal names nobody has; unescaped, each would match
        # every user (and the first one's password would then be tried).
        for name in ("*", "*)(mail=*", "user000005@example.org)(|(mail=*",
                     "*)(|(objectClass=*", "user000005*", "\\2a", "(mail=*)"):
            with self.subTest(name=name):
                self.denied(auth(self.yaml, name, "pw-user000005\n"), "no directory entry matches")
        log = self.slapd.log()
        self.assertIn('filter="(&(objectClass=inetOrgPerson)(mail=\\2A))"', log)
        self.assertIn('(mail=\\2A\\29\\28mail=\\2A)', log)

    def test_unknown_disabled_ambiguous(self):
        self.denied(auth(self.yaml, "nobody@example.org", "x\n"), "no directory entry matches")
        self.denied(auth(self.yaml, "locked@example.org", "pw-locked\n"), "disabled or locked")
        # Two entries whose mail differs only in case: the filter finds both.
        self.denied(auth(self.yaml, "dup.user@example.org", "pw-dup1\n"), "several")

    def test_escaped_dn_and_non_ascii(self):
        self.accepted(auth(self.yaml, "john.smith@example.org", "pw-jsmith\n"))  # cn=Smith\2C John
        self.accepted(auth(self.yaml, "hash.sign@example.org", "pw-hashsign\n"))
        y = self.slapd.adc_yaml(os.path.join(self.tmp, "uid.yaml"), username_attribute="uid",
                                username_filter_template="(&(objectClass=inetOrgPerson)(uid=%s))")
        self.accepted(auth(y, "jürgen", "pässwörd-ü\n"))
        self.denied(auth(y, "jürgen", "passwort\n"), "Invalid credentials")

    def test_over_tls(self):
        s = self.slapd
        y = s.adc_yaml(os.path.join(self.tmp, "tls.yaml"), addr=s.ldaps_url,
                       extra_ldap=f"    ca_file: {s.ca_file}\n")
        self.accepted(auth(y, "zoe@example.org", "pw-zoe\n"))
        self.denied(auth(y, "zoe@example.org", "pw-wrong\n"), "Invalid credentials")

    def test_service_account_refused_is_unavailable_not_denied(self):
        y = self.slapd.adc_yaml(os.path.join(self.tmp, "badbind.yaml"), bind_password="nope")
        r = auth(y, "user000005@example.org", "pw-user000005\n")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "unavailable\n")
        self.assertIn(self.slapd.service_dn, r.stderr)
        self.assertIn("Invalid credentials (49)", r.stderr)

    def test_only_the_first_line_is_the_password(self):
        self.accepted(auth(self.yaml, "user000008@example.org", "pw-user000008\nsecond line\n"))
        r = auth(self.yaml, "user000008@example.org", "x" * 5000 + "\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("at most 1024 bytes", r.stderr)

    def test_usage(self):
        env = {k: v for k, v in os.environ.items() if k != "ADC_CFG"}
        r = subprocess.run([ADC, "-c", self.yaml, "auth"], capture_output=True, text=True,
                           env=env, input="")
        self.assertEqual(r.returncode, 2)
        self.assertIn("USERNAME", r.stderr)


class DirectoryDown(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="adc-ldap-auth-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.slapd = Slapd(ldif=ldif.generate(5))
        self.slapd.__enter__()
        self.addCleanup(self.slapd.__exit__, None, None, None)
        self.yaml = self.slapd.adc_yaml(os.path.join(self.tmp, "adc.yaml"), auth_timeout=2)

    def unavailable(self, r):
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, "unavailable\n")
        self.assertIn("the directory is unavailable", r.stderr)

    def test_down(self):
        self.slapd.kill()
        r = auth(self.yaml, "user000001@example.org", "pw-user000001\n")
        self.unavailable(r)
        self.assertIn("Can't contact LDAP server", r.stderr)

    def test_hung_answers_within_the_timeout(self):
        self.slapd.pause()
        try:
            t = time.monotonic()
            r = auth(self.yaml, "user000001@example.org", "pw-user000001\n")
            elapsed = time.monotonic() - t
        finally:
            self.slapd.resume()
        self.unavailable(r)
        self.assertIn("2 s (authentication.timeout)", r.stderr)
        self.assertLess(elapsed, 4)


class Concurrent(unittest.TestCase):
    """Many threads at once, as the agent answers sign-ins: every answer right, the pooled
    service connections shared safely, and rebuilt after the directory restarts."""

    def test_threads_and_a_restart(self):
        n = 300
        with Slapd(ldif=ldif.generate(n, special=False)) as s:
            p = subprocess.Popen([AUTH_THREADS, s.url, s.service_dn, s.service_password,
                                  s.base_dn, str(n), "8", "100", "2"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            try:
                first = json.loads(p.stdout.readline())
                # Every pooled connection now points at a server that is gone.
                s.stop()
                s.start()
                p.stdin.write("go\n")
                p.stdin.flush()
                second = json.loads(p.stdout.readline())
                p.stdin.close()
                self.assertEqual(p.wait(60), 0, p.stderr.read())
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        for r in (first, second):
            self.assertEqual(r["checks"], 800)
            self.assertEqual(r["wrong_answers"], 0)
            self.assertEqual(r["unavailable"], 0)
        print(f"\n  password checks, 8 threads: {first['per_second']}/s, "
              f"p99 {first['p99_ms']} ms; after a restart {second['per_second']}/s")


if __name__ == "__main__":
    unittest.main()
