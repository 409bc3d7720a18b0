"""The slapd harness itself: the fixture loads as generated, TLS works with the harness CA, and
pause/kill/start behave as the failure tests expect. Other tests rely on all of this."""
import base64
import os
import subprocess
import unittest

from harness import ldif
from harness.programs import DATA
from harness.slapd import Slapd


def parse_ldif(text):
    """Minimal LDIF reader for ldapsearch -LLL -o ldif-wrap=no output: [(dn, {attr: [values]})]."""
    entries = []
    for block in text.strip().split("\n\n"):
        dn, attrs = None, {}
        for line in block.splitlines():
            if line.split(":", 1)[1].startswith(": "):
                key, value = line.split(":: ", 1)
                value = base64.b64decode(value).decode()
            else:
                key, value = line.split(": ", 1)
            if key == "dn":
                dn = value
            else:
                attrs.setdefault(key.lower(), []).append(value)
        if dn:
            entries.append((dn, attrs))
    return entries


class Fixtures(unittest.TestCase):
    def test_special_cases_ldif_matches_the_generator(self):
        # tests/data/ldif/special-cases.ldif is the generator's output, for people and tools
        # that want a file; regenerate it (see its header) when ldif.py changes.
        path = os.path.join(DATA, "ldif", "special-cases.ldif")
        with open(path, encoding="utf-8") as f:
            text = "".join(l for l in f if not l.startswith("#")).lstrip("\n")
        users = ldif.generate(5)
        self.assertEqual(text, "".join(ldif.entry(u) for u in users))
        with Slapd(ldif=path) as s:
            r = s.ldapsearch("(objectClass=inetOrgPerson)", "1.1", as_service=True)
            self.assertEqual(r.stdout.count("dn:"), len(users))


class SlapdHarness(unittest.TestCase):
    def test_fixture_loads_as_generated(self):
        users = ldif.generate(1200)
        with Slapd(ldif=users) as s:
            r = s.ldapsearch("(objectClass=inetOrgPerson)", "uid", "cn", "mail", "givenName",
                             "entryUUID", "pwdAccountLockedTime", paged=200, as_service=True)
            got = {dn: a for dn, a in parse_ldif(r.stdout)}
            self.assertEqual(len(got), len(users))
            for u in users:
                a = got[u.server_dn]
                self.assertEqual(a["uid"], [u.uid])
                self.assertEqual(a["cn"], u.cn)                 # order of values is kept
                self.assertEqual(a.get("mail", []), u.mail)
                self.assertEqual(a.get("givenname", []), u.given_name)
                self.assertEqual(a["entryuuid"], [u.entry_uuid])
                self.assertEqual("pwdaccountlockedtime" in a, u.locked)

    def test_service_account_cannot_write_or_read_passwords(self):
        with Slapd(ldif=ldif.generate(3, special=False)) as s:
            r = s.ldapsearch("(uid=user000001)", "userPassword", as_service=True)
            self.assertNotIn("userPassword", r.stdout)
            r = subprocess.run(["ldapmodify", "-x", "-H", s.url, "-D", s.service_dn,
                                "-w", s.service_password],
                               input=f"dn: uid=user000001,{s.people_dn}\nchangetype: modify\n"
                                     "replace: sn\nsn: x\n", capture_output=True, text=True)
            self.assertEqual(r.returncode, 50, r.stderr)   # insufficientAccessRights

    def test_tls_and_ppolicy_lock(self):
        with Slapd(ldif=ldif.generate(2), tls=True) as s:
            env = dict(os.environ, LDAPTLS_CACERT=s.ca_file)
            def whoami(url, dn, pw, *extra, env=env):
                return subprocess.run(["ldapwhoami", "-x", "-H", url, "-D", dn, "-w", pw, *extra],
                                      capture_output=True, text=True, env=env).returncode
            zoe = f"uid=zoe,{s.people_dn}"
            self.assertEqual(whoami(s.ldaps_url, zoe, "pw-zoe"), 0)
            self.assertEqual(whoami(s.url, zoe, "pw-zoe", "-ZZ"), 0)
            no_ca = dict(os.environ, LDAPTLS_CACERT="/nonexistent")
            self.assertNotEqual(whoami(s.ldaps_url, zoe, "pw-zoe", env=no_ca), 0)
            locked = f"uid=locked,{s.people_dn}"
            self.assertEqual(whoami(s.url, locked, "pw-locked"), 49)
            s.unlock(locked)
            self.assertEqual(whoami(s.url, locked, "pw-locked"), 0)
            s.lock(locked)
            self.assertEqual(whoami(s.url, locked, "pw-locked"), 49)

    def test_pause_kill_restart(self):
        with Slapd(ldif=ldif.generate(5, special=False)) as s:
            s.pause()
            # A stopped slapd accepts TCP connections (the kernel does) but never answers.
            with self.assertRaises(subprocess.TimeoutExpired):
                subprocess.run(["ldapsearch", "-x", "-H", s.url, "-b", s.base_dn, "-s", "base"],
                               capture_output=True, timeout=1)
            s.resume()
            self.assertEqual(s.ldapsearch("(uid=user000001)", "uid").returncode, 0)
            s.kill()
            self.assertNotEqual(s.ldapsearch("(uid=*)", check=False).returncode, 0)
            s.start()
            self.assertIn("uid: user000004", s.ldapsearch("(uid=user000004)", "uid").stdout)
            d = s.dir
        self.assertFalse(os.path.exists(d))


if __name__ == "__main__":
    unittest.main()
