"""adc against a real 389 Directory Server (389-ds-base 2.x, issue 16), as its administrators
run it: users imported (some, as after a migration, without entryUUID), renamed and moved
(modrdn), locked with `dsidm account lock`, locked out by the password policy, deleted; aliases
in a multi-valued mail; password checks, including a password an administrator reset under
`passwordMustChange`; ldaps:// with the instance's own CA. One instance for the module (creating
one takes 10-20 s); each test uses its own entries, and a test that changes the global password
policy restores it."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import ldif
from harness.agent import Agent, cfg_text
from harness.dirsrv import DirSrv
from harness.server import AdcServer, user
from harness.programs import ADC
from harness.slapd import make_ca
from harness.sync import SyncSetup

ADC = os.path.abspath(ADC)
D = ldif.MAIL_DOMAIN

USERS = ldif.generate(9, special=False)  # each test its own: see the tests
ALIAS = ldif.User(rdn="uid=alias", uid="alias", cn=["Alias Person"], sn=["Person"],
                  mail=[f"alias.one@{D}", f"alias.two@{D}"],
                  password="pw-alias")
# Imported without entryUUID: what entries created before 389-ds 2.x's entryUUID plugin have.
LEGACY = ldif.User(rdn="uid=legacy", uid="legacy", cn=["Legacy Person"], sn=["Person"],
                   mail=[f"legacy@{D}"], password="pw-legacy")
ALL = USERS + [ALIAS, LEGACY]

ds = None
tmp = None


def setUpModule():
    global ds, tmp
    tmp = tempfile.mkdtemp(prefix="adc-389ds-")
    ds = DirSrv(ldif=ALL, entry_uuid=["legacy"])
    ds.__enter__()


def tearDownModule():
    if ds:
        ds.__exit__(None, None, None)
    shutil.rmtree(tmp, ignore_errors=True)


def adc(*args, stdin=None, timeout=120):
    env = {k: v for k, v in os.environ.items() if k != "ADC_CFG"}
    return subprocess.run([ADC, *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env=env)


def yaml(name, **kw):
    return ds.adc_yaml(os.path.join(tmp, name), **kw)


def users_json(path):
    r = adc("-c", path, "users", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout), r


def auth(path, name, password):
    return adc("-c", path, "auth", name, stdin=password + "\n")


def ns_unique_id(u):
    out = ds.ldapsearch(f"(uid={u.uid})", "nsUniqueId").stdout
    return next(l.split(": ", 1)[1] for l in out.splitlines() if l.startswith("nsUniqueId: "))


class Reading(unittest.TestCase):
    def test_identity_attribute_per_user(self):
        doc, r = users_json(yaml("read.yaml"))
        by_name = {u["userName"]: u for u in doc["users"]}
        self.assertEqual(len(by_name), len(ALL))
        # entryUUID where the entry has one (the imported value, or the plugin's), nsUniqueId
        # for the one without: and the document says so, not "entryUUID" for all.
        for u in USERS:
            self.assertEqual(by_name[u.mail[0]]["idAttribute"], "entryUUID")
        self.assertEqual(by_name[USERS[0].mail[0]]["externalId"], USERS[0].entry_uuid)
        legacy = by_name[LEGACY.mail[0]]
        self.assertEqual(legacy["idAttribute"], "nsUniqueId")
        self.assertEqual(legacy["externalId"], ns_unique_id(LEGACY))
        self.assertIsNone(doc["id_attribute"])
        self.assertEqual(doc["id_attributes"], {"entryUUID": len(ALL) - 1, "nsUniqueId": 1})
        self.assertIn("take their identity from different attributes", r.stderr)
        self.assertIn("nsUniqueId", r.stderr)
        # The documented way out: one attribute every entry has.
        doc, r = users_json(yaml("nsuniqueid.yaml", extra_sync="      id_attribute: nsUniqueId\n"))
        self.assertEqual(doc["id_attribute"], "nsUniqueId")
        self.assertEqual({u["idAttribute"] for u in doc["users"]}, {"nsUniqueId"})
        self.assertNotIn("different attributes", r.stderr)

    def test_aliases_in_a_multi_valued_mail(self):
        doc, _ = users_json(yaml("read.yaml"))
        by_name = {u["userName"]: u for u in doc["users"]}
        self.assertNotIn(f"alias.two@{D}", by_name)
        a = by_name[f"alias.one@{D}"]
        self.assertEqual(a["email"], f"alias.one@{D}")
        self.assertEqual(a["emails"], [f"alias.one@{D}", f"alias.two@{D}"])
        self.assertEqual(doc["skipped"], [])

    def test_dsidm_lock_and_unlock(self):
        u = USERS[1]
        path = yaml("read.yaml")
        ds.lock(u.dn)
        try:
            doc, _ = users_json(path)
            self.assertFalse({x["userName"]: x for x in doc["users"]}[u.mail[0]]["active"])
            r = auth(path, u.mail[0], u.password)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("disabled or locked", r.stderr)
        finally:
            ds.unlock(u.dn)
        doc, _ = users_json(path)
        self.assertTrue({x["userName"]: x for x in doc["users"]}[u.mail[0]]["active"])
        self.assertEqual(auth(path, u.mail[0], u.password).returncode, 0)

    def test_password_policy_lockout_is_inactive(self):
        # 389's own lockout: after passwordMaxFailure wrong binds the server sets
        # accountUnlockTime (19700101000000Z without passwordUnlock: until an administrator
        # unlocks) and refuses every bind.
        u = USERS[2]
        path = yaml("read.yaml")
        ds.dsconf("pwpolicy", "set", "--pwdlockout", "on", "--pwdmaxfailures", "2",
                  "--pwdunlock", "off")
        try:
            for _ in range(2):
                self.assertEqual(auth(path, u.mail[0], "wrong").returncode, 1)
            out = ds.ldapsearch(f"(uid={u.uid})", "accountUnlockTime").stdout
            self.assertIn("accountUnlockTime: 19700101000000Z", out)
            doc, _ = users_json(path)
            self.assertFalse({x["userName"]: x for x in doc["users"]}[u.mail[0]]["active"])
            r = auth(path, u.mail[0], u.password)
            self.assertEqual(r.returncode, 1)
            self.assertIn("disabled or locked", r.stderr)
        finally:
            ds.dsconf("pwpolicy", "set", "--pwdlockout", "off")
            ds.ldapmodify(f"dn: {u.dn}\nchangetype: modify\nreplace: passwordRetryCount\n"
                          f"passwordRetryCount: 0\n-\ndelete: accountUnlockTime\n")
        doc, _ = users_json(path)
        self.assertTrue({x["userName"]: x for x in doc["users"]}[u.mail[0]]["active"])

    def test_check_warns_when_the_lock_attribute_is_unreadable(self):
        ok = adc("-c", yaml("read.yaml"), "check")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn("the lock attributes are readable", ok.stdout)
        self.assertNotIn("may not read", ok.stderr)
        # A bind account that reads the users but not nsAccountLock.
        dn, pw = f"cn=limited,{ds.base_dn}", "limited-secret-389"
        aci = ('(targetattr!="userPassword || nsAccountLock")(version 3.0; acl "limited"; '
               f'allow (read, search, compare) userdn="ldap:///{dn}";)')
        ds.ldapadd(f"dn: {dn}\nobjectClass: top\nobjectClass: applicationProcess\n"
                   f"objectClass: simpleSecurityObject\ncn: limited\nuserPassword: {pw}\n")
        ds.ldapmodify(f"dn: {ds.base_dn}\nchangetype: modify\nadd: aci\naci: {aci}\n")
        path = yaml("limited.yaml", bind_dn=dn, bind_password=pw)
        r = adc("-c", path, "check")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"'{dn}' may not read 'nsAccountLock'", r.stderr)
        self.assertIn("would sync as active", r.stderr)
        # What the warning is about: a locked account reads as active for this bind account.
        u = USERS[1]
        ds.lock(u.dn)
        try:
            doc, _ = users_json(path)
            self.assertTrue({x["userName"]: x for x in doc["users"]}[u.mail[0]]["active"])
        finally:
            ds.unlock(u.dn)


class PasswordCheck(unittest.TestCase):
    def test_right_wrong_and_alias(self):
        path = yaml("read.yaml")
        u = USERS[0]
        r = auth(path, u.mail[0], u.password)
        self.assertEqual((r.returncode, r.stdout), (0, "accepted\n"), r.stderr)
        r = auth(path, u.mail[0], "not-" + u.password)
        self.assertEqual((r.returncode, r.stdout), (1, "denied\n"), r.stderr)
        self.assertIn("Invalid credentials", r.stderr)
        # The name that was synced signs in; its alias (also found by the filter) does not.
        self.assertEqual(auth(path, f"alias.one@{D}", "pw-alias").returncode, 0)
        r = auth(path, f"alias.two@{D}", "pw-alias")
        self.assertEqual(r.returncode, 1)
        self.assertIn("is not the name the entry", r.stderr)

    def test_must_change_after_a_reset_by_directory_manager(self):
        u = USERS[3]
        path = yaml("read.yaml")
        ds.dsconf("pwpolicy", "set", "--pwdmustchange", "on")
        try:
            ds.ldapmodify(f"dn: {u.dn}\nchangetype: modify\nreplace: userPassword\n"
                          f"userPassword: reset-by-dm-3\n")
            # The bind succeeds, with the PasswordExpired control and "must be changed".
            w = ds.bind(u.dn, "reset-by-dm-3")
            self.assertIn("2.16.840.1.113730.3.4.4", w.stdout + w.stderr)
            r = auth(path, u.mail[0], "reset-by-dm-3")
            self.assertEqual((r.returncode, r.stdout), (1, "denied\n"), r.stderr)
            self.assertIn("must be changed", r.stderr)
            self.assertNotIn("reset-by-dm-3", r.stderr)
        finally:
            ds.dsconf("pwpolicy", "set", "--pwdmustchange", "off")
        # The user sets a password of their own: signs in again.
        ds.ldapmodify(f"dn: {u.dn}\nchangetype: modify\nreplace: userPassword\n"
                      f"userPassword: {u.password}\n")
        r = subprocess.run(["ldapmodify", "-x", "-H", ds.url, "-D", u.dn, "-w", u.password],
                           input=f"dn: {u.dn}\nchangetype: modify\nreplace: userPassword\n"
                                 f"userPassword: own-choice-3\n",
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assertEqual(auth(path, u.mail[0], "own-choice-3").returncode, 0)

    def test_ldaps_with_the_instance_ca(self):
        extra = f"    ca_file: {ds.ca_file}\n"
        path = yaml("ldaps.yaml", addr=ds.ldaps_url, extra_ldap=extra)
        doc, _ = users_json(path)
        self.assertEqual(len(doc["users"]), len(ALL))
        self.assertEqual(auth(path, USERS[0].mail[0], USERS[0].password).returncode, 0)
        # Another CA: said so.
        other, _ = make_ca(os.path.join(tmp, "other-ca"), "not the 389 CA")
        r = adc("-c", yaml("badca.yaml", addr=ds.ldaps_url,
                           extra_ldap=f"    ca_file: {other}\n"), "users")
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"not signed by the CA in '{other}'", r.stderr)
        # The right CA, an address the certificate does not name: said so, with its names.
        addr = f"ldaps://127.0.0.1:{ds.tls_port}"
        r = adc("-c", yaml("badhost.yaml", addr=addr, extra_ldap=extra), "users")
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"valid for '{ds.tls_host}', not for the host name '127.0.0.1'", r.stderr)


class SignIn(unittest.TestCase):
    """/api/v1/login through adc-server and a connected `adc run`: the whole sign-in path
    against 389-ds, for the synced name, an alias, and a password Directory Manager reset under
    passwordMustChange."""

    def test_sign_in_through_the_agent(self):
        srv = AdcServer().start()
        self.addCleanup(srv.cleanup)
        cfg = srv.create_sync_config("389")
        u = USERS[0]
        for name in (u.mail[0], f"alias.one@{D}", f"alias.two@{D}", USERS[8].mail[0]):
            r = srv.scim(cfg, "POST", "/Users", user(name))
            self.assertEqual(r.status, 201, r)
        with open(yaml("agent.yaml")) as f:
            text = f.read()
        a = Agent(cfg_text(srv.url, cfg["app_id"], cfg["secret"]), text)
        self.addCleanup(a.close)
        a.start()
        a.wait_notify("READY=1")

        def login(name, password):
            return srv.request("POST", "/api/v1/login", {"username": name, "password": password},
                               timeout=30).status

        self.assertEqual(login(u.mail[0], u.password), 200)
        self.assertEqual(login(f"alias.one@{D}", "pw-alias"), 200)
        # A cloud user named like the alias exists, but only the synced name signs in.
        self.assertEqual(login(f"alias.two@{D}", "pw-alias"), 401)
        m = USERS[8]
        self.assertEqual(login(m.mail[0], m.password), 200)
        ds.dsconf("pwpolicy", "set", "--pwdmustchange", "on")
        try:
            ds.ldapmodify(f"dn: {m.dn}\nchangetype: modify\nreplace: userPassword\n"
                          f"userPassword: reset-5\n")
            self.assertEqual(login(m.mail[0], "reset-5"), 401)
        finally:
            ds.dsconf("pwpolicy", "set", "--pwdmustchange", "off")
        log = a.log()
        self.assertIn("must be changed", log)
        self.assertIn("is not the name the entry", log)
        self.assertNotIn("reset-5", log)


class Sync(unittest.TestCase):
    """adc imp into a real adc-server: import, rename, move, lock/unlock, delete."""

    @classmethod
    def setUpClass(cls):
        cls.env = SyncSetup(ALL, directory=ds).__enter__()
        ds.ldapadd(f"dn: ou=staff,{ds.base_dn}\nobjectClass: organizationalUnit\nou: staff\n")

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def change(self, name, doc):
        found = [c for c in doc["changes"] if c["userName"] == name]
        return found[0] if found else None

    def test_lifecycle(self):
        env = self.env
        r, doc = env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("take their identity from different attributes (", r.stderr)
        cloud = env.cloud()
        for u in USERS[4:]:
            self.assertEqual(cloud[u.mail[0]]["externalId"], u.entry_uuid)
        self.assertEqual(cloud[LEGACY.mail[0]]["externalId"], ns_unique_id(LEGACY))
        self.assertEqual([e["value"] for e in cloud[f"alias.one@{D}"]["emails"]],
                         [f"alias.one@{D}", f"alias.two@{D}"])
        before = {n: c["id"] for n, c in cloud.items()}

        # A second run: nothing to do for these users (the aliases compare equal).
        r, doc = env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in (f"alias.one@{D}", LEGACY.mail[0], USERS[4].mail[0]):
            self.assertIsNone(self.change(name, doc), name)

        # Rename (the mail changes) and move (modrdn to another ou, a new uid): the same
        # cloud users.
        u4, u5 = USERS[4], USERS[5]
        env.rename(u4, f"renamed4@{D}")
        ds.ldapmodify(f"dn: {u5.dn}\nchangetype: modrdn\nnewrdn: uid=moved5\ndeleteoldrdn: 1\n"
                      f"newsuperior: ou=staff,{ds.base_dn}\n")
        r, doc = env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.change(f"renamed4@{D}", doc)["op"], "update")
        self.assertIsNone(self.change(u5.mail[0], doc))  # the DN is not synced: unchanged
        cloud = env.cloud()
        self.assertEqual(cloud[f"renamed4@{D}"]["id"], before[u4.mail[0]])
        self.assertNotIn(u4.mail[0], cloud)
        self.assertEqual(cloud[u5.mail[0]]["id"], before[u5.mail[0]])
        self.assertEqual(doc["stats"]["created"] + doc["stats"]["deleted"], 0)

        # dsidm account lock / unlock: disabled / enabled in the stats, not "updated".
        u6 = USERS[6]
        ds.lock(u6.dn)
        r, doc = env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.change(u6.mail[0], doc)["op"], "update")
        self.assertEqual((doc["stats"]["disabled"], doc["stats"]["updated"]), (1, 0))
        self.assertFalse(env.cloud()[u6.mail[0]]["active"])
        ds.unlock(u6.dn)
        r, doc = env.imp_json()
        self.assertEqual((doc["stats"]["enabled"], doc["stats"]["updated"]), (1, 0))
        self.assertTrue(env.cloud()[u6.mail[0]]["active"])

        # Delete.
        u7 = USERS[7]
        ds.ldapdelete(u7.dn)
        r, doc = env.imp_json()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.change(u7.mail[0], doc)["op"], "delete")
        self.assertNotIn(u7.mail[0], env.cloud())
        self.assertEqual(len(env.cloud()), len(ALL) - 1)


if __name__ == "__main__":
    unittest.main()
