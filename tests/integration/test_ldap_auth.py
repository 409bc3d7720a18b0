"""adc auth against a real slapd: the password check of docs/product.md section 5. Exactly one entry
found by the username filter template (the name escaped per RFC 4515, so no injection), a bind
as that entry on its own connection, empty passwords and disabled accounts denied, and a
directory that is down or hung reported as unavailable - never as accepted."""
import json
import os
import re
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

    def test_only_the_synced_name_signs_in(self):
        # twomail has two mails: it syncs as its first (docs/adc.yaml.5); the filter also finds
        # the entry by its alias, but the alias is not a cloud user and must not sign in.
        self.accepted(auth(self.yaml, "twomail@example.org", "pw-twomail\n"))
        self.accepted(auth(self.yaml, "TwoMail@example.org", "pw-twomail\n"))
        self.denied(auth(self.yaml, "two.mail@example.org", "pw-twomail\n"),
                    "is not the name the entry")

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


class PasswordPolicy(unittest.TestCase):
    """docs/product.md section 11: passwords the directory wants changed or has expired are
    denied, although OpenLDAP's ppolicy lets such a bind succeed (with a response control that
    says so) so that the user can change the password."""

    @classmethod
    def setUpClass(cls):
        cls.users = ldif.generate(4, special=False)
        cls.slapd = Slapd(ldif=cls.users)
        cls.slapd.__enter__()
        cls.tmp = tempfile.mkdtemp(prefix="adc-ldap-ppolicy-")
        cls.yaml = cls.slapd.adc_yaml(os.path.join(cls.tmp, "adc.yaml"))
        policy = f"cn=default,ou=policies,{cls.slapd.base_dn}"
        # pwdMustChange: a password an administrator sets must be changed by its user
        # (pwdReset); pwdMaxAge/pwdGraceAuthNLimit: old passwords expire, with grace logins.
        cls.slapd.ldapmodify(f"dn: {policy}\nchangetype: modify\nadd: pwdMustChange\n"
                             f"pwdMustChange: TRUE\n-\nadd: pwdMaxAge\npwdMaxAge: 86400\n-\n"
                             f"add: pwdGraceAuthNLimit\npwdGraceAuthNLimit: 5\n")

    @classmethod
    def tearDownClass(cls):
        cls.slapd.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_reset_by_an_administrator_is_denied(self):
        u = self.users[0]
        self.slapd.ldapmodify(f"dn: {u.dn}\nchangetype: modify\nreplace: userPassword\n"
                              f"userPassword: reset-by-admin\n")
        r = self.slapd.ldapsearch(f"(uid={u.uid})", "pwdReset")
        self.assertIn("pwdReset: TRUE", r.stdout)
        # The bind itself succeeds; ldapwhoami -e ppolicy shows the server's answer.
        w = subprocess.run(["ldapwhoami", "-x", "-H", self.slapd.url, "-D", u.dn, "-w",
                            "reset-by-admin", "-e", "ppolicy"], capture_output=True, text=True)
        self.assertIn("Password must be changed", w.stdout + w.stderr)
        r = auth(self.yaml, u.mail[0], "reset-by-admin\n")
        self.assertEqual((r.returncode, r.stdout), (1, "denied\n"), r.stderr)
        self.assertIn("must be changed", r.stderr)
        self.assertNotIn("reset-by-admin", r.stderr)
        # Changed by the user: signs in.
        self.slapd.ldapmodify(f"dn: {u.dn}\nchangetype: modify\ndelete: pwdReset\n", relax=True)
        r = auth(self.yaml, u.mail[0], "reset-by-admin\n")
        self.assertEqual((r.returncode, r.stdout), (0, "accepted\n"), r.stderr)

    def test_expired_password_is_denied_even_with_grace_logins(self):
        u = self.users[1]
        self.slapd.ldapmodify(f"dn: {u.dn}\nchangetype: modify\nreplace: pwdChangedTime\n"
                              f"pwdChangedTime: 20200101000000Z\n", relax=True)
        r = auth(self.yaml, u.mail[0], u.password + "\n")
        self.assertEqual((r.returncode, r.stdout), (1, "denied\n"), r.stderr)
        self.assertIn("has expired", r.stderr)

    def test_other_users_unaffected(self):
        u = self.users[2]
        r = auth(self.yaml, u.mail[0], u.password + "\n")
        self.assertEqual((r.returncode, r.stdout), (0, "accepted\n"), r.stderr)
        r = auth(self.yaml, u.mail[0], "wrong\n")
        self.assertEqual((r.returncode, r.stdout), (1, "denied\n"), r.stderr)


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
    connections (lookups and users' binds) shared safely, and rebuilt after the directory
    restarts."""

    def run_threads(self, s, url, env=None):
        """Two rounds of 8 threads x 100 checks, slapd restarted between them. Returns the two
        rounds' summaries and the slapd log of each."""
        n = 300
        p = subprocess.Popen([AUTH_THREADS, url, s.service_dn, s.service_password,
                              s.base_dn, str(n), "8", "100", "2"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
        try:
            offset = len(s.log())
            first = json.loads(p.stdout.readline())
            log1 = s.log()[offset:]
            # Every pooled connection now points at a server that is gone.
            s.stop()
            offset = len(s.log())
            s.start()
            p.stdin.write("go\n")
            p.stdin.flush()
            second = json.loads(p.stdout.readline())
            log2 = s.log()[offset:]
            p.stdin.close()
            self.assertEqual(p.wait(60), 0, p.stderr.read())
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()
        for r in (first, second):
            self.assertEqual(r["checks"], 800)
            self.assertEqual(r["wrong_answers"], 0)
            self.assertEqual(r["unavailable"], 0)
        return first, second, log1, log2

    def test_threads_and_a_restart(self):
        with Slapd(ldif=ldif.generate(300, special=False)) as s:
            first, second, _, _ = self.run_threads(s, s.url)
        print(f"\n  password checks, 8 threads: {first['per_second']}/s, "
              f"p99 {first['p99_ms']} ms; after a restart {second['per_second']}/s")

    def test_threads_over_ldaps_reuse_connections(self):
        # A TLS handshake per check would cap the rate at a few hundred a second: the binds
        # have their own pool. 8 threads hold at most 8 lookup and 8 bind connections.
        with Slapd(ldif=ldif.generate(300, special=False), tls=True, log_level="stats") as s:
            env = dict(os.environ, ADC_TEST_CA_FILE=s.ca_file)
            first, second, log1, log2 = self.run_threads(s, s.ldaps_url, env)
            time.sleep(0.2)  # the last log lines
            # New connections: those whose first operation (op=0) is a bind, as every one of
            # adc's is (not counting the harness's readiness probes at start).
            n1, n2 = (len(set(re.findall(r"conn=(\d+) op=0 BIND", log))) for log in (log1, log2))
            self.assertLessEqual(n1, 16, log1[-2000:])
            # After the restart some threads may find a dead pooled connection each before the
            # idle ones are dropped; still nothing like one per check.
            self.assertLessEqual(n2, 40, log2[-2000:])
            # Binds that were refused (every fourth check) left their connection usable: the
            # connections that saw a refusal also saw later accepted binds.
            ok = re.findall(r"conn=(\d+) op=(\d+) RESULT tag=97 err=0", log1)
            refused = re.findall(r"conn=(\d+) op=(\d+) RESULT tag=97 err=49", log1)
            self.assertTrue(refused)
            self.assertTrue(any(any(c2 == c and int(o2) > int(o) for c2, o2 in ok)
                                for c, o in refused))
        print(f"\n  password checks over ldaps://, 8 threads: {first['per_second']}/s, "
              f"p99 {first['p99_ms']} ms, {n1} connections; after a restart "
              f"{second['per_second']}/s, {n2} connections")


if __name__ == "__main__":
    unittest.main()
