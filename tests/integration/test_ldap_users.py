"""adc users against a real slapd (docs/product.md sections 3 and 4, issue 3): several thousand users
read page by page, non-ASCII names, DNs with escaped characters, missing and multi-valued
attributes, duplicates, the ppolicy lock, TLS (ldaps://, StartTLS, an untrusted CA), and the
failures that must never give a short list: a size limit, a wrong bind password, a server
killed or hung half-way through."""
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from harness import ldif
from harness.programs import ADC
from harness.dirsrv import libldap_host_name
from harness.slapd import Slapd, make_ca

ADC = os.path.abspath(ADC)
N_USERS = 3000
# regular users + the special ones minus the 3 skipped with mail as the name (nomail, dup1,
# dup2; twomail's first mail names it)
N_MAPPED = len(ldif.expected(ldif.generate(N_USERS), "mail")["users"])


def adc(*args, timeout=120):
    env = {k: v for k, v in os.environ.items() if k != "ADC_CFG"}
    return subprocess.run([ADC, *args], capture_output=True, text=True, timeout=timeout, env=env)


class Directory(unittest.TestCase):
    """One slapd with N_USERS regular users and the special cases, shared by the tests that
    only read. The service account may read 500 entries per search but any number with paging,
    so a complete list proves the pages were followed."""

    @classmethod
    def setUpClass(cls):
        cls.users = ldif.generate(N_USERS)
        cls.slapd = Slapd(ldif=cls.users, tls=True, size_limit=500, paged_limit="unlimited")
        cls.slapd.__enter__()
        cls.tmp = tempfile.mkdtemp(prefix="adc-ldap-users-")

    @classmethod
    def tearDownClass(cls):
        cls.slapd.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def yaml(self, name="adc.yaml", **kw):
        return self.slapd.adc_yaml(os.path.join(self.tmp, name), **kw)

    def users_json(self, yaml_path):
        r = adc("-c", yaml_path, "users", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def assert_matches_fixture(self, doc, username_attribute):
        exp = ldif.expected(self.users, username_attribute)
        self.assertEqual(doc["id_attribute"], "entryUUID")
        got = {u["userName"]: u for u in doc["users"]}
        self.assertEqual(len(got), len(doc["users"]), "a userName appears twice")
        self.assertEqual(set(got), set(exp["users"]))
        for name, want in exp["users"].items():
            self.assertEqual(got[name], want, name)
        skipped = {s["dn"].lower(): s for s in doc["skipped"]}
        self.assertEqual(set(skipped), set(exp["skipped"]))
        for dn, keyword in exp["skipped"].items():
            self.assertIn(keyword, skipped[dn]["reason"], dn)

    def test_json_is_the_whole_directory_mapped(self):
        # 100 per page: 31 pages; without paging the server stops at 500.
        doc = self.users_json(self.yaml(page_size=100))
        self.assertEqual(list(doc), ["id_attribute", "id_attributes", "users", "skipped"])
        self.assertEqual(doc["id_attributes"], {"entryUUID": len(doc["users"])})
        self.assertEqual(list(doc["users"][0]),
                         ["userName", "externalId", "idAttribute", "displayName", "givenName",
                          "familyName", "email", "emails", "active", "dn"])
        self.assertEqual(len(doc["users"]), N_MAPPED)
        self.assert_matches_fixture(doc, "mail")
        by_name = {u["userName"]: u for u in doc["users"]}
        # spot checks a reader of the output would make
        self.assertEqual(by_name["zoe@example.org"]["displayName"], "Zoë Ångström")
        self.assertEqual(by_name["yamada@example.org"]["familyName"], "山田")
        self.assertEqual(by_name["john.smith@example.org"]["dn"],
                         "cn=Smith\\2C John,ou=people,dc=example,dc=org")
        self.assertEqual(by_name["nodisplay@example.org"]["displayName"], "No Display")  # cn
        self.assertIsNone(by_name["nogiven@example.org"]["givenName"])
        self.assertEqual(by_name["multigiven@example.org"]["givenName"], "Multi")
        self.assertFalse(by_name["locked@example.org"]["active"])
        self.assertTrue(by_name["user000042@example.org"]["active"])
        reasons = {s["dn"]: s for s in doc["skipped"]}
        dup = reasons["uid=dup1,ou=people,dc=example,dc=org"]
        self.assertEqual(dup["userName"], "Dup.User@example.org")
        self.assertIsNone(reasons["uid=nomail,ou=people,dc=example,dc=org"]["userName"])

    def test_the_server_limit_needs_paging(self):
        # The premise of the test above: without paging the service account gets 500 entries
        # and sizeLimitExceeded (4), so the complete list adc printed came page by page.
        r = self.slapd.ldapsearch("(objectClass=inetOrgPerson)", "1.1", as_service=True,
                                  check=False)
        self.assertEqual(r.returncode, 4, r.stderr)

    def test_uid_as_user_name(self):
        doc = self.users_json(self.yaml(username_attribute="uid", page_size=250))
        self.assert_matches_fixture(doc, "uid")
        names = {u["userName"] for u in doc["users"]}
        self.assertIn("jürgen", names)          # non-ASCII name, base64 in the LDIF
        self.assertIn("twomail", names)         # its two mails no longer matter
        self.assertEqual(doc["skipped"], [])

    def test_configured_identity_and_attribute_mapping(self):
        extra = ("      id_attribute: uid\n"
                 "      attributes:\n"
                 "        displayName: cn\n"
                 "        givenName: sn\n"
                 "        familyName: givenName\n"
                 "        email: uid\n")
        doc = self.users_json(self.yaml(extra_sync=extra))
        self.assertEqual(doc["id_attribute"], "uid")
        by_name = {u["userName"]: u for u in doc["users"]}
        self.assertEqual({u["idAttribute"] for u in doc["users"]}, {"uid"})
        u = by_name["john.smith@example.org"]
        self.assertEqual(u["externalId"], "jsmith")
        self.assertEqual(u["displayName"], "Smith, John")
        self.assertEqual((u["givenName"], u["familyName"]), ("Smith", "John"))
        self.assertEqual(u["email"], "jsmith")
        self.assertEqual(by_name["multigiven@example.org"]["displayName"], "Multi Given")

    def test_table_and_warnings(self):
        r = adc("-c", self.yaml(page_size=500), "users")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["userName", "externalId", "active", "displayName",
                                            "email"])
        self.assertEqual(len(lines), 1 + N_MAPPED)
        row = next(l for l in lines if l.startswith("locked@example.org "))
        self.assertEqual(row.split()[2], "no")
        row = next(l for l in lines if l.startswith("nogiven@example.org "))
        self.assertIn("Nogiven Person", row)
        for dn in ("uid=nomail,", "uid=dup1,", "uid=dup2,"):
            self.assertIn(f"warning: skipped '{dn}", r.stderr)
        self.assertEqual(r.stderr.count("warning: skipped"), 3)
        row = next(l for l in lines if l.startswith("twomail@example.org "))
        self.assertIn("Two Mail", row)

    def test_scope(self):
        people = self.slapd.people_dn
        doc = self.users_json(self.yaml(base_dn=people, scope="one", page_size=400))
        self.assertEqual(len(doc["users"]), N_MAPPED)
        doc = self.users_json(self.yaml(base_dn=people, scope="base"))
        self.assertEqual(doc["users"], [])   # the ou itself is no inetOrgPerson
        doc = self.users_json(self.yaml(base_dn=f"uid=zoe,{people}", scope="base"))
        self.assertEqual([u["userName"] for u in doc["users"]], ["zoe@example.org"])

    def test_missing_base_dn(self):
        r = adc("-c", self.yaml(base_dn="ou=nowhere,dc=example,dc=org"), "users")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("base DN does not exist", r.stderr)
        self.assertIn("No such object (32)", r.stderr)

    def test_wrong_bind_password(self):
        r = adc("-c", self.yaml(bind_password="not-the-password"), "users")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn(f"as '{self.slapd.service_dn}'", r.stderr)
        self.assertIn("Invalid credentials (49)", r.stderr)
        self.assertIn("bind_dn", r.stderr)
        self.assertNotIn("not-the-password", r.stderr)

    def test_nothing_listens(self):
        r = adc("-c", self.yaml(addr="ldap://127.0.0.1:1"), "users")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot connect to ldap://127.0.0.1:1", r.stderr)

    def test_check_binds_and_tries_the_filter(self):
        r = adc("-c", self.yaml(), "check")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK\n", r.stdout)
        self.assertIn(f"directory: bound to {self.slapd.url} as '{self.slapd.service_dn}'",
                      r.stdout)
        self.assertIn("finds users under 'dc=example,dc=org'", r.stdout)
        r = adc("-c", self.yaml(filt="(objectClass=posixAccount)"), "check")
        self.assertEqual(r.returncode, 1)
        self.assertIn("finds no entry under 'dc=example,dc=org'", r.stderr)
        r = adc("-c", self.yaml(bind_password="wrong"), "check")
        self.assertEqual(r.returncode, 1)
        self.assertIn("Invalid credentials (49)", r.stderr)
        self.assertIn(self.slapd.service_dn, r.stderr)
        r = adc("-c", self.yaml(bind_password="wrong"), "check", "--offline")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_ldaps_with_ca_file(self):
        ca = self.slapd.ca_file
        doc = self.users_json(self.yaml(addr=self.slapd.ldaps_url,
                                        extra_ldap=f"    ca_file: {ca}\n"))
        self.assertEqual(len(doc["users"]), N_MAPPED)

    def test_starttls_with_ca_file(self):
        extra = f"    ca_file: {self.slapd.ca_file}\n    starttls: true\n"
        doc = self.users_json(self.yaml(extra_ldap=extra, page_size=400))
        self.assertEqual(len(doc["users"]), N_MAPPED)

    def test_untrusted_certificate_is_refused_with_a_clear_message(self):
        other_ca, _ = make_ca(os.path.join(self.tmp, "other-ca"), "some other CA")
        for extra, addr in ((f"    ca_file: {other_ca}\n", self.slapd.ldaps_url),
                            (f"    ca_file: {other_ca}\n    starttls: true\n", self.slapd.url)):
            r = adc("-c", self.yaml(addr=addr, extra_ldap=extra), "users")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stdout, "")
            self.assertIn("TLS certificate verification failed", r.stderr)
            self.assertIn(other_ca, r.stderr)
            self.assertIn(f"not signed by the CA in '{other_ca}'", r.stderr)
        # The right CA but a name the certificate does not carry (it has localhost and
        # 127.0.0.1): libldap checks ldaps://localhost against this machine's host name.
        host = libldap_host_name()
        if host.lower() != "localhost":
            addr = self.slapd.ldaps_url.replace("127.0.0.1", "localhost")
            r = adc("-c", self.yaml(addr=addr, extra_ldap=f"    ca_file: {self.slapd.ca_file}\n"),
                    "users")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("signed by a trusted CA but is valid for 'localhost', '127.0.0.1', "
                          f"not for the host name '{host}'", r.stderr)
            self.assertIn("checks ldaps://localhost against this machine's host name", r.stderr)
        # Switched off on purpose, the same server is read.
        extra = f"    ca_file: {other_ca}\n    tls_verify: false\n"
        doc = self.users_json(self.yaml(addr=self.slapd.ldaps_url, extra_ldap=extra))
        self.assertEqual(len(doc["users"]), N_MAPPED)


class DirectoryChanges(unittest.TestCase):
    """Tests that change the directory or the server get their own slapd."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="adc-ldap-users-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def start(self, n, special=True, **kw):
        s = Slapd(ldif=ldif.generate(n, special=special), **kw)
        s.__enter__()
        self.addCleanup(s.__exit__, None, None, None)
        return s

    def test_size_limit_is_an_error_not_a_short_list(self):
        # The service account may read 500 entries in total, paged or not: the enumeration
        # stops in the middle of page 6 with sizeLimitExceeded.
        s = self.start(1500, size_limit=500)
        r = adc("-c", s.adc_yaml(os.path.join(self.tmp, "adc.yaml"), page_size=100), "users",
                "--json")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("failed on page 6 after 500 entries", r.stderr)
        self.assertIn("size limit was exceeded", r.stderr)
        self.assertIn("Size limit exceeded (4)", r.stderr)

    def test_oversized_values(self):
        # Values beyond the mapping's 4096-byte limit: an optional one is dropped (the display
        # name falls back to cn), a user name that long makes the entry unusable.
        s = self.start(2, special=False)
        big = "x" * 5000
        s.ldapadd(f"dn: uid=bigdisplay,{s.people_dn}\nobjectClass: inetOrgPerson\nuid: bigdisplay\n"
                  f"cn: Big Display\nsn: Display\ndisplayName: {big}\nmail: big@example.org\n\n"
                  f"dn: uid=bigmail,{s.people_dn}\nobjectClass: inetOrgPerson\nuid: bigmail\n"
                  f"cn: Big Mail\nsn: Mail\nmail: {big}@example.org\n")
        r = adc("-c", s.adc_yaml(os.path.join(self.tmp, "adc.yaml")), "users", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        by_name = {u["userName"]: u for u in doc["users"]}
        self.assertEqual(by_name["big@example.org"]["displayName"], "Big Display")
        self.assertEqual(len(doc["users"]), 3)
        self.assertEqual([x["dn"] for x in doc["skipped"]], [f"uid=bigmail,{s.people_dn}"])
        self.assertIn("longer than 4096 bytes", doc["skipped"][0]["reason"])

    def test_lock_and_unlock_follow_the_directory(self):
        s = self.start(10)
        y = s.adc_yaml(os.path.join(self.tmp, "adc.yaml"))
        dn = f"uid=user000003,{s.people_dn}"
        s.lock(dn)
        users = {u["userName"]: u for u in json.loads(adc("-c", y, "users", "--json").stdout)["users"]}
        self.assertFalse(users["user000003@example.org"]["active"])
        s.unlock(f"uid=locked,{s.people_dn}")
        users = {u["userName"]: u for u in json.loads(adc("-c", y, "users", "--json").stdout)["users"]}
        self.assertTrue(users["locked@example.org"]["active"])

    def test_killed_half_way(self):
        # 10 entries per page over 8000 users: 800 round trips, so the test has time to act
        # even on a loaded machine. slapd is killed once adc has asked for the third page.
        s = self.start(8000, log_level="stats")
        y = s.adc_yaml(os.path.join(self.tmp, "adc.yaml"), page_size=10)
        p = subprocess.Popen([ADC, "-c", y, "users", "--json"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            s.wait_log('filter="(objectClass=inetOrgPerson)"', count=3)
            s.kill()
            out, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 1, err)
        self.assertEqual(out, "")     # no partial list
        self.assertRegex(err, r"failed on page \d+ after \d+ entries: the connection was lost")

    def test_hung_half_way(self):
        s = self.start(8000, log_level="stats")
        y = s.adc_yaml(os.path.join(self.tmp, "adc.yaml"), page_size=10,
                       extra_ldap="    timeout: 2\n")
        p = subprocess.Popen([ADC, "-c", y, "users", "--json"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            s.wait_log('filter="(objectClass=inetOrgPerson)"', count=3)
            s.pause()
            paused = time.monotonic()
            out, err = p.communicate(timeout=60)
            elapsed = time.monotonic() - paused
        finally:
            s.resume()
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 1, err)
        self.assertEqual(out, "")
        self.assertIn("timed out: the server did not answer within 2 s", err)
        self.assertLess(elapsed, 10)

    def test_hung_before_the_bind(self):
        s = self.start(5, tls=True)
        s.pause()
        try:
            for addr, extra in ((s.url, ""), (s.ldaps_url, f"    ca_file: {s.ca_file}\n")):
                y = s.adc_yaml(os.path.join(self.tmp, "adc.yaml"), addr=addr,
                               extra_ldap=extra + "    timeout: 2\n    network_timeout: 2\n")
                t = time.monotonic()
                r = adc("-c", y, "users", timeout=60)
                self.assertEqual(r.returncode, 1)
                self.assertLess(time.monotonic() - t, 10)
                self.assertRegex(r.stderr, "no answer within 2 s|did not complete the TLS handshake")
        finally:
            s.resume()


if __name__ == "__main__":
    unittest.main()
